-- PostgreSQL's 0038 lets the product fold's updates stay in place (HOT);
-- SQLite's table is its primary key, with no such versions. This keeps
-- the two stores' numbering equal.
SELECT 1;
