package cli

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/shopstream/shopstream/internal/jobs"
	"github.com/shopstream/shopstream/internal/store"
)

// retentionFlags are the ages after which the retention job deletes rows
// (0 keeps them), on the commands that run the leader's background jobs.
type retentionFlags struct {
	transactions, quarantine, outbox, minuteWindows, alerts dayDuration
	rollups, quality, audit, models                         dayDuration
	interval                                                time.Duration
	batch                                                   int
	// productsInterval and productsChunk run the product fold, which
	// fills the top products' rollup off the write path.
	productsInterval time.Duration
	productsChunk    int
	// busy and busyShare, set by process (not flags), bound the product
	// fold while its processor is behind (jobs.Job.BusyShare).
	busy      func() bool
	busyShare float64
	// feed, set by process and run (not a flag), hands the product fold
	// what their processor committed (jobs.ProductFeed).
	feed *jobs.ProductFeed
}

// The ages of the aggregates every command keeps by default: the minute
// rollups and the quality minutes and findings as long as the dashboard's
// longest range (30 days), the audit trail a year, retired model versions
// a week (the fraud forest is retrained every 15 minutes, about 60 kB a
// version: some 6 MB a day kept for ever before; the newest retired
// versions of each kind stay whatever their age, jobs.ModelsKept).
const (
	defaultRetainRollups = dayDuration(30 * 24 * time.Hour)
	defaultRetainQuality = dayDuration(30 * 24 * time.Hour)
	defaultRetainAudit   = dayDuration(365 * 24 * time.Hour)
	defaultRetainModels  = dayDuration(7 * 24 * time.Hour)
)

// runRetention is `shopstream run`'s default ages: the demo shop streams
// 10 transactions/s after a backfill of 540 days of event-time history,
// so what grows by the minute (per-minute windows, delivered outbox
// messages, alerts and quarantined records, all by processing time) is
// kept as long as the dashboard shows it, and raw transactions, which the
// analytics (cohorts, CLV over the whole history) read, are kept.
var runRetention = retentionFlags{quarantine: dayDuration(30 * 24 * time.Hour), outbox: dayDuration(time.Hour),
	minuteWindows: dayDuration(2 * 24 * time.Hour), alerts: dayDuration(90 * 24 * time.Hour),
	rollups: defaultRetainRollups, quality: defaultRetainQuality, audit: defaultRetainAudit, models: defaultRetainModels}

// register registers the flags with the default ages: 24 hours for the
// delivered outbox, 30 days for the minute rollups and the quality
// minutes and findings, a year for the audit trail, a week for retired
// model versions; the raw data (and the minute windows) are kept.
func (f *retentionFlags) register(fs *flag.FlagSet) {
	f.registerWith(fs, retentionFlags{outbox: dayDuration(24 * time.Hour), rollups: defaultRetainRollups,
		quality: defaultRetainQuality, audit: defaultRetainAudit, models: defaultRetainModels})
}

// registerWith registers the flags with the ages of def as defaults.
func (f *retentionFlags) registerWith(fs *flag.FlagSet, def retentionFlags) {
	f.transactions, f.quarantine, f.outbox, f.minuteWindows, f.alerts = def.transactions, def.quarantine, def.outbox, def.minuteWindows, def.alerts
	f.rollups, f.quality, f.audit, f.models = def.rollups, def.quality, def.audit, def.models
	fs.Var(&f.transactions, "retain-transactions", "delete raw transactions (and their labels) this long after their event time, e.g. 30d; PostgreSQL drops whole days (0 keeps them)")
	fs.Var(&f.quarantine, "retain-quarantine", "delete quarantined records this long after they were quarantined, e.g. 90d (0 keeps them)")
	fs.Var(&f.outbox, "retain-outbox", "delete delivered outbox messages this long after delivery; pending ones are never deleted (0 keeps them)")
	fs.Var(&f.minuteWindows, "retain-minute-windows", "delete per-minute window metrics this long after the minute, e.g. 7d; hourly ones and the totals are kept (0 keeps them)")
	fs.Var(&f.alerts, "retain-alerts", "delete fraud alerts this long after they were raised, e.g. 180d (0 keeps them)")
	fs.Var(&f.rollups, "retain-rollups", "delete the per-minute fraud rollups this long after their minute (event time); the hourly and daily ones, which the detection metrics read for whole hours and days, are kept (0 keeps them)")
	fs.Var(&f.quality, "retain-quality", "delete the per-minute data-quality counts and the quality findings this long after they were checked or found (0 keeps them)")
	fs.Var(&f.audit, "retain-audit", "delete audit-trail entries this long after they were recorded, e.g. 730d (0 keeps them for ever)")
	fs.Var(&f.models, "retain-models", fmt.Sprintf("delete retired model versions (fraud forests, CLV and segment models) this long after they were trained; the %d newest retired versions of each kind, and the %d newest once active (a rollback's targets), stay whatever their age; the active and shadow versions always stay (0 keeps them all)", jobs.ModelsKept, jobs.ModelsKept))
	fs.DurationVar(&f.interval, "retention-interval", time.Minute, "how often the retention job runs (one instance at a time; it also checkpoints SQLite's write-ahead log and creates PostgreSQL's partitions ahead)")
	fs.IntVar(&f.batch, "retention-batch", 1000, "most rows the retention job deletes per database transaction")
	fs.DurationVar(&f.productsInterval, "products-fold-interval", 10*time.Second, "how often the product fold adds the transactions stored since its last run to the top products' rollup (one instance at a time)")
	fs.IntVar(&f.productsChunk, "products-fold-chunk", 0, "most transactions the product fold adds per database transaction (0: 20,000 on PostgreSQL, 5,000 on SQLite, whose one writer a chunk holds)")
}

func (f *retentionFlags) validate() error {
	switch {
	case f.interval <= 0:
		return usageError{fmt.Errorf("invalid value %v for flag -retention-interval: must be above 0", f.interval)}
	case f.batch < 1:
		return usageError{fmt.Errorf("invalid value %d for flag -retention-batch: must be at least 1", f.batch)}
	case f.productsInterval <= 0:
		return usageError{fmt.Errorf("invalid value %v for flag -products-fold-interval: must be above 0", f.productsInterval)}
	case f.productsChunk < 0:
		return usageError{fmt.Errorf("invalid value %d for flag -products-fold-chunk: must not be negative", f.productsChunk)}
	}
	return nil
}

// start runs the retention job and the product fold in g until ctx ends.
func (f *retentionFlags) start(ctx context.Context, g *errgroup.Group, st store.Store, logger *slog.Logger, reg prometheus.Registerer) error {
	return f.startAfter(ctx, g, st, logger, reg, nil, nil)
}

// startAfter is start with the retention job's first pass held until
// after is closed, and the product fold's until foldAfter is (nil: not
// held): run's backfill is stored first, without the deletion of its old
// minute windows competing for SQLite's one writer, and its first
// analytics refresh runs before the fold of the history's products
// (about a sixth of the CPU of run's first two minutes, and writes that
// wait for that one writer too).
func (f *retentionFlags) startAfter(ctx context.Context, g *errgroup.Group, st store.Store, logger *slog.Logger, reg prometheus.Registerer,
	after, foldAfter <-chan struct{}) error {
	rs, ok := st.(jobs.RetentionStore)
	if !ok {
		return fmt.Errorf("store %T cannot delete by age", st)
	}
	// What the job would delete is not written in the first place: a
	// backfill of old history writes its hours, not minutes to delete.
	if h, ok := st.(store.MinuteHorizon); ok {
		h.KeepMinutes(time.Duration(f.minuteWindows), time.Duration(f.rollups))
	}
	r, err := jobs.NewRetention(jobs.RetentionConfig{Store: rs, Transactions: time.Duration(f.transactions),
		Quarantine: time.Duration(f.quarantine), Outbox: time.Duration(f.outbox), MinuteWindows: time.Duration(f.minuteWindows),
		Alerts: time.Duration(f.alerts), Rollups: time.Duration(f.rollups), Quality: time.Duration(f.quality), Audit: time.Duration(f.audit),
		Models: time.Duration(f.models), Batch: f.batch, Logger: logger, Registerer: reg})
	if err != nil {
		return usageError{err}
	}
	list := []jobs.Job{held(r.Job(f.interval), after)}
	if fs, ok := st.(jobs.ProductFoldStore); ok && f.productsInterval > 0 {
		pcfg := jobs.ProductFoldConfig{Store: fs, Chunk: productsChunk(f.productsChunk, st), Busy: f.busy, Logger: logger}
		if f.feed != nil {
			pcfg.Feed = f.feed
		}
		pf, err := jobs.NewProductFold(pcfg)
		if err != nil {
			return usageError{err}
		}
		list = append(list, held(pf.Job(f.productsInterval, f.busyShare), foldAfter))
	}
	runner, err := jobs.NewRunner(jobs.Config{Logger: logger, Registerer: reg, Busy: f.busy}, list...)
	if err != nil {
		return err
	}
	g.Go(func() error { return runner.Run(ctx) })
	return nil
}

// Product fold chunks by store (--products-fold-chunk 0). A chunk's write
// holds SQLite's one writer, so the stream's batches wait for it there;
// on PostgreSQL it locks only the rollup's own rows, and every chunk
// rewrites each product's hour and day row it touches, so larger chunks
// write fewer row versions: a live stream of 10,000 tx/s over 2,000
// products wrote 83,586 rows in 3.4 s per 128,000 transactions in chunks
// of 5,000, 23,216 rows in 1.6 s per 108,000 in chunks of 20,000, and
// 11,230 rows in 1.2 s per 105,000 in chunks of 50,000, which hold more
// in memory for little more gain (test/perf/paced.sh,
// docs/benchmarks.md).
const (
	productsChunkPostgres = 20_000
	productsChunkSQLite   = 5_000
)

// productsChunk is the product fold's chunk: n, or when n is 0 the
// default of st's kind, told by its write shape (one writer: SQLite).
func productsChunk(n int, st store.Store) int {
	if n > 0 {
		return n
	}
	if w, ok := st.(store.WriteShape); ok && w.Writers() == 1 {
		return productsChunkSQLite
	}
	return productsChunkPostgres
}

// held makes each run of job wait until after is closed (nil: no wait).
func held(job jobs.Job, after <-chan struct{}) jobs.Job {
	if after == nil {
		return job
	}
	run := job.Run
	job.Run = func(ctx context.Context) error {
		select {
		case <-after:
		case <-ctx.Done():
			return ctx.Err()
		}
		return run(ctx)
	}
	return job
}
