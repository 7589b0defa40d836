package sqlstore

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	json "github.com/goccy/go-json"

	"github.com/shopstream/shopstream/internal/store"
)

// totalsCols are what PurchaseTotals reads of a transaction (AfterMark:
// transaction IDs compare in byte order, as store.PurchaseCursor.Has
// does).
const totalsCols = `transaction_id, customer_id, event_time, total_cents, CAST(items AS TEXT), kafka_offset`

// totalsReader scans transactions into a store.PurchaseTotal, parsing the
// items with goccy/go-json and pricing each line exactly (lineCents).
type totalsReader struct {
	t      store.PurchaseTotal
	items  string
	parsed []spendItem
}

func (r *totalsReader) parse() error {
	r.parsed = r.parsed[:0]
	if err := json.Unmarshal([]byte(r.items), &r.parsed); err != nil {
		return fmt.Errorf("parsing the items of transaction %s: %w", r.t.TransactionID, err)
	}
	r.t.Lines = r.t.Lines[:0]
	for _, it := range r.parsed {
		c, err := lineCents(it.Quantity, it.UnitPrice)
		if err != nil {
			return fmt.Errorf("an item of transaction %s: %w", r.t.TransactionID, err)
		}
		r.t.Lines = append(r.t.Lines, store.CategoryCents{Category: it.Category, Cents: c})
	}
	r.t.EventTime = r.t.EventTime.UTC()
	return nil
}

// PurchaseTotals implements store.AnalyticsTail.
func (s *Store) PurchaseTotals(ctx context.Context, after store.PurchaseCursor, limit int, fn func(*store.PurchaseTotal) error) (store.PurchaseCursor, error) {
	next := after.Clone()
	parts, err := collect(ctx, s.d.DB(), partitionsQuery, nil, func(r Rows) (p int32, err error) { err = r.Scan(&p); return p, err })
	if err != nil {
		return next, fmt.Errorf("listing the stored partitions: %w", err)
	}
	lim := int64(math.MaxInt64)
	if limit > 0 {
		lim = int64(limit)
	}
	q := AfterMark(totalsCols, s.q.Collate, false)
	var tr totalsReader
	for _, p := range parts {
		mark, ok := next[p]
		if !ok {
			mark = store.RowMark{Offset: math.MinInt64}
		}
		err := s.inOrder(ctx, func(db DB) error {
			return stream(ctx, db, fmt.Sprintf("purchase totals of partition %d", p), q, []any{p, mark.Offset, mark.TransactionID, lim}, func(r Rows) error {
				if err := r.Scan(&tr.t.TransactionID, &tr.t.CustomerID, &tr.t.EventTime, &tr.t.TotalCents, &tr.items, &tr.t.Offset); err != nil {
					return err
				}
				return tr.parse()
			}, func() error {
				tr.t.Partition = p
				if err := fn(&tr.t); err != nil {
					return err
				}
				next[p] = store.RowMark{Offset: tr.t.Offset, TransactionID: tr.t.TransactionID}
				return nil
			})
		})
		if err != nil {
			return next, err
		}
	}
	return next, nil
}

// customerBatch is how many customers one CustomerPurchaseTotals query
// names.
const customerBatch = 200

// CustomerPurchaseTotals implements store.AnalyticsTail: one query per
// customerBatch customers, each an index probe on (customer_id,
// event_time).
func (s *Store) CustomerPurchaseTotals(ctx context.Context, customerIDs []string, fn func(*store.PurchaseTotal) error) error {
	var tr totalsReader
	for lo := 0; lo < len(customerIDs); lo += customerBatch {
		ids := customerIDs[lo:min(lo+customerBatch, len(customerIDs))]
		args := make([]any, len(ids))
		var in strings.Builder
		for i, id := range ids {
			if i > 0 {
				in.WriteString(", ")
			}
			in.WriteString("$" + strconv.Itoa(i+1))
			args[i] = id
		}
		err := stream(ctx, s.d.DB(), fmt.Sprintf("purchase totals of %d customers", len(ids)),
			`SELECT transaction_id, customer_id, event_time, total_cents, CAST(items AS TEXT), kafka_offset, kafka_partition
			FROM transactions WHERE customer_id IN (`+in.String()+`)`, args, func(r Rows) error {
				if err := r.Scan(&tr.t.TransactionID, &tr.t.CustomerID, &tr.t.EventTime, &tr.t.TotalCents, &tr.items, &tr.t.Offset, &tr.t.Partition); err != nil {
					return err
				}
				return tr.parse()
			}, func() error { return fn(&tr.t) })
		if err != nil {
			return err
		}
	}
	return nil
}

// HasPurchase implements store.AnalyticsTail.
func (s *Store) HasPurchase(ctx context.Context, customerID string, at time.Time) (bool, error) {
	var n int
	err := s.d.DB().QueryRow(ctx, "SELECT count(*) FROM (SELECT 1 FROM transactions WHERE customer_id = $1 AND event_time = $2 LIMIT 1) x",
		customerID, at).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("looking up a purchase of customer %q: %w", customerID, err)
	}
	return n > 0, nil
}

// PurchasesThrough implements store.AnalyticsTail.
func (s *Store) PurchasesThrough(ctx context.Context, partition int32, mark store.RowMark) (int64, error) {
	var n int64
	err := s.d.DB().QueryRow(ctx, `SELECT count(*) FROM transactions WHERE kafka_partition = $1 AND kafka_offset <= $2
		AND (kafka_offset < $2 OR transaction_id`+s.q.Collate+` <= $3)`, partition, mark.Offset, mark.TransactionID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("counting the purchases of partition %d read so far: %w", partition, err)
	}
	return n, nil
}

// DeleteCustomerAnalytics implements store.AnalyticsTail.
func (s *Store) DeleteCustomerAnalytics(ctx context.Context, customerIDs []string) error {
	for _, id := range customerIDs {
		if _, err := s.d.DB().Exec(ctx, "DELETE FROM customer_analytics WHERE customer_id = $1", id); err != nil {
			return fmt.Errorf("deleting the analytics of customer %q: %w", id, err)
		}
	}
	return nil
}

var _ store.AnalyticsTail = (*Store)(nil)
