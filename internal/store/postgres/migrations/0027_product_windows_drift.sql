-- The product rollup (GET /api/v1/products/top with since/until): what each
-- product sold per currency in each event-time hour and UTC day, written
-- in the transaction that stores its batch. customers is a HyperLogLog of
-- the customer IDs (store.Sketch), merged by the writer, not added. The
-- rollup starts empty: batches stored before this migration are not in it.
-- Rows are keyed by the writer's slot as well (as the other rollups, 0026),
-- so concurrent writers do not lock each other's rows; readers sum and
-- merge over the slots.
CREATE TABLE product_windows (
    granularity   text NOT NULL,
    window_start  timestamptz NOT NULL,
    product_id    text NOT NULL,
    currency      text NOT NULL,
    units         bigint NOT NULL,
    orders        bigint NOT NULL,
    revenue_minor bigint NOT NULL,
    customers     bytea NOT NULL,
    slot          integer NOT NULL DEFAULT 0,
    PRIMARY KEY (granularity, window_start, product_id, currency, slot)
);
-- A range's totals read units, orders and revenue of every product, never
-- the sketches, which are read for the few products answered: sketches
-- past a few dozen customers (a dense one is 1 KiB) are kept out of line,
-- so the rows the totals scan stay narrow.
ALTER TABLE product_windows SET (toast_tuple_target = 128);
ALTER TABLE product_windows ALTER COLUMN customers SET STORAGE EXTERNAL;

-- Drift as a trend (GET /api/v1/quality/drift): the population stability
-- index of each monitored field at each run of a processor's drift
-- detector, with the records compared either side.
CREATE TABLE quality_drift (
    at     timestamptz NOT NULL,
    source text NOT NULL,
    field  text NOT NULL,
    psi    double precision NOT NULL,
    ref    bigint NOT NULL,
    cur    bigint NOT NULL,
    PRIMARY KEY (at, source, field)
);
