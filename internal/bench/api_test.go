package bench

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/shopstream/shopstream/internal/detector"
	"github.com/shopstream/shopstream/internal/fraud"
	"github.com/shopstream/shopstream/internal/pipeline"
	"github.com/shopstream/shopstream/internal/shopgeo"
)

// TestRunAPISQLite fills a small SQLite store and checks that every route
// the pages send answered 200 (RunAPI fails otherwise) with a body, and
// that the fill stored alerts the filtered routes can find.
func TestRunAPISQLite(t *testing.T) {
	det, err := detector.New(detector.Config{State: shopgeo.Lookups(fraud.StateConfig{}), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	res, err := RunAPI(context.Background(), APIConfig{SQLiteDir: t.TempDir(), Records: 5000, Requests: 2, Detector: det,
		Batch: 1000, MeasureAt: []int{2000},
		NewScorer: func(p int32) pipeline.Scorer { return det.NewPartitionScorer(p) }, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Store != "sqlite" || res.Records != 5000 || res.Alerts == 0 || len(res.Routes) < 20 {
		t.Fatalf("result = %+v", res)
	}
	// The experiment exposed up to a fifth of the 1,000 customers, each
	// once; the drift trend holds a week of samples a minute, per field
	// and processor, and a week's answer is longer than an hour's.
	if res.Exposures == 0 || res.Exposures > 200 {
		t.Errorf("exposures = %d, want 1 to 200", res.Exposures)
	}
	if want := (7*24*60 + 1) * 3 * 2; res.DriftSamples != want {
		t.Errorf("drift samples = %d, want %d", res.DriftSamples, want)
	}
	drift := map[bool]int{}
	for _, r := range res.Routes {
		if strings.HasPrefix(r.Route, "/api/v1/quality/drift?") {
			drift[len(drift) == 0] = r.Bytes
		}
	}
	if len(drift) != 2 || drift[true] >= drift[false] {
		t.Errorf("drift answers' bytes: %v", drift)
	}
	// The fill paused once, at 2,000 records, and timed the routes there.
	if len(res.Earlier) != 1 || res.Earlier[0].Records != 2000 || len(res.Earlier[0].Routes) != len(res.Routes) ||
		res.Earlier[0].Alerts == 0 || res.Earlier[0].Alerts >= res.Alerts {
		t.Errorf("measured part-way: %+v, want once at 2,000 records with fewer alerts than at the end", res.Earlier)
	}
	var reason, customer, detail bool
	for _, r := range res.Routes {
		detail = detail || strings.HasPrefix(r.Route, "/api/v1/alerts/") && !strings.ContainsAny(r.Route, "?") && r.Route != "/api/v1/alerts/deliveries"
		if r.Bytes == 0 || r.P50Ms <= 0 || r.P95Ms < r.P50Ms || r.MaxMs < r.P95Ms {
			t.Errorf("%s: %+v", r.Route, r)
		}
		reason = reason || strings.Contains(r.Route, "reason=")
		customer = customer || strings.HasPrefix(r.Route, "/api/v1/customers/")
	}
	if !reason || !customer || !detail {
		t.Errorf("no route with a rule or a customer from the stored data: %+v", res.Routes)
	}
	// The admin pages' reads and a filtered list are timed too.
	for _, want := range []string{"/api/v1/audit?limit=100", "/api/v1/experiments", "/api/v1/fraud/rings?member=",
		"/api/v1/quality/drift?", "/api/v1/experiments/" + benchExperimentName} {
		found := false
		for _, r := range res.Routes {
			found = found || strings.HasPrefix(r.Route, want)
		}
		if !found {
			t.Errorf("no route %s timed", want)
		}
	}
}
