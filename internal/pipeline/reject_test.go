package pipeline_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/internal/bus"
	"github.com/shopstream/shopstream/internal/pipeline"
	"github.com/shopstream/shopstream/internal/quality"
	"github.com/shopstream/shopstream/internal/store"
)

// faultyStore wraps a real store. It refuses, with a *store.RejectedError
// as a database would, every batch holding a transaction whose id is in
// poison or a quarantine row without raw bytes (NOT NULL); and it fails
// the first transient writes with a plain error.
type faultyStore struct {
	store.Store
	poison map[string]bool

	mu        sync.Mutex
	transient int   // writes still to fail
	down      bool  // every write fails while set
	fence     int32 // when >= 0, batches of this partition are fenced
	rejected  int   // batches refused
}

func (s *faultyStore) setDown(down bool) {
	s.mu.Lock()
	s.down = down
	s.mu.Unlock()
}

func (s *faultyStore) WriteBatch(ctx context.Context, b *store.Batch) error {
	s.mu.Lock()
	if s.transient > 0 || s.down {
		s.transient = max(0, s.transient-1)
		s.mu.Unlock()
		return errors.New("connection reset by peer")
	}
	fence := s.fence
	s.mu.Unlock()
	for _, part := range b.Parts {
		if part.Partition == fence {
			return &store.FencedError{Partitions: []int32{fence}}
		}
	}
	for _, part := range b.Parts {
		for _, t := range part.Txs {
			if s.poison[t.TransactionID] {
				return s.reject(`invalid byte sequence for encoding "UTF8": 0x00 (SQLSTATE 22021)`)
			}
		}
		for _, q := range part.Quarantined {
			if q.Raw == nil {
				return s.reject(`null value in column "raw" of relation "quarantine" violates not-null constraint (SQLSTATE 23502)`)
			}
		}
	}
	return s.Store.WriteBatch(ctx, b)
}

func (s *faultyStore) reject(msg string) error {
	s.mu.Lock()
	s.rejected++
	s.mu.Unlock()
	return &store.RejectedError{Message: msg, Err: errors.New(msg)}
}

// TestRejectedRecordsDoNotStall feeds records the database refuses among
// good ones: the processor bisects each refused batch, quarantines exactly
// the refused records as store_rejected with the database's message,
// commits the rest with the offsets, and never stalls. Transient failures
// are retried. stored + quarantined = produced.
func TestRejectedRecordsDoNotStall(t *testing.T) {
	t.Parallel()
	brokers := embedded(t)
	want := produce(t, brokers, 1500, 0)
	// Three poisoned transactions (two adjacent) and two tombstones.
	poison := map[string]bool{"T00000100": true, "T00000700": true, "T00000701": true}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(bus.TopicTransactions))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(context.Background(), &kgo.Record{Key: []byte("C00001")}, &kgo.Record{Key: []byte("C00002")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	const tombstones = 2
	st := &faultyStore{Store: openSQLite(t), poison: poison, transient: 3, fence: -1}
	m := pipeline.NewMetrics(prometheus.NewRegistry())
	p, stop := startProcessor(t, brokers, st, "g-reject", m)
	waitCaughtUp(t, brokers, st, "g-reject")
	stop()

	produced := want.good + want.bad + tombstones
	s := p.Stats()
	if s.Stored+s.Quarantined != int64(produced) {
		t.Fatalf("stored %d + quarantined %d != produced %d", s.Stored, s.Quarantined, produced)
	}
	if s.Stored != int64(want.good-len(poison)) {
		t.Fatalf("stored %d, want %d (every good record but the poisoned ones)", s.Stored, want.good-len(poison))
	}
	sum, err := st.Summary(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if sum.TransactionsTotal != s.Stored || sum.QuarantinedTotal != s.Quarantined {
		t.Fatalf("store holds %d transactions and %d quarantined, the processor counted %d and %d",
			sum.TransactionsTotal, sum.QuarantinedTotal, s.Stored, s.Quarantined)
	}
	// The dead-letter messages name each record's reason.
	rejected := map[string]int{}
	_, _, err = st.DeliverOutbox(context.Background(), 100_000, func(o *store.OutboxMsg) error {
		if o.Target != bus.TopicDeadLetter {
			return nil
		}
		var h map[string]string
		if err := json.Unmarshal(o.Headers, &h); err != nil {
			t.Errorf("dead-letter headers %q: %v", o.Headers, err)
		}
		if h["shopstream-reason"] == string(quality.StoreRejected) {
			rejected[h["shopstream-detail"]]++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := rejected[`invalid byte sequence for encoding "UTF8": 0x00 (SQLSTATE 22021)`]; n != len(poison) || len(rejected) != 1 {
		t.Fatalf("store_rejected dead letters by detail: %v; want %d with the database's message", rejected, len(poison))
	}
	if got := testutil.ToFloat64(m.Retries.WithLabelValues("store_transient")); got != 3 {
		t.Fatalf("shopstream_pipeline_retries_total{kind=store_transient} = %v, want 3", got)
	}
	if got := testutil.ToFloat64(m.Retries.WithLabelValues("store_rejected")); got == 0 {
		t.Fatal("no bisection counted in shopstream_pipeline_retries_total{kind=store_rejected}")
	}
	if st.rejected == 0 {
		t.Fatal("the store rejected nothing: the test proves nothing")
	}
	t.Logf("%d batch writes rejected while bisecting", st.rejected)
}

// TestHealthReportsStall takes the database away while records wait: the
// processor reports a partition stuck retrying and nothing committed, not
// ready, with the stalled gauge set; once the database is back it commits
// everything and is ready again.
func TestHealthReportsStall(t *testing.T) {
	t.Parallel()
	brokers := embedded(t)
	st := &faultyStore{Store: openSQLite(t), fence: -1}
	m := pipeline.NewMetrics(prometheus.NewRegistry())
	p, err := pipeline.New(pipeline.Config{Brokers: brokers, Store: st, Group: "g-health", Logger: quiet, MaxBatch: 100, Metrics: m,
		StallTimeout: 300 * time.Millisecond, RetryStuckAfter: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if h := p.Health(); h.Ready || h.Running {
		t.Fatalf("health before Run: %+v; want not running, not ready", h)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	want := produce(t, brokers, 200, 0)
	waitCaughtUp(t, brokers, st, "g-health")
	// The store shows the last offsets as soon as they commit; the
	// processor's health notes them once the write returns to it.
	waitFor(t, "health to note the last commit", func() bool { h := p.Health(); return h.Lag == 0 && h.PendingBatches == 0 })
	if h := p.Health(); !h.Ready || h.LastCommit.IsZero() || h.Lag != 0 {
		t.Fatalf("health after catching up: %+v; want ready, committed, no lag", h)
	}
	if p.Behind() {
		t.Fatal("Behind with nothing waiting")
	}

	st.setDown(true)
	more := produce(t, brokers, 200, 1000)
	var h pipeline.Health
	waitFor(t, "a reported stall", func() bool {
		h = p.Health()
		// The monitor sets the stalled gauge, then counts the stall.
		return !h.Ready && len(h.Retrying) > 0 && len(h.Reasons) >= 2 && testutil.ToFloat64(m.Stalled) == 1 &&
			testutil.ToFloat64(m.Stalls.WithLabelValues("write_retrying")) > 0
	})
	if h.StalledSince.IsZero() || h.Lag == 0 || !strings.Contains(strings.Join(h.Reasons, "\n"), "connection reset by peer") {
		t.Fatalf("stalled health %+v: want a start, lag and the last error", h)
	}
	if got := testutil.ToFloat64(m.Stalls.WithLabelValues("write_retrying")); got != 1 {
		t.Fatalf("shopstream_pipeline_stalls_total{kind=write_retrying} = %v, want 1", got)
	}
	// 200 records wait, two batches of 100: background jobs give way.
	waitFor(t, "Behind while 200 records wait", p.Behind)

	st.setDown(false)
	waitCaughtUp(t, brokers, st, "g-health")
	waitFor(t, "ready again", func() bool { return p.Health().Ready && testutil.ToFloat64(m.Stalled) == 0 })
	waitFor(t, "no longer Behind", func() bool { return !p.Behind() })
	if s := p.Stats(); s.Stored+s.Quarantined != int64(want.good+want.bad+more.good+more.bad) {
		t.Fatalf("committed %d, want %d", s.Stored+s.Quarantined, want.good+want.bad+more.good+more.bad)
	}
}

// TestBehindWhileWriterBusy: a writer that has had a batch to write for
// BehindAfter makes the processor Behind although far fewer than two
// batches' worth of records wait, and it is no longer Behind once the
// write went through.
func TestBehindWhileWriterBusy(t *testing.T) {
	t.Parallel()
	brokers := embedded(t)
	st := &faultyStore{Store: openSQLite(t), fence: -1}
	p, err := pipeline.New(pipeline.Config{Brokers: brokers, Store: st, Group: "g-behind", Logger: quiet, MaxBatch: 1000,
		BehindAfter: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	produce(t, brokers, 50, 0)
	waitCaughtUp(t, brokers, st, "g-behind")
	waitFor(t, "health to note the last commit", func() bool { h := p.Health(); return h.Lag == 0 && h.PendingBatches == 0 })
	if p.Behind() {
		t.Fatal("Behind with nothing waiting")
	}
	st.setDown(true)
	produce(t, brokers, 20, 1000)
	waitFor(t, "Behind while a write is retried", p.Behind)
	if h := p.Health(); h.Lag >= 2*1000 || h.PendingBatches == 0 {
		t.Fatalf("health while Behind: lag %d, %d batches pending; want a batch pending and less than two batches' records", h.Lag, h.PendingBatches)
	}
	st.setDown(false)
	waitCaughtUp(t, brokers, st, "g-behind")
	waitFor(t, "no longer Behind", func() bool { return !p.Behind() })
}

// TestHealthReportsEndlessFence has the store refuse every batch of one
// partition as fenced (as it would for a processor whose generation is
// older than the stored one): the processor keeps the other partitions
// going and reports that partition, not ready.
func TestHealthReportsEndlessFence(t *testing.T) {
	t.Parallel()
	brokers := embedded(t)
	st := &faultyStore{Store: openSQLite(t), fence: 2}
	m := pipeline.NewMetrics(prometheus.NewRegistry())
	p, err := pipeline.New(pipeline.Config{Brokers: brokers, Store: st, Group: "g-fence", Logger: quiet, MaxBatch: 100, Metrics: m,
		StallTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	produce(t, brokers, 400, 0)
	var h pipeline.Health
	defer func() {
		if t.Failed() {
			t.Logf("last health: %+v, fenced writes %v", h, testutil.ToFloat64(m.WriteErrors.WithLabelValues("fenced")))
		}
	}()
	waitFor(t, "partition 2 reported fenced", func() bool {
		h = p.Health()
		return !h.Ready && len(h.Fenced) == 1 && h.Fenced[0] == 2 && testutil.ToFloat64(m.Stalled) == 1
	})
	if h.Partitions[2].Committed != -1 || h.Partitions[2].Lag != h.Partitions[2].End || h.Partitions[2].End == 0 {
		t.Fatalf("partition 2 stored nothing, but health says %+v", h.Partitions[2])
	}
	if p.Stats().Stored == 0 {
		t.Fatal("the other partitions committed nothing")
	}
	// What the product fold's feed asks: partition 0 is this instance's
	// to commit, partition 99 does not exist.
	if !p.Owns(0) || p.Owns(99) {
		t.Fatalf("Owns(0) = %v, Owns(99) = %v; want true, false", p.Owns(0), p.Owns(99))
	}
}

// TestRetentionLossWhileRunning deletes records the processor has not
// fetched yet while it runs (its database is down, so it has stopped
// fetching): its next fetch is out of range; it asks the broker and
// records exactly the deleted range it had not stored as lost, once, with
// its alert. Stored + lost = produced on the partition.
func TestRetentionLossWhileRunning(t *testing.T) {
	t.Parallel()
	brokers := embedded(t)
	st := &faultyStore{Store: openSQLite(t), fence: -1}
	ctx := context.Background()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	// Small produce batches and small fetches, so the processor fetches
	// only a little ahead of what it writes.
	produceN := func(prefix string, perPartition int) {
		for i := 0; i < perPartition; i += 10 {
			var recs []*kgo.Record
			for p := range int32(4) {
				for j := i; j < i+10; j++ {
					recs = append(recs, txRecord(t, fmt.Sprintf("%s-%d-%03d", prefix, p, j), p))
				}
			}
			if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	m := pipeline.NewMetrics(prometheus.NewRegistry())
	p, err := pipeline.New(pipeline.Config{Brokers: brokers, Store: st, Group: "g-oor", Logger: quiet, MaxBatch: 20, Writers: 1, Metrics: m,
		KafkaOpts: []kgo.Opt{kgo.FetchMaxBytes(2000), kgo.FetchMaxPartitionBytes(2000)}})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- p.Run(runCtx) }()
	stop := func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
	defer func() {
		if runCtx.Err() == nil {
			stop()
		}
	}()
	produceN("first", 50)
	waitCaughtUp(t, brokers, st, "g-oor")

	st.setDown(true)
	produceN("second", 300)
	waitFor(t, "the writer blocked with batches waiting", func() bool { return p.Health().PendingBatches >= 2 })
	const deleteBelow = 50 + 200
	var del kadm.Offsets
	del.Add(kadm.Offset{Topic: bus.TopicTransactions, Partition: 1, At: deleteBelow})
	resp, err := kadm.NewClient(cl).DeleteRecords(ctx, del)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatal(err)
	}
	st.setDown(false)
	waitCaughtUp(t, brokers, st, "g-oor")
	stop()

	ids := storedIDs(t, st, 4)
	storedBefore := 0
	for i := range 300 {
		id := fmt.Sprintf("second-1-%03d", i)
		switch {
		case ids[id] > 1:
			t.Errorf("%s stored %d times", id, ids[id])
		case i >= 200 && ids[id] != 1:
			t.Errorf("%s, after the deleted range, stored %d times, want once", id, ids[id])
		case i < 200:
			storedBefore += ids[id]
		}
	}
	s := p.Stats()
	if s.Lost == 0 || int(s.Lost)+storedBefore != 200 {
		t.Fatalf("lost %d and stored %d of the 200 records before offset %d; want some lost and together exactly 200", s.Lost, storedBefore, deleteBelow)
	}
	if got := testutil.ToFloat64(m.RecordsLost.WithLabelValues("1", "retention")); got != float64(s.Lost) {
		t.Fatalf("shopstream_records_lost_total{partition=1} = %v, want %d", got, s.Lost)
	}
	var alerts []pipeline.LossAlert
	if _, _, err := st.DeliverOutbox(ctx, 10_000, func(o *store.OutboxMsg) error {
		if string(o.Key) == pipeline.LossAlertKind {
			var a pipeline.LossAlert
			if err := json.Unmarshal(o.Payload, &a); err != nil {
				t.Error(err)
			}
			alerts = append(alerts, a)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(alerts) != 1 || alerts[0].Partition != 1 || alerts[0].ToOffset != deleteBelow || alerts[0].Count != s.Lost {
		t.Fatalf("loss alerts %+v, want one for partition 1 up to offset %d, of %d", alerts, deleteBelow, s.Lost)
	}
}

// TestHealthReportsOffsetBeyondEnd restarts a broker that keeps nothing
// (the topic comes back empty) under stored offsets: the processor skips
// nothing, and reports the partitions whose stored offset lies past the
// log end.
func TestHealthReportsOffsetBeyondEnd(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	start := func() *bus.Embedded {
		b, err := bus.StartEmbedded(bus.EmbeddedConfig{Addr: addr, Partitions: 4})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	brokers := []string{addr}
	st := openSQLite(t)
	b := start()
	produce(t, brokers, 400, 0)
	_, stop := startProcessor(t, brokers, st, "g-beyond", nil)
	waitCaughtUp(t, brokers, st, "g-beyond")
	stop()
	b.Close()

	b = start()
	defer b.Close()
	produce(t, brokers, 20, 5000)
	p, stop2 := startProcessor(t, brokers, st, "g-beyond", nil)
	defer stop2()
	waitFor(t, "the offsets past the log end reported", func() bool {
		h := p.Health()
		return !h.Ready && strings.Contains(strings.Join(h.Reasons, "\n"), "past the log end")
	})
	if s := p.Stats(); s.Stored+s.Quarantined != 0 {
		t.Fatalf("committed %+v from a log that lies before the stored offsets", s)
	}
}
