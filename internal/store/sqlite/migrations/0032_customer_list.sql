-- The customer list; see the PostgreSQL migration. The table is its
-- primary key (WITHOUT ROWID, IDs compared as bytes), which serves a
-- prefix; a segment's customers by ID come from this index.
CREATE INDEX customer_analytics_segment_id ON customer_analytics (segment, customer_id);
DROP INDEX customer_analytics_segment_idx;
