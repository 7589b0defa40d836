-- The rows every writer adds to are keyed by the writer's slot as well;
-- see the PostgreSQL migration. SQLite has one writer at a time, but the
-- stores share their statements. The existing rows are slot 0's.
CREATE TABLE window_metrics_new (
    granularity    TEXT NOT NULL,
    window_start   INTEGER NOT NULL,
    channel        TEXT NOT NULL,
    payment_method TEXT NOT NULL,
    currency       TEXT NOT NULL,
    tx_count       INTEGER NOT NULL,
    revenue_cents  INTEGER NOT NULL,
    alert_count    INTEGER NOT NULL,
    slot           INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (granularity, window_start, channel, payment_method, currency, slot)
) WITHOUT ROWID;
INSERT INTO window_metrics_new (granularity, window_start, channel, payment_method, currency, tx_count, revenue_cents, alert_count)
SELECT granularity, window_start, channel, payment_method, currency, tx_count, revenue_cents, alert_count FROM window_metrics;
DROP TABLE window_metrics;
ALTER TABLE window_metrics_new RENAME TO window_metrics;

CREATE TABLE fraud_rollups_new (
    granularity  TEXT NOT NULL,
    bucket_start INTEGER NOT NULL,
    series       TEXT NOT NULL,
    risk_bucket  INTEGER NOT NULL,
    truth        TEXT NOT NULL,
    scenario     TEXT NOT NULL,
    decision     TEXT NOT NULL,
    analyst      INTEGER NOT NULL,
    n            INTEGER NOT NULL,
    slot         INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (granularity, bucket_start, series, risk_bucket, truth, scenario, decision, analyst, slot)
) WITHOUT ROWID;
INSERT INTO fraud_rollups_new (granularity, bucket_start, series, risk_bucket, truth, scenario, decision, analyst, n)
SELECT granularity, bucket_start, series, risk_bucket, truth, scenario, decision, analyst, n FROM fraud_rollups;
DROP TABLE fraud_rollups;
ALTER TABLE fraud_rollups_new RENAME TO fraud_rollups;

CREATE TABLE quality_minutes_new (
    minute     INTEGER NOT NULL,
    check_name TEXT NOT NULL,
    checked    INTEGER NOT NULL,
    passed     INTEGER NOT NULL,
    warned     INTEGER NOT NULL,
    failed     INTEGER NOT NULL,
    slot       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (minute, check_name, slot)
) WITHOUT ROWID;
INSERT INTO quality_minutes_new (minute, check_name, checked, passed, warned, failed)
SELECT minute, check_name, checked, passed, warned, failed FROM quality_minutes;
DROP TABLE quality_minutes;
ALTER TABLE quality_minutes_new RENAME TO quality_minutes;
