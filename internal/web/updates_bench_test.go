package web_test

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/shopstream/shopstream/internal/detector"
	"github.com/shopstream/shopstream/internal/fraud"
	"github.com/shopstream/shopstream/internal/shopgeo"
	"github.com/shopstream/shopstream/internal/store/sqlite"
	"github.com/shopstream/shopstream/internal/web"
)

// updatesJS is evaluated in each tab before the dashboard's own scripts.
// It notes when each stream event arrives (its timeStamp), counts the
// animation frames and collects the long tasks (over 50 ms, the
// PerformanceObserver's "longtask"); start(drive) begins a measurement
// where drive maps a chart's element id to the events that redraw it,
// and each draw of a visible chart (Chart.onDraw) takes the time since
// every such event not drawn yet; stop() ends it and returns the figures.
const updatesJS = `(() => {
  const B = window.benchUpdates = { on: false, frames: 0, updates: 0, long: [], longAt: [], lat: [], pending: {}, drive: {}, t0: 0 };
  const add = EventSource.prototype.addEventListener;
  EventSource.prototype.addEventListener = function (type, fn, opts) {
    return add.call(this, type, function (ev) {
      if (B.on) {
        if (type === "summary") B.updates++;
        (B.pending[type] = B.pending[type] || []).push(ev.timeStamp);
      }
      return fn.call(this, ev);
    }, opts);
  };
  new PerformanceObserver((l) => { if (B.on) for (const e of l.getEntries()) { B.long.push(e.duration); B.longAt.push((e.startTime - B.t0) / 1000); } }).observe({ type: "longtask" });
  // Long animation frames, with the time scripts and rendering took in
  // each: a long task that is neither was the renderer waiting for a CPU.
  B.frames50 = [];
  new PerformanceObserver((l) => {
    if (B.on) for (const e of l.getEntries()) if (e.duration > 50) {
      B.frames50.push([e.duration, e.scripts.reduce((a, x) => a + x.duration, 0), e.renderStart ? e.startTime + e.duration - e.renderStart : 0]);
    }
  }).observe({ type: "long-animation-frame" });
  const frame = () => { if (B.on) B.frames++; requestAnimationFrame(frame); };
  requestAnimationFrame(frame);
  B.start = (drive) => {
    Object.assign(B, { drive, pending: {}, frames: 0, updates: 0, long: [], longAt: [], frames50: [], lat: [], t0: performance.now(), on: true });
    Chart.onDraw = (c) => {
      if (!B.on || !c.el.offsetParent) return;
      const now = performance.now();
      for (const k of B.drive[c.el.id] || []) {
        for (const t of B.pending[k] || []) B.lat.push(now - t);
        B.pending[k] = [];
      }
    };
    return "";
  };
  B.stop = () => {
    B.on = false;
    return { seconds: (performance.now() - B.t0) / 1000, frames: B.frames, updates: B.updates, long: B.long, longAt: B.longAt, lat: B.lat, frames50: B.frames50 };
  };
})()`

// updatesResult is what updatesJS's stop returns.
type updatesResult struct {
	Seconds float64   `json:"seconds"`
	Frames  int       `json:"frames"`
	Updates int       `json:"updates"`
	Long    []float64 `json:"long"`
	LongAt  []float64 `json:"longAt"` // seconds into the measurement
	Lat     []float64 `json:"lat"`
	// Frames50 are the animation frames over 50 ms: duration, script and
	// rendering time, ms.
	Frames50 [][3]float64 `json:"frames50"`
}

// BenchmarkDashboardUpdates measures whether the dashboard stays smooth
// at ten live updates a second. The stream hub reads the store every
// 100 ms (instead of every second) while a goroutine stores a batch of
// transactions every 100 ms, some with alerts; each page with live charts
// is opened in a tab of its own in headless Chromium and measured over
// 100 updates (summary events, one a tick: 10 s). Per page it reports
// fps (animation frames a second), longtasks and longtask-max-ms (tasks
// over 50 ms, as PerformanceObserver reports them), redraw-p95-ms (from
// an event's arrival to the draw of the visible chart it feeds: summary
// the transactions/s chart and minute the volume chart on the overview,
// alerts the risk histogram on the Fraud page, ready the lag chart on the
// System page) and updates/s (summary events received a second).
//
//	go test -run '^$' -bench DashboardUpdates -benchtime 3x ./internal/web/
func BenchmarkDashboardUpdates(b *testing.B) {
	chromium := findChromium(b)
	defer web.SetStreamTick(100 * time.Millisecond)()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	st, err := sqlite.Open(ctx, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	var lag atomic.Int64
	srv, err := web.New(web.Config{Store: st, Logger: slog.New(slog.DiscardHandler), Limits: web.Limits{AddrRate: -1, TokenRate: -1},
		Ready: func(context.Context) web.Readiness {
			l := lag.Add(1) % 50
			return web.Readiness{Ready: true, Detail: map[string]any{"lag": l, "pending_batches": 0, "last_commit": time.Now(),
				"partitions": []map[string]int64{{"partition": 0, "committed": 10, "end": 10 + l, "lag": l}, {"partition": 1, "committed": 12, "end": 12, "lag": 0}}}}
		}})
	if err != nil {
		b.Fatal(err)
	}
	det, err := detector.New(detector.Config{State: shopgeo.Lookups(fraud.StateConfig{}), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	web.RegisterFraud(srv, web.FraudDeps{Store: st, Detector: det})
	web.RegisterQuality(srv, st, nil)
	web.RegisterQuarantine(srv, st, nil)
	web.RegisterAnalytics(srv, st)
	web.RegisterDeliveries(srv, st)
	analyticsFixture(b, st)
	f := &feeder{st: st, rng: rand.New(rand.NewPCG(1, 2)), offset: map[int32]int64{}}
	now := time.Now()
	for m := 60; m >= 1; m-- {
		if err := f.write(ctx, now.Add(-time.Duration(m)*time.Minute), 10+f.rng.IntN(20)); err != nil {
			b.Fatal(err)
		}
	}
	feedCtx, stopFeed := context.WithCancel(ctx)
	feedErr := make(chan error, 1)
	go func() { feedErr <- f.run(feedCtx, 100*time.Millisecond) }()
	defer func() {
		stopFeed()
		if err := <-feedErr; err != nil {
			b.Errorf("feeding the store: %v", err)
		}
	}()
	ts := httptest.NewServer(srv)
	defer ts.Close()
	bctx, problems, stop := openBrowser(b, ctx, chromium)
	defer stop()
	if err := chromedp.Do(bctx, chromedp.Navigate("about:blank")); err != nil {
		b.Fatal(err)
	}
	const updates = 100
	for _, p := range []struct {
		page  string
		drive string // JSON: chart id → the events that redraw it
	}{
		{"overview", `{"chart-tps": ["summary"], "chart-volume": ["minute"]}`},
		{"fraud", `{"chart-scores": ["alerts"]}`},
		{"system", `{"chart-lag": ["ready"]}`},
	} {
		b.Run(p.page, func(b *testing.B) {
			var fps, longMax, longN, p95, rate []float64
			for b.Loop() {
				tctx, closeTab := chromedp.NewContext(bctx)
				if _, err := chromedp.Call(tctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: updatesJS}); err != nil {
					b.Fatal(err)
				}
				if err := chromedp.Do(tctx, chromedp.Navigate(ts.URL+"/#/"+p.page+"?range=1h")); err != nil {
					b.Fatalf("loading %s: %v", p.page, err)
				}
				if _, err := chromedp.Call(tctx, page.BringToFront, struct{}{}); err != nil {
					b.Fatal(err)
				}
				// Loaded, and the stream running.
				if _, err := chromedp.Run(tctx, chromedp.Poll[bool](`document.documentElement.dataset.loading === "0" && document.getElementById("status").textContent === "live"`,
					chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(60*time.Second))); err != nil {
					b.Fatalf("%s: waiting for the page and the stream: %v", p.page, err)
				}
				if _, err := chromedp.Run(tctx, chromedp.Evaluate[string](`benchUpdates.start(`+p.drive+`)`)); err != nil {
					b.Fatal(err)
				}
				if _, err := chromedp.Run(tctx, chromedp.Poll[bool](`benchUpdates.updates >= `+strconv.Itoa(updates),
					chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(120*time.Second))); err != nil {
					b.Fatalf("%s: waiting for %d updates: %v", p.page, updates, err)
				}
				r, err := chromedp.Run(tctx, chromedp.Evaluate[updatesResult](`benchUpdates.stop()`))
				closeTab()
				if err != nil {
					b.Fatal(err)
				}
				if len(r.Lat) == 0 {
					b.Fatalf("%s: no chart was redrawn over %d updates", p.page, r.Updates)
				}
				slices.Sort(r.Lat)
				fps = append(fps, float64(r.Frames)/r.Seconds)
				longN = append(longN, float64(len(r.Long)))
				longMax = append(longMax, slices.Max(append(r.Long, 0)))
				p95 = append(p95, r.Lat[int(float64(len(r.Lat)-1)*0.95)])
				rate = append(rate, float64(r.Updates)/r.Seconds)
				b.Logf("%s: %d updates in %.1f s, %d frames, %d long tasks (longest %.0f ms; at %.1f s), frames over 50 ms [total, script, render ms] %.0f, %d redraw latencies, p50 %.1f ms, p95 %.1f ms, max %.1f ms",
					p.page, r.Updates, r.Seconds, r.Frames, len(r.Long), longMax[len(longMax)-1], r.LongAt, r.Frames50, len(r.Lat), r.Lat[len(r.Lat)/2], p95[len(p95)-1], r.Lat[len(r.Lat)-1])
			}
			mean := func(v []float64) float64 {
				var s float64
				for _, x := range v {
					s += x
				}
				return s / float64(len(v))
			}
			b.ReportMetric(mean(fps), "fps")
			b.ReportMetric(mean(longN), "longtasks")
			b.ReportMetric(slices.Max(longMax), "longtask-max-ms")
			b.ReportMetric(mean(p95), "redraw-p95-ms")
			b.ReportMetric(mean(rate), "updates/s")
			b.ReportMetric(0, "ns/op")
		})
	}
	for _, p := range problems.all() {
		b.Errorf("console: %s", p)
	}
}
