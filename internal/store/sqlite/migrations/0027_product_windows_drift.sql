-- The product rollup (GET /api/v1/products/top with since/until): what each
-- product sold per currency in each event-time hour and UTC day, written
-- in the transaction that stores its batch. customers is a HyperLogLog of
-- the customer IDs (store.Sketch), merged by the writer, not added. The
-- rollup starts empty: batches stored before this migration are not in it.
-- Rows are keyed by the writer's slot as well (as the other rollups, 0026),
-- so concurrent writers do not lock each other's rows; readers sum and
-- merge over the slots.
CREATE TABLE product_windows (
    granularity   TEXT NOT NULL,
    window_start  INTEGER NOT NULL,
    product_id    TEXT NOT NULL,
    currency      TEXT NOT NULL,
    units         INTEGER NOT NULL,
    orders        INTEGER NOT NULL,
    revenue_minor INTEGER NOT NULL,
    customers     BLOB NOT NULL,
    slot          INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (granularity, window_start, product_id, currency, slot)
) WITHOUT ROWID;

-- Drift as a trend (GET /api/v1/quality/drift): the population stability
-- index of each monitored field at each run of a processor's drift
-- detector, with the records compared either side.
CREATE TABLE quality_drift (
    at     INTEGER NOT NULL,
    source TEXT NOT NULL,
    field  TEXT NOT NULL,
    psi    REAL NOT NULL,
    ref    INTEGER NOT NULL,
    cur    INTEGER NOT NULL,
    PRIMARY KEY (at, source, field)
) WITHOUT ROWID;
