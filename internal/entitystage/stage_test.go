package entitystage_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/internal/alert"
	"github.com/shopstream/shopstream/internal/bus"
	"github.com/shopstream/shopstream/internal/entitystage"
	"github.com/shopstream/shopstream/internal/event"
	"github.com/shopstream/shopstream/internal/fraud"
	"github.com/shopstream/shopstream/internal/generate"
	"github.com/shopstream/shopstream/internal/pipeline"
	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/pgtest"
	"github.com/shopstream/shopstream/internal/store/postgres"
	"github.com/shopstream/shopstream/internal/store/sqlite"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

var fastGroup = []kgo.Opt{kgo.SessionTimeout(6 * time.Second), kgo.RebalanceTimeout(6 * time.Second), kgo.HeartbeatInterval(500 * time.Millisecond)}

func stores() map[string]func(t *testing.T) store.Store {
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

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(4 * time.Minute) // the race detector on a loaded host
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// run starts fn in a goroutine and returns its stop, which waits for it.
func run(t *testing.T, fn func(ctx context.Context) error) func() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fn(ctx) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("stopped with %v", err)
		}
	}
	t.Cleanup(stop)
	return stop
}

// truth is the generated rings: their accounts, joined by shared devices,
// cards and shipping addresses.
func truth(t *testing.T, recs []generate.Record) [][]string {
	t.Helper()
	var links []fraud.Link
	var ev event.Transaction
	for _, r := range recs {
		if r.Scenario != generate.FraudRing {
			continue
		}
		if err := event.Decode(r.Value, &ev); err != nil {
			t.Fatal(err)
		}
		links = append(links, fraud.Link{Customer: ev.CustomerID, Entity: "device:" + ev.DeviceID},
			fraud.Link{Customer: ev.CustomerID, Entity: "card:" + fraud.CardKey(ev.Card.BIN, ev.Card.Last4)})
		if a := event.AddressKey(nil, ev.ShippingAddress); a != "" {
			links = append(links, fraud.Link{Customer: ev.CustomerID, Entity: "address:" + a})
		}
	}
	var out [][]string
	for _, r := range fraud.DetectRings(links, 1) {
		out = append(out, r.Members)
	}
	return out
}

// TestRingsAcrossPartitions runs the two stages over kfake and a real
// store: the generator's rings, whose accounts land on different
// partitions of the transactions topic, are found with every member; the
// stage is stopped half-way and restarted, and records are redelivered;
// the stored entity counts then equal a recomputation from the stored
// transactions, each transaction counted once per entity.
func TestRingsAcrossPartitions(t *testing.T) {
	for name, open := range stores() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			b, err := bus.StartEmbedded(bus.EmbeddedConfig{Partitions: 4})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(b.Close)
			brokers := b.Addrs()
			st := open(t)
			ents := st.(store.Entities)

			gen, err := generate.New(generate.Config{Seed: 5, Customers: 1500, FraudRate: 0.04,
				FraudMix: map[string]float64{generate.FraudRing: 0.7, generate.CardTesting: 0.3}})
			if err != nil {
				t.Fatal(err)
			}
			const n = 6000
			recs := make([]generate.Record, n)
			for i := range recs {
				recs[i] = gen.Next()
			}
			rings := truth(t, recs)
			if len(rings) < 5 {
				t.Fatalf("only %d generated rings", len(rings))
			}
			// Each ring spans partitions of the customer-keyed topic.
			spread := 0
			for _, r := range rings {
				parts := map[int32]bool{}
				for _, c := range r {
					parts[int32(kgoPartition(c, 4))] = true
				}
				if len(parts) > 1 {
					spread++
				}
			}
			if spread < len(rings)/2 {
				t.Fatalf("only %d of %d rings span partitions", spread, len(rings))
			}

			prod, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ProducerLinger(0))
			if err != nil {
				t.Fatal(err)
			}
			defer prod.Close()
			if err := bus.EnsureTopics(ctx, prod, entitystage.DefaultTopic); err != nil {
				t.Fatal(err)
			}
			krecs := make([]*kgo.Record, n)
			for i, r := range recs {
				krecs[i] = &kgo.Record{Topic: bus.TopicTransactions, Key: r.Key, Value: r.Value}
			}
			if err := prod.ProduceSync(ctx, krecs...).FirstErr(); err != nil {
				t.Fatal(err)
			}

			proc, err := pipeline.New(pipeline.Config{Brokers: brokers, Store: st, Group: "g", Logger: quiet, MaxBatch: 500,
				KafkaOpts: fastGroup, Repartition: entitystage.Messages("")})
			if err != nil {
				t.Fatal(err)
			}
			stopProc := run(t, proc.Run)
			del, err := alert.New(alert.Config{Store: st, Kafka: prod, Logger: quiet, Interval: 20 * time.Millisecond, Batch: 2000, PruneAfter: -1})
			if err != nil {
				t.Fatal(err)
			}
			stopDel := run(t, del.Run)

			var committed atomic.Int64
			newStage := func(reg prometheus.Registerer) *entitystage.Stage {
				s, err := entitystage.New(entitystage.Config{Brokers: brokers, Store: st, Window: 3650 * 24 * time.Hour, MaxBatch: 700,
					Logger: quiet, KafkaOpts: fastGroup, Registerer: reg,
					OnCommit: func(c entitystage.Commit) { committed.Add(int64(c.Events)) }})
				if err != nil {
					t.Fatal(err)
				}
				return s
			}
			stopStage := run(t, newStage(nil).Run)
			waitFor(t, "a third of the entity events", func() bool { return committed.Load() > n })
			stopStage() // and a new owner restarts from what was stored

			waitFor(t, "every transaction stored", func() bool { return proc.Stats().Stored == n })
			stopProc()
			pend, _, err := st.(store.OutboxBacklog).OutboxBacklog(ctx)
			for err == nil && pend > 0 {
				time.Sleep(20 * time.Millisecond)
				pend, _, err = st.(store.OutboxBacklog).OutboxBacklog(ctx)
			}
			if err != nil {
				t.Fatal(err)
			}
			stopDel()

			// Redeliver 300 repartition records, as an outbox deliverer
			// that died after sending and before marking them would.
			again := readSome(t, brokers, 300)
			if err := prod.ProduceSync(ctx, again...).FirstErr(); err != nil {
				t.Fatal(err)
			}
			reg := prometheus.NewRegistry()
			stopStage2 := run(t, newStage(reg).Run)
			adm := kadm.NewClient(prod)
			waitFor(t, "the entity stage at the end of the repartition topic", func() bool {
				ends, err := adm.ListEndOffsets(ctx, entitystage.DefaultTopic)
				if err != nil {
					return false
				}
				stored, err := st.Offsets(ctx, entitystage.DefaultGroup, entitystage.DefaultTopic)
				if err != nil {
					return false
				}
				caught := true
				ends.Each(func(o kadm.ListedOffset) { caught = caught && (o.Offset == 0 || stored[o.Partition] == o.Offset) })
				return caught
			})
			stopStage2()
			if got := testutil.ToFloat64(mustCounter(t, reg, "shopstream_entity_records_repeated_total")); got < 300 {
				t.Errorf("%v repeats counted, want at least the 300 redelivered", got)
			}

			checkCounts(t, st, ents)
			checkRings(t, ents, rings)
			checkRingAlerts(t, st)
		})
	}
}

// kgoPartition is franz-go's default partitioner (murmur2 of the key).
func kgoPartition(key string, n int) int {
	p := kgo.StickyKeyPartitioner(nil).ForTopic("t")
	return p.Partition(&kgo.Record{Key: []byte(key)}, n)
}

func readSome(t *testing.T, brokers []string, n int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(entitystage.DefaultTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for len(out) < n && ctx.Err() == nil {
		cl.PollRecords(ctx, n-len(out)).EachRecord(func(r *kgo.Record) {
			out = append(out, &kgo.Record{Topic: r.Topic, Key: r.Key, Value: r.Value})
		})
	}
	if len(out) < n {
		t.Fatalf("read %d repartition records, want %d", len(out), n)
	}
	return out
}

func mustCounter(t *testing.T, reg *prometheus.Registry, name string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: "copy"}, func() float64 { return mf.Metric[0].GetCounter().GetValue() })
		}
	}
	t.Fatalf("no metric %s", name)
	return nil
}

type counts struct{ customers, txs, cards int }

// checkCounts compares the stored entity events with a recomputation
// from the stored transactions.
func checkCounts(t *testing.T, st store.Store, ents store.Entities) {
	t.Helper()
	ctx := context.Background()
	type acc struct{ customers, cards, txs map[string]bool }
	want := map[string]*acc{}
	for p := range int32(4) {
		err := st.RecentTransactions(ctx, p, 0, time.Time{}, func(tx *store.Tx) error {
			card := fraud.CardKey(tx.CardBIN, tx.CardLast4)
			for _, k := range fraud.EntityKeys(nil, tx.DeviceID, card, tx.IPAddress, tx.ShippingAddress) {
				a := want[k]
				if a == nil {
					a = &acc{map[string]bool{}, map[string]bool{}, map[string]bool{}}
					want[k] = a
				}
				a.customers[tx.CustomerID], a.txs[tx.TransactionID] = true, true
				if card != "" {
					a.cards[card] = true
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	got := map[string]counts{} // the latest counts stored per entity
	rows := map[string]int{}
	for p := range int32(4) {
		err := ents.EntityEvents(ctx, p, time.Time{}, func(e *store.EntityEvent) error {
			rows[e.Entity]++
			if c := got[e.Entity]; e.Transactions > c.txs {
				got[e.Entity] = counts{e.Customers, e.Transactions, e.Cards}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d entities stored, %d in the stored transactions", len(got), len(want))
	}
	bad := 0
	for k, a := range want {
		w := counts{len(a.customers), len(a.txs), len(a.cards)}
		if fraud.EntityKind(k) == fraud.EntityCard {
			w.cards = 1
		}
		if got[k] != w || rows[k] != w.txs {
			if bad++; bad <= 5 {
				t.Errorf("entity %s: stored %+v in %d rows, recomputed %+v", k, got[k], rows[k], w)
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d entities differ", bad, len(want))
	}
}

// checkRings finds every generated ring among the stored ones, whole.
func checkRings(t *testing.T, ents store.Entities, truth [][]string) {
	t.Helper()
	stored, err := ents.EntityRings(context.Background(), store.RingFilter{Limit: 100_000})
	if err != nil {
		t.Fatal(err)
	}
	in := map[string]store.EntityRing{}
	for _, r := range stored {
		for _, m := range r.Members {
			in[m] = r
		}
	}
	for _, members := range truth {
		r, ok := in[members[0]]
		if !ok {
			t.Errorf("ring %v not detected", members)
			continue
		}
		have := map[string]bool{}
		for _, m := range r.Members {
			have[m] = true
		}
		for _, m := range members {
			if !have[m] {
				t.Errorf("ring %v detected as %q without %s", members, r.Reason, m)
				break
			}
		}
	}
	extra := len(stored) - len(truth)
	t.Logf("%d generated rings, %d stored (e.g. %q); %d stored rings beyond them (accounts joined, over the test's ten-year window, by a household's device or home, a gift to a friend's home or a BIN+last-4 collision)",
		len(truth), len(stored), stored[0].Reason, extra)
}

// checkRingAlerts reads the ring alerts the restarted stage queued (no
// deliverer runs after it): each names a ring of at least three accounts.
func checkRingAlerts(t *testing.T, st store.Store) {
	t.Helper()
	n := 0
	_, _, err := st.DeliverOutbox(context.Background(), 100_000, func(m *store.OutboxMsg) error {
		if m.Target != bus.TopicAlerts || strings.Contains(string(m.Payload), `"kind":"`+entitystage.UpgradeAlertKind+`"`) {
			return errors.New("left for later")
		}
		var a entitystage.RingAlert
		if err := json.Unmarshal(m.Payload, &a); err != nil {
			t.Errorf("ring alert %s: %v", m.Payload, err)
			return nil
		}
		if a.Kind != entitystage.RingAlertKind || a.Accounts < 3 || a.Accounts != len(a.Members) || len(a.Entities) == 0 ||
			string(m.Key) != a.Key || !strings.HasPrefix(a.Reason, fmt.Sprintf("ring of %d accounts sharing ", a.Accounts)) {
			t.Errorf("ring alert %s (key %s)", m.Payload, m.Key)
		}
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Error("the restarted stage queued no ring alert")
	}
}
