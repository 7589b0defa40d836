package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/shopstream/shopstream/internal/bench"
	"github.com/shopstream/shopstream/internal/detector"
	"github.com/shopstream/shopstream/internal/fraud"
	"github.com/shopstream/shopstream/internal/shopgeo"
)

// apiBenchFlags are the flags of `shopstream bench --api-only`.
type apiBenchFlags struct {
	only     bool
	records  int
	requests int
	span     time.Duration
	sqlite   bool
	noRefr   bool
}

func (f *apiBenchFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&f.only, "api-only", false, "run the API phase alone: fill a throwaway store, then time every GET the dashboard's pages send")
	fs.IntVar(&f.records, "api-records", 1_000_000, "with -api-only: transactions stored before the API is timed")
	fs.IntVar(&f.requests, "api-requests", 100, "with -api-only: measured requests per route")
	fs.DurationVar(&f.span, "api-span", 90*24*time.Hour, "with -api-only: event time the stored transactions cover, ending now (the CLV model needs 8 weeks)")
	fs.BoolVar(&f.sqlite, "api-sqlite", false, "with -api-only: fill an embedded SQLite store in a temporary directory instead of PostgreSQL")
	fs.BoolVar(&f.noRefr, "api-skip-refresh", false, "with -api-only: leave out the customer-analytics refresh after the fill")
}

func (f *apiBenchFlags) validate(fs *flag.FlagSet) error {
	if !f.only {
		var set []string
		fs.Visit(func(fl *flag.Flag) {
			if strings.HasPrefix(fl.Name, "api-") && fl.Name != "api-only" {
				set = append(set, "-"+fl.Name)
			}
		})
		if len(set) > 0 {
			return usageError{fmt.Errorf("flag %s needs -api-only", strings.Join(set, ", "))}
		}
		return nil
	}
	switch {
	case f.records < 1000:
		return usageError{fmt.Errorf("invalid value %d for flag -api-records: at least 1000", f.records)}
	case f.requests < 1:
		return usageError{fmt.Errorf("invalid value %d for flag -api-requests: at least 1", f.requests)}
	case f.span < time.Hour:
		return usageError{fmt.Errorf("invalid value %v for flag -api-span: at least 1h", f.span)}
	}
	return nil
}

// runAPIBench runs bench.RunAPI and prints a line per route.
func runAPIBench(ctx context.Context, f *apiBenchFlags, pg string, seed int64, batch int, asJSON bool, logger *slog.Logger, stdout io.Writer) error {
	cfg := bench.APIConfig{PostgresURL: pg, Records: f.records, Span: f.span, Seed: seed, Batch: batch, Requests: f.requests,
		SkipRefresh: f.noRefr, Logger: logger}
	if f.sqlite {
		dir, err := os.MkdirTemp("", "shopstream-bench-api-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		cfg.SQLiteDir, cfg.PostgresURL = dir, ""
	} else if pg == "" {
		u, stop, err := throwawayPostgres(ctx, logger)
		if err != nil {
			return err
		}
		defer stop()
		cfg.PostgresURL = u
	}
	det, err := detector.New(detector.Config{State: shopgeo.Lookups(fraud.StateConfig{}), Logger: logger})
	if err != nil {
		return err
	}
	if err := trainBenchModel(det, seed); err != nil {
		return err
	}
	cfg.Detector, cfg.NewScorer = det, partitionScorers(det)
	res, err := bench.RunAPI(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "API over %s with %d stored transactions (%d alerts, %d customers): filled in %.0f s, analytics refresh %.0f s; %d requests per route, one at a time over loopback\n\n",
		res.Store, res.Records, res.Alerts, res.Customers, res.FillS, res.RefreshS, res.Requests)
	fmt.Fprintf(stdout, "  %-10s %9s %9s %9s %9s %9s  %s\n", "page", "first ms", "p50 ms", "p95 ms", "max ms", "bytes", "route")
	for _, r := range res.Routes {
		fmt.Fprintf(stdout, "  %-10s %9.1f %9.1f %9.1f %9.1f %9d  %s\n", r.Page, r.FirstMs, r.P50Ms, r.P95Ms, r.MaxMs, r.Bytes, r.Route)
	}
	if asJSON {
		b, _ := json.Marshal(res)
		fmt.Fprintf(stdout, "%s\n", b)
	}
	return nil
}
