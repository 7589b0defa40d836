package web_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/shopstream/shopstream/internal/store/sqlite"
	"github.com/shopstream/shopstream/internal/web"
)

// TestChartDrawsLonePoints draws, with the dashboard's shared chart code
// in headless Chromium, series that a line cannot show: a chart with one
// point in all, and a series with one value between gaps among others'
// (the analyst's line of one minute on the Fraud page). Each must paint
// pixels of its colour on the canvas, and the chart must say how many
// points it draws (data-points).
func TestChartDrawsLonePoints(t *testing.T) {
	chromium := findChromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	srv, err := web.New(web.Config{Store: st, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	web.RegisterQuality(srv, st, nil)
	ts := httptest.NewServer(srv)
	defer ts.Close()
	bctx, problems, stop := openBrowser(t, ctx, chromium)
	defer stop()
	if err := chromedp.Do(bctx, chromedp.Navigate(ts.URL+"/#/overview")); err != nil {
		t.Fatalf("loading the dashboard: %v", err)
	}
	if _, err := chromedp.Run(bctx, chromedp.Poll[bool](`typeof Chart === "function" && document.documentElement.dataset.loading === "0"`,
		chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		t.Fatalf("waiting for the dashboard: %v", err)
	}
	// Two charts on the page shown: "one" has a single point; "gaps" has a
	// line of 240 minutes, too dense for uPlot to mark each point, and, in
	// another colour, a series with one value in the middle of them.
	if _, err := chromedp.Run(bctx, chromedp.Evaluate[string](`(() => {
		const add = (id) => { const d = document.createElement("div"); d.className = "chart"; d.id = id;
			document.querySelector(".page:not(.hidden) .card").append(d); return d; };
		const t0 = Math.floor(Date.now() / 60000) * 60 - 240 * 60;
		const one = new Chart(add("lone-one"), { height: 200, series: [{ label: "single", color: "--c4" }] });
		one.setData([[t0], [0.5]]);
		const gaps = new Chart(add("lone-gaps"), { height: 200, series: [{ label: "line", color: "--c0" }, { label: "analyst", color: "--c4" }] });
		const xs = Array.from({ length: 240 }, (_, i) => t0 + 60 * i);
		gaps.setData([xs, xs.map((_, i) => 1 + (i % 3)), xs.map((_, i) => (i === 120 ? 2 : null))]);
		return "";
	})()`)); err != nil {
		t.Fatal(err)
	}
	cs, err := chromedp.Run(bctx, chromedp.Evaluate[[]chartPixels](chartPixelsJS))
	if err != nil {
		t.Fatalf("reading the charts: %v", err)
	}
	want := map[string][]string{"lone-one": {"single"}, "lone-gaps": {"line", "analyst"}}
	for _, c := range cs {
		series, ok := want[c.ID]
		if !ok {
			continue
		}
		delete(want, c.ID)
		t.Logf("#%s: %d×%d, pixels per series %v", c.ID, c.Width, c.Height, c.Series)
		for _, label := range series {
			if n := c.Series[label]; n < 30 {
				t.Errorf("#%s: series %q drew %d pixels of its colour, want at least a dot of 7 px (>= 30)", c.ID, label, n)
			}
		}
	}
	for id := range want {
		t.Errorf("#%s: not among the charts drawn with points", id)
	}
	for id, n := range map[string]string{"lone-one": "1", "lone-gaps": "240"} {
		if got, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.getElementById("`+id+`").dataset.points`)); err != nil || got != n {
			t.Errorf("#%s: data-points %q (%v), want %s", id, got, err, n)
		}
	}
	for _, p := range problems.all() {
		t.Errorf("console: %s", p)
	}
}
