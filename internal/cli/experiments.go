package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/shopstream/shopstream/internal/abtest"
	"github.com/shopstream/shopstream/internal/generate"
	"github.com/shopstream/shopstream/internal/recsvc"
	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/web"
)

// experimentFlags configure the experiments of serve and run.
type experimentFlags struct {
	file string
}

func (f *experimentFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.file, "experiments", "",
		`experiments file, JSON {"experiments": [...]} or the same in YAML (.yaml, .yml; docs/recommendations.md); each one not in the store yet is created there`)
}

// startExperiments runs this instance's experiment service in g: the
// experiments of the file created in the store when missing, all stored
// ones in use, the experiment API on srv (not serving yet).
func startExperiments(ctx context.Context, g *errgroup.Group, srv *web.Server, st store.Store, f *experimentFlags,
	logger *slog.Logger, reg prometheus.Registerer) (*abtest.Service, error) {
	es, ok := st.(store.Experiments)
	if !ok {
		return nil, fmt.Errorf("store %T keeps no experiments", st)
	}
	var defs []abtest.Definition
	if f.file != "" {
		var err error
		if defs, err = abtest.ReadFile(f.file); err != nil {
			return nil, usageError{fmt.Errorf("invalid value for flag -experiments: %w", err)}
		}
	}
	svc, err := abtest.New(abtest.Config{Store: es, Logger: logger, Registerer: reg})
	if err != nil {
		return nil, err
	}
	if err := svc.Sync(ctx, defs); err != nil {
		if errors.Is(err, abtest.ErrInvalid) {
			return nil, usageError{fmt.Errorf("invalid value for flag -experiments: %w", err)}
		}
		return nil, err
	}
	web.RegisterExperiments(srv, svc)
	g.Go(func() error { return svc.Run(ctx) })
	return svc, nil
}

// siteFlags configure run's simulated shop site: who asks for
// recommendations, how customers respond, and the default experiments.
type siteFlags struct {
	share, rate, uplift float64
	window, delay       time.Duration
	defaults            bool
}

func (f *siteFlags) register(fs *flag.FlagSet) {
	fs.Float64Var(&f.share, "site-visit-share", 0.1,
		"share of the buyers the simulated site asks recommendations for right after their purchase (0 turns the site off)")
	fs.Float64Var(&f.rate, "response-rate", 0.2, "chance a customer shown recommendations buys one of them")
	fs.Float64Var(&f.uplift, "response-uplift", 0.2, "relative increase of -response-rate for products item-item chose (the planted effect)")
	fs.DurationVar(&f.delay, "response-delay", 2*time.Minute, "mean time from being shown recommendations to buying one")
	fs.DurationVar(&f.window, "experiment-window", 30*time.Minute, "conversion window of the default experiments")
	fs.BoolVar(&f.defaults, "default-experiments", true,
		"start the A/B (popularity against item-item, half the customers) and the A/A (item-item twice, the other half) experiments")
}

func (f *siteFlags) validate() error {
	switch {
	case !(f.share >= 0 && f.share <= 1):
		return usageError{fmt.Errorf("invalid value %v for flag -site-visit-share: want 0..1", f.share)}
	case !(f.rate > 0 && f.rate <= 1):
		return usageError{fmt.Errorf("invalid value %v for flag -response-rate: want (0, 1]", f.rate)}
	case !(f.uplift >= 0) || f.rate*(1+f.uplift) > 1:
		return usageError{fmt.Errorf("invalid value %v for flag -response-uplift: must be at least 0 and keep the rate at most 1", f.uplift)}
	case f.window <= 0:
		return usageError{fmt.Errorf("invalid value %v for flag -experiment-window: must be positive", f.window)}
	case f.delay <= 0 || f.delay > f.window:
		return usageError{fmt.Errorf("invalid value %v for flag -response-delay: must be positive and within -experiment-window", f.delay)}
	}
	return nil
}

// Default experiments of run.
const (
	defaultAB = "recs-ab"
	defaultAA = "recs-aa"
)

// ensureDefaultExperiments creates run's A/B and A/A unless stored. The
// A/B starts first, so it takes its half of the customers and the A/A the
// others (abtest: the first running experiment that covers a customer).
func ensureDefaultExperiments(ctx context.Context, svc *abtest.Service, window time.Duration) error {
	now := time.Now().UTC()
	defs := []abtest.Definition{
		{Name: defaultAB, Coverage: 0.5, Window: abtest.Duration(window), Start: now, Variants: []abtest.Variant{
			{Name: "popularity", Weight: 0.5, Recommender: recsvc.MethodPopularity},
			{Name: "item-item", Weight: 0.5, Recommender: recsvc.MethodItemItem}}},
		{Name: defaultAA, Coverage: 1, Window: abtest.Duration(window), Start: now.Add(time.Millisecond), Variants: []abtest.Variant{
			{Name: "a", Weight: 0.5, Recommender: recsvc.MethodItemItem},
			{Name: "b", Weight: 0.5, Recommender: recsvc.MethodItemItem}}},
	}
	for _, d := range defs {
		if _, ok := svc.Get(d.Name); ok {
			continue
		}
		if _, err := svc.Create(ctx, d); err != nil && !errors.Is(err, store.ErrExperimentExists) {
			return fmt.Errorf("creating experiment %s: %w", d.Name, err)
		}
	}
	return nil
}

// site is run's simulated shop site: a share of the buyers come back to
// the site a little after their purchase (once it is stored and folded
// into the recommendation counts, so item-item knows what they bought),
// asking the recommendation service the API answers from, and what they
// were shown goes back to the generator (generate.Exposures), whose
// customers may respond. It wraps the generator's sink to see the buyers.
type site struct {
	generate.Sink
	share  float64
	after  time.Duration
	visits chan visit
	rng    *rand.Rand // under mu
	mu     sync.Mutex
	xs     []generate.Exposure // under mu
	shown  atomic.Int64
}

// visit is a buyer coming back to the site at due.
type visit struct {
	customer string
	due      time.Time
}

// maxPendingExposures bounds what the site holds for the generator.
const maxPendingExposures = 10_000

// newSite returns the site; buyers come back after the given delay.
func newSite(next generate.Sink, share float64, after time.Duration, seed int64) *site {
	return &site{Sink: next, share: share, after: after, visits: make(chan visit, 8192), rng: rand.New(rand.NewPCG(uint64(seed), 0x517e))}
}

// Write passes r on and, for a share of the live buyers, queues a visit;
// a full queue drops the visit rather than slow the generator.
func (s *site) Write(ctx context.Context, r generate.Record) error {
	if r.Bad == "" && !r.Fraud && len(r.Key) > 0 && time.Since(r.EventTime) < time.Minute {
		s.mu.Lock()
		comes := s.rng.Float64() < s.share
		s.mu.Unlock()
		if comes {
			select {
			case s.visits <- visit{customer: string(r.Key), due: time.Now().Add(s.after)}:
			default:
			}
		}
	}
	return s.Sink.Write(ctx, r)
}

// Drain implements generate.Exposures.
func (s *site) Drain(buf []generate.Exposure) []generate.Exposure {
	s.mu.Lock()
	defer s.mu.Unlock()
	buf = append(buf, s.xs...)
	s.xs = s.xs[:0]
	return buf
}

// run answers the visits with recs until ctx ends.
func (s *site) run(ctx context.Context, recs *recsvc.Service) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case v := <-s.visits:
			if d := time.Until(v.due); d > 0 {
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(d):
				}
			}
			c := v.customer
			res, err := recs.Recommend(c, 5, false)
			if err != nil || res.Experiment == "" || len(res.Items) == 0 {
				continue // no model yet, or not in an experiment
			}
			x := generate.Exposure{CustomerID: c, At: time.Now(), Recommender: res.Method, Products: make([]string, len(res.Items))}
			for i, it := range res.Items {
				x.Products[i] = it.Item
			}
			s.shown.Add(1)
			s.mu.Lock()
			if len(s.xs) < maxPendingExposures {
				s.xs = append(s.xs, x)
			}
			s.mu.Unlock()
		}
	}
}
