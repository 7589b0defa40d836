package loadtest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestCheckLoopback(t *testing.T) {
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"http://127.0.0.1:8050", true},
		{"http://127.9.8.7:1", true},
		{"http://localhost:8050", true},
		{"http://10.0.0.1:8050", false},
		{"http://192.168.1.10:8050", false},
		{"http://[::1]:8050", false},
		{"http://example.com:8050", false},
		{"http://0.0.0.0:8050", false},
		{"127.0.0.1:8050", false},
	} {
		err := CheckLoopback(tc.url)
		if (err == nil) != tc.ok {
			t.Errorf("CheckLoopback(%q) = %v; want ok %v", tc.url, err, tc.ok)
		}
		if err != nil && !tc.ok && strings.HasPrefix(tc.url, "http://") && !strings.Contains(err.Error(), "127.0.0.0/8") {
			t.Errorf("CheckLoopback(%q) = %v; want the message to name 127.0.0.0/8", tc.url, err)
		}
	}
}

// TestRunCountsEveryAnswer runs a phase against a server that answers
// 200, 429 with and without Retry-After, and 500 by route, and checks that
// every request sent is counted once where it belongs.
func TestRunCountsEveryAnswer(t *testing.T) {
	var served atomic.Int64
	var body atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		switch r.URL.Path {
		case "/readyz":
			served.Add(-1)
			w.Write([]byte(`{"ready":true,"detail":{"lag":3,"partitions":[{"committed":5},{"committed":7}]}}`))
		case "/ok":
			if r.Header.Get("Authorization") != "Bearer tok" {
				w.WriteHeader(401)
			}
		case "/post":
			if r.Method == "POST" && r.Header.Get("Content-Type") == "application/json" {
				body.Add(1)
			}
		case "/limited":
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(429)
		case "/limited-bare":
			w.WriteHeader(429)
		default:
			w.WriteHeader(500)
		}
	}))
	defer srv.Close()
	cfg := Config{BaseURL: srv.URL, Token: "tok", Rate: 500, Duration: 10 * time.Second, MaxRequests: 250, SampleEvery: 20 * time.Millisecond,
		Targets: []Target{
			{Name: "ok", Method: "GET", Path: "/ok"},
			{Name: "post", Method: "POST", Path: "/post", Bodies: [][]byte{[]byte(`{}`)}},
			{Name: "limited", Method: "GET", Path: "/limited"},
			{Name: "bare", Method: "GET", Path: "/limited-bare"},
			{Name: "broken", Method: "GET", Path: "/broken"},
		}}
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent != 250 || res.Dropped != 0 || served.Load() != 250 {
		t.Fatalf("sent %d, dropped %d, served %d; want 250 sent and served (MaxRequests bounds the phase)", res.Sent, res.Dropped, served.Load())
	}
	want := map[string][4]int{"ok": {50, 50, 0, 0}, "post": {50, 50, 0, 0}, "limited": {50, 0, 50, 0}, "bare": {50, 0, 50, 0}, "broken": {50, 0, 0, 50}}
	for _, r := range res.Routes {
		if got := [4]int{r.Requests, r.OK, r.Throttled, r.Errors}; got != want[r.Name] {
			t.Errorf("route %s: requests, ok, 429, errors = %v; want %v", r.Name, got, want[r.Name])
		}
		if r.OK > 0 && (r.P50 <= 0 || r.P99 < r.P50 || r.Max < r.P99) {
			t.Errorf("route %s: p50 %v, p99 %v, max %v; want 0 < p50 <= p99 <= max", r.Name, r.P50, r.P99, r.Max)
		}
	}
	if body.Load() != 50 {
		t.Errorf("%d POSTs arrived as JSON; want 50", body.Load())
	}
	if res.Throttled != 100 || res.NoRetryAfter != 50 || res.Errors != 50 {
		t.Errorf("throttled %d, without Retry-After %d, errors %d; want 100, 50, 50", res.Throttled, res.NoRetryAfter, res.Errors)
	}
	p := Summarize(res.Pipeline)
	if p.Samples == 0 || p.Ready != p.Samples || !p.HasProcessor || p.MaxLag != 3 || p.Progress != 0 {
		t.Errorf("pipeline summary %+v; want every reading ready, lag 3, committed 12 throughout", p)
	}
	if res.Pipeline[0].Committed != 12 {
		t.Errorf("committed %d; want 5+7", res.Pipeline[0].Committed)
	}
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i))
	}
	if p50, p99 := percentile(d, 0.5), percentile(d, 0.99); p50 != 50 || p99 != 99 {
		t.Fatalf("p50 %d, p99 %d of 1..100; want 50 and 99", p50, p99)
	}
	if percentile(nil, 0.5) != 0 || percentile(d[:1], 0.99) != 1 {
		t.Fatal("percentile of an empty or one-element slice")
	}
}

func TestRunRefusesOtherHosts(t *testing.T) {
	_, err := Run(context.Background(), Config{BaseURL: "http://10.1.2.3:8050", Rate: 1, Duration: time.Second,
		Targets: []Target{{Name: "x", Method: "GET", Path: "/"}}})
	if err == nil || !strings.Contains(err.Error(), "127.0.0.0/8") {
		t.Fatalf("Run against 10.1.2.3 = %v; want a refusal naming 127.0.0.0/8", err)
	}
}
