package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/store"
)

// RunPurchases runs the conformance suite of store.Purchases; open returns
// a fresh, empty store for one test, which must implement store.Purchases.
func RunPurchases(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store, p store.Purchases)
	}{
		{"AllLines", testPurchaseLinesAll},
		{"Tailing", testPurchaseLinesTail},
		{"Limit", testPurchaseLinesLimit},
		{"StopAndEmpty", testPurchaseLinesStop},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			p, ok := s.(store.Purchases)
			if !ok {
				t.Fatalf("%T does not implement store.Purchases", s)
			}
			tc.fn(t, s, p)
		})
	}
}

// buy is a transaction of customer at t buying the products (one of each).
func buy(id, customer string, at time.Time, partition int32, offset int64, products ...string) store.Tx {
	tx := Tx(id, customer, at, 100*int64(len(products)), partition, offset)
	items := "["
	for i, p := range products {
		if i > 0 {
			items += ","
		}
		items += fmt.Sprintf(`{"product_id":%q,"category":"cat-%s","quantity":%d,"unit_price":1.00}`, p, p, i+1)
	}
	tx.ItemsJSON = []byte(items + "]")
	return tx
}

// importBatch stores txs as an import does: kafka_partition -1, offsets
// counted per source, the import's own group and topic.
func importBatch(t *testing.T, s store.Store, source string, txs ...store.Tx) {
	t.Helper()
	err := s.WriteBatch(context.Background(), &store.Batch{Group: "import", Topic: "import:" + source, Owner: "", Generation: -1,
		Parts: []store.Part{{Partition: 0, From: txs[0].Offset, To: txs[len(txs)-1].Offset + 1, Txs: txs}}})
	if err != nil {
		t.Fatalf("WriteBatch of import %s: %v", source, err)
	}
}

// line is a purchase line as a comparable string.
func line(l *store.PurchaseLine) string {
	return fmt.Sprintf("%d/%d %s %s %s %s x%d %s", l.Partition, l.Offset, l.TransactionID, l.CustomerID, l.ProductID, l.Category,
		l.Quantity, l.EventTime.Format(time.RFC3339))
}

func readLines(t *testing.T, p store.Purchases, after store.PurchaseCursor, limit int) ([]string, store.PurchaseCursor) {
	t.Helper()
	var got []string
	next, err := p.PurchaseLines(context.Background(), after, limit, func(l *store.PurchaseLine) error {
		if l.EventTime.Location() != time.UTC {
			return fmt.Errorf("event time %v of %s is not in UTC", l.EventTime, l.TransactionID)
		}
		got = append(got, line(l))
		return nil
	})
	if err != nil {
		t.Fatalf("PurchaseLines: %v", err)
	}
	return got, next
}

var day = time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)

func testPurchaseLinesAll(t *testing.T, s store.Store, p store.Purchases) {
	write(t, s,
		part(1, 0, buy("t10", "c2", day.Add(time.Minute), 1, 0, "P3")),
		part(0, 0, buy("t00", "c1", day, 0, 0, "P1", "P2"), buy("t01", "c1", day.Add(time.Hour), 0, 1, "P2")))
	// Two imports of different sources share partition -1 and offsets.
	importBatch(t, s, "b", buy("imp-b0", "c9", day.Add(-48*time.Hour), -1, 0, "P9"))
	importBatch(t, s, "a", buy("imp-a0", "c8", day.Add(-72*time.Hour), -1, 0, "P8"), buy("imp-a1", "c8", day.Add(-71*time.Hour), -1, 1, "P1"))

	got, next := readLines(t, p, nil, 0)
	want := []string{
		"-1/0 imp-a0 c8 P8 cat-P8 x1 2026-03-29T09:00:00Z",
		"-1/0 imp-b0 c9 P9 cat-P9 x1 2026-03-30T09:00:00Z",
		"-1/1 imp-a1 c8 P1 cat-P1 x1 2026-03-29T10:00:00Z",
		"0/0 t00 c1 P1 cat-P1 x1 2026-04-01T09:00:00Z",
		"0/0 t00 c1 P2 cat-P2 x2 2026-04-01T09:00:00Z",
		"0/1 t01 c1 P2 cat-P2 x1 2026-04-01T10:00:00Z",
		"1/0 t10 c2 P3 cat-P3 x1 2026-04-01T09:01:00Z",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("purchase lines =\n%q\nwant\n%q", got, want)
	}
	wantNext := store.PurchaseCursor{-1: {Offset: 1, TransactionID: "imp-a1"}, 0: {Offset: 1, TransactionID: "t01"}, 1: {Offset: 0, TransactionID: "t10"}}
	if !reflect.DeepEqual(next, wantNext) {
		t.Fatalf("cursor = %v, want %v", next, wantNext)
	}
}

func testPurchaseLinesTail(t *testing.T, s store.Store, p store.Purchases) {
	write(t, s, part(0, 0, buy("a", "c1", day, 0, 0, "P1")))
	first, cur := readLines(t, p, nil, 0)
	if len(first) != 1 {
		t.Fatalf("first read = %q, want one line", first)
	}
	// Nothing new: nothing read, the cursor stays.
	again, same := readLines(t, p, cur, 0)
	if len(again) != 0 || !reflect.DeepEqual(same, cur) {
		t.Fatalf("read with nothing new = %q, cursor %v; want nothing, %v", again, same, cur)
	}
	// New rows on the known partition and on a new one; an earlier event
	// time committed later is still read.
	write(t, s, part(0, 1, buy("b", "c1", day.Add(-time.Hour), 0, 1, "P2")), part(3, 0, buy("c", "c3", day, 3, 0, "P3")))
	got, next := readLines(t, p, cur, 0)
	want := []string{"0/1 b c1 P2 cat-P2 x1 2026-04-01T08:00:00Z", "3/0 c c3 P3 cat-P3 x1 2026-04-01T09:00:00Z"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("tail =\n%q\nwant\n%q", got, want)
	}
	if cur[0].TransactionID != "a" || len(cur) != 1 {
		t.Fatalf("PurchaseLines changed the cursor passed in: %v", cur)
	}
	if next[0].TransactionID != "b" || next[3].TransactionID != "c" {
		t.Fatalf("cursor after tail = %v", next)
	}
}

func testPurchaseLinesLimit(t *testing.T, s store.Store, p store.Purchases) {
	var txs []store.Tx
	for i := range 5 {
		txs = append(txs, buy(fmt.Sprintf("t%d", i), "c1", day.Add(time.Duration(i)*time.Minute), 0, int64(i), fmt.Sprintf("P%d", i), "Q"))
	}
	write(t, s, part(0, 0, txs...), part(1, 0, buy("u", "c2", day, 1, 0, "R")))
	all, _ := readLines(t, p, nil, 0)
	var got []string
	var cur store.PurchaseCursor
	for range 10 {
		lines, next := readLines(t, p, cur, 2)
		// At most 2 transactions (4 lines) of partition 0, 1 of partition 1.
		if len(lines) > 5 {
			t.Fatalf("a read with limit 2 returned %d lines: %q", len(lines), lines)
		}
		got = append(got, lines...)
		if len(lines) == 0 {
			break
		}
		cur = next
	}
	if len(all) != 11 || !reflect.DeepEqual(sortedCopy(got), sortedCopy(all)) {
		t.Fatalf("reads of 2 transactions at a time gave\n%q\none read gave\n%q", got, all)
	}
}

func testPurchaseLinesStop(t *testing.T, s store.Store, p store.Purchases) {
	none, cur := readLines(t, p, nil, 0)
	if len(none) != 0 || len(cur) != 0 {
		t.Fatalf("empty store: lines %q, cursor %v", none, cur)
	}
	write(t, s, part(0, 0, buy("a", "c1", day, 0, 0, "P1", "P2"), buy("b", "c1", day, 0, 1, "P3")))
	stop := errors.New("stop")
	n := 0
	next, err := p.PurchaseLines(context.Background(), nil, 0, func(*store.PurchaseLine) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Fatalf("fn error: got %v after %d lines, want stop after 1", err, n)
	}
	if _, ok := next[0]; ok {
		t.Fatalf("cursor moved past a transaction fn did not take: %v", next)
	}
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}
