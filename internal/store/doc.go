// Package store is the system of record behind one interface, Store, with a
// PostgreSQL implementation (store/postgres, production) and an embedded
// SQLite one (store/sqlite, `shopstream run`). Both pass the conformance suite
// in store/storetest.
//
// Exactly once: a Batch carries, for each Kafka partition, the records
// between two offsets and everything computed from them; WriteBatch stores
// all of it and advances the stored offsets in ONE database transaction, after
// checking that each partition's stored offset still equals the batch's
// starting offset (a fence against a processor that lost its partitions).
package store
