package web_test

import (
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
