package web_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/shopstream/shopstream/internal/abtest"
	"github.com/shopstream/shopstream/internal/detector"
	"github.com/shopstream/shopstream/internal/fraud"
	"github.com/shopstream/shopstream/internal/pipeline"
	"github.com/shopstream/shopstream/internal/recsvc"
	"github.com/shopstream/shopstream/internal/shopgeo"
	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/sqlite"
	"github.com/shopstream/shopstream/internal/store/storetest"
	"github.com/shopstream/shopstream/internal/web"
)

// TestDashboardInBrowser loads every page of the dashboard in headless
// Chromium while a goroutine keeps writing transactions, and checks what a
// user sees: the live stream's data arriving (each chart's data-points
// grows), charts painted, the freshness indicator following readiness, the
// time-range picker and drill-downs changing what is shown and the URL, a
// CSV export holding the rows shown, a labelled alert keeping its row, no
// horizontal scroll at 390 px, light and dark themes, and a clean console.
// It saves a screenshot of each page to SHOPSTREAM_SCREENSHOT_DIR (or a
// temporary directory).
//
// The browser is SHOPSTREAM_CHROMIUM, /usr/bin/chromium or chromium on PATH.
// Without one the test is skipped, except in CI, which installs it.
func TestDashboardInBrowser(t *testing.T) {
	chromium := findChromium(t)

	// Generous: under -race on a loaded host, every step is slow.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var stalled atomic.Bool // what /readyz reports, flipped below
	var lag atomic.Int64
	// The pipeline's own metrics: a history backfill's latencies of 40 s
	// before the server started, then produce-to-commit latencies of 20
	// to 80 ms, which the Overview's p95 tile shows (the backfill left
	// out: it precedes the server's first sample of the histogram).
	reg := prometheus.NewRegistry()
	pm := pipeline.NewMetrics(reg)
	for range 1000 {
		pm.Latency.Observe(40)
	}
	srv, err := web.New(web.Config{Store: st, Logger: slog.New(slog.DiscardHandler), Lookups: syntheticLookups, Gatherer: reg, Ready: func(context.Context) web.Readiness {
		detail := map[string]any{"lag": lag.Load(), "pending_batches": 0, "last_commit": time.Now(),
			"partitions": []map[string]int64{{"partition": 0, "committed": 10, "end": 10 + lag.Load(), "lag": lag.Load()}, {"partition": 1, "committed": 12, "end": 12, "lag": 0}}}
		lag.Add(1)
		if !stalled.Load() {
			return web.Readiness{Ready: true, Detail: detail}
		}
		since := time.Now().Add(-time.Minute)
		return web.Readiness{Reasons: []string{"writes failing: connection refused"}, StalledSince: &since, Detail: detail}
	}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		pm.Latency.Observe(0.02 + 0.06*float64(i)/99)
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
	addCustomerHistory(ctx, t, st)
	exps := addExperiment(ctx, t, srv, st)
	// A ring the entity stage found: three customers on one device.
	ringAt := time.Now().Add(-10 * time.Minute)
	if err := st.WriteEntityBatch(ctx, &store.EntityBatch{Group: "entities", Topic: "transactions.entities", Parts: []store.EntityPart{{
		Partition: 0, From: 0, To: 1, Rings: []store.EntityRing{{Key: "device:d-ring", Members: []string{"c-ring-1", "c-ring-2", "c-ring-3"},
			Entities: []string{"device:d-ring"}, Reason: "3 customers share device d-ring", TransactionID: "tx-ring",
			FirstEventTime: ringAt, LastEventTime: ringAt, ProducedAt: ringAt}}}}}); err != nil {
		t.Fatal(err)
	}
	// The experiment assigns every customer: a recommendation asked
	// without preview records an exposure.
	recs, err := recsvc.New(recsvc.Config{Store: st, Assigner: exps})
	if err != nil {
		t.Fatal(err)
	}
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
	if _, err := recs.Fold(ctx); err != nil {
		t.Fatal(err)
	}
	recs.Rebuild()
	web.RegisterRecommendations(srv, recs)
	feedCtx, stopFeed := context.WithCancel(ctx)
	feedErr := make(chan error, 1)
	go func() { feedErr <- f.run(feedCtx, 200*time.Millisecond) }()
	defer func() {
		stopFeed()
		if err := <-feedErr; err != nil {
			t.Errorf("feeding the store: %v", err)
		}
	}()

	downloads := t.TempDir()
	bctx, problems, stopBrowser := openBrowser(t, ctx, chromium)
	defer stopBrowser()
	// A time zone other than UTC, half an hour off the hour, so a time
	// written in one zone and read in another shows.
	if _, err := chromedp.Call(bctx, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "Asia/Kolkata"}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.CallBrowser(bctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: downloads}); err != nil {
		t.Fatal(err)
	}

	wait := func(what, expr string) {
		t.Helper()
		if _, err := chromedp.Run(bctx, chromedp.Poll[bool](expr,
			chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(45*time.Second))); err != nil {
			s, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`location.hash + " | " + document.querySelector("header").innerText + " | " + document.querySelector(".page:not(.hidden)").innerText.slice(0, 600)`))
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
	points := func(id string) int {
		t.Helper()
		n, _ := strconv.Atoi(eval(`document.getElementById("` + id + `").dataset.points`))
		return n
	}
	dir := os.Getenv("SHOPSTREAM_SCREENSHOT_DIR")
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	shot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(bctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatalf("taking a screenshot: %v", err)
		}
		png, err = smallPNG(png)
		if err != nil {
			t.Fatalf("shrinking the screenshot: %v", err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
			t.Fatalf("saving the screenshot: %v", err)
		}
	}
	// painted checks that every chart of the page with points drew each of
	// its series in its colour.
	painted := func(page string) {
		t.Helper()
		cs, err := chromedp.Run(bctx, chromedp.Evaluate[[]chartPixels](chartPixelsJS))
		if err != nil {
			t.Fatalf("reading the charts: %v", err)
		}
		for _, c := range cs {
			if !c.Canvas || c.Width < 200 || c.Height < 100 {
				t.Errorf("%s: #%s: no uPlot canvas of a usable size: %+v", page, c.ID, c)
				continue
			}
			for label, n := range c.Series {
				if n < 20 {
					t.Errorf("%s: #%s: series %q drew %d pixels, want a visible line (>= 20); data %s", page, c.ID, label, n,
						eval(`JSON.stringify([...charts].find((c) => c.el.id === "`+c.ID+`").data)`))
				}
			}
		}
	}
	show := func(hash string) {
		t.Helper()
		eval(`location.hash = "` + hash + `"`)
	}

	start := time.Now()
	if err := chromedp.Do(bctx, chromedp.Navigate(ts.URL+"/#/overview")); err != nil {
		t.Fatalf("loading the dashboard: %v", err)
	}

	// Overview: the stream's totals, the freshness indicator, the charts.
	const txCount = `Number(document.getElementById("t-tx").textContent.replace(/,/g, ""))`
	wait("the transactions tile shows a count", txCount+` > 0`)
	first := eval(`String(` + txCount + `)`)
	wait("the transactions tile grows", txCount+` > `+first)
	wait(`the status says "live"`, `document.getElementById("status").textContent === "live" && document.getElementById("status").classList.contains("ok")`)
	stalled.Store(true)
	wait("the status shows the stall", `/^stalled since .*: writes failing: connection refused$/.test(document.getElementById("status").textContent) && document.getElementById("status").classList.contains("down")`)
	stalled.Store(false)
	wait(`the status says "live" again`, `document.getElementById("status").textContent === "live"`)
	wait("the live chart has points", `Number(document.getElementById("chart-tps").dataset.points) >= 2`)
	n := points("chart-tps")
	wait("the live chart grows", `Number(document.getElementById("chart-tps").dataset.points) > `+strconv.Itoa(n))
	wait("the volume chart has the history", `Number(document.getElementById("chart-volume").dataset.points) >= 25`)
	wait("the tiles show a rate and a change", `/^[0-9.,]+$/.test(document.querySelector("#o-tps .value").textContent) && /vs previous period/.test(document.querySelector("#o-tps .delta").textContent)`)
	wait("the p95 tile shows the pipeline's produce-to-commit latency", `/^[0-9.,]+ ms$/.test(document.querySelector("#o-p95 .value").textContent)`)
	if p95 := eval(`document.querySelector("#o-p95 .value").textContent`); func() bool {
		ms, err := strconv.ParseFloat(strings.TrimSuffix(strings.ReplaceAll(p95, ",", ""), " ms"), 64)
		return err != nil || ms < 20 || ms > 128
	}() {
		t.Errorf("p95 tile %q, want the p95 of 20 to 80 ms observed in the range, the backfill's 40 s left out", p95)
	}
	if d := eval(`document.querySelector("#o-p95 .delta").textContent`); !strings.HasPrefix(d, "since ") {
		t.Errorf("p95 tile's note %q, want it to say the range starts at the server's oldest sample", d)
	}
	if rev := eval(`document.querySelector("#o-rev .value").textContent`); !regexp.MustCompile(`^\D+[0-9,]+$`).MatchString(rev) {
		t.Errorf("revenue tile %q, want an amount with its currency sign", rev)
	}
	// The unfinished minute is not drawn: the newest point is a whole
	// minute that is over.
	if last := eval(`String(volumeChart.data[0][volumeChart.data[0].length - 1] + 60 <= Date.now() / 1000)`); last != "true" {
		t.Errorf("the volume chart draws the unfinished minute")
	}
	painted("overview")
	shot("overview")
	t.Logf("overview live after %v", time.Since(start).Round(time.Millisecond))

	// The time-range picker: 15 minutes shows fewer minutes, and the URL says so.
	before := points("chart-volume")
	eval(`(() => { const s = document.getElementById("range"); s.value = "15m"; s.dispatchEvent(new Event("change")); return ""; })()`)
	wait("the URL has the range", `location.hash.includes("range=15m")`)
	wait("the volume chart shows 15 minutes", `Number(document.getElementById("chart-volume").dataset.points) <= 16 && Number(document.getElementById("chart-volume").dataset.points) > 0`)
	if after := points("chart-volume"); after >= before {
		t.Errorf("15 minutes show %d points, the hour %d", after, before)
	}

	// A custom range of the last 20 minutes, in the browser's local time as
	// the from/to inputs take it.
	eval(`(() => { const f = (t) => new Date(t - new Date().getTimezoneOffset() * 60000).toISOString().slice(0, 16);
		location.hash = "#/overview?range=custom&from=" + f(Date.now() - 20 * 60000) + "&to=" + f(Date.now()); return ""; })()`)
	wait("the custom range shows its inputs and about 20 minutes", `!document.getElementById("custom").classList.contains("hidden") && document.getElementById("range").value === "custom" &&
		document.getElementById("from").value !== "" && Number(document.getElementById("chart-volume").dataset.points) >= 15 && Number(document.getElementById("chart-volume").dataset.points) <= 21`)

	// Choosing "custom" without from and to fills in the last six hours
	// in the browser's time zone, as the range is read back.
	show("#/overview?range=1h")
	wait("the range is the hour", `document.getElementById("range").value === "1h"`)
	eval(`(() => { const s = document.getElementById("range"); s.value = "custom"; s.dispatchEvent(new Event("change")); return ""; })()`)
	wait("the default custom range is the last six hours", `(() => { const r = timeRange(); return r.custom === true &&
		Math.abs(r.to - Date.now() / 1000) < 120 && Math.abs(r.seconds - 6 * 3600) < 1; })()`)

	// Fraud: the queue, a label that keeps its row, filters and a
	// drill-down in the URL, the detail view, the CSV export.
	show("#/fraud?range=1h")
	wait("the fraud metrics say their range", `document.getElementById("fq-sub").textContent.startsWith("last 1h of event time: ")`)
	wait("the alert queue lists alerts", `document.querySelectorAll("#alerts-body tr[data-id]").length > 0`)
	cells, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](`[...document.querySelector("#alerts-body tr[data-id]").cells].map((c) => c.textContent)`))
	if err != nil {
		t.Fatal(err)
	}
	if len(cells) != 8 || !strings.HasPrefix(cells[1], "c") || !regexp.MustCompile(`^[0-9,]+\.[0-9]{2}$`).MatchString(cells[2]) ||
		cells[3] != "0.900" || cells[4] != "decline" || (cells[5] != "card_testing" && cells[5] != "pending label") || cells[6] != "velocity" {
		t.Errorf("alert row = %q, want time, customer, amount, risk, decision, scenario, reasons, status", cells)
	}
	wait("alerts whose label has not come say so, the others name their scenario", `(() => {
		const cs = [...document.querySelectorAll("#alerts-body tr[data-id] td:nth-child(6)")].map((c) => c.textContent);
		return cs.includes("pending label") && cs.includes("card_testing"); })()`)
	const topAlert = `document.querySelector("#alerts-body tr[data-id]").dataset.id`
	firstAlert := eval(topAlert)
	wait("a newer alert arrives on top over the stream", topAlert+` !== "`+firstAlert+`"`)
	// An alert whose label came with it: an analyst's verdict on one still
	// pending would add an "analyst" line of one point to the scenario chart.
	labelled := eval(`(() => { const tr = [...document.querySelectorAll("#alerts-body tr[data-id]")].find((r) => r.cells[5].textContent === "card_testing");
		tr.querySelector("td.label-cell button").click(); return tr.dataset.id; })()`)
	wait("the labelled alert keeps its row and says who labelled it", `(() => { const tr = document.querySelector('#alerts-body tr[data-id="`+labelled+`"]');
		return tr !== null && tr.querySelector(".status-confirmed_fraud") !== null && /by local at/.test(tr.textContent); })()`)
	// It stays on a reload too: who and when come from the store.
	show("#/fraud?range=1h&status=confirmed_fraud")
	wait("the labelled alert is listed after a reload with who and when", `(() => { const tr = document.querySelector('#alerts-body tr[data-id="`+labelled+`"]');
		return tr !== null && /by local at \d/.test(tr.querySelector("td.label-cell").textContent); })()`)
	show("#/fraud?range=1h")
	wait("the scenarios table lists card_testing", `document.querySelector('#fq-scenarios tr[data-scenario="card_testing"]') !== null`)
	wait("the recall chart has points", `Number(document.getElementById("chart-fraud").dataset.points) > 0`)
	wait("the recall-by-scenario chart has points and a card_testing line", `Number(document.getElementById("chart-scenarios").dataset.points) > 0 &&
		/recall card_testing/.test(document.getElementById("chart-scenarios").textContent)`)
	eval(`document.querySelector('#fq-scenarios tr[data-scenario="card_testing"]').click(), ""`)
	wait("the drill-down is in the URL", `location.hash.includes("scenario=card_testing")`)
	wait("the filter shows the scenario", `document.getElementById("f-scenario").value === "card_testing"`)
	wait("the API lists the scenario's alerts, none pending its label", `document.querySelectorAll("#alerts-body tr[data-id]").length > 0 &&
		[...document.querySelectorAll("#alerts-body tr[data-id] td:nth-child(6)")].every((c) => c.textContent === "card_testing")`)
	// Labels arriving late: a chargeback names the scenario of an alert
	// that was pending its label. A listed alert's row says so in place;
	// with a filter by that scenario, the alert joins the list. Both over
	// the stream, without a reload of the queue.
	var late []string
	if as, err := st.Alerts(ctx, store.AlertFilter{Limit: 50}); err != nil {
		t.Fatal(err)
	} else {
		for _, a := range as {
			if a.Scenario == "" && a.Status == "open" && len(late) < 2 {
				late = append(late, a.TransactionID)
			}
		}
	}
	if len(late) < 2 {
		t.Fatalf("%d of the newest stored alerts pend their label, want 2", len(late))
	}
	labelOffset := int64(0)
	label := func(id, kind string, fraud bool, scenario string) {
		t.Helper()
		if _, err := st.WriteLabels(ctx, &store.Batch{Group: "shopstream", Topic: "labels", Parts: []store.Part{{Partition: 0, From: labelOffset, To: labelOffset + 1,
			LabelEvents: []store.LabelEvent{{LabelID: kind + "-" + id, TransactionID: id, Kind: kind, Fraud: fraud, Scenario: scenario,
				EventTime: time.Now(), Offset: labelOffset}}}}}, store.LabelOptions{}); err != nil {
			t.Fatal(err)
		}
		labelOffset++
	}
	countLoads := `(() => { if (!window.countsAlertLoads) { window.countsAlertLoads = true; const f = window.fetch;
		window.fetch = (u, o) => { if (/^api\/v1\/alerts\?/.test(String(u))) window.alertLoads++; return f(u, o); }; }
		window.alertLoads = 0; return ""; })()`
	show("#/fraud?range=1h")
	wait("the first pending alert is listed", `document.documentElement.dataset.loading === "0" && document.querySelector('#alerts-body tr[data-id="`+late[0]+`"][data-scenario=""]') !== null`)
	eval(countLoads)
	label(late[0], "chargeback", true, "account_takeover")
	wait("the listed alert's row shows its scenario in place", `document.querySelector('#alerts-body tr[data-id="`+late[0]+`"][data-scenario="account_takeover"]') !== null &&
		document.querySelector('#alerts-body tr[data-id="`+late[0]+`"] td:nth-child(6)').textContent === "account_takeover"`)
	if n := eval(`String(window.alertLoads)`); n != "0" {
		t.Errorf("the queue was loaded %s times from the API while the label arrived: want it from the stream", n)
	}
	show("#/fraud?range=1h&scenario=account_takeover")
	wait("the account_takeover list shows only the first", `document.documentElement.dataset.loading === "0" && document.getElementById("f-scenario").value === "account_takeover" &&
		document.querySelectorAll("#alerts-body tr[data-id]").length === 1 && document.querySelector('#alerts-body tr[data-id="`+late[0]+`"]') !== null`)
	eval(countLoads)
	label(late[1], "chargeback", true, "account_takeover")
	wait("the late-labelled alert joins the filtered list over the stream, newest first", `document.querySelectorAll("#alerts-body tr[data-id]").length === 2 &&
		document.querySelector('#alerts-body tr[data-id="`+late[1]+`"][data-scenario="account_takeover"]') !== null &&
		document.querySelector('#alerts-body tr[data-id="`+late[1]+`"] td:nth-child(6)').textContent === "account_takeover" &&
		document.querySelector("#alerts-body tr[data-id]").dataset.id === "`+late[0]+`"`)
	if n := eval(`String(window.alertLoads)`); n != "0" {
		t.Errorf("the queue was loaded %s times from the API while the label arrived: want it from the stream", n)
	}
	// An analyst's verdict of legitimate on the first: no longer fraud of
	// the scenario, it leaves the filtered list.
	label(late[0], "analyst", false, "")
	wait("the alert whose label changed leaves the filtered list", `document.querySelector('#alerts-body tr[data-id="`+late[0]+`"]') === null &&
		document.querySelector('#alerts-body tr[data-id="`+late[1]+`"]') !== null`)
	show("#/fraud?range=1h&scenario=card_testing")
	wait("the card_testing list is back", `document.querySelectorAll("#alerts-body tr[data-id]").length > 0 && document.getElementById("f-scenario").value === "card_testing"`)
	eval(`(() => { const s = document.getElementById("f-decision"); s.value = "review"; s.dispatchEvent(new Event("change", {bubbles: true})); return ""; })()`)
	wait("the decision filter is in the URL", `location.hash.includes("decision=review")`)
	wait("no declined alert is listed", `document.querySelectorAll("#alerts-body tr[data-id]").length === 0 && /matches the filters/.test(document.getElementById("alerts-body").textContent)`)
	show("#/fraud?range=1h&decision=decline")
	wait("only declined alerts are listed", `document.querySelectorAll("#alerts-body tr[data-id]").length > 0 && [...document.querySelectorAll("#alerts-body tr[data-id] td:nth-child(5)")].every((c) => c.textContent === "decline")`)
	opened := eval(`(() => { const tr = document.querySelector("#alerts-body tr[data-id]"); tr.cells[1].click(); return tr.dataset.id; })()`)
	wait("the alert detail opens with its reasons, features, transaction and model, and the URL carries it", `(() => {
		const box = document.getElementById("alert-detail"), body = document.getElementById("ad-body").textContent;
		return !box.classList.contains("hidden") && location.hash.includes("alert=`+opened+`") &&
			document.getElementById("ad-id").textContent === "`+opened+`" && /velocity/.test(body) &&
			document.querySelectorAll("#ad-body table.features tr[data-feature]").length === 2 &&
			document.querySelector('#ad-body tr[data-feature="amount"] td.num').textContent === "1" && /v2/.test(body) && /channel, payment/.test(body); })()`)
	// The detail is addressable: the URL alone opens it in a fresh load,
	// whether or not the queue's page lists the alert.
	show("#/fraud?range=1h&status=false_positive&alert=" + opened)
	wait("the URL alone opens the alert's detail", `!document.getElementById("alert-detail").classList.contains("hidden") &&
		document.getElementById("ad-id").textContent === "`+opened+`" && document.querySelectorAll("#ad-body table.features tr[data-feature]").length === 2 &&
		/velocity/.test(document.getElementById("ad-body").textContent)`)
	show("#/fraud?range=1h&decision=decline")
	wait("the rings panel lists the ring with its members, and counts the range's rings and accounts", `(() => { const tr = document.querySelector('#rings-body tr[data-ring="device:d-ring"]');
		return tr !== null && /c-ring-1, c-ring-2, c-ring-3/.test(tr.textContent) && tr.querySelectorAll("td.members a").length === 3 &&
			/^1 ring joining 3 accounts grew in the range/.test(document.getElementById("rings-sub").textContent); })()`)
	wait("the score histogram has bars", `Number(document.getElementById("chart-scores").dataset.points) > 0`)
	// A custom range that ended before the ring grew counts none.
	show("#/fraud?range=custom&from=2001-01-01T00:00&to=2001-01-02T00:00")
	wait("a range before the ring lists and counts none", `document.querySelector('#rings-body tr[data-ring]') === null &&
		document.getElementById("rings-sub").textContent === "" && /no rings found yet/.test(document.getElementById("rings-body").textContent)`)
	// Pause, so the rows shown stay put while exported.
	show("#/fraud?range=1h&decision=decline&refresh=off")
	wait("the refresh is paused and the page loaded", `document.getElementById("refresh").value === "off" && document.documentElement.dataset.loading === "0"`)
	rows := eval(`String(document.querySelectorAll("#alerts-body tr[data-id]").length)`)
	eval(`document.querySelector('#alerts button[data-export="csv"]').click(), ""`)
	csv := waitForFile(t, downloads, "alerts-", ".csv")
	lines := strings.Split(strings.TrimSpace(csv), "\n")
	if strconv.Itoa(len(lines)-1) != rows || !strings.HasPrefix(lines[0], "event time,customer,amount,risk,decision") {
		t.Errorf("the CSV has %d rows after %q, the table %s", len(lines)-1, lines[0], rows)
	}
	for _, l := range lines[1:] {
		if !strings.Contains(l, ",decline,") {
			t.Errorf("CSV row %q is not a declined alert", l)
		}
		// The event time in full (year and zone), the status without
		// the label buttons' text.
		f := strings.Split(l, ",")
		if _, err := time.Parse(time.RFC3339, f[0]); err != nil {
			t.Errorf("CSV row %q: event time %q is not RFC 3339", l, f[0])
		}
		if st := f[len(f)-1]; strings.Contains(st, "false +") || !(strings.HasPrefix(st, "open") || strings.HasPrefix(st, "fraud") || strings.HasPrefix(st, "false positive")) {
			t.Errorf("CSV row %q: status %q, want the status (and who labelled it), not the buttons", l, st)
		}
	}
	painted("fraud")
	show("#/fraud?range=1h")
	wait("the filters clear", `document.querySelectorAll("#alerts-body tr[data-id]").length > 0`)
	shot("fraud")

	// Customers: segments to drill into, cohorts, the CLV fit, clusters,
	// and a customer's page from the search.
	show("#/customers?range=1h")
	wait("the segments are listed", `document.querySelector('#seg-body tr[data-segment="Champions"]') !== null`)
	wait("the segment chart has a bar per segment", `Number(document.getElementById("chart-segments").dataset.points) === document.querySelectorAll("#seg-body tr[data-segment]").length`)
	eval(`document.querySelector('#seg-body tr[data-segment="Champions"]').click(), ""`)
	wait("the segment is in the URL and alone in the chart", `location.hash.includes("segment=Champions") && document.getElementById("chart-segments").dataset.points === "1"`)
	wait("the cohort heatmap has its month", `/2026-01/.test(document.getElementById("coh-body").textContent) && document.querySelectorAll("#coh-body td.heat").length === 2`)
	wait("the CLV fit shows", `/BG\/NBD log-likelihood/.test(document.getElementById("clv-body").textContent)`)
	wait("the CLV and P(alive) distributions have their bars", `Number(document.getElementById("chart-clv-dist").dataset.points) === 1 &&
		Number(document.getElementById("chart-alive").dataset.points) === 10 && /1 customers, mean 140/.test(document.getElementById("cd-sub").textContent)`)
	wait("the clusters show", `document.querySelectorAll("#cl-body tr").length === 2`)
	eval(`(() => { document.getElementById("cust-id").value = "c001"; document.getElementById("cust-form").requestSubmit(); return ""; })()`)
	wait("the customer is in the URL", `location.hash.includes("customer=c001")`)
	wait("the customer page shows the orders", `/orders/.test(document.getElementById("cust-body").textContent) && /first seen/.test(document.getElementById("cust-body").textContent)`)
	shot("customers")
	// A fresh tab on c-hist, whose alerts no queue page loaded: the risk
	// and the purchase history come from the server, and looking records
	// no exposure although the experiment covers c-hist.
	if _, ok := exps.Assign("c-hist"); !ok {
		t.Fatal("the experiment does not assign c-hist")
	}
	exposures := func() (n int, hist bool) {
		t.Helper()
		if err := st.Exposures(ctx, "recs", func(x *store.Exposure) error {
			n++
			hist = hist || x.CustomerID == "c-hist"
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return n, hist
	}
	if err := chromedp.Do(bctx, chromedp.Navigate(ts.URL+"/#/customers?range=1h&refresh=off&customer=c-hist")); err != nil {
		t.Fatal(err)
	}
	// Its rows, not those of the customer shown before, which stay until
	// c-hist's answer comes (a loaded CI host showed them at the first check).
	wait("the history lists c-hist's five purchases", `(() => { const rs = [...document.querySelectorAll("#cust-tx-body tr[data-id]")];
		return rs.length === 5 && rs.every((r) => r.dataset.id.startsWith("h-t")) && !document.getElementById("cust-history").classList.contains("hidden"); })()`)
	histRows, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#cust-tx-body tr[data-id]")].map((r) => [...r.cells].slice(1).map((c) => c.textContent).join("|"))`))
	if err != nil {
		t.Fatal(err)
	}
	if len(histRows) != 5 || histRows[0] != "h-t4|$14.00|USD|2|app|klarna|0.05|approve" || histRows[1] != "h-t3|$13.00|USD|2|app|klarna|0.93|decline" ||
		!strings.HasPrefix(histRows[4], "h-t0|$10.00|") {
		t.Errorf("history rows = %q, want h-t4 … h-t0 newest first", histRows)
	}
	wait("the risk is c-hist's stored alerts", `/^4 alerts: 4 declined, 0 in review; highest risk 0\.93; latest decline 0\.93 at /.test(document.getElementById("cust-risk").textContent)`)
	wait("the recommendations answer as a preview", `/^recommendations \(popularity, preview outside experiments\): P1/.test(document.getElementById("cust-recs").textContent)`)
	if n, hist := exposures(); n != 12 || hist {
		t.Errorf("opening the customer view: %d exposures (c-hist among them: %v), want the fixture's 12", n, hist)
	}
	eval(`document.querySelector('#cust-history button[data-export="csv"]').click(), ""`)
	histCSV := strings.Split(strings.TrimSpace(waitForFile(t, downloads, "cust-history-", ".csv")), "\n")
	if len(histCSV) != 6 || histCSV[0] != "event time,transaction,amount,currency,items,channel,payment,risk,decision" ||
		!strings.Contains(histCSV[1], ",h-t4,14,USD,2,app,klarna,0.05,approve") || !strings.HasPrefix(histCSV[1], time.Now().UTC().Format("2006")) {
		t.Errorf("history CSV = %q", histCSV)
	}

	// Products and experiments. The top products of the range come from
	// the product rollup, which the product fold fills off the write
	// path: folded here as its job would.
	for done := false; !done; {
		c, err := st.FoldProducts(ctx, store.ProductFoldOptions{Limit: 1000, Now: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		done = c.Done
	}
	show("#/products?range=1h")
	wait("the experiments table lists both variants", `document.querySelectorAll("#exp-body tr[data-experiment]").length === 2`)
	expRows, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#exp-body tr[data-experiment]")].map((r) => [...r.cells].map((c) => c.textContent).join("|"))`))
	if err != nil {
		t.Fatal(err)
	}
	if len(expRows) != 2 || !strings.HasPrefix(expRows[0], "recs (running)|control|popularity|6|2|33.33%|0.00|control|ok (p ") ||
		!strings.HasPrefix(expRows[1], "|treatment|item-item|6|4|66.67%|0.00|") || !strings.HasSuffix(expRows[1], "|no difference yet") {
		t.Errorf("experiment rows = %q", expRows)
	}
	eval(`(() => { document.getElementById("recs-id").value = "c001"; document.getElementById("recs-form").requestSubmit(); return ""; })()`)
	wait("the top products list P1", `document.querySelector('#top-body tr[data-product="P1"]') !== null`)
	eval(`document.querySelector('#top-body tr[data-product="P1"]').click(), ""`)
	wait("the product is in the URL and its similar products asked for", `location.hash.includes("product=P1") && /^bought with P1/.test(document.getElementById("sim-sub").textContent)`)
	// c001 bought P1 alone, which has no neighbours: popularity, of which
	// only P9 (c-hist's) is left to show; a preview, so c001 is exposed to
	// nothing (the experiment rows above stay at 6 and 6).
	wait("the recommendations for c001 answer", `location.hash.includes("customer=c001") && /^by popularity, as outside experiments/.test(document.getElementById("recs-sub").textContent) &&
		document.querySelector('#recs-body tr[data-product="P9"]') !== null`)
	if n, _ := exposures(); n != 12 {
		t.Errorf("the products page's recommendations: %d exposures, want the fixture's 12", n)
	}
	shot("products")
	// A shop's page, asking without preview, still records the exposure.
	resp, err := http.Get(ts.URL + "/api/v1/customers/c-hist/recommendations?n=5")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if n, hist := exposures(); resp.StatusCode != http.StatusOK || n != 13 || !hist {
		t.Errorf("a plain request: status %d, %d exposures (c-hist among them: %v), want c-hist's recorded", resp.StatusCode, n, hist)
	}

	// Data quality: the score over time, a check to drill into, the
	// quarantine it filters.
	show("#/quality?range=1h")
	wait("the quality chart has points", `Number(document.getElementById("chart-quality").dataset.points) > 0`)
	wait("malformed_json is failing", `document.querySelector('#q-checks tr[data-check="malformed_json"]') !== null`)
	eval(`document.querySelector('#q-checks tr[data-check="malformed_json"]').click(), ""`)
	wait("the check is in the URL", `location.hash.includes("check=malformed_json")`)
	wait("the quarantine lists malformed_json records only", `document.querySelectorAll("#qr-body tr[data-id]").length > 0 && [...document.querySelectorAll("#qr-body tr[data-id] td:nth-child(3)")].every((c) => c.textContent === "malformed_json")`)
	painted("quality")
	shot("quality")

	// System: lag per partition over the stream, a partition to follow.
	show("#/system?range=1h")
	wait("the partitions are listed", `document.querySelectorAll("#part-body tr[data-partition]").length === 2`)
	n = points("chart-lag")
	wait("the lag chart grows", `Number(document.getElementById("chart-lag").dataset.points) > `+strconv.Itoa(max(n, 1)))
	eval(`document.querySelector('#part-body tr[data-partition="1"]').click(), ""`)
	wait("the partition is in the URL", `location.hash.includes("partition=1") && /partition 1/.test(document.getElementById("lag-sub").textContent)`)
	wait("the lag chart shows partition 1, never behind", `lagChart.data[1].length > 0 && lagChart.data[1].every((v) => v === 0)`)
	wait("the fraud lookups are listed", `/synthetic geography/.test(document.getElementById("lk-body").textContent)`)
	// The p95 since start of /metrics: the backfill's 40 s lie past the
	// largest bucket bound, which is all the buckets can tell.
	wait("the latency's p95 since start is past the buckets", `[...document.querySelectorAll("#m-body tr")].some((r) =>
		r.cells[0].textContent === "shopstream_e2e_latency_seconds_count" && r.cells[3].textContent === "> 32,768 ms")`)
	// Sixteen observations of 4 to 8 s adding up to 64 s are each 4 s: the
	// estimate is capped there, where interpolation would say 7.8 s.
	if got := eval(`JSON.stringify(histQuantile(0.95, [[1, 0], [2, 0], [4, 0], [8, 16], [Infinity, 16]], 64))`); got != `{"value":4,"above":null}` {
		t.Errorf("histQuantile of sixteen 4 s runs: %s, want 4", got)
	}
	if got := eval(`JSON.stringify(histQuantile(0.5, [[1, 100], [4, 100], [16, 100], [Infinity, 100]], 100))`); got != `{"value":1,"above":null}` {
		t.Errorf("histQuantile of a hundred batches of one record: %s, want a median of 1", got)
	}
	// Sixty batches of one record and forty of seven: interpolated from
	// 0 the median is 50/60 of a record; the records' least is 1.
	if got := eval(`JSON.stringify([histQuantile(0.5, [[1, 60], [4, 60], [16, 100], [Infinity, 100]], 340, 0).value.toFixed(4),
		histQuantile(0.5, [[1, 60], [4, 60], [16, 100], [Infinity, 100]], 340, histLeast("shopstream_batch_records")).value])`); got != `["0.8333",1]` {
		t.Errorf("histQuantile of sixty batches of one and forty of seven, from 0 and from the least: %s, want [\"0.8333\",1]", got)
	}
	painted("system")
	shot("system")

	// Themes: the toggle switches, the colours follow, the charts repaint.
	bg := eval(`getComputedStyle(document.body).backgroundColor`)
	theme := eval(`document.documentElement.dataset.theme`)
	eval(`document.getElementById("theme").click(), ""`)
	wait("the theme switches", `document.documentElement.dataset.theme !== "`+theme+`"`)
	if bg2 := eval(`getComputedStyle(document.body).backgroundColor`); bg2 == bg {
		t.Errorf("the background stays %s in both themes", bg)
	}
	show("#/overview?range=1h")
	wait("the volume chart is drawn again", `Number(document.getElementById("chart-volume").dataset.points) >= 25`)
	painted("overview, " + eval(`document.documentElement.dataset.theme`))
	shot("overview-" + eval(`document.documentElement.dataset.theme`))

	// A phone: no page scrolls sideways at 390 px, and nothing on it is
	// cut off at the edge: every element ends within the viewport unless a
	// box that scrolls sideways (a wide table's .scroll) holds it. The body
	// hides what overflows, so its scroll width alone would not show a
	// cut table.
	const cut = `[...document.querySelectorAll("main *, header *")].filter((e) => {
		const r = e.getBoundingClientRect();
		if (r.width === 0 || r.right <= 391 || e.closest(".hidden")) return false;
		for (let a = e.parentElement; a && a !== document.body; a = a.parentElement) {
			const o = getComputedStyle(a).overflowX;
			if (o === "auto" || o === "scroll") return false;
		}
		return true;
	})`
	if err := chromedp.Do(bctx, chromedp.EmulateViewport(390, 844)); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"overview", "fraud", "customers", "products", "quality", "system"} {
		show("#/" + p + "?range=1h")
		wait(p+" shows", `!document.getElementById("page-`+p+`").classList.contains("hidden")`)
		if _, err := chromedp.Run(bctx, chromedp.Poll[bool](`document.documentElement.scrollWidth <= 390 && `+cut+`.length === 0`, chromedp.WithPollingTimeout(5*time.Second))); err != nil {
			w := eval(`String(document.documentElement.scrollWidth) + " " + ` + cut + `.slice(0, 5).map((e) => e.tagName + "#" + e.id + "." + e.className + " to " + Math.round(e.getBoundingClientRect().right)).join(" ")`)
			t.Errorf("%s at 390 px scrolls sideways or cuts: %s", p, w)
		}
	}
	show("#/overview?range=1h")
	wait("the volume chart is drawn at 390 px", `Number(document.getElementById("chart-volume").dataset.points) >= 25`)
	shot("phone")

	if _, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`true`)); err != nil {
		t.Fatal(err)
	}
	for _, p := range problems.all() {
		t.Errorf("console: %s", p)
	}
}

// smallPNG re-encodes a screenshot with a palette of 256 colours, for the
// screenshots kept in docs/img. A dashboard has few colours beyond its
// text's anti-aliasing, but the greys of that can outnumber a small dot
// of colour (the freshness indicator's): the palette takes first the most
// common colour of each of the most common cells of 16 levels a channel,
// so that every hue on the page keeps one, then the most common colours
// left.
func smallPNG(b []byte) ([]byte, error) {
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	counts := map[color.RGBA]int{}
	r := img.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			counts[color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)]++
		}
	}
	key := func(c color.RGBA) uint32 { return uint32(c.R)<<24 | uint32(c.G)<<16 | uint32(c.B)<<8 | uint32(c.A) }
	common := make([]color.RGBA, 0, len(counts))
	for c := range counts {
		common = append(common, c)
	}
	sort.Slice(common, func(i, j int) bool {
		if counts[common[i]] != counts[common[j]] {
			return counts[common[i]] > counts[common[j]]
		}
		return key(common[i]) < key(common[j])
	})
	type cell struct {
		n    int
		best color.RGBA // the first of common in the cell: its most common
	}
	cells := map[uint32]*cell{}
	var order []uint32
	for _, c := range common {
		k := uint32(c.R>>4)<<12 | uint32(c.G>>4)<<8 | uint32(c.B>>4)<<4 | uint32(c.A>>4)
		if cells[k] == nil {
			cells[k] = &cell{best: c}
			order = append(order, k)
		}
		cells[k].n += counts[c]
	}
	sort.SliceStable(order, func(i, j int) bool { return cells[order[i]].n > cells[order[j]].n })
	pal := make(color.Palette, 0, 256)
	in := map[color.RGBA]bool{}
	for _, k := range order[:min(256, len(order))] {
		pal = append(pal, cells[k].best)
		in[cells[k].best] = true
	}
	for _, c := range common {
		if len(pal) == 256 {
			break
		}
		if !in[c] {
			pal = append(pal, c)
		}
	}
	out := image.NewPaletted(r, pal)
	draw.Draw(out, r, img, r.Min, draw.Src)
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(&buf, out); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// waitForFile waits for a finished download named prefix…suffix in dir and
// returns its content.
func waitForFile(t *testing.T, dir, prefix, suffix string) string {
	t.Helper()
	for range 100 {
		es, _ := os.ReadDir(dir)
		for _, e := range es {
			if strings.HasPrefix(e.Name(), prefix) && strings.HasSuffix(e.Name(), suffix) {
				b, err := os.ReadFile(filepath.Join(dir, e.Name()))
				if err == nil && len(b) > 0 {
					return string(b)
				}
			}
		}
		time.Sleep(100 * time.Millisecond) // polled: Chromium writes the file on its own
	}
	t.Fatalf("no download %s*%s in %s", prefix, suffix, dir)
	return ""
}

// findChromium returns the browser to drive, or skips the test.
func findChromium(t testing.TB) string {
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
				Risk: tx.Risk, Decision: tx.Decision, ReasonsJSON: tx.ReasonsJSON, AmountCents: tx.TotalCents, ModelVersion: 2})
			label.Fraud, label.Scenario = f.rng.IntN(5) != 0, "card_testing" // four in five alerts are fraud
			if f.rng.IntN(3) == 0 {
				p.Txs = append(p.Txs, tx)
				continue // one alert in three awaits its label
			}
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
  const rgb = (css) => {
    const c = document.createElement("canvas").getContext("2d");
    c.fillStyle = css;
    const m = /^#(..)(..)(..)$/.exec(c.fillStyle);
    return m ? m.slice(1).map((h) => parseInt(h, 16)) : null;
  };
  return [...charts].filter((c) => c.el.offsetParent !== null && Number(c.el.dataset.points) > 0).map((c) => {
    const u = c.u, canvas = u.ctx.canvas;
    const out = {id: c.el.id, canvas: !!canvas, width: canvas.width, height: canvas.height, series: {}};
    const px = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
    u.series.slice(1).forEach((s, i) => {
      if (!u.data[i + 1].some((v) => v != null && v !== 0)) return; // nothing to draw
      const want = rgb(typeof s.stroke === "function" ? s.stroke(u, i + 1) : s.stroke);
      let n = 0;
      for (let j = 0; want && j < px.length; j += 4) {
        if (px[j + 3] > 100 && Math.abs(px[j] - want[0]) < 40 && Math.abs(px[j + 1] - want[1]) < 40 && Math.abs(px[j + 2] - want[2]) < 40) n++;
      }
      out.series[s.label] = n;
    });
    return out;
  });
})()`

// addExperiment registers the experiment API on srv with one experiment:
// six customers exposed per variant, of whom 2 and 4 converted.
func addExperiment(ctx context.Context, t *testing.T, srv *web.Server, st *sqlite.Store) *abtest.Service {
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
	return exps
}

// addCustomerHistory stores the purchases of c-hist three hours ago, of a
// product (P9) nobody else buys: four declined with an alert each, then
// one approved. Its alerts are the oldest stored, so no queue page a tab
// loads first lists them.
func addCustomerHistory(ctx context.Context, t *testing.T, st *sqlite.Store) {
	t.Helper()
	at := time.Now().Add(-3 * time.Hour).Truncate(time.Second)
	p := store.Part{Partition: 98}
	for i := range 5 {
		tx := storetest.Tx(fmt.Sprintf("h-t%d", i), "c-hist", at.Add(time.Duration(i)*time.Minute), int64(1000+100*i), 98, int64(i))
		tx.ItemsJSON = []byte(`[{"product_id":"P9","category":"toys","quantity":1,"unit_price":5.00},{"product_id":"P9","category":"toys","quantity":2,"unit_price":2.50}]`)
		tx.Channel, tx.PaymentMethod, tx.Currency = "app", "klarna", "USD"
		if i < 4 {
			tx.Risk, tx.Decision, tx.ReasonsJSON = 0.9+float64(i)/100, "decline", []byte(`[{"rule":"order_velocity","reason":"fast","weight":0.95}]`)
			p.Alerts = append(p.Alerts, store.Alert{TransactionID: tx.TransactionID, CustomerID: tx.CustomerID, EventTime: tx.EventTime,
				Risk: tx.Risk, Decision: tx.Decision, ReasonsJSON: tx.ReasonsJSON, AmountCents: tx.TotalCents})
		} else {
			tx.Risk = 0.05
		}
		p.Txs = append(p.Txs, tx)
	}
	p.To = int64(len(p.Txs))
	if err := st.WriteBatch(ctx, &store.Batch{Group: "hist", Topic: "hist", Parts: []store.Part{p}}); err != nil {
		t.Fatal(err)
	}
}
