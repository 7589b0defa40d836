package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/shopstream/shopstream/internal/analytics"
	"github.com/shopstream/shopstream/internal/event"
	"github.com/shopstream/shopstream/internal/store"
)

// RefreshName is the refresh's job name and leader-lock name.
const RefreshName = "analytics-refresh"

// RefreshConfig configures [NewRefresh].
type RefreshConfig struct {
	// Store is read and written. Required.
	Store store.Analytics
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Reported says that the caller prints each run's RefreshReport (the
	// one-shot refreshes of `import` and `analytics --refresh`): its CLV
	// note says what a degenerate fit lacks, so the refresh logs that fit
	// at debug level instead of as a warning printed beside it.
	Reported bool
	// Now is the clock. Defaults to time.Now. The refresh scores customers
	// as of the earlier of now and the latest stored purchase, so an
	// imported history is scored as of its own end rather than today.
	Now func() time.Time
	// CLVMonths is the CLV horizon. Defaults to 12.
	CLVMonths int
	// DiscountRate is the annual discount rate of future revenue. Defaults
	// to 0.10; set NoDiscount for undiscounted values.
	DiscountRate float64
	// NoDiscount makes the discount rate 0.
	NoDiscount bool
	// MinCustomers is the fewest customers the CLV models are refitted on;
	// with fewer the previous model is kept. Defaults to 100.
	MinCustomers int
	// MinRepeatCustomers is the fewest customers with a repeat purchase
	// the Gamma-Gamma model is refitted on. Defaults to 20.
	MinRepeatCustomers int
	// K fixes the number of behavioural clusters. Defaults to 0: k is
	// chosen in [KMin, KMax] by the mean silhouette.
	K int
	// KMin and KMax bound the choice of k. Default to 2 and 8.
	KMin, KMax int
	// Seed makes the k-means sample and starts reproducible: the same data
	// and seed give the same clusters. Zero is a valid seed.
	Seed uint64
	// SampleSize is how many customers k-means is fitted on (a seeded
	// sample without replacement); every customer is then assigned to the
	// nearest centre. Defaults to 20,000.
	SampleSize int
	// Categories is how many of the top-selling item categories enter the
	// clustering as spend shares. Defaults to 8.
	Categories int
	// CatchUp is how soon the job (see Refresh.Job) runs again, rather
	// than a whole interval later, while the figures lag a population
	// that is still growing fast: after a run that found no purchases, or
	// that left customers without CLV or clusters, or saw 10% more
	// customers than the run before, provided purchases were added since.
	// A fresh `shopstream run` thus has every figure within seconds of
	// its backfill, not one interval later. Defaults to 10 s; negative:
	// no catch-up, every interval (process: each catch-up run of a
	// growing shop was a tail of its batches' latency).
	CatchUp time.Duration
	// FoldMaxCustomers is the most customers whose purchase days the
	// refresh keeps in memory between runs, to read only what was stored
	// since the last (about 250 bytes a customer; see docs/analytics.md):
	// with more, it drops them and reads every purchase grouped in the
	// store each run instead, as before it kept them. Defaults to
	// 1,000,000; -1: no bound.
	FoldMaxCustomers int
	// MovementsKept is how many refreshes' segment movements the store
	// keeps (GET /api/v1/segments/movement). Defaults to 100.
	MovementsKept int
	// Registerer receives the refresh's gauge
	// (shopstream_analytics_fold_customers). Defaults to none.
	Registerer prometheus.Registerer
	// Busy, if set, says whether the processor that shares the store is
	// behind; while it is, the refresh paces its reads of the stored
	// purchases and its writes so that they take at most BusyShare of the
	// time (after a page or chunk that took d, it waits
	// d·(1−BusyShare)/BusyShare), as the job's runs are spaced (see
	// Job.BusyShare). BusyShare 0 or 1: no pacing.
	Busy      func() bool
	BusyShare float64
}

func (c *RefreshConfig) withDefaults() {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.CLVMonths == 0 {
		c.CLVMonths = 12
	}
	if c.DiscountRate == 0 {
		c.DiscountRate = 0.10
	}
	if c.NoDiscount {
		c.DiscountRate = 0
	}
	if c.MinCustomers == 0 {
		c.MinCustomers = 100
	}
	if c.MinRepeatCustomers == 0 {
		c.MinRepeatCustomers = 20
	}
	if c.K == 0 {
		if c.KMin == 0 {
			c.KMin = 2
		}
		if c.KMax == 0 {
			c.KMax = max(8, c.KMin)
		}
	}
	if c.SampleSize == 0 {
		c.SampleSize = 20_000
	}
	if c.Categories == 0 {
		c.Categories = 8
	}
	if c.CatchUp == 0 {
		c.CatchUp = 10 * time.Second
	}
	if c.MovementsKept == 0 {
		c.MovementsKept = 100
	}
	switch c.FoldMaxCustomers {
	case 0:
		c.FoldMaxCustomers = 1_000_000
	case -1:
		c.FoldMaxCustomers = 0
	}
}

func (c *RefreshConfig) validate() error {
	switch {
	case c.Store == nil:
		return errors.New("no store given")
	case c.CLVMonths < 1 || c.CLVMonths > 1200:
		return fmt.Errorf("CLV months %d not within 1..1200", c.CLVMonths)
	case !(c.BusyShare >= 0 && c.BusyShare <= 1):
		return fmt.Errorf("busy share %v not within 0..1", c.BusyShare)
	case !(c.DiscountRate > -1 && c.DiscountRate < 10):
		return fmt.Errorf("discount rate %v not within (-1, 10)", c.DiscountRate)
	case c.MinCustomers < 2 || c.MinRepeatCustomers < 2:
		return fmt.Errorf("minimum customers %d and repeat customers %d must be at least 2", c.MinCustomers, c.MinRepeatCustomers)
	case c.K < 0 || c.K > 100:
		return fmt.Errorf("k %d not within 0..100", c.K)
	case c.K == 0 && (c.KMin < 2 || c.KMax < c.KMin || c.KMax > 100):
		return fmt.Errorf("k range %d..%d is not a range within 2..100", c.KMin, c.KMax)
	case c.SampleSize < 10:
		return fmt.Errorf("sample size %d is below 10", c.SampleSize)
	case c.Categories < 0 || c.Categories > 64:
		return fmt.Errorf("categories %d not within 0..64", c.Categories)
	case c.MovementsKept < 1:
		return fmt.Errorf("movements kept %d: want at least 1", c.MovementsKept)
	case c.FoldMaxCustomers < 0:
		return fmt.Errorf("fold bound %d: want a positive number of customers, or -1 for none", c.FoldMaxCustomers)
	}
	return nil
}

// Refresh is the periodic customer-analytics refresh (see the package
// documentation). It is safe to run from several processes at once: only
// the leader does the work.
type Refresh struct {
	cfg RefreshConfig
	log *slog.Logger
	// testHookLeading, if set, is called while the lead is held.
	testHookLeading func()

	mu   sync.Mutex
	seen []seenRun // the last two runs that did the work, latest last

	// minorPer is the minor units per major unit of the store's one
	// currency (event.MinorPerMajor), read at the start of each run: the
	// CLV models and the clusters' spend are in major units of it.
	minorPer float64

	// Between runs of this process (runs never overlap: the leader lock):
	// last is what the last run that fitted both models fitted, and
	// wrote/wroteFP the customer rows stored since, by customer ID in
	// byte order, with a fingerprint of their values. During a run, kept
	// is last when the run keeps its models, and fitted what it fits.
	last    *dayModels
	kept    *dayModels
	fitted  dayModels
	wrote   idList
	wroteFP []uint64
	// ran is the segments the last run stored and the movement it
	// recorded (nil before: they are read from the store).
	ran *ranSegments
	// fold is every customer's stored purchases as of the last run (nil
	// before the first, and after a failed catch-up: read all again);
	// foldOff says it outgrew FoldMaxCustomers, and foldCustomers is how
	// many customers it holds, for the gauge.
	fold          *fold
	foldOff       bool
	foldCustomers atomic.Int64
	// testHookPopulation, if set, sees every run's population.
	testHookPopulation func(*population, []store.CohortCell)
}

// dayModels are the CLV model and clustering fitted on a population as of
// a day; a run as of the same day whose population differs by less than
// 1% in customers and purchase days keeps them rather than fitting anew
// (see RefreshConfig and docs/analytics.md).
type dayModels struct {
	day          time.Time
	customers    int
	purchaseDays int64
	clv          *analytics.CLV
	clvVersion   int
	// clvDegenerate says that the day's CLV fit was degenerate (clv
	// nil, clvVersion the stored model that says why): kept like a
	// model, so that a young shop's every run does not fit it again,
	// store another degenerate version, re-cluster and rewrite every
	// customer's row.
	clvDegenerate bool
	seg           *analytics.Segmentation
	segNames      []string
	segVersion    int
}

// keeps says whether a run as of day over customers and purchase days
// keeps the models last fitted: same day, less than 1% change, and no
// other instance has stored a model since (whose run may also have
// written customer rows).
func (r *Refresh) keeps(ctx context.Context, day time.Time, customers int, purchaseDays int64) (bool, error) {
	m := r.last
	if m == nil || !m.day.Equal(day) ||
		100*abs64(int64(customers-m.customers)) >= int64(m.customers) || 100*abs64(purchaseDays-m.purchaseDays) >= m.purchaseDays {
		return false, nil
	}
	for kind, v := range map[string]int{store.ModelCLV: m.clvVersion, store.ModelSegments: m.segVersion} {
		latest, err := r.cfg.Store.LatestModelVersion(ctx, kind)
		if errors.Is(err, store.ErrNoModel) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		if latest.Version != v {
			return false, nil
		}
	}
	return true, nil
}

func abs64(v int64) int64 { return max(v, -v) }

// seenRun is what Again decides from about a run.
type seenRun struct {
	customers    int
	purchaseDays int64
	complete     bool // CLV and clusters for every customer
}

// NewRefresh validates cfg and returns the refresh.
func NewRefresh(cfg RefreshConfig) (*Refresh, error) {
	cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("analytics refresh: %w", err)
	}
	r := &Refresh{cfg: cfg, log: cfg.Logger.With("component", "analytics-refresh"), minorPer: 100}
	if cfg.Registerer != nil {
		promauto.With(cfg.Registerer).NewGaugeFunc(prometheus.GaugeOpts{Name: "shopstream_analytics_fold_customers",
			Help: "Customers whose purchase days the analytics refresh keeps in memory between runs (bounded by --analytics-fold-max-customers; 0 when it reads them from the store instead)."},
			func() float64 { return float64(r.foldCustomers.Load()) })
	}
	return r, nil
}

// Job returns the refresh as a periodic job, run again after
// RefreshConfig.CatchUp while it catches up (see Again).
func (r *Refresh) Job(interval, firstDelay time.Duration) Job {
	return Job{Name: RefreshName, Interval: interval, FirstDelay: firstDelay, Run: r.Run, Again: r.Again}
}

// pace waits after a read or write that took d while the processor is
// behind (RefreshConfig.Busy).
func (r *Refresh) pace(ctx context.Context, d time.Duration) error {
	return pace(ctx, r.cfg.Busy, r.cfg.BusyShare, d)
}

// Again returns RefreshConfig.CatchUp when the last run's figures lag the
// stream more than one interval should allow (see CatchUp), otherwise 0.
func (r *Refresh) Again() time.Duration {
	if r.cfg.CatchUp < 0 {
		return 0
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	switch n := len(r.seen); {
	case n == 0:
		return 0 // no run did the work: skipped (another instance leads) or failed
	case r.seen[n-1].customers == 0:
		return r.cfg.CatchUp // nothing stored yet
	case n == 1:
		if !r.seen[0].complete {
			return r.cfg.CatchUp
		}
		return 0
	default:
		last, prev := r.seen[n-1], r.seen[n-2]
		if last.purchaseDays == prev.purchaseDays {
			return 0 // nothing new: another run would find the same
		}
		if !last.complete || 10*int64(last.customers) >= 11*int64(prev.customers) {
			return r.cfg.CatchUp
		}
		return 0
	}
}

// record keeps what Again needs of a run that did the work.
func (r *Refresh) record(rep *RefreshReport) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen = append(r.seen, seenRun{customers: rep.Customers, purchaseDays: rep.PurchaseDays,
		complete: rep.CLVVersion > 0 && rep.SegmentsVersion > 0})
	if len(r.seen) > 2 {
		r.seen = r.seen[len(r.seen)-2:]
	}
}

// Run does one refresh; it returns an error wrapping ErrSkipped when
// another instance leads.
func (r *Refresh) Run(ctx context.Context) error {
	_, err := r.RunOnce(ctx)
	return err
}

// RefreshReport says what one refresh did.
type RefreshReport struct {
	// AsOf is the instant customers were scored at.
	AsOf         time.Time `json:"as_of"`
	Customers    int       `json:"customers"`
	PurchaseDays int64     `json:"purchase_days"`
	CohortCells  int       `json:"cohort_cells"`
	// CLVVersion is the CLV model used (0: none); CLVFitted says whether
	// this run fitted it; CLVNote says why not.
	CLVVersion int    `json:"clv_model_version"`
	CLVFitted  bool   `json:"clv_fitted"`
	CLVNote    string `json:"clv_note,omitempty"`
	// SegmentsVersion is the clustering fitted (0: none), with its k and
	// mean silhouette; SegmentsNote says why there is none.
	SegmentsVersion int      `json:"segments_model_version"`
	K               int      `json:"k"`
	Silhouette      *float64 `json:"silhouette"`
	SegmentsNote    string   `json:"segments_note,omitempty"`
	// Read says how the purchases were read: "incremental" (those stored
	// since the last run, folded into what this process keeps of every
	// customer), "full" (every stored purchase, into a new fold: the first
	// run of a process, or after a failed one) or "store" (grouped in the
	// database, for a store without the tail, or purchases after the as-of
	// day); TransactionsRead counts the transactions folded, Erased the
	// erased customers whose analytics went.
	Read             string `json:"read"`
	TransactionsRead int64  `json:"transactions_read"`
	Erased           int    `json:"erased,omitempty"`
	// ModelsKept says whether the run kept the CLV model and clustering
	// of the day (population changed by less than 1% since their fit)
	// instead of fitting them; RowsWritten counts the customer rows it
	// stored: those whose values changed since this process last wrote
	// them, all when the models are new.
	ModelsKept  bool `json:"models_kept"`
	RowsWritten int  `json:"rows_written"`
	// CustomersNew, CustomersMoved and CustomersLeft are the segment
	// movement recorded against the refresh before: customers scored for
	// the first time, those whose segment changed, and those no longer
	// scored.
	CustomersNew   int64 `json:"customers_new"`
	CustomersMoved int64 `json:"customers_moved"`
	CustomersLeft  int64 `json:"customers_left"`
	// Seconds is the whole run; the phases are reading (the purchases
	// stored since the last run, purchase days, category mix, cohorts), CLV (fit and predict), RFM scoring,
	// clustering (fit and assign) and writing the customer rows (with the
	// segment movement: reading the segments before, storing the matrix).
	Seconds         float64 `json:"seconds"`
	ReadSeconds     float64 `json:"read_seconds"`
	CLVSeconds      float64 `json:"clv_seconds"`
	RFMSeconds      float64 `json:"rfm_seconds"`
	SegmentsSeconds float64 `json:"segments_seconds"`
	WriteSeconds    float64 `json:"write_seconds"`
}

// RunOnce does one refresh and reports what it did; it returns an error
// wrapping ErrSkipped when another instance leads.
func (r *Refresh) RunOnce(ctx context.Context) (*RefreshReport, error) {
	st := r.cfg.Store
	release, ok, err := st.TryLead(ctx, RefreshName)
	if err != nil {
		return nil, fmt.Errorf("analytics refresh: %w", err)
	}
	if !ok {
		return nil, fmt.Errorf("analytics refresh: %w: another instance holds the lead", ErrSkipped)
	}
	defer release()
	if r.testHookLeading != nil {
		r.testHookLeading()
	}
	// The store's currencies, read once: the amounts' major units, and
	// the warning below when there are several.
	var currencies map[string]int64
	if ss, ok := st.(interface {
		Summary(context.Context) (store.Summary, error)
	}); ok {
		sum, err := ss.Summary(ctx)
		if err != nil {
			return nil, fmt.Errorf("analytics refresh: the store's currencies: %w", err)
		}
		currencies = sum.RevenueByCurrency
	}
	r.minorPer = event.MinorPerMajor(currencies)
	start := time.Now()
	now := r.cfg.Now().UTC()
	rep := &RefreshReport{}
	// The fold first, so that the latest purchase below is at least as
	// late as any it holds.
	if err := r.catchUp(ctx, rep); err != nil {
		return nil, fmt.Errorf("analytics refresh: %w", err)
	}
	latest, err := st.LatestPurchase(ctx)
	if err != nil {
		return nil, fmt.Errorf("analytics refresh: %w", err)
	}
	if latest.IsZero() {
		rep.CLVNote, rep.SegmentsNote = "no purchases stored", "no purchases stored"
		r.log.Info("analytics refresh: no purchases stored yet")
		r.record(rep)
		return rep, nil
	}
	asOf := latest
	if now.Before(latest) {
		asOf = now
	}
	rep.AsOf = asOf
	y, m, d := asOf.Date()
	until := time.Date(y, m, d+1, 0, 0, 0, 0, time.UTC) // the whole as-of day counts

	phase := start
	lap := func(d *float64) {
		*d = time.Since(phase).Seconds()
		phase = time.Now()
	}
	pop, cells, err := r.load(ctx, asOf, until, rep)
	if err != nil {
		return nil, fmt.Errorf("analytics refresh: %w", err)
	}
	rep.Customers, rep.PurchaseDays, rep.CohortCells = len(pop.sums), pop.days, len(cells)
	day := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	keep, err := r.keeps(ctx, day, len(pop.sums), pop.days)
	if err != nil {
		return nil, fmt.Errorf("analytics refresh: %w", err)
	}
	r.kept, r.fitted = nil, dayModels{day: day, customers: len(pop.sums), purchaseDays: pop.days}
	if keep {
		r.kept = r.last
	} else {
		// New models (or none): every customer's row is written again.
		r.last, r.wrote, r.wroteFP = nil, idList{}, nil
	}
	rep.ModelsKept = keep
	if err := st.ReplaceCohorts(ctx, cells, now, asOf); err != nil {
		return nil, fmt.Errorf("analytics refresh: %w", err)
	}
	lap(&rep.ReadSeconds)

	n := len(pop.sums)
	vals := make([]analytics.RFMValues, n)
	for i, s := range pop.sums {
		vals[i] = s.RFMValues()
	}
	scores, err := analytics.ScoreRFM(vals)
	if err != nil {
		return nil, fmt.Errorf("analytics refresh: %w", err)
	}
	lap(&rep.RFMSeconds)
	preds, clvVersion, err := r.clv(ctx, pop, asOf, rep)
	if err != nil {
		return nil, fmt.Errorf("analytics refresh: %w", err)
	}
	lap(&rep.CLVSeconds)
	labels, err := r.segments(ctx, pop, asOf, preds, rep)
	if err != nil {
		return nil, fmt.Errorf("analytics refresh: %w", err)
	}
	lap(&rep.SegmentsSeconds)

	// The segments of the refresh before, read (when this process does
	// not hold them) before this run's are written over them.
	prev, prevAt, err := r.previousSegments(ctx)
	if err != nil {
		return nil, fmt.Errorf("analytics refresh: %w", err)
	}
	if !keep && (r.fitted.clv != nil || r.fitted.clvDegenerate) && r.fitted.seg != nil {
		fitted := r.fitted
		r.last = &fitted
	}
	if rep.RowsWritten, err = r.writeCustomers(ctx, pop, scores, preds, clvVersion, labels, now); err != nil {
		r.last, r.wrote, r.wroteFP = nil, idList{}, nil // what is stored is uncertain: all again next run
		return nil, fmt.Errorf("analytics refresh: %w", err)
	}
	if err := r.recordMovement(ctx, prev, prevAt, pop, scores, asOf, now, rep); err != nil {
		return nil, fmt.Errorf("analytics refresh: segment movement: %w", err)
	}
	lap(&rep.WriteSeconds)
	// The refresh's long read kept SQLite's log from being checkpointed
	// while it wrote: fold it back now rather than at the next retention
	// pass, so the file does not keep a refresh's worth of log.
	if w, ok := st.(store.WALCheckpointer); ok {
		if busy, err := w.CheckpointWAL(ctx); err != nil || busy {
			r.log.Warn("write-ahead log not checkpointed after the refresh", "busy", busy, "err", err)
		}
	}
	rep.Seconds = time.Since(start).Seconds()
	r.record(rep)
	r.log.Info("analytics refreshed", "as_of", asOf, "customers", n, "cohort_cells", len(cells),
		"clv_model", rep.CLVVersion, "clv_fitted", rep.CLVFitted, "k", rep.K, "seconds", rep.Seconds,
		"read_s", rep.ReadSeconds, "clv_s", rep.CLVSeconds, "segments_s", rep.SegmentsSeconds, "write_s", rep.WriteSeconds,
		"models_kept", rep.ModelsKept, "rows_written", rep.RowsWritten,
		"customers_new", rep.CustomersNew, "customers_moved", rep.CustomersMoved, "customers_left", rep.CustomersLeft)
	// The customers' amounts are summed whatever their currency: say so
	// when the store holds more than one (GET /api/v1/segments notes it).
	if len(currencies) > 1 {
		r.log.Warn("customer analytics add the amounts of several currencies as one: they assume one settlement currency",
			"currencies", strings.Join(slices.Sorted(maps.Keys(currencies)), ","))
	}
	return rep, nil
}
