package entitystage_test

import (
	"context"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/internal/alert"
	"github.com/shopstream/shopstream/internal/bus"
	"github.com/shopstream/shopstream/internal/entitystage"
	"github.com/shopstream/shopstream/internal/event"
	"github.com/shopstream/shopstream/internal/fraud"
	"github.com/shopstream/shopstream/internal/generate"
	"github.com/shopstream/shopstream/internal/pipeline"
	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/sqlite"
)

// BenchmarkTwoStage measures what the entity stage costs, side by side in
// one invocation: the same 5,000 generated transactions produced at
// 500/s through kfake into a processor on SQLite, without and with the
// entity stage (repartition records through the outbox, the second
// consumer group, its store transactions). Reported: CPU of the whole
// process (broker, processor, deliverer, stage, SQLite) per transaction,
// and the latency from produce to the processor's commit and to the
// entity stage's commit, p50 and p99.
//
//	go test ./internal/entitystage -run '^$' -bench TwoStage -benchtime 1x -count 3
//
// entities=on-norules runs the stage without entity rules (counts and
// rings only), so the second step's cost (entities=on) shows apart;
// entities=on-forest adds the entity forest (trained beforehand on
// another stream of the generator) to the default entity rules;
// upgrade-p50/p99-ms are from produce to the commit of a raised decision
// and its alert.
func BenchmarkTwoStage(b *testing.B) {
	for _, v := range twoStageVariants(b) {
		b.Run(v.name, func(b *testing.B) {
			for range b.N {
				twoStage(b, v, 5_000, 500)
			}
		})
	}
}

// BenchmarkTwoStageBacklog is BenchmarkTwoStage's throughput shape:
// 20,000 transactions produced at once, then consumed as fast as the
// stages go; its CPU per transaction is the cost of the work itself.
//
//	go test ./internal/entitystage -run '^$' -bench TwoStageBacklog -benchtime 1x -count 3
func BenchmarkTwoStageBacklog(b *testing.B) {
	for _, v := range twoStageVariants(b) {
		b.Run(v.name, func(b *testing.B) {
			for range b.N {
				twoStage(b, v, 20_000, 0)
			}
		})
	}
}

type twoStageVariant struct {
	name   string
	on     bool
	rules  *fraud.EntityRuleSet
	forest bool
}

// twoStageVariants are the stage off, on without entity rules (counts
// and rings only), on with the default entity rules, and on with them and
// the entity forest.
func twoStageVariants(b *testing.B) []twoStageVariant {
	none, err := fraud.NewEntityRuleSet(nil)
	if err != nil {
		b.Fatal(err)
	}
	return []twoStageVariant{{"entities=off", false, nil, false}, {"entities=on-norules", true, none, false}, {"entities=on", true, nil, false},
		{"entities=on-forest", true, nil, true}}
}

// benchEntityForest trains the entity forest on the entity events of
// 20,000 records of another seed of the generator's shop, as the
// training job would on the stored ones (every transaction, for the
// first step's decisions are not computed here).
func benchEntityForest(b *testing.B) *fraud.EntityModel {
	gen, err := generate.New(generate.Config{Seed: 10, Customers: 20_000, FraudRate: 0.02})
	if err != nil {
		b.Fatal(err)
	}
	es := fraud.NewEntityState(24 * time.Hour)
	var samples []fraud.EntitySample
	var ev event.Transaction
	for range 20_000 {
		r := gen.Next()
		if r.Fraud || event.Decode(r.Value, &ev) != nil {
			continue
		}
		card := fraud.CardKey(ev.Card.BIN, ev.Card.Last4)
		for _, k := range fraud.EntityKeys(nil, ev.DeviceID, card, ev.IPAddress, event.AddressKey(nil, ev.ShippingAddress)) {
			f, _ := es.Add(fraud.EntityEvent{Entity: k, TransactionID: ev.TransactionID, CustomerID: ev.CustomerID, Card: card, At: ev.EventTime})
			samples = append(samples, fraud.EntitySample{Kind: fraud.EntityKind(k), Features: f})
		}
	}
	m, err := fraud.TrainEntityModel(samples, 1)
	if err != nil {
		b.Fatal(err)
	}
	return m
}

func cpuNow() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func quantile(d []time.Duration, q float64) float64 {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return float64(d[min(len(d)-1, int(q*float64(len(d))))].Microseconds()) / 1000
}

func twoStage(b *testing.B, v twoStageVariant, n, rate int) {
	b.StopTimer()
	on, rules := v.on, v.rules
	ctx := context.Background()
	br, err := bus.StartEmbedded(bus.EmbeddedConfig{Partitions: 4})
	if err != nil {
		b.Fatal(err)
	}
	defer br.Close()
	brokers := br.Addrs()
	st, err := sqlite.Open(ctx, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	gen, err := generate.New(generate.Config{Seed: 9, Customers: 20_000, FraudRate: 0.02,
		FraudMix: map[string]float64{generate.FraudRing: 0.3, generate.CardTesting: 0.7}})
	if err != nil {
		b.Fatal(err)
	}
	prod, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ProducerLinger(0))
	if err != nil {
		b.Fatal(err)
	}
	defer prod.Close()
	if err := bus.EnsureTopics(ctx, prod, entitystage.DefaultTopic); err != nil {
		b.Fatal(err)
	}
	var mu sync.Mutex
	var stored, entity, upgrades []time.Duration
	var storedN, entityEvents int
	cfg := pipeline.Config{Brokers: brokers, Store: st, Group: "g", Logger: quiet, KafkaOpts: fastGroup,
		OnCommit: func(bt *store.Batch, at time.Time) {
			mu.Lock()
			defer mu.Unlock()
			for _, p := range bt.Parts {
				for _, t := range p.Txs {
					stored = append(stored, at.Sub(t.ProducedAt))
				}
				storedN += len(p.Txs)
			}
		}}
	if on {
		cfg.Repartition = entitystage.Messages("")
	}
	proc, err := pipeline.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	start := func(fn func(context.Context) error) {
		wg.Add(1)
		go func() { defer wg.Done(); _ = fn(runCtx) }()
	}
	start(proc.Run)
	del, err := alert.New(alert.Config{Store: st, Kafka: prod, Logger: quiet, Interval: 5 * time.Millisecond, Batch: 5000, PruneAfter: -1})
	if err != nil {
		b.Fatal(err)
	}
	start(del.Run)
	if on {
		stage, err := entitystage.New(entitystage.Config{Brokers: brokers, Store: st, Logger: quiet, KafkaOpts: fastGroup, Rules: rules,
			Window: 365 * 24 * time.Hour, // a backlog reaches the stage out of event-time order
			OnCommit: func(c entitystage.Commit) {
				mu.Lock()
				defer mu.Unlock()
				for _, p := range c.Produced {
					entity = append(entity, c.At.Sub(p))
				}
				for _, u := range c.Upgrades {
					upgrades = append(upgrades, c.At.Sub(u.ProducedAt))
				}
				entityEvents += c.Events
			}})
		if err != nil {
			b.Fatal(err)
		}
		if v.forest {
			stage.SetModel(&entitystage.EntityForest{Version: 1, Model: benchEntityForest(b)})
		}
		start(stage.Run)
	}
	// Warm up: the groups join and the first records go through.
	warm := 200
	for range warm {
		r := gen.Next()
		prod.Produce(ctx, &kgo.Record{Topic: bus.TopicTransactions, Key: r.Key, Value: r.Value}, nil)
	}
	waitUntil(b, func() bool { mu.Lock(); defer mu.Unlock(); return storedN >= warm && (!on || entityEvents > 0) })
	mu.Lock()
	stored, entity, upgrades = stored[:0], entity[:0], upgrades[:0]
	events0 := entityEvents
	mu.Unlock()
	recs := make([]generate.Record, n)
	want := 0 // entity events to come: every transaction's device, card, IP and shipping address
	var ev event.Transaction
	for i := range recs {
		recs[i] = gen.Next()
		if err := event.Decode(recs[i].Value, &ev); err != nil {
			b.Fatal(err)
		}
		want += len(fraud.EntityKeys(nil, ev.DeviceID, fraud.CardKey(ev.Card.BIN, ev.Card.Last4), ev.IPAddress, event.AddressKey(nil, ev.ShippingAddress)))
	}
	cpu0, wall0 := cpuNow(), time.Now()
	b.StartTimer()
	tick := time.Duration(0)
	if rate > 0 {
		tick = time.Second / time.Duration(rate)
	}
	next := time.Now()
	for _, r := range recs {
		if d := time.Until(next); rate > 0 && d > 0 {
			time.Sleep(d)
		}
		next = next.Add(tick)
		prod.Produce(ctx, &kgo.Record{Topic: bus.TopicTransactions, Key: r.Key, Value: r.Value}, nil)
	}
	waitUntil(b, func() bool { mu.Lock(); defer mu.Unlock(); return storedN >= warm+n })
	if on { // every repartition record committed by the stage
		waitUntil(b, func() bool { mu.Lock(); defer mu.Unlock(); return entityEvents >= events0+want })
	}
	b.StopTimer()
	cpu, wall := cpuNow()-cpu0, time.Since(wall0)
	mu.Lock()
	defer mu.Unlock()
	b.ReportMetric(float64(cpu.Microseconds())/float64(n), "cpu-µs/tx")
	b.ReportMetric(wall.Seconds(), "wall-s")
	b.ReportMetric(quantile(stored, 0.5), "commit-p50-ms")
	b.ReportMetric(quantile(stored, 0.99), "commit-p99-ms")
	if on {
		b.ReportMetric(quantile(entity, 0.5), "entity-p50-ms")
		b.ReportMetric(quantile(entity, 0.99), "entity-p99-ms")
		b.ReportMetric(float64(len(upgrades)), "upgrades")
		if len(upgrades) > 0 {
			b.ReportMetric(quantile(upgrades, 0.5), "upgrade-p50-ms")
			b.ReportMetric(quantile(upgrades, 0.99), "upgrade-p99-ms")
		}
	}
}

func waitUntil(b *testing.B, cond func() bool) {
	deadline := time.Now().Add(3 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			b.Fatal("timed out")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
