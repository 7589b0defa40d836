package web_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestScreenshots takes the screenshots of docs/img from a dashboard
// that is running with real data, SHOPSTREAM_SCREENSHOT_URL (a fresh
// `shopstream run` after its backfill, say), into
// SHOPSTREAM_SCREENSHOT_DIR: each page at 1280×900 in the light theme,
// the overview in the dark one and at 390 px. It waits for each page to
// load and for its charts to have points (the live ones fill while the
// page is open), and lists the panels of each page that show an empty
// state (an empty table, an error), so that the one who takes them sees
// which are empty for want of data and which say that all is well (no
// findings, say). The overview and most pages show the last 15 minutes:
// run the shop live for half an hour first, so that the previous period
// the tiles compare with is live too. Skipped without the URL.
//
//	SHOPSTREAM_SCREENSHOT_URL=http://127.0.0.1:8050/ SHOPSTREAM_SCREENSHOT_DIR=$PWD/docs/img \
//	  go test ./internal/web -run TestScreenshots -count=1 -v
func TestScreenshots(t *testing.T) {
	base := os.Getenv("SHOPSTREAM_SCREENSHOT_URL")
	if base == "" {
		t.Skip("no SHOPSTREAM_SCREENSHOT_URL: the dashboard to take the screenshots of")
	}
	dir := os.Getenv("SHOPSTREAM_SCREENSHOT_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	chromium := findChromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bctx, problems, stop := openBrowser(t, ctx, chromium)
	defer stop()
	eval := func(expr string) string {
		t.Helper()
		s, err := chromedp.Run(bctx, chromedp.Evaluate[string](expr, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("evaluating %s: %v", expr, err)
		}
		return s
	}
	// empties lists the panels of the page shown that show an empty state
	// (and each chart without points, which settled waits for).
	const empties = `(() => {
		const page = document.querySelector(".page:not(.hidden)");
		const shown = (e) => e.offsetParent !== null;
		const out = [];
		for (const c of page.querySelectorAll(".card")) {
			if (!shown(c)) continue;
			for (const r of c.querySelectorAll("tr.empty")) if (shown(r)) out.push(c.id + ": " + r.textContent.trim());
			for (const ch of c.querySelectorAll(".chart")) if (shown(ch) && ch.dataset.points === "0") out.push(c.id + ": chart " + ch.id + " has no points");
			for (const e of c.querySelectorAll(".error")) if (shown(e)) out.push(c.id + ": " + e.textContent.trim());
		}
		return out.join("\n");
	})()`
	wait := func(what, expr string, timeout time.Duration) {
		t.Helper()
		if _, err := chromedp.Run(bctx, chromedp.Poll[bool](expr, chromedp.WithPollingInterval(200*time.Millisecond), chromedp.WithPollingTimeout(timeout))); err != nil {
			e, _ := chromedp.Run(bctx, chromedp.Evaluate[string](empties))
			t.Fatalf("waiting until %s: %v; the page's empty panels:\n%s", what, err, e)
		}
	}
	settled := `document.documentElement.dataset.loading === "0" && [...document.querySelectorAll(".page:not(.hidden) .chart")].every((c) => c.offsetParent === null || c.dataset.points !== "0")`
	shot := func(name string) {
		t.Helper()
		if e := eval(empties); e != "" {
			t.Logf("%s shows empty panels:\n%s", name, e)
		}
		png, err := chromedp.Run(bctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatalf("taking a screenshot: %v", err)
		}
		if png, err = smallPNG(png); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s.png: %s", name, strings.Join(strings.Fields(eval(`document.getElementById("status").textContent`)), " "))
	}
	show := func(hash string) {
		t.Helper()
		eval(`location.hash = "` + hash + `", ""`)
		wait(hash+" loads with its charts drawn", `location.hash === "`+hash+`" && `+settled, time.Minute)
	}

	if err := chromedp.Do(bctx, chromedp.Navigate(strings.TrimSuffix(base, "/")+"/#/overview?range=15m")); err != nil {
		t.Fatalf("loading %s: %v", base, err)
	}
	eval(`localStorage.setItem("shopstream-theme", "light"), applyTheme(), ""`)
	wait("the stream is live", `document.getElementById("status").textContent === "live"`, time.Minute)
	// Live charts fill while the page is open: half a minute of them.
	wait("the overview's charts have points, the live one 30", settled+` && Number(document.getElementById("chart-tps").dataset.points) >= 30`, 2*time.Minute)
	shot("overview")

	// A customer with an alert and a history (scored, with a CLV), and a
	// product bought with others, for the pages that show one.
	customer := eval(`(async () => {
		const a = await (await fetch("api/v1/alerts?decision=review&limit=40")).json();
		for (const id of new Set(a.alerts.map((x) => x.customer_id))) {
			const c = await (await fetch("api/v1/customers/" + encodeURIComponent(id))).json();
			if (c.rfm && c.clv && c.orders >= 3) return id;
		}
		return a.alerts[0].customer_id;
	})()`)
	product := eval(`fetch("api/v1/products/top?n=1").then((r) => r.json()).then((p) => p.items[0].item)`)

	// Labels come weeks after the transaction: the last 30 days have them.
	show("#/fraud?range=30d")
	shot("fraud")
	show("#/customers?range=15m&customer=" + customer)
	wait("the customer shows", `/orders/.test(document.getElementById("cust-body").textContent)`, time.Minute)
	shot("customers")
	show("#/products?range=15m&customer=" + customer + "&product=" + product)
	wait("the recommendations and similar products show", `document.querySelectorAll("#recs-body tr[data-product]").length > 0 && document.querySelectorAll("#sim-body tr[data-product]").length > 0`, time.Minute)
	shot("products")
	show("#/quality?range=15m")
	shot("quality")
	show("#/system?range=15m")
	wait("the lag chart has half a minute", `Number(document.getElementById("chart-lag").dataset.points) >= 30`, time.Minute)
	shot("system")

	show("#/overview?range=15m")
	eval(`document.getElementById("theme").click(), ""`)
	wait("the theme is dark", `document.documentElement.dataset.theme === "dark"`, 10*time.Second)
	shot("overview-dark")
	if err := chromedp.Do(bctx, chromedp.EmulateViewport(390, 844)); err != nil {
		t.Fatal(err)
	}
	eval(`document.getElementById("theme").click(), ""`)
	wait("the theme is light at 390 px", `document.documentElement.dataset.theme === "light" && document.documentElement.scrollWidth <= 390`, 10*time.Second)
	shot("phone")
	eval(`localStorage.removeItem("shopstream-theme"), ""`)
	for _, p := range problems.all() {
		t.Errorf("console: %s", p)
	}
}
