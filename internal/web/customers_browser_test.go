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
	p := newCustomersPage(t, `location.hash + " | " + document.getElementById("mv-body").innerHTML`)
	ctx, st := p.ctx, p.st
	analyticsFixture(t, st)
	// c-many's 30 purchases: a history of two pages (25 a page).
	var txs []store.Tx
	for i := range 30 {
		txs = append(txs, storetest.Tx(fmt.Sprintf("m%02d", i), "c-many", time.Date(2026, 2, 1, 0, i, 0, 0, time.UTC), 100, 1, int64(i)))
	}
	if err := st.WriteBatch(ctx, &store.Batch{Group: "g", Topic: "t", Parts: []store.Part{{Partition: 1, From: 0, To: 30, Txs: txs}}}); err != nil {
		t.Fatal(err)
	}
	p.open("#/customers?range=1h&refresh=off")
	wait, eval := p.wait, p.eval
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
	p.open("#/customers?range=1h&refresh=off&customer=c-many")
	wait("the first page of c-many's history, with older ones to come", `document.querySelectorAll("#cust-tx-body tr[data-id]").length === 25 &&
		!document.getElementById("cust-tx-more").disabled && document.getElementById("cust-tx-count").textContent === "25 shown; older ones remain"`)
	eval(`document.getElementById("cust-tx-more").click(), ""`)
	wait("the older purchases appended, the oldest reached", `document.querySelectorAll("#cust-tx-body tr[data-id]").length === 30 &&
		document.getElementById("cust-tx-more").disabled && document.getElementById("cust-tx-count").textContent === "30 shown" &&
		new Set([...document.querySelectorAll("#cust-tx-body tr[data-id]")].map((tr) => tr.dataset.id)).size === 30`)
	p.noConsoleProblems()
}

// TestCustomerListInBrowser: the Customers page lists the scored
// customers by ID in pages of 50 ("more customers" appends the rest), a
// click on a segment lists that segment's, a search by the start of an ID
// narrows it (both kept in the URL), and a click on a customer opens their
// page.
func TestCustomerListInBrowser(t *testing.T) {
	p := newCustomersPage(t, `location.hash + " | " + document.getElementById("cust-list-count").textContent + " | " +
		document.getElementById("cust-list-body").textContent.slice(0, 300)`)
	ctx, st := p.ctx, p.st
	var rows []store.CustomerAnalytics
	for i := range 60 {
		seg := "Lost"
		if i%4 == 0 {
			seg = "Champions"
		}
		rows = append(rows, store.CustomerAnalytics{CustomerID: fmt.Sprintf("c%03d", i), RecencyDays: float64(i), FrequencyDays: 2, MonetaryCents: int64(1000 + i),
			R: 3, F: 2, M: 4, Segment: seg, UpdatedAt: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)})
	}
	if err := st.WriteCustomerAnalytics(ctx, rows); err != nil {
		t.Fatal(err)
	}
	tx := storetest.Tx("t1", "c012", time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), 1012, 1, 0)
	if err := st.WriteBatch(ctx, &store.Batch{Group: "g", Topic: "t", Parts: []store.Part{{From: 0, To: 1, Txs: []store.Tx{tx}}}}); err != nil {
		t.Fatal(err)
	}
	p.open("#/customers?range=1h&refresh=off")
	wait, eval := p.wait, p.eval
	ids := `[...document.querySelectorAll("#cust-list-body tr[data-customer]")].map((tr) => tr.dataset.customer)`
	wait("the first 50 customers by ID, more to come", ids+`.length === 50 && `+ids+`[0] === "c000" && `+ids+`[49] === "c049" &&
		!document.getElementById("cust-list-more").disabled && document.getElementById("cust-list-count").textContent === "50 shown; more remain"`)
	if got := eval(`[...document.querySelector('#cust-list-body tr[data-customer="c005"]').children].map((td) => td.textContent).join("|")`); got != "c005|Lost|324|2|5|10.05|–|–" {
		t.Errorf("c005's row %q", got)
	}
	eval(`document.getElementById("cust-list-more").click(), ""`)
	wait("the last 10 appended", ids+`.length === 60 && new Set(`+ids+`).size === 60 && document.getElementById("cust-list-more").disabled &&
		document.getElementById("cust-list-count").textContent === "60 shown"`)
	wait("the segments are listed", `document.querySelector('#seg-body tr[data-segment="Champions"]') !== null`)
	eval(`document.querySelector('#seg-body tr[data-segment="Champions"]').click(), ""`)
	wait("a click on Champions lists its 15 customers", `location.hash.includes("segment=Champions") && `+ids+`.length === 15 &&
		`+ids+`.every((id) => Number(id.slice(1)) % 4 === 0) && document.getElementById("cust-list-sub").textContent.startsWith("in Champions")`)
	eval(`document.getElementById("cust-prefix").value = "c01", document.querySelector("#cust-find button").click(), ""`)
	wait("the search narrows it to c012 and c016", `location.hash.includes("q=c01") && `+ids+`.join(" ") === "c012 c016"`)
	eval(`document.querySelector('#cust-list-body tr[data-customer="c012"]').click(), ""`)
	wait("c012's page opens", `location.hash.includes("customer=c012") && !document.getElementById("cust-body").classList.contains("hidden") &&
		document.getElementById("cust-body").textContent.includes("c012")`)
	eval(`document.getElementById("cust-prefix").value = "x", document.querySelector("#cust-find button").click(), ""`)
	wait("no match says so", `document.getElementById("cust-list-body").textContent === "no customer in Champions has an ID starting with x"`)
	p.noConsoleProblems()
}

// TestCustomerListByCLVInBrowser: the list's menu orders the customers by
// predicted CLV, highest first (kept in the URL as cust_sort=clv), those
// without a CLV left out; "more customers" goes on from the 50th across
// equal CLVs; a search that finds only customers without a CLV says so;
// back to "by ID" lists every customer from the first ID again.
func TestCustomerListByCLVInBrowser(t *testing.T) {
	p := newCustomersPage(t, `location.hash + " | " + document.getElementById("cust-list-count").textContent + " | " +
		document.getElementById("cust-list-body").textContent.slice(0, 300)`)
	var rows []store.CustomerAnalytics
	var want []string
	for i := range 70 {
		r := store.CustomerAnalytics{CustomerID: fmt.Sprintf("c%03d", i), RecencyDays: 3, FrequencyDays: 2, MonetaryCents: 1000,
			R: 3, F: 2, M: 4, Segment: "Lost", UpdatedAt: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}
		if i%7 != 0 {
			// Two customers a CLV, falling with the ID: want is by ID.
			r.CLV = &store.CLVFigures{ProbAlive: 0.5, ExpectedPurchases: 1, ExpectedAOV: 40, Value: float64(100-i/2) + 0.1 + 0.2, ModelVersion: 1}
			want = append(want, r.CustomerID)
		}
		rows = append(rows, r)
	}
	if err := p.st.WriteCustomerAnalytics(p.ctx, rows); err != nil {
		t.Fatal(err)
	}
	p.open("#/customers?range=1h&refresh=off")
	wait, eval := p.wait, p.eval
	ids := `[...document.querySelectorAll("#cust-list-body tr[data-customer]")].map((tr) => tr.dataset.customer).join(" ")`
	wait("the list by ID", ids+`.startsWith("c000 c001 ")`)
	eval(`(() => { const s = document.getElementById("cust-sort"); s.value = "clv"; s.dispatchEvent(new Event("change")); return ""; })()`)
	first := strings.Join(want[:50], " ")
	wait("the first 50 by CLV, more to come", `location.hash.includes("cust_sort=clv") && `+ids+` === "`+first+`" &&
		document.getElementById("cust-list-count").textContent === "50 shown; more remain" &&
		document.getElementById("cust-list-sub").textContent.includes("by 12-month CLV, highest first")`)
	eval(`document.getElementById("cust-list-more").click(), ""`)
	wait("the other 10 with a CLV appended", ids+` === "`+strings.Join(want, " ")+`" && document.getElementById("cust-list-more").disabled &&
		document.getElementById("cust-list-count").textContent === "60 shown"`)
	eval(`document.getElementById("cust-prefix").value = "c007", document.querySelector("#cust-find button").click(), ""`)
	wait("a search for a customer without a CLV says so", `location.hash.includes("q=c007") &&
		document.getElementById("cust-list-body").textContent === "no customer with an ID starting with c007 has a predicted CLV"`)
	eval(`document.getElementById("cust-prefix").value = "", document.querySelector("#cust-find button").click(), ""`)
	eval(`(() => { const s = document.getElementById("cust-sort"); s.value = "id"; s.dispatchEvent(new Event("change")); return ""; })()`)
	wait("by ID again, from the first", `!location.hash.includes("cust_sort") && `+ids+`.startsWith("c000 c001 c002 ") &&
		document.getElementById("cust-list-count").textContent === "50 shown; more remain"`)
	p.noConsoleProblems()
}

// customersPage is a dashboard serving the analytics API over an empty
// SQLite store in headless Chromium: fill the store, then open the page.
type customersPage struct {
	t        *testing.T
	ctx      context.Context
	st       *sqlite.Store
	ts       *httptest.Server
	bctx     context.Context
	problems *browserProblems
	// state is a script whose value a failed wait shows.
	state string
}

func newCustomersPage(t *testing.T, state string) *customersPage {
	t.Helper()
	chromium := findChromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	srv, err := web.New(web.Config{Store: st, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	web.RegisterAnalytics(srv, st)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	bctx, problems, stop := openBrowser(t, ctx, chromium, "404 (Not Found)")
	t.Cleanup(stop)
	return &customersPage{t: t, ctx: ctx, st: st, ts: ts, bctx: bctx, problems: problems, state: state}
}

func (p *customersPage) open(hash string) {
	p.t.Helper()
	if err := chromedp.Do(p.bctx, chromedp.Navigate(p.ts.URL+"/"+hash)); err != nil {
		p.t.Fatalf("loading the dashboard: %v", err)
	}
}

func (p *customersPage) wait(what, js string) {
	p.t.Helper()
	if _, err := chromedp.Run(p.bctx, chromedp.Poll[bool](js, chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		state, _ := chromedp.Run(p.bctx, chromedp.Evaluate[string](p.state))
		p.t.Fatalf("waiting until %s: %v (page: %s)", what, err, state)
	}
}

func (p *customersPage) eval(js string) string {
	p.t.Helper()
	v, err := chromedp.Run(p.bctx, chromedp.Evaluate[string](js))
	if err != nil {
		p.t.Fatalf("evaluating %s: %v", js, err)
	}
	return v
}

// noConsoleProblems fails the test on what the browser's console said.
func (p *customersPage) noConsoleProblems() {
	for _, m := range p.problems.all() {
		p.t.Errorf("console: %s", m)
	}
}
