package sqlstore

import (
	"context"
	"database/sql"

	"github.com/shopstream/shopstream/internal/store"
)

// ErrNoRows is what Row.Scan returns when the query matched nothing, in
// every dialect.
var ErrNoRows = sql.ErrNoRows

// DB runs statements on a connection pool or inside a transaction. SQL is
// written once, with numbered placeholders ($1, $2, ...); arguments and
// scan destinations are plain Go types (time.Time, *time.Time, []float32,
// bool, []byte), which each dialect maps to its own column types.
type DB interface {
	Exec(ctx context.Context, query string, args ...any) (int64, error)
	Query(ctx context.Context, query string, args ...any) (Rows, error)
	QueryRow(ctx context.Context, query string, args ...any) Row
}

// Rows is a result set being read.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// Row is a single-row result; Scan returns ErrNoRows when there is none.
type Row interface {
	Scan(dest ...any) error
}

// Dialect is what one database supplies: its connections and
// transactions, its bulk paths, its locks and its error codes. Everything
// else (fencing, deduplication, the model lifecycle, aggregation, scanning
// rows into store types) is written once, in Store.
type Dialect interface {
	// DB is the connection pool, for reads.
	DB() DB
	// Tx runs fn in one write transaction and commits it when fn returns
	// nil. SQLite serialises writers here.
	Tx(ctx context.Context, fn func(tx DB) error) error
	// SQL returns the statements whose text differs between databases.
	SQL() Queries

	// LockOffsets registers the batch's partitions (at their From offset
	// when new), locks their offset rows for the rest of tx and returns
	// what is stored.
	LockOffsets(ctx context.Context, tx DB, b *store.Batch) (map[int32]store.StoredOffset, error)
	// AdvanceOffsets stores each part's To (and checkpoint) with the
	// batch's owner and generation.
	AdvanceOffsets(ctx context.Context, tx DB, b *store.Batch) error
	// CopyTxs bulk-loads the parts' transactions.
	CopyTxs(ctx context.Context, tx DB, parts []store.Part) error
	// Insert bulk-loads rows into table.
	Insert(ctx context.Context, tx DB, table string, cols []string, rows [][]any) error
	// Upsert bulk-loads rows into table, resolving key conflicts with
	// onConflict ("ON CONFLICT (...) DO UPDATE SET ...").
	Upsert(ctx context.Context, tx DB, table string, cols []string, onConflict string, rows [][]any) error
	// UpsertWindows and UpsertCustomers add the batch's deltas to the
	// shared rows: the hot path of every batch. UpsertWindows adds to the
	// rows of the writer's slot (store.Batch.WriterSlot).
	UpsertWindows(ctx context.Context, tx DB, slot int32, ws []store.WindowRow) error
	UpsertCustomers(ctx context.Context, tx DB, cs []store.CustomerDelta) error
	// LockErasures takes the erasures' lock for the rest of tx: shared
	// by the batches that write, exclusive for an erasure, so an erasure
	// waits for the batches in flight and the next ones see it.
	LockErasures(ctx context.Context, tx DB, exclusive bool) error
	// LockModels serialises changes to the model versions for the rest
	// of tx.
	LockModels(ctx context.Context, tx DB) error
	// LockMigrations serialises schema migrations among processes
	// starting together until release is called.
	LockMigrations(ctx context.Context) (release func(), err error)

	// Classify sorts an error of a write by the database's error code,
	// never by its text, and returns the database's message.
	Classify(err error) (c ErrorClass, message string)
}

// ErrorClass sorts the errors of a write.
type ErrorClass int

// Error classes.
const (
	// Transient is every error worth retrying: connection lost,
	// serialisation failure, deadlock, timeout, cancelled context, and
	// whatever the dialect does not know.
	Transient ErrorClass = iota
	// DuplicateKey is a unique violation that may be a transaction id
	// stored already (PostgreSQL: of transaction_ids' key, or of a key of
	// transactions, which has none since migration 0040).
	DuplicateKey
	// Data is a refusal for a reason in the data: a constraint, an
	// encoding, a value out of range. The same rows fail again.
	Data
)

// Queries are the statements that differ between the dialects.
type Queries struct {
	// SchemaMigrations creates the table of applied migrations.
	SchemaMigrations string
	// HasSchemaMigrations counts (0 or 1) the table of applied migrations
	// in the current schema, without DDL, so a user without the right to
	// create tables can read the schema's version.
	HasSchemaMigrations string
	// PurchaseDays selects (customer_id, day as a time, orders, cents)
	// before $1, ordered by customer ID in byte order, then day.
	PurchaseDays string
	// Collate makes an ORDER BY on text compare bytes.
	Collate string
	// SkipLocked ends a SELECT of rows to claim: it locks them and skips
	// rows another transaction locked.
	SkipLocked string
	// ForUpdate locks the rows a SELECT reads (" FOR UPDATE"); empty
	// where a transaction locks the whole database (SQLite).
	ForUpdate string
	// BlobContains is a condition true when the binary column named by
	// %s holds the text $1, e.g. "instr(%s, CAST($1 AS BLOB)) > 0".
	BlobContains string
	// StoredIDs names a table with a transaction_id column holding the id
	// of every stored transaction, the cheapest to probe by id alone:
	// PostgreSQL's transaction_ids (transactions is partitioned by day,
	// so a probe by id visits every day's index), else transactions.
	StoredIDs string
	// TxByID is a FROM item holding transactions as t, to be searched by
	// transaction ID alone, and TxKey the ID column to compare (`WHERE
	// `+TxKey+` IN (...)`). PostgreSQL's transactions has no key on the ID
	// (migration 0040): its rows are found through transaction_ids, which
	// holds each stored ID's event time, partition and offset, so a probe
	// looks in the one day table that holds the row, by its
	// (kafka_partition, kafka_offset) index. SQLite's key is the ID. Name
	// the columns of t with the alias: transaction_ids has some of them.
	TxByID, TxKey string
}
