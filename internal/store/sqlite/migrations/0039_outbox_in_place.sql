-- PostgreSQL's 0039 leaves room on the outbox's pages so that the claim's
-- and the delivery's updates write only what changed; SQLite rewrites the
-- row in its B-tree either way. This keeps the two stores' numbering
-- equal.
SELECT 1;
