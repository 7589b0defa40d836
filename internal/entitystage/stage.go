package entitystage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/internal/bus"
	"github.com/shopstream/shopstream/internal/event"
	"github.com/shopstream/shopstream/internal/fraud"
	"github.com/shopstream/shopstream/internal/pipeline"
	"github.com/shopstream/shopstream/internal/store"
)

// Config configures a Stage.
type Config struct {
	// Brokers are the Kafka seed brokers. Required.
	Brokers []string
	// ConnOpts are how the stage reaches the brokers (TLS, SASL).
	// Defaults to none: plaintext.
	ConnOpts []kgo.Opt
	// Topic is the repartition topic. Defaults to DefaultTopic.
	Topic string
	// Group is the stage's consumer group. Defaults to DefaultGroup.
	Group string
	// InstanceID is the stage's stable identity: the owner of its commits
	// and its static group membership. Defaults to "entitystage".
	InstanceID string
	// Store keeps the state; it must implement store.Entities. Required.
	Store store.Store
	// Window is the sliding window of event time the counts and rings
	// cover. Defaults to 24 hours.
	Window time.Duration
	// MaxEvents bounds the events one partition's state holds: beyond,
	// its window shortens until they fit (fraud.EntityState.SetMaxEvents),
	// so memory stays bounded at any rate. Defaults to 500,000 (about
	// 100 MB); negative: no bound.
	MaxEvents int
	// MinRing is the fewest accounts a ring has. Defaults to 3 (a
	// household of two sharing a device is not a ring).
	MinRing int
	// AlertsTopic receives an alert (RingAlert as JSON, through the
	// outbox, in the transaction that stores the ring) for every ring that
	// appears or grows. Defaults to "alerts"; "-" queues none.
	AlertsTopic string
	// Rules are the entity rules, the second step of scoring: a
	// transaction on an entity they flag has its decision raised (see
	// store.EntityUpgrade). Defaults to fraud.DefaultEntityRules(); an
	// empty set scores nothing.
	Rules *fraud.EntityRuleSet
	// Scorer holds the thresholds that turn the raised risk into a
	// decision: the processor's (defaults as fraud.ScorerConfig's).
	Scorer fraud.ScorerConfig
	// Model turns the entity forest on in the second step: the stage
	// reads the newest stored version (store.ModelEntityForest, trained
	// by Trainer) at start and every ModelPoll, and a transaction on an
	// entity whose counts it finds unusual gets its hit
	// (fraud.EntityModel.Hit) next to the entity rules'. Defaults to
	// false: on the synthetic shop it added no recall at review beyond
	// the entity rules (docs/fraud.md).
	Model bool
	// ModelWeight is the entity forest's weight: its evidence times
	// ModelWeight is one more chance by noisy OR. Defaults to
	// fraud.DefaultEntityModelWeight; it must be below the Scorer's
	// ReviewAt, so that the forest alone never raises an order to review.
	ModelWeight float64
	// ModelPoll is how often the newest entity forest is read. Defaults
	// to 5 s, so a new version is in use within that.
	ModelPoll time.Duration
	// MaxBatch bounds the records in one store transaction. Defaults to
	// 5000.
	MaxBatch int
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Registerer, when set, receives the stage's metrics.
	Registerer prometheus.Registerer
	// OnCommit, when set, is called after every committed batch (tests
	// and the benchmark).
	OnCommit func(c Commit)
	// BeforeCommit, when set, is called in the store transaction of
	// each batch write (a retry is a write too), numbered from 1, after
	// its last write and before its commit (store.EntityBatch's
	// BeforeCommit); an error rolls the write back. Tests use it; when it
	// is not set, New sets it from EnvHoldBatch.
	BeforeCommit func(ctx context.Context, write int) error
	// Now is the clock. Defaults to time.Now.
	Now func() time.Time
	// KafkaOpts are extra franz-go options (tests use them for timeouts).
	KafkaOpts []kgo.Opt
}

func (c Config) withDefaults() Config {
	if c.Topic == "" {
		c.Topic = DefaultTopic
	}
	if c.Group == "" {
		c.Group = DefaultGroup
	}
	if c.InstanceID == "" {
		c.InstanceID = "entitystage"
	}
	if c.Window == 0 {
		c.Window = 24 * time.Hour
	}
	if c.MinRing == 0 {
		c.MinRing = 3
	}
	if c.MaxEvents == 0 {
		c.MaxEvents = 500_000
	}
	if c.MaxBatch == 0 {
		c.MaxBatch = 5000
	}
	if c.Rules == nil {
		c.Rules = fraud.DefaultEntityRules()
	}
	c.Scorer = c.Scorer.WithDefaults()
	if c.ModelWeight == 0 {
		c.ModelWeight = fraud.DefaultEntityModelWeight
	}
	if c.ModelPoll == 0 {
		c.ModelPoll = 5 * time.Second
	}
	if c.AlertsTopic == "" {
		c.AlertsTopic = bus.TopicAlerts
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

func (c Config) validate() error {
	switch {
	case len(c.Brokers) == 0:
		return errors.New("entitystage: Brokers is required")
	case c.Store == nil:
		return errors.New("entitystage: Store is required")
	case c.Window < time.Minute:
		return fmt.Errorf("entitystage: Window must be at least a minute, got %v", c.Window)
	case c.MinRing < 2:
		return fmt.Errorf("entitystage: MinRing must be at least 2, got %d", c.MinRing)
	case c.MaxBatch < 1:
		return fmt.Errorf("entitystage: MaxBatch must be at least 1, got %d", c.MaxBatch)
	case c.ModelPoll < 0:
		return fmt.Errorf("entitystage: ModelPoll must not be negative, got %v", c.ModelPoll)
	}
	if err := c.Scorer.Validate(); err != nil {
		return fmt.Errorf("entitystage: %w", err)
	}
	if !(c.ModelWeight > 0 && c.ModelWeight < c.Scorer.ReviewAt) {
		return fmt.Errorf("entitystage: ModelWeight %v must be above 0 and below the review threshold %v (the entity forest alone must not raise an order to review)",
			c.ModelWeight, c.Scorer.ReviewAt)
	}
	if _, ok := c.Store.(store.Analytics); c.Model && !ok {
		return fmt.Errorf("entitystage: store %T keeps no models, for the entity forest", c.Store)
	}
	if _, ok := c.Store.(store.Entities); !ok {
		return fmt.Errorf("entitystage: store %T keeps no entity state", c.Store)
	}
	return nil
}

// RingAlertKind is the kind of a ring's alert (the "kind" label alert
// routes match).
const RingAlertKind = "fraud_ring"

// RingAlert is the alert queued for a ring that appears or grows.
type RingAlert struct {
	Kind           string    `json:"kind"`
	Key            string    `json:"key"`
	Reason         string    `json:"reason"`
	Accounts       int       `json:"accounts"`
	Members        []string  `json:"members"`
	Entities       []string  `json:"entities"`
	TransactionID  string    `json:"ring_transaction_id"`
	FirstEventTime time.Time `json:"first_event_time"`
	LastEventTime  time.Time `json:"last_event_time"`
}

// UpgradeAlertKind is the kind of the alert of a decision the entity
// rules raised.
const UpgradeAlertKind = "entity_rules"

// UpgradeAlert is the alert queued for a transaction whose decision the
// entity rules raised: the processor's alert (pipeline.AlertPayload),
// with the reasons of the second step only, the first step's decision
// and the kind.
type UpgradeAlert struct {
	Kind string `json:"kind"`
	pipeline.AlertPayload
	FirstDecision string `json:"first_decision"`
	Step          int    `json:"step"`
}

// Commit is what one committed entity batch did.
type Commit struct {
	// Rings are the rings stored as they appeared or grew.
	Rings []store.EntityRing
	// Upgrades are the decisions the entity rules raised.
	Upgrades []store.EntityUpgrade
	// Events is the number of entity events stored.
	Events int
	// Produced are when the transactions of those events were produced.
	Produced []time.Time
	// At is the commit time.
	At time.Time
}

// Stage owns the entities of the repartition topic's partitions it is
// assigned. Run it in one goroutine.
type Stage struct {
	cfg Config
	st  store.Entities
	log *slog.Logger

	mu    sync.Mutex
	parts map[int32]*partState
	epoch int32

	writes atomic.Int64 // batch writes begun, for Config.BeforeCommit

	// model is the entity forest in force (nil: none), loaded by
	// syncModel.
	model        atomic.Pointer[EntityForest]
	modelMu      sync.Mutex // one SyncModel at a time
	modelBroken  map[int]bool
	modelVersion prometheus.Gauge
	modelHits    prometheus.Counter

	records  prometheus.Counter
	invalid  prometheus.Counter
	repeats  prometheus.Counter
	rings    prometheus.Counter
	upgrades *prometheus.CounterVec
	latency  prometheus.Histogram
	upLat    prometheus.Histogram
	ringLat  prometheus.Histogram
	entities *prometheus.GaugeVec
}

// partState is one partition's entities and what was last reported.
type partState struct {
	state *fraud.EntityState
	next  int64 // next offset to consume; -1 before the first commit
	// reported is each ring's size last stored, by key.
	reported map[string][2]int
	pruned   time.Time
}

// New builds a stage from cfg.
func New(cfg Config) (*Stage, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.BeforeCommit == nil {
		hold, err := holdFromEnv(cfg.Logger.With("component", "entitystage"))
		if err != nil {
			return nil, err
		}
		cfg.BeforeCommit = hold
	}
	f := promauto.With(cfg.Registerer)
	return &Stage{
		cfg: cfg, st: cfg.Store.(store.Entities), log: cfg.Logger.With("component", "entitystage"),
		parts: map[int32]*partState{},
		records: f.NewCounter(prometheus.CounterOpts{Name: "shopstream_entity_records_total",
			Help: "Repartition records (one transaction on one entity) consumed by the entity stage."}),
		invalid: f.NewCounter(prometheus.CounterOpts{Name: "shopstream_entity_records_invalid_total",
			Help: "Repartition records that did not decode; logged and skipped."}),
		repeats: f.NewCounter(prometheus.CounterOpts{Name: "shopstream_entity_records_repeated_total",
			Help: "Repartition records of a transaction already counted on the entity (outbox redelivery) or older than the window."}),
		rings: f.NewCounter(prometheus.CounterOpts{Name: "shopstream_entity_rings_total",
			Help: "Rings of accounts stored as they appeared or grew."}),
		upgrades: f.NewCounterVec(prometheus.CounterOpts{Name: "shopstream_entity_upgrades_total",
			Help: "Decisions the entity rules raised (the second step of scoring), by the decision raised to."}, []string{"decision"}),
		upLat: f.NewHistogram(prometheus.HistogramOpts{Name: "shopstream_entity_upgrade_latency_seconds",
			Help:    "From the produce of a transaction whose decision the entity rules raised to the commit of the raised decision and its alert.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14)}),
		latency: f.NewHistogram(prometheus.HistogramOpts{Name: "shopstream_entity_latency_seconds",
			Help:    "From a transaction's produce to the commit of its entity counts.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14)}),
		ringLat: f.NewHistogram(prometheus.HistogramOpts{Name: "shopstream_entity_ring_latency_seconds",
			Help:    "From the produce of the transaction that made or grew a ring to the ring's commit.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14)}),
		entities: f.NewGaugeVec(prometheus.GaugeOpts{Name: "shopstream_entity_state_events",
			Help: "Events held in the entity stage's window, by partition."}, []string{"partition"}),
		modelBroken: map[int]bool{},
		modelVersion: f.NewGauge(prometheus.GaugeOpts{Name: "shopstream_entity_model_version",
			Help: "Version of the entity forest the entity stage scores with; 0 for none."}),
		modelHits: f.NewCounter(prometheus.CounterOpts{Name: "shopstream_entity_model_hits_total",
			Help: "Entity events whose counts the entity forest found unusual (a hit in the second step, whether or not it raised the decision)."}),
	}, nil
}

// Run consumes the repartition topic until ctx ends.
func (s *Stage) Run(ctx context.Context) error {
	opts := append(append(bus.ClientOpts(s.cfg.Brokers, s.cfg.Logger), s.cfg.ConnOpts...),
		kgo.ConsumerGroup(s.cfg.Group),
		kgo.ConsumeTopics(s.cfg.Topic),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.AdjustFetchOffsetsFn(s.adjust),
		kgo.OnPartitionsRevoked(s.drop),
		kgo.OnPartitionsLost(s.drop),
		kgo.FetchMaxWait(500*time.Millisecond),
		kgo.InstanceID(s.cfg.InstanceID),
	)
	cl, err := kgo.NewClient(append(opts, s.cfg.KafkaOpts...)...)
	if err != nil {
		return fmt.Errorf("creating the entity stage's Kafka consumer: %w", err)
	}
	defer cl.Close()
	if s.cfg.Model {
		if err := s.SyncModel(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("reading the entity forest failed; scoring without it until the next read", "err", err)
		}
		mctx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			s.watchModel(mctx)
		}()
		defer func() { stop(); <-done }()
	}
	for {
		fetches := cl.PollRecords(ctx, s.cfg.MaxBatch)
		if ctx.Err() != nil {
			cl.AllowRebalance()
			return nil
		}
		fetches.EachError(func(topic string, p int32, err error) {
			if !errors.Is(err, context.Canceled) {
				s.log.Warn("fetching the repartition topic", "partition", p, "err", err)
			}
		})
		err := s.handle(ctx, cl, fetches)
		cl.AllowRebalance()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
}

// adjust claims the assigned partitions, rebuilds their state from the
// store, and seeks each to its stored offset (the log start when none).
func (s *Stage) adjust(ctx context.Context, offsets map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	if len(offsets[s.cfg.Topic]) == 0 {
		return offsets, nil
	}
	c, err := pipeline.ClaimAssigned(ctx, s.cfg.Store, s.cfg.Group, s.cfg.Topic, s.cfg.InstanceID, offsets)
	if err != nil {
		return nil, err
	}
	claimed, epoch, stored := c.Partitions, c.Epoch, c.Stored
	fresh := map[int32]*partState{}
	for _, p := range claimed {
		ps, err := s.restore(ctx, p)
		if err != nil {
			return nil, err
		}
		if off, ok := stored[p]; ok {
			ps.next = off
		}
		fresh[p] = ps
	}
	s.mu.Lock()
	s.epoch = max(s.epoch, epoch)
	maps := s.parts
	for p, ps := range fresh {
		maps[p] = ps
	}
	s.mu.Unlock()
	s.log.Info("repartition partitions claimed", "partitions", claimed, "epoch", epoch)
	return offsets, nil
}

// restore rebuilds partition p's state from its stored events within the
// window behind the latest.
func (s *Stage) restore(ctx context.Context, p int32) (*partState, error) {
	ps := &partState{state: fraud.NewEntityState(s.cfg.Window), next: -1, reported: map[string][2]int{}}
	if s.cfg.MaxEvents > 0 {
		ps.state.SetMaxEvents(s.cfg.MaxEvents)
	}
	latest, err := s.st.LatestEntityEvent(ctx, p)
	if err != nil || latest.IsZero() {
		return ps, err
	}
	n := 0
	err = s.st.EntityEvents(ctx, p, latest.Add(-s.cfg.Window), func(e *store.EntityEvent) error {
		ps.state.Add(fraud.EntityEvent{Entity: e.Entity, TransactionID: e.TransactionID, CustomerID: e.CustomerID, Card: e.Card, At: e.EventTime})
		if n++; n%10_000 == 0 {
			ps.state.Expire() // keeps the bound while restoring
		}
		return nil
	})
	ps.state.Expire()
	if err != nil {
		return nil, fmt.Errorf("restoring the entities of repartition partition %d: %w", p, err)
	}
	// The rings stored already are not reported again unless they grow.
	for _, r := range fraud.DetectRings(ps.state.Links(), s.cfg.MinRing) {
		ps.reported[r.Key()] = [2]int{len(r.Members), len(r.Entities)}
	}
	ps.pruned = latest
	s.log.Info("repartition partition restored", "partition", p, "events", ps.state.Events(), "entities", ps.state.Entities())
	return ps, nil
}

func (s *Stage) drop(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range lost[s.cfg.Topic] {
		delete(s.parts, p)
	}
}

// handle folds one poll into the partitions' states and commits it.
func (s *Stage) handle(ctx context.Context, cl *kgo.Client, fetches kgo.Fetches) error {
	s.mu.Lock()
	b := &store.EntityBatch{Group: s.cfg.Group, Topic: s.cfg.Topic, Owner: s.cfg.InstanceID, Generation: s.epoch}
	type touch struct {
		tx       string
		produced time.Time
	}
	states := map[int32]*partState{}
	var produced []time.Time
	fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
		if fp.Topic != s.cfg.Topic || len(fp.Records) == 0 {
			return
		}
		ps := s.parts[fp.Partition]
		if ps == nil {
			return // revoked meanwhile
		}
		states[fp.Partition] = ps
		part := store.EntityPart{Partition: fp.Partition, From: ps.next, To: fp.Records[len(fp.Records)-1].Offset + 1}
		if part.From < 0 {
			part.From = fp.Records[0].Offset
		}
		touched := map[string]touch{}
		var rec Record
		for _, r := range fp.Records {
			s.records.Inc()
			if err := DecodeRecord(r.Key, r.Value, &rec); err != nil {
				s.invalid.Inc()
				s.log.Warn("skipping a repartition record", "partition", r.Partition, "offset", r.Offset, "err", err)
				continue
			}
			f, ok := ps.state.Add(fraud.EntityEvent{Entity: rec.Entity, TransactionID: rec.TransactionID, CustomerID: rec.CustomerID,
				Card: rec.Card, At: rec.EventTime})
			if !ok {
				s.repeats.Inc()
				continue
			}
			part.Events = append(part.Events, store.EntityEvent{Partition: fp.Partition, Entity: rec.Entity, TransactionID: rec.TransactionID,
				CustomerID: rec.CustomerID, Card: rec.Card, EventTime: rec.EventTime, Customers: f.Customers, Transactions: f.Transactions, Cards: f.Cards})
			if !rec.ProducedAt.IsZero() {
				produced = append(produced, rec.ProducedAt)
			}
			if u, ok := s.score(&rec, f, ps.state.Covered()); ok {
				part.Upgrades = append(part.Upgrades, u)
			}
			if ps.state.Shared(rec.Entity) {
				touched[rec.Entity] = touch{rec.TransactionID, rec.ProducedAt}
			}
		}
		ps.state.Expire()
		if wm := ps.state.Watermark(); wm.Sub(ps.pruned) >= s.cfg.Window/24 {
			part.PruneBefore = wm.Add(-s.cfg.Window)
		}
		if len(touched) > 0 {
			for _, r := range fraud.DetectRings(ps.state.Links(), s.cfg.MinRing) {
				var last touch
				hit := false
				for _, e := range r.Entities {
					if t, ok := touched[e]; ok {
						hit, last = true, t
					}
				}
				size := [2]int{len(r.Members), len(r.Entities)}
				if !hit || ps.reported[r.Key()] == size {
					continue
				}
				g := store.EntityRing{Key: r.Key(), Partition: fp.Partition, Members: r.Members, Entities: r.Entities,
					Reason: r.Reason(), TransactionID: last.tx, ProducedAt: last.produced}
				for _, e := range r.Entities {
					first, lastAt := ps.state.Span(e)
					if g.FirstEventTime.IsZero() || first.Before(g.FirstEventTime) {
						g.FirstEventTime = first
					}
					if lastAt.After(g.LastEventTime) {
						g.LastEventTime = lastAt
					}
				}
				part.Rings = append(part.Rings, g)
				if s.cfg.AlertsTopic != "-" {
					payload, _ := json.Marshal(RingAlert{Kind: RingAlertKind, Key: g.Key, Reason: g.Reason, Accounts: len(g.Members),
						Members: g.Members, Entities: g.Entities, TransactionID: g.TransactionID,
						FirstEventTime: g.FirstEventTime, LastEventTime: g.LastEventTime})
					part.Outbox = append(part.Outbox, store.OutboxMsg{Kind: "kafka", Target: s.cfg.AlertsTopic, Key: []byte(g.Key), Payload: payload})
				}
			}
		}
		b.Parts = append(b.Parts, part)
	})
	s.mu.Unlock()
	if len(b.Parts) == 0 {
		return nil
	}
	if err := s.write(ctx, cl, b); err != nil {
		return err
	}
	at := s.cfg.Now()
	var rings []store.EntityRing
	var upgrades []store.EntityUpgrade
	events := 0
	for _, p := range b.Parts {
		ps := states[p.Partition]
		ps.next = p.To
		if !p.PruneBefore.IsZero() {
			ps.pruned = ps.state.Watermark()
		}
		for _, r := range p.Rings {
			ps.reported[r.Key] = [2]int{len(r.Members), len(r.Entities)}
			s.rings.Inc()
			if !r.ProducedAt.IsZero() {
				s.ringLat.Observe(max(0, at.Sub(r.ProducedAt).Seconds()))
			}
		}
		rings = append(rings, p.Rings...)
		for _, u := range p.Upgrades {
			if !u.Applied {
				continue
			}
			upgrades = append(upgrades, u)
			s.upgrades.WithLabelValues(u.Decision).Inc()
			if !u.ProducedAt.IsZero() {
				s.upLat.Observe(max(0, at.Sub(u.ProducedAt).Seconds()))
			}
		}
		events += len(p.Events)
		s.entities.WithLabelValues(fmt.Sprint(p.Partition)).Set(float64(ps.state.Events()))
	}
	for _, t := range produced {
		s.latency.Observe(max(0, at.Sub(t).Seconds()))
	}
	if s.cfg.OnCommit != nil {
		s.cfg.OnCommit(Commit{Rings: rings, Upgrades: upgrades, Events: events, Produced: produced, At: at})
	}
	return nil
}

// score evaluates the entity rules on a transaction seen on an entity
// whose features as of it are f, over the window covered: an upgrade
// when they raise its first-step decision.
func (s *Stage) score(rec *Record, f fraud.EntityFeatures, covered time.Duration) (store.EntityUpgrade, bool) {
	var first fraud.Decision
	if rec.Decision == "" || first.UnmarshalText([]byte(rec.Decision)) != nil || first == fraud.Decline {
		return store.EntityUpgrade{}, false
	}
	var buf [4]fraud.EntityHit
	hits := s.cfg.Rules.Match(rec.Entity, f, covered, buf[:0])
	if m := s.model.Load(); m != nil {
		if h, ok := m.Model.Hit(rec.Entity, f, covered, s.cfg.ModelWeight); ok {
			s.modelHits.Inc()
			hits = append(hits, h)
		}
	}
	if len(hits) == 0 {
		return store.EntityUpgrade{}, false
	}
	risk, d := fraud.RaiseRisk(rec.Risk, first, hits, s.cfg.Scorer)
	if d <= first {
		return store.EntityUpgrade{}, false
	}
	reasons := fraud.AppendEntityHitsJSON(nil, hits)
	u := store.EntityUpgrade{TransactionID: rec.TransactionID, EventTime: rec.EventTime, Risk: risk, Decision: d.String(),
		ReasonsJSON: reasons, ProducedAt: rec.ProducedAt}
	if s.cfg.AlertsTopic != "-" {
		payload, _ := json.Marshal(UpgradeAlert{Kind: UpgradeAlertKind, AlertPayload: pipeline.AlertPayload{TransactionID: rec.TransactionID,
			CustomerID: rec.CustomerID, EventTime: rec.EventTime, Amount: event.Cents(rec.AmountCents).Decimal(rec.Currency), Currency: rec.Currency,
			Risk: risk, Decision: d.String(), Reasons: append(append([]byte{'['}, reasons...), ']')}, FirstDecision: first.String(), Step: 2})
		u.Alert = &store.OutboxMsg{Kind: "kafka", Target: s.cfg.AlertsTopic, Key: []byte(rec.CustomerID), Payload: payload, Ref: rec.TransactionID}
	}
	return u, true
}

// write commits b, retrying transient errors with backoff; a fenced
// partition's state is dropped and rebuilt from the store, and it is
// sought back to its stored offset.
func (s *Stage) write(ctx context.Context, cl *kgo.Client, b *store.EntityBatch) error {
	wait := 100 * time.Millisecond
	for {
		if hook := s.cfg.BeforeCommit; hook != nil {
			n := int(s.writes.Add(1))
			b.BeforeCommit = func(ctx context.Context) error { return hook(ctx, n) }
		}
		err := s.st.WriteEntityBatch(ctx, b)
		switch {
		case err == nil, errors.Is(err, store.ErrAlreadyCommitted):
			return nil
		case ctx.Err() != nil:
			return ctx.Err()
		}
		if f, ok := store.IsFenced(err); ok {
			s.log.Warn("repartition partitions fenced: another owner committed them; rebuilding", "partitions", f.Partitions)
			return s.reseek(ctx, cl, f.Partitions)
		}
		if _, ok := store.IsRejected(err); ok {
			return fmt.Errorf("the store refused an entity batch: %w", err)
		}
		s.log.Warn("writing an entity batch failed; retrying", "err", err, "in", wait)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// reseek rebuilds the state of partitions from the store and seeks them
// to their stored offsets.
func (s *Stage) reseek(ctx context.Context, cl *kgo.Client, partitions []int32) error {
	stored, err := s.cfg.Store.Offsets(ctx, s.cfg.Group, s.cfg.Topic)
	if err != nil {
		return err
	}
	set := map[int32]kgo.EpochOffset{}
	for _, p := range partitions {
		ps, err := s.restore(ctx, p)
		if err != nil {
			return err
		}
		off, ok := stored[p]
		if !ok {
			continue
		}
		ps.next = off
		s.mu.Lock()
		if s.parts[p] != nil {
			s.parts[p] = ps
		}
		s.mu.Unlock()
		set[p] = kgo.EpochOffset{Epoch: -1, Offset: off}
	}
	cl.SetOffsets(map[string]map[int32]kgo.EpochOffset{s.cfg.Topic: set})
	return nil
}
