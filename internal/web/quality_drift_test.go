package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/pgtest"
	"github.com/shopstream/shopstream/internal/store/postgres"
	"github.com/shopstream/shopstream/internal/web"
)

// TestQualityDriftTrendSQLite and ...PostgreSQL: GET /api/v1/quality/drift
// answers the stored PSI samples per field over the range, folded into its
// step (mean and largest over runs and processors), one field alone with
// field=.
func TestQualityDriftTrendSQLite(t *testing.T) {
	testQualityDriftTrend(t, openStore(t))
}

func TestQualityDriftTrendPostgreSQL(t *testing.T) {
	st, err := postgres.Open(context.Background(), pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	testQualityDriftTrend(t, st)
}

type driftStore interface {
	store.Store
	store.Quality
	store.QualityDrift
}

func testQualityDriftTrend(t *testing.T, st driftStore) {
	at := time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)
	var ss []store.DriftSample
	for m := range 90 { // a run a minute on two processors, 10:00 to 11:29
		for _, src := range []string{"p1", "p2"} {
			psi := 0.02
			if m >= 60 && src == "p2" {
				psi = 0.3 // p2's amounts drift from 11:00
			}
			ss = append(ss, store.DriftSample{At: at.Add(time.Duration(m) * time.Minute), Source: src, Field: "amount", PSI: psi, Ref: 4000, Cur: int64(1000 + m)},
				store.DriftSample{At: at.Add(time.Duration(m) * time.Minute), Source: src, Field: "channel", PSI: 0.01, Ref: 4000, Cur: 1000})
		}
	}
	if err := st.AddDriftSamples(context.Background(), ss); err != nil {
		t.Fatal(err)
	}
	srv, err := web.New(web.Config{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	web.RegisterQuality(srv, st, func() time.Time { return at.Add(2 * time.Hour) })
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	get := func(q string, want int) (web.DriftResponse, string) {
		t.Helper()
		resp, err := http.Get(ts.URL + "/api/v1/quality/drift?" + q)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var raw json.RawMessage
		if err := json.NewDecoder(resp.Body).Decode(&raw); err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != want {
			t.Fatalf("?%s: %d %s", q, resp.StatusCode, raw)
		}
		var out web.DriftResponse
		json.Unmarshal(raw, &out) //nolint:errcheck // errors do not fit; raw has them
		return out, string(raw)
	}
	// An hour and a half in minutes: a point a minute, p2's drift at 11:00.
	r, raw := get("since=2026-06-01T10:00:00Z&until=2026-06-01T11:30:00Z", http.StatusOK)
	if r.StepSeconds != 60 || len(r.Fields) != 3 || r.Warn != 0.1 || r.Critical != 0.25 {
		t.Fatalf("step %d, %d fields, thresholds %v %v: %s", r.StepSeconds, len(r.Fields), r.Warn, r.Critical, raw[:min(len(raw), 400)])
	}
	amount := r.Fields[0]
	if amount.Field != "amount" || len(amount.Points) != 90 || r.Fields[1].Field != "items_per_order" || len(r.Fields[1].Points) != 0 || len(r.Fields[2].Points) != 90 {
		t.Fatalf("fields: %s %d points, %s %d, %s %d", amount.Field, len(amount.Points), r.Fields[1].Field, len(r.Fields[1].Points), r.Fields[2].Field, len(r.Fields[2].Points))
	}
	p59, p60 := amount.Points[59], amount.Points[60]
	if !p60.At.Equal(at.Add(time.Hour)) || p59.Samples != 2 || math.Abs(p59.PSI-0.02) > 1e-9 || math.Abs(p60.PSI-0.16) > 1e-9 || p60.MaxPSI != 0.3 || p60.Cur != 1060 {
		t.Errorf("10:59 %+v and 11:00 %+v: want a mean of 0.02, then 0.16 with 0.3 at most", p59, p60)
	}
	// A day: 15-minute steps of 30 samples (15 runs × 2 processors).
	r, _ = get("field=amount&since=2026-06-01T00:00:00Z&until=2026-06-02T00:00:00Z", http.StatusOK)
	if r.StepSeconds != 900 || len(r.Fields) != 1 || len(r.Fields[0].Points) != 6 {
		t.Fatalf("a day of amount: step %d, %d fields, %+v", r.StepSeconds, len(r.Fields), r.Fields)
	}
	var got []string
	for _, p := range r.Fields[0].Points {
		got = append(got, fmt.Sprintf("%s %.3f %.2f %d", p.At.Format("15:04"), p.PSI, p.MaxPSI, p.Samples))
	}
	if want := "10:00 0.020 0.02 30,10:15 0.020 0.02 30,10:30 0.020 0.02 30,10:45 0.020 0.02 30,11:00 0.160 0.30 30,11:15 0.160 0.30 30"; strings.Join(got, ",") != want {
		t.Errorf("a day of amount:\n got %s\nwant %s", strings.Join(got, ","), want)
	}
	// Before the samples: the fields, no points.
	if r, _ := get("since=2026-05-01T00:00:00Z&until=2026-05-01T01:00:00Z", http.StatusOK); len(r.Fields) != 3 || len(r.Fields[0].Points) != 0 {
		t.Errorf("before the samples: %+v", r.Fields)
	}
	for _, q := range []string{"field=price", "since=2026-05-01T00:00:00Z&until=2026-06-01T00:00:00Z", "since=soon"} {
		if _, raw := get(q, http.StatusBadRequest); !strings.Contains(raw, "bad_request") {
			t.Errorf("?%s: %s", q, raw)
		}
	}
}
