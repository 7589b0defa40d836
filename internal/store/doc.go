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
//
// # The logic once, the dialects twice
//
// The behaviour of both stores (fencing, deduplication, the model
// lifecycle, batching, aggregation, the outbox's leases, scanning rows
// into store types) is written once, in Go, in store/sqlstore, over a small
// interface, sqlstore.Dialect. Each dialect package supplies only what
// truly differs: its connections and transactions (pgx with a pool;
// database/sql with one writer at a time), the statements whose text
// differs (date arithmetic, JSON functions, collation), type mapping
// (timestamptz against Unix microseconds, real[] against float32 blobs),
// the bulk paths (COPY and unnest upserts against prepared inserts), locks
// (row locks and advisory locks against SQLite's single writer) and the
// classification of errors by code (SQLSTATE; SQLite's extended result
// codes).
//
// We chose the dialect interface over a code generator (sqlc with both
// engines) or a query builder: sqlc generates one package per engine,
// which would duplicate every method's Go again, and cannot express the
// parts that must differ (COPY through pgx's native CopyFrom, unnest with
// typed arrays, the per-row prepared path of SQLite); a query builder
// hides the SQL that the hot path is tuned on. Shared SQL is plain text
// with $N placeholders (SQLite is handed ?N); arguments and scan
// destinations are plain Go types that each dialect maps. PostgreSQL's
// write path keeps pgx's native calls, so it is as fast as before.
package store
