-- The reads of the product rollup; see the PostgreSQL migration. The table
-- is its primary key (WITHOUT ROWID), so a range's rows are together, but
-- each carries its customer sketch (up to 1 KiB): the totals are read from
-- a narrow covering index, the sketches of a few products by product.
CREATE INDEX product_windows_totals ON product_windows (granularity, window_start, product_id, currency, units, orders, revenue_minor);
CREATE INDEX product_windows_product ON product_windows (product_id, granularity, window_start);
