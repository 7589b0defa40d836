package storetest

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/store"
)

// remaining lists the ids of the stored transactions of partition p.
func remaining(t *testing.T, s store.Store, p int32) []string {
	t.Helper()
	var ids []string
	err := s.RecentTransactions(context.Background(), p, 0, time.Time{}, func(tx *store.Tx) error {
		ids = append(ids, tx.TransactionID)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(ids)
	return ids
}

// Retention deletes transactions by event time, minute windows by their
// start and alerts by creation time, in bounded batches, and nothing
// younger; hourly windows (the totals) stay.
func testRetention(t *testing.T, s store.Store) {
	ctx := context.Background()
	r, ok := s.(store.Retention)
	if !ok {
		t.Fatalf("%T does not implement store.Retention", s)
	}
	advance := fakeClock(s, t)
	var txs []store.Tx
	for i, age := range []time.Duration{72 * time.Hour, 48 * time.Hour, 47 * time.Hour, 90 * time.Minute, 10 * time.Minute, 0} {
		tx := Tx(fmt.Sprintf("t%d", i), "c1", base.Add(-age), 100, 0, int64(i))
		tx.Decision = "review"
		txs = append(txs, tx)
	}
	p := part(0, 0, txs[:3]...)
	for _, tx := range txs[:3] {
		p.Alerts = append(p.Alerts, store.Alert{TransactionID: tx.TransactionID, CustomerID: "c1", EventTime: tx.EventTime,
			Risk: 0.5, Decision: "review", ReasonsJSON: []byte("[]"), AmountCents: 100})
	}
	write(t, s, p)
	advance(2 * time.Hour)
	p = part(0, 3, txs[3:]...)
	for _, tx := range txs[3:] {
		p.Alerts = append(p.Alerts, store.Alert{TransactionID: tx.TransactionID, CustomerID: "c1", EventTime: tx.EventTime,
			Risk: 0.5, Decision: "review", ReasonsJSON: []byte("[]"), AmountCents: 100})
	}
	write(t, s, p)

	got, err := r.PruneTransactions(ctx, base.Add(-time.Hour), 1)
	if err != nil {
		t.Fatal(err)
	}
	if got.Rows+got.PartitionRows < 4 && got.Partitions == 0 {
		t.Fatalf("pruned %+v, want the 4 transactions older than an hour", got)
	}
	if ids := remaining(t, s, 0); fmt.Sprint(ids) != "[t4 t5]" {
		t.Fatalf("after pruning transactions older than an hour: %v, want [t4 t5]", ids)
	}
	if again, err := r.PruneTransactions(ctx, base.Add(-time.Hour), 1); err != nil || again.Rows != 0 || again.Partitions != 0 {
		t.Fatalf("pruning again = %+v, %v; want nothing", again, err)
	}

	// Minute windows of the 4 old ones go; the hours stay, and so do the
	// totals.
	n, err := r.PruneWindows(ctx, store.Minute, base.Add(-time.Hour), 1)
	if err != nil || n != 4 {
		t.Fatalf("pruned %d minute windows, %v; want 4", n, err)
	}
	mins, _ := s.Windows(ctx, store.Minute, time.Time{})
	if len(mins) != 2 {
		t.Fatalf("minute windows left: %d, want 2", len(mins))
	}
	sum, err := s.Summary(ctx)
	if err != nil || sum.TransactionsTotal != 6 || sum.RevenueCents != 600 {
		t.Fatalf("summary after pruning = %+v, %v; want the 6 transactions' totals kept", sum, err)
	}

	// Alerts: the first 3 were created 2 hours before the others.
	n, err = r.PruneAlerts(ctx, time.Now().Add(time.Hour), 2)
	if err != nil || n != 3 {
		t.Fatalf("pruned %d alerts, %v; want the 3 created first", n, err)
	}
	if f, ok := s.(store.Fraud); ok {
		as, err := f.Alerts(ctx, store.AlertFilter{Limit: 100})
		if err != nil || len(as) != 3 {
			t.Fatalf("alerts left: %d, %v; want 3", len(as), err)
		}
	}
}
