-- The product rollup (GET /api/v1/products/top with since/until): what each
-- product sold per currency in each event-time hour and UTC day, written
-- in the transaction that stores its batch. customers is a HyperLogLog of
-- the customer IDs (store.Sketch), merged by the writer, not added. The
-- rollup starts empty: batches stored before this migration are not in it.
CREATE TABLE product_windows (
    granularity   text NOT NULL,
    window_start  timestamptz NOT NULL,
    product_id    text NOT NULL,
    currency      text NOT NULL,
    units         bigint NOT NULL,
    orders        bigint NOT NULL,
    revenue_minor bigint NOT NULL,
    customers     bytea NOT NULL,
    PRIMARY KEY (granularity, window_start, product_id, currency)
);
