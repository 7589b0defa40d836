-- The customer list (GET /api/v1/customers: a segment's customers, or the
-- IDs starting with a prefix, by ID in byte order, in pages): one index
-- range each, so a page costs the same at 10 million customers as at a
-- thousand. IDs are compared as bytes (COLLATE "C"), whatever the
-- database's collation. The index by segment alone is superseded.
CREATE INDEX customer_analytics_id_bytes ON customer_analytics (customer_id COLLATE "C");
CREATE INDEX customer_analytics_segment_id ON customer_analytics (segment, customer_id COLLATE "C");
DROP INDEX customer_analytics_segment_idx;
