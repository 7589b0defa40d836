-- The customer list's index by ID in byte order (migration 0032,
-- customer_id COLLATE "C") is the primary key's twin since 0034 made
-- every text column compare as bytes: the list's pages read the key
-- instead (an index scan of customer_analytics_pkey, the same range).
-- Every row the analytics refresh writes put an entry into both. Upserting
-- 547,456 rows took 5.4 to 6.5 s with it and 4.7 to 5.3 s without
-- (test/perf/inplace.sh; docs/analytics.md, API, the customer list).
DROP INDEX IF EXISTS customer_analytics_id_bytes;
