// Package detector runs fraud detection live: it holds the current scorer
// (rules and isolation-forest model, swapped atomically when the rules file
// changes or a model version is promoted), an optional shadow model that is
// scored and stored but not acted on, and gives each Kafka partition a
// PartitionScorer that owns that partition's feature state (the processor's
// scorer of the partition; the wiring hands it over).
//
// The pure parts (features, rules, risk, the forest) live in package fraud;
// this package adds the files, clocks and concurrency around them.
package detector

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/shopstream/shopstream/internal/event"
	"github.com/shopstream/shopstream/internal/filewatch"
	"github.com/shopstream/shopstream/internal/fraud"
	"github.com/shopstream/shopstream/internal/store"
)

// Config configures a Detector.
type Config struct {
	// RulesFile is a JSON rules file (see docs/fraud.md), re-read whenever
	// it changes. Defaults to "": the built-in rules.
	RulesFile string
	// Scorer holds the thresholds. Defaults to fraud's defaults.
	Scorer fraud.ScorerConfig
	// State configures the per-partition feature state. Its country
	// lookups stand in for a GeoIP and a BIN database; they default to
	// none, as in fraud.StateConfig. The wiring passes the synthetic shop's
	// tables (package shopgeo).
	State fraud.StateConfig
	// WatchInterval is how often the rules file is checked. Defaults to 2 s.
	WatchInterval time.Duration
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Registerer, when set, receives the detector's metrics.
	Registerer prometheus.Registerer
	// IPHasher, when set, is the processor's IP hashing (privacy.Filter
	// with the key of --ip-hash-key-file): ScoreOne applies it to the
	// transaction it scores, whose history the store holds hashed.
	// Defaults to nil: addresses are scored as they come.
	IPHasher IPHasher
}

// IPHasher replaces a transaction's raw IP address by its keyed hash,
// keeping the address's country and hosting flag beside it, as the
// processor's privacy step does; it reports whether it changed t.
type IPHasher interface {
	HashTransactionIP(t *event.Transaction) bool
}

// Model is a model version the detector scores with.
type Model struct {
	Version int
	Model   *fraud.ForestModel
}

// inForce is the scorer in force with the active model version it holds
// (0 for the rules alone), swapped together so a transaction's alert names
// the version that scored it.
type inForce struct {
	sc      *fraud.Scorer
	version int
}

// Detector is the live fraud detection of one process. Safe for concurrent use.
type Detector struct {
	cfg     Config
	log     *slog.Logger
	scorer  atomic.Pointer[inForce]
	shadow  atomic.Pointer[fraud.Scorer]
	rules   atomic.Pointer[fraud.RuleSet]
	active  atomic.Pointer[Model]
	shadowM atomic.Pointer[Model]

	rulesFile *filewatch.Watcher[*fraud.RuleSet] // nil without a rules file
	// decided counts scored transactions per fraud.Decision, resolved
	// once so the hot path does no label lookup.
	decided [3]prometheus.Counter
	reloads *prometheus.CounterVec
	// parts holds the feature-state sizes of each partition's latest
	// scorer (int32 -> *stateSize), summed by the state gauges; bounded
	// counts the keys forgotten for MaxCustomers or MaxEntities.
	parts   sync.Map
	bounded *prometheus.CounterVec
}

// stateSize is the size of one partition's feature state as of its last
// sweep.
type stateSize struct {
	keys [4]atomic.Int64 // customers, devices, cards, IP addresses
}

// stateKinds name stateSize.keys in the gauge's label.
var stateKinds = [4]string{"customers", "devices", "cards", "ips"}

// New loads the rules and returns a Detector scoring with rules only until
// a model is set.
func New(cfg Config) (*Detector, error) {
	if cfg.WatchInterval == 0 {
		cfg.WatchInterval = 2 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.Scorer = cfg.Scorer.WithDefaults()
	if err := cfg.Scorer.Validate(); err != nil {
		return nil, err
	}
	if _, err := fraud.NewState(cfg.State); err != nil {
		return nil, err
	}
	reg := cfg.Registerer
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	f := promauto.With(reg)
	decisions := f.NewCounterVec(prometheus.CounterOpts{Name: "shopstream_fraud_decisions_total",
		Help: "Transactions scored, by decision (approve, review, decline)."}, []string{"decision"})
	d := &Detector{cfg: cfg, log: cfg.Logger.With("component", "detector"),
		decided: [3]prometheus.Counter{
			decisions.WithLabelValues(fraud.Approve.String()),
			decisions.WithLabelValues(fraud.Review.String()),
			decisions.WithLabelValues(fraud.Decline.String()),
		},
		reloads: f.NewCounterVec(prometheus.CounterOpts{Name: "shopstream_fraud_rules_reloads_total",
			Help: "Rules file reloads, by outcome (ok, error)."}, []string{"outcome"}),
		bounded: f.NewCounterVec(prometheus.CounterOpts{Name: "shopstream_fraud_state_bounded_total",
			Help: "Keys the fraud feature state forgot because it held --fraud-max-customers customers or --fraud-max-entities of a kind (the least recently seen), by kind (customers, entities)."}, []string{"kind"}),
	}
	for _, kind := range []string{"customers", "entities"} {
		d.bounded.WithLabelValues(kind) // exported at 0 from the start
	}
	for k, kind := range stateKinds {
		f.NewGaugeFunc(prometheus.GaugeOpts{Name: "shopstream_fraud_state_keys", ConstLabels: prometheus.Labels{"kind": kind},
			Help: "Keys the fraud feature state holds, summed over this process's partitions as of each one's last sweep (every 256 transactions), by kind (customers, devices, cards, ips); bounded per partition by --fraud-max-customers and --fraud-max-entities."},
			func() float64 {
				var n int64
				d.parts.Range(func(_, v any) bool {
					n += v.(*stateSize).keys[k].Load()
					return true
				})
				return float64(n)
			})
	}
	rules := fraud.DefaultRules()
	if cfg.RulesFile != "" {
		var err error
		d.rulesFile, rules, err = filewatch.New(filewatch.Config[*fraud.RuleSet]{
			Path: cfg.RulesFile, What: "fraud rules", Parse: fraud.ParseRules, Apply: d.SetRules,
			Interval: cfg.WatchInterval, Logger: d.log, Reloads: d.reloads})
		if err != nil {
			return nil, fmt.Errorf("--rules %s: %w", cfg.RulesFile, err)
		}
	}
	d.rules.Store(rules)
	if err := d.rebuild(); err != nil {
		return nil, err
	}
	return d, nil
}

// rebuild makes new scorers from the current rules and models.
func (d *Detector) rebuild() error {
	rules := d.rules.Load()
	var model fraud.Model
	version := 0
	if m := d.active.Load(); m != nil {
		model, version = m.Model, m.Version
	}
	sc, err := fraud.NewScorer(rules, model, d.cfg.Scorer)
	if err != nil {
		return err
	}
	d.scorer.Store(&inForce{sc: sc, version: version})
	if m := d.shadowM.Load(); m != nil {
		sh, err := fraud.NewScorer(rules, m.Model, d.cfg.Scorer)
		if err != nil {
			return err
		}
		d.shadow.Store(sh)
	} else {
		d.shadow.Store(nil)
	}
	return nil
}

// Scorer returns the scorer in force.
func (d *Detector) Scorer() *fraud.Scorer { return d.scorer.Load().sc }

// Rules returns the rules in force.
func (d *Detector) Rules() *fraud.RuleSet { return d.rules.Load() }

// Active and Shadow return the model versions in use, or nil.
func (d *Detector) Active() *Model { return d.active.Load() }

// Shadow returns the shadow model, or nil.
func (d *Detector) Shadow() *Model { return d.shadowM.Load() }

// SetModels swaps in the active and shadow models (nil for none).
func (d *Detector) SetModels(active, shadow *Model) error {
	d.active.Store(active)
	d.shadowM.Store(shadow)
	return d.rebuild()
}

// SetRules swaps in a rule set.
func (d *Detector) SetRules(rs *fraud.RuleSet) error {
	d.rules.Store(rs)
	return d.rebuild()
}

// StateConfig is the feature-state configuration partitions use.
func (d *Detector) StateConfig() fraud.StateConfig { return d.cfg.State }

// WatchRules re-reads the rules file whenever it changes, until ctx ends.
// A file that does not parse is reported and the rules in force are kept.
func (d *Detector) WatchRules(ctx context.Context) error {
	if d.rulesFile == nil {
		<-ctx.Done()
		return nil
	}
	return d.rulesFile.Run(ctx)
}

// NewPartitionScorer returns the scorer of one partition: it owns the
// partition's feature state and scores with whatever scorer is in force.
func (d *Detector) NewPartitionScorer(part int32) *PartitionScorer {
	st, err := fraud.NewState(d.cfg.State)
	if err != nil {
		panic(err) // validated in New
	}
	size := &stateSize{}
	d.parts.Store(part, size) // a partition's new owner replaces the last
	return &PartitionScorer{d: d, state: st, size: size}
}

// PartitionScorer scores one partition's transactions and keeps its
// feature state; it is the processor's pipeline.Scorer of that partition.
// One goroutine at a time uses it.
type PartitionScorer struct {
	d       *Detector
	state   *fraud.State
	f       fraud.Features
	res     fraud.Result
	vec     []float64
	n       int
	expired time.Time
	size    *stateSize
	// bounded is what State.Bounded reported at the last sweep.
	boundedCusts, boundedEnts int
}

// Every sweepEvery transactions the scorer forgets what is idle among the
// next sweepEvery·sweepSlots records of each state table, so it goes round
// a table of N keys every N/sweepSlots transactions (a table grows by at
// most one key a transaction) at a fixed cost per transaction. A full walk
// of the state every so often (every 50,000 transactions or hour of event
// time, as before) took most of the processor's CPU in a million-customer
// shop whose event time runs fast: 39% of `process`'s samples were the
// walk with 1,000,000 generated at full speed.
const (
	sweepEvery = 256
	sweepSlots = 4
)

// featureSample: one transaction in this many keeps its feature vector.
const featureSample = 16

// Score scores t from the partition's state, fills in row's risk,
// decision, reasons, sampled features, shadow risk and the active model
// version, then folds t into the state.
func (p *PartitionScorer) Score(t *event.Transaction, row *store.Tx) {
	p.state.FeaturesInto(t, &p.f)
	sc := p.d.scorer.Load()
	sc.sc.ScoreInto(&p.f, &p.res)
	row.Risk, row.ModelVersion = p.res.Risk, sc.version
	row.Decision = p.res.Decision.String()
	row.ReasonsJSON = p.res.ReasonsJSON()
	// Feature vectors are kept for model training on a sample of the
	// traffic (and every alert), which keeps the stored rows lean.
	if p.n%featureSample == 0 || p.res.Decision != fraud.Approve {
		p.vec = p.f.Vector(p.vec[:0])
		feats := make([]float32, len(p.vec))
		for i, v := range p.vec {
			feats[i] = float32(v)
		}
		row.Features = feats
	}
	if sh := p.d.shadow.Load(); sh != nil {
		var r fraud.Result
		sh.ScoreInto(&p.f, &r)
		row.ShadowRisk, row.HasShadow = r.Risk, true
	}
	if int(p.res.Decision) < len(p.d.decided) {
		p.d.decided[p.res.Decision].Inc()
	}
	p.state.Update(t, &p.f)
	p.sweep(t.EventTime)
}

// Replay folds a stored transaction into the state without scoring it:
// the state is rebuilt this way after a rebalance.
func (p *PartitionScorer) Replay(row *store.Tx) {
	t := TransactionOf(row)
	p.state.Update(&t, nil)
	p.sweep(row.EventTime)
}

func (p *PartitionScorer) sweep(now time.Time) {
	p.n++
	if p.n%sweepEvery == 0 {
		p.state.ExpireSome(now, sweepEvery*sweepSlots)
		p.expired = now
		p.report()
	}
}

// report publishes the state's size and what it forgot for its bounds
// since the last report.
func (p *PartitionScorer) report() {
	c, dv, cd, ip := p.state.Len()
	for k, n := range [4]int{c, dv, cd, ip} {
		p.size.keys[k].Store(int64(n))
	}
	custs, ents := p.state.Bounded()
	if n := custs - p.boundedCusts; n > 0 {
		p.d.bounded.WithLabelValues("customers").Add(float64(n))
	}
	if n := ents - p.boundedEnts; n > 0 {
		p.d.bounded.WithLabelValues("entities").Add(float64(n))
	}
	p.boundedCusts, p.boundedEnts = custs, ents
}

// TransactionOf rebuilds the event of a stored row, enough for the feature
// state's Update, which reads the customer, card, device, IP address,
// shipping country and address (the row's key of it, which the state takes
// as a key: event.IsAddressKey), time and total, never the items (so they
// are not decoded: replay after a rebalance reads up to a million rows).
func TransactionOf(row *store.Tx) event.Transaction {
	return event.Transaction{
		SchemaVersion: event.SchemaVersion, TransactionID: row.TransactionID, CustomerID: row.CustomerID,
		EventTime: row.EventTime, TotalCents: event.Cents(row.TotalCents), Currency: row.Currency,
		PaymentMethod: row.PaymentMethod, Card: event.Card{BIN: row.CardBIN, Last4: row.CardLast4},
		DeviceID: row.DeviceID, IPAddress: row.IPAddress, IPCountry: row.IPCountry, IPHosting: row.IPHosting, BillingCountry: row.BillingCountry,
		ShippingCountry: row.ShippingCountry, ShippingAddress: row.ShippingAddress, Channel: row.Channel,
	}
}
