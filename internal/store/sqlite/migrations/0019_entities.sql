-- The entity stage (internal/entitystage): one row per transaction and
-- entity (device, card, address) it owns, with the entity's global counts
-- as of that transaction, written with the repartition topic's offsets in
-- one transaction; the rows within the sliding window rebuild a
-- partition's state on assignment, and older ones are pruned as it moves.
CREATE TABLE entity_events (
    kafka_partition INTEGER NOT NULL,
    entity          TEXT NOT NULL,
    transaction_id  TEXT NOT NULL,
    customer_id     TEXT NOT NULL,
    card            TEXT NOT NULL,
    event_time      INTEGER NOT NULL,
    customers       INTEGER NOT NULL,
    transactions    INTEGER NOT NULL,
    cards           INTEGER NOT NULL,
    PRIMARY KEY (entity, transaction_id)
);
CREATE INDEX entity_events_partition_time_idx ON entity_events (kafka_partition, event_time);
CREATE INDEX entity_events_transaction_idx ON entity_events (transaction_id);

-- Rings of accounts joined by shared devices and cards, one row per ring
-- (keyed by its first shared entity), updated as it grows.
CREATE TABLE entity_rings (
    ring_key         TEXT PRIMARY KEY,
    kafka_partition  INTEGER NOT NULL,
    member_count     INTEGER NOT NULL,
    members          TEXT NOT NULL,
    entities         TEXT NOT NULL,
    reason           TEXT NOT NULL,
    transaction_id   TEXT NOT NULL,
    first_event_time INTEGER NOT NULL,
    last_event_time  INTEGER NOT NULL,
    produced_at      INTEGER NOT NULL,
    detected_at      INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);
CREATE INDEX entity_rings_updated_idx ON entity_rings (updated_at);
