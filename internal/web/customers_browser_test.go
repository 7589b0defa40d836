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

	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/sqlite"
	"github.com/shopstream/shopstream/internal/store/storetest"
	"github.com/shopstream/shopstream/internal/web"
)

// TestCustomersMovementAndPartialMonth loads the Customers page over the
// analytics fixture in headless Chromium: the segments' change column is
// the server's movement (Loyal −1, At Risk +1 since the refresh before,
// on the first load, not "–"), the movement table lists the flows between
// segments and drills into one, and the cohort heatmap draws the
// unfinished month (February, as of 10 February) hatched and marked
// "MTD", not coloured as a drop. A customer's purchase history pages
// with "older purchases".
func TestCustomersMovementAndPartialMonth(t *testing.T) {
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
	web.RegisterAnalytics(srv, st)
	ts := httptest.NewServer(srv)
	defer ts.Close()
	analyticsFixture(t, st)
	// c-many's 30 purchases: a history of two pages (25 a page).
	var txs []store.Tx
	for i := range 30 {
		txs = append(txs, storetest.Tx(fmt.Sprintf("m%02d", i), "c-many", time.Date(2026, 2, 1, 0, i, 0, 0, time.UTC), 100, 1, int64(i)))
	}
	if err := st.WriteBatch(ctx, &store.Batch{Group: "g", Topic: "t", Parts: []store.Part{{Partition: 1, From: 0, To: 30, Txs: txs}}}); err != nil {
		t.Fatal(err)
	}
	bctx, problems, stop := openBrowser(t, ctx, chromium, "404 (Not Found)")
	defer stop()
	if err := chromedp.Do(bctx, chromedp.Navigate(ts.URL+"/#/customers?range=1h&refresh=off")); err != nil {
		t.Fatalf("loading the dashboard: %v", err)
	}
	wait := func(what, js string) {
		t.Helper()
		if _, err := chromedp.Run(bctx, chromedp.Poll[bool](js, chromedp.WithPollingTimeout(30*time.Second))); err != nil {
			state, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`location.hash + " | " + document.getElementById("mv-body").innerHTML`))
			t.Fatalf("waiting until %s: %v (page: %s)", what, err, state)
		}
	}
	eval := func(js string) string {
		t.Helper()
		v, err := chromedp.Run(bctx, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatalf("evaluating %s: %v", js, err)
		}
		return v
	}
	change := func(seg string) string {
		return eval(`document.querySelector('#seg-body tr[data-segment="` + seg + `"] td:last-child').textContent`)
	}
	wait("the segments are listed", `document.querySelector('#seg-body tr[data-segment="Loyal"]') !== null`)
	if got := []string{change("Loyal"), change("At Risk"), change("New"), change("Champions"), change("Lost")}; got[0] != "-1" || got[1] != "+1" ||
		got[2] != "+1" || got[3] != "0" || got[4] != "0" {
		t.Errorf("change of Loyal, At Risk, New, Champions, Lost = %q; want -1, +1, +1, 0, 0 from the recorded movement", got)
	}
	wait("the movement table lists the two flows", `document.querySelectorAll("#mv-body tr[data-from]").length === 2 &&
		document.querySelector('#mv-body tr[data-from="Loyal"][data-to="At Risk"]') !== null &&
		document.querySelector('#mv-body tr[data-from="new"][data-to="New"]') !== null`)
	if sub := eval(`document.getElementById("mv-sub").textContent`); sub == "" || !strings.Contains(sub, "1 moved, 1 new, 0 left, 1 stayed") {
		t.Errorf("movement subtitle %q", sub)
	}
	if got := eval(`document.querySelector('#mv-body tr[data-from="Loyal"] td:last-child').textContent`); got != "100.0%" {
		t.Errorf("share of Loyal that moved to At Risk = %q, want 100.0%%", got)
	}
	eval(`document.querySelector('#mv-body tr[data-from="Loyal"]').click(), ""`)
	wait("the flow drills into its segment: in the URL, the table keeps its flows", `location.hash.includes("segment=At+Risk") &&
		document.querySelectorAll("#mv-body tr[data-from]").length === 1 && document.querySelector('#seg-body tr.selected[data-segment="At Risk"]') !== null`)

	wait("the heatmap has its cells", `document.querySelectorAll("#coh-body td.heat").length === 2`)
	cell := func(js string) string {
		return eval(`(() => { const td = document.querySelectorAll("#coh-body td.heat")[` + js + `]; ` +
			`return td.className + "|" + td.textContent + "|" + td.style.getPropertyValue("--heat") + "|" + td.title; })()`)
	}
	if got := cell("0"); got != "num heat|100%|100|" {
		t.Errorf("January's own month: %q, want a coloured full cell", got)
	}
	if got := cell("1"); got != "num heat partial|50% MTD||month to date: 10 of 28 days of 2026-02" {
		t.Errorf("February, unfinished: %q, want it hatched (partial), marked MTD, uncoloured, with its days", got)
	}
	if bg := eval(`getComputedStyle(document.querySelector("#coh-body td.partial")).backgroundImage`); !strings.Contains(bg, "repeating-linear-gradient") {
		t.Errorf("the partial cell's background %q is not hatched", bg)
	}

	// The purchase history pages: 25, then "older purchases" the last 5.
	if err := chromedp.Do(bctx, chromedp.Navigate(ts.URL+"/#/customers?range=1h&refresh=off&customer=c-many")); err != nil {
		t.Fatal(err)
	}
	wait("the first page of c-many's history, with older ones to come", `document.querySelectorAll("#cust-tx-body tr[data-id]").length === 25 &&
		!document.getElementById("cust-tx-more").disabled && document.getElementById("cust-tx-count").textContent === "25 shown; older ones remain"`)
	eval(`document.getElementById("cust-tx-more").click(), ""`)
	wait("the older purchases appended, the oldest reached", `document.querySelectorAll("#cust-tx-body tr[data-id]").length === 30 &&
		document.getElementById("cust-tx-more").disabled && document.getElementById("cust-tx-count").textContent === "30 shown" &&
		new Set([...document.querySelectorAll("#cust-tx-body tr[data-id]")].map((tr) => tr.dataset.id)).size === 30`)
	for _, p := range problems.all() {
		t.Errorf("console: %s", p)
	}
}
