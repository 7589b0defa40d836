// Package qualityfile reads the data-quality contract from its file
// (--quality-config) and re-reads it when it changes, handing each good
// version to whoever applies it (the processor's SetQuality). A version that
// does not parse is logged and counted, and the contract in force is kept.
// The contract itself, parsed from bytes, is package quality's.
package qualityfile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/shopstream/shopstream/internal/filewatch"
	"github.com/shopstream/shopstream/internal/quality"
)

// Load reads and parses the contract file at path; "" is the default
// contract.
func Load(path string) (*quality.Contract, error) {
	if path == "" {
		return quality.Default(), nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return quality.Parse(b)
}

// Config configures a Watcher.
type Config struct {
	// Path is the contract file. Required.
	Path string
	// Apply receives every new contract that parses. Required.
	Apply func(*quality.Contract)
	// Interval is how often the file is looked at. Defaults to 2 s, as the
	// fraud rules file.
	Interval time.Duration
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Registerer, when set, receives shopstream_quality_contract_reloads_total.
	Registerer prometheus.Registerer
}

// Watcher re-reads the contract file when its bytes change (see package
// filewatch) and applies each version that parses.
type Watcher struct {
	w *filewatch.Watcher[*quality.Contract]
}

// NewWatcher reads the file once, applies it and returns the Watcher; a
// file that cannot be read or does not parse is an error naming it, so a
// bad contract fails at start-up.
func NewWatcher(cfg Config) (*Watcher, error) {
	if cfg.Path == "" || cfg.Apply == nil {
		return nil, errors.New("qualityfile: Path and Apply are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	reg := cfg.Registerer
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	w, c, err := filewatch.New(filewatch.Config[*quality.Contract]{
		Path: cfg.Path, What: "quality contract", Parse: quality.Parse, Interval: cfg.Interval,
		Apply:  func(c *quality.Contract) error { cfg.Apply(c); return nil },
		Logger: cfg.Logger.With("component", "quality-contract"),
		Reloads: promauto.With(reg).NewCounterVec(prometheus.CounterOpts{Name: "shopstream_quality_contract_reloads_total",
			Help: "Re-reads of the data-quality contract file after it changed, by outcome (ok; error: kept the contract in force)."}, []string{"outcome"}),
	})
	if err != nil {
		return nil, fmt.Errorf("--quality-config %s: %w", cfg.Path, err)
	}
	cfg.Apply(c)
	return &Watcher{w: w}, nil
}

// Run looks at the file every Interval until ctx ends.
func (w *Watcher) Run(ctx context.Context) error { return w.w.Run(ctx) }

// Check looks at the file once: when it changed and parses, the new
// contract is applied; when it does not parse, the error is logged and
// counted once per version of the file, and the contract in force stays.
// It reports whether a new contract was applied.
func (w *Watcher) Check() bool { return w.w.Check() }
