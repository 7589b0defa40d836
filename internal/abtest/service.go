package abtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/shopstream/shopstream/internal/experiment"
	"github.com/shopstream/shopstream/internal/recommend"
	"github.com/shopstream/shopstream/internal/recsvc"
	"github.com/shopstream/shopstream/internal/store"
)

// ErrUnknown reports an experiment that is not defined.
var ErrUnknown = errors.New("unknown experiment")

// RememberExposures is how many (experiment, customer) pairs a Service
// remembers as recorded before it forgets them all and starts again; a
// forgotten pair costs one insert that changes nothing.
const RememberExposures = 1 << 20

// Config configures a Service.
type Config struct {
	// Store keeps the experiments and their exposures. Required.
	Store store.Experiments
	// Now is the clock of assignment and exposures; it must be the clock
	// of the purchases' event times. Defaults to time.Now.
	Now func() time.Time
	// WriteTimeout bounds an exposure's write. Defaults to 2 seconds.
	WriteTimeout time.Duration
	// ReloadEvery is how often Run reads the definitions again, to see
	// experiments created through another instance. Defaults to 10 s.
	ReloadEvery time.Duration
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Registerer receives the metrics. Defaults to nil: kept, not exported.
	Registerer prometheus.Registerer
}

func (c Config) withDefaults() Config {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = 2 * time.Second
	}
	if c.ReloadEvery == 0 {
		c.ReloadEvery = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Service keeps the experiments of one instance. It implements
// recsvc.Assigner; all methods are safe for concurrent use.
type Service struct {
	cfg Config
	log *slog.Logger

	mu    sync.RWMutex
	byKey map[string]*compiled
	order []*compiled // by start, then name

	seenMu sync.Mutex
	seen   map[string]struct{} // experiment + "\x00" + customer, recorded

	recorded prometheus.Counter
	repeats  prometheus.Counter
}

// compiled is a definition with its bucket ranges.
type compiled struct {
	def    Definition
	ranges []experiment.Range
}

// New returns a Service with no experiments; Load or Sync reads them.
func New(cfg Config) (*Service, error) {
	cfg = cfg.withDefaults()
	if cfg.Store == nil {
		return nil, errors.New("experiments: no store given")
	}
	if cfg.WriteTimeout < 0 || cfg.ReloadEvery < 0 {
		return nil, fmt.Errorf("experiments: write timeout %v and reload interval %v must not be negative", cfg.WriteTimeout, cfg.ReloadEvery)
	}
	s := &Service{cfg: cfg, log: cfg.Logger.With("component", "experiments"), byKey: map[string]*compiled{}, seen: map[string]struct{}{}}
	f := promauto.With(cfg.Registerer)
	s.recorded = f.NewCounter(prometheus.CounterOpts{Name: "shopstream_experiment_exposures_recorded_total",
		Help: "First exposures of a customer to an experiment written by this instance."})
	s.repeats = f.NewCounter(prometheus.CounterOpts{Name: "shopstream_experiment_exposures_repeated_total",
		Help: "Exposures of customers exposed before (nothing written)."})
	return s, nil
}

// Load reads the stored experiments and makes them the ones in use.
func (s *Service) Load(ctx context.Context) error {
	rows, err := s.cfg.Store.ExperimentRows(ctx)
	if err != nil {
		return err
	}
	cs := make([]*compiled, 0, len(rows))
	for _, r := range rows {
		var d Definition
		if err := json.Unmarshal(r.Definition, &d); err != nil {
			return fmt.Errorf("parsing stored experiment %q: %w", r.Name, err)
		}
		cs = append(cs, compile(d))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.byKey = map[string]*compiled{}
	s.order = s.order[:0]
	for _, c := range cs {
		s.add(c)
	}
	return nil
}

func compile(d Definition) *compiled {
	return &compiled{def: d, ranges: experiment.BucketRanges(len(d.Variants), d.Coverage, d.Weights())}
}

// add puts c in use; under mu.
func (s *Service) add(c *compiled) {
	s.byKey[c.def.Name] = c
	s.order = append(s.order, c)
	slices.SortFunc(s.order, func(a, b *compiled) int {
		if c := a.def.Start.Compare(b.def.Start); c != 0 {
			return c
		}
		return cmpString(a.def.Name, b.def.Name)
	})
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Create validates d, stores it and puts it in use. It returns the
// definition with its defaults, or an error wrapping ErrInvalid or
// store.ErrExperimentExists.
func (s *Service) Create(ctx context.Context, d Definition) (Definition, error) {
	d = d.WithDefaults(s.cfg.Now())
	if err := d.Validate(); err != nil {
		return d, err
	}
	b, err := json.Marshal(d)
	if err != nil {
		return d, fmt.Errorf("encoding experiment %q: %w", d.Name, err)
	}
	if err := s.cfg.Store.CreateExperiment(ctx, &store.ExperimentRow{Name: d.Name, Definition: b, CreatedAt: s.cfg.Now()}); err != nil {
		return d, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.byKey[d.Name]; !ok {
		s.add(compile(d))
	}
	return d, nil
}

// Sync creates the experiments of a config file that are not stored yet
// and then loads all. One stored already under the same name is kept as
// stored (experiments are not changed once they have exposures); a
// different definition in the file is logged.
func (s *Service) Sync(ctx context.Context, defs []Definition) error {
	if err := s.Load(ctx); err != nil {
		return err
	}
	for _, d := range defs {
		if old, ok := s.Get(d.Name); ok {
			if nd := d.WithDefaults(old.Start); !reflect.DeepEqual(nd, old) {
				s.log.Warn("the experiments file defines a stored experiment differently; the stored one stays", "experiment", d.Name)
			}
			continue
		}
		if _, err := s.Create(ctx, d); err != nil && !errors.Is(err, store.ErrExperimentExists) {
			return fmt.Errorf("creating experiment %q: %w", d.Name, err)
		}
	}
	return s.Load(ctx)
}

// Run reads the definitions every ReloadEvery until ctx ends; a failed
// read is logged and the experiments in use stay.
func (s *Service) Run(ctx context.Context) error {
	t := time.NewTicker(s.cfg.ReloadEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if err := s.Load(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("reading the experiments failed; keeping those in use", "err", err)
			}
		}
	}
}

// List returns the experiments in use, by start and name.
func (s *Service) List() []Definition {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]Definition, len(s.order))
	for i, c := range s.order {
		out[i] = c.def
	}
	return out
}

// Get returns the experiment called name.
func (s *Service) Get(name string) (Definition, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	c, ok := s.byKey[name]
	if !ok {
		return Definition{}, false
	}
	return c.def, true
}

// Assign implements recsvc.Assigner: the first running experiment, by
// start and name, whose coverage holds the customer, and the variant their
// hash falls in. It does no I/O.
func (s *Service) Assign(customer string) (recsvc.Assignment, bool) {
	now := s.cfg.Now()
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, c := range s.order {
		if c.def.Status(now) != "running" {
			continue
		}
		v := Variation(&c.def, c.ranges, customer)
		if v < 0 {
			continue
		}
		vr := c.def.Variants[v]
		return recsvc.Assignment{Experiment: c.def.Name, Variant: vr.Name, Recommender: vr.Recommender}, true
	}
	return recsvc.Assignment{}, false
}

// Variation is the index of the variant the customer falls in, -1 when
// outside the coverage.
func Variation(d *Definition, ranges []experiment.Range, customer string) int {
	bucket, ok := experiment.Hash(d.Seed, customer, d.HashVersion)
	if !ok {
		return -1
	}
	return experiment.ChooseVariation(bucket, ranges)
}

// Expose implements recsvc.Assigner: it stores the customer's first
// exposure to the experiment, keyed by (experiment, customer), and
// returns once it is stored. A pair this Service recorded before is
// answered from memory.
func (s *Service) Expose(a recsvc.Assignment, customer string, items []recommend.Scored) error {
	key := a.Experiment + "\x00" + customer
	s.seenMu.Lock()
	_, seen := s.seen[key]
	s.seenMu.Unlock()
	if seen {
		s.repeats.Inc()
		return nil
	}
	d, ok := s.Get(a.Experiment)
	if !ok {
		return fmt.Errorf("experiment %q: %w", a.Experiment, ErrUnknown)
	}
	v := slices.IndexFunc(d.Variants, func(v Variant) bool { return v.Name == a.Variant })
	if v < 0 {
		return fmt.Errorf("experiment %q has no variant %q", a.Experiment, a.Variant)
	}
	x := store.Exposure{Experiment: a.Experiment, CustomerID: customer, Variant: v, ExposedAt: s.cfg.Now().UTC(), Items: make([]string, len(items))}
	x.WindowEnd = x.ExposedAt.Add(time.Duration(d.Window))
	for i, it := range items {
		x.Items[i] = it.Item
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.WriteTimeout)
	defer cancel()
	recorded, err := s.cfg.Store.RecordExposure(ctx, &x)
	if err != nil {
		return err
	}
	if recorded {
		s.recorded.Inc()
	} else {
		s.repeats.Inc()
	}
	s.seenMu.Lock()
	if len(s.seen) >= RememberExposures {
		clear(s.seen)
	}
	s.seen[key] = struct{}{}
	s.seenMu.Unlock()
	return nil
}

var _ recsvc.Assigner = (*Service)(nil)
