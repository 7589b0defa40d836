-- PostgreSQL's 0041 makes partition_checkpoints unlogged, so a
-- checkpoint of tens of megabytes writes no WAL that the stream's
-- commits wait behind. SQLite has no unlogged tables. This keeps the
-- two stores' numbering equal.
SELECT 1;
