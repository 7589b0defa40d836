package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/pgtest"
	"github.com/shopstream/shopstream/internal/store/postgres"
	"github.com/shopstream/shopstream/internal/store/storetest"
	"github.com/shopstream/shopstream/internal/web"
)

// TestTopProductsOfARangeSQLite and ...PostgreSQL: GET
// /api/v1/products/top with since/until ranks what sold in the range, from
// the store's product rollup, which holds nothing the product fold has
// not folded yet and says so (catching_up, folded_until); without them it
// is the recommender's popularity, as before.
func TestTopProductsOfARangeSQLite(t *testing.T) {
	testTopProductsOfARange(t, openStore(t))
}

func TestTopProductsOfARangePostgreSQL(t *testing.T) {
	st, err := postgres.Open(context.Background(), pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	testTopProductsOfARange(t, st)
}

// topFixture: on 1 January A sells most units, B to the most customers
// and in the most orders, C the most revenue in EUR (the currency with the
// most revenue) and all of it in USD; on 2 January only D and A.
var topFixture = []struct {
	customer, currency string
	at                 time.Time
	items              string // product:quantity:unit price, ...
}{
	{"c1", "EUR", time.Date(2026, 1, 1, 9, 10, 0, 0, time.UTC), "A:5:1.00,B:1:2.00"},
	{"c1", "EUR", time.Date(2026, 1, 1, 9, 20, 0, 0, time.UTC), "A:4:1.00"},
	{"c2", "EUR", time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC), "B:1:2.00"},
	{"c3", "EUR", time.Date(2026, 1, 1, 13, 0, 0, 0, time.UTC), "B:1:2.00,C:1:50.00"},
	{"c4", "USD", time.Date(2026, 1, 1, 14, 0, 0, 0, time.UTC), "C:1:60.00"},
	{"c5", "EUR", time.Date(2026, 1, 2, 8, 0, 0, 0, time.UTC), "D:2:3.00"},
	{"c6", "EUR", time.Date(2026, 1, 2, 8, 30, 0, 0, time.UTC), "D:1:3.00,A:1:1.00"},
}

func writeTopFixture(t *testing.T, st store.Store) {
	t.Helper()
	var txs []store.Tx
	for i, f := range topFixture {
		tx := storetest.Tx(fmt.Sprintf("top%d", i), f.customer, f.at, 0, 0, int64(i))
		tx.Currency = f.currency
		var lines []string
		for _, it := range strings.Split(f.items, ",") {
			p := strings.Split(it, ":")
			lines = append(lines, fmt.Sprintf(`{"product_id":%q,"category":"c","quantity":%s,"unit_price":%s}`, p[0], p[1], p[2]))
		}
		tx.ItemsJSON = []byte("[" + strings.Join(lines, ",") + "]")
		txs = append(txs, tx)
	}
	if err := st.WriteBatch(context.Background(), &store.Batch{Group: "g", Topic: "t", Parts: []store.Part{{From: 0, To: int64(len(txs)), Txs: txs}}}); err != nil {
		t.Fatal(err)
	}
}

// rollupStore is what the test needs of a store.
type rollupStore interface {
	store.Store
	store.Purchases
}

func testTopProductsOfARange(t *testing.T, st rollupStore) {
	ctx := context.Background()
	writeTopFixture(t, st)
	ts := recsServer(t, st, true)
	get := func(q string, want int) (web.ProductSalesResponse, string) {
		t.Helper()
		resp, err := http.Get(ts.URL + "/api/v1/products/top?" + q)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var raw json.RawMessage
		if err := json.NewDecoder(resp.Body).Decode(&raw); err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != want {
			t.Fatalf("?%s: %d %s, want %d", q, resp.StatusCode, raw, want)
		}
		var out web.ProductSalesResponse
		json.Unmarshal(raw, &out) //nolint:errcheck // the popularity answer and errors do not fit; raw has them
		return out, string(raw)
	}
	summary := func(r web.ProductSalesResponse) string {
		var s []string
		for _, it := range r.Items {
			var rev []string
			for _, m := range it.Revenue {
				rev = append(rev, fmt.Sprintf("%d %s", m.AmountMinor, m.Currency))
			}
			s = append(s, fmt.Sprintf("%s u%d o%d c%d [%s]", it.ProductID, it.Units, it.Orders, it.Customers, strings.Join(rev, ", ")))
		}
		return strings.Join(s, "; ")
	}
	day1 := "since=2026-01-01T00:00:00Z&until=2026-01-02T00:00:00Z"
	// Stored, not folded yet: nothing sold as far as the rollup knows,
	// and the answer says the fold has not caught up.
	if r, raw := get(day1, http.StatusOK); len(r.Items) != 0 || !r.CatchingUp || r.FoldedUntil != nil || r.FoldedTransactions != 0 {
		t.Fatalf("before the fold: %s, want no items, catching up, no folded_until", raw)
	}
	foldedAt := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	for done := false; !done; {
		c, err := st.(store.ProductFolder).FoldProducts(ctx, store.ProductFoldOptions{Limit: 3, Now: foldedAt})
		if err != nil {
			t.Fatal(err)
		}
		done = c.Done
	}
	if r, raw := get(day1, http.StatusOK); r.CatchingUp || r.FoldedUntil == nil || !r.FoldedUntil.Equal(foldedAt) || r.FoldedTransactions != int64(len(topFixture)) {
		t.Errorf("after the fold: %s, want folded until %s, %d transactions", raw, foldedAt.Format(time.RFC3339), len(topFixture))
	}
	for _, c := range []struct{ q, want string }{
		{day1, "A u9 o2 c1 [900 EUR]; B u3 o3 c3 [600 EUR]; C u2 o2 c2 [6000 USD, 5000 EUR]"},
		{day1 + "&sort=customers", "B u3 o3 c3 [600 EUR]; C u2 o2 c2 [6000 USD, 5000 EUR]; A u9 o2 c1 [900 EUR]"},
		{day1 + "&sort=revenue", "C u2 o2 c2 [6000 USD, 5000 EUR]; A u9 o2 c1 [900 EUR]; B u3 o3 c3 [600 EUR]"},
		{day1 + "&sort=revenue&currency=USD&n=1", "C u2 o2 c2 [6000 USD, 5000 EUR]"},
		{day1 + "&sort=orders&n=2", "B u3 o3 c3 [600 EUR]; A u9 o2 c1 [900 EUR]"},
		// Another range, another ranking: the second day.
		{"since=2026-01-02T00:00:00Z&until=2026-01-03T00:00:00Z", "D u3 o2 c2 [900 EUR]; A u1 o1 c1 [100 EUR]"},
		// An hour inside a range is read whole: 09:15 to 09:16 reads 09:00 to 10:00.
		{"since=2026-01-01T09:15:00Z&until=2026-01-01T09:16:00Z", "A u9 o2 c1 [900 EUR]; B u1 o1 c1 [200 EUR]"},
		// Both days, with whole days and hours at the ends.
		{"since=2026-01-01T05:00:00Z&until=2026-01-02T09:00:00Z", "A u10 o3 c2 [1000 EUR]; B u3 o3 c3 [600 EUR]; D u3 o2 c2 [900 EUR]; C u2 o2 c2 [6000 USD, 5000 EUR]"},
		{"since=2025-12-01T00:00:00Z&until=2025-12-02T00:00:00Z", ""},
		// Over two days: the whole UTC days touched, 2 January's 08:00 too.
		{"since=2025-12-30T10:00:00Z&until=2026-01-02T01:00:00Z", "A u10 o3 c2 [1000 EUR]; B u3 o3 c3 [600 EUR]; D u3 o2 c2 [900 EUR]; C u2 o2 c2 [6000 USD, 5000 EUR]"},
	} {
		r, raw := get(c.q, http.StatusOK)
		if got := summary(r); got != c.want {
			t.Errorf("?%s:\n got %s\nwant %s\n(%s)", c.q, got, c.want, raw)
		}
	}
	r, _ := get(day1+"&sort=revenue", http.StatusOK)
	if r.Currency != "EUR" || r.Sort != "revenue" || !r.From.Equal(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) || !r.To.Equal(time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("day 1 by revenue: currency %q sort %q from %v to %v", r.Currency, r.Sort, r.From, r.To)
	}
	if r, _ := get("since=2026-01-01T09:15:00Z&until=2026-01-01T09:16:00Z", http.StatusOK); !r.From.Equal(time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)) ||
		!r.To.Equal(time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("09:15 to 09:16 read %v to %v, want the hour 09:00 to 10:00", r.From, r.To)
	}
	if r, _ := get("since=2025-12-30T10:00:00Z&until=2026-01-02T01:00:00Z", http.StatusOK); !r.From.Equal(time.Date(2025, 12, 30, 0, 0, 0, 0, time.UTC)) ||
		!r.To.Equal(time.Date(2026, 1, 3, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("a range over two days read %v to %v, want the whole days 30 December to 3 January", r.From, r.To)
	}
	// Without a range: the recommender's popularity, as the recommender
	// and older clients see it.
	_, raw := get("n=3", http.StatusOK)
	var pop web.RecommendationsResponse
	if err := json.Unmarshal([]byte(raw), &pop); err != nil || pop.Method != "popularity" || len(pop.Items) != 3 {
		t.Errorf("without a range: %s", raw)
	}
	for _, q := range []string{day1 + "&sort=price", "since=yesterday", "since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z",
		"since=2024-01-01T00:00:00Z&until=2026-01-01T00:00:00Z",
		// sort and currency rank a range: without one they were ignored,
		// and ?sort=revenue answered the popularity.
		"sort=revenue", "n=3&sort=units", "currency=EUR"} {
		_, raw := get(q, http.StatusBadRequest)
		if !strings.Contains(raw, `"bad_request"`) {
			t.Errorf("?%s: %s", q, raw)
		}
	}
}

// TestTopProductsCustomersAtMostOrders: a product's distinct customers
// are estimated by a sketch, which estimates 300 customers as 311; a
// product bought in 300 orders has at most 300 customers, and the answer
// says so.
func TestTopProductsCustomersAtMostOrders(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	at := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	var txs []store.Tx
	for i := range 300 {
		tx := storetest.Tx(fmt.Sprintf("many%d", i), fmt.Sprintf("c%05d", i), at.Add(time.Duration(i)*time.Second), 0, 0, int64(i))
		tx.ItemsJSON = []byte(`[{"product_id":"Z","category":"c","quantity":1,"unit_price":1.00}]`)
		txs = append(txs, tx)
	}
	if err := st.WriteBatch(ctx, &store.Batch{Group: "g", Topic: "t", Parts: []store.Part{{From: 0, To: int64(len(txs)), Txs: txs}}}); err != nil {
		t.Fatal(err)
	}
	for done := false; !done; {
		c, err := st.FoldProducts(ctx, store.ProductFoldOptions{Limit: 100, Now: at.Add(24 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		done = c.Done
	}
	est, err := st.ProductCustomers(ctx, []string{"Z"}, at.Truncate(24*time.Hour), at.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	ts := recsServer(t, st, false)
	resp, err := http.Get(ts.URL + "/api/v1/products/top?since=2026-01-01T00:00:00Z&until=2026-01-02T00:00:00Z&sort=customers")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	var out web.ProductSalesResponse
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	if len(out.Items) != 1 || out.Items[0].Orders != 300 || out.Items[0].Customers != 300 {
		t.Fatalf("items %+v, want Z in 300 orders by 300 customers (the sketch estimates %d)", out.Items, est["Z"])
	}
	t.Logf("the sketch estimates %d customers of 300 orders", est["Z"])
}
