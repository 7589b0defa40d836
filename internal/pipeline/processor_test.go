package pipeline_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/internal/bus"
	"github.com/shopstream/shopstream/internal/detector"
	"github.com/shopstream/shopstream/internal/event"
	"github.com/shopstream/shopstream/internal/fraud"
	"github.com/shopstream/shopstream/internal/generate"
	"github.com/shopstream/shopstream/internal/pipeline"
	"github.com/shopstream/shopstream/internal/shopgeo"
	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/pgtest"
	"github.com/shopstream/shopstream/internal/store/postgres"
	"github.com/shopstream/shopstream/internal/store/sqlite"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// produced is what the test wrote to Kafka, to compare with what was stored.
type produced struct {
	good, bad int
	cents     int64
}

// produce writes n records: every 50th is malformed, every 97th repeats the
// previous transaction id; the rest are valid transactions.
func produce(t *testing.T, brokers []string, n, startID int) produced {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(bus.TopicTransactions))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var p produced
	now := time.Now().UTC()
	var recs []*kgo.Record
	var prev []byte
	var prevKey []byte
	for i := range n {
		id := startID + i
		cust := fmt.Sprintf("C%05d", id%37)
		switch {
		case i%50 == 49:
			recs = append(recs, &kgo.Record{Key: []byte(cust), Value: []byte(`{"transaction_id": "x", "items": [`)})
			p.bad++
			continue
		case i%97 == 96 && prev != nil:
			recs = append(recs, &kgo.Record{Key: prevKey, Value: prev})
			p.bad++
			continue
		}
		cents := event.Cents(100 + id%5000)
		tx := event.Transaction{SchemaVersion: 1, TransactionID: fmt.Sprintf("T%08d", id), CustomerID: cust,
			EventTime:  now.Add(-time.Duration(n-i) * time.Second),
			Items:      []event.Item{{ProductID: "P1", Category: "books", Quantity: 1, UnitPriceCents: cents}},
			TotalCents: cents, Currency: "EUR", PaymentMethod: "card", Card: event.Card{BIN: "411111", Last4: "0001"},
			DeviceID: "D1", IPAddress: "10.1.2.3", BillingCountry: "DE", ShippingCountry: "DE", Channel: "web"}
		b, err := event.Marshal(&tx)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, &kgo.Record{Key: []byte(cust), Value: b})
		prev, prevKey = b, []byte(cust)
		p.good++
		p.cents += int64(cents)
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	return p
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func startProcessor(t *testing.T, brokers []string, st store.Store, group string, m *pipeline.Metrics) (*pipeline.Processor, func()) {
	t.Helper()
	return startProcessorWith(t, pipeline.Config{Brokers: brokers, Store: st, Group: group, Metrics: m})
}

// startProcessorWith is startProcessor of cfg, with the tests' logger,
// batch and group timings where cfg has none.
func startProcessorWith(t *testing.T, cfg pipeline.Config) (*pipeline.Processor, func()) {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quiet
	}
	if cfg.MaxBatch == 0 {
		cfg.MaxBatch = 300
	}
	if cfg.KafkaOpts == nil {
		cfg.KafkaOpts = []kgo.Opt{kgo.SessionTimeout(6 * time.Second), kgo.RebalanceTimeout(6 * time.Second), kgo.HeartbeatInterval(500 * time.Millisecond)}
	}
	p, err := pipeline.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("processor: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return p, stop
}

func checkTotals(t *testing.T, st store.Store, want produced) {
	t.Helper()
	sum, err := st.Summary(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if sum.TransactionsTotal != int64(want.good) || sum.RevenueCents != want.cents || sum.QuarantinedTotal != int64(want.bad) {
		t.Fatalf("stored %d transactions, %d cents, %d quarantined; want %d, %d, %d",
			sum.TransactionsTotal, sum.RevenueCents, sum.QuarantinedTotal, want.good, want.cents, want.bad)
	}
}

func stores(t *testing.T) map[string]func(t *testing.T) store.Store {
	return map[string]func(t *testing.T) store.Store{
		"sqlite": func(t *testing.T) store.Store {
			s, err := sqlite.Open(context.Background(), t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		},
		"postgres": func(t *testing.T) store.Store {
			s, err := postgres.Open(context.Background(), pgtest.URL(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		},
	}
}

func embedded(t *testing.T) []string {
	t.Helper()
	b, err := bus.StartEmbedded(bus.EmbeddedConfig{Partitions: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b.Addrs()
}

// TestExactlyOnceAcrossRestarts stores every record once, quarantines the
// bad ones with their reason, and resumes from the stored offsets after a
// restart without storing anything twice.
func TestExactlyOnceAcrossRestarts(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			brokers := embedded(t)
			st := open(t)
			m := pipeline.NewMetrics(prometheus.NewRegistry())
			want := produce(t, brokers, 3000, 0)
			p, stop := startProcessor(t, brokers, st, "g1", m)
			waitFor(t, "first 3000 records", func() bool { s := p.Stats(); return s.Stored+s.Quarantined == 3000 })
			stop()
			checkTotals(t, st, want)
			if got := testutil.ToFloat64(m.Records.WithLabelValues("stored")); got != float64(want.good) {
				t.Fatalf("shopstream_records_total{outcome=stored} = %v, want %d", got, want.good)
			}

			more := produce(t, brokers, 2000, 3000)
			want.good += more.good
			want.bad += more.bad
			want.cents += more.cents
			p2, stop2 := startProcessor(t, brokers, st, "g1", nil)
			waitFor(t, "the next 2000 records", func() bool { s := p2.Stats(); return s.Stored+s.Quarantined >= 2000 })
			// Give a wrongly re-read batch the chance to show up.
			time.Sleep(300 * time.Millisecond)
			stop2()
			if s := p2.Stats(); s.Stored+s.Quarantined != 2000 {
				t.Fatalf("restarted processor committed %d records, want exactly the 2000 new ones", s.Stored+s.Quarantined)
			}
			checkTotals(t, st, want)
		})
	}
}

// TestGeneratedTransactions runs the pipeline in process, with fraud
// scoring, over a fixed number of the generator's transactions (labelled
// in headers, with bad records), and checks every one is stored exactly
// once with the right totals, on both stores.
func TestGeneratedTransactions(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			brokers := embedded(t)
			st := open(t)
			g, err := generate.New(generate.Config{Seed: 11, Customers: 20_000, BadRate: 0.02, FraudRate: 0.02})
			if err != nil {
				t.Fatal(err)
			}
			cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(bus.TopicTransactions))
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			const n = 5000
			var want produced
			start := time.Now().Add(-10 * time.Minute)
			for i := range n {
				r := g.NextAt(start.Add(time.Duration(i) * 100 * time.Millisecond))
				rec := &kgo.Record{Key: r.Key, Value: r.Value}
				for _, h := range r.Headers() {
					rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: h.Key, Value: h.Value})
				}
				if r.Bad != "" {
					want.bad++
				} else {
					want.good++
					want.cents += int64(r.AmountCents)
				}
				if err := cl.ProduceSync(context.Background(), rec).FirstErr(); err != nil {
					t.Fatal(err)
				}
			}
			det, err := detector.New(detector.Config{State: shopgeo.Lookups(fraud.StateConfig{}), Logger: quiet})
			if err != nil {
				t.Fatal(err)
			}
			p, err := pipeline.New(pipeline.Config{Brokers: brokers, Store: st, Logger: quiet, MaxBatch: 500, NewScorer: func(part int32) pipeline.Scorer { return det.NewPartitionScorer(part) }})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- p.Run(ctx) }()
			waitFor(t, "every generated record", func() bool { s := p.Stats(); return s.Stored+s.Quarantined == n })
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			checkTotals(t, st, want)
			sum, _ := st.Summary(context.Background())
			if sum.FraudAlertsTotal == 0 {
				t.Fatalf("no fraud alerts among %d transactions with 2%% fraud", want.good)
			}
		})
	}
}
