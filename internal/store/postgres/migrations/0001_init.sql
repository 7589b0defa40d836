-- Transactions: one row per stored transaction, items inline as JSON.
CREATE TABLE transactions (
    transaction_id   text PRIMARY KEY,
    customer_id      text NOT NULL,
    event_time       timestamptz NOT NULL,
    total_cents      bigint NOT NULL,
    currency         text NOT NULL,
    payment_method   text NOT NULL,
    channel          text NOT NULL,
    card_bin         text NOT NULL,
    card_last4       text NOT NULL,
    device_id        text NOT NULL,
    ip_address       text NOT NULL,
    billing_country  text NOT NULL,
    shipping_country text NOT NULL,
    items            json NOT NULL,
    kafka_partition  integer NOT NULL,
    kafka_offset     bigint NOT NULL,
    risk             real NOT NULL,
    decision         text NOT NULL,
    reasons          json NOT NULL,
    shadow_risk      real,
    features         real[],
    produced_at      timestamptz NOT NULL,
    stored_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX transactions_customer_idx ON transactions (customer_id, event_time);
CREATE INDEX transactions_partition_idx ON transactions (kafka_partition, kafka_offset);

-- Generator labels, out of band: read only by evaluation.
CREATE TABLE labels (
    transaction_id text PRIMARY KEY,
    fraud          boolean NOT NULL,
    scenario       text NOT NULL
);

-- Records that failed a data-quality check, never dropped.
CREATE TABLE quarantine (
    id              bigserial PRIMARY KEY,
    reason          text NOT NULL,
    detail          text NOT NULL,
    raw             bytea NOT NULL,
    kafka_partition integer NOT NULL,
    kafka_offset    bigint NOT NULL,
    expected        text NOT NULL DEFAULT '',
    quarantined_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX quarantine_reason_idx ON quarantine (reason);

CREATE TABLE alerts (
    transaction_id text PRIMARY KEY,
    customer_id    text NOT NULL,
    event_time     timestamptz NOT NULL,
    risk           real NOT NULL,
    decision       text NOT NULL,
    reasons        json NOT NULL,
    amount_cents   bigint NOT NULL,
    status         text NOT NULL DEFAULT 'open',
    created_at     timestamptz NOT NULL DEFAULT now(),
    labelled_at    timestamptz
);
CREATE INDEX alerts_created_idx ON alerts (created_at);

-- Additive window metrics: count = count + excluded.count.
CREATE TABLE window_metrics (
    granularity    text NOT NULL,
    window_start   timestamptz NOT NULL,
    channel        text NOT NULL,
    payment_method text NOT NULL,
    tx_count       bigint NOT NULL,
    revenue_cents  bigint NOT NULL,
    alert_count    bigint NOT NULL,
    PRIMARY KEY (granularity, window_start, channel, payment_method)
);

CREATE TABLE customers (
    customer_id   text PRIMARY KEY,
    first_seen    timestamptz NOT NULL,
    last_seen     timestamptz NOT NULL,
    orders        bigint NOT NULL,
    revenue_cents bigint NOT NULL
);

-- The next offset to consume per partition: written in the same
-- transaction as the results, so it is the only truth about progress.
CREATE TABLE consumer_offsets (
    group_id    text NOT NULL,
    topic       text NOT NULL,
    partition   integer NOT NULL,
    next_offset bigint NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (group_id, topic, partition)
);

-- Outbound messages, delivered after commit.
CREATE TABLE outbox (
    id              bigserial PRIMARY KEY,
    kind            text NOT NULL,
    target          text NOT NULL,
    msg_key         bytea,
    headers         bytea,
    payload         bytea NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz,
    last_error      text
);
CREATE INDEX outbox_pending_idx ON outbox (next_attempt_at) WHERE delivered_at IS NULL;

-- Versioned models with their metrics.
CREATE TABLE models (
    id         bigserial PRIMARY KEY,
    kind       text NOT NULL,
    version    integer NOT NULL,
    status     text NOT NULL,
    params     bytea NOT NULL,
    metrics    json NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (kind, version)
);
