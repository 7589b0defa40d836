-- The customer list by predicted CLV within a segment; see the PostgreSQL
-- migration. SQLite orders NULLs first, so last in DESC order, as the list
-- reads.
CREATE INDEX customer_analytics_segment_clv ON customer_analytics (segment, clv DESC);
