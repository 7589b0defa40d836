-- A partition's checkpoint (its fraud state and dedup window, megabytes
-- with many customers) is written in the batch that carries it, so the
-- batch, and the stream of its partitions, waits for that write.
-- PostgreSQL compressed the value with pglz before moving it out of line:
-- 390 ms for a 9 MB checkpoint (about 23 MB/s), where storing it
-- uncompressed takes about 40 ms. The state is varints and identifiers,
-- which pglz shrinks by a third; the bytes saved do not pay for the
-- stall. EXTERNAL keeps the value out of line without compression; it
-- applies to the values written from now on.
ALTER TABLE consumer_offsets ALTER COLUMN checkpoint SET STORAGE EXTERNAL;
