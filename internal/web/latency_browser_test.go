package web_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/shopstream/shopstream/internal/store/sqlite"
	"github.com/shopstream/shopstream/internal/web"
)

// TestOverviewP95LeavesOutTheBackfill: in run's first minutes the
// Overview's p95 produce-to-commit is the live stream's, not that of the
// history's backfill, which the server's first samples count (every
// backfilled record is committed seconds after its produce: the tile said
// 14,074.8 ms for a stream committed in about 60). It reads from the first
// sample after the backfill was stored (the summary's
// loading.backfill.stored_at) and says so.
func TestOverviewP95LeavesOutTheBackfill(t *testing.T) {
	chromium := findChromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	reg := prometheus.NewRegistry()
	lat := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "shopstream_e2e_latency_seconds", Buckets: prometheus.ExponentialBuckets(0.001, 2, 16)})
	reg.MustRegister(lat)
	var storedAt atomic.Pointer[time.Time]
	loading := func() web.Loading {
		l := web.Loading{Backfill: web.LoadingBackfill{State: "storing", Percent: 100}, Analytics: web.LoadingAnalytics{State: "off"}}
		if at := storedAt.Load(); at != nil {
			l.Done, l.Backfill.State, l.Backfill.StoredAt = true, "done", at
		}
		return l
	}
	srv, err := web.New(web.Config{Store: st, Gatherer: reg, Loading: loading, HistogramEvery: 100 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	web.RegisterQuality(srv, st, nil)
	web.RegisterDeliveries(srv, st) // the System page's
	ts := httptest.NewServer(srv)
	defer ts.Close()
	// count is the histogram's count from the newest sample at or before
	// since to the newest sample.
	count := func(since time.Time) (from string, n uint64) { return countFrom(t, ts.URL, "since", since) }
	countAfter := func(after time.Time) (from string, n uint64) { return countFrom(t, ts.URL, "after", after) }
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for !ok() {
			if ctx.Err() != nil {
				t.Fatalf("waiting for %s: %v", what, ctx.Err())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	start := time.Now()
	waitFor("the server's first sample", func() bool { f, _ := count(start); return f != "" })

	// The backfill: 10,000 records committed 40 s after their produce.
	for range 10000 {
		lat.Observe(40)
	}
	waitFor("a sample with the backfill", func() bool { _, n := count(start); return n >= 10000 })
	stored := time.Now()
	storedAt.Store(&stored)
	// Live: 500 records committed in 50 ms, after a sample taken after the
	// backfill was stored: the page reads from the first sample at or
	// after it (after=), whatever the samples' phase. (From the newest
	// at or before a sample's interval later, it read from the sample
	// before the backfill in 3 runs of 10 here, where the next was taken
	// 99.8 ms after it was stored.)
	waitFor("a sample after the backfill", func() bool { f, _ := countAfter(stored); return f != "" })
	for range 500 {
		lat.Observe(0.05)
	}
	waitFor("a sample with the live records", func() bool { _, n := count(start); return n >= 10500 })

	bctx, problems, stop := openBrowser(t, ctx, chromium)
	defer stop()
	if err := chromedp.Do(bctx, chromedp.Navigate(ts.URL+"/#/overview?range=15m&refresh=off")); err != nil {
		t.Fatal(err)
	}
	const tile = `(() => { const t = document.getElementById("o-p95");
		return JSON.stringify({value: t.querySelector(".value").textContent, delta: t.querySelector(".delta").textContent}); })()`
	if _, err := chromedp.Run(bctx, chromedp.Poll[bool](`/ms$/.test(document.querySelector("#o-p95 .value").textContent)`,
		chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		s, _ := chromedp.Run(bctx, chromedp.Evaluate[string](tile))
		t.Fatalf("waiting for the p95 tile: %v (tile: %s)", err, s)
	}
	s, err := chromedp.Run(bctx, chromedp.Evaluate[string](tile))
	if err != nil {
		t.Fatal(err)
	}
	var got struct{ Value, Delta string }
	if err := json.Unmarshal([]byte(s), &got); err != nil {
		t.Fatal(err)
	}
	ms, err := strconv.ParseFloat(strings.TrimSuffix(strings.ReplaceAll(got.Value, ",", ""), " ms"), 64)
	if err != nil || ms <= 32 || ms > 64 {
		t.Errorf("p95 tile %q, want the live records' 50 ms (32 to 64 ms), the backfill's 40 s left out", got.Value)
	}
	if !strings.Contains(got.Delta, "backfill left out") {
		t.Errorf("p95 tile's note %q, want it to say the backfill is left out", got.Delta)
	}
	// The System page's distribution of the range, alike: the 500 live
	// records, not the 10,500 (its p95 was the backfill's 40 s).
	if err := chromedp.Do(bctx, chromedp.Navigate(ts.URL+"/#/system?range=15m&refresh=off")); err != nil {
		t.Fatal(err)
	}
	const sub = `document.getElementById("latency-dist-sub").textContent`
	if _, err := chromedp.Run(bctx, chromedp.Poll[bool](`/records committed/.test(`+sub+`)`,
		chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		s, _ := chromedp.Run(bctx, chromedp.Evaluate[string](sub))
		t.Fatalf("waiting for the latency distribution: %v (%q)", err, s)
	}
	if s, err := chromedp.Run(bctx, chromedp.Evaluate[string](sub)); err != nil || !strings.HasPrefix(s, "500 records committed") || !strings.Contains(s, "backfill left out") {
		t.Errorf("latency distribution: %q (%v), want the 500 live records, the backfill left out", s, err)
	}
	if p := problems.all(); len(p) > 0 {
		t.Errorf("console problems: %v", p)
	}
}

// countFrom is the count of GET /api/v1/metrics/histograms's
// e2e latency histogram from the sample param (since: the newest at or
// before at; after: the oldest at or after it) to a fresh one, and that
// sample's time ("" when there is none).
func countFrom(t *testing.T, base, param string, at time.Time) (from string, n uint64) {
	t.Helper()
	resp, err := http.Get(base + "/api/v1/metrics/histograms?name=shopstream_e2e_latency_seconds&" + param + "=" + url.QueryEscape(at.UTC().Format(time.RFC3339Nano)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var h struct {
		From       *string `json:"from"`
		Histograms []struct {
			Count uint64 `json:"count"`
		} `json:"histograms"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		t.Fatal(err)
	}
	if h.From != nil {
		from = *h.From
	}
	if len(h.Histograms) > 0 {
		n = h.Histograms[0].Count
	}
	return from, n
}
