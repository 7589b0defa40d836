package store

import (
	"context"
	"maps"
	"time"
)

// Purchases is what the recommendation service and `shopstream recommend
// eval` need from the store: the stored purchase lines, read in the order
// the rows were stored, and resumable from where the last read stopped.
// Both the PostgreSQL and the SQLite store implement it;
// storetest.RunPurchases is its conformance suite.
//
// The read walks the (kafka_partition, kafka_offset) index, so tailing
// what was committed since the last read costs what was committed, never
// a scan of the table. Within a partition rows commit in offset order (the
// store fences every batch on its partition's offset), and a customer's
// transactions share a partition, so each customer's purchases come in the
// order they were consumed, which is event-time order for a keyed stream
// and file order for an import.
type Purchases interface {
	// PurchaseLines calls fn for every item line of the transactions
	// stored after the cursor, partition by partition, in (offset,
	// transaction id) order within each, reading at most limit
	// transactions per partition (limit <= 0: no limit). It returns the
	// cursor after the last transaction read; a partition absent from
	// after is read from its start. The cursor passed in is not changed.
	PurchaseLines(ctx context.Context, after PurchaseCursor, limit int, fn func(*PurchaseLine) error) (PurchaseCursor, error)
}

// PurchaseCursor marks, per stored partition (-1 holds imported rows), the
// last transaction a PurchaseLines read delivered.
type PurchaseCursor map[int32]RowMark

// Clone returns a copy of the cursor.
func (c PurchaseCursor) Clone() PurchaseCursor {
	if c == nil {
		return PurchaseCursor{}
	}
	return maps.Clone(c)
}

// RowMark is a stored transaction's place in its partition. Offsets are
// not unique within a partition (imports of two sources, two topics), so
// the transaction id breaks ties.
type RowMark struct {
	Offset        int64
	TransactionID string
}

// PurchaseLine is one item line of a stored transaction.
type PurchaseLine struct {
	TransactionID string
	CustomerID    string
	ProductID     string
	Category      string
	Quantity      int
	EventTime     time.Time
	Partition     int32
	Offset        int64
}
