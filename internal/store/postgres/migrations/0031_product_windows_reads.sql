-- The reads of the product rollup (GET /api/v1/products/top with
-- since/until), measured at a million stored transactions
-- (docs/dashboard.md): a 30-day range's totals read some 58,000 daily rows
-- through the primary key, one heap page nearly each (51,712 buffers: the
-- fold rewrites a day's rows at every chunk, so they lie all over the
-- table), and the customers of the 50 products ranked scanned every row of
-- the range for their sketches. The totals are read from a covering index
-- (an index-only scan: 562 buffers), the sketches of a few products by
-- product.
CREATE INDEX product_windows_totals ON product_windows (granularity, window_start)
    INCLUDE (product_id, currency, units, orders, revenue_minor);
CREATE INDEX product_windows_product ON product_windows (product_id, granularity, window_start);
