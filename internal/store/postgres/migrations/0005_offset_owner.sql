-- Who stored each partition's offset, in which consumer-group generation,
-- and the partition's processing state (checkpoint) as of an offset: a
-- zombie's commit (older generation) is refused, a processor tells its own
-- commit whose reply was lost from another owner's, and a restart restores
-- the checkpoint and replays only the tail.
ALTER TABLE consumer_offsets ADD COLUMN owner text NOT NULL DEFAULT '';
ALTER TABLE consumer_offsets ADD COLUMN generation integer NOT NULL DEFAULT -1;
ALTER TABLE consumer_offsets ADD COLUMN checkpoint bytea;
ALTER TABLE consumer_offsets ADD COLUMN checkpoint_offset bigint;
ALTER TABLE consumer_offsets ADD COLUMN checkpoint_at timestamptz;
