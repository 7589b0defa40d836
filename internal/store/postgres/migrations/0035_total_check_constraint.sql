-- SQLite's 0035 turns its trigger on transactions.total_cents into a CHECK
-- constraint; PostgreSQL has had that constraint since 0004. This keeps the
-- two stores' numbering equal.
SELECT 1;
