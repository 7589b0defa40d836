package entitystage_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/internal/bus"
	"github.com/shopstream/shopstream/internal/entitystage"
	"github.com/shopstream/shopstream/internal/fraud"
	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/storetest"
)

// TestEntityForestInTheSecondStep: the leader job trains the entity
// forest on the stored entity events of approved transactions, the stage
// puts each new version in force as it is stored, and a transaction on a
// device whose counts the forest finds unusual (accounts and cards far
// beyond the ordinary traffic's) has its approval raised to review, its
// reason naming the device and its counts, when its first step's risk
// was near the review threshold; the same risk on ordinary entities, and
// the odd device with a first-step risk of 0, stay approved (the forest
// alone never raises an order). The entity rules are off, so the forest
// is the only second-step evidence. SQLite and PostgreSQL, over kfake.
func TestEntityForestInTheSecondStep(t *testing.T) {
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
			prod, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ProducerLinger(0))
			if err != nil {
				t.Fatal(err)
			}
			defer prod.Close()
			if err := bus.EnsureTopics(ctx, prod, entitystage.DefaultTopic); err != nil {
				t.Fatal(err)
			}

			start := time.Date(2026, 5, 4, 8, 0, 0, 0, time.UTC)
			var offset int64
			// send stores txs as the processor would, then produces their
			// repartition records.
			send := func(txs []store.Tx) {
				t.Helper()
				for i := range txs {
					txs[i].Offset = offset
					offset++
				}
				p := store.Part{Partition: 0, From: txs[0].Offset, To: offset, Txs: txs}
				if err := st.WriteBatch(ctx, &store.Batch{Group: "g", Topic: bus.TopicTransactions, Parts: []store.Part{p}}); err != nil {
					t.Fatal(err)
				}
				var msgs []store.OutboxMsg
				for i := range txs {
					msgs = entitystage.Messages("")(&txs[i], msgs)
				}
				recs := make([]*kgo.Record, len(msgs))
				for i, m := range msgs {
					recs[i] = &kgo.Record{Topic: m.Target, Key: m.Key, Value: m.Payload}
				}
				if err := prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
					t.Fatal(err)
				}
			}
			tx := func(id, customer, device, card string, ip string, at time.Time, risk float64) store.Tx {
				x := storetest.Tx(id, customer, at, 2500, 0, 0)
				x.DeviceID, x.CardBIN, x.CardLast4, x.IPAddress, x.ShippingAddress = device, "411111", card, ip, "home-"+customer
				x.Risk = risk
				return x
			}
			// Ordinary traffic: 300 customers ordering once to four times,
			// on their own device and card (a household's two accounts
			// share a tablet; some customers have a second card), twenty
			// of them behind each network address.
			var ordinary []store.Tx
			for c := range 300 {
				orders := 1 + c%2 + (c%7)/6*2
				for k := range orders {
					dev := fmt.Sprintf("dev-%d", c)
					if c%10 == 1 {
						dev = fmt.Sprintf("dev-%d", c-1)
					}
					card := fmt.Sprintf("%04d", c)
					if c%11 == 0 && k > 0 {
						card = fmt.Sprintf("5%03d", c)
					}
					ordinary = append(ordinary, tx(fmt.Sprintf("o%03d-%d", c, k), fmt.Sprintf("c%03d", c), dev, card, fmt.Sprintf("10.0.0.%d", c/20),
						start.Add(time.Duration(c)*2*time.Minute+time.Duration(k)*time.Second), 0.05))
				}
			}
			send(ordinary)

			var upgrades atomic.Int64
			stage, err := entitystage.New(entitystage.Config{Brokers: brokers, Store: st, MaxBatch: 200, Logger: quiet, KafkaOpts: fastGroup,
				Rules: mustEntityRules(t), Model: true, ModelPoll: 20 * time.Millisecond,
				OnCommit: func(c entitystage.Commit) { upgrades.Add(int64(len(c.Upgrades))) }})
			if err != nil {
				t.Fatal(err)
			}
			stop := run(t, stage.Run)
			caughtUp(t, prod, st)
			if stage.Model() != nil || upgrades.Load() != 0 {
				t.Fatalf("before training: model %+v, %d upgrades", stage.Model(), upgrades.Load())
			}

			// The job: not while the events span less than the window
			// (10 hours of the default 24), nor on too few events for a
			// high bar; then it trains, and not again until the interval
			// has passed.
			now := time.Now()
			clock := func() time.Time { return now }
			if _, err := newTrainer(t, st, 1000, 0, clock).TrainOnce(ctx); !errors.Is(err, entitystage.ErrNotEnoughRows) ||
				!strings.Contains(err.Error(), "window") {
				t.Fatalf("trained on events spanning 10 hours of a 24-hour window: %v", err)
			}
			if _, err := newTrainer(t, st, 5000, 10*time.Hour, clock).TrainOnce(ctx); !errors.Is(err, entitystage.ErrNotEnoughRows) {
				t.Fatalf("trained on %d events with MinRows 5000: %v", 4*len(ordinary), err)
			}
			tr := newTrainer(t, st, 1000, 10*time.Hour, clock)
			for range 2 {
				if err := tr.Step(ctx); err != nil {
					t.Fatal(err)
				}
			}
			m, err := st.(store.Analytics).LatestModelVersion(ctx, store.ModelEntityForest)
			if err != nil || m.Version != 1 {
				t.Fatalf("after two steps: %+v, %v; want version 1", m, err)
			}
			var metrics entitystage.TrainMetrics
			if err := json.Unmarshal(m.Metrics, &metrics); err != nil {
				t.Fatal(err)
			}
			// Every approved transaction on a device, a card, a network
			// address and a shipping address.
			for _, k := range fraud.EntityKinds {
				if metrics.Rows[k] != len(ordinary) {
					t.Fatalf("trained on %v, want %d events of each kind", metrics.Rows, len(ordinary))
				}
			}
			waitFor(t, "the stage to put version 1 in force", func() bool { return stage.Model() != nil && stage.Model().Version == 1 })
			now = now.Add(16 * time.Minute)
			if err := tr.Step(ctx); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the stage to put version 2 in force", func() bool { return stage.Model() != nil && stage.Model().Version == 2 })
			for _, f := range []fraud.EntityFeatures{{Customers: 1, Transactions: 2, Cards: 1}, {Customers: 3, Transactions: 6, Cards: 6}, {Customers: 5, Transactions: 10, Cards: 10}} {
				t.Logf("device %+v: evidence %.3f", f, stage.Model().Model.Score(fraud.EntityDevice, f))
			}

			// Five new accounts order twice each, a new card every time,
			// from one device, their first step's risk just under review;
			// five new customers with the same risk on entities of their
			// own; a sixth account on the device with a risk of 0.
			var odd, control []store.Tx
			at := start.Add(11 * time.Hour)
			for i := range 10 {
				odd = append(odd, tx(fmt.Sprintf("r%02d", i), fmt.Sprintf("ring-%d", i/2), "odd-device", fmt.Sprintf("9%03d", i),
					fmt.Sprintf("10.9.0.%d", i), at.Add(time.Duration(i)*time.Minute), 0.38))
				if i < 5 {
					control = append(control, tx(fmt.Sprintf("k%02d", i), fmt.Sprintf("new-%d", i), fmt.Sprintf("new-dev-%d", i), fmt.Sprintf("8%03d", i),
						fmt.Sprintf("10.8.0.%d", i), at.Add(time.Duration(i)*time.Minute+time.Second), 0.38))
				}
			}
			zero := tx("z00", "ring-9", "odd-device", "7000", "10.7.0.1", at.Add(20*time.Minute), 0)
			zero.Risk, zero.Decision = 0, "approve"
			send(append(append(odd, control...), zero))
			caughtUp(t, prod, st)
			stop()

			after := storedTxs(t, st)
			raised := 0
			for _, x := range odd {
				got := after[x.TransactionID]
				if got.Decision == "approve" {
					continue
				}
				raised++
				ad, err := st.(store.Fraud).AlertDetail(ctx, x.TransactionID)
				if err != nil {
					t.Fatalf("raised order %s has no alert: %v", x.TransactionID, err)
				}
				want := "device odd-device: counts unusual for a device (forest score "
				if got.Decision != "review" || !strings.Contains(string(ad.Alert.ReasonsJSON), want) ||
					!strings.Contains(string(ad.Alert.ReasonsJSON), `"rule":"entity_forest"`) || !strings.Contains(string(ad.Alert.ReasonsJSON), `"step":2`) {
					t.Errorf("order %s: %s, alert reasons %s", x.TransactionID, got.Decision, ad.Alert.ReasonsJSON)
				}
			}
			// The last orders, of the fourth and fifth accounts with 7 to
			// 10 cards on the device, at least.
			for _, x := range odd[6:] {
				if after[x.TransactionID].Decision != "review" {
					t.Errorf("order %s on the odd device: %s, want review", x.TransactionID, after[x.TransactionID].Decision)
				}
			}
			for _, x := range append(control, zero) {
				if d := after[x.TransactionID].Decision; d != "approve" {
					t.Errorf("order %s (risk %.2f, its own entities or risk 0): %s, want approve", x.TransactionID, x.Risk, d)
				}
			}
			if int64(raised) != upgrades.Load() {
				t.Errorf("%d orders raised, %d upgrades committed", raised, upgrades.Load())
			}
			t.Logf("%d of the odd device's 10 orders raised by the entity forest", raised)
			storetest.CheckRollupsMatchLabels(t, st)
		})
	}
}

func mustEntityRules(t *testing.T) *fraud.EntityRuleSet {
	t.Helper()
	rs, err := fraud.NewEntityRuleSet(nil)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func newTrainer(t *testing.T, st store.Store, minRows int, window time.Duration, now func() time.Time) *entitystage.Trainer {
	t.Helper()
	tr, err := entitystage.NewTrainer(st, entitystage.TrainConfig{MinRows: minRows, Window: window, Now: now, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// caughtUp waits until the stage's stored offsets reach the end of the
// repartition topic.
func caughtUp(t *testing.T, cl *kgo.Client, st store.Store) {
	t.Helper()
	adm := kadm.NewClient(cl)
	waitFor(t, "the entity stage at the end of the repartition topic", func() bool {
		ends, err := adm.ListEndOffsets(context.Background(), entitystage.DefaultTopic)
		if err != nil {
			return false
		}
		stored, err := st.Offsets(context.Background(), entitystage.DefaultGroup, entitystage.DefaultTopic)
		if err != nil {
			return false
		}
		caught := true
		ends.Each(func(o kadm.ListedOffset) { caught = caught && (o.Offset == 0 || stored[o.Partition] == o.Offset) })
		return caught
	})
}
