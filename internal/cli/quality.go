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
// store's leader, those of the whole stream (volume, failure rise).
func startQualityWatch(ctx context.Context, g *errgroup.Group, st store.Store, mon *monitor.Monitor, source string, volume monitor.VolumeConfig, logger *slog.Logger, reg prometheus.Registerer) error {
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
	// The runner's own job metrics stay unregistered: the analytics
	// runner has the same names on reg. Failures are logged.
	runner, err := jobs.NewRunner(jobs.Config{Logger: logger}, w.Jobs(qualityInterval)...)
	if err != nil {
		return err
	}
	g.Go(func() error { return runner.Run(ctx) })
	return nil
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
