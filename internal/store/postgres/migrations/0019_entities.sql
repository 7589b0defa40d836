-- The entity stage (internal/entitystage): one row per transaction and
-- entity (device, card, address) it owns, with the entity's global counts
-- as of that transaction, written with the repartition topic's offsets in
-- one transaction; the rows within the sliding window rebuild a
-- partition's state on assignment, and older ones are pruned as it moves.
CREATE TABLE entity_events (
    kafka_partition integer NOT NULL,
    entity          text NOT NULL,
    transaction_id  text NOT NULL,
    customer_id     text NOT NULL,
    card            text NOT NULL,
    event_time      timestamptz NOT NULL,
    customers       integer NOT NULL,
    transactions    integer NOT NULL,
    cards           integer NOT NULL,
    PRIMARY KEY (entity, transaction_id)
);
CREATE INDEX entity_events_partition_time_idx ON entity_events (kafka_partition, event_time);
CREATE INDEX entity_events_transaction_idx ON entity_events (transaction_id);

-- Rings of accounts joined by shared devices and cards, one row per ring
-- (keyed by its first shared entity), updated as it grows.
CREATE TABLE entity_rings (
    ring_key         text PRIMARY KEY,
    kafka_partition  integer NOT NULL,
    member_count     integer NOT NULL,
    members          json NOT NULL,
    entities         json NOT NULL,
    reason           text NOT NULL,
    transaction_id   text NOT NULL,
    first_event_time timestamptz NOT NULL,
    last_event_time  timestamptz NOT NULL,
    produced_at      timestamptz NOT NULL,
    detected_at      timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL
);
CREATE INDEX entity_rings_updated_idx ON entity_rings (updated_at);
