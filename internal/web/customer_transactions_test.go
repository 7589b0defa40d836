package web_test

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/store/storetest"
	"github.com/shopstream/shopstream/internal/web"
)

// TestCustomerTransactionsAPI: alice's two stored purchases newest first,
// paged by cursor, none of bob's, and the list's 400s.
func TestCustomerTransactionsAPI(t *testing.T) {
	t.Parallel()
	ts := analyticsServer(t, false)
	var all web.CustomerTransactionsResponse
	getAnalyticsJSON(t, ts, "/api/v1/customers/alice/transactions", 200, &all)
	if all.CustomerID != "alice" || len(all.Transactions) != 2 || all.NextCursor != "" {
		t.Fatalf("alice's transactions = %+v", all)
	}
	x := all.Transactions[0]
	jan := time.Date(2026, 1, 10, 9, 0, 0, 0, time.UTC)
	if x.TransactionID != "t2" || !x.EventTime.Equal(jan.AddDate(0, 1, 0)) || x.Amount != 30.5 || x.AmountCents != 3050 || x.Currency != "EUR" ||
		x.ItemCount != 1 || x.Channel != "web" || x.PaymentMethod != "card" || x.Decision != "approve" || x.Risk != 0 {
		t.Fatalf("newest = %+v", x)
	}
	var items []map[string]any
	if err := json.Unmarshal(x.Items, &items); err != nil || len(items) != 1 || items[0]["product_id"] != "P1" {
		t.Fatalf("items = %s (%v)", x.Items, err)
	}
	if all.Transactions[1].TransactionID != "t1" {
		t.Fatalf("older = %+v", all.Transactions[1])
	}
	var p1, p2 web.CustomerTransactionsResponse
	getAnalyticsJSON(t, ts, "/api/v1/customers/alice/transactions?limit=1", 200, &p1)
	if len(p1.Transactions) != 1 || p1.Transactions[0].TransactionID != "t2" || p1.NextCursor == "" {
		t.Fatalf("first page = %+v", p1)
	}
	getAnalyticsJSON(t, ts, "/api/v1/customers/alice/transactions?limit=1&cursor="+url.QueryEscape(p1.NextCursor), 200, &p2)
	if len(p2.Transactions) != 1 || p2.Transactions[0].TransactionID != "t1" {
		t.Fatalf("second page = %+v", p2)
	}
	var none web.CustomerTransactionsResponse
	getAnalyticsJSON(t, ts, "/api/v1/customers/nobody/transactions", 200, &none)
	if none.Transactions == nil || len(none.Transactions) != 0 || none.NextCursor != "" {
		t.Fatalf("an unknown customer's transactions = %+v, want an empty list", none)
	}
	for _, q := range []string{"limit=0", "limit=x", "cursor=x", "cursor=" + url.QueryEscape("not base64!")} {
		body := getAnalyticsJSON(t, ts, "/api/v1/customers/alice/transactions?"+q, 400, nil)
		if !strings.Contains(body, `"bad_request"`) {
			t.Errorf("?%s: %s, want the bad_request error shape", q, body)
		}
	}
}

// TestCustomerTransactionsInTheirCurrency: an amount is in its currency's
// major units, by its ISO 4217 decimals: ¥1,000 stored as 1,000 minor
// units is 1000 (it was 10.00, as if yen had cents), 1.234 BHD is 1.234.
func TestCustomerTransactionsInTheirCurrency(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	at := time.Date(2026, 1, 10, 9, 0, 0, 0, time.UTC)
	storeIn(t, st, "JPY", 0, storetest.Tx("y1", "kenji", at, 1000, 0, 0))
	storeIn(t, st, "BHD", 1, storetest.Tx("y2", "kenji", at.Add(time.Hour), 1234, 0, 1))
	var r web.CustomerTransactionsResponse
	getAnalyticsJSON(t, analyticsServerOf(t, st), "/api/v1/customers/kenji/transactions", 200, &r)
	got := map[string]float64{}
	for _, x := range r.Transactions {
		got[x.Currency] = x.Amount
	}
	if len(got) != 2 || got["JPY"] != 1000 || got["BHD"] != 1.234 {
		t.Errorf("amounts %v, want JPY 1000 and BHD 1.234", got)
	}
}
