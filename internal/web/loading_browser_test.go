package web_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/shopstream/shopstream/internal/store/sqlite"
	"github.com/shopstream/shopstream/internal/web"
)

// TestDashboardSaysWhatIsLoading: while `run` backfills its history and
// waits for its first analytics refresh, the header says so after the
// freshness (with the percentage, then the records stored), and so do the
// empty volume chart and the empty segments table; once loaded, nothing
// is said.
func TestDashboardSaysWhatIsLoading(t *testing.T) {
	chromium := findChromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var mu sync.Mutex
	l := web.Loading{Backfill: web.LoadingBackfill{State: "generating", Percent: 40.7, Records: 1234}, Analytics: web.LoadingAnalytics{State: "waiting"}}
	set := func(f func(*web.Loading)) { mu.Lock(); f(&l); mu.Unlock() }
	srv, err := web.New(web.Config{Store: st, Logger: slog.New(slog.DiscardHandler), Loading: func() web.Loading {
		mu.Lock()
		defer mu.Unlock()
		return l
	}})
	if err != nil {
		t.Fatal(err)
	}
	web.RegisterAnalytics(srv, st)
	web.RegisterQuality(srv, st, nil)
	ts := httptest.NewServer(srv)
	defer ts.Close()
	bctx, problems, stop := openBrowser(t, ctx, chromium)
	defer stop()
	wait := func(what, js string) {
		t.Helper()
		if _, err := chromedp.Run(bctx, chromedp.Poll[bool](js, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
			got, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`document.getElementById("status").textContent + " | " + document.body.innerText.slice(0, 600)`))
			t.Fatalf("waiting until %s: %v (page: %s)", what, err, got)
		}
	}
	if err := chromedp.Do(bctx, chromedp.Navigate(ts.URL+"/#/overview")); err != nil {
		t.Fatal(err)
	}
	wait("the header says the backfill runs", `document.getElementById("status").textContent.includes("the history backfill is running: 40% of its event time generated")`)
	wait("the empty volume chart says so too", `document.querySelector("#chart-volume .empty-note").textContent.includes("the history backfill is running")`)
	set(func(l *web.Loading) { l.Backfill.State, l.Backfill.Percent = "storing", 100 })
	wait("the header says the history is being stored", `document.getElementById("status").textContent.includes("being stored: 0 of 1,234 records")`)
	set(func(l *web.Loading) { l.Backfill.State = "done" })
	wait("the header says the refresh waits", `document.getElementById("status").textContent.includes("the first analytics refresh waits for the history to be stored")`)
	if err := chromedp.Do(bctx, chromedp.Navigate(ts.URL+"/#/customers")); err != nil {
		t.Fatal(err)
	}
	wait("the empty segments table says the refresh waits", `document.getElementById("seg-body").textContent.includes("no segments yet: the first analytics refresh waits for the history to be stored")`)
	set(func(l *web.Loading) { l.Analytics.State, l.Done = "done", true })
	wait("nothing is said once loaded", `document.getElementById("status").textContent !== "" && !document.getElementById("status").textContent.includes("·")`)
	for _, p := range problems.all() {
		t.Errorf("console: %s", p)
	}
}
