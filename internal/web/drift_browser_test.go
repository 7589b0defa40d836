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

// TestDriftFirstSample: a processor's first drift sample (15 minutes after
// its first records) is charted in the range asked for, with the
// thresholds as lines across it. uPlot ranged a time axis of one x over
// the 1,000 days after it (2027 to 2029 under a range of an hour), and
// drew the thresholds as two dots. Before any sample the findings do not
// say "no drift".
func TestDriftFirstSample(t *testing.T) {
	h := newHabits(t, habitsConfig{})
	h.open("#/quality?range=1h&refresh=off")
	h.loaded("quality")
	h.wait("the findings say drift was not measured", `document.getElementById("q-findings").textContent.includes("drift was not measured")`, 0)
	if txt := h.eval(`document.getElementById("q-findings").textContent`); strings.Contains(txt, "no drift") {
		t.Errorf("findings with no drift sample: %q", txt)
	}

	at := h.base.Add(-5 * time.Minute)
	if err := h.st.AddDriftSamples(h.ctx, []store.DriftSample{{At: at, Source: "p1", Field: "amount", PSI: 0.02, Ref: 4000, Cur: 1000}}); err != nil {
		t.Fatal(err)
	}
	h.open("#/quality?range=1h&refresh=off&field=") // a new hash: the page loads again
	h.wait("the drift chart has its sample", `driftChart.u.data[1].some((v) => v != null)`, 0)
	var x struct{ Min, Max float64 }
	h.evalJSON(`({Min: driftChart.u.scales.x.min, Max: driftChart.u.scales.x.max})`, &x)
	if span := x.Max - x.Min; span < 3500 || span > 3800 {
		t.Errorf("x axis from %v to %v: %.0f s for a range of an hour", time.Unix(int64(x.Min), 0), time.Unix(int64(x.Max), 0), span)
	}
	if s := float64(at.Unix()); s < x.Min || s > x.Max {
		t.Errorf("the sample at %v is outside the axis %v–%v", at, time.Unix(int64(x.Min), 0), time.Unix(int64(x.Max), 0))
	}
	var cs []chartPixels
	h.evalJSON(chartPixelsJS, &cs)
	for _, c := range cs {
		if c.ID != "chart-drift" {
			continue
		}
		// A line across the plot paints hundreds of pixels; a dot of 7 px
		// about 40.
		for _, label := range []string{"warning", "critical"} {
			if c.Series[label] < 300 {
				t.Errorf("threshold %q painted %d pixels: %v", label, c.Series[label], c.Series)
			}
		}
	}
	if txt := h.eval(`document.getElementById("q-findings").textContent`); !strings.Contains(txt, "no drift") {
		t.Errorf("findings with a drift sample under the thresholds: %q", txt)
	}
}

// TestQualityChartSpansTheRange: the Data quality page's score chart spans
// the range asked for when records were checked in a few of its minutes
// (a fresh shop's first five under "last 1 h" were drawn as the whole
// axis, ticked in seconds).
func TestQualityChartSpansTheRange(t *testing.T) {
	h := newHabits(t, habitsConfig{})
	h.write(h.minuteAgo(0), 20, 1000)
	h.open("#/quality?range=1h&refresh=off")
	h.loaded("quality")
	h.wait("the score chart has the minute", `qualityChart.u.data[2].some((v) => v != null)`, 10*time.Second)
	span := func() float64 {
		t.Helper()
		var x struct{ Min, Max float64 }
		h.evalJSON(`({Min: qualityChart.u.scales.x.min, Max: qualityChart.u.scales.x.max})`, &x)
		return x.Max - x.Min
	}
	if s := span(); s < 3400 || s > 3800 {
		t.Errorf("one minute checked: the x axis spans %.0f s for a range of an hour", s)
	}
	if got := h.eval(`String(document.getElementById("chart-quality").classList.contains("no-data"))`); got != "false" {
		t.Errorf("a checked minute, yet the chart says it has no data")
	}
	// Five minutes at the end of the hour, as the page gets them from the
	// API.
	h.eval(`(() => { const to = Math.floor(Date.now() / 60000) * 60, m = (k) => new Date((to - 60 * k) * 1000).toISOString();
		drawQuality({from: m(60), to: m(0), overall: {score: 1, checked: 5, failed: 0, warned: 0}, checks: [],
			minutes: [5, 4, 3, 2, 1].map((k) => ({minute: m(k), checked: 1, passed: 1, warned: 0, failed: 0, score: 1}))});
		return ""; })()`)
	h.wait("the score chart has the five minutes", `qualityChart.u.data[2].filter((v) => v != null).length === 5`, 10*time.Second)
	if s := span(); s < 3400 || s > 3800 {
		t.Errorf("five minutes checked: the x axis spans %.0f s for a range of an hour", s)
	}
}
