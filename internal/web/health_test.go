package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/store/sqlite"
	"github.com/shopstream/shopstream/internal/web"
)

// TestReadyz answers 200 while the pipeline is ready and 503 with the
// reasons and the stall's start when it is not; /healthz stays 200.
func TestReadyz(t *testing.T) {
	t.Parallel()
	st, err := sqlite.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var mu sync.Mutex
	rd := web.Readiness{Ready: true}
	srv, err := web.New(web.Config{Store: st, Ready: func(context.Context) web.Readiness {
		mu.Lock()
		defer mu.Unlock()
		return rd
	}})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	get := func(path string) (int, web.Readiness) {
		t.Helper()
		resp, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var got web.Readiness
		if path == "/readyz" {
			if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
				t.Fatal(err)
			}
		}
		return resp.StatusCode, got
	}
	if code, got := get("/readyz"); code != http.StatusOK || !got.Ready {
		t.Fatalf("ready pipeline: /readyz %d %+v, want 200 ready", code, got)
	}
	since := time.Date(2026, 3, 1, 10, 42, 0, 0, time.UTC)
	mu.Lock()
	rd = web.Readiness{Reasons: []string{"writes failing (store_transient) for partitions [0] since 10:42:00, 9 attempts: connection refused"}, StalledSince: &since}
	mu.Unlock()
	code, got := get("/readyz")
	if code != http.StatusServiceUnavailable || got.Ready || len(got.Reasons) != 1 || got.StalledSince == nil || !got.StalledSince.Equal(since) {
		t.Fatalf("stalled pipeline: /readyz %d %+v, want 503 with the reason and the start", code, got)
	}
	// The 503 carries the error every error answer carries.
	if got.Error == nil || got.Error.Code != "unavailable" || got.Error.Message != "not ready: "+got.Reasons[0] {
		t.Fatalf("stalled pipeline: /readyz error %+v, want code unavailable and the reasons", got.Error)
	}
	if code, _ := get("/healthz"); code != http.StatusOK {
		t.Fatalf("stalled pipeline: /healthz %d, want 200 (alive)", code)
	}
}

// TestHealthzDown: a store that does not answer makes /healthz 503 with
// the error every error answer carries.
func TestHealthzDown(t *testing.T) {
	t.Parallel()
	st, err := sqlite.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv, err := web.New(web.Config{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	st.Close()
	resp, err := http.Get(ts.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got struct {
		Status string           `json:"status"`
		Error  *web.ErrorDetail `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusServiceUnavailable || got.Status != "down" || got.Error == nil || got.Error.Code != "unavailable" || got.Error.Message == "" {
		t.Fatalf("/healthz with the store closed: %d %+v %+v", resp.StatusCode, got, got.Error)
	}
}
