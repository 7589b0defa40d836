package web_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/shopstream/shopstream/internal/abtest"
	"github.com/shopstream/shopstream/internal/detector"
	"github.com/shopstream/shopstream/internal/fraud"
	"github.com/shopstream/shopstream/internal/shopgeo"
	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/sqlite"
	"github.com/shopstream/shopstream/internal/store/storetest"
	"github.com/shopstream/shopstream/internal/web"
)

// TestDashboardInBrowser loads the dashboard in headless Chromium while a
// goroutine keeps writing transactions, and checks that the tiles follow the
// live data, that the fraud alerts panel lists new alerts as they come, that
// the detection-quality figures show, that every chart is drawn and that the
// console stays clean. It saves a screenshot to SHOPSTREAM_SCREENSHOT_DIR (or
// a temporary directory).
//
// The browser is SHOPSTREAM_CHROMIUM, /usr/bin/chromium or chromium on PATH.
// Without one the test is skipped, except in CI, which installs it.
func TestDashboardInBrowser(t *testing.T) {
	chromium := findChromium(t)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var stalled atomic.Bool // what /readyz reports, flipped below
	srv, err := web.New(web.Config{Store: st, Logger: slog.New(slog.DiscardHandler), Ready: func(context.Context) web.Readiness {
		if !stalled.Load() {
			return web.Readiness{Ready: true}
		}
		since := time.Now().Add(-time.Minute)
		return web.Readiness{Reasons: []string{"writes failing: connection refused"}, StalledSince: &since}
	}})
	if err != nil {
		t.Fatal(err)
	}
	det, err := detector.New(detector.Config{State: shopgeo.Lookups(fraud.StateConfig{}), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	web.RegisterFraud(srv, web.FraudDeps{Store: st, Detector: det, MetricsTTL: time.Second})
	web.RegisterQuality(srv, st, nil)
	addExperiment(ctx, t, srv, st)
	ts := httptest.NewServer(srv)
	defer ts.Close()

	// The last half hour of history, so the per-minute chart has a line, then
	// a fresh batch every 200 ms, so the dashboard has something to follow.
	f := &feeder{st: st, rng: rand.New(rand.NewPCG(1, 2)), offset: map[int32]int64{}}
	now := time.Now()
	for m := 30; m >= 1; m-- {
		if err := f.write(ctx, now.Add(-time.Duration(m)*time.Minute), 10+f.rng.IntN(20)); err != nil {
			t.Fatalf("writing history: %v", err)
		}
	}
	feedCtx, stopFeed := context.WithCancel(ctx)
	feedErr := make(chan error, 1)
	go func() { feedErr <- f.run(feedCtx, 200*time.Millisecond) }()
	defer func() {
		stopFeed()
		if err := <-feedErr; err != nil {
			t.Errorf("feeding the store: %v", err)
		}
	}()

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(allocCtx, chromedp.WithLogf(t.Logf))
	defer cancelBrowser()

	// Listen starts the browser; its func runs before the reply to any
	// later command, so every message is in problems once an action returns.
	var (
		mu       sync.Mutex
		problems []string
	)
	if err := chromedp.Listen(bctx, func(ev any) {
		var p string
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning ||
				ev.Type == runtime.ConsoleAPICalledTypeAssert {
				p = "console." + string(ev.Type) + ": " + argsText(ev.Args)
			}
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			p = fmt.Sprintf("uncaught exception at %s:%d: %s", d.URL, d.LineNumber+1, d.Text)
			if d.Exception != nil {
				p += " " + d.Exception.Description
			}
		case *log.EventEntryAdded:
			if ev.Entry.Level == log.EntryLevelError {
				p = fmt.Sprintf("browser log (%s): %s %s", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL)
			} else if ev.Entry.Level == log.EntryLevelWarning {
				t.Logf("browser warning (%s): %s %s", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL)
			}
		}
		if p != "" {
			mu.Lock()
			problems = append(problems, p)
			mu.Unlock()
		}
	}); err != nil {
		t.Fatalf("starting Chromium %s: %v", chromium, err)
	}

	wait := func(what, expr string) {
		t.Helper()
		if _, err := chromedp.Run(bctx, chromedp.Poll[bool](expr,
			chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(20*time.Second))); err != nil {
			var state string
			s, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`document.querySelector("header").innerText + " | " + document.querySelector(".tiles").innerText`))
			state = strings.Join(strings.Fields(s), " ")
			t.Fatalf("waiting until %s: %v (page shows: %s)", what, err, state)
		}
	}
	const txCount = `Number(document.getElementById("t-tx").textContent.replace(/,/g, ""))`

	start := time.Now()
	if err := chromedp.Do(bctx, chromedp.Navigate(ts.URL+"/")); err != nil {
		t.Fatalf("loading the dashboard: %v", err)
	}
	wait("the transactions tile shows a count", txCount+` > 0`)
	first, err := chromedp.Run(bctx, chromedp.Evaluate[float64](txCount))
	if err != nil {
		t.Fatal(err)
	}
	wait("the transactions tile grows", txCount+` > `+strconv.FormatFloat(first, 'f', -1, 64))
	wait(`the status says "live"`, `document.getElementById("status").textContent === "live" && document.getElementById("status").classList.contains("ok")`)
	stalled.Store(true)
	wait("the status shows the stall", `/^stalled since .*: writes failing: connection refused$/.test(document.getElementById("status").textContent) && document.getElementById("status").classList.contains("down")`)
	stalled.Store(false)
	wait(`the status says "live" again`, `document.getElementById("status").textContent === "live"`)
	wait("the per-second tile shows a number", `/^[0-9][0-9,]*$/.test(document.getElementById("t-tps").textContent)`)
	wait("the per-second chart has two points", `tpsChart.data[0].length >= 2 && tpsChart.data[1].every(Number.isFinite)`)
	wait("the per-minute chart has data", `minChart.data[0].length >= 2`)

	// The alerts panel: rows with customer, amount, risk, decision and
	// reasons, and a newer alert on top as the feeder declines more.
	const topAlert = `(document.querySelector("#alerts-body tr[data-id]") || {dataset: {}}).dataset.id || ""`
	wait("the alerts panel lists alerts", `document.querySelectorAll("#alerts-body tr[data-id]").length > 0`)
	firstAlert, err := chromedp.Run(bctx, chromedp.Evaluate[string](topAlert))
	if err != nil {
		t.Fatal(err)
	}
	cells, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](`[...document.querySelector("#alerts-body tr[data-id]").cells].map((c) => c.textContent)`))
	if err != nil {
		t.Fatal(err)
	}
	if len(cells) != 7 || !strings.HasPrefix(cells[1], "c") || !regexp.MustCompile(`^[0-9,]+\.[0-9]{2}$`).MatchString(cells[2]) ||
		cells[3] != "0.900" || cells[4] != "decline" || cells[5] != "velocity" {
		t.Errorf("alert row = %q, want time, customer, amount, risk, decision, reasons, status", cells)
	}
	wait("a newer alert tops the panel", "("+topAlert+`) !== "`+firstAlert+`"`)
	wait("the quality panel shows recall and precision", `/^[0-9.]+%$/.test(document.getElementById("fq-recall").textContent) && /^[0-9.]+%$/.test(document.getElementById("fq-precision").textContent)`)
	wait("the recall chart has data", `fraudChart.data[0].length >= 2`)
	wait("the quality panel shows a score and malformed_json failing", `/^[0-9.]+%$/.test(document.getElementById("q-score").textContent) && /malformed_json/.test(document.getElementById("q-checks").textContent)`)
	// The experiments panel: a row per variant with its counts, and the
	// treatment's lift and verdict.
	wait("the experiments panel lists both variants", `document.querySelectorAll("#exp-body tr[data-experiment]").length === 2`)
	expRows, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#exp-body tr[data-experiment]")].map((r) => [...r.cells].map((c) => c.textContent).join("|"))`))
	if err != nil {
		t.Fatal(err)
	}
	wantRows := []string{"recs (running)|control|popularity|6|2|33.33%|0.00|control|", "|treatment|item-item|6|4|66.67%|0.00|"}
	if len(expRows) != 2 || expRows[0] != wantRows[0] || !strings.HasPrefix(expRows[1], wantRows[1]) || !strings.HasSuffix(expRows[1], "|no difference yet") {
		t.Errorf("experiment rows = %q, want %q then a lift and \"no difference yet\"", expRows, wantRows)
	}
	t.Logf("dashboard live after %v", time.Since(start).Round(time.Millisecond))

	// Each chart is a uPlot with a canvas on which its series were drawn:
	// count opaque pixels in each series' stroke colour. One read per canvas,
	// as repeated reads make Chromium warn.
	charts, err := chromedp.Run(bctx, chromedp.Evaluate[[]chartPixels](chartPixelsJS))
	if err != nil {
		t.Fatalf("reading the charts: %v", err)
	}
	want := map[string][]string{"chart-tps": {"tx/s"}, "chart-min": {"revenue", "transactions"}, "chart-fraud": {"recall", "precision"}, "chart-quality": {"score", "failed"}}
	if len(charts) != len(want) {
		t.Errorf("found %d charts, want %d: %+v", len(charts), len(want), charts)
	}
	for _, c := range charts {
		if !c.Canvas || c.Width < 300 || c.Height < 100 {
			t.Errorf("#%s: no uPlot canvas of a usable size: %+v", c.ID, c)
			continue
		}
		for _, label := range want[c.ID] {
			if n := c.Series[label]; n < 50 {
				t.Errorf("#%s: series %q drew %d pixels, want a visible line (>= 50)", c.ID, label, n)
			}
		}
	}

	png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("taking a screenshot: %v", err)
	}
	dir := os.Getenv("SHOPSTREAM_SCREENSHOT_DIR")
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "dashboard.png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatalf("saving the screenshot: %v", err)
	}
	t.Logf("screenshot: %s", path)

	// An evaluation after everything: its reply comes after every event the
	// page raised before it.
	if _, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`true`)); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, p := range problems {
		if strings.Contains(p, "status of 503") && strings.HasSuffix(p, "/readyz") {
			continue // the stall the test set up
		}
		t.Errorf("console: %s", p)
	}
}

// findChromium returns the browser to drive, or skips the test.
func findChromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("SHOPSTREAM_CHROMIUM"); p != "" {
		return p
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	const msg = "no Chromium: set SHOPSTREAM_CHROMIUM or install it (apt-get install chromium)"
	if os.Getenv("CI") != "" {
		t.Fatal(msg + "; CI must have it")
	}
	t.Skip(msg)
	return ""
}

// feeder writes transactions the way the pipeline does: batches over two
// partitions with contiguous offsets, some declined with an alert and now
// and then a quarantined record.
type feeder struct {
	st     store.Store
	rng    *rand.Rand
	offset map[int32]int64
	n      int
}

var (
	channels       = []string{"web", "mobile_web", "app"}
	paymentMethods = []string{"card", "paypal", "apple_pay", "google_pay", "klarna"}
)

func (f *feeder) run(ctx context.Context, every time.Duration) error {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			if err := f.write(ctx, time.Now(), 3+f.rng.IntN(10)); err != nil && ctx.Err() == nil {
				return err
			}
		}
	}
}

// write stores n transactions with event times around at.
func (f *feeder) write(ctx context.Context, at time.Time, n int) error {
	parts := []store.Part{{Partition: 0, From: f.offset[0], CheckedAt: at}, {Partition: 1, From: f.offset[1], CheckedAt: at}}
	for range n {
		p := &parts[f.rng.IntN(len(parts))]
		off := p.From + int64(len(p.Txs)+len(p.Quarantined))
		f.n++
		id := fmt.Sprintf("tx-%06d", f.n)
		tx := storetest.Tx(id, fmt.Sprintf("c%03d", f.rng.IntN(200)), at.Add(-time.Duration(f.rng.IntN(900))*time.Millisecond),
			int64(500+f.rng.IntN(25000)), p.Partition, off)
		tx.Channel = channels[f.rng.IntN(len(channels))]
		tx.PaymentMethod = paymentMethods[f.rng.IntN(len(paymentMethods))]
		tx.Risk = f.rng.Float64() * 0.5
		label := store.Label{TransactionID: id}
		if f.rng.IntN(20) == 0 {
			tx.Risk, tx.Decision, tx.ReasonsJSON = 0.9, "decline", []byte(`["velocity"]`)
			p.Alerts = append(p.Alerts, store.Alert{TransactionID: id, CustomerID: tx.CustomerID, EventTime: tx.EventTime,
				Risk: tx.Risk, Decision: tx.Decision, ReasonsJSON: tx.ReasonsJSON, AmountCents: tx.TotalCents})
			label.Fraud, label.Scenario = f.rng.IntN(5) != 0, "card_testing" // four in five alerts are fraud
		} else if f.rng.IntN(100) == 0 {
			label.Fraud, label.Scenario = true, "stolen_card" // missed
		}
		p.Txs = append(p.Txs, tx)
		p.Labels = append(p.Labels, label)
		if f.rng.IntN(50) == 0 {
			p.Quarantined = append(p.Quarantined, store.Quarantined{Reason: "malformed_json", Detail: "unexpected end of input",
				Raw: []byte(`{"transaction_id":`), Partition: p.Partition, Offset: off + 1})
		}
	}
	for i := range parts {
		parts[i].To = parts[i].From + int64(parts[i].Len())
		f.offset[parts[i].Partition] = parts[i].To
	}
	if err := f.st.WriteBatch(ctx, &store.Batch{Group: "shopstream", Topic: "transactions", Parts: parts}); err != nil {
		return fmt.Errorf("writing batch of %d transactions: %w", n, err)
	}
	return nil
}

// argsText renders console arguments roughly as DevTools does.
func argsText(args []*runtime.RemoteObject) string {
	s := make([]string, 0, len(args))
	for _, a := range args {
		switch {
		case a.Description != "":
			s = append(s, a.Description)
		case len(a.Value) > 0:
			s = append(s, strings.Trim(string(a.Value), `"`))
		default:
			s = append(s, string(a.Type))
		}
	}
	return strings.Join(s, " ")
}

// chartPixels is what chartPixelsJS finds in one .chart element.
type chartPixels struct {
	ID     string         `json:"id"`
	Canvas bool           `json:"canvas"`
	Width  int            `json:"width"`
	Height int            `json:"height"`
	Series map[string]int `json:"series"`
}

// chartPixelsJS counts, for each series of each chart, the opaque canvas
// pixels close to the series' stroke colour.
const chartPixelsJS = `(() => {
  const charts = {"chart-tps": tpsChart, "chart-min": minChart, "chart-fraud": fraudChart, "chart-quality": qualityChart};
  const rgb = (css) => {
    const c = document.createElement("canvas").getContext("2d");
    c.fillStyle = css;
    const m = /^#(..)(..)(..)$/.exec(c.fillStyle);
    return m ? m.slice(1).map((h) => parseInt(h, 16)) : null;
  };
  return [...document.querySelectorAll(".chart")].map((el) => {
    const canvas = el.querySelector(".uplot canvas");
    const out = {id: el.id, canvas: !!canvas, width: canvas ? canvas.width : 0, height: canvas ? canvas.height : 0, series: {}};
    const u = charts[el.id];
    if (!canvas || !u || !canvas.width || !canvas.height) return out;
    const px = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
    for (const s of u.series.slice(1)) {
      const want = rgb(typeof s.stroke === "function" ? s.stroke(u, 1) : s.stroke);
      let n = 0;
      for (let i = 0; want && i < px.length; i += 4) {
        if (px[i + 3] > 200 && Math.abs(px[i] - want[0]) < 24 && Math.abs(px[i + 1] - want[1]) < 24 && Math.abs(px[i + 2] - want[2]) < 24) n++;
      }
      out.series[s.label] = n;
    }
    return out;
  });
})()`

// addExperiment registers the experiment API on srv with one experiment:
// six customers exposed per variant, of whom 2 and 4 converted.
func addExperiment(ctx context.Context, t *testing.T, srv *web.Server, st *sqlite.Store) {
	t.Helper()
	exps, err := abtest.New(abtest.Config{Store: st, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	web.RegisterExperiments(srv, exps)
	start := time.Now().Add(-2 * time.Hour)
	_, err = exps.Create(ctx, abtest.Definition{Name: "recs", Start: start, Variants: []abtest.Variant{
		{Name: "control", Weight: 0.5, Recommender: "popularity"}, {Name: "treatment", Weight: 0.5, Recommender: "item-item"}}})
	if err != nil {
		t.Fatal(err)
	}
	var txs []store.Tx
	for i := range 12 {
		x := store.Exposure{Experiment: "recs", CustomerID: fmt.Sprintf("x%d", i), Variant: i % 2, ExposedAt: start,
			WindowEnd: start.Add(time.Hour), Items: []string{"P1"}}
		if _, err := st.RecordExposure(ctx, &x); err != nil {
			t.Fatal(err)
		}
		if i < 4 || i%2 == 1 && i < 8 { // x0..x3 and x5, x7: 2 of control, 4 of treatment
			tx := storetest.Tx(fmt.Sprintf("x-t%d", i), x.CustomerID, start.Add(time.Minute), 0, 99, int64(len(txs)))
			txs = append(txs, tx)
		}
	}
	if err := st.WriteBatch(ctx, &store.Batch{Group: "exp", Topic: "exp", Parts: []store.Part{{Partition: 99, From: 0, To: int64(len(txs)), Txs: txs}}}); err != nil {
		t.Fatal(err)
	}
}
