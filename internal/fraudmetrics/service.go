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
var Windows = map[string]time.Duration{"1h": time.Hour, "24h": 24 * time.Hour, "all": 0}

// ErrUnknownWindow is returned for a window not in Windows.
var ErrUnknownWindow = errors.New("unknown metrics window")

// Config configures a Service.
type Config struct {
	// Store holds the outcomes. Required.
	Store store.Fraud
	// Thresholds returns the scorer's settings in force. Required.
	Thresholds func() fraud.ScorerConfig
	// ShadowVersion returns the shadow model in use, 0 for none.
	// Defaults to none.
	ShadowVersion func() int
	// Now is the clock of Report.ComputedAt. Defaults to time.Now.
	Now func() time.Time
	// TTL is how long a computed Report is reused: one computation over
	// the 200,000-row sample takes about half a second. Defaults to 10 s.
	TTL time.Duration
}

// Service computes Reports, one at a time, reusing each for TTL.
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
	if cfg.ShadowVersion == nil {
		cfg.ShadowVersion = func() int { return 0 }
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
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
		return nil, fmt.Errorf("%w %q, want 1h, 24h or all", ErrUnknownWindow, window)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.cache[window]; ok && time.Since(c.at) < s.cfg.TTL {
		return c.r, nil
	}
	out, err := s.cfg.Store.FraudOutcomes(ctx, store.OutcomeQuery{Window: span})
	if err != nil {
		return nil, fmt.Errorf("reading the fraud outcomes of window %s: %w", window, err)
	}
	r := Compute(out, Inputs{Window: window, Thresholds: s.cfg.Thresholds(), ShadowVersion: s.cfg.ShadowVersion(), Now: s.cfg.Now()})
	s.cache[window] = cached{r, time.Now()}
	return r, nil
}
