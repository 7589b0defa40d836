package web_test

import (
	"encoding/json"
	"net/http"
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
