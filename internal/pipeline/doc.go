// Package pipeline is the stream processor: it consumes the transactions
// topic in a consumer group, and for each fetched batch, partition by
// partition and in order, decodes and checks every record (quarantining bad
// ones with their reason), scores fraud from the partition's state, and hands
// one store.Batch to the writer, which commits results and offsets in one
// database transaction.
//
// Exactly once: offsets live in the database; after each database commit
// they are also mirrored to the Kafka group asynchronously, for lag tools
// only. On every
// assignment the processor seeks to the stored offsets; the store fences each
// write against the stored offset, so a processor that lost a partition
// cannot write it twice. Per-partition state is rebuilt on assignment by
// replaying the partition's recent stored transactions.
//
// Read committed: records of aborted transactions are never seen, and
// offset gaps (transaction markers, compaction) are normal, never a reason
// to skip. Records count as lost only when the broker's log start moved past
// the stored offset (asked on assignment and on offset out of range); the
// loss is logged, alerted through the outbox in the batch that moves the
// offset past it, and counted in shopstream_records_lost_total.
//
// Flow control: one goroutine polls; each partition's records in a poll are
// processed by a goroutine of their own (only it touches that partition's
// state, so nothing is locked); Config.Writers goroutines write, each
// owning a fixed share of the partitions so a partition's batches commit in
// order. A channel of two batches per writer bounds memory, and a slow
// database slows polling instead of queueing.
package pipeline
