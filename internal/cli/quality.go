package cli

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/shopstream/shopstream/internal/bus"
	"github.com/shopstream/shopstream/internal/jobs"
	"github.com/shopstream/shopstream/internal/pipeline"
	"github.com/shopstream/shopstream/internal/quality/monitor"
	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/web"
)

// qualityInterval is how often the quality detectors run.
const qualityInterval = time.Minute

// qualityObserver feeds the processor's checked records to its monitor.
type qualityObserver struct{ m *monitor.Monitor }

func (o qualityObserver) Begin(_ int32, now time.Time) pipeline.QualityRecorder {
	return o.m.Begin(now)
}

// startQualityWatch runs the quality detectors in g every minute until ctx
// ends: those of mon (this processor's freshness and drift) and, as the
// store's leader, those of the whole stream (volume, failure rise), which
// skip their runs until after is closed (nil: from the start). While a
// backfill is being stored, the stored counts of the last minutes are its
// progress rather than the stream's: with the hour before the live phase
// half stored, the minute being judged had nothing stored yet, which the
// volume detector took for an outage.
func startQualityWatch(ctx context.Context, g *errgroup.Group, st store.Store, mon *monitor.Monitor, source string, volume monitor.VolumeConfig, after <-chan struct{}, logger *slog.Logger, reg prometheus.Registerer) error {
	q, ok := st.(store.Quality)
	if !ok {
		return fmt.Errorf("store %T keeps no quality counts", st)
	}
	cfg := jobs.QualityWatchConfig{Store: q, Monitor: mon, Source: source, AlertsTopic: bus.TopicAlerts, Volume: volume, Logger: logger, Registerer: reg}
	if l, ok := st.(jobs.Leader); ok {
		cfg.Leader = l
	}
	w, err := jobs.NewQualityWatch(cfg)
	if err != nil {
		return err
	}
	js := w.Jobs(qualityInterval)
	if after != nil {
		for i := range js {
			if js[i].Name == jobs.QualityStreamJob {
				js[i].Run = skipUntil(after, js[i].Run)
			} else {
				// Freshness judges the records checked in the last two
				// minutes: while the backfill's history is checked, and
				// until its last records leave that span, their event
				// time is months old by design ("median event-time lag
				// 3497h" was a critical finding in every run's first
				// minutes).
				js[i].Run = skipUntilPlus(after, 2*qualityInterval, time.Now, js[i].Run)
			}
		}
	}
	runner, err := jobs.NewRunner(jobs.Config{Logger: logger, Registerer: reg}, js...)
	if err != nil {
		return err
	}
	g.Go(func() error { return runner.Run(ctx) })
	return nil
}

// skipUntil wraps a job's run to skip (jobs.ErrSkipped) until after is
// closed.
func skipUntil(after <-chan struct{}, run func(context.Context) error) func(context.Context) error {
	return func(ctx context.Context) error {
		select {
		case <-after:
			return run(ctx)
		default:
			return fmt.Errorf("%w: waiting for the backfill to be stored", jobs.ErrSkipped)
		}
	}
}

// skipUntilPlus is skipUntil, and then skips for grace more, counted from
// the first run that found after closed (so at least grace after it
// closed).
func skipUntilPlus(after <-chan struct{}, grace time.Duration, now func() time.Time, run func(context.Context) error) func(context.Context) error {
	var seen time.Time
	return skipUntil(after, func(ctx context.Context) error {
		if seen.IsZero() {
			seen = now()
		}
		if now().Sub(seen) < grace {
			return fmt.Errorf("%w: the backfill's records are still among the last checked", jobs.ErrSkipped)
		}
		return run(ctx)
	})
}

// registerQualityAPI adds GET /api/v1/quality.
func registerQualityAPI(srv *web.Server, st store.Store) error {
	q, ok := st.(store.Quality)
	if !ok {
		return fmt.Errorf("store %T keeps no quality counts", st)
	}
	web.RegisterQuality(srv, q, nil)
	return nil
}
