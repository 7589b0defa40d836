-- PostgreSQL's 0033 stores the partitions' checkpoints uncompressed;
-- SQLite never compresses them. This keeps the two stores' numbering equal.
SELECT 1;
