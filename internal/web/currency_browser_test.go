package web_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestOverviewRevenuePerCurrency: a shop selling in two currencies. The
// Overview never adds euros to dollars: the revenue chart and tile show
// the currency with the most revenue in the range, name the other, and a
// menu (kept in the URL) switches both to it.
func TestOverviewRevenuePerCurrency(t *testing.T) {
	h := newHabits(t, habitsConfig{prepare: func(h *habits) {
		for m := 10; m >= 1; m-- {
			h.currency = "EUR"
			h.write(h.minuteAgo(m), 4, 5000) // €200 a minute
			h.currency = "USD"
			h.write(h.minuteAgo(m), 3, 1000) // $30 a minute
		}
	}})
	h.open("#/overview?range=1h")
	h.loaded("overview")
	h.wait("the volume chart has the 10 minutes", `document.getElementById("chart-volume").dataset.points === "10"`, 0)

	var opts []string
	h.evalJSON(`[...document.querySelectorAll("#volume-currency option")].map((o) => o.value)`, &opts)
	if strings.Join(opts, ",") != "EUR,USD" || h.eval(`String(document.getElementById("volume-currency").hidden)`) != "false" {
		t.Fatalf("currency menu: options %v, hidden %s; want EUR,USD shown", opts, h.eval(`String(document.getElementById("volume-currency").hidden)`))
	}
	var rev []float64
	h.evalJSON(`volumeChart.u.data[2]`, &rev)
	for i, v := range rev {
		if v != 200 {
			t.Fatalf("revenue series in EUR: minute %d is %v, want 200 (euros alone, no dollars added): %v", i, v, rev)
		}
	}
	if got := h.eval(`document.querySelector("#o-rev .label").textContent`); got != "Revenue / min in EUR" {
		t.Errorf("revenue tile label %q, want it to name EUR", got)
	}
	if also := h.eval(`document.getElementById("o-rev-also").textContent`); !strings.HasPrefix(also, "also $") {
		t.Errorf("revenue tile: %q, want the dollars named apart", also)
	}
	if sub := h.eval(`document.getElementById("volume-sub").textContent`); !strings.Contains(sub, "revenue in EUR (1 other currency") {
		t.Errorf("volume subtitle %q, want it to say one other currency is left out", sub)
	}

	h.eval(`(() => { const s = document.getElementById("volume-currency"); s.value = "USD"; s.dispatchEvent(new Event("change")); return ""; })()`)
	h.wait("the URL keeps the currency", `location.hash.includes("currency=USD")`, 10*time.Second)
	h.loaded("overview")
	h.wait("the revenue series is in dollars", `volumeChart.u.data[2].length === 10 && volumeChart.u.data[2].every((v) => v === 30)`, 0)
	if got := h.eval(`document.querySelector("#o-rev .label").textContent`); got != "Revenue / min in USD" {
		t.Errorf("after choosing USD: tile label %q", got)
	}
	if v := h.eval(`document.querySelector("#o-rev .value").textContent`); !strings.HasPrefix(v, "$") {
		t.Errorf("after choosing USD: tile value %q, want dollars", v)
	}
	if also := h.eval(`document.getElementById("o-rev-also").textContent`); !strings.HasPrefix(also, "also €") {
		t.Errorf("after choosing USD: %q, want the euros named apart", also)
	}
	// A reload of the link keeps the choice.
	if err := chromedp.Do(h.bctx, chromedp.Reload()); err != nil {
		t.Fatalf("reloading the link: %v", err)
	}
	h.loaded("overview")
	h.wait("the reloaded link is in dollars", `document.getElementById("volume-currency").value === "USD" && volumeChart.u.data[2].length === 10 && volumeChart.u.data[2][0] === 30`, 0)
}

// TestOverviewOfAnOldHistory shows the overview of a store whose newest
// purchase is of 2011, in pounds (an import of the UCI log): the empty
// chart says when the stored times end, with the year, and that only a
// custom range reaches them; its revenue axis is in the store's currency
// (it kept the labels of its first draw, in dollars whatever the store's)
// and ticks whole units (0.2 and 0.4 read $0, $0); a link to the custom
// range that reaches it fills the range's inputs. The fixture's own
// purchases are of today, so the store's summary is the old one's.
func TestOverviewOfAnOldHistory(t *testing.T) {
	h := newHabits(t, habitsConfig{})
	// The custom range that reaches it, given by a link in RFC 3339: the
	// inputs show it (they showed nothing but mm/dd/yyyy).
	h.open("#/overview?range=custom&from=2010-12-01T00:00:00Z&to=2011-07-01T00:00:00Z&refresh=off")
	h.loaded("overview")
	var inputs []string
	h.evalJSON(`[$("from").value, $("to").value, localInput(Date.parse("2010-12-01T00:00:00Z")), localInput(Date.parse("2011-07-01T00:00:00Z"))]`, &inputs)
	if inputs[0] == "" || inputs[0] != inputs[2] || inputs[1] != inputs[3] {
		t.Errorf("the range inputs hold %q and %q, want %q and %q", inputs[0], inputs[1], inputs[2], inputs[3])
	}

	// The last 15 minutes, drawn first with the fixture's summary (its
	// purchases in euros), then with the old store's.
	h.open("#/overview?range=15m&refresh=off")
	h.loaded("overview")
	h.eval(`(() => {
		live.summary = { transactions_total: 8871, revenue: [{ currency: "GBP", minor: 399380565, amount: "3993805.65" }],
			fraud_alerts_total: 0, quarantined_total: 0, customers_total: 2960, last_event_time: "2011-06-30T19:08:00Z" };
		window.oldLoaded = false;
		pageDefs.overview.load(timeRange()).then(() => { window.oldLoaded = true; });
		return "";
	})()`)
	h.wait("the overview loaded again", `window.oldLoaded`, 10*time.Second)
	note := h.eval(`document.querySelector("#chart-volume .empty-note").textContent`)
	if !strings.Contains(note, "2011") || !strings.Contains(note, "custom range") {
		t.Errorf("the volume chart's note %q, want the stored times' end with its year and a custom range", note)
	}
	var labels []string
	h.evalJSON(`volumeChart.u.axes[1]._values`, &labels)
	if len(labels) < 2 {
		t.Fatalf("revenue axis labels %q", labels)
	}
	for i, l := range labels {
		if !strings.HasPrefix(l, "£") || i > 0 && l == labels[i-1] {
			t.Errorf("revenue axis labels %q: want each in pounds, none repeated", labels)
			break
		}
	}
}
