-- The partitions' checkpoints stored after their batches (the processor's
-- checkpoint saver) live in a table of their own: written into
-- consumer_offsets, a checkpoint's update held the row lock of the
-- partition's offset for as long as it wrote tens of megabytes, and the
-- next batch of that partition, with the row locks it held already,
-- waited for it. consumer_offsets.checkpoint keeps what batches carry
-- themselves; Checkpoint hands back the later of the two.
CREATE TABLE partition_checkpoints (
    group_id          text COLLATE "C" NOT NULL,
    topic             text COLLATE "C" NOT NULL,
    partition         integer NOT NULL,
    checkpoint_offset bigint NOT NULL,
    checkpoint_at     timestamptz NOT NULL,
    state             bytea NOT NULL,
    PRIMARY KEY (group_id, topic, partition)
);
ALTER TABLE partition_checkpoints ALTER COLUMN state SET STORAGE EXTERNAL;
