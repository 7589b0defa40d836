package web

import (
	"fmt"
	"net/http"
	"sort"
	"time"

	"github.com/shopstream/shopstream/internal/store"
)

// ProductSalesResponse is GET /api/v1/products/top with since or until:
// the products that sold the most in the range, from the store's product
// rollup (migration 0029), best first, with how far the product fold has
// reached.
type ProductSalesResponse struct {
	Since time.Time `json:"since"`
	Until time.Time `json:"until"`
	// From and To are what is read: the whole hours the range touches, or,
	// for a range over two days, the whole UTC days.
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// Sort is what ranks: units, orders, customers or revenue (in
	// Currency).
	Sort string `json:"sort"`
	// Currency is the currency revenue ranks in: the one asked, else the
	// one with the most revenue in the range (absent when nothing sold).
	Currency string             `json:"currency,omitempty"`
	Items    []ProductSalesItem `json:"items"`
	// FoldedUntil is how far the rollup has reached: every transaction
	// stored before it is in the answer, those stored since may not be
	// (the product fold runs every few seconds, off the write path).
	// Absent until the fold has first reached the end of the stored
	// transactions.
	FoldedUntil *time.Time `json:"folded_until,omitempty"`
	// CatchingUp is true while the fold works through a backlog (a first
	// fold, an import): the answer is missing part of what is stored.
	CatchingUp bool `json:"catching_up"`
	// FoldedTransactions is how many stored transactions the rollup holds.
	FoldedTransactions int64 `json:"folded_transactions"`
}

// ProductSalesItem is one product's sales over the range.
type ProductSalesItem struct {
	ProductID string `json:"product_id"`
	Units     int64  `json:"units"`
	Orders    int64  `json:"orders"`
	// Customers is the distinct customers who bought it in the range,
	// estimated (HyperLogLog: within a few per cent).
	Customers int64 `json:"customers"`
	// Revenue is per currency, largest first: amounts in different
	// currencies are never added.
	Revenue []Money `json:"revenue"`
}

// Money is an amount in a currency's minor unit.
type Money struct {
	Currency    string `json:"currency"`
	AmountMinor int64  `json:"amount_minor"`
}

// productSortKeys are the rankings of the product rollup.
var productSortKeys = map[string]bool{"units": true, "orders": true, "revenue": true, "customers": true}

// productCandidates is how many products sort=customers estimates, at
// least n: the best by orders (a product's distinct customers are at most
// its orders), so the top n by customers is among them unless customers
// repeat very unevenly across products. Each costs the merge of its
// sketches over the range (30 days: about 76 rows).
const productCandidates = 50

// wholeDaysPast is the span past which a range of top products is read
// in whole UTC days: a range of 30 days then reads 31 daily rows a product
// and currency instead of 29 and up to 46 hourly ones, which took most of
// its time (docs/dashboard.md).
const wholeDaysPast = 48 * time.Hour

// productSales answers GET /api/v1/products/top?since=&until=&sort=&currency=&n=.
func (s *Server) productSales(w http.ResponseWriter, r *http.Request, pr store.ProductRollups, n int) {
	q := r.URL.Query()
	since, until, err := timeRange(q)
	if err != nil {
		WriteError(w, err)
		return
	}
	if until.IsZero() {
		until = time.Now()
	}
	if since.IsZero() {
		since = until.Add(-24 * time.Hour)
		if !until.After(since) {
			since = until.Add(-time.Hour)
		}
	}
	sortBy := q.Get("sort")
	if sortBy == "" {
		sortBy = "units"
	}
	if !productSortKeys[sortBy] {
		WriteError(w, fmt.Errorf("%w: sort %q, want units, orders, customers or revenue", ErrBadRequest, sortBy))
		return
	}
	from := since.UTC().Truncate(time.Hour)
	to := until.UTC().Truncate(time.Hour)
	if to.Before(until) {
		to = to.Add(time.Hour)
	}
	if to.Sub(from) > wholeDaysPast {
		// A long range is read in the whole UTC days it touches: its
		// daily rows alone, not the hours at its ends.
		from = from.Truncate(24 * time.Hour)
		if t := to.Truncate(24 * time.Hour); t.Before(to) {
			to = t.Add(24 * time.Hour)
		}
	}
	if to.Sub(from) > 400*24*time.Hour {
		WriteError(w, fmt.Errorf("%w: since %s to until %s is over 400 days", ErrBadRequest, since.UTC().Format(time.RFC3339), until.UTC().Format(time.RFC3339)))
		return
	}
	totals, err := pr.ProductTotals(r.Context(), from, to)
	if err != nil {
		WriteError(w, err)
		return
	}
	byProduct := map[string]*ProductSalesItem{}
	revenue := map[string]map[string]int64{}
	curTotals := map[string]int64{}
	for _, t := range totals {
		it := byProduct[t.ProductID]
		if it == nil {
			it = &ProductSalesItem{ProductID: t.ProductID}
			byProduct[t.ProductID] = it
			revenue[t.ProductID] = map[string]int64{}
		}
		it.Units += t.Units
		it.Orders += t.Orders
		revenue[t.ProductID][t.Currency] += t.RevenueMinor
		curTotals[t.Currency] += t.RevenueMinor
	}
	fold, err := pr.ProductFoldState(r.Context())
	if err != nil {
		WriteError(w, err)
		return
	}
	resp := ProductSalesResponse{Since: since.UTC(), Until: until.UTC(), From: from, To: to, Sort: sortBy, Items: []ProductSalesItem{},
		CatchingUp: fold.Behind, FoldedTransactions: fold.Transactions}
	if !fold.FoldedUntil.IsZero() {
		resp.FoldedUntil = &fold.FoldedUntil
	}
	resp.Currency = q.Get("currency")
	if resp.Currency == "" {
		best := int64(-1)
		for c, v := range curTotals {
			if v > best || v == best && c < resp.Currency {
				resp.Currency, best = c, v
			}
		}
	}
	items := make([]*ProductSalesItem, 0, len(byProduct))
	for _, it := range byProduct {
		items = append(items, it)
	}
	rank := func(key func(*ProductSalesItem) int64) {
		sort.Slice(items, func(i, j int) bool {
			a, b := key(items[i]), key(items[j])
			if a != b {
				return a > b
			}
			return items[i].ProductID < items[j].ProductID
		})
	}
	switch sortBy {
	case "units":
		rank(func(it *ProductSalesItem) int64 { return it.Units })
	case "orders", "customers":
		rank(func(it *ProductSalesItem) int64 { return it.Orders })
	case "revenue":
		rank(func(it *ProductSalesItem) int64 { return revenue[it.ProductID][resp.Currency] })
	}
	keep := n
	if sortBy == "customers" {
		keep = max(n, productCandidates)
	}
	items = items[:min(keep, len(items))]
	ids := make([]string, len(items))
	for i, it := range items {
		ids[i] = it.ProductID
	}
	cust, err := pr.ProductCustomers(r.Context(), ids, from, to)
	if err != nil {
		WriteError(w, err)
		return
	}
	for _, it := range items {
		// The sketch's estimate errs either way (about 3% at a thousand
		// customers), and a product's orders bound its customers: an
		// estimate above them (1,947 customers of 1,881 orders) is cut
		// to them.
		it.Customers = min(cust[it.ProductID], it.Orders)
	}
	if sortBy == "customers" {
		rank(func(it *ProductSalesItem) int64 { return it.Customers })
		items = items[:min(n, len(items))]
	}
	for _, it := range items {
		for c, v := range revenue[it.ProductID] {
			it.Revenue = append(it.Revenue, Money{Currency: c, AmountMinor: v})
		}
		sort.Slice(it.Revenue, func(i, j int) bool {
			a, b := it.Revenue[i], it.Revenue[j]
			if a.AmountMinor != b.AmountMinor {
				return a.AmountMinor > b.AmountMinor
			}
			return a.Currency < b.Currency
		})
		resp.Items = append(resp.Items, *it)
	}
	WriteJSON(w, http.StatusOK, resp)
}
