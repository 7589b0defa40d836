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
		NewScorer: func(p int32) pipeline.Scorer { return det.NewPartitionScorer(p) }, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Store != "sqlite" || res.Records != 5000 || res.Alerts == 0 || len(res.Routes) < 20 {
		t.Fatalf("result = %+v", res)
	}
	var reason, customer bool
	for _, r := range res.Routes {
		if r.Bytes == 0 || r.P50Ms <= 0 || r.P95Ms < r.P50Ms || r.MaxMs < r.P95Ms {
			t.Errorf("%s: %+v", r.Route, r)
		}
		reason = reason || strings.Contains(r.Route, "reason=")
		customer = customer || strings.HasPrefix(r.Route, "/api/v1/customers/")
	}
	if !reason || !customer {
		t.Errorf("no route with a rule or a customer from the stored data: %+v", res.Routes)
	}
}
