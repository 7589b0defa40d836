package web_test

import (
	"strings"
	"testing"
	"time"
)

// TestOverviewThirtyDaysInThreeHourSteps: the 30-day range asks the server
// for its windows in 3-hour steps per currency (GET /api/v1/windows with
// step and by), so the page draws a bar per 3 hours, holding every
// purchase of the range, and says so.
func TestOverviewThirtyDaysInThreeHourSteps(t *testing.T) {
	var written int
	h := newHabits(t, habitsConfig{prepare: func(h *habits) {
		// Purchases in consecutive hours 20 days ago, and some 3, 9 and 25
		// days ago: hourly bars would stand an hour apart.
		h.currency = "EUR"
		for i, n := range []int{5, 3, 4, 2, 6} {
			h.write(h.base.Add(-20*24*time.Hour+time.Duration(i)*time.Hour), n, 1000)
			written += n
		}
		for _, d := range []int{3, 9, 25} {
			h.write(h.base.Add(-time.Duration(d)*24*time.Hour), 7, 1000)
			written += 7
		}
	}})
	h.open("#/overview?range=30d&refresh=off")
	h.loaded("overview")
	h.wait("the volume chart has its steps", `Number(document.getElementById("chart-volume").dataset.points) > 0`, 0)
	var data [][]float64
	h.evalJSON(`volumeChart.u.data.slice(0, 2)`, &data)
	ts, counts := data[0], data[1]
	if len(ts) < 4 || len(ts) > 6 {
		t.Fatalf("%d bars %v, want 4 to 6 (the five hours fall in two or three steps, and three days)", len(ts), ts)
	}
	var sum float64
	for i := range ts {
		if i > 0 && int64(ts[i]-ts[0])%10800 != 0 {
			t.Errorf("bars at %v: not 3 hours apart", ts)
		}
		sum += counts[i]
	}
	if int(sum) != written {
		t.Errorf("the bars hold %v purchases, want %d: %v", sum, written, counts)
	}
	if sub := h.eval(`document.getElementById("volume-sub").textContent`); !strings.Contains(sub, "per 3 hours") {
		t.Errorf("volume subtitle %q, want it to say per 3 hours", sub)
	}
	if n := h.eval(`String(ov.step)`); n != "10800" {
		t.Errorf("the page's step %s, want the server's 10800", n)
	}
}
