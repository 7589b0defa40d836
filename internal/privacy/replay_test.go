package privacy_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/internal/bus"
	"github.com/shopstream/shopstream/internal/event"
	"github.com/shopstream/shopstream/internal/fraud"
	"github.com/shopstream/shopstream/internal/pipeline"
	"github.com/shopstream/shopstream/internal/privacy"
	"github.com/shopstream/shopstream/internal/shopgeo"
	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/pgtest"
	"github.com/shopstream/shopstream/internal/store/postgres"
	"github.com/shopstream/shopstream/internal/store/sqlite"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

type fullStore interface {
	store.Store
	store.Privacy
}

// A topic consumed again from the start (a new store, an offset reset)
// after a customer was erased stores the customer's records under the
// pseudonym, without device, IP or card, and with a key no raw IP
// address reaches the store, quarantine included.
func TestReplayAfterErasure(t *testing.T) {
	for name, open := range map[string]func(t *testing.T) fullStore{
		"sqlite": func(t *testing.T) fullStore {
			s, err := sqlite.Open(context.Background(), t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		},
		"postgres": func(t *testing.T) fullStore {
			s, err := postgres.Open(context.Background(), pgtest.URL(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			st := open(t)
			e, err := st.EraseCustomer(ctx, "alice", "test")
			if err != nil {
				t.Fatal(err)
			}
			b, err := bus.StartEmbedded(bus.EmbeddedConfig{Partitions: 2})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(b.Close)
			cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...), kgo.DefaultProduceTopic(bus.TopicTransactions))
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			var recs []*kgo.Record
			now := time.Now().UTC()
			for i := range 200 {
				cust := []string{"alice", "bob"}[i%2]
				tx := event.Transaction{SchemaVersion: 1, TransactionID: fmt.Sprintf("T%04d", i), CustomerID: cust,
					EventTime:  now.Add(-time.Duration(200-i) * time.Second),
					Items:      []event.Item{{ProductID: "P1", Category: "books", Quantity: 1, UnitPriceCents: 1000}},
					TotalCents: 1000, Currency: "EUR", PaymentMethod: "card", Card: event.Card{BIN: "411111", Last4: "0001"},
					DeviceID: "D-" + cust, IPAddress: fmt.Sprintf("10.1.2.%d", i%2), BillingCountry: "DE", ShippingCountry: "DE", Channel: "web",
					ShippingAddress: fmt.Sprintf("%d Mill Lane", 14+i%2)}
				v, err := event.Marshal(&tx)
				if err != nil {
					t.Fatal(err)
				}
				recs = append(recs, &kgo.Record{Key: []byte(cust), Value: v})
			}
			recs = append(recs, &kgo.Record{Key: recs[0].Key, Value: recs[0].Value}) // alice's first, again
			if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
				t.Fatal(err)
			}

			geo := shopgeo.Lookups(fraud.StateConfig{})
			f, err := privacy.New(privacy.Config{Erasures: st, IPKey: key, CountryOfIP: geo.CountryOfIP, IsHostingIP: geo.IsHostingIP, Logger: quiet})
			if err != nil {
				t.Fatal(err)
			}
			if err := f.Sync(ctx); err != nil {
				t.Fatal(err)
			}
			p, err := pipeline.New(pipeline.Config{Brokers: b.Addrs(), Store: st, Group: "g", Logger: quiet, Privacy: f})
			if err != nil {
				t.Fatal(err)
			}
			pctx, cancel := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() { done <- p.Run(pctx) }()
			deadline := time.Now().Add(60 * time.Second)
			for s := p.Stats(); s.Stored+s.Quarantined < 201; s = p.Stats() {
				if time.Now().After(deadline) {
					t.Fatalf("timed out: %+v", s)
				}
				time.Sleep(20 * time.Millisecond)
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}

			pseudonymised := 0
			for part := range int32(2) {
				err := st.RecentTransactions(ctx, part, 0, time.Time{}, func(tx *store.Tx) error {
					switch {
					case tx.CustomerID == "alice":
						return fmt.Errorf("%s stored as alice's", tx.TransactionID)
					case tx.CustomerID == e.Pseudonym:
						pseudonymised++
						if tx.DeviceID != "" || tx.IPAddress != "" || tx.CardBIN != "" || tx.ShippingAddress != "" {
							return fmt.Errorf("%s kept alice's fields: %+v", tx.TransactionID, tx)
						}
					case !event.IsHashedIP(tx.IPAddress):
						return fmt.Errorf("%s stored IP %q, want a keyed hash", tx.TransactionID, tx.IPAddress)
					}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			if pseudonymised != 100 {
				t.Fatalf("%d of alice's 100 records stored under the pseudonym", pseudonymised)
			}
			q, err := st.ListQuarantine(ctx, store.QuarantineFilter{Limit: 10})
			if err != nil || len(q) != 1 {
				t.Fatalf("quarantine: %d rows, %v; want the repeated record", len(q), err)
			}
			if bytes.Contains(q[0].Raw, []byte("alice")) || bytes.Contains(q[0].Raw, []byte("10.1.2.")) {
				t.Fatalf("quarantined record: %s", q[0].Raw)
			}
		})
	}
}
