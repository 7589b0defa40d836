package store_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/event"
	"github.com/shopstream/shopstream/internal/store"
)

// productTxs returns n stored transactions of one to three lines each over
// a catalogue of products, spread over two hours: what a product fold's
// chunk reads.
func productTxs(n, products int, seed uint64) []store.ProductTx {
	r := rand.New(rand.NewPCG(seed, 1))
	start := time.Date(2026, 11, 30, 22, 30, 0, 0, time.UTC)
	txs := make([]store.ProductTx, n)
	for i := range txs {
		items := make([]event.Item, 1+r.IntN(3))
		for k := range items {
			items[k] = event.Item{ProductID: fmt.Sprintf("P%05d", r.IntN(products)), Category: "books",
				Quantity: 1 + r.IntN(3), UnitPriceCents: event.Cents(100 + r.IntN(9000))}
		}
		cur := "EUR"
		if i%7 == 0 {
			cur = "JPY"
		}
		txs[i] = store.ProductTx{CustomerID: fmt.Sprintf("C%06d", r.IntN(n)),
			EventTime: start.Add(time.Duration(r.IntN(7200)) * time.Second), Currency: cur,
			ItemsJSON: event.AppendItemsJSONIn(nil, items, cur)}
	}
	return txs
}

// BenchmarkProductDeltas folds a chunk of 5,000 transactions into their
// hour and day rows per product, the Go side of a product fold's chunk.
func BenchmarkProductDeltas(b *testing.B) {
	txs := productTxs(5000, 20_000, 1)
	var rows int
	for b.Loop() {
		rows = len(store.ProductDeltas(txs))
	}
	b.ReportMetric(float64(rows), "rows/chunk")
}

// ProductDeltas gives what a plain fold of the same transactions gives:
// items decoded by the standard library, every hour and day row of each
// product and currency summed, the order counted once per product, and
// the customers in a full Sketch.
func TestProductDeltasMatchesPlainFold(t *testing.T) {
	t.Parallel()
	txs := productTxs(3000, 30, 2) // few products: rows with many customers too
	type key struct {
		g       store.Granularity
		start   time.Time
		product string
		cur     string
	}
	type acc struct {
		units, revenue, orders int64
		sk                     store.Sketch
	}
	want := map[key]*acc{}
	for _, tx := range txs {
		var items []event.Item
		if err := json.Unmarshal(tx.ItemsJSON, &items); err != nil {
			t.Fatal(err)
		}
		digits, _ := event.CurrencyDigits(tx.Currency)
		seen := map[string]bool{}
		for _, it := range items {
			for g, start := range map[store.Granularity]time.Time{store.Hour: tx.EventTime.Truncate(time.Hour), store.Day: tx.EventTime.Truncate(24 * time.Hour)} {
				k := key{g, start, it.ProductID, tx.Currency}
				if want[k] == nil {
					want[k] = &acc{}
				}
				a := want[k]
				a.units += int64(it.Quantity)
				a.revenue += int64(it.LineCents(digits))
				if !seen[it.ProductID] {
					a.orders++
					a.sk.Add(tx.CustomerID)
				}
			}
			seen[it.ProductID] = true
		}
	}
	got := store.ProductDeltas(txs)
	if len(got) != len(want) {
		t.Fatalf("%d rows, want %d", len(got), len(want))
	}
	big, small := 0, 0
	for _, r := range got {
		a := want[key{r.Granularity, r.Start, r.ProductID, r.Currency}]
		if a == nil {
			t.Fatalf("row %+v: not in the plain fold", r)
		}
		if r.Units != a.units || r.RevenueMinor != a.revenue || r.Orders != a.orders || string(r.Customers) != string(a.sk.Encode()) {
			t.Fatalf("row %v %v %s %s: units %d, revenue %d, orders %d, sketch % x; want %d, %d, %d, % x", r.Granularity, r.Start, r.ProductID, r.Currency,
				r.Units, r.RevenueMinor, r.Orders, r.Customers, a.units, a.revenue, a.orders, a.sk.Encode())
		}
		switch {
		case a.orders > 40:
			big++
		case a.orders < 20:
			small++
		}
	}
	if big == 0 || small == 0 {
		t.Fatalf("%d rows of more customers than a small sketch lists, %d of fewer; want both", big, small)
	}
}

// BenchmarkProductAccAdd sums 100,000 transactions over 2,000 products
// and two hours, what a fold of ten seconds of a stream at 10,000 tx/s
// adds: the rows are few, the lines many.
func BenchmarkProductAccAdd(b *testing.B) {
	txs := productTxs(100_000, 2_000, 3)
	for b.Loop() {
		var a store.ProductAcc
		for i := range txs {
			a.Add(&txs[i])
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(txs)), "ns/tx")
}

// Sums made apart and merged are the sums of all the transactions
// together, byte for byte, whichever way the transactions are split:
// merged into an empty sum, into one holding other rows, rows with few
// customers and rows with more than a small sketch lists.
func TestProductAccMergeIsTheSumOfAll(t *testing.T) {
	t.Parallel()
	txs := productTxs(3000, 30, 4)
	want := store.ProductDeltas(txs)
	for _, cuts := range [][]int{{0, 3000}, {0, 1, 3000}, {0, 1000, 2000, 3000}, {0, 2999, 3000}, {0, 7, 1500, 1501, 2600, 3000}} {
		var all store.ProductAcc
		for i := 1; i < len(cuts); i++ {
			var part store.ProductAcc
			for j := cuts[i-1]; j < cuts[i]; j++ {
				part.Add(&txs[j])
			}
			all.Merge(&part)
			if part.Len() != 0 {
				t.Fatalf("cuts %v: a merged sum still holds %d rows", cuts, part.Len())
			}
		}
		// Adding to the merged sums works as adding to any.
		extra := productTxs(50, 30, 5)
		all.Add(&extra[0])
		ref := store.ProductDeltas(append(slices.Clone(txs), extra[0]))
		got := all.Rows()
		if len(got) != len(ref) {
			t.Fatalf("cuts %v: %d rows merged, want %d", cuts, len(got), len(ref))
		}
		for i := range ref {
			g, w := got[i], ref[i]
			if g.Granularity != w.Granularity || !g.Start.Equal(w.Start) || g.ProductID != w.ProductID || g.Currency != w.Currency ||
				g.Units != w.Units || g.Orders != w.Orders || g.RevenueMinor != w.RevenueMinor || !bytes.Equal(g.Customers, w.Customers) {
				t.Fatalf("cuts %v, row %d: merged %+v, want %+v", cuts, i, g, w)
			}
		}
	}
	dense := 0
	for _, r := range want {
		if r.Orders > 40 {
			dense++
		}
	}
	if dense == 0 {
		t.Fatal("no row with more customers than a small sketch lists")
	}
}
