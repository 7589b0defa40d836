-- The product rollup (GET /api/v1/products/top with since/until): what each
-- product sold per currency in each event-time hour and UTC day. It is not
-- written with the batches: the leader's product fold job (internal/jobs)
-- reads the transactions stored since its cursor and adds them here in
-- chunks, each chunk's rows and the cursor in one transaction.
-- customers is a HyperLogLog of the customer IDs (store.Sketch), merged,
-- not added. One writer (the fold) keeps these rows: no writer slot.
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
-- A range's totals read units, orders and revenue of every product, never
-- the sketches, which are read for the few products answered: sketches
-- past a few dozen customers (a dense one is 1 KiB) are kept out of line,
-- so the rows the totals scan stay narrow.
ALTER TABLE product_windows SET (toast_tuple_target = 128);
ALTER TABLE product_windows ALTER COLUMN customers SET STORAGE EXTERNAL;

-- The fold's cursor: per Kafka partition (-1: imports) the last
-- transaction folded, in (kafka_offset, transaction_id) order, as the
-- analytics refresh reads the stored purchases.
CREATE TABLE product_fold_marks (
    kafka_partition integer PRIMARY KEY,
    kafka_offset    bigint NOT NULL,
    transaction_id  text NOT NULL
);

-- The fold's state, one row: chunks counts the chunks committed (a fold
-- commits only over the count it read with, so two folders never add a
-- chunk twice); folded_until is when the last pass that reached the end
-- of the stored transactions began (everything committed before it is
-- folded; NULL until the first); imported is how many imported rows
-- (partition -1) lay at or before the cursor then (more later means an
-- import behind the cursor: the rollup is folded again from the start).
CREATE TABLE product_fold (
    id           integer PRIMARY KEY CHECK (id = 1),
    chunks       bigint NOT NULL,
    transactions bigint NOT NULL,
    folded_until timestamptz,
    behind       boolean NOT NULL,
    imported     bigint NOT NULL
);
INSERT INTO product_fold (id, chunks, transactions, folded_until, behind, imported) VALUES (1, 0, 0, NULL, true, 0);
