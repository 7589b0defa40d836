-- PostgreSQL's 0019 leaves room on its pages for updated rows (fillfactor);
-- SQLite has no such setting. This keeps the two stores' numbering equal.
SELECT 1;
