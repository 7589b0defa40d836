-- PostgreSQL's 0040 drops the key of its day-partitioned transactions
-- and finds a transaction by id through transaction_ids; SQLite's
-- transactions is one table whose key is the id, which is both the dedup
-- and the search by id. This keeps the two stores' numbering equal.
SELECT 1;
