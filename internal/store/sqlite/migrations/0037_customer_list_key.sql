-- PostgreSQL's 0037 drops an index that 0034 made the primary key's twin;
-- SQLite never had it. This keeps the two stores' numbering equal.
SELECT 1;
