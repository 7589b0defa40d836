package store

import (
	"context"
	"time"
)

// AnalyticsTail is what the analytics refresh reads to keep its
// per-customer fold current without reading every stored purchase each
// run: the transactions stored since its last read, by the same
// per-partition cursor the recommendation service tails with (see
// Purchases), and, when stored rows changed under the cursor (an
// erasure, retention), the transactions of the customers concerned. Both
// the PostgreSQL and the SQLite store implement it.
type AnalyticsTail interface {
	// PurchaseTotals calls fn for every transaction stored after the
	// cursor, partition by partition, in (offset, transaction id) order
	// within each, reading at most limit transactions per partition
	// (limit <= 0: no limit), and returns the cursor after the last one,
	// as Purchases.PurchaseLines does. fn must not keep the value.
	PurchaseTotals(ctx context.Context, after PurchaseCursor, limit int, fn func(*PurchaseTotal) error) (PurchaseCursor, error)
	// CustomerPurchaseTotals calls fn for every stored transaction of the
	// given customers, in no particular order, wherever it sits in its
	// partition; the caller filters by its cursor (PurchaseCursor.Has).
	CustomerPurchaseTotals(ctx context.Context, customerIDs []string, fn func(*PurchaseTotal) error) error
	// HasPurchase reports whether a transaction of the customer with
	// exactly that event time is stored (an index probe).
	HasPurchase(ctx context.Context, customerID string, at time.Time) (bool, error)
	// PurchasesThrough counts the transactions of a partition at or
	// before a row mark (an index range): how the refresh notices rows
	// stored behind its cursor, which an import into a store that holds
	// one already writes (imports share partition -1).
	PurchasesThrough(ctx context.Context, partition int32, mark RowMark) (int64, error)
	// DeleteCustomerAnalytics deletes the analytics rows of customers who
	// left the population (erased under a pseudonym).
	DeleteCustomerAnalytics(ctx context.Context, customerIDs []string) error
}

// PurchaseTotal is one stored transaction as the analytics refresh sees
// it: its place, customer, time, total and spend per item line.
type PurchaseTotal struct {
	Partition     int32
	Offset        int64
	TransactionID string
	CustomerID    string
	EventTime     time.Time
	TotalCents    int64
	// Lines are the item lines' categories and amounts (quantity × unit
	// price in cents, rounded once per line), in the items' order; a
	// category may repeat.
	Lines []CategoryCents
}

// CategoryCents is the amount of one item line in one category.
type CategoryCents struct {
	Category string
	Cents    int64
}

// Has reports whether a transaction at (partition, offset, transaction
// id) is at or before the cursor, that is whether a read that returned
// the cursor has delivered it. Transaction ids break offset ties in byte
// order.
func (c PurchaseCursor) Has(partition int32, offset int64, transactionID string) bool {
	m, ok := c[partition]
	return ok && (offset < m.Offset || offset == m.Offset && transactionID <= m.TransactionID)
}
