package web_test

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestChartLonePointAxis: any time chart given one x shows it with half an
// hour either side, not with the 1,000 days uPlot gives such an axis.
func TestChartLonePointAxis(t *testing.T) {
	h := newHabits(t, habitsConfig{})
	h.open("#/overview?range=15m&refresh=off")
	h.loaded("overview")
	h.eval(`(() => {
		const div = document.createElement("div");
		div.className = "chart";
		div.innerHTML = '<div class="plot"></div>';
		document.body.append(div);
		window.lone = new Chart(div, { series: [{ label: "one", color: "--c0" }] });
		lone.setData([[1796575200], [3]]);
		return "";
	})()`)
	h.wait("the lone chart is ranged", `lone.u.scales.x.max != null && lone.u.scales.x.max - lone.u.scales.x.min < 86400`, 10*time.Second)
	var x struct{ Min, Max float64 }
	h.evalJSON(`({Min: lone.u.scales.x.min, Max: lone.u.scales.x.max})`, &x)
	if x.Min != 1796575200-1800 || x.Max != 1796575200+1800 {
		t.Errorf("x axis %v to %v, want half an hour either side of %v", x.Min, x.Max, 1796575200)
	}
}

// TestCountAxesTickWholeNumbers: the System page's lag chart, a count,
// ticks whole numbers under a lag of 1 (uPlot's own steps gave 0.25,
// shown rounded as 0.3 and 0.8).
func TestCountAxesTickWholeNumbers(t *testing.T) {
	h := newHabits(t, habitsConfig{})
	h.open("#/system?range=15m&refresh=off")
	h.loaded("system")
	h.eval(`(() => { const t = Math.floor(Date.now() / 1000); lagChart.setData([[t - 30, t - 15, t], [0, 1, 0]]); return ""; })()`)
	h.wait("the lag axis has ticks", `Array.isArray(lagChart.u.axes[1]._splits) && lagChart.u.axes[1]._splits.length > 1`, 10*time.Second)
	var splits []float64
	h.evalJSON(`lagChart.u.axes[1]._splits`, &splits)
	for _, v := range splits {
		if v != float64(int64(v)) {
			t.Errorf("the lag axis ticks %v: %v is not a whole number", splits, v)
		}
	}
}

// TestChartAllNullIsEmpty: a chart given times but no value in any series
// (the Fraud page's recall by scenario over minutes nothing was labelled
// in) shows its empty note, as one given no times does; a value shows the
// plot alone.
func TestChartAllNullIsEmpty(t *testing.T) {
	h := newHabits(t, habitsConfig{})
	h.open("#/fraud?range=15m&refresh=off")
	h.loaded("fraud")
	h.eval(`(() => { const t = Math.floor(Date.now() / 1000); scenChart.setData([[t - 120, t - 60, t], [null, null, null]]); return ""; })()`)
	if got := h.eval(`String(document.getElementById("chart-scenarios").classList.contains("no-data") && getComputedStyle(document.querySelector("#chart-scenarios .empty-note")).display !== "none")`); got != "true" {
		t.Errorf("times with no value: the empty note is not shown")
	}
	h.eval(`(() => { const t = Math.floor(Date.now() / 1000); scenChart.setData([[t - 120, t - 60, t], [null, 0.5, null]]); return ""; })()`)
	if got := h.eval(`String(document.getElementById("chart-scenarios").classList.contains("no-data"))`); got != "false" {
		t.Errorf("a value: the chart still says it has no data")
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

// TestAlertRowRaisedLater: an alert the entity stage raised in its second
// step, minutes after its order, says when it was raised, since it comes
// above newer orders in the queue (newest raised first); one raised with
// its order does not.
func TestAlertRowRaisedLater(t *testing.T) {
	h := newHabits(t, habitsConfig{})
	h.open("#/fraud?range=1h&refresh=off")
	h.loaded("fraud")
	row := func(step int) string {
		return h.eval(`(() => { const tr = alertRow({id: 1, transaction_id: "t1", customer_id: "c1", event_time: "2026-12-06T17:24:59Z",
			created_at: "2026-12-06T17:30:56Z", amount: 411.99, risk: 0.545, decision: "review", status: "open",
			reasons: [{rule: "card_shared_pair", reason: "card used by 2 accounts", weight: 0.3, step: ` + strconv.Itoa(step) + `}]});
			return tr.cells[0].textContent + "|" + tr.cells[0].dataset.csv; })()`)
	}
	got := row(2)
	if !strings.Contains(got, " raised ") || !strings.HasSuffix(got, "|2026-12-06T17:24:59Z") {
		t.Errorf("a second step's alert: event time cell %q, want it to say when it was raised, its CSV the event time", got)
	}
	if got := row(1); strings.Contains(got, "raised") {
		t.Errorf("an alert raised with its order: event time cell %q says raised", got)
	}
	if sub := h.eval(`document.getElementById("alerts-sub").textContent`); sub != "newest raised first" && !strings.HasPrefix(sub, "newest raised first") {
		t.Errorf("alert queue subtitle %q", sub)
	}
}
