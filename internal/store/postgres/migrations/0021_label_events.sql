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
    label_id        text PRIMARY KEY,
    transaction_id  text NOT NULL,
    kind            text NOT NULL,
    fraud           boolean NOT NULL,
    scenario        text NOT NULL,
    reason_code     text NOT NULL,
    event_time      timestamptz NOT NULL,
    kafka_partition int NOT NULL,
    kafka_offset    bigint NOT NULL,
    received_at     timestamptz NOT NULL,
    state           smallint NOT NULL
);
CREATE INDEX label_events_transaction_idx ON label_events (transaction_id);
CREATE INDEX label_events_pending_idx ON label_events (kafka_partition, received_at) WHERE state = 0;
