package pipeline_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/internal/event"
	"github.com/shopstream/shopstream/internal/pipeline"
	"github.com/shopstream/shopstream/internal/store/sqlite"
)

// TestProducedAheadLeftOutOfLatency: records whose produce timestamp is
// ahead of the processor's clock (a producer on a host whose clock runs
// an hour fast) are stored like any other, counted in
// shopstream_produced_ahead_total and left out of the produce-to-commit
// latency, which would otherwise count each as its fastest; the others'
// latencies are observed as before.
func TestProducedAheadLeftOutOfLatency(t *testing.T) {
	t.Parallel()
	brokers := embedded(t)
	st, err := sqlite.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic("transactions"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	now := time.Now()
	const ahead, onTime = 7, 13
	var recs []*kgo.Record
	for i := range ahead + onTime {
		cents := event.Cents(1000 + i)
		tx := event.Transaction{SchemaVersion: 1, TransactionID: fmt.Sprintf("T%08d", i), CustomerID: fmt.Sprintf("C%d", i),
			EventTime: now.Add(-time.Minute), Items: []event.Item{{ProductID: "P1", Category: "books", Quantity: 1, UnitPriceCents: cents}},
			TotalCents: cents, Currency: "EUR", PaymentMethod: "card", Card: event.Card{BIN: "411111", Last4: "0001"},
			DeviceID: "D1", IPAddress: "10.1.2.3", BillingCountry: "DE", ShippingCountry: "DE", Channel: "web"}
		b, err := event.Marshal(&tx)
		if err != nil {
			t.Fatal(err)
		}
		r := &kgo.Record{Key: []byte(tx.CustomerID), Value: b}
		if i < ahead {
			r.Timestamp = now.Add(time.Hour)
		}
		recs = append(recs, r)
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	m := pipeline.NewMetrics(reg)
	p, stop := startProcessor(t, brokers, st, "g-ahead", m)
	waitFor(t, "every record", func() bool { return p.Stats().Stored == ahead+onTime })
	stop()
	if got := testutil.ToFloat64(m.ProducedAhead); got != ahead {
		t.Errorf("shopstream_produced_ahead_total = %v, want %d", got, ahead)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "shopstream_e2e_latency_seconds" {
			continue
		}
		h := mf.GetMetric()[0].GetHistogram()
		if h.GetSampleCount() != onTime || h.GetSampleSum() <= 0 {
			t.Errorf("latency histogram: %d observations summing to %v s, want the %d records produced on time, each a positive latency",
				h.GetSampleCount(), h.GetSampleSum(), onTime)
		}
		return
	}
	t.Error("no shopstream_e2e_latency_seconds gathered")
}
