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
