-- Label events from the labels topic (chargebacks, analysts' decisions,
-- dispute outcomes), each stored once (label_id) in the transaction that
-- advances the labels topic's offset. state: 0 pending (its transaction
-- is not stored yet), 1 applied to labels and fraud_rollups, 2 expired
-- (pending for longer than the processor's retention bound). labels now
-- holds only transactions that have a label: the latest event's verdict
-- (or the generator's fraud truth where a processor still takes it from
-- the record's headers); an unlabelled transaction is no longer stored as
-- legit.
CREATE TABLE label_events (
    label_id        TEXT PRIMARY KEY,
    transaction_id  TEXT NOT NULL,
    kind            TEXT NOT NULL,
    fraud           INTEGER NOT NULL,
    scenario        TEXT NOT NULL,
    reason_code     TEXT NOT NULL,
    event_time      INTEGER NOT NULL,
    kafka_partition INTEGER NOT NULL,
    kafka_offset    INTEGER NOT NULL,
    received_at     INTEGER NOT NULL,
    state           INTEGER NOT NULL
);
CREATE INDEX label_events_transaction_idx ON label_events (transaction_id);
CREATE INDEX label_events_pending_idx ON label_events (kafka_partition, received_at) WHERE state = 0;

-- The risk histogram of the active model now counts unlabelled
-- transactions too (truth 'none'): most transactions have no label until
-- their label window has passed, and the review workload at a threshold
-- (GET /api/v1/fraud/cost) counts every transaction. Backfilled here from
-- the stored transactions that have neither a label nor an analyst's
-- verdict.
CREATE TEMP TABLE fraud_rollup_unlabelled AS
SELECT t.event_time, t.risk
FROM transactions t
LEFT JOIN labels l ON l.transaction_id = t.transaction_id
LEFT JOIN alerts a ON a.transaction_id = t.transaction_id
WHERE l.transaction_id IS NULL AND coalesce(a.status NOT IN ('confirmed_fraud', 'false_positive'), 1);

INSERT INTO fraud_rollups (granularity, bucket_start, series, risk_bucket, truth, scenario, decision, analyst, n)
SELECT g.granularity, o.event_time / g.unit * g.unit, 'active', CAST(min(99, max(0, o.risk * 100)) AS INTEGER), 'none', '', '', 0, count(*)
FROM fraud_rollup_unlabelled o, (SELECT 'minute' AS granularity, 60000000 AS unit UNION ALL SELECT 'hour', 3600000000 UNION ALL SELECT 'day', 86400000000) AS g
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8;

DROP TABLE fraud_rollup_unlabelled;
