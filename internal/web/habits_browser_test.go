package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"

	"github.com/shopstream/shopstream/internal/detector"
	"github.com/shopstream/shopstream/internal/fraud"
	"github.com/shopstream/shopstream/internal/recsvc"
	"github.com/shopstream/shopstream/internal/shopgeo"
	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/sqlite"
	"github.com/shopstream/shopstream/internal/store/storetest"
	"github.com/shopstream/shopstream/internal/web"
)

// The habits of Grafana the dashboard promises (issue 13), each proved in
// headless Chromium against a real server and store: a PNG of every
// chart, legends that show the value under the cursor, axes wide enough
// for their labels, themes that follow prefers-color-scheme, the
// freshness indicator, the refresh control, the Customers page's charts
// painted, and a CSV of every table.

// habits is one dashboard under test: a store with the analytics fixture,
// the server with every API the pages read, a gate in front of it, and a
// browser whose downloads land in downloads.
type habits struct {
	t         *testing.T
	ctx       context.Context
	st        *sqlite.Store
	ts        *httptest.Server
	gate      *gate
	bctx      context.Context
	downloads string

	// writes of the test's own fixture (group "habits", partition 7)
	base     time.Time // the minute the test started in
	next     int64
	ids      int
	currency string // of write's transactions; storetest.Tx's (EUR) when empty

	feeder   *feeder
	feedStop func()
	quiet    atomic.Bool // the feeder writes nothing while set
}

type habitsConfig struct {
	feed      bool          // a batch every 200 ms from before the page loads
	tolerated []string      // console messages the test provokes on purpose
	prepare   func(*habits) // writes the test's fixture before the server starts
	viewport  [2]int64      // the window, 1280×900 when zero
	media     []*emulation.MediaFeature
}

// gate stands in front of the server: it counts the requests by path and,
// while down, answers the event stream with 503 as a server that went away
// behind a proxy would.
type gate struct {
	h      http.Handler
	down   atomic.Bool
	mu     sync.Mutex
	counts map[string]int
}

func (g *gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	g.counts[r.URL.Path]++
	g.mu.Unlock()
	if g.down.Load() && r.URL.Path == "/api/v1/stream" {
		http.Error(w, "the server is away", http.StatusServiceUnavailable)
		return
	}
	g.h.ServeHTTP(w, r)
}

func (g *gate) count(path string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.counts[path]
}

func newHabits(t *testing.T, cfg habitsConfig) *habits {
	t.Helper()
	chromium := findChromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	srv, err := web.New(web.Config{Store: st, Logger: slog.New(slog.DiscardHandler), Lookups: syntheticLookups})
	if err != nil {
		t.Fatal(err)
	}
	det, err := detector.New(detector.Config{State: shopgeo.Lookups(fraud.StateConfig{}), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	web.RegisterFraud(srv, web.FraudDeps{Store: st, Detector: det, MetricsTTL: time.Second})
	web.RegisterQuality(srv, st, nil)
	web.RegisterQuarantine(srv, st, nil)
	web.RegisterAnalytics(srv, st)
	web.RegisterDeliveries(srv, st)
	analyticsFixture(t, st)
	exps := addExperiment(ctx, t, srv, st)
	recs, err := recsvc.New(recsvc.Config{Store: st, Assigner: exps})
	if err != nil {
		t.Fatal(err)
	}
	h := &habits{t: t, ctx: ctx, st: st, downloads: t.TempDir(), base: time.Now().Truncate(time.Minute),
		feeder: &feeder{st: st, rng: rand.New(rand.NewPCG(3, 4)), offset: map[int32]int64{}}}
	if cfg.prepare != nil {
		cfg.prepare(h)
	}
	if _, err := recs.Fold(ctx); err != nil {
		t.Fatal(err)
	}
	recs.Rebuild()
	web.RegisterRecommendations(srv, recs)
	h.gate = &gate{h: srv, counts: map[string]int{}}
	h.ts = httptest.NewServer(h.gate)
	t.Cleanup(h.ts.Close)
	t.Cleanup(h.stopFeed) // before the server closes and the store with it
	if cfg.feed {
		h.startFeed()
	}
	bctx, problems, stop := openBrowser(t, ctx, chromium, cfg.tolerated...)
	t.Cleanup(stop) // first: the page's stream would hold the server's Close
	t.Cleanup(func() {
		for _, p := range problems.all() {
			t.Errorf("console: %s", p)
		}
	})
	h.bctx = bctx
	if cfg.viewport != [2]int64{} {
		if err := chromedp.Do(bctx, chromedp.EmulateViewport(cfg.viewport[0], cfg.viewport[1])); err != nil {
			t.Fatal(err)
		}
	}
	if cfg.media != nil {
		h.emulateMedia(cfg.media...)
	}
	if _, err := chromedp.CallBrowser(bctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: h.downloads}); err != nil {
		t.Fatal(err)
	}
	return h
}

func (h *habits) emulateMedia(features ...*emulation.MediaFeature) {
	h.t.Helper()
	if _, err := chromedp.Call(h.bctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Features: features}); err != nil {
		h.t.Fatalf("emulating %v: %v", features, err)
	}
}

// startFeed writes a batch of the feeder's every 200 ms, except while
// quiet, until stopFeed.
func (h *habits) startFeed() {
	ctx, cancel := context.WithCancel(h.ctx)
	done := make(chan error, 1)
	go func() {
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				done <- nil
				return
			case <-tick.C:
				if h.quiet.Load() {
					continue
				}
				if err := h.feeder.write(ctx, time.Now(), 3+h.feeder.rng.IntN(10)); err != nil && ctx.Err() == nil {
					done <- err
					return
				}
			}
		}
	}()
	h.feedStop = func() {
		cancel()
		if err := <-done; err != nil {
			h.t.Errorf("feeding the store: %v", err)
		}
	}
}

func (h *habits) stopFeed() {
	if h.feedStop != nil {
		h.feedStop()
		h.feedStop = nil
	}
}

// write stores one batch of the test's own transactions: n of cents each
// at the time at, and the alerts of the risks given (each on one more
// transaction, declined).
func (h *habits) write(at time.Time, n int, cents int64, alertRisks ...float64) {
	h.t.Helper()
	p := store.Part{Partition: 7, From: h.next}
	add := func() *store.Tx {
		h.ids++
		tx := storetest.Tx(fmt.Sprintf("hb-%05d", h.ids), fmt.Sprintf("hc%03d", h.ids%50), at, cents, 7, h.next+int64(len(p.Txs)))
		if h.currency != "" {
			tx.Currency = h.currency
		}
		p.Txs = append(p.Txs, tx)
		return &p.Txs[len(p.Txs)-1]
	}
	for range n {
		add()
	}
	for _, r := range alertRisks {
		tx := add()
		tx.Risk, tx.Decision, tx.ReasonsJSON = r, "decline", []byte(`["velocity"]`)
		p.Alerts = append(p.Alerts, store.Alert{TransactionID: tx.TransactionID, CustomerID: tx.CustomerID, EventTime: tx.EventTime,
			Risk: tx.Risk, Decision: tx.Decision, ReasonsJSON: tx.ReasonsJSON, AmountCents: tx.TotalCents})
	}
	p.To = p.From + int64(len(p.Txs))
	h.next = p.To
	if err := h.st.WriteBatch(h.ctx, &store.Batch{Group: "habits", Topic: "habits", Parts: []store.Part{p}}); err != nil {
		h.t.Fatalf("writing the fixture: %v", err)
	}
}

// minuteAgo is 10 s into the minute m minutes before the one the test
// started in: the same minute however long the test takes.
func (h *habits) minuteAgo(m int) time.Time {
	return h.base.Add(-time.Duration(m)*time.Minute + 10*time.Second)
}

func (h *habits) open(hash string) {
	h.t.Helper()
	if err := chromedp.Do(h.bctx, chromedp.Navigate(h.ts.URL+"/"+hash)); err != nil {
		h.t.Fatalf("loading %s: %v", hash, err)
	}
}

func (h *habits) eval(expr string) string {
	h.t.Helper()
	s, err := chromedp.Run(h.bctx, chromedp.Evaluate[string](expr))
	if err != nil {
		h.t.Fatalf("evaluating %s: %v", expr, err)
	}
	return s
}

// evalJSON evaluates expr, a JSON-able value, into v.
func (h *habits) evalJSON(expr string, v any) {
	h.t.Helper()
	s := h.eval(`JSON.stringify(` + expr + `)`)
	if err := json.Unmarshal([]byte(s), v); err != nil {
		h.t.Fatalf("decoding %s of %s: %v", s, expr, err)
	}
}

// wait polls expr until it is true, failing the test after within (45 s
// when zero) with what the page shows.
func (h *habits) wait(what, expr string, within time.Duration) {
	h.t.Helper()
	if within == 0 {
		within = 45 * time.Second
	}
	if _, err := chromedp.Run(h.bctx, chromedp.Poll[bool](expr,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(within))); err != nil {
		s, _ := chromedp.Run(h.bctx, chromedp.Evaluate[string](`location.hash + " | " + document.querySelector("header").innerText + " | " +
			(document.querySelector(".page:not(.hidden)") || document.body).innerText.slice(0, 400)`))
		h.t.Fatalf("waiting until %s: %v (page shows: %s)", what, err, strings.Join(strings.Fields(s), " "))
	}
}

// loaded waits for the page of hash to show with its range loaded.
func (h *habits) loaded(page string) {
	h.t.Helper()
	h.wait(page+" shows, loaded", `typeof charts !== "undefined" && !document.getElementById("page-`+page+`").classList.contains("hidden") &&
		document.documentElement.dataset.loading === "0"`, 0)
}

// serverCount waits until the gate has counted at least n requests of
// path, failing the test after within.
func (h *habits) serverCount(what, path string, n int, within time.Duration) {
	h.t.Helper()
	for deadline := time.Now().Add(within); h.gate.count(path) < n; {
		if time.Now().After(deadline) {
			h.t.Fatalf("waiting until %s: %d requests of %s after %v, want %d", what, h.gate.count(path), path, within, n)
		}
		time.Sleep(50 * time.Millisecond) // polled: the server's count, not the page's
	}
}

func (h *habits) mouse(x, y float64) {
	h.t.Helper()
	if err := chromedp.Do(h.bctx, chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, x, y)); err != nil {
		h.t.Fatalf("moving the mouse to %.0f,%.0f: %v", x, y, err)
	}
}

// seriesColoursJS lists, for the charts inside the element of id ID, the
// RGB of each series with something to draw.
const seriesColoursJS = `(() => {
  const rgb = (css) => {
    const c = document.createElement("canvas").getContext("2d");
    c.fillStyle = css;
    const m = /^#(..)(..)(..)$/.exec(c.fillStyle);
    return m ? m.slice(1).map((h) => parseInt(h, 16)) : null;
  };
  const box = document.getElementById("ID");
  return [...charts].filter((c) => box.contains(c.el)).flatMap((c) => c.u.series.slice(1).map((s, i) => ({
    chart: c.el.id, label: s.label, rgb: rgb(typeof s.stroke === "function" ? s.stroke(c.u, i + 1) : s.stroke),
    drawn: c.u.data[i + 1].some((v) => v != null && v !== 0) })).filter((s) => s.drawn && s.rgb));
})()`

type seriesColour struct {
	Chart string `json:"chart"`
	Label string `json:"label"`
	RGB   [3]int `json:"rgb"`
}

// pixelsNear counts the pixels of img within 40 of c in each channel.
func pixelsNear(img image.Image, c [3]int) int {
	n := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, a := img.At(x, y).RGBA()
			if a>>8 > 100 && absInt(int(r>>8)-c[0]) < 40 && absInt(int(g>>8)-c[1]) < 40 && absInt(int(bl>>8)-c[2]) < 40 {
				n++
			}
		}
	}
	return n
}

func absInt(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

// TestChartsExportPNG clicks the PNG button of every chart card on the
// Overview, Fraud and Customers pages and decodes each download: a PNG of
// the canvas's size, not one flat colour, with the pixels of each series
// the chart draws.
func TestChartsExportPNG(t *testing.T) {
	h := newHabits(t, habitsConfig{feed: true, prepare: func(h *habits) {
		for m := 20; m >= 1; m-- {
			h.write(h.minuteAgo(m), 5+m, 2500, 0.97, 0.62)
		}
	}})
	pages := []struct {
		page  string
		ready []string // charts that must have points before the export
	}{
		{"overview", []string{"chart-volume", "chart-tps"}},
		{"fraud", []string{"chart-scores", "chart-fraud"}},
		{"customers", []string{"chart-segments", "chart-clv", "chart-clv-dist", "chart-alive"}},
	}
	exported := 0
	for i, p := range pages {
		if i == 0 {
			h.open("#/" + p.page + "?range=1h")
		} else {
			h.eval(`location.hash = "#/` + p.page + `?range=1h", ""`)
		}
		h.loaded(p.page)
		for _, id := range p.ready {
			h.wait("#"+id+" has points", `Number(document.getElementById("`+id+`").dataset.points) > 0`, 0)
		}
		var cards []string
		h.evalJSON(`[...document.querySelectorAll("#page-`+p.page+` .card")].filter((c) => !c.classList.contains("hidden") &&
			c.querySelector('button[data-export="png"]')).map((c) => c.id)`, &cards)
		var charts int
		h.evalJSON(`[...document.querySelectorAll("#page-`+p.page+` .chart")].length`, &charts)
		if len(cards) == 0 || len(cards) != charts {
			t.Errorf("%s: %d cards with a PNG button %v, %d charts: want one each", p.page, len(cards), cards, charts)
		}
		for _, id := range cards {
			var colours []seriesColour
			h.evalJSON(strings.Replace(seriesColoursJS, "ID", id, 1), &colours)
			h.eval(`document.querySelector('#` + id + ` button[data-export="png"]').click(), ""`)
			b := waitForFile(t, h.downloads, id+"-20", ".png")
			img, err := png.Decode(bytes.NewReader([]byte(b)))
			if err != nil {
				t.Errorf("%s: #%s: the download is no PNG: %v", p.page, id, err)
				continue
			}
			exported++
			r := img.Bounds()
			var cw, ch int
			h.evalJSON(`(() => { const c = [...charts].find((c) => document.getElementById("`+id+`").contains(c.el)); return c.u.ctx.canvas.width; })()`, &cw)
			h.evalJSON(`(() => { const c = [...charts].find((c) => document.getElementById("`+id+`").contains(c.el)); return c.u.ctx.canvas.height; })()`, &ch)
			if r.Dx() == 0 || r.Dy() == 0 || r.Dx() != cw || r.Dy() != ch {
				t.Errorf("%s: #%s: PNG of %d×%d, the chart's canvas is %d×%d", p.page, id, r.Dx(), r.Dy(), cw, ch)
				continue
			}
			// Not blank: a share of the pixels differs from the corner's
			// (the card's background, as the PNG fills it).
			bg := img.At(r.Min.X, r.Min.Y)
			br, bgg, bb, _ := bg.RGBA()
			differ := 0
			for y := r.Min.Y; y < r.Max.Y; y++ {
				for x := r.Min.X; x < r.Max.X; x++ {
					cr, cg, cb, _ := img.At(x, y).RGBA()
					if absInt(int(cr>>8)-int(br>>8))+absInt(int(cg>>8)-int(bgg>>8))+absInt(int(cb>>8)-int(bb>>8)) > 30 {
						differ++
					}
				}
			}
			if differ < r.Dx()*r.Dy()/200 {
				t.Errorf("%s: #%s: PNG %d×%d is blank: %d pixels differ from the background", p.page, id, r.Dx(), r.Dy(), differ)
			}
			for _, c := range colours {
				if n := pixelsNear(img, c.RGB); n < 20 {
					t.Errorf("%s: #%s: series %q of #%s has %d pixels of its colour %v in the PNG, want >= 20", p.page, id, c.Label, c.Chart, n, c.RGB)
				}
			}
			t.Logf("%s: #%s: %d×%d PNG, %d pixels off the background, series %d", p.page, id, r.Dx(), r.Dy(), differ, len(colours))
		}
	}
	if exported < 8 {
		t.Errorf("%d charts exported, want every chart of three pages (8 or more)", exported)
	}
}

// legendJS is what the legend of chart (a Chart) shows: one text a series.
func legendJS(chart string) string {
	return `JSON.stringify([...` + chart + `.u.root.querySelectorAll(".u-legend .u-series")].map((r) => r.querySelector(".u-value").textContent))`
}

// TestLegendShowsValueUnderCursor hovers the volume chart over its oldest
// minute and checks the legend shows that minute's count and revenue,
// then moves away and checks it shows the latest minute's again. The
// fixture's minutes all differ: m minutes ago, m + 2 transactions of 10 €.
func TestLegendShowsValueUnderCursor(t *testing.T) {
	h := newHabits(t, habitsConfig{prepare: func(h *habits) {
		for m := 20; m >= 1; m-- {
			h.write(h.minuteAgo(m), m+2, 1000)
		}
	}})
	h.open("#/overview?range=1h")
	h.loaded("overview")
	h.wait("the volume chart has the 20 minutes", `document.getElementById("chart-volume").dataset.points === "20"`, 0)
	away := `["latest","3","€30"]`
	h.wait("the legend shows the latest minute away from the cursor", legendJS("volumeChart")+` === '`+away+`'`, 5*time.Second)

	var at [3]float64
	h.evalJSON(`(() => { const u = volumeChart.u; u.root.scrollIntoView({block: "center"}); const r = u.over.getBoundingClientRect();
		return [r.left + u.valToPos(u.data[0][0], "x"), r.top + r.height / 2, u.data[0][0]]; })()`, &at)
	h.mouse(at[0], at[1])
	want := `["' + fmtTime(` + strconv.FormatFloat(at[2], 'f', -1, 64) + ` * 1000) + '","22","€220"]`
	if _, err := chromedp.Run(h.bctx, chromedp.Poll[bool](legendJS("volumeChart")+` === '`+want+`'`,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(5*time.Second))); err != nil {
		t.Fatalf("hovering the oldest minute: legend %s, want its time, 22 transactions and €220 (%v)", h.eval(legendJS("volumeChart")), err)
	}
	// Away from the plot (over the header), the latest minute again.
	h.mouse(5, 5)
	if _, err := chromedp.Run(h.bctx, chromedp.Poll[bool](legendJS("volumeChart")+` === '`+away+`'`,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(5*time.Second))); err != nil {
		t.Errorf("after the cursor left: legend %s, want %s (%v)", h.eval(legendJS("volumeChart")), away, err)
	}
}

// axisFitJS checks every axis of every chart shown. A y axis: the size uPlot gave
// it against the width of its widest tick label as the canvas measures it
// in the axis's font (in canvas pixels, of the font's size times uPlot's
// pixel ratio: font[1] of font[2] CSS px), plus the tick and the gap the
// labels keep from the plot. An upright x axis: each label, centred on
// its tick, within the canvas. It returns the axes that fall short, the
// widest label of each y axis and the number of x labels checked.
const axisFitJS = `(() => {
  const out = {short: [], widest: {}, xLabels: 0};
  for (const c of charts) {
    if (!c.el.offsetParent || Number(c.el.dataset.points) === 0) continue;
    const u = c.u, ctx = u.ctx;
    u.axes.forEach((a, i) => {
      if (!a.show || !a._values) return;
      if (i === 0) {
        // The x axis: an upright label is centred on its tick, and must
        // end within the canvas at both sides.
        ctx.save();
        ctx.font = a.font[0];
        if (a._rotate) {
          // A slanted label: its height across the axis, within the
          // axis's size after the tick and the gap.
          const r = Math.abs(a._rotate) * Math.PI / 180;
          a._values.forEach((v) => {
            if (v == null || v === "") return;
            out.xLabels++;
            const w = ctx.measureText(String(v)).width / (a.font[1] / a.font[2]);
            const need = w * Math.sin(r) + a.font[2] * Math.cos(r) + (a.ticks.show ? a.ticks.size : 0) + a.gap;
            if (a._size + 0.5 < need) out.short.push(c.el.id + " x axis: " + a._size + " px for " + JSON.stringify(v) + " slanted, which needs " + need.toFixed(1));
          });
          ctx.restore();
          return;
        }
        ctx.font = a.font[0];
        a._splits.forEach((x, j) => {
          const v = a._values[j];
          if (v == null || v === "") return;
          const w = Math.max(...String(v).split("\n").map((l) => ctx.measureText(l).width)) / (a.font[1] / a.font[2]);
          const at = u.bbox.left / (a.font[1] / a.font[2]) + u.valToPos(x, "x");
          out.xLabels++;
          if (at - w / 2 < -0.5 || at + w / 2 > u.width + 0.5) {
            out.short.push(c.el.id + " x axis: " + JSON.stringify(v) + " spans " + (at - w / 2).toFixed(1) + " to " + (at + w / 2).toFixed(1) + " of a " + u.width + " px canvas");
          }
        });
        ctx.restore();
        return;
      }
      ctx.save();
      ctx.font = a.font[0];
      let w = 0, widest = "";
      for (const v of a._values) {
        if (v == null) continue;
        const m = ctx.measureText(String(v)).width;
        if (m > w) { w = m; widest = String(v); }
      }
      ctx.restore();
      const need = w / (a.font[1] / a.font[2]) + (a.ticks.show ? a.ticks.size : 0) + a.gap;
      out.widest[c.el.id + "/" + i] = widest;
      if (a._size + 0.5 < need) out.short.push(c.el.id + " axis " + i + ": " + a._size + " px for " + JSON.stringify(widest) + ", which needs " + need.toFixed(1));
    });
  }
  return out;
})()`

// TestAxesFitTheirLabels draws revenue of 150,000 € a minute and checks
// that no y axis on the Overview and Fraud pages is narrower than its
// widest label and no upright x label runs off the canvas, at a device
// pixel ratio of 1 and of 2; and that the risk
// histogram's first and last bars (0.95–1.0) are drawn whole, not cut at
// the plot's edges.
func TestAxesFitTheirLabels(t *testing.T) {
	h := newHabits(t, habitsConfig{prepare: func(h *habits) {
		for m := 10; m >= 1; m-- {
			h.write(h.minuteAgo(m), 3+m, 1500)
		}
		h.write(h.minuteAgo(5), 1, 15_000_000, 0.97, 0.97, 0.42, 0.55, 0.62)
	}})
	for _, dpr := range []float64{1, 2} {
		if _, err := chromedp.Call(h.bctx, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{Width: 1280, Height: 900, DeviceScaleFactor: dpr}); err != nil {
			t.Fatal(err)
		}
		// A fresh document at the ratio (a hash alone would keep the page).
		h.open("?dpr=" + strconv.FormatFloat(dpr, 'f', -1, 64) + "#/overview?range=1h")
		h.loaded("overview")
		h.wait("the volume chart has its minutes", `document.getElementById("chart-volume").dataset.points === "10"`, 0)
		if got := h.eval(`String(devicePixelRatio)`); got != strconv.FormatFloat(dpr, 'f', -1, 64) {
			t.Fatalf("devicePixelRatio %s, want %g", got, dpr)
		}
		var fit struct {
			Short   []string          `json:"short"`
			Widest  map[string]string `json:"widest"`
			XLabels int               `json:"xLabels"`
		}
		h.evalJSON(axisFitJS, &fit)
		if fit.XLabels < 3 {
			t.Errorf("overview at %gx: %d time labels checked, want the volume chart's (3 or more)", dpr, fit.XLabels)
		}
		for _, s := range fit.Short {
			t.Errorf("overview at %gx: %s", dpr, s)
		}
		if w := fit.Widest["chart-volume/1"]; !strings.Contains(w, "150,000") && !strings.Contains(w, "160,000") && !strings.Contains(w, "200,000") {
			t.Errorf("overview at %gx: the revenue axis's widest label is %q, want six digits (150,000 € a minute)", dpr, w)
		}
		t.Logf("overview at %gx: widest labels %v, %d time labels", dpr, fit.Widest, fit.XLabels)

		h.eval(`location.hash = "#/customers?range=1h", ""`)
		h.loaded("customers")
		h.wait("the segment chart has its bars", `Number(document.getElementById("chart-segments").dataset.points) > 4`, 0)
		fit.Short, fit.XLabels = nil, 0
		h.evalJSON(axisFitJS, &fit)
		for _, s := range fit.Short {
			t.Errorf("customers at %gx: %s", dpr, s)
		}
		if fit.XLabels < 10 {
			t.Errorf("customers at %gx: %d segment and bucket labels checked, want 10 or more", dpr, fit.XLabels)
		}
		t.Logf("customers at %gx: %d x labels", dpr, fit.XLabels)

		h.eval(`location.hash = "#/fraud?range=1h", ""`)
		h.loaded("fraud")
		h.wait("the risk histogram has its bars", `Number(document.getElementById("chart-scores").dataset.points) > 0`, 0)
		fit.Short = nil
		h.evalJSON(axisFitJS, &fit)
		for _, s := range fit.Short {
			t.Errorf("fraud at %gx: %s", dpr, s)
		}
		// The bars of 0.40–0.45 and 0.95–1.0: as many pixels of the bar's
		// colour right of its centre as left of it, within the plot.
		var bars []struct {
			X           float64 `json:"x"`
			Left, Right int
		}
		h.evalJSON(`(() => {
			const u = scoreChart.u, ctx = u.ctx, px = ctx.getImageData(0, 0, ctx.canvas.width, ctx.canvas.height).data, w = ctx.canvas.width;
			const c = document.createElement("canvas").getContext("2d");
			c.fillStyle = u.series[1].stroke(u, 1);
			const want = /^#(..)(..)(..)$/.exec(c.fillStyle).slice(1).map((h) => parseInt(h, 16));
			const is = (i) => px[i + 3] > 60 && Math.abs(px[i] - want[0]) < 40 && Math.abs(px[i + 1] - want[1]) < 40 && Math.abs(px[i + 2] - want[2]) < 40;
			const half = Math.abs(u.valToPos(0.025, "x", true) - u.valToPos(0, "x", true)) * 0.8;
			const xs = u.data[0], ys = u.data[1];
			const drawn = xs.map((_, i) => i).filter((i) => ys[i] > 0);
			return [drawn[0], drawn[drawn.length - 1]].map((i) => {
				const cx = Math.round(u.valToPos(xs[i], "x", true));
				let left = 0, right = 0;
				for (let y = u.bbox.top; y < u.bbox.top + u.bbox.height; y++) {
					for (let x = Math.max(0, Math.floor(cx - half)); x < cx; x++) if (is((y * w + x) * 4)) left++;
					for (let x = cx + 1; x <= Math.min(w - 1, Math.ceil(cx + half)); x++) if (is((y * w + x) * 4)) right++;
				}
				return {x: xs[i], left, right};
			});
		})()`, &bars)
		if len(bars) != 2 {
			t.Errorf("fraud at %gx: risk histogram's outer bars %+v, want the first and the last", dpr, bars)
		}
		for _, b := range bars {
			if b.Left < 20 || float64(b.Right) < 0.8*float64(b.Left) || float64(b.Left) < 0.8*float64(b.Right) {
				t.Errorf("fraud at %gx: the bar at risk %.3f is cut: %d pixels left of its centre, %d right", dpr, b.X, b.Left, b.Right)
			}
		}
		t.Logf("fraud at %gx: outer bars %+v; canvas %s", dpr, bars, h.eval(`JSON.stringify([scoreChart.u.ctx.canvas.width, scoreChart.u.bbox, uPlot.pxRatio, devicePixelRatio, scoreChart.u.scales.x])`))
	}
}

// luminance is the mean luminance (0 to 1) of a PNG.
func luminance(t *testing.T, b []byte) float64 {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("decoding a screenshot: %v", err)
	}
	var sum float64
	r := img.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			cr, cg, cb, _ := img.At(x, y).RGBA()
			sum += (0.2126*float64(cr) + 0.7152*float64(cg) + 0.0722*float64(cb)) / 0xffff
		}
	}
	return sum / float64(r.Dx()*r.Dy())
}

// TestThemeFollowsColorScheme loads the dashboard with no stored theme
// under prefers-color-scheme dark, then light, and checks the page's theme
// and the volume chart as drawn (a screenshot of it, and its axes'
// colour) follow; the toggle then overrides the scheme, also after a
// reload.
func TestThemeFollowsColorScheme(t *testing.T) {
	scheme := func(v string) []*emulation.MediaFeature {
		return []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: v}}
	}
	h := newHabits(t, habitsConfig{media: scheme("dark"), prepare: func(h *habits) {
		for m := 20; m >= 1; m-- {
			h.write(h.minuteAgo(m), m+2, 1000)
		}
	}})
	chart := func(theme string) {
		t.Helper()
		h.wait("the theme is "+theme, `document.documentElement.dataset.theme === "`+theme+`"`, 5*time.Second)
		h.wait("the volume chart is drawn", `document.getElementById("chart-volume").dataset.points === "20"`, 0)
		// The axes are drawn in the theme's muted colour: the chart was
		// built again, not left in the other theme's.
		var axes []string
		h.evalJSON(`volumeChart.u.axes.map((a) => { const s = typeof a.stroke === "function" ? a.stroke(volumeChart.u, 0) : a.stroke; return s; })`, &axes)
		muted := h.eval(`getComputedStyle(document.documentElement).getPropertyValue("--muted").trim()`)
		if len(axes) == 0 || axes[0] != muted {
			t.Errorf("%s: the time axis is drawn in %v, want the theme's --muted %s", theme, axes, muted)
		}
		if err := chromedp.Do(h.bctx, chromedp.ScrollIntoView(chromedp.CSS("#chart-volume"))); err != nil {
			t.Fatal(err)
		}
		shot, err := chromedp.Run(h.bctx, chromedp.Screenshot(chromedp.CSS("#chart-volume")))
		if err != nil {
			t.Fatal(err)
		}
		l := luminance(t, shot)
		if theme == "dark" && l > 0.3 || theme == "light" && l < 0.7 {
			t.Errorf("%s: the volume chart's mean luminance is %.2f", theme, l)
		}
		t.Logf("%s: chart luminance %.2f, body %s", theme, l, h.eval(`getComputedStyle(document.body).backgroundColor`))
	}
	h.open("#/overview?range=1h")
	h.loaded("overview")
	if s := h.eval(`String(localStorage.getItem("shopstream-theme"))`); s != "null" {
		t.Fatalf("a stored theme %q before the test chose one", s)
	}
	chart("dark")
	h.emulateMedia(scheme("light")...)
	chart("light")
	h.emulateMedia(scheme("dark")...)
	chart("dark")

	// The toggle: light, whatever the scheme says now or after a reload.
	h.eval(`document.getElementById("theme").click(), ""`)
	chart("light")
	h.emulateMedia(scheme("light")...)
	h.emulateMedia(scheme("dark")...)
	chart("light")
	h.open("#/overview?range=1h")
	h.loaded("overview")
	chart("light")
}

// TestFreshnessIndicator follows the header's indicator: "live" while the
// store grows; "updated N s ago" once nothing more is stored while the
// server stays ready; "reconnecting…" when the event stream drops and the
// server refuses it; "live" again once it answers and data flows.
func TestFreshnessIndicator(t *testing.T) {
	h := newHabits(t, habitsConfig{feed: true, tolerated: []string{"api/v1/stream", "EventSource"}})
	h.open("#/overview?range=1h")
	h.loaded("overview")
	const status = `document.getElementById("status")`
	h.wait(`the status says "live"`, status+`.textContent === "live" && `+status+`.classList.contains("ok")`, 0)
	h.quiet.Store(true)
	h.wait(`the status says "updated N s ago"`, `/^updated \d+ s ago$/.test(`+status+`.textContent) && `+status+`.classList.contains("warn")`, 20*time.Second)
	ago := h.eval(status + `.textContent`)
	h.wait("the age grows", status+`.textContent !== "`+ago+`" && /^updated \d+ s ago$/.test(`+status+`.textContent)`, 5*time.Second)

	// The stream drops and the server refuses it for a while.
	streams := h.gate.count("/api/v1/stream")
	h.gate.down.Store(true)
	h.ts.CloseClientConnections()
	h.wait(`the status says "reconnecting…"`, status+`.textContent === "reconnecting…" && `+status+`.classList.contains("warn")`, 10*time.Second)
	h.quiet.Store(false)
	// The page tries again: the gate counts its refused attempts.
	h.serverCount("the page retries the stream twice", "/api/v1/stream", streams+2, 20*time.Second)
	if s := h.eval(status + `.textContent`); s != "reconnecting…" {
		t.Errorf("while the stream is refused the status says %q", s)
	}
	h.gate.down.Store(false)
	h.wait(`the status says "live" again`, status+`.textContent === "live" && `+status+`.classList.contains("ok")`, 20*time.Second)
}

// TestRefreshControl pauses the dashboard and checks a stored batch shows
// nowhere (neither the stored total nor the volume chart, and the page
// asks the API nothing) although the stream brought it, until the refresh
// is resumed; then refreshes every 5 s and checks the page asks the API
// again and shows what was stored meanwhile, a minute and the new total;
// last, that a paused link opened afresh shows the totals of when it
// loaded and holds them.
func TestRefreshControl(t *testing.T) {
	h := newHabits(t, habitsConfig{prepare: func(h *habits) {
		for m := 10; m >= 3; m-- {
			h.write(h.minuteAgo(m), m+2, 1000)
		}
	}})
	h.open("#/overview?range=1h")
	h.loaded("overview")
	const tx = `document.getElementById("t-tx").textContent`
	const total = `(live.summary ? live.summary.transactions_total : -1)`
	stored := func() int {
		t.Helper()
		s, err := h.st.Summary(h.ctx)
		if err != nil {
			t.Fatal(err)
		}
		return int(s.TransactionsTotal)
	}
	n0 := stored()
	h.wait("the tile shows the stored total", tx+` === "`+strconv.Itoa(n0)+`"`, 0)
	h.wait("the volume chart has the 8 minutes", `document.getElementById("chart-volume").dataset.points === "8"`, 0)
	setRefresh := func(v string) {
		t.Helper()
		h.eval(`(() => { const s = document.getElementById("refresh"); s.value = "` + v + `"; s.dispatchEvent(new Event("change")); return ""; })()`)
		h.wait("the refresh is "+v, `document.getElementById("refresh").value === "`+v+`" && (location.hash.includes("refresh=`+v+`") || "`+v+`" === "live")`, 5*time.Second)
	}

	// Paused: the page loads nothing more; the stream brings the new
	// total, the page shows none of it.
	windows := h.gate.count("/api/v1/windows")
	setRefresh("off")
	h.wait(`the status says paused`, `/\(paused\)$/.test(document.getElementById("status").textContent)`, 5*time.Second)
	h.write(h.minuteAgo(2), 40, 1000)
	n1 := stored()
	h.wait("the stream brings the new total", total+` === `+strconv.Itoa(n1), 10*time.Second)
	// Two summaries more, so a handler that ran would have drawn.
	seen := h.eval(`String(live.lastSummaryAt)`)
	h.wait("another summary arrives", `String(live.lastSummaryAt) !== "`+seen+`"`, 10*time.Second)
	seen = h.eval(`String(live.lastSummaryAt)`)
	h.wait("another summary arrives", `String(live.lastSummaryAt) !== "`+seen+`"`, 10*time.Second)
	if got := h.eval(tx); got != strconv.Itoa(n0) {
		t.Errorf("paused: the tile shows %s, want %d still (%d stored)", got, n0, n1)
	}
	if got := h.eval(`document.getElementById("chart-volume").dataset.points`); got != "8" {
		t.Errorf("paused: the volume chart has %s minutes, want 8 still", got)
	}
	if n := h.gate.count("/api/v1/windows"); n != windows {
		t.Errorf("paused: the page asked for the windows %d times", n-windows)
	}

	// Resumed: the latest total shows, the minute joins the chart.
	setRefresh("live")
	h.wait("resumed: the tile shows the new total", tx+` === "`+strconv.Itoa(n1)+`"`, 10*time.Second)
	h.wait("resumed: the volume chart has the new minute", `document.getElementById("chart-volume").dataset.points === "9"`, 10*time.Second)

	// Every 5 s: the page loads its range again and again; the minute
	// stored meanwhile shows although the stream's events no longer draw.
	setRefresh("5s")
	h.loaded("overview")
	windows = h.gate.count("/api/v1/windows")
	h.write(h.minuteAgo(12), 7, 1000)
	n2 := stored()
	h.wait("every 5 s: the volume chart has the older minute", `document.getElementById("chart-volume").dataset.points === "10"`, 15*time.Second)
	h.wait("every 5 s: the tile shows the new total", tx+` === "`+strconv.Itoa(n2)+`"`, 15*time.Second)
	h.serverCount("every 5 s: the page loads the windows twice more", "/api/v1/windows", windows+2, 20*time.Second)

	// A paused link opened afresh shows the state when it loads, then
	// holds it.
	h.open("?fresh#/overview?range=1h&refresh=off")
	h.loaded("overview")
	h.wait("paused, opened: the tile shows the stored total", tx+` === "`+strconv.Itoa(n2)+`"`, 10*time.Second)
	h.write(h.minuteAgo(1), 5, 1000)
	n3 := stored()
	h.wait("the stream brings the newer total", total+` === `+strconv.Itoa(n3), 10*time.Second)
	seen = h.eval(`String(live.lastSummaryAt)`)
	h.wait("another summary arrives", `String(live.lastSummaryAt) !== "`+seen+`"`, 10*time.Second)
	if got := h.eval(tx); got != strconv.Itoa(n2) {
		t.Errorf("paused, opened: the tile shows %s, want %d still (%d stored)", got, n2, n3)
	}
}

// TestCustomersChartsPainted checks the Customers page's four charts, the
// segments, mean CLV per segment and the CLV and P(alive) distributions,
// have points and paint each series in its colour.
func TestCustomersChartsPainted(t *testing.T) {
	h := newHabits(t, habitsConfig{prepare: func(h *habits) {
		// Three segments more than the analytics fixture's Champions.
		var rows []store.CustomerAnalytics
		for i, seg := range []string{"Loyal", "At Risk", "Hibernating", "Loyal", "Loyal"} {
			rows = append(rows, store.CustomerAnalytics{CustomerID: fmt.Sprintf("cs%d", i), RecencyDays: 10 * float64(i), FrequencyDays: 3, MonetaryCents: 5000 + 1000*int64(i),
				R: 3, F: 3, M: 3, Segment: seg, CLV: &store.CLVFigures{ProbAlive: 0.1 + 0.2*float64(i), ExpectedPurchases: 1, ExpectedAOV: 40, Value: 30 + 80*float64(i), ModelVersion: 1},
				UpdatedAt: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)})
		}
		if err := h.st.WriteCustomerAnalytics(h.ctx, rows); err != nil {
			t.Fatal(err)
		}
	}})
	h.open("#/customers?range=1h")
	h.loaded("customers")
	// A bar a segment, zero ones included, in both segment charts; the
	// distributions' buckets.
	h.wait("the segments are listed", `document.querySelectorAll("#seg-body tr[data-segment]").length > 4`, 0)
	want := map[string]string{"chart-segments": `document.querySelectorAll("#seg-body tr[data-segment]").length`,
		"chart-clv": `document.querySelectorAll("#seg-body tr[data-segment]").length`, "chart-clv-dist": "", "chart-alive": "10"}
	for id, n := range want {
		if n == "" {
			n = "2"
			h.wait("#"+id+" has points", `Number(document.getElementById("`+id+`").dataset.points) >= 2`, 0)
			continue
		}
		h.wait("#"+id+" has a bar each", `Number(document.getElementById("`+id+`").dataset.points) === `+n, 0)
	}
	var cs []chartPixels
	h.evalJSON(chartPixelsJS, &cs)
	for _, c := range cs {
		if _, ok := want[c.ID]; !ok {
			continue
		}
		delete(want, c.ID)
		t.Logf("#%s: %d×%d, pixels per series %v", c.ID, c.Width, c.Height, c.Series)
		if !c.Canvas || c.Width < 200 || c.Height < 100 {
			t.Errorf("#%s: no canvas of a usable size: %+v", c.ID, c)
		}
		if len(c.Series) == 0 {
			t.Errorf("#%s: no series with values to draw", c.ID)
		}
		for label, n := range c.Series {
			if n < 100 {
				t.Errorf("#%s: series %q painted %d pixels of its colour, want its bars (>= 100)", c.ID, label, n)
			}
		}
	}
	for id := range want {
		t.Errorf("#%s: not among the charts shown with points", id)
	}
}

// TestEveryTableExportsCSV checks every table the dashboard shows has a
// CSV button in its card, the alert detail's features and the System
// page's fraud lookups included, and that the features' CSV holds the
// rows shown.
func TestEveryTableExportsCSV(t *testing.T) {
	var alertTx string
	h := newHabits(t, habitsConfig{prepare: func(h *habits) {
		h.write(h.minuteAgo(2), 1, 1000, 0.91)
		alertTx = fmt.Sprintf("hb-%05d", h.ids)
	}})
	h.open("#/fraud?range=1h&alert=" + alertTx)
	h.loaded("fraud")
	h.wait("the alert detail shows its features", `document.querySelectorAll("#ad-body table.features tr[data-feature]").length === 2`, 0)
	for _, p := range []string{"overview", "fraud", "customers", "products", "quality", "system"} {
		if p != "fraud" {
			h.eval(`location.hash = "#/` + p + `?range=1h", ""`)
			h.loaded(p)
		}
		var missing []string
		h.evalJSON(`[...document.querySelectorAll("#page-`+p+` table:not(.u-legend)")].map((t) => t.closest(".card")).filter((c) => c && !c.querySelector('button[data-export="csv"]')).map((c) => c.id)`, &missing)
		for _, id := range missing {
			t.Errorf("%s: the table of #%s has no CSV button", p, id)
		}
		if p == "system" {
			h.wait("the fraud lookups are listed", `/synthetic geography/.test(document.getElementById("lk-body").textContent)`, 0)
			h.eval(`document.querySelector('#lookups button[data-export="csv"]') && document.querySelector('#lookups button[data-export="csv"]').click(), ""`)
			csv := strings.Split(strings.TrimSpace(waitForFile(t, h.downloads, "lookups-20", ".csv")), "\n")
			rows := h.eval(`String(document.querySelectorAll("#lk-body tr:not(.empty)").length)`)
			if len(csv) < 2 || csv[0] != "lookup,state,source" || strconv.Itoa(len(csv)-1) != rows {
				t.Errorf("lookups CSV %q, want its header and the %s rows shown", csv, rows)
			}
		}
	}
	h.eval(`location.hash = "#/fraud?range=1h&alert=` + alertTx + `", ""`)
	h.loaded("fraud")
	h.wait("the alert detail shows its features", `document.querySelectorAll("#ad-body table.features tr[data-feature]").length === 2`, 0)
	h.eval(`document.querySelector('#alert-detail button[data-export="csv"]') && document.querySelector('#alert-detail button[data-export="csv"]').click(), ""`)
	csv := strings.Split(strings.TrimSpace(waitForFile(t, h.downloads, "alert-detail-20", ".csv")), "\n")
	var shown []string
	h.evalJSON(`[...document.querySelectorAll("#ad-body table.features tr[data-feature]")].map((r) => [...r.cells].map((c) => c.textContent).join(","))`, &shown)
	if len(csv) != 3 || csv[0] != "feature,value" || csv[1] != shown[0] || csv[2] != shown[1] {
		t.Errorf("the features' CSV %q, want the header and the rows shown %q", csv, shown)
	}
}

// TestChartLonePointAxis: any time chart given one x shows it with half an
// hour either side, not with the 1,000 days uPlot gives such an axis.
func TestChartLonePointAxis(t *testing.T) {
	h := newHabits(t, habitsConfig{})
	h.open("#/overview?range=15m&refresh=off")
	h.loaded("overview")
	h.eval(`(() => {
		const div = document.createElement("div");
		div.className = "chart";
		div.innerHTML = '<div class="plot"></div>';
		document.body.append(div);
		window.lone = new Chart(div, { series: [{ label: "one", color: "--c0" }] });
		lone.setData([[1796575200], [3]]);
		return "";
	})()`)
	h.wait("the lone chart is ranged", `lone.u.scales.x.max != null && lone.u.scales.x.max - lone.u.scales.x.min < 86400`, 10*time.Second)
	var x struct{ Min, Max float64 }
	h.evalJSON(`({Min: lone.u.scales.x.min, Max: lone.u.scales.x.max})`, &x)
	if x.Min != 1796575200-1800 || x.Max != 1796575200+1800 {
		t.Errorf("x axis %v to %v, want half an hour either side of %v", x.Min, x.Max, 1796575200)
	}
}

// TestCountAxesTickWholeNumbers: the System page's lag chart, a count, and every other count axis,
// ticks whole numbers under a lag of 1 (uPlot's own steps gave 0.25,
// shown rounded as 0.3 and 0.8).
func TestCountAxesTickWholeNumbers(t *testing.T) {
	h := newHabits(t, habitsConfig{})
	h.open("#/system?range=15m&refresh=off")
	h.loaded("system")
	h.eval(`(() => { const t = Math.floor(Date.now() / 1000); lagChart.setData([[t - 30, t - 15, t], [0, 1, 0]]); return ""; })()`)
	h.wait("the lag axis has ticks", `Array.isArray(lagChart.u.axes[1]._splits) && lagChart.u.axes[1]._splits.length > 1`, 10*time.Second)
	var splits []float64
	h.evalJSON(`lagChart.u.axes[1]._splits`, &splits)
	for _, v := range splits {
		if v != float64(int64(v)) {
			t.Errorf("the lag axis ticks %v: %v is not a whole number", splits, v)
		}
	}
	// The Data quality page's failed records a minute (0.5 and 1.5 between
	// minutes of 1 and 2 failed), and the counts of the other pages.
	h.open("#/quality?range=15m&refresh=off")
	h.loaded("quality")
	for _, c := range []struct{ chart, set string }{
		{"qualityChart", `qualityChart.setData([[t - 120, t - 60, t], [0, 2, 1], [1, 0.998, 0.999]])`},
		{"volumeChart", `volumeChart.setData([[t - 120, t - 60, t], [1, 2, 1], [10, 20, 10]])`},
		{"scoreChart", `scoreChart.setData([[0.1, 0.5, 0.9], [1, 2, 1]])`},
		{"segChart", `segChart.spec.xFmt = String, segChart.build(), segChart.setData([[0, 1, 2], [1, 2, 0]])`},
		{"clvDistChart", `clvDistChart.setData([[0, 1, 2], [1, 2, 0]])`},
		{"aliveChart", `aliveChart.setData([[0, 1, 2], [1, 2, 0]])`},
		{"sysCharts.latencyDist", `sysCharts.latencyDist.setData([[0, 1, 2], [1, 2, 0]])`},
	} {
		h.eval(`(() => { const t = Math.floor(Date.now() / 1000); ` + c.set + `; return ""; })()`)
		// The count axis: the last of the chart's y axes (the right one of two).
		ax := c.chart + `.u.axes[` + c.chart + `.u.axes.length - 1]`
		h.wait(c.chart+"'s count axis has ticks", `Array.isArray(`+ax+`._splits) && `+ax+`._splits.length > 1`, 10*time.Second)
		var splits []float64
		h.evalJSON(ax+`._splits`, &splits)
		for _, v := range splits {
			if v != float64(int64(v)) {
				t.Errorf("%s's count axis ticks %v: %v is not a whole number", c.chart, splits, v)
			}
		}
	}
}

// TestChartAllNullIsEmpty: a chart given times but no value in any series
// (the Fraud page's recall by scenario over minutes nothing was labelled
// in) shows its empty note, as one given no times does; a value shows the
// plot alone.
func TestChartAllNullIsEmpty(t *testing.T) {
	h := newHabits(t, habitsConfig{})
	h.open("#/fraud?range=15m&refresh=off")
	h.loaded("fraud")
	h.eval(`(() => { const t = Math.floor(Date.now() / 1000); scenChart.setData([[t - 120, t - 60, t], [null, null, null]]); return ""; })()`)
	if got := h.eval(`String(document.getElementById("chart-scenarios").classList.contains("no-data") && getComputedStyle(document.querySelector("#chart-scenarios .empty-note")).display !== "none")`); got != "true" {
		t.Errorf("times with no value: the empty note is not shown")
	}
	h.eval(`(() => { const t = Math.floor(Date.now() / 1000); scenChart.setData([[t - 120, t - 60, t], [null, 0.5, null]]); return ""; })()`)
	if got := h.eval(`String(document.getElementById("chart-scenarios").classList.contains("no-data"))`); got != "false" {
		t.Errorf("a value: the chart still says it has no data")
	}
}

// TestAlertRowRaisedLater: an alert the entity stage raised in its second
// step, minutes after its order, says when it was raised, since it comes
// above newer orders in the queue (newest raised first); one raised with
// its order does not, nor one the second step raised within the second of
// its event time (the queue showed "07:11:50 PM raised 07:11:50 PM").
func TestAlertRowRaisedLater(t *testing.T) {
	h := newHabits(t, habitsConfig{})
	h.open("#/fraud?range=1h&refresh=off")
	h.loaded("fraud")
	raised := "2026-12-06T17:30:56Z"
	row := func(step int) string {
		return h.eval(`(() => { const tr = alertRow({id: 1, transaction_id: "t1", customer_id: "c1", event_time: "2026-12-06T17:24:59Z",
			created_at: "` + raised + `", amount: 411.99, risk: 0.545, decision: "review", status: "open",
			reasons: [{rule: "card_shared_pair", reason: "card used by 2 accounts", weight: 0.3, step: ` + strconv.Itoa(step) + `}]});
			return tr.cells[0].textContent + "|" + tr.cells[0].dataset.csv; })()`)
	}
	got := row(2)
	if !strings.Contains(got, " raised ") || !strings.HasSuffix(got, "|2026-12-06T17:24:59Z") {
		t.Errorf("a second step's alert: event time cell %q, want it to say when it was raised, its CSV the event time", got)
	}
	if got := row(1); strings.Contains(got, "raised") {
		t.Errorf("an alert raised with its order: event time cell %q says raised", got)
	}
	raised = "2026-12-06T17:24:59.431Z"
	if got := row(2); strings.Contains(got, "raised") {
		t.Errorf("a second step's alert raised within the second of its order: event time cell %q says raised", got)
	}
	if sub := h.eval(`document.getElementById("alerts-sub").textContent`); sub != "newest raised first" && !strings.HasPrefix(sub, "newest raised first") {
		t.Errorf("alert queue subtitle %q", sub)
	}
}

// TestCustomerAlertsCount: the customer card counts one alert in the
// singular ("1 alerts: 0 declined" before), several in the plural.
func TestCustomerAlertsCount(t *testing.T) {
	h := newHabits(t, habitsConfig{})
	h.open("#/customers?range=1h&refresh=off")
	h.loaded("customers")
	h.eval(`(() => { window.__dd = document.createElement("dd"); window.__real = getJSON;
		const a = (d, r) => ({decision: d, risk: r, event_time: "2026-12-06T19:13:29Z"});
		window.__answer = {alerts: [a("review", 0.41)]};
		getJSON = async () => window.__answer; customerRisk("c1", window.__dd); return ""; })()`)
	h.wait("one alert counted", `window.__dd.textContent.startsWith("1 alert: 0 declined, 1 in review")`, 0)
	h.eval(`(() => { window.__answer = {alerts: [{decision: "decline", risk: 0.9, event_time: "2026-12-06T19:13:29Z"}, {decision: "review", risk: 0.41, event_time: "2026-12-06T19:10:00Z"}]};
		customerRisk("c1", window.__dd); return ""; })()`)
	h.wait("two alerts counted", `window.__dd.textContent.startsWith("2 alerts: 1 declined, 1 in review")`, 0)
	h.eval(`(getJSON = window.__real, "")`)
}

// TestMoneyOfCurrencyDecimals: a transaction's amount shows its
// currency's own decimals (the purchase history showed ¥1,000.00).
func TestMoneyOfCurrencyDecimals(t *testing.T) {
	h := newHabits(t, habitsConfig{})
	h.open("#/customers?range=1h&refresh=off")
	h.loaded("customers")
	var got []string
	h.evalJSON(`[moneyOf(1000, "JPY"), moneyOf(12.5, "USD"), moneyOf(1.234, "BHD")]`, &got)
	if len(got) != 3 || got[0] != "¥1,000" || got[1] != "$12.50" || !strings.Contains(got[2], "1.234") {
		t.Errorf("amounts %q, want ¥1,000, $12.50 and BHD 1.234", got)
	}
}

// TestOneTimeBuyerAlive: the customer list marks a one-time buyer's
// P(alive) of 100% (BG/NBD's, however long ago they bought: "Lost, 539
// days since last, 100.0%" read as a contradiction) and explains it;
// a repeat buyer's, and its CSV, are as they were.
func TestOneTimeBuyerAlive(t *testing.T) {
	h := newHabits(t, habitsConfig{})
	h.open("#/customers?range=1h&refresh=off")
	h.loaded("customers")
	var got []string
	h.evalJSON(`[aliveCell({frequency_days: 1, clv: {p_alive: 1}}), aliveCell({frequency_days: 3, clv: {p_alive: 0.431}}), aliveCell({frequency_days: 1, clv: null})]
		.map((td) => td.textContent + "|" + (td.title ? "title" : "") + "|" + (td.dataset.csv || ""))`, &got)
	if len(got) != 3 || got[0] != "100.0%*|title|100.0%" || got[1] != "43.1%||43.1%" || got[2] != "–||" {
		t.Errorf("P(alive) cells %q", got)
	}
	if note := h.eval(`document.getElementById("cust-list-note").textContent`); !strings.Contains(note, "One purchase day") {
		t.Errorf("the list's note %q", note)
	}
	// The note is shown when the list has a marked cell, and only then.
	if got := h.eval(`String(document.getElementById("cust-list-note").hidden) + " " + document.querySelectorAll("#cust-list-body td.one-day").length`); got != "true 0" && !strings.HasPrefix(got, "false ") || got == "false 0" {
		t.Errorf("the list's note hidden, and its marked cells: %s", got)
	}
}
