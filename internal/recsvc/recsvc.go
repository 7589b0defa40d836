package recsvc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/shopstream/shopstream/internal/recommend"
	"github.com/shopstream/shopstream/internal/store"
)

// Methods a response names.
const (
	// MethodItemItem is item-item collaborative filtering: neighbours of
	// the customer's recent purchases (filled up with popular products
	// when they have too few).
	MethodItemItem = "item-item"
	// MethodPopularity is the fallback for a customer with no purchases,
	// or none the model has neighbours for.
	MethodPopularity = "popularity"
)

// Errors a lookup returns; the web package maps them to HTTP status.
var (
	// ErrNotReady is returned before the first model is built.
	ErrNotReady = errors.New("the recommendation model is not built yet")
	// ErrUnknownProduct is returned for a product no stored purchase has.
	ErrUnknownProduct = errors.New("unknown product")
)

// Config configures a Service.
type Config struct {
	// Store is tailed for purchase lines. Required.
	Store store.Purchases
	// FoldEvery is how often what was committed since the last fold is
	// read and folded into the counts. Defaults to 5 seconds.
	FoldEvery time.Duration
	// RebuildEvery is how often the model is rebuilt from the counts, when
	// purchases were folded since the last build. Defaults to 1 minute.
	RebuildEvery time.Duration
	// MaxHistory is how many of each customer's most recent distinct
	// products are kept and paired with a new purchase. Defaults to 50.
	MaxHistory int
	// MaxCustomers is the most customers whose recent products are kept;
	// beyond, those longest without a purchase are forgotten (see
	// recommend.CountsConfig) and get popularity until they buy again.
	// Defaults to 100,000; -1 keeps every customer.
	MaxCustomers int
	// MaxPairs is the most pairs of products with a co-purchase count;
	// beyond, the rarest pairs are dropped (see recommend.CountsConfig).
	// Defaults to 1,000,000 (about 16 MB); -1 keeps every pair.
	MaxPairs int
	// Item sets the neighbours: similarity, shrinkage, support, and how
	// many per product. Defaults to recommend's defaults (Jaccard, 50).
	Item recommend.ItemConfig
	// ReadBatch is the most transactions per partition one store read
	// returns, bounding what a fold holds before folding it. Defaults to
	// 10,000.
	ReadBatch int
	// CPUShare is the most of one core the service's background work
	// (reads of new purchases, folds, model builds) takes while the host
	// is busy, as a share of wall time; when behind on a busy host, it
	// rests between pieces of work to stay within it (see pacer).
	// Defaults to 0.1; 1 runs it unpaced. The first fold at start-up is
	// never paced.
	CPUShare float64
	// HostIdle reports the host's idle cores, averaged since its previous
	// call, for the pacing (ok false: unknown, taken as busy). Defaults to
	// reading /proc/stat.
	HostIdle func() (cores float64, ok bool)
	// Now is the clock of the model's age. Defaults to time.Now.
	Now func() time.Time
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Registerer receives the service's metrics. Defaults to nil: the
	// metrics are kept but not exported.
	Registerer prometheus.Registerer
	// Assigner puts customers into experiments on the recommendations.
	// Defaults to nil: no experiments.
	Assigner Assigner
}

func (c Config) withDefaults() Config {
	if c.FoldEvery == 0 {
		c.FoldEvery = 5 * time.Second
	}
	if c.RebuildEvery == 0 {
		c.RebuildEvery = time.Minute
	}
	if c.MaxHistory == 0 {
		c.MaxHistory = 50
	}
	if c.MaxCustomers == 0 {
		c.MaxCustomers = 100_000
	}
	if c.MaxPairs == 0 {
		c.MaxPairs = 1_000_000
	}
	if c.ReadBatch == 0 {
		c.ReadBatch = 10_000
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.CPUShare == 0 {
		c.CPUShare = 0.1
	}
	if c.HostIdle == nil {
		c.HostIdle = newHostIdle().sample
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

func (c Config) validate() error {
	switch {
	case c.Store == nil:
		return errors.New("recommendations: no store given")
	case c.FoldEvery < 0:
		return fmt.Errorf("recommendations: fold interval %v is negative", c.FoldEvery)
	case c.RebuildEvery < 0:
		return fmt.Errorf("recommendations: rebuild interval %v is negative", c.RebuildEvery)
	case c.MaxHistory < 0:
		return fmt.Errorf("recommendations: history of %d products is negative", c.MaxHistory)
	case c.MaxCustomers < -1 || c.MaxPairs < -1:
		return fmt.Errorf("recommendations: at most %d customers and %d pairs: want a positive bound, or -1 for none",
			c.MaxCustomers, c.MaxPairs)
	case c.CPUShare < 0 || c.CPUShare > 1:
		return fmt.Errorf("recommendations: CPU share %g is outside (0, 1]", c.CPUShare)
	case c.ReadBatch < 0:
		return fmt.Errorf("recommendations: read batch of %d is negative", c.ReadBatch)
	case c.Item.Neighbours < 0 || c.Item.MinSupport < 0 || c.Item.Shrink < 0:
		return fmt.Errorf("recommendations: neighbours %d, support %d and shrink %g must not be negative",
			c.Item.Neighbours, c.Item.MinSupport, c.Item.Shrink)
	}
	return nil
}

// Service keeps the counts and the model of one instance. Lookups are safe
// for concurrent use with each other and with Run.
type Service struct {
	cfg Config
	log *slog.Logger

	// foldMu serialises Fold and Rebuild, the only writers.
	foldMu sync.Mutex
	cursor store.PurchaseCursor
	lines  int64 // lines folded so far
	// foldedNow mirrors lines for Folded, which must not wait for a fold
	// holding foldMu across its store reads.
	foldedNow atomic.Int64
	// erasedAfter is the last erasure followed (store.Privacy), under
	// foldMu; erasuresRead is false until where they stand was read.
	erasedAfter  int64
	erasuresRead bool

	// mu guards counts against lookups reading a history while a fold
	// changes it; Rebuild only reads the counts, under foldMu.
	mu     sync.RWMutex
	counts *recommend.Counts

	model atomic.Pointer[snapshot]

	folded       prometheus.Counter
	foldErrors   prometheus.Counter
	paced        prometheus.Counter
	exposeErrors prometheus.Counter
	buildTime    prometheus.Histogram
}

// snapshot is one built model and what it was built from.
type snapshot struct {
	item       *recommend.ItemModel
	pop        recommend.Popularity
	builtAt    time.Time
	lines      int64
	customers  int
	kept       int
	pairs      int
	modelBytes int
	countBytes int
}

// New validates cfg and returns a Service with empty counts and no model.
func New(cfg Config) (*Service, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, log: cfg.Logger.With("component", "recommendations"),
		counts: recommend.NewBoundedCounts(recommend.CountsConfig{MaxHistory: cfg.MaxHistory,
			MaxCustomers: max(cfg.MaxCustomers, 0), MaxPairs: max(cfg.MaxPairs, 0)}), cursor: store.PurchaseCursor{}}
	f := promauto.With(cfg.Registerer)
	s.folded = f.NewCounter(prometheus.CounterOpts{Name: "shopstream_recommendations_lines_folded_total",
		Help: "Stored purchase lines folded into this instance's co-purchase counts."})
	s.foldErrors = f.NewCounter(prometheus.CounterOpts{Name: "shopstream_recommendations_fold_errors_total",
		Help: "Reads of new purchases from the store that failed (retried at the next fold)."})
	s.paced = f.NewCounter(prometheus.CounterOpts{Name: "shopstream_recommendations_paced_seconds_total",
		Help: "Time the service rested between reads, folds and builds to stay within its CPU share (it was behind the store meanwhile)."})
	s.exposeErrors = f.NewCounter(prometheus.CounterOpts{Name: "shopstream_recommendations_exposure_errors_total",
		Help: "Experiment exposures that could not be recorded (the customer was answered outside the experiment)."})
	s.buildTime = f.NewHistogram(prometheus.HistogramOpts{Name: "shopstream_recommendations_build_seconds",
		Help: "Time to build the item-item model from the counts.", Buckets: prometheus.ExponentialBuckets(0.01, 4, 8)})
	stat := func(v func(Stats) float64) func() float64 { return func() float64 { return v(s.Stats()) } }
	f.NewGaugeFunc(prometheus.GaugeOpts{Name: "shopstream_recommendations_model_built_timestamp_seconds",
		Help: "When the model in use was built, in Unix seconds (0 before the first)."}, stat(func(st Stats) float64 {
		if !st.Built {
			return 0
		}
		return float64(st.BuiltAt.UnixNano()) / 1e9
	}))
	f.NewGaugeFunc(prometheus.GaugeOpts{Name: "shopstream_recommendations_model_products",
		Help: "Products the model in use knows."}, stat(func(st Stats) float64 { return float64(st.Products) }))
	f.NewGaugeFunc(prometheus.GaugeOpts{Name: "shopstream_recommendations_model_bytes",
		Help: "Estimated memory of the model in use."}, stat(func(st Stats) float64 { return float64(st.ModelBytes) }))
	f.NewGaugeFunc(prometheus.GaugeOpts{Name: "shopstream_recommendations_counts_bytes",
		Help: "Estimated memory of the co-purchase counts, as of the last build."}, stat(func(st Stats) float64 { return float64(st.CountBytes) }))
	f.NewGaugeFunc(prometheus.GaugeOpts{Name: "shopstream_recommendations_counts_customers",
		Help: "Customers whose recent products the counts hold (at most the configured bound), as of the last build."},
		stat(func(st Stats) float64 { return float64(st.CustomersKept) }))
	f.NewGaugeFunc(prometheus.GaugeOpts{Name: "shopstream_recommendations_counts_pairs",
		Help: "Pairs of products with a co-purchase count (at most the configured bound), as of the last build."},
		stat(func(st Stats) float64 { return float64(st.Pairs) }))
	return s, nil
}

// Run folds everything stored, builds the first model, and then folds new
// purchases every FoldEvery and rebuilds every RebuildEvery until ctx ends.
// A failed read is logged and retried at the next tick: the store being
// away for a while must not stop the API, which keeps serving the last
// model.
func (s *Service) Run(ctx context.Context) error {
	start := s.cfg.Now()
	// What is stored is pseudonymised already: follow the erasures
	// recorded from now on.
	if err := s.FollowErasures(ctx); err != nil && ctx.Err() == nil {
		s.log.Warn("reading the erasures failed; retrying", "err", err)
	}
	if _, err := s.Fold(ctx); err != nil && ctx.Err() == nil {
		s.log.Warn("reading the stored purchases failed; retrying", "err", err)
	}
	s.Rebuild()
	st := s.Stats()
	s.log.Info("recommendation model built", "lines", st.Lines, "products", st.Products, "customers", st.Customers,
		"model_bytes", st.ModelBytes, "took", s.cfg.Now().Sub(start))
	pace := &pacer{share: s.cfg.CPUShare, now: time.Now, rested: func(d time.Duration) { s.paced.Add(d.Seconds()) },
		idle: s.cfg.HostIdle}
	fold := time.NewTicker(s.cfg.FoldEvery)
	defer fold.Stop()
	rebuild := time.NewTicker(s.cfg.RebuildEvery)
	defer rebuild.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-fold.C:
			if _, err := s.fold(ctx, pace); err != nil && ctx.Err() == nil {
				s.log.Warn("reading new purchases failed; retrying", "err", err)
			}
			if err := s.FollowErasures(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("reading the erasures failed; retrying", "err", err)
			}
		case <-rebuild.C:
			if pace.wait(ctx) != nil {
				return nil
			}
			t0 := time.Now()
			built := s.Rebuild()
			pace.spent(time.Since(t0))
			if built {
				st := s.Stats()
				s.log.Debug("recommendation model rebuilt", "lines", st.Lines, "products", st.Products, "model_bytes", st.ModelBytes)
			}
		}
	}
}

// foldChunk is the most lines folded under one hold of the lock, so a
// lookup never waits long behind a fold.
const foldChunk = 1000

// Fold reads what was committed since the last fold, in reads of at most
// ReadBatch transactions per partition until one returns nothing, and
// folds it into the counts. It returns the number of purchase lines
// folded. On an error the lines read before it stay folded and the next
// Fold continues after them.
func (s *Service) Fold(ctx context.Context) (int, error) { return s.fold(ctx, nil) }

// fold is Fold, resting before each store read as pace asks (nil: never).
// A paced fold also returns, caught up or not, once it has taken
// FoldEvery, so that Run gets to build a model now and then while the
// service catches up; its next tick is already due.
func (s *Service) fold(ctx context.Context, pace *pacer) (int, error) {
	began := time.Now()
	s.foldMu.Lock()
	defer s.foldMu.Unlock()
	type pair struct{ customer, product string }
	buf := make([]pair, 0, foldChunk)
	flush := func() {
		s.mu.Lock()
		for _, p := range buf {
			s.counts.Add(p.customer, p.product)
		}
		s.mu.Unlock()
		buf = buf[:0]
	}
	total := 0
	for {
		if err := pace.wait(ctx); err != nil {
			return total, err
		}
		t0 := time.Now()
		n := 0
		next, err := s.cfg.Store.PurchaseLines(ctx, s.cursor, s.cfg.ReadBatch, func(l *store.PurchaseLine) error {
			buf = append(buf, pair{l.CustomerID, l.ProductID})
			if len(buf) == foldChunk {
				flush()
			}
			n++
			return nil
		})
		flush()
		pace.spent(time.Since(t0))
		s.cursor = next
		s.lines += int64(n)
		s.foldedNow.Store(s.lines)
		s.folded.Add(float64(n))
		total += n
		if err != nil {
			s.foldErrors.Inc()
			return total, fmt.Errorf("folding stored purchases: %w", err)
		}
		if n == 0 || pace != nil && time.Since(began) >= s.cfg.FoldEvery {
			return total, nil
		}
	}
}

// FollowErasures gives the customers erased since the last call their
// pseudonyms in the counts, as the erasure did in the store: the
// purchases folded before it stay counted, but the erased id no longer
// has a history, and its recommendations are a stranger's. The first
// call only notes where the erasures stand (what the first fold reads is
// pseudonymised already). A store that keeps no erasures has none to
// follow.
func (s *Service) FollowErasures(ctx context.Context) error {
	p, ok := s.cfg.Store.(store.Privacy)
	if !ok {
		return nil
	}
	s.foldMu.Lock()
	defer s.foldMu.Unlock()
	pseudonym := map[string]string{}
	after := s.erasedAfter
	for {
		es, err := p.Erasures(ctx, after, 1000)
		if err != nil {
			return fmt.Errorf("reading the erasures: %w", err)
		}
		for _, e := range es {
			pseudonym[e.Key] = e.Pseudonym
			after = e.ID
		}
		if len(es) < 1000 {
			break
		}
	}
	first := !s.erasuresRead
	s.erasuresRead, s.erasedAfter = true, after
	if first || len(pseudonym) == 0 {
		return nil
	}
	s.mu.Lock()
	n := s.counts.Rename(func(c string) (string, bool) {
		p, ok := pseudonym[store.ErasureKey(c)]
		return p, ok
	})
	s.mu.Unlock()
	if n > 0 {
		s.log.Info("erased customers pseudonymised in the recommendation counts", "customers", n)
	}
	return nil
}

// Folded returns the purchase lines folded into the counts so far (as of
// the last store read, so a fold under way counts in part), without
// waiting for the fold; the model in use may lag behind (Stats.Lines). `shopstream bench` reads it to
// measure how far the service trails the processor.
func (s *Service) Folded() int64 { return s.foldedNow.Load() }

// Rebuild builds the model from the counts and swaps it in, unless nothing
// was folded since the last build. It reports whether it built one.
func (s *Service) Rebuild() bool {
	s.foldMu.Lock()
	defer s.foldMu.Unlock()
	if old := s.model.Load(); old != nil && old.lines == s.lines {
		return false
	}
	start := time.Now()
	m := s.counts.ItemItem(s.cfg.Item)
	s.model.Store(&snapshot{item: m, pop: m.Popularity(), builtAt: s.cfg.Now(), lines: s.lines,
		customers: s.counts.Customers(), kept: s.counts.Kept(), pairs: s.counts.Pairs(), modelBytes: m.Bytes(), countBytes: s.counts.Bytes()})
	s.buildTime.Observe(time.Since(start).Seconds())
	return true
}

// Result is the answer to a lookup.
type Result struct {
	Items []recommend.Scored
	// Method is MethodItemItem or MethodPopularity.
	Method string
	// BuiltAt is when the model answering was built.
	BuiltAt time.Time
	// Experiment and Variant name the experiment the customer is in and
	// the variant that answered; empty outside experiments.
	Experiment, Variant string
}

// Recommend returns up to n products for customer, best first: item-item
// from their recent purchases, leaving those out unless buyAgain, filled
// up with popular products; popularity alone for a customer with no
// purchases or none with neighbours. A customer the Assigner puts in an
// experiment gets the variant's recommender, and the exposure is recorded
// before the answer is returned.
func (s *Service) Recommend(customer string, n int, buyAgain bool) (Result, error) {
	snap := s.model.Load()
	if snap == nil {
		return Result{}, ErrNotReady
	}
	s.mu.RLock()
	history := s.counts.History(customer)
	s.mu.RUnlock()
	if res, ok := s.experiment(snap, customer, history, n, buyAgain); ok {
		return res, nil
	}
	return s.rank(snap, history, n, buyAgain, MethodItemItem), nil
}

// Preview answers as Recommend does for a customer in no experiment:
// item-item, filled up with popular products, whatever the Assigner would
// choose, and without recording an exposure. It is for looking at a
// customer (the dashboard), not for showing products to one: an exposure
// that no customer saw would count in the experiment's denominator.
func (s *Service) Preview(customer string, n int, buyAgain bool) (Result, error) {
	snap := s.model.Load()
	if snap == nil {
		return Result{}, ErrNotReady
	}
	s.mu.RLock()
	history := s.counts.History(customer)
	s.mu.RUnlock()
	return s.rank(snap, history, n, buyAgain, MethodItemItem), nil
}

// Similar returns up to n products most similar to product, best first.
func (s *Service) Similar(product string, n int) (Result, error) {
	snap := s.model.Load()
	if snap == nil {
		return Result{}, ErrNotReady
	}
	if !snap.item.Known(product) {
		return Result{}, fmt.Errorf("product %q: %w", product, ErrUnknownProduct)
	}
	return Result{Items: snap.item.Similar(product, n), Method: MethodItemItem, BuiltAt: snap.builtAt}, nil
}

// Popular returns the n products bought by the most customers, best
// first: the shop's top products, as the dashboard lists them. Nobody is
// exposed to an experiment by it.
func (s *Service) Popular(n int) (Result, error) {
	snap := s.model.Load()
	if snap == nil {
		return Result{}, ErrNotReady
	}
	return Result{Items: snap.item.Popularity().Rank(nil, n, false), Method: MethodPopularity, BuiltAt: snap.builtAt}, nil
}

// Stats describes the model in use.
type Stats struct {
	// Built is false before the first model.
	Built   bool      `json:"built"`
	BuiltAt time.Time `json:"built_at"`
	// Lines is the purchase lines folded into the model.
	Lines     int64 `json:"lines"`
	Products  int   `json:"products"`
	Customers int   `json:"customers"`
	// CustomersKept is the customers whose recent products the counts
	// hold (at most MaxCustomers); Pairs the pairs of products with a
	// count (at most MaxPairs).
	CustomersKept int `json:"customers_kept"`
	Pairs         int `json:"pairs"`
	// ModelBytes estimates the model's memory (neighbour lists, names,
	// popularity); CountBytes the counts' (pairs, histories).
	ModelBytes int `json:"model_bytes"`
	CountBytes int `json:"count_bytes"`
}

// Stats returns the figures of the model in use.
func (s *Service) Stats() Stats {
	snap := s.model.Load()
	if snap == nil {
		return Stats{}
	}
	return Stats{Built: true, BuiltAt: snap.builtAt, Lines: snap.lines, Products: snap.item.Items(), Customers: snap.customers,
		CustomersKept: snap.kept, Pairs: snap.pairs, ModelBytes: snap.modelBytes, CountBytes: snap.countBytes}
}
