-- SQLite's 0020 changes how its trigger on transactions.total_cents fails;
-- PostgreSQL's CHECK constraint (0004) needs no change. The number is
-- kept so both stores' schema versions stay the same.
SELECT 1;
