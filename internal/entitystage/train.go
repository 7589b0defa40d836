package entitystage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/shopstream/shopstream/internal/fraud"
	"github.com/shopstream/shopstream/internal/store"
)

// TrainConfig configures a Trainer. Every field has a working default.
type TrainConfig struct {
	// Interval is the age of the newest entity forest after which a new
	// one is trained. Defaults to 15 minutes, as the main forest's.
	Interval time.Duration
	// CheckInterval is how often the trainer checks whether training is
	// due. Defaults to 30 s.
	CheckInterval time.Duration
	// MinRows is the fewest entity events a forest is trained on.
	// Defaults to 2,000.
	MinRows int
	// SampleRows is the most entity events read, split evenly among the
	// partitions of the repartition topic. Defaults to 4 ×
	// fraud.ModelSampleLimit (200,000: a transaction has up to four).
	SampleRows int
	// Seed seeds training: version v is grown with Seed + v. Defaults to 1.
	Seed int64
	// Window is the entity stage's window: training waits until the
	// stored entity events of every partition sampled span nine tenths
	// of it. Until the window has filled (the stage's first day, or a
	// backfill), the counts are lower than they will be, and a forest
	// trained on them finds ordinary counts unusual. Defaults to 24
	// hours; negative: no wait.
	Window time.Duration
	// Group and Topic are the entity stage's, whose stored offsets name
	// the partitions to sample. Default to DefaultGroup and DefaultTopic.
	Group, Topic string
	// LeaderName names the leader lock. Defaults to "entity-train".
	LeaderName string
	// Now is the clock. Defaults to time.Now.
	Now func() time.Time
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Registerer, when set, receives the trainer's metrics.
	Registerer prometheus.Registerer
}

func (c TrainConfig) withDefaults() TrainConfig {
	if c.Interval == 0 {
		c.Interval = 15 * time.Minute
	}
	if c.CheckInterval == 0 {
		c.CheckInterval = 30 * time.Second
	}
	if c.MinRows == 0 {
		c.MinRows = 2000
	}
	if c.SampleRows == 0 {
		c.SampleRows = 4 * fraud.ModelSampleLimit
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.Window == 0 {
		c.Window = 24 * time.Hour
	}
	if c.Group == "" {
		c.Group = DefaultGroup
	}
	if c.Topic == "" {
		c.Topic = DefaultTopic
	}
	if c.LeaderName == "" {
		c.LeaderName = "entity-train"
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

func (c TrainConfig) validate() error {
	switch {
	case c.Interval < 0 || c.CheckInterval < 0:
		return errors.New("entity forest training: negative interval")
	case c.MinRows < 2:
		return fmt.Errorf("entity forest training: MinRows %d, need at least 2", c.MinRows)
	case c.SampleRows < c.MinRows:
		return fmt.Errorf("entity forest training: SampleRows %d is below MinRows %d", c.SampleRows, c.MinRows)
	}
	return nil
}

// ErrNotEnoughRows is returned by TrainOnce while the store holds fewer
// entity events of approved transactions than MinRows, or while their
// window has not filled (TrainConfig.Window).
var ErrNotEnoughRows = errors.New("not enough entity events stored yet")

// Trainer is the periodic training job of the entity forest: on the
// instance holding the leader lock, whenever the newest version is older
// than Interval, it trains a forest per kind of entity on the newest
// stored entity events of transactions stored approved
// (store.EntityTraining), never on labels, and stores it as the newest
// version of store.ModelEntityForest, which every entity stage with
// Config.Model puts in force at its next read.
type Trainer struct {
	st interface {
		store.Store
		store.Analytics
		store.EntityTraining
	}
	cfg TrainConfig
	log *slog.Logger

	trainings *prometheus.CounterVec
}

// NewTrainer returns a Trainer over st, which must keep entity events
// and models.
func NewTrainer(st store.Store, cfg TrainConfig) (*Trainer, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	full, ok := st.(interface {
		store.Store
		store.Analytics
		store.EntityTraining
	})
	if !ok {
		return nil, fmt.Errorf("entity forest training: store %T keeps no entity events or models", st)
	}
	reg := cfg.Registerer
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	return &Trainer{st: full, cfg: cfg, log: cfg.Logger.With("component", "entity-train"),
		trainings: promauto.With(reg).NewCounterVec(prometheus.CounterOpts{Name: "shopstream_entity_model_trainings_total",
			Help: "Entity forest trainings, by outcome (ok, error, too_few_rows, window_not_full)."}, []string{"outcome"}),
	}, nil
}

// Run checks every CheckInterval, until ctx ends, whether this instance
// leads and training is due, and trains. Failures are logged and retried
// at the next check.
func (t *Trainer) Run(ctx context.Context) error {
	tick := time.NewTicker(t.cfg.CheckInterval)
	defer tick.Stop()
	for {
		if err := t.Step(ctx); err != nil && ctx.Err() == nil {
			t.log.Error("entity forest job failed; retrying at the next check", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// Step is one check of Run: under the leader lock, train if the newest
// version is older than Interval (or there is none). It returns nil when
// another instance leads or too few events are stored.
func (t *Trainer) Step(ctx context.Context) error {
	release, ok, err := t.st.TryLead(ctx, t.cfg.LeaderName)
	if err != nil || !ok {
		return err
	}
	defer release()
	m, err := t.st.LatestModelVersion(ctx, store.ModelEntityForest)
	if err != nil && !errors.Is(err, store.ErrNoModel) {
		return err
	}
	if m != nil && t.cfg.Now().Sub(m.CreatedAt) < t.cfg.Interval {
		return nil
	}
	if _, err := t.TrainOnce(ctx); err != nil && !errors.Is(err, ErrNotEnoughRows) {
		return err
	}
	return nil
}

// TrainMetrics is the metrics document stored with each version.
type TrainMetrics struct {
	// Rows is the entity events the forests were trained on, by kind.
	Rows         map[string]int `json:"rows"`
	Seed         int64          `json:"seed"`
	TrainedAt    time.Time      `json:"trained_at"`
	TrainSeconds float64        `json:"train_seconds"`
	Sample       string         `json:"sample"`
}

// TrainOnce trains a version now, whatever its schedule, and stores it as
// the newest, the one in force. It returns the new version, or an error
// wrapping ErrNotEnoughRows.
func (t *Trainer) TrainOnce(ctx context.Context) (int, error) {
	fail := func(err error) (int, error) {
		t.trainings.WithLabelValues("error").Inc()
		return 0, err
	}
	now := t.cfg.Now()
	offsets, err := t.st.Offsets(ctx, t.cfg.Group, t.cfg.Topic)
	if err != nil {
		return fail(err)
	}
	parts := make([]int32, 0, len(offsets))
	for p := range offsets {
		parts = append(parts, p)
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i] < parts[j] })
	for _, p := range parts {
		if t.cfg.Window <= 0 {
			break
		}
		first, last, err := t.st.EntityEventSpan(ctx, p)
		if err != nil {
			return fail(err)
		}
		if span := last.Sub(first); span < t.cfg.Window*9/10 {
			t.trainings.WithLabelValues("window_not_full").Inc()
			t.log.Debug("not training the entity forest yet: its window has not filled", "partition", p, "span", span, "window", t.cfg.Window)
			return 0, fmt.Errorf("%w: the entity events of partition %d span %s of the %s window", ErrNotEnoughRows, p, span, t.cfg.Window)
		}
	}
	var samples []fraud.EntitySample
	for _, p := range parts {
		evs, err := t.st.EntityTrainingSample(ctx, p, t.cfg.SampleRows/len(parts))
		if err != nil {
			return fail(err)
		}
		for _, e := range evs {
			samples = append(samples, fraud.EntitySample{Kind: fraud.EntityKind(e.Entity),
				Features: fraud.EntityFeatures{Customers: e.Customers, Transactions: e.Transactions, Cards: e.Cards}})
		}
	}
	if len(samples) < t.cfg.MinRows {
		t.trainings.WithLabelValues("too_few_rows").Inc()
		t.log.Debug("not training the entity forest yet", "events", len(samples), "need", t.cfg.MinRows)
		return 0, fmt.Errorf("%w: %d of %d", ErrNotEnoughRows, len(samples), t.cfg.MinRows)
	}
	latest := 0
	if m, err := t.st.LatestModelVersion(ctx, store.ModelEntityForest); err == nil {
		latest = m.Version
	} else if !errors.Is(err, store.ErrNoModel) {
		return fail(err)
	}
	seed := t.cfg.Seed + int64(latest+1)
	start := time.Now()
	model, err := fraud.TrainEntityModel(samples, seed)
	if err != nil {
		return fail(err)
	}
	took := time.Since(start)
	params, err := model.MarshalBinary()
	if err != nil {
		return fail(err)
	}
	metrics, err := json.Marshal(TrainMetrics{Rows: model.Kinds(), Seed: seed, TrainedAt: now.UTC(),
		TrainSeconds: math.Round(took.Seconds()*1000) / 1000,
		Sample:       "newest stored entity events whose transaction is stored approved"})
	if err != nil {
		return fail(err)
	}
	v, err := t.st.SaveModelVersion(ctx, store.ModelEntityForest, params, metrics)
	if err != nil {
		return fail(err)
	}
	t.trainings.WithLabelValues("ok").Inc()
	t.log.Info("entity forest trained", "version", v, "rows", model.Kinds(), "seconds", took.Seconds())
	return v, nil
}
