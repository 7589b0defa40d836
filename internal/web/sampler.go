package web

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shopstream/shopstream/internal/store"
)

// A process that serves nothing (shopstream process without --addr)
// samples its own registry all the same and saves the coarse samples as a
// server with Config.SampleInstance does (histtiers.go, histpersist.go),
// so that the System page of a dashboard served elsewhere (shopstream
// serve, histremote.go) shows its history. Nobody reads its samples in
// memory: it keeps only what the folds to come need.

// SamplerConfig configures RunSampler.
type SamplerConfig struct {
	// Gatherer is sampled: its shopstream_* metrics. Required.
	Gatherer prometheus.Gatherer
	// Store keeps the samples, under Instance (the process's stable id).
	// Required.
	Store    store.SystemSamples
	Instance string
	// Every is how often it samples; defaults to 15 s, as a server does.
	Every time.Duration
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// RunSampler samples cfg.Gatherer now and every cfg.Every until ctx is
// done, saving a fine sample every 15 s and each coarse sample (one per
// 5 minutes, one per hour) as it folds. It first restores the instance's saved tiers, so that a restart's
// reset of the counters is corrected as a server's is. It returns nil when
// ctx is done; a save that fails is logged and retried at the next tick.
func RunSampler(ctx context.Context, cfg SamplerConfig) error {
	h := newSampler(cfg)
	t := time.NewTicker(h.every)
	defer t.Stop()
	h.sample(ctx, cfg, time.Now(), t.C)
	return nil
}

// newSampler is the lean ring of a sampler that only saves.
func newSampler(cfg SamplerConfig) *histRing {
	h := newHistRing(cfg.Gatherer, cfg.Every)
	h.lean = true
	return h
}

// sample restores the tiers, takes a sample at start and one at each
// time ticks sends (the ring's clock is the tick's time), until ctx is
// done.
func (h *histRing) sample(ctx context.Context, cfg SamplerConfig, start time.Time, ticks <-chan time.Time) {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("component", "system samples", "instance", cfg.Instance)
	clock := start
	h.now = func() time.Time { return clock }
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	if err := h.restore(rctx, cfg.Store, cfg.Instance); err != nil && ctx.Err() == nil {
		log.Warn("restoring the system samples; the coarse tiers start afresh", "error", err)
	}
	cancel()
	h.persist = &histPersist{st: cfg.Store, instance: cfg.Instance, logf: log.Warn}
	h.add(h.take(false))
	h.save()
	for {
		select {
		case <-ctx.Done():
			return
		case at := <-ticks:
			clock = at
			h.add(h.take(false))
			h.save()
		}
	}
}

// trim drops what no fold to come needs: of the coarsest tier all but its
// newest sample, of each finer tier and of the fine ring the samples
// before the newest of the tier above it (the span of the next fold's
// gauge means). h.mu is held.
func (h *histRing) trim() {
	n := len(h.tiers)
	if n == 0 {
		return
	}
	if last := h.tiers[n-1]; len(last.samples) > 1 {
		last.samples = append(last.samples[:0:0], last.samples[len(last.samples)-1])
	}
	for ti := n - 2; ti >= -1; ti-- {
		samples := &h.samples
		if ti >= 0 {
			samples = &h.tiers[ti].samples
		}
		up := h.tiers[ti+1].samples
		if len(up) == 0 {
			continue
		}
		from := up[len(up)-1].at
		i := 0
		for i < len(*samples)-1 && (*samples)[i].at.Before(from) {
			i++
		}
		if i > 0 {
			*samples = append((*samples)[:0:0], (*samples)[i:]...)
		}
	}
}
