package web_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/shopstream/shopstream/internal/detector"
	"github.com/shopstream/shopstream/internal/fraud"
	"github.com/shopstream/shopstream/internal/shopgeo"
	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/sqlite"
	"github.com/shopstream/shopstream/internal/store/storetest"
	"github.com/shopstream/shopstream/internal/web"
)

// gapBase is the first hour of the gap fixture: labelled fraud, caught,
// at gapBase and eleven hours later, nothing between.
var gapBase = time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)

// gapServer serves the Fraud API over a store holding two declined,
// labelled fraudulent transactions eleven hours apart.
func gapServer(t *testing.T) *httptest.Server {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	p := store.Part{Partition: 0, From: 0, To: 2}
	for i, h := range []int{0, 11} {
		id := fmt.Sprintf("g%d", i)
		tx := storetest.Tx(id, "alice", gapBase.Add(time.Duration(h)*time.Hour+10*time.Minute), 5000, 0, int64(i))
		tx.Decision, tx.Risk = "decline", 0.95
		tx.ReasonsJSON = []byte(`[{"rule":"order_velocity","reason":"three or more orders in ten minutes","weight":0.95}]`)
		p.Txs = append(p.Txs, tx)
		p.Alerts = append(p.Alerts, store.Alert{TransactionID: id, CustomerID: tx.CustomerID, EventTime: tx.EventTime,
			Risk: tx.Risk, Decision: tx.Decision, ReasonsJSON: tx.ReasonsJSON, AmountCents: tx.TotalCents})
		p.Labels = append(p.Labels, store.Label{TransactionID: id, Fraud: true, Scenario: "card_testing"})
	}
	if err := st.WriteBatch(ctx, &store.Batch{Group: "g", Topic: "transactions", Parts: []store.Part{p}}); err != nil {
		t.Fatal(err)
	}
	det, err := detector.New(detector.Config{State: shopgeo.Lookups(fraud.StateConfig{}), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := web.New(web.Config{Store: st, Logger: slog.New(slog.DiscardHandler), Limits: web.Limits{AddrRate: -1}})
	if err != nil {
		t.Fatal(err)
	}
	web.RegisterFraud(srv, web.FraudDeps{Store: st, Detector: det})
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return ts
}

// TestFraudSeriesGap: hourly buckets over the twelve hours hold every
// hour, the ten empty ones with null precision and recall (no value to
// draw a line through), the step given.
func TestFraudSeriesGap(t *testing.T) {
	t.Parallel()
	e := &fraudEnv{ts: gapServer(t)}
	var s web.ScenarioSeries
	e.call(t, "GET", "/api/v1/fraud/series?since="+gapBase.Format(time.RFC3339)+"&until="+gapBase.Add(12*time.Hour).Format(time.RFC3339)+"&step=1h", "", 200, &s)
	if s.StepSeconds != 3600 || len(s.Starts) != 12 || len(s.Precision) != 12 || len(s.Recall) != 12 {
		t.Fatalf("step %d s, %d buckets (%d precision, %d recall), want 3600 s and 12", s.StepSeconds, len(s.Starts), len(s.Precision), len(s.Recall))
	}
	for i := range 12 {
		if !s.Starts[i].Equal(gapBase.Add(time.Duration(i) * time.Hour)) {
			t.Errorf("bucket %d starts at %v, want %v", i, s.Starts[i], gapBase.Add(time.Duration(i)*time.Hour))
		}
		full := i == 0 || i == 11
		if full != (s.Precision[i] != nil) || full != (s.Recall[i] != nil) || full && (!near(s.Precision[i], 1) || !near(s.Recall[i], 1)) {
			t.Errorf("bucket %d: precision %v, recall %v; want 1 at hours 0 and 11, null between", i, s.Precision[i], s.Recall[i])
		}
	}
}

// TestFraudSeriesChartBreaksAtGaps draws the Fraud page's precision and
// recall chart over the gap fixture in headless Chromium: the hours
// between the two values are nulls in the chart's data, the series do not
// span gaps, and the canvas column halfway between the two points holds
// no pixel of a line (one joining them would cross it).
func TestFraudSeriesChartBreaksAtGaps(t *testing.T) {
	chromium := findChromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ts := gapServer(t)
	bctx, problems, stop := openBrowser(t, ctx, chromium, "404 (Not Found)")
	defer stop()
	if err := chromedp.Do(bctx, chromedp.Navigate(ts.URL+"/#/fraud?range=24h&refresh=off")); err != nil {
		t.Fatalf("loading the dashboard: %v", err)
	}
	if _, err := chromedp.Run(bctx, chromedp.Poll[bool](`Number(document.getElementById("chart-scenarios").dataset.points) > 0 &&
		scenChart.data[1].filter((v) => v != null).length === 2`, chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		t.Fatalf("waiting for the precision series: %v", err)
	}
	type gap struct {
		Nulls, Points       int
		SpanGaps            bool
		MidX, Series, Width int
		Painted, Elsewhere  int
	}
	g, err := chromedp.Run(bctx, chromedp.Evaluate[gap](`(() => {
		const u = scenChart.u, d = scenChart.data[1];
		const idx = d.map((v, i) => (v == null ? -1 : i)).filter((i) => i >= 0);
		const [a, b] = idx;
		const nulls = d.slice(a + 1, b).filter((v) => v === null).length;
		// The colours of the lines (precision, and the scenario's recall,
		// here also 1 and drawn over it), counted down the whole canvas
		// column halfway between the two values.
		const rgbs = scenChart.spec.series.map((s) => { const hex = cssVar(s.color).replace("#", ""); return [0, 2, 4].map((k) => parseInt(hex.slice(k, k + 2), 16)); });
		const c = u.ctx.canvas, ctx = c.getContext("2d", { willReadFrequently: true });
		const x = (v) => Math.round(u.valToPos(v, "x", true));
		const count = (px) => { const im = ctx.getImageData(px, 0, 1, c.height).data; let n = 0;
			for (let i = 0; i < im.length; i += 4) if (im[i + 3] > 100 && rgbs.some((rgb) => Math.abs(im[i] - rgb[0]) < 40 && Math.abs(im[i + 1] - rgb[1]) < 40 && Math.abs(im[i + 2] - rgb[2]) < 40)) n++;
			return n; };
		const mid = x((scenChart.data[0][a] + scenChart.data[0][b]) / 2);
		return { nulls, points: idx.length, spanGaps: u.series[1].spanGaps, midX: mid, series: rgbs.length, width: c.width,
			painted: count(mid), elsewhere: count(x(scenChart.data[0][a])) + count(x(scenChart.data[0][b])) };
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("gap: %+v", g)
	if g.Points != 2 || g.Nulls != 10 || g.SpanGaps {
		t.Errorf("precision data: %d values with %d nulls between, spanGaps %v; want 2 values, 10 nulls, no spanning", g.Points, g.Nulls, g.SpanGaps)
	}
	if g.Painted != 0 {
		t.Errorf("%d pixels of the lines' colours halfway between the two values: a line spans the gap", g.Painted)
	}
	if g.Elsewhere == 0 {
		t.Errorf("no pixel of the lines' colours at the two values themselves: the check would see no line at all")
	}
	for _, p := range problems.all() {
		if !strings.Contains(p, "favicon") {
			t.Errorf("console: %s", p)
		}
	}
}
