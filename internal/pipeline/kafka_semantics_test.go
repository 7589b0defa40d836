package pipeline_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/internal/bus"
	"github.com/shopstream/shopstream/internal/event"
	"github.com/shopstream/shopstream/internal/pipeline"
	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/sqlite"
)

// txRecord is a valid transaction record with the given id, on partition
// part (the tests produce with a manual partitioner).
func txRecord(t *testing.T, id string, part int32) *kgo.Record {
	t.Helper()
	cust := "C" + id
	tx := event.Transaction{SchemaVersion: 1, TransactionID: id, CustomerID: cust,
		EventTime:  time.Now().UTC().Add(-time.Minute),
		Items:      []event.Item{{ProductID: "P1", Category: "books", Quantity: 1, UnitPriceCents: 500}},
		TotalCents: 500, Currency: "EUR", PaymentMethod: "card", Card: event.Card{BIN: "411111", Last4: "0001"},
		DeviceID: "D1", IPAddress: "10.1.2.3", BillingCountry: "DE", ShippingCountry: "DE", Channel: "web"}
	b, err := event.Marshal(&tx)
	if err != nil {
		t.Fatal(err)
	}
	return &kgo.Record{Topic: bus.TopicTransactions, Partition: part, Key: []byte(cust), Value: b}
}

func openSQLite(t *testing.T) store.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// storedIDs returns how often each transaction id is stored.
func storedIDs(t *testing.T, st store.Store, partitions int32) map[string]int {
	t.Helper()
	ids := map[string]int{}
	for p := range partitions {
		err := st.RecentTransactions(context.Background(), p, 0, time.Time{}, func(tx *store.Tx) error {
			ids[tx.TransactionID]++
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return ids
}

// waitCaughtUp waits until the stored offsets of every partition reach the
// broker's end offsets.
func waitCaughtUp(t *testing.T, brokers []string, st store.Store, group string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(context.Background(), bus.TopicTransactions)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "stored offsets at the log end", func() bool {
		stored, err := st.Offsets(context.Background(), group, bus.TopicTransactions)
		if err != nil {
			t.Fatal(err)
		}
		caught := true
		ends.Each(func(o kadm.ListedOffset) {
			if o.Offset > 0 && stored[o.Partition] < o.Offset {
				caught = false
			}
		})
		return caught
	})
}

// TestTransactionalUpstream reads what transactional producers wrote with
// read-committed isolation: two producers interleave transactions across
// the partitions, committing some and aborting others. Every committed
// record is stored exactly once, no aborted one is, and the offset gaps the
// transaction markers leave are not taken for a loss.
func TestTransactionalUpstream(t *testing.T) {
	t.Parallel()
	brokers := embedded(t)
	st := openSQLite(t)
	newTxnProducer := func(id string) *kgo.Client {
		cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.TransactionalID(id),
			kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.DefaultProduceTopic(bus.TopicTransactions))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		return cl
	}
	ctx := context.Background()
	a, b := newTxnProducer("upstream-a"), newTxnProducer("upstream-b")
	committed := map[string]bool{}
	aborted := map[string]bool{}
	n := 0
	produceIn := func(cl *kgo.Client, round int, who string) []string {
		var ids []string
		for i := range 10 {
			id := fmt.Sprintf("%s-%02d-%02d", who, round, i)
			n++
			if err := cl.ProduceSync(ctx, txRecord(t, id, int32(n%4))).FirstErr(); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
		return ids
	}
	for round := range 6 {
		if err := a.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		if err := b.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		idsA := produceIn(a, round, "A")
		idsB := produceIn(b, round, "B")
		// A commits every round but the third; B aborts every other round.
		commitA, commitB := round != 2, round%2 == 0
		for cl, c := range map[*kgo.Client]bool{a: commitA, b: commitB} {
			if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(c)); err != nil {
				t.Fatal(err)
			}
		}
		for ids, c := range map[*[]string]bool{&idsA: commitA, &idsB: commitB} {
			for _, id := range *ids {
				if c {
					committed[id] = true
				} else {
					aborted[id] = true
				}
			}
		}
	}
	// A plain record closes each partition, so its end offset is a record's.
	plain, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	for p := range int32(4) {
		id := fmt.Sprintf("plain-%d", p)
		if err := plain.ProduceSync(ctx, txRecord(t, id, p)).FirstErr(); err != nil {
			t.Fatal(err)
		}
		committed[id] = true
	}

	m := pipeline.NewMetrics(prometheus.NewRegistry())
	p, stop := startProcessor(t, brokers, st, "g-txn", m)
	waitCaughtUp(t, brokers, st, "g-txn")
	stop()
	ids := storedIDs(t, st, 4)
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
	if len(ids) != len(committed) {
		t.Errorf("stored %d distinct transactions, want the %d committed", len(ids), len(committed))
	}
	if s := p.Stats(); s.Stored != int64(len(committed)) || s.Quarantined != 0 || s.Lost != 0 {
		t.Errorf("stats %+v, want %d stored, nothing quarantined or lost", s, len(committed))
	}
	if len(aborted) == 0 || len(committed) == 0 {
		t.Fatal("the test produced no aborted or no committed transactions")
	}
	checkGroupOffsets(t, brokers, st, "g-txn")
}

// checkGroupOffsets checks that the Kafka group holds the stored offsets,
// as lag tools read them.
func checkGroupOffsets(t *testing.T, brokers []string, st store.Store, group string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	fetched, err := kadm.NewClient(cl).FetchOffsets(context.Background(), group)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := st.Offsets(context.Background(), group, bus.TopicTransactions)
	if err != nil {
		t.Fatal(err)
	}
	inGroup := map[int32]int64{}
	fetched.Each(func(o kadm.OffsetResponse) {
		if o.Err != nil {
			t.Errorf("group offset of partition %d: %v", o.Partition, o.Err)
		}
		inGroup[o.Partition] = o.At
	})
	if len(stored) == 0 || fmt.Sprint(inGroup) != fmt.Sprint(stored) {
		t.Fatalf("the Kafka group holds offsets %v, the store %v", inGroup, stored)
	}
}

// TestRetentionLossIsExplicit deletes records below an offset while the
// processor is down (as retention would): on start the processor asks the
// broker, counts exactly the deleted range as lost, writes an alert through
// the outbox in the batch that moves the offset past it, and stores every
// record after it.
func TestRetentionLossIsExplicit(t *testing.T) {
	t.Parallel()
	brokers := embedded(t)
	st := openSQLite(t)
	ctx := context.Background()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	produceN := func(prefix string, perPartition int) {
		var recs []*kgo.Record
		for p := range int32(4) {
			for i := range perPartition {
				recs = append(recs, txRecord(t, fmt.Sprintf("%s-%d-%03d", prefix, p, i), p))
			}
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	produceN("first", 50)
	p1, stop1 := startProcessor(t, brokers, st, "g-ret", nil)
	waitCaughtUp(t, brokers, st, "g-ret")
	stop1()
	if s := p1.Stats(); s.Stored != 200 {
		t.Fatalf("first run stored %d, want 200", s.Stored)
	}

	// While no processor runs: 100 more per partition, and partition 1
	// loses the 30 oldest unread ones.
	produceN("second", 100)
	const deleteBelow = 50 + 30
	var del kadm.Offsets
	del.Add(kadm.Offset{Topic: bus.TopicTransactions, Partition: 1, At: deleteBelow})
	resp, err := kadm.NewClient(cl).DeleteRecords(ctx, del)
	if err != nil {
		t.Fatal(err)
	}
	if err := resp.Error(); err != nil {
		t.Fatal(err)
	}

	m := pipeline.NewMetrics(prometheus.NewRegistry())
	p2, stop2 := startProcessor(t, brokers, st, "g-ret", m)
	waitCaughtUp(t, brokers, st, "g-ret")
	stop2()
	s := p2.Stats()
	if s.Lost != 30 || s.Stored != 400-30 {
		t.Fatalf("second run: %+v; want 30 lost, 370 stored", s)
	}
	if got := testutil.ToFloat64(m.RecordsLost.WithLabelValues("1", "retention")); got != 30 {
		t.Fatalf("shopstream_records_lost_total{partition=1} = %v, want 30", got)
	}
	ids := storedIDs(t, st, 4)
	for i := range 100 {
		id := fmt.Sprintf("second-1-%03d", i)
		if want := map[bool]int{true: 0, false: 1}[i < 30]; ids[id] != want {
			t.Errorf("%s stored %d times, want %d", id, ids[id], want)
		}
	}
	var alerts []pipeline.LossAlert
	_, _, err = st.DeliverOutbox(ctx, 10_000, func(o *store.OutboxMsg) error {
		if string(o.Key) == pipeline.LossAlertKind {
			var a pipeline.LossAlert
			if err := json.Unmarshal(o.Payload, &a); err != nil {
				t.Errorf("loss alert payload %q: %v", o.Payload, err)
			}
			if o.Target != bus.TopicAlerts {
				t.Errorf("loss alert sent to %q, want %q", o.Target, bus.TopicAlerts)
			}
			alerts = append(alerts, a)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := pipeline.LossAlert{Kind: pipeline.LossAlertKind, Reason: "retention", Group: "g-ret", Topic: bus.TopicTransactions,
		Partition: 1, FromOffset: 50, ToOffset: deleteBelow, Count: 30}
	if len(alerts) != 1 || alerts[0] != want {
		t.Fatalf("loss alerts %+v, want exactly %+v", alerts, want)
	}
}

// ownerStore records the owner and generation of every batch written.
type ownerStore struct {
	store.Store
	mu   sync.Mutex
	gens map[string][]int32 // owner -> generations, in commit order
}

func (s *ownerStore) WriteBatch(ctx context.Context, b *store.Batch) error {
	err := s.Store.WriteBatch(ctx, b)
	if err == nil {
		s.mu.Lock()
		s.gens[b.Owner] = append(s.gens[b.Owner], b.Generation)
		s.mu.Unlock()
	}
	return err
}

// TestBatchesCarryOwnerAndGeneration checks that every batch names its
// processor's instance id and the group generation it owns the partitions
// in: a second processor joining makes a newer generation.
func TestBatchesCarryOwnerAndGeneration(t *testing.T) {
	t.Parallel()
	brokers := embedded(t)
	st := &ownerStore{Store: openSQLite(t), gens: map[string][]int32{}}
	start := func(id string) func() {
		cfg := pipeline.Config{Brokers: brokers, Store: st, Group: "g-owner", Logger: quiet, MaxBatch: 100, InstanceID: id,
			KafkaOpts: []kgo.Opt{kgo.SessionTimeout(6 * time.Second), kgo.RebalanceTimeout(6 * time.Second), kgo.HeartbeatInterval(500 * time.Millisecond)}}
		p, err := pipeline.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- p.Run(ctx) }()
		return func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("processor %s: %v", id, err)
			}
		}
	}
	produce(t, brokers, 400, 0)
	stopA := start("proc-a")
	waitCaughtUp(t, brokers, st, "g-owner")
	stopB := start("proc-b")
	more := 0
	waitFor(t, "a batch of the second processor", func() bool {
		more++
		produce(t, brokers, 40, more*1000)
		st.mu.Lock()
		defer st.mu.Unlock()
		return len(st.gens["proc-b"]) > 0
	})
	stopB()
	stopA()
	st.mu.Lock()
	defer st.mu.Unlock()
	if len(st.gens) != 2 {
		t.Fatalf("owners %v, want proc-a and proc-b only", st.gens)
	}
	a, b := st.gens["proc-a"], st.gens["proc-b"]
	if a[0] < 1 || b[0] <= a[0] {
		t.Fatalf("generations: proc-a %v, proc-b %v; want proc-a's first at least 1 and proc-b's newer", a, b)
	}
}
