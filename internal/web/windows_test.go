package web_test

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/web"
)

// TestWindowsRange checks the time range of GET /api/v1/windows: since
// and until bound the windows' starts, and a range that is not one is 400.
func TestWindowsRange(t *testing.T) {
	e := newAPIEnv(t, web.Config{})
	get := func(q string, want int) ([]web.WindowJSON, []byte) {
		t.Helper()
		resp, body := e.send(t, "GET", "/api/v1/windows?"+q, "", nil)
		if resp.StatusCode != want {
			t.Fatalf("GET /api/v1/windows?%s: %d %s, want %d", q, resp.StatusCode, body, want)
		}
		if want != http.StatusOK {
			checkErrorBody(t, q, resp.StatusCode, body)
			return nil, body
		}
		var out struct {
			Windows []web.WindowJSON `json:"windows"`
		}
		if err := json.Unmarshal(body, &out); err != nil {
			t.Fatal(err)
		}
		return out.Windows, body
	}
	starts := func(ws []web.WindowJSON) string {
		var s []string
		for _, w := range ws {
			s = append(s, w.Start.UTC().Format("15:04"))
		}
		return strings.Join(s, ",")
	}
	// The fraud fixture's minutes: 10:00 to 10:09 on 1 June 2026.
	ws, _ := get("since=2026-06-01T10:00:00Z&until=2026-06-01T10:05:00Z", http.StatusOK)
	if got := starts(ws); got != "10:00,10:01,10:02,10:03,10:04" {
		t.Errorf("10:00 to 10:05: %s", got)
	}
	ws, body := get("since=2026-06-01T10:07:00Z", http.StatusOK)
	if got := starts(ws); got != "10:07,10:08,10:09" || strings.Contains(string(body), `"until"`) {
		t.Errorf("from 10:07: %s (%s)", got, body)
	}
	since := time.Date(2026, 6, 1, 10, 8, 0, 0, time.UTC).Unix()
	ws, _ = get("since="+strconv.FormatInt(since, 10)+"&until="+strconv.FormatInt(since+60, 10), http.StatusOK)
	if got := starts(ws); got != "10:08" {
		t.Errorf("Unix seconds, 10:08 to 10:09: %s", got)
	}
	for _, q := range []string{
		"since=2026-06-01T10:05:00Z&until=2026-06-01T10:05:00Z", // empty
		"since=2026-06-01T10:05:00Z&until=2026-06-01T10:00:00Z", // reversed
		"until=yesterday", "since=-5", "granularity=day",
	} {
		_, body := get(q, http.StatusBadRequest)
		name := strings.Split(strings.Split(q, "&")[len(strings.Split(q, "&"))-1], "=")[0]
		if !strings.Contains(string(body), name) {
			t.Errorf("%s: the error %s does not name %s", q, body, name)
		}
	}
}

// TestWindowsFoldedToStep checks step= and by=: the folded windows are the
// sums of the stored ones in each step, which starts at since (truncated
// to the granularity), per currency alone with by=currency; the answer
// states its step; a step that is no multiple of the granularity is 400.
func TestWindowsFoldedToStep(t *testing.T) {
	e := newAPIEnv(t, web.Config{})
	type answer struct {
		StepSeconds int64            `json:"step_seconds"`
		By          string           `json:"by"`
		Windows     []web.WindowJSON `json:"windows"`
	}
	get := func(q string, want int) (answer, []byte) {
		t.Helper()
		resp, body := e.send(t, "GET", "/api/v1/windows?"+q, "", nil)
		if resp.StatusCode != want {
			t.Fatalf("GET /api/v1/windows?%s: %d %s, want %d", q, resp.StatusCode, body, want)
		}
		var out answer
		if want == http.StatusOK {
			if err := json.Unmarshal(body, &out); err != nil {
				t.Fatal(err)
			}
		} else {
			checkErrorBody(t, q, resp.StatusCode, body)
		}
		return out, body
	}
	raw, _ := get("since=2026-06-01T10:00:00Z&until=2026-06-01T10:10:00Z", http.StatusOK)
	if raw.StepSeconds != 60 || raw.By != "all" || len(raw.Windows) < 10 {
		t.Fatalf("unfolded: step %d by %q, %d windows", raw.StepSeconds, raw.By, len(raw.Windows))
	}
	// What folding must give, summed here from the unfolded answer.
	type sums struct{ n, rev, alerts int64 }
	fold := func(origin time.Time, step time.Duration) map[string]sums {
		want := map[string]sums{}
		for _, w := range raw.Windows {
			if w.Start.Before(origin) {
				continue
			}
			k := origin.Add(w.Start.Sub(origin)/step*step).UTC().Format("15:04") + " " + w.Currency
			s := want[k]
			s.n, s.rev, s.alerts = s.n+w.Count, s.rev+w.RevenueMinor, s.alerts+w.Alerts
			want[k] = s
		}
		return want
	}
	got := func(a answer) map[string]sums {
		out := map[string]sums{}
		for _, w := range a.Windows {
			if w.Channel != "" || w.PaymentMethod != "" {
				t.Errorf("by=currency window names a channel or payment method: %+v", w)
			}
			k := w.Start.UTC().Format("15:04") + " " + w.Currency
			if _, dup := out[k]; dup {
				t.Errorf("two windows of %s", k)
			}
			out[k] = sums{w.Count, w.RevenueMinor, w.Alerts}
		}
		return out
	}
	check := func(q string, origin time.Time, step time.Duration, starts string) {
		t.Helper()
		a, body := get(q, http.StatusOK)
		if a.StepSeconds != int64(step/time.Second) || a.By != "currency" {
			t.Errorf("%s: step %d by %q", q, a.StepSeconds, a.By)
		}
		want, g := fold(origin, step), got(a)
		if len(want) == 0 || !reflect.DeepEqual(g, want) {
			t.Errorf("%s: folded %v, want %v", q, g, want)
		}
		var ss []string
		for _, w := range a.Windows {
			if s := w.Start.UTC().Format("15:04"); len(ss) == 0 || ss[len(ss)-1] != s {
				ss = append(ss, s)
			}
		}
		if strings.Join(ss, ",") != starts {
			t.Errorf("%s: starts %v, want %s (%s)", q, ss, starts, body)
		}
	}
	ten := time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)
	check("since=2026-06-01T10:00:00Z&until=2026-06-01T10:10:00Z&step=5m&by=currency", ten, 5*time.Minute, "10:00,10:05")
	check("since=2026-06-01T10:00:00Z&until=2026-06-01T10:10:00Z&step=600&by=currency", ten, 10*time.Minute, "10:00")
	// A since inside a minute: the steps start at its minute, and the
	// windows before since are left out.
	check("since=2026-06-01T10:02:30Z&until=2026-06-01T10:10:00Z&step=3m&by=currency", ten.Add(2*time.Minute+30*time.Second).Truncate(time.Minute).Add(time.Minute), 3*time.Minute, "10:03,10:06,10:09")
	check("since=2026-06-01T10:00:00Z&until=2026-06-01T10:10:00Z&step=1m&by=currency", ten, time.Minute, "10:00,10:01,10:02,10:03,10:04,10:05,10:06,10:07,10:08,10:09")

	// step=auto: the smallest step with at most 240 windows over the range.
	for q, want := range map[string]int64{
		"granularity=hour&since=2026-05-02T10:00:00Z&until=2026-06-01T10:00:00Z&step=auto": 3 * 3600, // 30 days: 720 hours
		"granularity=hour&since=2026-05-25T10:00:00Z&until=2026-06-01T10:00:00Z&step=auto": 3600,     // 7 days: 168 hours
		"since=2026-06-01T10:00:00Z&until=2026-06-01T11:00:00Z&step=auto":                  60,
		"since=2026-06-01T06:00:00Z&until=2026-06-01T11:00:00Z&step=auto":                  5 * 60,
	} {
		if a, _ := get(q, http.StatusOK); a.StepSeconds != want {
			t.Errorf("%s: step %d s, want %d", q, a.StepSeconds, want)
		}
	}
	for _, q := range []string{"step=90s", "step=0", "step=-60", "step=soon", "granularity=hour&step=30m", "step=400d", "by=channel"} {
		_, body := get(q, http.StatusBadRequest)
		name := strings.Split(strings.Split(q, "&")[len(strings.Split(q, "&"))-1], "=")[0]
		if !strings.Contains(string(body), name) {
			t.Errorf("%s: the error %s does not name %s", q, body, name)
		}
	}
}
