-- The partitions' checkpoints stored after their batches (the processor's
-- checkpoint saver) live in a table of their own, as in PostgreSQL's 0036
-- (where an update of consumer_offsets would hold the partition's row
-- lock while it writes tens of megabytes). consumer_offsets.checkpoint
-- keeps what batches carry themselves; Checkpoint hands back the later of
-- the two.
CREATE TABLE partition_checkpoints (
    group_id          TEXT NOT NULL,
    topic             TEXT NOT NULL,
    partition         INTEGER NOT NULL,
    checkpoint_offset INTEGER NOT NULL,
    checkpoint_at     INTEGER NOT NULL,
    state             BLOB NOT NULL,
    PRIMARY KEY (group_id, topic, partition)
);
