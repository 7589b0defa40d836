package pipeline_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/internal/bus"
	"github.com/shopstream/shopstream/internal/event"
	"github.com/shopstream/shopstream/internal/pipeline"
	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/sqlite"
)

// declineAll declines every transaction, so that each raises an alert.
type declineAll struct{}

func (declineAll) Score(_ *event.Transaction, row *store.Tx) {
	row.Risk, row.Decision, row.ReasonsJSON = 0.9, "decline", []byte(`[{"rule":"test","reason":"declined by the test"}]`)
}
func (declineAll) Replay(*store.Tx) {}

// TestAlertPayloadInItsCurrency checks the amount of the alert sent to
// the alerts topic and webhooks: in the transaction's currency's major
// units with its decimals (15,050 minor units are 150.50 EUR, 15050 JPY,
// 15.050 BHD), as the event carried it.
func TestAlertPayloadInItsCurrency(t *testing.T) {
	brokers := embedded(t)
	st, err := sqlite.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(bus.TopicTransactions))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	want := map[string]string{"EUR": "150.50", "JPY": "15050", "BHD": "15.050"}
	for cur := range want {
		tx := event.Transaction{SchemaVersion: 1, TransactionID: "T-" + cur, CustomerID: "C1", EventTime: time.Now().UTC().Add(-time.Minute),
			Items:      []event.Item{{ProductID: "P1", Category: "books", Quantity: 1, UnitPriceCents: 15050}},
			TotalCents: 15050, Currency: cur, PaymentMethod: "card", Card: event.Card{BIN: "411111", Last4: "0001"},
			DeviceID: "D1", IPAddress: "10.1.2.3", BillingCountry: "DE", ShippingCountry: "DE", Channel: "web"}
		b, err := event.Marshal(&tx)
		if err != nil {
			t.Fatal(err)
		}
		if err := cl.ProduceSync(context.Background(), &kgo.Record{Key: []byte("C1"), Value: b}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	p, err := pipeline.New(pipeline.Config{Brokers: brokers, Store: st, Logger: quiet, MaxBatch: 10,
		NewScorer: func(int32) pipeline.Scorer { return declineAll{} }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	waitFor(t, "the three transactions", func() bool { return p.Stats().Stored == 3 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	if _, _, err := st.DeliverOutbox(context.Background(), 100, func(o *store.OutboxMsg) error {
		if o.Target != bus.TopicAlerts {
			return nil
		}
		var a struct {
			Amount   json.Number `json:"amount"`
			Currency string      `json:"currency"`
		}
		if err := json.Unmarshal(o.Payload, &a); err != nil {
			t.Errorf("alert payload %s: %v", o.Payload, err)
		}
		got[a.Currency] = a.Amount.String()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for cur, w := range want {
		if got[cur] != w {
			t.Errorf("the %s alert's amount is %q, want %q (15,050 minor units)", cur, got[cur], w)
		}
	}
}
