package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/detector"
	"github.com/shopstream/shopstream/internal/fraud"
	"github.com/shopstream/shopstream/internal/shopgeo"
	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/sqlite"
	"github.com/shopstream/shopstream/internal/store/storetest"
	"github.com/shopstream/shopstream/internal/web"
)

// TestReadCache: with a read cache, a read route answers from it until a
// change through the server, while a change in the store alone is not
// seen; each query has its own answer; without one, every read asks the
// store.
func TestReadCache(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	det, err := detector.New(detector.Config{State: shopgeo.Lookups(fraud.StateConfig{}), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	models := detector.NewModelWatcher(det, st, detector.WatchConfig{Logger: slog.New(slog.DiscardHandler)})
	serve := func(cache time.Duration) string {
		srv, err := web.New(web.Config{Store: st, Logger: slog.New(slog.DiscardHandler), ReadCache: cache})
		if err != nil {
			t.Fatal(err)
		}
		web.RegisterFraud(srv, web.FraudDeps{Store: st, Detector: det, Models: models, Now: time.Now})
		ts := httptest.NewServer(srv)
		t.Cleanup(ts.Close)
		return ts.URL
	}
	cached, uncached := serve(time.Hour), serve(0)
	at := time.Now().Add(-time.Hour).Truncate(time.Second)
	off := int64(0)
	alert := func(id string) {
		t.Helper()
		tx := storetest.Tx(id, "alice", at, 1000, 0, off)
		if err := st.WriteBatch(ctx, &store.Batch{Group: "g", Topic: "t", Parts: []store.Part{{Partition: 0, From: off, To: off + 1,
			Txs: []store.Tx{tx}, Alerts: []store.Alert{{TransactionID: id, CustomerID: "alice", EventTime: at, Risk: 0.9, Decision: "decline",
				ReasonsJSON: []byte(`[]`), AmountCents: 1000}}}}}); err != nil {
			t.Fatal(err)
		}
		off++
	}
	// read returns the alerts' ids and statuses, or what went wrong (it
	// runs on goroutines of its own too).
	read := func(base, query string) string {
		res, err := http.Get(base + "/api/v1/alerts" + query)
		if err != nil {
			return err.Error()
		}
		defer res.Body.Close()
		var r web.AlertsResponse
		if err := json.NewDecoder(res.Body).Decode(&r); err != nil || res.StatusCode != 200 {
			return fmt.Sprintf("GET alerts%s: %d, %v", query, res.StatusCode, err)
		}
		var ids []string
		for _, a := range r.Alerts {
			ids = append(ids, a.TransactionID+":"+a.Status)
		}
		return strings.Join(ids, ",")
	}
	alerts := func(base, query string) string { return read(base, query) }

	alert("a1")
	if got := alerts(cached, ""); got != "a1:open" {
		t.Fatalf("alerts = %s, want a1", got)
	}
	alert("a2")
	if got := alerts(cached, ""); got != "a1:open" {
		t.Fatalf("alerts from the cache = %s, want the answer kept (a1)", got)
	}
	if got := alerts(cached, "?limit=5"); got != "a2:open,a1:open" {
		t.Fatalf("alerts?limit=5 = %s, want its own answer from the store", got)
	}
	if got := alerts(uncached, ""); got != "a2:open,a1:open" {
		t.Fatalf("alerts without a cache = %s, want both", got)
	}
	res, err := http.Post(cached+"/api/v1/alerts/a1/label", "application/json", strings.NewReader(`{"label": "fraud"}`))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("label: %d", res.StatusCode)
	}
	if got := alerts(cached, ""); got != "a2:open,a1:confirmed_fraud" {
		t.Fatalf("alerts after a label through the server = %s, want the cache emptied", got)
	}
	// Many askers at once of an expired or missing answer: each gets the
	// whole answer (the first asker's, shared).
	alert("a3")
	res, err = http.Post(cached+"/api/v1/alerts/a2/label", "application/json", strings.NewReader(`{"label": "false_positive"}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	got := make(chan string, 20)
	for range 20 {
		go func() { got <- read(cached, "?limit=3") }()
	}
	for range 20 {
		if g := <-got; g != "a3:open,a2:false_positive,a1:confirmed_fraud" {
			t.Fatalf("a concurrent read = %s", g)
		}
	}
	// An answer other than 200 is not kept: each asker gets its own.
	for range 2 {
		res, err := http.Get(cached + "/api/v1/alerts?limit=many")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 400 || !strings.Contains(string(body), `"error"`) {
			t.Fatalf("a bad query through the cache: %d %s, want 400 with an error", res.StatusCode, body)
		}
	}
}
