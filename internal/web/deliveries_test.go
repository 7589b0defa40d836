package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/alertroute"
	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/sqlite"
	"github.com/shopstream/shopstream/internal/web"
)

// TestDeliveriesAPI: the record of routed alerts, filtered and paged, from
// a real store that routed them.
func TestDeliveriesAPI(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	routes, err := alertroute.Parse([]byte(`{"destinations": [{"name": "ops", "type": "dashboard", "rate_limit": {"count": 3, "per": "1h"}},
	  {"name": "bus", "type": "kafka", "topic": "t"}],
	  "rules": [{"name": "all", "destinations": ["ops", "bus"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for i := range 5 {
		a, _ := alertroute.FromPayload(fmt.Appendf(nil, `{"transaction_id":"t%d","customer_id":"c%d","risk":0.5,"decision":"review"}`, i, i))
		if _, err := st.RouteAlert(ctx, int64(i+1), func(s alertroute.State) error {
			_, err := routes.Route(s, &a, at.Add(time.Duration(i)*time.Minute))
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	srv, err := web.New(web.Config{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	web.RegisterDeliveries(srv, st)
	ts := httptest.NewServer(srv)
	defer ts.Close()
	base := ts.URL + "/api/v1/alerts/deliveries"

	var all web.DeliveriesResponse
	getJSON(t, base, http.StatusOK, &all)
	// 5 to bus; 3 to ops, then a digest holding 2
	if len(all.Deliveries) != 11 || all.NextCursor != "" {
		t.Fatalf("%d rows, cursor %q; want 11 and none", len(all.Deliveries), all.NextCursor)
	}
	var limited web.DeliveriesResponse
	getJSON(t, base+"?destination=ops&status=rate_limited", http.StatusOK, &limited)
	if len(limited.Deliveries) != 2 || limited.Deliveries[0].BundleID == 0 || limited.Deliveries[0].MessageID != "" || limited.Deliveries[0].Type != "alert" {
		t.Fatalf("rate-limited: %+v", limited.Deliveries)
	}
	var digest web.DeliveriesResponse
	getJSON(t, fmt.Sprintf("%s?destination=ops&status=pending&since=%s", base, at.Add(2*time.Minute).Format(time.RFC3339)), http.StatusOK, &digest)
	if len(digest.Deliveries) != 2 || digest.Deliveries[0].Type != "digest" || digest.Deliveries[0].MessageID == "" ||
		digest.Deliveries[0].ID != limited.Deliveries[0].BundleID {
		t.Fatalf("pending since +2m: %+v", digest.Deliveries)
	}
	var seen []int64
	url := base + "?destination=bus&limit=2"
	for range 5 {
		var page web.DeliveriesResponse
		getJSON(t, url, http.StatusOK, &page)
		for _, d := range page.Deliveries {
			seen = append(seen, d.OutboxID)
		}
		if page.NextCursor == "" {
			break
		}
		url = base + "?destination=bus&limit=2&cursor=" + page.NextCursor
	}
	if fmt.Sprint(seen) != "[5 4 3 2 1]" {
		t.Fatalf("pages gave outbox ids %v", seen)
	}
	for _, bad := range []string{"?status=lost", "?since=yesterday", "?limit=0", "?limit=5000", "?cursor=-3", "?cursor=abc"} {
		getJSON(t, base+bad, http.StatusBadRequest, nil)
	}
	var _ store.AlertDeliveries = st
}
