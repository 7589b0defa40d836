package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/internal/bus"
	"github.com/shopstream/shopstream/internal/event"
	"github.com/shopstream/shopstream/internal/pipeline"
	"github.com/shopstream/shopstream/internal/store"
)

// What real upstreams send: transactions, and a broker that deletes what
// nobody read. Both run against the in-process broker and, with
// SHOPSTREAM_TEST_KAFKA set, against a real Kafka.

func TestTransactionalUpstream(t *testing.T) {
	t.Parallel()
	transactionalUpstream(t, embeddedKafka(t), sqliteStore(t))
}

func TestIntegrationRealKafkaTransactionalUpstream(t *testing.T) {
	t.Parallel()
	transactionalUpstream(t, realKafka(t), sqliteStore(t))
}

func TestRetentionLoss(t *testing.T) {
	t.Parallel()
	retentionLoss(t, embeddedKafka(t), sqliteStore(t))
}

func TestIntegrationRealKafkaRetentionLoss(t *testing.T) {
	t.Parallel()
	retentionLoss(t, realKafka(t), sqliteStore(t))
}

// upstreamRecord is a valid transaction record with the given id for
// partition part of topic.
func upstreamRecord(t *testing.T, topic, id string, part int32) *kgo.Record {
	t.Helper()
	tx := event.Transaction{SchemaVersion: 1, TransactionID: id, CustomerID: "C" + id,
		EventTime:  time.Now().UTC().Add(-time.Minute),
		Items:      []event.Item{{ProductID: "P1", Category: "books", Quantity: 1, UnitPriceCents: 700}},
		TotalCents: 700, Currency: "EUR", PaymentMethod: "card", Card: event.Card{BIN: "411111", Last4: "0001"},
		DeviceID: "D1", IPAddress: "10.1.2.3", BillingCountry: "DE", ShippingCountry: "DE", Channel: "web"}
	b, err := event.Marshal(&tx)
	if err != nil {
		t.Fatal(err)
	}
	return &kgo.Record{Topic: topic, Partition: part, Key: []byte(tx.CustomerID), Value: b}
}

// manualProducer produces each record to the partition it names.
func manualProducer(t *testing.T, k *kafkaEnv) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// storedCounts returns how often each transaction id is stored.
func storedCounts(t *testing.T, st store.Store) map[string]int {
	t.Helper()
	ids := map[string]int{}
	for p := range int32(partitions) {
		if err := st.RecentTransactions(context.Background(), p, 0, time.Time{}, func(tx *store.Tx) error {
			ids[tx.TransactionID]++
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	return ids
}

// transactionalUpstream: two transactional producers interleave
// transactions across the partitions, committing some and aborting others;
// every committed record is stored exactly once and no aborted one is.
func transactionalUpstream(t *testing.T, k *kafkaEnv, s *storeEnv) {
	r := newRig(t, k, s, 50)
	ctx := context.Background()
	producer := func(id string) *kgo.Client {
		cl, err := kgo.NewClient(kgo.SeedBrokers(k.brokers...), kgo.TransactionalID(id),
			kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.DefaultProduceTopic(r.topic))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		return cl
	}
	a, b := producer(r.topic+"-a"), producer(r.topic+"-b")
	committed, aborted := map[string]bool{}, map[string]bool{}
	n := 0
	for round := range 6 {
		for _, cl := range []*kgo.Client{a, b} {
			if err := cl.BeginTransaction(); err != nil {
				t.Fatal(err)
			}
		}
		ids := map[*kgo.Client][]string{}
		for i := range 20 { // the two transactions interleave record by record
			cl, who := a, "A"
			if i%2 == 1 {
				cl, who = b, "B"
			}
			id := fmt.Sprintf("%s-%02d-%02d", who, round, i)
			n++
			if err := cl.ProduceSync(ctx, upstreamRecord(t, r.topic, id, int32(n%partitions))).FirstErr(); err != nil {
				t.Fatal(err)
			}
			ids[cl] = append(ids[cl], id)
		}
		commit := map[*kgo.Client]bool{a: round != 2, b: round%2 == 0}
		for _, cl := range []*kgo.Client{a, b} {
			if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(commit[cl])); err != nil {
				t.Fatal(err)
			}
			for _, id := range ids[cl] {
				if commit[cl] {
					committed[id] = true
				} else {
					aborted[id] = true
				}
			}
		}
	}
	// A plain record closes each partition, so its end offset is a record's
	// (not a transaction marker's) and the stored offsets can reach it.
	plain := manualProducer(t, k)
	for p := range int32(partitions) {
		id := fmt.Sprintf("plain-%d", p)
		if err := plain.ProduceSync(ctx, upstreamRecord(t, r.topic, id, p)).FirstErr(); err != nil {
			t.Fatal(err)
		}
		committed[id] = true
	}
	ends := k.endOffsets(t, r.topic)
	p := r.start(t, "processor")
	r.waitCaughtUp(t, ends, 2*time.Minute, p)
	p.stop(t, 30*time.Second)

	ids := storedCounts(t, s.st)
	for id := range committed {
		if ids[id] != 1 {
			t.Errorf("committed record %s stored %d times, want once", id, ids[id])
		}
	}
	for id := range aborted {
		if ids[id] != 0 {
			t.Errorf("aborted record %s stored %d times", id, ids[id])
		}
	}
	if len(ids) != len(committed) || len(aborted) == 0 {
		t.Fatalf("stored %d distinct transactions, want the %d committed (and %d aborted ones produced)", len(ids), len(committed), len(aborted))
	}
}

// retentionLoss deletes records below an offset while the processor is
// down: on start it counts exactly the deleted range as lost, logs it, and
// sends one alert for it; everything else is stored once.
func retentionLoss(t *testing.T, k *kafkaEnv, s *storeEnv) {
	r := newRig(t, k, s, 50)
	ctx := context.Background()
	cl := manualProducer(t, k)
	produceN := func(prefix string, perPartition int) {
		for p := range int32(partitions) {
			var recs []*kgo.Record
			for i := range perPartition {
				recs = append(recs, upstreamRecord(t, r.topic, fmt.Sprintf("%s-%d-%03d", prefix, p, i), p))
			}
			if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	produceN("first", 50)
	p := r.start(t, "processor")
	r.waitCaughtUp(t, k.endOffsets(t, r.topic), 2*time.Minute, p)
	p.stop(t, 30*time.Second)

	produceN("second", 100)
	var del kadm.Offsets
	del.Add(kadm.Offset{Topic: r.topic, Partition: 1, At: 80})
	resp, err := k.adm.DeleteRecords(ctx, del)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatalf("deleting records: %v", err)
	}
	p2 := r.start(t, "processor (after the deletion)")
	r.waitCaughtUp(t, k.endOffsets(t, r.topic), 2*time.Minute, p2)
	waitLogged(t, p2, time.Minute, regexp.MustCompile(`records lost to retention are recorded and alerted.* partition=1 from_offset=50 to_offset=80 count=30`))

	sum, err := s.st.Summary(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if sum.TransactionsTotal != 600-30 || sum.QuarantinedTotal != 0 {
		t.Fatalf("stored %d transactions and %d quarantined, want 570 and 0", sum.TransactionsTotal, sum.QuarantinedTotal)
	}
	ids := storedCounts(t, s.st)
	for i := range 100 {
		id := fmt.Sprintf("second-1-%03d", i)
		if want := map[bool]int{true: 0, false: 1}[i < 30]; ids[id] != want {
			t.Errorf("%s stored %d times, want %d", id, ids[id], want)
		}
	}

	// The alert reaches the alerts topic through the outbox.
	alerts, err := kgo.NewClient(kgo.SeedBrokers(k.brokers...), kgo.ConsumeTopics(bus.TopicAlerts),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer alerts.Close()
	want := pipeline.LossAlert{Kind: pipeline.LossAlertKind, Reason: "retention", Group: r.group, Topic: r.topic,
		Partition: 1, FromOffset: 50, ToOffset: 80, Count: 30}
	pctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		fetches := alerts.PollFetches(pctx)
		if pctx.Err() != nil {
			t.Fatalf("no loss alert for topic %s on %s within a minute", r.topic, bus.TopicAlerts)
		}
		found := false
		fetches.EachRecord(func(rec *kgo.Record) {
			var a pipeline.LossAlert
			if string(rec.Key) == pipeline.LossAlertKind && json.Unmarshal(rec.Value, &a) == nil && a.Topic == r.topic {
				if a != want {
					t.Errorf("loss alert %+v, want %+v", a, want)
				}
				found = true
			}
		})
		if found {
			break
		}
	}
	p2.stop(t, 30*time.Second)
}
