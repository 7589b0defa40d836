package fraudmetrics

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/shopstream/shopstream/internal/fraud"
	"github.com/shopstream/shopstream/internal/store"
)

// Windows are the windows of event time a Report can cover, by name; 0 is
// everything stored.
var Windows = map[string]time.Duration{"15m": 15 * time.Minute, "1h": time.Hour, "24h": 24 * time.Hour,
	"7d": 7 * 24 * time.Hour, "30d": 30 * 24 * time.Hour, "all": 0}

// WindowNames lists the keys of Windows, for messages.
const WindowNames = "15m, 1h, 24h, 7d, 30d or all"

// DefaultLabelWindow is Config.LabelWindow's default: 60 days, within
// which most chargebacks arrive (docs/fraud.md#labels-that-arrive-late).
const DefaultLabelWindow = 60 * 24 * time.Hour

// ErrUnknownWindow is returned for a window not in Windows.
var ErrUnknownWindow = errors.New("unknown metrics window")

// Config configures a Service.
type Config struct {
	// Store holds the outcomes and their rollups (it must implement
	// store.RollupReader). Required.
	Store store.Fraud
	// Rollups reads the rollups. Defaults to the Store's FraudRollups.
	Rollups func(ctx context.Context, q store.RollupQuery) (*store.Rollups, error)
	// Thresholds returns the scorer's settings in force. Required.
	Thresholds func() fraud.ScorerConfig
	// ShadowVersion returns the shadow model in use, 0 for none.
	// Defaults to none.
	ShadowVersion func() int
	// Now is the clock of Report.ComputedAt. Defaults to time.Now.
	Now func() time.Time
	// LabelWindow is how long after a transaction its label may still
	// arrive (Report.LabelWindow). Defaults to DefaultLabelWindow; a
	// negative value presumes nothing.
	LabelWindow time.Duration
	// TTL is how long a computed Report is reused. Reading the rollups
	// takes milliseconds; the TTL keeps a dashboard of many tabs from
	// reading them once per tab. Defaults to 10 s.
	TTL time.Duration
}

// Service computes Reports from the stored rollups, reusing each for TTL.
type Service struct {
	cfg Config

	mu    sync.Mutex // one computation at a time
	cache map[string]cached
}

type cached struct {
	r  *Report
	at time.Time
}

// New returns a Service; it fails when a required field is missing.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Thresholds == nil {
		return nil, errors.New("fraud metrics: Store and Thresholds are required")
	}
	if cfg.Rollups == nil {
		rr, ok := cfg.Store.(store.RollupReader)
		if !ok {
			return nil, fmt.Errorf("fraud metrics: store %T keeps no rollups", cfg.Store)
		}
		cfg.Rollups = rr.FraudRollups
	}
	if cfg.ShadowVersion == nil {
		cfg.ShadowVersion = func() int { return 0 }
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	switch {
	case cfg.LabelWindow == 0:
		cfg.LabelWindow = DefaultLabelWindow
	case cfg.LabelWindow < 0:
		cfg.LabelWindow = 0
	}
	if cfg.TTL <= 0 {
		cfg.TTL = 10 * time.Second
	}
	return &Service{cfg: cfg, cache: map[string]cached{}}, nil
}

// Report returns the detection over the named window (a key of Windows),
// computed at most TTL ago. The Report is shared: read it, never write it.
func (s *Service) Report(ctx context.Context, window string) (*Report, error) {
	span, ok := Windows[window]
	if !ok {
		return nil, fmt.Errorf("%w %q, want %s", ErrUnknownWindow, window, WindowNames)
	}
	return s.report(ctx, window, store.RollupQuery{Span: span})
}

// ReportRange returns the detection over event times in [since, until),
// in whole minutes; a zero bound is open.
func (s *Service) ReportRange(ctx context.Context, since, until time.Time) (*Report, error) {
	name := "range"
	key := name + ":" + since.UTC().Format(time.RFC3339) + "/" + until.UTC().Format(time.RFC3339)
	return s.report(ctx, key, store.RollupQuery{Since: since, Until: until})
}

// report computes the Report of q, or reuses the one computed under key
// less than TTL ago.
func (s *Service) report(ctx context.Context, key string, q store.RollupQuery) (*Report, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.cache[key]; ok && time.Since(c.at) < s.cfg.TTL {
		return c.r, nil
	}
	q.OutcomesFor = outcomesBy // the series' buckets, over the whole window
	r, err := s.cfg.Rollups(ctx, q)
	if err == nil && !r.AsOf.IsZero() {
		// A series of buckets narrower than a day (an hour) cannot use
		// day (hour) rows: labelled rows may span less than the window.
		if first, last := labelledSpan(r); !first.IsZero() {
			if by := outcomesBy(first, last); coarser(r, by) {
				q.OutcomesBy = by
				r, err = s.cfg.Rollups(ctx, q)
			}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("reading the fraud rollups of window %s: %w", key, err)
	}
	window := key
	if q.Span == 0 && (!q.Since.IsZero() || !q.Until.IsZero()) {
		window = "range"
	}
	if len(s.cache) > 64 { // arbitrary ranges: keep the cache bounded
		clear(s.cache)
	}
	rep := ComputeRollups(r, Inputs{Window: window, Thresholds: s.cfg.Thresholds(), ShadowVersion: s.cfg.ShadowVersion(), Now: s.cfg.Now(),
		LabelWindow: s.cfg.LabelWindow})
	s.cache[key] = cached{rep, time.Now()}
	return rep, nil
}

// coarser reports whether r holds outcome rows coarser than g.
func coarser(r *store.Rollups, g store.Granularity) bool {
	rank := map[store.Granularity]int{store.Minute: 0, store.Hour: 1, store.Day: 2}
	for i := range r.Outcomes {
		if rank[r.Outcomes[i].Granularity] > rank[g] {
			return true
		}
	}
	return false
}
