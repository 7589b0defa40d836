-- Times are Unix microseconds (UTC). Same tables and meaning as PostgreSQL.
CREATE TABLE transactions (
    transaction_id   TEXT PRIMARY KEY,
    customer_id      TEXT NOT NULL,
    event_time       INTEGER NOT NULL,
    total_cents      INTEGER NOT NULL,
    currency         TEXT NOT NULL,
    payment_method   TEXT NOT NULL,
    channel          TEXT NOT NULL,
    card_bin         TEXT NOT NULL,
    card_last4       TEXT NOT NULL,
    device_id        TEXT NOT NULL,
    ip_address       TEXT NOT NULL,
    billing_country  TEXT NOT NULL,
    shipping_country TEXT NOT NULL,
    items            TEXT NOT NULL,
    kafka_partition  INTEGER NOT NULL,
    kafka_offset     INTEGER NOT NULL,
    risk             REAL NOT NULL,
    decision         TEXT NOT NULL,
    reasons          TEXT NOT NULL,
    shadow_risk      REAL,
    features         BLOB,
    produced_at      INTEGER NOT NULL,
    stored_at        INTEGER NOT NULL
);
-- A rowid table: wide rows are appended in arrival order, and only the
-- narrow primary-key index takes the random transaction ids.
CREATE INDEX transactions_customer_idx ON transactions (customer_id, event_time);
CREATE INDEX transactions_partition_idx ON transactions (kafka_partition, kafka_offset);

CREATE TABLE labels (
    transaction_id TEXT PRIMARY KEY,
    fraud          INTEGER NOT NULL,
    scenario       TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE quarantine (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    reason          TEXT NOT NULL,
    detail          TEXT NOT NULL,
    raw             BLOB NOT NULL,
    kafka_partition INTEGER NOT NULL,
    kafka_offset    INTEGER NOT NULL,
    expected        TEXT NOT NULL DEFAULT '',
    quarantined_at  INTEGER NOT NULL
);
CREATE INDEX quarantine_reason_idx ON quarantine (reason);

CREATE TABLE alerts (
    transaction_id TEXT PRIMARY KEY,
    customer_id    TEXT NOT NULL,
    event_time     INTEGER NOT NULL,
    risk           REAL NOT NULL,
    decision       TEXT NOT NULL,
    reasons        TEXT NOT NULL,
    amount_cents   INTEGER NOT NULL,
    status         TEXT NOT NULL DEFAULT 'open',
    created_at     INTEGER NOT NULL,
    labelled_at    INTEGER
);
CREATE INDEX alerts_created_idx ON alerts (created_at);

CREATE TABLE window_metrics (
    granularity    TEXT NOT NULL,
    window_start   INTEGER NOT NULL,
    channel        TEXT NOT NULL,
    payment_method TEXT NOT NULL,
    tx_count       INTEGER NOT NULL,
    revenue_cents  INTEGER NOT NULL,
    alert_count    INTEGER NOT NULL,
    PRIMARY KEY (granularity, window_start, channel, payment_method)
) WITHOUT ROWID;

CREATE TABLE customers (
    customer_id   TEXT PRIMARY KEY,
    first_seen    INTEGER NOT NULL,
    last_seen     INTEGER NOT NULL,
    orders        INTEGER NOT NULL,
    revenue_cents INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE consumer_offsets (
    group_id    TEXT NOT NULL,
    topic       TEXT NOT NULL,
    partition   INTEGER NOT NULL,
    next_offset INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (group_id, topic, partition)
);

CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    kind            TEXT NOT NULL,
    target          TEXT NOT NULL,
    msg_key         BLOB,
    headers         BLOB,
    payload         BLOB NOT NULL,
    created_at      INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    delivered_at    INTEGER,
    last_error      TEXT
);
CREATE INDEX outbox_pending_idx ON outbox (next_attempt_at) WHERE delivered_at IS NULL;

CREATE TABLE models (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    kind       TEXT NOT NULL,
    version    INTEGER NOT NULL,
    status     TEXT NOT NULL,
    params     BLOB NOT NULL,
    metrics    TEXT NOT NULL DEFAULT '{}',
    created_at INTEGER NOT NULL,
    UNIQUE (kind, version)
);
