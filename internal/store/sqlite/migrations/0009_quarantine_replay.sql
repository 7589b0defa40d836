-- Quarantined records can be replayed (shopstream quarantine replay): each
-- row records where it came from and the outcome of its last replay, which
-- is written in the same transaction as the replayed record's result.
-- source: 'stream' (consumed from Kafka) or 'import' (kafka_partition -1);
-- topic: the Kafka topic, or 'import:<source>' ('' for rows of imports
-- stored before this migration). replay_outcome: NULL (never replayed),
-- 'stored', 'quarantined' (failed again: replay_reason, replay_detail) or
-- 'duplicate'.
ALTER TABLE quarantine ADD COLUMN source TEXT NOT NULL DEFAULT 'stream';
ALTER TABLE quarantine ADD COLUMN topic TEXT NOT NULL DEFAULT '';
ALTER TABLE quarantine ADD COLUMN replay_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE quarantine ADD COLUMN replayed_at INTEGER;
ALTER TABLE quarantine ADD COLUMN replay_outcome TEXT;
ALTER TABLE quarantine ADD COLUMN replay_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE quarantine ADD COLUMN replay_detail TEXT NOT NULL DEFAULT '';
UPDATE quarantine SET source = 'import' WHERE kafka_partition = -1;
-- Listing by reason and time, and purging by age.
CREATE INDEX quarantine_reason_time_idx ON quarantine (reason, quarantined_at);
CREATE INDEX quarantine_time_idx ON quarantine (quarantined_at);
