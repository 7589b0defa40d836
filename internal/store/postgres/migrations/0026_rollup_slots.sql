-- The rows every writer adds to (window_metrics, fraud_rollups and
-- quality_minutes) are keyed by the writer's slot as well, so that two
-- writers never add to the same row and never wait for each other's row
-- locks: a batch of the transactions stream writes the slot of the
-- smallest Kafka partition it carries plus one, the labels consumer the
-- negative of that of its labels partitions, the rest (analysts'
-- verdicts, imports, the entity stage) slot 0 (see store.BatchSlot).
-- Readers sum over the slots. The existing rows are slot 0's.
ALTER TABLE window_metrics ADD COLUMN slot integer NOT NULL DEFAULT 0;
ALTER TABLE window_metrics DROP CONSTRAINT window_metrics_pkey;
ALTER TABLE window_metrics ADD PRIMARY KEY (granularity, window_start, channel, payment_method, currency, slot);

ALTER TABLE fraud_rollups ADD COLUMN slot integer NOT NULL DEFAULT 0;
ALTER TABLE fraud_rollups DROP CONSTRAINT fraud_rollups_pkey;
ALTER TABLE fraud_rollups ADD PRIMARY KEY (granularity, bucket_start, series, risk_bucket, truth, scenario, decision, analyst, slot);

ALTER TABLE quality_minutes ADD COLUMN slot integer NOT NULL DEFAULT 0;
ALTER TABLE quality_minutes DROP CONSTRAINT quality_minutes_pkey;
ALTER TABLE quality_minutes ADD PRIMARY KEY (minute, check_name, slot);
