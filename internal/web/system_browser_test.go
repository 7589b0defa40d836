package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/shopstream/shopstream/internal/pipeline"
	"github.com/shopstream/shopstream/internal/store/sqlite"
	"github.com/shopstream/shopstream/internal/web"
)

// TestSystemChartsInBrowser loads the System page in headless Chromium
// from a server whose registry has the pipeline's metrics (as run and
// process have), while a goroutine stores transactions and moves those
// metrics, and from one that has only the store's size (as serve has). The
// first draws every chart of the range, backfilled from the server's
// samples (their first points predate the page), and the lag and the
// Overview's transactions per second go on live; a range before the
// server's samples empties them and says so. The second says the pipeline
// runs elsewhere and still charts the store's size and the lag.
func TestSystemChartsInBrowser(t *testing.T) {
	chromium := findChromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	storeSize := func() prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "shopstream_store_size_bytes"}, func() float64 {
			n, _ := st.StoreSize(context.Background())
			return float64(n)
		})
	}
	var lag atomic.Int64
	ready := func(context.Context) web.Readiness {
		l := lag.Add(1)
		return web.Readiness{Ready: true, Detail: map[string]any{"lag": l, "partitions": []map[string]int64{
			{"partition": 0, "committed": 10, "end": 10 + l, "lag": l}, {"partition": 1, "committed": 12, "end": 12, "lag": 0}}}}
	}

	// run: the pipeline's metrics in the same registry.
	reg := prometheus.NewRegistry()
	pm := pipeline.NewMetrics(reg)
	backlog := prometheus.NewGauge(prometheus.GaugeOpts{Name: "shopstream_outbox_pending_messages"})
	reg.MustRegister(storeSize(), backlog)
	srv, err := web.New(web.Config{Store: st, Gatherer: reg, Ready: ready, HistogramEvery: 100 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	// The routes the System and Overview pages read besides.
	web.RegisterQuality(srv, st, nil)
	web.RegisterDeliveries(srv, st)
	ts := httptest.NewServer(srv)
	defer ts.Close()
	// serve: only the store's size.
	serveReg := prometheus.NewRegistry()
	serveReg.MustRegister(storeSize())
	serveSrv, err := web.New(web.Config{Store: st, Gatherer: serveReg, Ready: ready, HistogramEvery: 100 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	web.RegisterQuality(serveSrv, st, nil)
	web.RegisterDeliveries(serveSrv, st)
	serveTS := httptest.NewServer(serveSrv)
	defer serveTS.Close()

	// A batch every 50 ms, counted as the pipeline counts it: records,
	// batch sizes, latencies, and now and then a retry, a stall, a
	// quarantined record and an outbox message more or less.
	f := &feeder{st: st, rng: rand.New(rand.NewPCG(3, 4)), offset: map[int32]int64{}}
	feedCtx, stopFeed := context.WithCancel(ctx)
	feedErr := make(chan error, 1)
	go func() {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-feedCtx.Done():
				feedErr <- nil
				return
			case <-tick.C:
			}
			n := 3 + f.rng.IntN(10)
			if err := f.write(feedCtx, time.Now(), n); err != nil && feedCtx.Err() == nil {
				feedErr <- err
				return
			}
			pm.Records.WithLabelValues("stored").Add(float64(n))
			pm.BatchSize.Observe(float64(n))
			pm.Latency.Observe(0.02 + 0.06*f.rng.Float64())
			if i%10 == 0 {
				pm.Records.WithLabelValues("quarantined").Inc()
			}
			if i%5 == 0 {
				pm.Retries.WithLabelValues("store_transient").Inc()
			}
			if i%20 == 0 {
				pm.Stalls.WithLabelValues("no_commit").Inc()
			}
			backlog.Set(float64(1 + i%7))
		}
	}()
	defer func() {
		stopFeed()
		if err := <-feedErr; err != nil {
			t.Errorf("feeding the store: %v", err)
		}
	}()

	// The page asks for a point every 4 s over 15 minutes: wait until the
	// server has one, so that the charts' first load backfills some.
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := http.Get(ts.URL + "/api/v1/metrics/series?name=shopstream_records_total&step=4&since=" + time.Now().Add(-15*time.Minute).UTC().Format(time.RFC3339))
		if err != nil {
			t.Fatal(err)
		}
		var out web.SeriesRange
		err = json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("the series: %d %v", resp.StatusCode, err)
		}
		if len(out.Metrics) == 1 && len(out.Metrics[0].Times) >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no two points of 4 s after a minute: %+v", out)
		}
		time.Sleep(200 * time.Millisecond) // polling the server's own clock-driven sampler
	}

	bctx, problems, stop := openBrowser(t, ctx, chromium)
	defer stop()
	wait := func(what, expr string) {
		t.Helper()
		if _, err := chromedp.Run(bctx, chromedp.Poll[bool](expr,
			chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(45*time.Second))); err != nil {
			s, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`location.hash + " | " + document.querySelector(".page:not(.hidden)").innerText.slice(0, 1200)`))
			t.Fatalf("waiting until %s: %v (page shows: %s)", what, err, strings.Join(strings.Fields(s), " "))
		}
	}
	eval := func(expr string) string {
		t.Helper()
		s, err := chromedp.Run(bctx, chromedp.Evaluate[string](expr))
		if err != nil {
			t.Fatalf("evaluating %s: %v", expr, err)
		}
		return s
	}
	painted := func(page string, want []string) {
		t.Helper()
		cs, err := chromedp.Run(bctx, chromedp.Evaluate[[]chartPixels](chartPixelsJS))
		if err != nil {
			t.Fatalf("reading the charts: %v", err)
		}
		seen := map[string]bool{}
		for _, c := range cs {
			seen[c.ID] = true
			if !c.Canvas || c.Width < 200 || c.Height < 100 {
				t.Errorf("%s: #%s: no uPlot canvas of a usable size: %+v", page, c.ID, c)
			}
			for label, n := range c.Series {
				if n < 20 {
					t.Errorf("%s: #%s: series %q drew %d pixels, want a visible line (>= 20)", page, c.ID, label, n)
				}
			}
		}
		for _, id := range want {
			if !seen[id] {
				t.Errorf("%s: #%s has no points drawn", page, id)
			}
		}
	}
	points := func(id string) string { return `Number(document.getElementById("` + id + `").dataset.points)` }
	// The page's first point predates the page: it was backfilled.
	const opened = `(performance.timeOrigin / 1000)`

	if err := chromedp.Do(bctx, chromedp.Navigate(ts.URL+"/#/system?range=15m")); err != nil {
		t.Fatal(err)
	}
	charts := []string{"chart-throughput", "chart-batches", "chart-latency", "chart-retries", "chart-outbox", "chart-store", "chart-lag", "chart-latency-dist"}
	for _, id := range charts {
		wait(id+" has points", points(id)+` > 0`)
	}
	wait("the range says where the samples start", `/since the server started at /.test(document.getElementById("sys-range").textContent)`)
	wait("the lag chart was backfilled", `lagChart.data[0].length > 0 && lagChart.data[0][0] < `+opened)
	wait("the throughput chart was backfilled", `sysCharts.throughput.data[0][0] < `+opened)
	if got := eval(`String(sysCharts.throughput.data[1].filter((v) => v > 0).length > 0 && sysCharts.store.data[1].every((v) => v > 0))`); got != "true" {
		t.Errorf("throughput or store size: %s, want records stored per second and a size", eval(`JSON.stringify([sysCharts.throughput.data, sysCharts.store.data])`))
	}
	// The feeder's latencies are 20 to 80 ms: three buckets of the
	// histogram, every record of the range in one of them.
	var dist struct {
		Labels []string
		Counts []float64
		Sub    string
	}
	if err := json.Unmarshal([]byte(eval(`JSON.stringify({labels: sysCharts.latencyDist.data[0].map((i) => sysCharts.latencyDist.spec.xFmt(i)),
		counts: sysCharts.latencyDist.data[1], sub: document.getElementById("latency-dist-sub").textContent})`)), &dist); err != nil {
		t.Fatal(err)
	}
	total := 0.0
	for _, c := range dist.Counts {
		total += c
	}
	subCount, _, _ := strings.Cut(dist.Sub, " records committed over the range")
	if strings.Join(dist.Labels, "|") != "≤ 32 ms|≤ 64 ms|≤ 128 ms" || total == 0 || strings.ReplaceAll(subCount, ",", "") != fmt.Sprint(int(total)) {
		t.Errorf("latency distribution: buckets %v of %v (%s), want ≤ 32, ≤ 64 and ≤ 128 ms holding every record of the range", dist.Labels, dist.Counts, dist.Sub)
	}
	n := eval(`String(` + points("chart-lag") + `)`)
	wait("the lag chart goes on live", points("chart-lag")+` > `+n)
	painted("system", charts)
	if dir := os.Getenv("SHOPSTREAM_SCREENSHOT_DIR"); dir != "" {
		png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "system-charts.png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// The Overview's transactions per second: backfilled, then live.
	eval(`location.hash = "#/overview?range=15m", ""`)
	wait("the tx/s chart was backfilled", `tpsChart.data[0].length > 0 && tpsChart.data[0][0] < `+opened+` && tpsChart.data[1].some((v) => v > 0)`)
	n = eval(`String(` + points("chart-tps") + `)`)
	wait("the tx/s chart goes on live", points("chart-tps")+` > `+n)
	wait("the tx/s chart says where its samples start", `/since the server started at /.test(document.getElementById("tps-sub").textContent)`)

	// A range that ends before the server's samples: nothing, said so.
	eval(`(() => { const f = (t) => new Date(t - new Date().getTimezoneOffset() * 60000).toISOString().slice(0, 16);
		location.hash = "#/system?range=custom&from=" + f(Date.now() - 26 * 3600e3) + "&to=" + f(Date.now() - 25 * 3600e3); return ""; })()`)
	wait("a range before the samples empties the charts", `/ends before the server's oldest sample/.test(document.getElementById("sys-range").textContent) && `+
		points("chart-throughput")+` === 0 && `+points("chart-store")+` === 0 && /No samples: /.test(document.querySelector("#chart-throughput .empty-note").textContent)`)

	// serve: the pipeline's charts say why they are empty; the store's
	// size and the lag are charted.
	if err := chromedp.Do(bctx, chromedp.Navigate(serveTS.URL+"/#/system?range=15m")); err != nil {
		t.Fatal(err)
	}
	wait("serve charts the store's size and the lag", points("chart-store")+` > 0 && `+points("chart-lag")+` > 0`)
	wait("serve says the pipeline runs elsewhere", `/other processes \(shopstream serve\)/.test(document.getElementById("sys-range").textContent)`)
	for _, id := range []string{"chart-throughput", "chart-batches", "chart-latency", "chart-retries", "chart-outbox", "chart-latency-dist"} {
		if got := eval(`(() => { const e = document.getElementById("` + id + `"); const n = e.querySelector(".empty-note");
			return e.dataset.points + " " + getComputedStyle(n).display + " " + n.textContent; })()`); !strings.HasPrefix(got, "0 block No pipeline in this process: under shopstream serve") {
			t.Errorf("serve: #%s shows %q, want no points and the note that the pipeline runs elsewhere", id, got)
		}
	}
	painted("serve's system", []string{"chart-store", "chart-lag"})
	for _, p := range problems.all() {
		t.Errorf("console: %s", p)
	}
}

// TestSystemHistoryRestoredInBrowser: a process sampled the pipeline's
// metrics for 20 hours, up to ten minutes ago, saving its coarse samples
// in the store; a server started now with the same instance id restores
// them, and the System page's 24 h range charts throughput, batch sizes
// and latency (its p95 in the 64-128 ms bucket of the 20-80 ms
// observed) from 20 hours ago (points older than the two hours a
// server keeps of its 15 s samples), at the 5-minute tier's resolution,
// which the page says.
func TestSystemHistoryRestoredInBrowser(t *testing.T) {
	chromium := findChromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	start := time.Now().Add(-20*time.Hour - 10*time.Minute)
	if err := web.SeedSystemHistory(st, "p1", start, 20*60); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	pipeline.NewMetrics(reg)
	srv, err := web.New(web.Config{Store: st, Gatherer: reg, SampleInstance: "p1", HistogramEvery: 100 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	web.RegisterQuality(srv, st, nil)
	web.RegisterDeliveries(srv, st)
	ts := httptest.NewServer(srv)
	defer ts.Close()

	bctx, problems, stop := openBrowser(t, ctx, chromium)
	defer stop()
	if err := chromedp.Do(bctx, chromedp.Navigate(ts.URL+"/#/system?range=24h")); err != nil {
		t.Fatal(err)
	}
	twoHoursAgo := fmt.Sprint(time.Now().Add(-2 * time.Hour).Unix())
	expr := `(() => { const c = sysCharts.throughput, d = c.data;
		return d[0].length > 200 && d[0][0] < ` + fmt.Sprint(start.Add(10*time.Minute).Unix()) + ` &&
			d[0].filter((t, i) => t < ` + twoHoursAgo + ` && d[1][i] > 9 && d[1][i] < 11).length > 200 &&
			sysCharts.latency.data[0].filter((t, i) => t < ` + twoHoursAgo + ` && sysCharts.latency.data[2][i] > 0.064 && sysCharts.latency.data[2][i] <= 0.128).length > 200 &&
			sysCharts.batches.data[0].filter((t, i) => t < ` + twoHoursAgo + ` && sysCharts.batches.data[1][i] >= 10 && sysCharts.batches.data[1][i] < 20).length > 200 &&
			/one every 5 min, kept 48 h/.test(document.getElementById("sys-range").textContent); })()`
	if _, err := chromedp.Run(bctx, chromedp.Poll[bool](expr, chromedp.WithPollingInterval(100*time.Millisecond),
		chromedp.WithPollingTimeout(45*time.Second))); err != nil {
		s, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`document.getElementById("sys-range").textContent + " | " +
			JSON.stringify([sysCharts.throughput.data[0].slice(0, 3), sysCharts.throughput.data[1].slice(0, 3), sysCharts.throughput.data[0].length,
			sysCharts.latency.data[2].slice(0, 3), sysCharts.batches.data[1].slice(0, 3)])`))
		t.Fatalf("the 24 h range: %v (page: %s)", err, s)
	}
	for _, p := range problems.all() {
		t.Errorf("console: %s", p)
	}
}

// TestSystemPageShowsSavedInstancesInBrowser: under a serve-like server
// (its registry has the store's size alone, and no instance id), two
// processes saved their samples in the store: p1 for 20 hours up to ten
// minutes ago at 10 records a second, p2 for 6 hours up to three minutes
// ago at 20. The System page's 24 h range charts the one seen last, p2,
// from its 5-minute samples (about 72 points at 20/s), and says where they
// come from and how often a process saves them; picking p1
// puts instance=p1 in the URL and charts p1's 20 hours at 10/s; p2's last
// 15 minutes come from its saved fine samples, up to its newest.
func TestSystemPageShowsSavedInstancesInBrowser(t *testing.T) {
	chromium := findChromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := web.SeedSystemHistory(st, "p1", time.Now().Add(-20*time.Hour-10*time.Minute), 20*60); err != nil {
		t.Fatal(err)
	}
	if err := web.SeedSystemHistoryRate(st, "p2", time.Now().Add(-6*time.Hour-3*time.Minute), 6*60, 2); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "shopstream_store_size_bytes"}, func() float64 {
		n, _ := st.StoreSize(context.Background())
		return float64(n)
	}))
	srv, err := web.New(web.Config{Store: st, Gatherer: reg, HistogramEvery: 100 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	web.RegisterQuality(srv, st, nil)
	web.RegisterDeliveries(srv, st)
	ts := httptest.NewServer(srv)
	defer ts.Close()

	bctx, problems, stop := openBrowser(t, ctx, chromium)
	defer stop()
	wait := func(what, expr string) {
		t.Helper()
		if _, err := chromedp.Run(bctx, chromedp.Poll[bool](expr,
			chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(45*time.Second))); err != nil {
			s, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`location.hash + " | " + document.getElementById("sys-range").textContent + " | " +
				JSON.stringify([sysCharts.throughput.data[0].length, sysCharts.throughput.data[1].slice(0, 3), document.getElementById("sys-instance").value,
				document.getElementById("chart-throughput").dataset.points])`))
			t.Fatalf("waiting until %s: %v (page: %s)", what, err, s)
		}
	}
	// The charts of an instance: n points at least, drawn (the chart's
	// data-points), the throughput about rate a second from before the
	// two hours a process keeps in memory, and latencies (20-80 ms) and
	// the latency distribution's buckets.
	charted := func(inst string, n int, lo, hi float64) string {
		return `(() => { const d = sysCharts.throughput.data, el = document.getElementById("chart-throughput");
			return document.getElementById("sys-range").dataset.instance === "` + inst + `" && d[0].length >= ` + fmt.Sprint(n) + ` &&
				Number(el.dataset.points) === d[0].length &&
				d[0].filter((t, i) => t < Date.now() / 1000 - 7200 && d[1][i] > ` + fmt.Sprint(lo) + ` && d[1][i] < ` + fmt.Sprint(hi) + `).length >= ` + fmt.Sprint(n-30) + ` &&
				sysCharts.latency.data[2].filter((v) => v > 0.02 && v <= 0.128).length >= ` + fmt.Sprint(n-30) + ` &&
				Number(document.getElementById("chart-latency-dist").dataset.points) > 0 &&
				/From the samples ` + inst + ` saved in the store, one every 5 min, kept 48 h/.test(document.getElementById("sys-range").textContent) &&
				/saves a sample every 15 s/.test(document.getElementById("sys-range").textContent); })()`
	}
	if err := chromedp.Do(bctx, chromedp.Navigate(ts.URL+"/#/system?range=24h")); err != nil {
		t.Fatal(err)
	}
	wait("p2, seen last, is charted", charted("p2", 65, 19, 21)+` && !document.getElementById("sys-pick").classList.contains("hidden") &&
		document.getElementById("sys-instance").value === "p2" && document.getElementById("sys-instance").options.length === 2 && !/instance=/.test(location.hash)`)
	if _, err := chromedp.Run(bctx, chromedp.Evaluate[string](`(() => { const s = document.getElementById("sys-instance");
		s.value = "p1"; s.dispatchEvent(new Event("change")); return ""; })()`)); err != nil {
		t.Fatal(err)
	}
	wait("picking p1 puts it in the URL and charts it", `/[?&]instance=p1(&|$)/.test(location.hash) && `+charted("p1", 220, 9, 11))
	// The last 15 minutes of p2 come from its fine samples (saved each
	// minute here, a process's every 15 s), up to its newest, three
	// minutes ago: a 5-minute tier would have two points at most.
	if err := chromedp.Do(bctx, chromedp.Navigate(ts.URL+"/#/system?range=15m&instance=p2")); err != nil {
		t.Fatal(err)
	}
	wait("p2's last 15 minutes from its 15 s samples", `(() => { const d = sysCharts.throughput.data, r = document.getElementById("sys-range");
		return r.dataset.instance === "p2" && r.dataset.resolution === "15" && d[0].length >= 10 &&
			d[1].filter((v) => v > 19 && v < 21).length >= 10 && Date.now() / 1000 - d[0][d[0].length - 1] < 4 * 60 &&
			/one every 15 s, kept 2 h/.test(r.textContent); })()`)
	if dir := os.Getenv("SHOPSTREAM_SCREENSHOT_DIR"); dir != "" {
		png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "system-instance.png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range problems.all() {
		t.Errorf("console: %s", p)
	}
}

// TestOverviewLatencyUnderServeInBrowser: under a serve-like server (no
// pipeline in its registry, no instance id), three processes saved their
// samples in the store: p1 for the last two and a half hours, committing
// 90 records a minute 20 ms after they were produced; p2 30 a minute at
// 500 ms, up to 70 minutes ago; p3 10 a minute at 500 ms, for the last 80
// minutes. The Overview's p95 tile of the last hour merges p1's and p3's
// histograms (p2 was last seen before it): its value is in the 500 ms
// bucket (256 to 512 ms; p1's alone would be under 32 ms), its label says
// two processes, and its change against the hour before, whose p95 sits
// higher in the same bucket (p1, p2 and p3 there: a quarter of the records
// at 500 ms, a tenth now), is a fall.
func TestOverviewLatencyUnderServeInBrowser(t *testing.T) {
	chromium := findChromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	end := time.Now().Add(-30 * time.Second)
	for _, s := range []struct {
		inst      string
		from      time.Time
		n, perMin int
		lat       float64
	}{
		{"p1", end.Add(-150 * time.Minute), 150, 90, 0.02},
		{"p2", end.Add(-150 * time.Minute), 80, 30, 0.5},
		{"p3", end.Add(-80 * time.Minute), 80, 10, 0.5},
	} {
		if err := web.SeedLatencyHistory(st, s.inst, s.from, s.n, s.perMin, s.lat); err != nil {
			t.Fatal(err)
		}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: "shopstream_store_size_bytes"}))
	srv, err := web.New(web.Config{Store: st, Gatherer: reg, HistogramEvery: 100 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	web.RegisterQuality(srv, st, nil)
	ts := httptest.NewServer(srv)
	defer ts.Close()

	bctx, problems, stop := openBrowser(t, ctx, chromium)
	defer stop()
	if err := chromedp.Do(bctx, chromedp.Navigate(ts.URL+"/#/overview?range=1h")); err != nil {
		t.Fatal(err)
	}
	const tile = `(() => { const t = document.getElementById("o-p95");
		return JSON.stringify({value: t.querySelector(".value").textContent, label: t.querySelector(".label").textContent,
			delta: t.querySelector(".delta").textContent, instances: t.dataset.instances}); })()`
	if _, err := chromedp.Run(bctx, chromedp.Poll[bool](`document.getElementById("o-p95").dataset.instances === "p1,p3"`,
		chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(45*time.Second))); err != nil {
		s, _ := chromedp.Run(bctx, chromedp.Evaluate[string](tile))
		t.Fatalf("waiting for the p95 tile of p1 and p3: %v (tile: %s)", err, s)
	}
	s, err := chromedp.Run(bctx, chromedp.Evaluate[string](tile))
	if err != nil {
		t.Fatal(err)
	}
	var got struct{ Value, Label, Delta, Instances string }
	if err := json.Unmarshal([]byte(s), &got); err != nil {
		t.Fatal(err)
	}
	ms, err := strconv.ParseFloat(strings.TrimSuffix(strings.ReplaceAll(got.Value, ",", ""), " ms"), 64)
	if err != nil || ms <= 256 || ms > 512 {
		t.Errorf("p95 tile %q, want the 500 ms bucket, 256 to 512 ms", got.Value)
	}
	if got.Label != "p95 produce → commit (2 processes)" || !strings.HasPrefix(got.Delta, "▼ ") || !strings.HasSuffix(got.Delta, "vs previous period") {
		t.Errorf("p95 tile %+v, want two processes and a fall against the hour before", got)
	}
	for _, p := range problems.all() {
		t.Errorf("console: %s", p)
	}
}
