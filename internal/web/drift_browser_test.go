package web_test

import (
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/store"
)

// TestDriftTrendPainted: the Data quality page charts the drift detector's
// PSI per field over the range (GET /api/v1/quality/drift), painted, with
// the thresholds; choosing a field drills down to it, in the URL too.
func TestDriftTrendPainted(t *testing.T) {
	h := newHabits(t, habitsConfig{prepare: func(h *habits) {
		var ss []store.DriftSample
		for m := 40; m >= 1; m-- {
			at := h.base.Add(-time.Duration(m) * time.Minute)
			ss = append(ss, store.DriftSample{At: at, Source: "p1", Field: "amount", PSI: 0.3 * float64(40-m) / 40, Ref: 4000, Cur: 1000},
				store.DriftSample{At: at, Source: "p1", Field: "channel", PSI: 0.05, Ref: 4000, Cur: 1000})
		}
		if err := h.st.AddDriftSamples(h.ctx, ss); err != nil {
			t.Fatal(err)
		}
	}})
	h.open("#/quality?range=1h&refresh=off")
	h.loaded("quality")
	h.wait("the drift chart has its minutes", `Number(document.getElementById("chart-drift").dataset.points) >= 40`, 0)
	var cs []chartPixels
	h.evalJSON(chartPixelsJS, &cs)
	found := false
	for _, c := range cs {
		if c.ID != "chart-drift" {
			continue
		}
		found = true
		for _, label := range []string{"amount", "channel", "warning", "critical"} {
			if c.Series[label] < 30 {
				t.Errorf("drift chart: series %q painted %d pixels of its colour: %v", label, c.Series[label], c.Series)
			}
		}
		if _, ok := c.Series["items per order"]; ok {
			t.Errorf("items per order has no sample, yet has values: %v", c.Series)
		}
	}
	if !found {
		t.Fatal("the drift chart is not among the charts shown with points")
	}
	h.eval(`(() => { const s = document.getElementById("drift-field"); s.value = "amount"; s.dispatchEvent(new Event("change")); return ""; })()`)
	h.wait("the URL has the field", `location.hash.includes("field=amount")`, 10*time.Second)
	h.wait("the chart shows amount alone", `driftChart.u.data[3].every((v) => v == null) && driftChart.u.data[1].some((v) => v > 0.2)`, 0)
	if sub := h.eval(`document.getElementById("drift-sub").textContent`); !strings.HasPrefix(sub, "amount: PSI 0.29") || !strings.Contains(sub, "1,000 records against 4,000") {
		t.Errorf("drill-down subtitle %q", sub)
	}
}
