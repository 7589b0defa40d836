-- PostgreSQL's 0034 makes every text column compare as bytes; SQLite's
-- columns already do (BINARY). This keeps the two stores' numbering equal.
SELECT 1;
