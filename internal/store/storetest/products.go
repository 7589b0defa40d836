package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/store"
)

// sale is a fixture transaction of the product rollup's tests.
type sale struct {
	id, customer, currency string
	at                     time.Time
	lines                  []saleLine
}

type saleLine struct {
	product string
	qty     int
	cents   int64 // unit price
}

func (s sale) tx(partition int32, offset int64) store.Tx {
	tx := Tx(s.id, s.customer, s.at, 0, partition, offset)
	tx.Currency = s.currency
	js := "["
	for i, l := range s.lines {
		if i > 0 {
			js += ","
		}
		js += fmt.Sprintf(`{"product_id":%q,"category":"c","quantity":%d,"unit_price":%d.%02d}`, l.product, l.qty, l.cents/100, l.cents%100)
		tx.TotalCents += int64(l.qty) * l.cents
	}
	tx.ItemsJSON = []byte(js + "]")
	return tx
}

// wantProducts is the product rollup's answer over [from, to) computed
// from the sales themselves: per product and currency, and the distinct
// customers per product.
func wantProducts(sales []sale, from, to time.Time) (map[string]store.ProductTotal, map[string]int64) {
	tot := map[string]store.ProductTotal{}
	cust := map[string]map[string]bool{}
	for _, s := range sales {
		if s.at.Before(from) || !s.at.Before(to) {
			continue
		}
		seen := map[string]bool{}
		for _, l := range s.lines {
			k := l.product + " " + s.currency
			t := tot[k]
			t.ProductID, t.Currency = l.product, s.currency
			t.Units += int64(l.qty)
			t.RevenueMinor += int64(l.qty) * l.cents
			if !seen[l.product] {
				t.Orders++
				seen[l.product] = true
			}
			tot[k] = t
			if cust[l.product] == nil {
				cust[l.product] = map[string]bool{}
			}
			cust[l.product][s.customer] = true
		}
	}
	n := map[string]int64{}
	for p, cs := range cust {
		n[p] = int64(len(cs))
	}
	return tot, n
}

func checkProducts(t *testing.T, s store.Store, sales []sale, from, to time.Time) {
	t.Helper()
	ctx := context.Background()
	pr := s.(store.ProductRollups)
	want, wantCust := wantProducts(sales, from, to)
	got, err := pr.ProductTotals(ctx, from, to)
	if err != nil {
		t.Fatal(err)
	}
	gotMap := map[string]store.ProductTotal{}
	for _, g := range got {
		gotMap[g.ProductID+" "+g.Currency] = g
	}
	what := from.Format("Jan 2 15:04") + " to " + to.Format("Jan 2 15:04")
	if len(gotMap) != len(want) {
		t.Errorf("%s: totals %v, want %v", what, gotMap, want)
	}
	for k, w := range want {
		if gotMap[k] != w {
			t.Errorf("%s: %s sold %+v, want %+v", what, k, gotMap[k], w)
		}
	}
	var products []string
	for p := range wantCust {
		products = append(products, p)
	}
	products = append(products, "never-sold")
	cust, err := pr.ProductCustomers(ctx, products, from, to)
	if err != nil {
		t.Fatal(err)
	}
	if len(cust) != len(wantCust) {
		t.Errorf("%s: customers %v, want %v", what, cust, wantCust)
	}
	// The sketch is deterministic, and the few customers here fall in
	// registers of their own: its estimate is their count.
	for p, w := range wantCust {
		if cust[p] != w {
			t.Errorf("%s: %s bought by %d customers, want %d", what, p, cust[p], w)
		}
	}
}

// testProductRollup: the product rollup (migration 0027) follows the
// stored transactions hour by hour and day by day, in two currencies, with
// orders counted once per transaction and customers once per range; a
// batch committed before adds nothing again; a range with whole days reads
// them from the daily rows and its ends from the hourly ones.
func testProductRollup(t *testing.T, s store.Store) {
	ctx := context.Background()
	d1 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	sales := []sale{
		{"pr1", "alice", "EUR", d1.Add(10*time.Hour + 5*time.Minute), []saleLine{{"P1", 2, 1050}, {"P2", 1, 300}, {"P1", 1, 1050}}},
		{"pr2", "bob", "EUR", d1.Add(10*time.Hour + 40*time.Minute), []saleLine{{"P1", 1, 1000}}},
		{"pr3", "alice", "USD", d1.Add(10*time.Hour + 59*time.Minute), []saleLine{{"P1", 3, 999}}},
		{"pr4", "carol", "EUR", d1.Add(23*time.Hour + 30*time.Minute), []saleLine{{"P2", 5, 300}}},
		{"pr5", "dave", "EUR", d1.Add(24*time.Hour + 2*time.Hour), []saleLine{{"P1", 1, 1050}, {"P3", 1, 99}}},
		{"pr6", "alice", "EUR", d1.Add(48*time.Hour + 30*time.Minute), []saleLine{{"P3", 2, 99}}},
		{"pr7", "erin", "EUR", d1.Add(48*time.Hour + 90*time.Minute), []saleLine{{"P3", 1, 99}}},
	}
	var txs []store.Tx
	for i, sl := range sales[:4] {
		txs = append(txs, sl.tx(0, int64(i)))
	}
	write(t, s, part(0, 0, txs...))
	// A second batch adds to the rows of the first (P1 and P2 on day 1).
	second := store.Batch{Group: "g", Topic: "transactions", Parts: []store.Part{part(0, 4, sales[4].tx(0, 4), sales[5].tx(0, 5), sales[6].tx(0, 6))}}
	if err := s.WriteBatch(ctx, &second); err != nil {
		t.Fatal(err)
	}
	// The same batch again: committed before, nothing added.
	again := store.Batch{Group: "g", Topic: "transactions", Parts: []store.Part{part(0, 4, sales[4].tx(0, 4), sales[5].tx(0, 5), sales[6].tx(0, 6))}}
	if err := s.WriteBatch(ctx, &again); !errors.Is(err, store.ErrAlreadyCommitted) {
		t.Fatalf("the batch again: %v, want ErrAlreadyCommitted", err)
	}
	h := time.Hour
	for _, r := range [][2]time.Time{
		{d1.Add(10 * h), d1.Add(11 * h)},         // one hour
		{d1.Add(10 * h), d1.Add(24 * h)},         // hours of day 1
		{d1, d1.Add(24 * h)},                     // day 1 whole
		{d1.Add(11 * h), d1.Add(72 * h)},         // hours, day 2 and day 3
		{d1.Add(23 * h), d1.Add(48*h + 1*h)},     // an hour, day 2, an hour
		{d1.Add(-24 * h), d1.Add(96 * h)},        // everything
		{d1.Add(48*h + 2*h), d1.Add(48*h + 5*h)}, // nothing sold
	} {
		checkProducts(t, s, sales, r[0], r[1])
	}
}

// testProductRollupConcurrent: writers storing batches at once that touch
// the same product rows lose no count and no customer.
func testProductRollupConcurrent(t *testing.T, s store.Store) {
	ctx := context.Background()
	at := time.Date(2026, 3, 1, 9, 15, 0, 0, time.UTC)
	const writers, batches, per = 3, 5, 4
	var mu sync.Mutex
	var sales []sale
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range batches {
				var txs []store.Tx
				for i := range per {
					sl := sale{fmt.Sprintf("cc-%d-%d-%d", w, b, i), fmt.Sprintf("cust-%d-%d", w, (b*per+i)%7), "EUR",
						at.Add(time.Duration(b*per+i) * time.Second), []saleLine{{"HOT", 1 + i%2, 250}}}
					txs = append(txs, sl.tx(int32(w), int64(b*per+i)))
					mu.Lock()
					sales = append(sales, sl)
					mu.Unlock()
				}
				if err := s.WriteBatch(ctx, &store.Batch{Group: "g", Topic: "transactions", Parts: []store.Part{part(int32(w), int64(b*per), txs...)}}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	checkProducts(t, s, sales, at.Truncate(time.Hour), at.Truncate(time.Hour).Add(time.Hour))
	checkProducts(t, s, sales, at.Truncate(24*time.Hour), at.Truncate(24*time.Hour).Add(24*time.Hour))
}
