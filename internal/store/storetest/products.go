package storetest

import (
	"context"
	"errors"
	"fmt"
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

// foldAll runs the product fold in chunks of limit until it reaches the
// end, and returns how many chunks it took.
func foldAll(t *testing.T, s store.Store, limit int, now time.Time) int {
	t.Helper()
	f := s.(store.ProductFolder)
	for i := 1; i < 1000; i++ {
		c, err := f.FoldProducts(context.Background(), store.ProductFoldOptions{Limit: limit, Now: now})
		if err != nil {
			t.Fatalf("FoldProducts (chunk %d): %v", i, err)
		}
		if c.Transactions > limit {
			t.Fatalf("chunk %d folded %d transactions, over its limit %d", i, c.Transactions, limit)
		}
		if c.Done {
			return i
		}
	}
	t.Fatal("the product fold never reached the end")
	return 0
}

func foldState(t *testing.T, s store.Store) store.ProductFoldState {
	t.Helper()
	st, err := s.(store.ProductRollups).ProductFoldState(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// productSales is the fixture of the product fold's tests: hours and days
// in two currencies, a product twice in one order.
func productSales() []sale {
	d1 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	return []sale{
		{"pr1", "alice", "EUR", d1.Add(10*time.Hour + 5*time.Minute), []saleLine{{"P1", 2, 1050}, {"P2", 1, 300}, {"P1", 1, 1050}}},
		{"pr2", "bob", "EUR", d1.Add(10*time.Hour + 40*time.Minute), []saleLine{{"P1", 1, 1000}}},
		{"pr3", "alice", "USD", d1.Add(10*time.Hour + 59*time.Minute), []saleLine{{"P1", 3, 999}}},
		{"pr4", "carol", "EUR", d1.Add(23*time.Hour + 30*time.Minute), []saleLine{{"P2", 5, 300}}},
		{"pr5", "dave", "EUR", d1.Add(24*time.Hour + 2*time.Hour), []saleLine{{"P1", 1, 1050}, {"P3", 1, 99}}},
		{"pr6", "alice", "EUR", d1.Add(48*time.Hour + 30*time.Minute), []saleLine{{"P3", 2, 99}}},
		{"pr7", "erin", "EUR", d1.Add(48*time.Hour + 90*time.Minute), []saleLine{{"P3", 1, 99}}},
	}
}

// checkProductRanges checks ranges of hours and days against the sales.
func checkProductRanges(t *testing.T, s store.Store, sales []sale) {
	t.Helper()
	d1 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
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

// testProductFold: the product rollup (migration 0029) is empty until the
// fold runs, whatever the batches store; folded in chunks of two over three
// partitions, it is the recomputation from the stored transactions, hour
// by hour and day by day, in two currencies, with orders counted once per
// transaction and customers once per range; transactions stored after are
// added by the next pass, and a pass with nothing new adds nothing.
func testProductFold(t *testing.T, s store.Store) {
	sales := productSales()
	if st := foldState(t, s); !st.FoldedUntil.IsZero() || !st.Behind || st.Transactions != 0 {
		t.Fatalf("fold state before any fold = %+v, want never folded", st)
	}
	write(t, s, part(0, 0, sales[0].tx(0, 0), sales[1].tx(0, 1)), part(1, 0, sales[2].tx(1, 0), sales[3].tx(1, 1), sales[4].tx(1, 2)))
	// The batches wrote nothing to the rollup.
	checkProducts(t, s, nil, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC))
	t1 := time.Date(2026, 3, 5, 12, 0, 0, 0, time.UTC)
	if n := foldAll(t, s, 2, t1); n < 3 {
		t.Errorf("5 transactions folded in %d chunks of 2", n)
	}
	checkProductRanges(t, s, sales[:5])
	if st := foldState(t, s); !st.FoldedUntil.Equal(t1) || st.Behind || st.Transactions != 5 {
		t.Errorf("fold state = %+v, want folded until %s, not behind, 5 transactions", st, t1)
	}
	// Two more, one on a partition new to the fold.
	write(t, s, part(0, 2, sales[5].tx(0, 2)), part(2, 0, sales[6].tx(2, 0)))
	t2 := t1.Add(time.Minute)
	foldAll(t, s, 2, t2)
	foldAll(t, s, 2, t2.Add(time.Minute)) // nothing new: adds nothing
	checkProductRanges(t, s, sales)
	if st := foldState(t, s); !st.FoldedUntil.Equal(t2.Add(time.Minute)) || st.Behind || st.Transactions != 7 {
		t.Errorf("fold state = %+v, want folded until %s, not behind, 7 transactions", st, t2.Add(time.Minute))
	}
}

// testProductFoldStopped: a chunk stopped after writing its rows and
// cursor, before its commit, adds nothing, and the fold taken up again
// folds every transaction once; the state says it is behind meanwhile.
func testProductFoldStopped(t *testing.T, s store.Store) {
	ctx := context.Background()
	sales := productSales()
	var txs []store.Tx
	for i, sl := range sales {
		txs = append(txs, sl.tx(0, int64(i)))
	}
	write(t, s, part(0, 0, txs...))
	f := s.(store.ProductFolder)
	now := time.Date(2026, 3, 5, 12, 0, 0, 0, time.UTC)
	c, err := f.FoldProducts(ctx, store.ProductFoldOptions{Limit: 3, Now: now})
	if err != nil || c.Transactions != 3 || c.Done {
		t.Fatalf("first chunk = %+v, %v; want 3 transactions, not done", c, err)
	}
	if st := foldState(t, s); !st.Behind || !st.FoldedUntil.IsZero() || st.Transactions != 3 {
		t.Errorf("fold state after a chunk = %+v, want behind, never caught up, 3 transactions", st)
	}
	checkProducts(t, s, sales[:3], time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC))
	stop := errors.New("stopped")
	called := false
	c, err = f.FoldProducts(ctx, store.ProductFoldOptions{Limit: 3, Now: now, BeforeCommit: func() error { called = true; return stop }})
	if !errors.Is(err, stop) || !called {
		t.Fatalf("the stopped chunk = %+v, %v (hook called: %v); want the hook's error", c, err, called)
	}
	// Nothing of the stopped chunk is there.
	checkProducts(t, s, sales[:3], time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC))
	if st := foldState(t, s); st.Transactions != 3 {
		t.Errorf("fold state after the stopped chunk = %+v, want 3 transactions", st)
	}
	foldAll(t, s, 3, now)
	checkProductRanges(t, s, sales)
	if st := foldState(t, s); st.Transactions != int64(len(sales)) || st.Behind {
		t.Errorf("fold state = %+v, want %d transactions, caught up", st, len(sales))
	}
}

// testProductFoldImportBehind: a second import's rows lie behind the
// fold's cursor (imports share partition -1 and count offsets per
// source); the pass that reaches the end finds them, empties the rollup
// and folds everything again, so they are counted, and nothing twice.
func testProductFoldImportBehind(t *testing.T, s store.Store) {
	sales := productSales()
	importBatch(t, s, "a", sales[0].tx(-1, 0), sales[1].tx(-1, 1), sales[2].tx(-1, 2), sales[3].tx(-1, 3))
	write(t, s, part(0, 0, sales[4].tx(0, 0)))
	now := time.Date(2026, 3, 5, 12, 0, 0, 0, time.UTC)
	foldAll(t, s, 2, now)
	checkProductRanges(t, s, sales[:5])
	importBatch(t, s, "b", sales[5].tx(-1, 0), sales[6].tx(-1, 1))
	c, err := s.(store.ProductFolder).FoldProducts(context.Background(), store.ProductFoldOptions{Limit: 2, Now: now})
	if err != nil || !c.Restarted || c.Done {
		t.Fatalf("the pass after an import behind the cursor = %+v, %v; want it restarted", c, err)
	}
	foldAll(t, s, 2, now.Add(time.Minute))
	checkProductRanges(t, s, sales)
	if st := foldState(t, s); st.Transactions != int64(len(sales)) {
		t.Errorf("fold state = %+v, want %d transactions", st, len(sales))
	}
}

// testProductFoldSameHour: a pass that adds to an hour row and a day row
// an earlier pass wrote, with other hours of the day and other days in
// the rollup, sums into them (units, orders, revenue, customers), leaves
// the rows it does not touch as they were, and writes new ones beside.
func testProductFoldSameHour(t *testing.T, s store.Store) {
	d := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	h := time.Hour
	sales := []sale{
		{"sh1", "alice", "EUR", d.Add(2*h + 10*time.Minute), []saleLine{{"P1", 1, 500}}},
		{"sh2", "bob", "EUR", d.Add(10*h + 5*time.Minute), []saleLine{{"P1", 2, 500}, {"P2", 1, 250}}},
		{"sh3", "carol", "EUR", d.Add(30 * h), []saleLine{{"P1", 1, 500}}},
		// The second pass: the hour of sh2, another hour of its day, and
		// a day five days on.
		{"sh4", "dave", "EUR", d.Add(10*h + 50*time.Minute), []saleLine{{"P1", 3, 500}}},
		{"sh5", "bob", "EUR", d.Add(10*h + 55*time.Minute), []saleLine{{"P2", 1, 250}}},
		{"sh6", "erin", "EUR", d.Add(20 * h), []saleLine{{"P1", 1, 500}}},
		{"sh7", "frank", "EUR", d.Add(5*24*h + 3*h), []saleLine{{"P1", 1, 500}}},
	}
	write(t, s, part(0, 0, sales[0].tx(0, 0), sales[1].tx(0, 1), sales[2].tx(0, 2)))
	now := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	foldAll(t, s, 100, now)
	write(t, s, part(0, 3, sales[3].tx(0, 3), sales[4].tx(0, 4), sales[5].tx(0, 5), sales[6].tx(0, 6)))
	foldAll(t, s, 100, now.Add(time.Minute))
	for _, r := range [][2]time.Time{
		{d.Add(10 * h), d.Add(11 * h)}, // the hour both passes added to
		{d.Add(2 * h), d.Add(3 * h)},   // an hour only the first pass wrote
		{d, d.Add(24 * h)},             // the day both passes added to
		{d.Add(24 * h), d.Add(48 * h)}, // a day only the first pass wrote
		{d.Add(5 * 24 * h), d.Add(6 * 24 * h)},
		{d, d.Add(7 * 24 * h)},
	} {
		checkProducts(t, s, sales, r[0], r[1])
	}
}
