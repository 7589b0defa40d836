package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
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
	at       string
}

func (f *apiBenchFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&f.only, "api-only", false, "run the API phase alone: fill a throwaway store, then time every GET the dashboard's pages send")
	fs.IntVar(&f.records, "api-records", 1_000_000, "with -api-only: transactions stored before the API is timed")
	fs.IntVar(&f.requests, "api-requests", 100, "with -api-only: measured requests per route")
	fs.DurationVar(&f.span, "api-span", 90*24*time.Hour, "with -api-only: event time the stored transactions cover, ending now (the CLV model needs 8 weeks)")
	fs.BoolVar(&f.sqlite, "api-sqlite", false, "with -api-only: fill an embedded SQLite store in a temporary directory instead of PostgreSQL")
	fs.BoolVar(&f.noRefr, "api-skip-refresh", false, "with -api-only: leave out the customer-analytics refresh after the fill")
	fs.StringVar(&f.at, "api-measure-at", "", "with -api-only: record counts, comma-separated, at which the fill pauses to refresh and time every route too, e.g. 3000000")
}

// measureAt parses -api-measure-at.
func (f *apiBenchFlags) measureAt() ([]int, error) {
	var out []int
	for _, v := range strings.Split(f.at, ",") {
		if v = strings.TrimSpace(v); v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1000 || n >= f.records {
			return nil, usageError{fmt.Errorf("invalid value %q for flag -api-measure-at: record counts from 1000 to below -api-records", v)}
		}
		out = append(out, n)
	}
	return out, nil
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
	_, err := f.measureAt()
	return err
}

// runAPIBench runs bench.RunAPI and prints a line per route.
func runAPIBench(ctx context.Context, f *apiBenchFlags, pg string, seed int64, batch int, asJSON bool, logger *slog.Logger, stdout io.Writer) error {
	at, err := f.measureAt()
	if err != nil {
		return err
	}
	cfg := bench.APIConfig{PostgresURL: pg, Records: f.records, Span: f.span, Seed: seed, Batch: batch, Requests: f.requests,
		SkipRefresh: f.noRefr, MeasureAt: at, Logger: logger}
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
	if err := bench.TrainModel(det, seed); err != nil {
		return err
	}
	cfg.Detector, cfg.NewScorer = det, partitionScorers(det)
	res, err := bench.RunAPI(ctx, cfg)
	if err != nil {
		return err
	}
	table := func(routes []bench.APIRoute, load [2]string) {
		fmt.Fprintf(stdout, "  load average: %s at the start, %s at the end\n", load[0], load[1])
		fmt.Fprintf(stdout, "  %-11s %9s %9s %9s %9s %9s  %s\n", "page", "first ms", "p50 ms", "p95 ms", "max ms", "bytes", "route")
		for _, r := range routes {
			fmt.Fprintf(stdout, "  %-11s %9.1f %9.1f %9.1f %9.1f %9d  %s\n", r.Page, r.FirstMs, r.P50Ms, r.P95Ms, r.MaxMs, r.Bytes, r.Route)
		}
	}
	for _, m := range res.Earlier {
		fmt.Fprintf(stdout, "API over %s part-way, with %d stored transactions (%d alerts): analytics refresh %.0f s\n\n", res.Store, m.Records, m.Alerts, m.RefreshS)
		table(m.Routes, m.LoadAvg)
		fmt.Fprintln(stdout)
	}
	fmt.Fprintf(stdout, "API over %s with %d stored transactions (%d alerts, %d customers): filled in %.0f s, analytics refresh %.0f s; %d requests per route, one at a time over loopback\n\n",
		res.Store, res.Records, res.Alerts, res.Customers, res.FillS, res.RefreshS, res.Requests)
	table(res.Routes, res.LoadAvg)
	if asJSON {
		b, _ := json.Marshal(res)
		fmt.Fprintf(stdout, "%s\n", b)
	}
	return nil
}
