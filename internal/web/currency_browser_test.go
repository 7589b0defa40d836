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
