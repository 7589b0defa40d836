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

	"github.com/shopstream/shopstream/internal/alert"
	"github.com/shopstream/shopstream/internal/bus"
	"github.com/shopstream/shopstream/internal/entitystage"
	"github.com/shopstream/shopstream/internal/event"
	"github.com/shopstream/shopstream/internal/generate"
	"github.com/shopstream/shopstream/internal/pipeline"
	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/storetest"
)

const (
	ringDevice      = "ring-device-1"
	householdDevice = "household-tablet-1"
)

// sharing is what the ring's accounts share in TestSecondStepAcrossPartitions.
type sharing struct {
	kind string // "device" or "address"
	rule string
}

// The ring's drop as its accounts type it, and the household's home: one
// address each, spelt differently from order to order.
var (
	ringAddress      = []string{"Flat 2, 14 Mill Lane, Otley 40213", "FLAT 2, 14 MILL LANE, OTLEY 40213", "flat 2 14 mill lane otley 40213", "Flat  2,  14  Mill  Lane,  Otley  40213."}
	householdAddress = []string{"7 St John's Close, Ayr 10442", "7 St Johns Close; Ayr 10442"}
)

// entities are the ring's and the household's entity keys.
func (s sharing) entities() (ring, household string) {
	if s.kind == "address" {
		return "address:" + event.AddressKey(nil, ringAddress[0]), "address:" + event.AddressKey(nil, householdAddress[0])
	}
	return "device:" + ringDevice, "device:" + householdDevice
}

// label is how an entity rule's reason names the ring's entity.
func (s sharing) label() string {
	if s.kind == "address" {
		return "shipping address " + event.AddressKey(nil, ringAddress[0])
	}
	return "device " + ringDevice
}

// TestSecondStepAcrossPartitions: five accounts on different partitions
// of the transactions topic order from one device, two others (a
// household) from another; and again with one shipping address, spelt
// four ways, for the five and another for the two, each order on its own
// device. The processor approves them, not seeing the
// sharing; the entity stage raises to review the orders of the third
// account on the device and later, each once, with an alert row and an
// alert queued naming the rule and the device, through a restart of the
// stage and records delivered again; the household's orders stay as
// they were; and the detection-quality rollups equal a recomputation
// from the stored transactions and labels.
func TestSecondStepAcrossPartitions(t *testing.T) {
	for name, open := range stores() {
		for _, v := range []sharing{{"device", "device_shared_accounts"}, {"address", "address_shared_accounts"}} {
			t.Run(name+"/"+v.kind, func(t *testing.T) {
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

				gen, err := generate.New(generate.Config{Seed: 9, Customers: 400, FraudRate: 0.0001})
				if err != nil {
					t.Fatal(err)
				}
				const n = 800
				values := make([][]byte, n)
				keys := make([]string, n)
				ring, household := map[string]bool{}, map[string]bool{}
				ringCustomers, ringParts := map[string]bool{}, map[int]bool{}
				householdCustomers := map[string]bool{}
				var ev event.Transaction
				for i := range values {
					r := gen.Next()
					values[i], keys[i] = r.Value, string(r.Key)
					if r.Fraud || i < 100 || event.Decode(r.Value, &ev) != nil {
						continue
					}
					c := ev.CustomerID
					switch {
					case len(ringCustomers) < 5 && !ringCustomers[c] && !householdCustomers[c] && (len(ringCustomers) == 4 || !ringParts[kgoPartition(c, 4)]):
						ringCustomers[c], ringParts[kgoPartition(c, 4)] = true, true
						if v.kind == "address" {
							ev.ShippingAddress = ringAddress[len(ring)%len(ringAddress)]
						} else {
							ev.DeviceID = ringDevice
						}
						ring[ev.TransactionID] = true
					case i > 300 && len(householdCustomers) < 2 && !ringCustomers[c] && !householdCustomers[c]:
						householdCustomers[c] = true
						if v.kind == "address" {
							ev.ShippingAddress = householdAddress[len(household)%len(householdAddress)]
						} else {
							ev.DeviceID = householdDevice
						}
						household[ev.TransactionID] = true
					default:
						continue
					}
					if values[i], err = json.Marshal(&ev); err != nil {
						t.Fatal(err)
					}
				}
				if len(ring) != 5 || len(household) != 2 || len(ringParts) < 3 {
					t.Fatalf("%d ring orders over %d partitions, %d household orders", len(ring), len(ringParts), len(household))
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
				for i := range values {
					krecs[i] = &kgo.Record{Topic: bus.TopicTransactions, Key: []byte(keys[i]), Value: values[i]}
				}
				if err := prod.ProduceSync(ctx, krecs...).FirstErr(); err != nil {
					t.Fatal(err)
				}
				proc, err := pipeline.New(pipeline.Config{Brokers: brokers, Store: st, Group: "g", Logger: quiet, MaxBatch: 200,
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
				waitFor(t, "every transaction stored", func() bool { return proc.Stats().Stored == n })
				stopProc()
				drainOutbox(t, st)
				stopDel()
				first := storedTxs(t, st)
				for id := range ring {
					if d := first[id].Decision; d != "approve" {
						t.Fatalf("the processor decided %s on ring order %s: the test wants approvals", d, id)
					}
				}
				storetest.CheckRollupsMatchLabels(t, st)

				var events, upgraded atomic.Int64
				newStage := func() *entitystage.Stage {
					s, err := entitystage.New(entitystage.Config{Brokers: brokers, Store: st, Window: 3650 * 24 * time.Hour, MaxBatch: 100,
						Logger: quiet, KafkaOpts: fastGroup,
						OnCommit: func(c entitystage.Commit) { events.Add(int64(c.Events)); upgraded.Add(int64(len(c.Upgrades))) }})
					if err != nil {
						t.Fatal(err)
					}
					return s
				}
				stopStage := run(t, newStage().Run)
				waitFor(t, "a third of the entity events", func() bool { return events.Load() > n })
				stopStage() // and a new owner restarts from what was stored
				// Every repartition record again, as a deliverer that died
				// after sending and before marking them would.
				again := readSome(t, brokers, 2*n)
				if err := prod.ProduceSync(ctx, again...).FirstErr(); err != nil {
					t.Fatal(err)
				}
				stopStage2 := run(t, newStage().Run)
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

				// Which ring orders came third or later on the device or address.
				shared := map[string]int{}
				for p := range int32(4) {
					err := ents.EntityEvents(ctx, p, time.Time{}, func(e *store.EntityEvent) error {
						if ringEntity, householdEntity := v.entities(); e.Entity == ringEntity || e.Entity == householdEntity {
							shared[e.TransactionID] = e.Customers
						}
						return nil
					})
					if err != nil {
						t.Fatal(err)
					}
				}
				if len(shared) != 7 {
					t.Fatalf("%d events stored on the ring's and the household's %s, want 7", len(shared), v.kind)
				}
				queued := queuedUpgrades(t, st)
				after := storedTxs(t, st)
				flagged := 0
				for id := range ring {
					ad, err := st.(store.Fraud).AlertDetail(ctx, id)
					if shared[id] < 3 {
						if err == nil && strings.Contains(string(ad.Alert.ReasonsJSON), v.rule) {
							t.Errorf("ring order %s, the device's account %d, flagged: %s", id, shared[id], ad.Alert.ReasonsJSON)
						}
						continue
					}
					flagged++
					if err != nil {
						t.Errorf("ring order %s (account %d on the device): no alert: %v", id, shared[id], err)
						continue
					}
					want := fmt.Sprintf(`"reason":"%s used by %d accounts in 87600 h:`, v.label(), shared[id])
					if a := ad.Alert; a.Decision == "approve" || after[id].Decision != a.Decision ||
						!strings.Contains(string(a.ReasonsJSON), want) || !strings.Contains(string(a.ReasonsJSON), `"step":2`) {
						t.Errorf("ring order %s: alert %s %s, transaction %s; want a raised decision and %s", id, a.Decision, a.ReasonsJSON,
							after[id].Decision, want)
					}
					if got := queued[id]; len(got) != 1 || got[0].Kind != entitystage.UpgradeAlertKind || got[0].FirstDecision != "approve" ||
						got[0].Decision != after[id].Decision || !strings.Contains(string(got[0].Reasons), v.rule) {
						t.Errorf("ring order %s: queued alerts %+v, want one", id, got)
					}
				}
				if flagged != 3 {
					t.Errorf("%d ring orders came third or later on the %s, want 3 of 5", flagged, v.kind)
				}
				for id := range household {
					if after[id].Decision != first[id].Decision || len(queued[id]) != 0 {
						t.Errorf("household order %s: %s then %s, queued %+v", id, first[id].Decision, after[id].Decision, queued[id])
					}
				}
				// Every upgrade applied once: its alert queued once, its
				// transaction stored raised, the rollups moved once.
				changed := 0
				for id, tx := range after {
					if tx.Decision != first[id].Decision {
						changed++
						if len(queued[id]) == 0 {
							t.Errorf("transaction %s raised from %s to %s without an alert queued", id, first[id].Decision, tx.Decision)
						}
					}
				}
				total := 0
				for id, q := range queued {
					total += len(q)
					if len(q) > 1 && q[0].Decision == q[1].Decision {
						t.Errorf("transaction %s: %d alerts queued: %+v", id, len(q), q)
					}
				}
				// A stage reports no upgrade the store did not queue. It may
				// report fewer: the first stage is stopped at any moment, and
				// a commit the stop interrupted can have reached the database
				// unreported (PostgreSQL's COMMIT answered after the context
				// ended); the second finds those already stored.
				if up := upgraded.Load(); up > int64(total) || up == 0 || changed == 0 || changed > total {
					t.Errorf("%d alerts queued, %d upgrades reported committed, %d transactions changed", total, up, changed)
				}
				t.Logf("%d transactions raised by the entity rules (%d of them ring orders)", changed, flagged)
				storetest.CheckRollupsMatchLabels(t, st)

				// The same upgrade committed again (as a replay that lost its
				// state would) changes nothing.
				var id string
				for k := range ring {
					if shared[k] >= 3 {
						id = k
					}
				}
				u := store.EntityUpgrade{TransactionID: id, EventTime: after[id].EventTime, Risk: 0.7, Decision: "review",
					ReasonsJSON: []byte(`{"rule":"device_shared_accounts","reason":"again","weight":0.6,"step":2}`),
					Alert:       &store.OutboxMsg{Kind: "kafka", Target: bus.TopicAlerts, Payload: []byte(`{"kind":"entity_rules"}`)}}
				eb := &store.EntityBatch{Group: "replay", Topic: "replay", Owner: "o", Generation: 1,
					Parts: []store.EntityPart{{Partition: 0, From: 0, To: 1, Upgrades: []store.EntityUpgrade{u}}}}
				if err := ents.WriteEntityBatch(ctx, eb); err != nil {
					t.Fatal(err)
				}
				if eb.Parts[0].Upgrades[0].Applied || len(queuedUpgrades(t, st)) != 0 {
					t.Errorf("an upgrade stored already was applied again")
				}
				storetest.CheckRollupsMatchLabels(t, st)
			})
		}
	}
}

func drainOutbox(t *testing.T, st store.Store) {
	t.Helper()
	ctx := context.Background()
	pend, _, err := st.(store.OutboxBacklog).OutboxBacklog(ctx)
	for err == nil && pend > 0 {
		time.Sleep(20 * time.Millisecond)
		pend, _, err = st.(store.OutboxBacklog).OutboxBacklog(ctx)
	}
	if err != nil {
		t.Fatal(err)
	}
}

func storedTxs(t *testing.T, st store.Store) map[string]store.Tx {
	t.Helper()
	out := map[string]store.Tx{}
	for p := range int32(4) {
		err := st.RecentTransactions(context.Background(), p, 0, time.Time{}, func(tx *store.Tx) error {
			out[tx.TransactionID] = *tx
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// queuedUpgrades takes the second step's alerts from the outbox (no
// deliverer runs), by transaction.
func queuedUpgrades(t *testing.T, st store.Store) map[string][]entitystage.UpgradeAlert {
	t.Helper()
	out := map[string][]entitystage.UpgradeAlert{}
	_, _, err := st.DeliverOutbox(context.Background(), 100_000, func(m *store.OutboxMsg) error {
		var a entitystage.UpgradeAlert
		if m.Target != bus.TopicAlerts || json.Unmarshal(m.Payload, &a) != nil || a.Kind != entitystage.UpgradeAlertKind {
			return errors.New("left for later")
		}
		out[a.TransactionID] = append(out[a.TransactionID], a)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
