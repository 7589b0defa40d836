-- The product rollup and its fold's cursor and state; see the PostgreSQL
-- migration. Times are Unix microseconds.
CREATE TABLE product_windows (
    granularity   TEXT NOT NULL,
    window_start  INTEGER NOT NULL,
    product_id    TEXT NOT NULL,
    currency      TEXT NOT NULL,
    units         INTEGER NOT NULL,
    orders        INTEGER NOT NULL,
    revenue_minor INTEGER NOT NULL,
    customers     BLOB NOT NULL,
    PRIMARY KEY (granularity, window_start, product_id, currency)
) WITHOUT ROWID;

CREATE TABLE product_fold_marks (
    kafka_partition INTEGER PRIMARY KEY,
    kafka_offset    INTEGER NOT NULL,
    transaction_id  TEXT NOT NULL
);

CREATE TABLE product_fold (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    chunks       INTEGER NOT NULL,
    transactions INTEGER NOT NULL,
    folded_until INTEGER,
    behind       INTEGER NOT NULL,
    imported     INTEGER NOT NULL
);
INSERT INTO product_fold (id, chunks, transactions, folded_until, behind, imported) VALUES (1, 0, 0, NULL, 1, 0);
