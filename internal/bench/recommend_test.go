package bench

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/event"
	"github.com/shopstream/shopstream/internal/quality"
	"github.com/shopstream/shopstream/internal/recsvc"
	"github.com/shopstream/shopstream/internal/store/pgtest"
)

// TestWithRecommend runs the benchmark at a tiny size with the
// recommendation service tailing the store, and checks that both phases
// ran in every run and that the service folded exactly the item lines of
// the stored records, counted here from the generated records: every line
// must reach the counts, none twice.
func TestWithRecommend(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cfg := Config{
		PostgresURL: pgtest.URL(t), Records: 3000, Customers: 500, Runs: 2, Batch: 500,
		LatencyRate: 500, LatencyDuration: time.Second, SkipEmbedded: true, SkipRecovery: true, SkipDeployed: true,
		WithRecommend: true, Recommend: recsvc.Config{FoldEvery: 20 * time.Millisecond, RebuildEvery: 50 * time.Millisecond},
		Logger: slog.New(slog.DiscardHandler),
		start:  time.Now().Add(-time.Hour).Truncate(time.Second),
	}
	res, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}

	recs, err := prepare(cfg.withDefaults())
	if err != nil {
		t.Fatal(err)
	}
	// The item lines the store should hold: those of every record the
	// default contract accepts (the shop's generator makes a few the
	// checks quarantine, e.g. for an unknown country).
	var want, quarantined int64
	var tx event.Transaction
	var qr quality.Result
	for i := range recs {
		if quality.Default().Decode(recs[i].Value, time.Now(), &tx, &qr); qr.Failure != nil {
			quarantined++
			continue
		}
		want += int64(len(tx.Items))
	}
	t.Logf("%d item lines in the %d accepted records; %d quarantined", want, int64(len(recs))-quarantined, quarantined)
	if want <= int64(cfg.Records) {
		t.Fatalf("%d item lines in %d records: the shop should have some baskets of several items", want, cfg.Records)
	}

	r := res.Recommend
	if r == nil {
		t.Fatal("no recommendation figures with WithRecommend")
	}
	if len(res.E2ERuns) != 2 || len(r.Runs) != 2 || len(r.CostRuns) != 2 {
		t.Fatalf("runs: %d without, %d with, %d costs; want 2 of each", len(res.E2ERuns), len(r.Runs), len(r.CostRuns))
	}
	for i := range 2 {
		if r.StoredRuns[i] != want || r.FoldedRuns[i] != want {
			t.Errorf("run %d: the store holds %d lines and the service folded %d; the records have %d", i+1, r.StoredRuns[i], r.FoldedRuns[i], want)
		}
		if r.Runs[i] <= 0 || res.E2ERuns[i] <= 0 {
			t.Errorf("run %d: %v tx/s with the service, %v without", i+1, r.Runs[i], res.E2ERuns[i])
		}
		if r.LagLinesRuns[i] < 0 || r.LagLinesRuns[i] > want {
			t.Errorf("run %d: %d lines behind of %d", i+1, r.LagLinesRuns[i], want)
		}
		if r.CatchUpSRuns[i] <= 0 {
			t.Errorf("run %d: caught up after %v s", i+1, r.CatchUpSRuns[i])
		}
		if r.RebuildsRuns[i] < 1 {
			t.Errorf("run %d: %d models built; the service builds one at start", i+1, r.RebuildsRuns[i])
		}
		if got := 1 - r.Runs[i]/res.E2ERuns[i]; got != r.CostRuns[i] {
			t.Errorf("run %d: cost %v, want %v from the two phases", i+1, r.CostRuns[i], got)
		}
	}
	if r.TPS != median(r.Runs) || r.Cost != 1-r.TPS/res.E2ETPS {
		t.Errorf("median %v of %v, cost %v against e2e %v", r.TPS, r.Runs, r.Cost, res.E2ETPS)
	}
	if r.StoredLinesPerS <= 0 || r.BusyNsPerLine <= 0 || r.FoldEveryS != 0.02 || r.RebuildEveryS != 0.05 {
		t.Errorf("stored %v lines/s, busy %v ns/line, intervals %v s and %v s", r.StoredLinesPerS, r.BusyNsPerLine, r.FoldEveryS, r.RebuildEveryS)
	}
}

// TestWithoutRecommend checks that the default benchmark has no
// recommendation phase.
func TestWithoutRecommend(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	res, err := Run(ctx, Config{
		PostgresURL: pgtest.URL(t), Records: 1000, Customers: 200, Runs: 1, Batch: 500,
		LatencyRate: 500, LatencyDuration: time.Second, SkipEmbedded: true, SkipRecovery: true, SkipDeployed: true,
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Recommend != nil || len(res.E2ERuns) != 1 || res.E2ETPS <= 0 {
		t.Fatalf("recommend %+v, e2e runs %v", res.Recommend, res.E2ERuns)
	}
}
