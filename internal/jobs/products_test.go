package jobs

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/storetest"
)

// storeSevenOrders stores seven orders of one unit of P1 at 3.00, a
// minute apart from at, in a fresh SQLite store.
func storeSevenOrders(t *testing.T) (testStore, time.Time) {
	t.Helper()
	s := openSQLite(t)
	at := time.Date(2026, 6, 10, 12, 0, 0, 0, time.UTC)
	var txs []store.Tx
	for i := range 7 {
		tx := storetest.Tx(fmt.Sprintf("t%d", i), "c1", at.Add(time.Duration(i)*time.Minute), 300, 0, int64(i))
		tx.ItemsJSON = []byte(`[{"product_id":"P1","category":"c","quantity":1,"unit_price":3.00}]`)
		txs = append(txs, tx)
	}
	err := s.WriteBatch(context.Background(), &store.Batch{Group: "g", Topic: "transactions", Parts: []store.Part{{Partition: 0, From: 0, To: 7, Txs: txs}}})
	if err != nil {
		t.Fatal(err)
	}
	return s, at
}

// The product fold folds every stored transaction in chunks of its size
// until the end, then nothing more until more is stored; it skips while
// another instance leads.
func TestProductFold(t *testing.T) {
	ctx := context.Background()
	s, at := storeSevenOrders(t)
	fs := s.(ProductFoldStore)
	f, err := NewProductFold(ProductFoldConfig{Store: fs, Chunk: 3, Now: func() time.Time { return at.Add(time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := f.RunOnce(ctx)
	if err != nil || !rep.Done || rep.Transactions != 7 || rep.Chunks != 3 {
		t.Fatalf("first run = %+v, %v; want 7 transactions in 3 chunks, done", rep, err)
	}
	tot, err := s.(store.ProductRollups).ProductTotals(ctx, at.Truncate(time.Hour), at.Truncate(time.Hour).Add(time.Hour))
	if err != nil || len(tot) != 1 || tot[0].Units != 7 || tot[0].RevenueMinor != 2100 {
		t.Fatalf("totals = %+v, %v; want P1: 7 units, 2100", tot, err)
	}
	if rep, err = f.RunOnce(ctx); err != nil || !rep.Done || rep.Transactions != 0 {
		t.Fatalf("second run = %+v, %v; want nothing folded", rep, err)
	}
	release, ok, err := fs.TryLead(ctx, ProductFoldName)
	if err != nil || !ok {
		t.Fatalf("TryLead = %v, %v", ok, err)
	}
	defer release()
	if _, err := f.RunOnce(ctx); !errors.Is(err, ErrSkipped) {
		t.Fatalf("a run while another leads: %v, want ErrSkipped", err)
	}
}

// While the processor is behind, a run folds chunks of BusyChunk and stops
// once it has run BusyRun, leaving the rest to the next; what it folded
// stays, and nothing is folded twice.
func TestProductFoldGivesWay(t *testing.T) {
	ctx := context.Background()
	s, at := storeSevenOrders(t)
	busy := true
	f, err := NewProductFold(ProductFoldConfig{Store: s.(ProductFoldStore), Chunk: 3, BusyChunk: 2, Busy: func() bool { return busy }, BusyRun: time.Nanosecond,
		Now: func() time.Time { return at.Add(time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := f.RunOnce(ctx)
	if err != nil || rep.Done || !rep.GaveWay || rep.Chunks != 1 || rep.Transactions != 2 {
		t.Fatalf("a run while busy = %+v, %v; want one chunk of 2, given way", rep, err)
	}
	busy = false
	rep, err = f.RunOnce(ctx)
	if err != nil || !rep.Done || rep.GaveWay || rep.Transactions != 5 || rep.Chunks != 2 {
		t.Fatalf("the next run, caught up = %+v, %v; want the other 5 in chunks of 3, done", rep, err)
	}
	tot, err := s.(store.ProductRollups).ProductTotals(ctx, at.Truncate(time.Hour), at.Truncate(time.Hour).Add(time.Hour))
	if err != nil || len(tot) != 1 || tot[0].Units != 7 {
		t.Fatalf("totals = %+v, %v; want P1: 7 units", tot, err)
	}
}
