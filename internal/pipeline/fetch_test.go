package pipeline_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/internal/bus"
	"github.com/shopstream/shopstream/internal/event"
	"github.com/shopstream/shopstream/internal/pipeline"
	"github.com/shopstream/shopstream/internal/store/sqlite"
)

// TestFetchGathersRecords: records produced one at a time, each in a
// produce request of its own, reach the processor together when its
// fetches wait for more bytes than the test ever sends (FetchMinBytes):
// the broker holds each fetch for FetchMaxWait, so the records arrive in
// a few polls, not one poll each, and none is held for good by a
// threshold they never reach.
func TestFetchGathersRecords(t *testing.T) {
	brokers := embedded(t)
	st, err := sqlite.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var polls atomic.Int64
	p, err := pipeline.New(pipeline.Config{Brokers: brokers, Store: st, Group: "g-fetch", Logger: quiet,
		FetchMaxWait: time.Second, FetchMinBytes: pipeline.MaxFetchMinBytes,
		OnFetch: func(int, time.Time) { polls.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("processor: %v", err)
		}
	}()

	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(bus.TopicTransactions))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	const n = 100
	now := time.Now().UTC()
	began := time.Now()
	for i := range n {
		tx := event.Transaction{SchemaVersion: 1, TransactionID: fmt.Sprintf("F%04d", i), CustomerID: fmt.Sprintf("C%d", i%7),
			EventTime:  now.Add(-time.Duration(n-i) * time.Second),
			Items:      []event.Item{{ProductID: "P1", Category: "books", Quantity: 1, UnitPriceCents: 500}},
			TotalCents: 500, Currency: "EUR", PaymentMethod: "card", Card: event.Card{BIN: "411111", Last4: "0001"},
			DeviceID: "D1", IPAddress: "10.1.2.3", BillingCountry: "DE", ShippingCountry: "DE", Channel: "web"}
		b, err := event.Marshal(&tx)
		if err != nil {
			t.Fatal(err)
		}
		if err := cl.ProduceSync(ctx, &kgo.Record{Key: []byte(tx.CustomerID), Value: b}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	producing := time.Since(began)
	waitFor(t, "every record stored", func() bool {
		sum, err := st.Summary(context.Background())
		return err == nil && sum.TransactionsTotal == n
	})
	// A poll or two for each second (the fetch's wait) the producing
	// took, so a loaded machine that produces slowly passes too; answering
	// at the first record, the processor polled 5 to 12 times for records
	// produced in a fraction of a second.
	if got, most := polls.Load(), int64(producing/time.Second)+2; got > most {
		t.Fatalf("%d records produced in %v arrived in %d polls; want them gathered into %d at most", n, producing.Round(time.Millisecond), got, most)
	}
}
