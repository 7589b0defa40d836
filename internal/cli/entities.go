package cli

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"

	"github.com/shopstream/shopstream/internal/bus"
	"github.com/shopstream/shopstream/internal/entitystage"
	"github.com/shopstream/shopstream/internal/fraud"
	"github.com/shopstream/shopstream/internal/store"
)

// entityFlags configure the entity stage (internal/entitystage): the
// repartition of stored transactions by device, card, IP and shipping
// address, and the global counts and rings kept per entity.
type entityFlags struct {
	on        bool
	window    time.Duration
	minRing   int
	maxEvents int
	rules     string
	// model turns the entity forest on in the second step, and its
	// training job; modelWeight is its weight.
	model       bool
	modelWeight float64
	// since, when set, is the earliest event time whose transactions are
	// repartitioned: run sets it to its start less the window, so that
	// its history backfill queues repartition records only for the last
	// window of the history, which the live phase's counts need, and the
	// months before it cost nothing but a comparison (docs/fraud.md).
	since time.Time
}

// register adds the flags; on is --entities' default (off for process,
// for what it costs; on for run, which repartitions only the last window
// of its history: docs/fraud.md).
func (f *entityFlags) register(fs *flag.FlagSet, on bool) {
	fs.BoolVar(&f.on, "entities", on, "run the entity stage: re-key every stored transaction by device, card, IP address and shipping address through the "+
		entitystage.DefaultTopic+" topic (via the outbox), keep each entity's global counts and detect rings of accounts sharing devices or cards (docs/fraud.md)")
	fs.DurationVar(&f.window, "entity-window", 24*time.Hour, "the entity stage's sliding window of event time (counts and rings)")
	fs.IntVar(&f.maxEvents, "entity-max-events", 500_000, "most events (a transaction on an entity) the entity stage holds per partition, about 200 bytes each; beyond, its window shortens until they fit (memory stays bounded)")
	fs.StringVar(&f.rules, "entity-rules", "", "entity rules file (JSON; default: the built-in entity rules, docs/fraud.md): the second step of scoring, which raises the decision of a transaction on a device, card or address shared by many accounts")
	fs.IntVar(&f.minRing, "entity-min-ring", 3, "fewest accounts sharing devices or cards that the entity stage reports as a ring")
	fs.BoolVar(&f.model, "entity-model", false, "add the entity forest to the second step: an isolation forest per kind of entity over the global counts, trained by the leader every 15 minutes on the stored entity events of approved transactions; off by default, as on the synthetic shop it added no recall beyond the entity rules (docs/fraud.md)")
	fs.Float64Var(&f.modelWeight, "entity-model-weight", fraud.DefaultEntityModelWeight, "weight of the entity forest's evidence in the second step (with --entity-model); below --review-at, so that it never raises an order alone")
}

func (f *entityFlags) validate() error {
	switch {
	case f.window < time.Minute:
		return usageError{fmt.Errorf("invalid value %v for flag -entity-window: must be at least 1m", f.window)}
	case f.maxEvents < 1000:
		return usageError{fmt.Errorf("invalid value %d for flag -entity-max-events: must be at least 1000", f.maxEvents)}
	case f.minRing < 2:
		return usageError{fmt.Errorf("invalid value %d for flag -entity-min-ring: must be at least 2", f.minRing)}
	case f.model && !(f.modelWeight > 0 && f.modelWeight < 1):
		return usageError{fmt.Errorf("invalid value %v for flag -entity-model-weight: must be above 0 and below 1", f.modelWeight)}
	}
	return nil
}

// repartition is the processor's hook that queues the repartition
// records; nil when the stage is off.
func (f *entityFlags) repartition() func(*store.Tx, []store.OutboxMsg) []store.OutboxMsg {
	if !f.on {
		return nil
	}
	msgs := entitystage.Messages(entitystage.DefaultTopic)
	if f.since.IsZero() {
		return msgs
	}
	since := f.since
	return func(row *store.Tx, out []store.OutboxMsg) []store.OutboxMsg {
		if row.EventTime.Before(since) {
			return out // older than the window the live phase starts with
		}
		return msgs(row, out)
	}
}

// topics are the outbox topics the stage adds.
func (f *entityFlags) topics() []string {
	if !f.on {
		return nil
	}
	return []string{entitystage.DefaultTopic}
}

// start runs the entity stage in g when it is on; owner is the
// processor's instance id.
func (f *entityFlags) start(ctx context.Context, g *errgroup.Group, d pipelineDeps, owner string, scorer fraud.ScorerConfig) error {
	if !f.on {
		return nil
	}
	rules := fraud.DefaultEntityRules()
	if f.rules != "" {
		b, err := os.ReadFile(f.rules)
		if err != nil {
			return usageError{fmt.Errorf("flag -entity-rules: %w", err)}
		}
		if rules, err = fraud.ParseEntityRules(b); err != nil {
			return usageError{fmt.Errorf("flag -entity-rules: %s: %w", f.rules, err)}
		}
	}
	if _, ok := d.store.(store.Entities); !ok {
		return fmt.Errorf("flag -entities: store %T keeps no entity state", d.store)
	}
	s, err := entitystage.New(entitystage.Config{Brokers: d.brokers, ConnOpts: d.conn, InstanceID: owner + "-entities",
		Store: d.store, Window: f.window, MinRing: f.minRing, MaxEvents: f.maxEvents, Rules: rules, Scorer: scorer, Logger: d.logger, Registerer: d.reg,
		Model: f.model, ModelWeight: f.modelWeight, KafkaOpts: []kgo.Opt{bus.Metrics(d.reg, "entities")}})
	if err != nil {
		return usageError{fmt.Errorf("flags -entity-*: %w", err)}
	}
	if f.model {
		tr, err := entitystage.NewTrainer(d.store, entitystage.TrainConfig{Window: f.window, Logger: d.logger, Registerer: d.reg})
		if err != nil {
			return fmt.Errorf("flag -entity-model: %w", err)
		}
		g.Go(func() error { return tr.Run(ctx) })
	}
	g.Go(func() error { return s.Run(ctx) })
	return nil
}
