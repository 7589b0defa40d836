package replay_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/internal/bus"
	"github.com/shopstream/shopstream/internal/event"
	"github.com/shopstream/shopstream/internal/pipeline"
	"github.com/shopstream/shopstream/internal/quality"
	"github.com/shopstream/shopstream/internal/replay"
	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/pgtest"
	"github.com/shopstream/shopstream/internal/store/postgres"
	"github.com/shopstream/shopstream/internal/store/sqlite"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

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

// harness is a broker, a store and what was produced to the topic.
type harness struct {
	t       *testing.T
	brokers []string
	st      store.Store
	cl      *kgo.Client
	// end is the next offset per partition after everything produced.
	end map[int32]int64
}

func newHarness(t *testing.T, open func(t *testing.T) store.Store) *harness {
	b, err := bus.StartEmbedded(bus.EmbeddedConfig{Partitions: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...), kgo.DefaultProduceTopic(bus.TopicTransactions))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return &harness{t: t, brokers: b.Addrs(), st: open(t), cl: cl, end: map[int32]int64{}}
}

// produce produces recs and notes where the partitions end.
func (h *harness) produce(recs ...*kgo.Record) {
	h.t.Helper()
	res := h.cl.ProduceSync(context.Background(), recs...)
	if err := res.FirstErr(); err != nil {
		h.t.Fatal(err)
	}
	for _, r := range res {
		h.end[r.Record.Partition] = max(h.end[r.Record.Partition], r.Record.Offset+1)
	}
}

// noteEnds reads where the partitions end now (after another producer).
func (h *harness) noteEnds() {
	h.t.Helper()
	ends, err := kadm.NewClient(h.cl).ListEndOffsets(context.Background(), bus.TopicTransactions)
	if err != nil {
		h.t.Fatal(err)
	}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			h.t.Fatal(o.Err)
		}
		h.end[o.Partition] = max(h.end[o.Partition], o.Offset)
	})
}

// processor runs a processor under the checks q until the test stops it;
// caughtUp waits until it has committed everything produced.
type processor struct {
	p        *pipeline.Processor
	stop     func()
	commits  chan struct{}
	h        *harness
	stopped  bool
	runError chan error

	// base is where the stored offsets stood when the processor started;
	// seen, where its own commits have brought them. OnCommit runs after
	// the processor has counted the batch, so a partition whose seen offset
	// reached its end is counted too, not only stored.
	mu   sync.Mutex
	base map[int32]int64
	seen map[int32]int64
}

func (h *harness) start(q quality.Config) *processor {
	h.t.Helper()
	pr := &processor{commits: make(chan struct{}, 1), h: h, runError: make(chan error, 1), seen: map[int32]int64{}}
	base, err := h.st.Offsets(context.Background(), "shopstream", bus.TopicTransactions)
	if err != nil {
		h.t.Fatal(err)
	}
	pr.base = base
	p, err := pipeline.New(pipeline.Config{Brokers: h.brokers, Store: h.st, Logger: quiet, Quality: contractOf(h.t, q), InstanceID: "p1",
		KafkaOpts: []kgo.Opt{kgo.SessionTimeout(6 * time.Second), kgo.RebalanceTimeout(6 * time.Second), kgo.HeartbeatInterval(500 * time.Millisecond)},
		OnCommit: func(b *store.Batch, _ time.Time) {
			pr.mu.Lock()
			for _, part := range b.Parts {
				pr.seen[part.Partition] = max(pr.seen[part.Partition], part.To)
			}
			pr.mu.Unlock()
			select {
			case pr.commits <- struct{}{}:
			default:
			}
		}})
	if err != nil {
		h.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { pr.runError <- p.Run(ctx) }()
	pr.p = p
	pr.stop = func() {
		if pr.stopped {
			return
		}
		pr.stopped = true
		cancel()
		if err := <-pr.runError; err != nil {
			h.t.Errorf("processor: %v", err)
		}
	}
	h.t.Cleanup(pr.stop)
	return pr
}

// caughtUp waits, commit by commit, until the committed offsets reach the
// ends of the partitions.
func (pr *processor) caughtUp() {
	t := pr.h.t
	t.Helper()
	timeout := time.After(60 * time.Second)
	for {
		pr.mu.Lock()
		done := true
		at := map[int32]int64{}
		for p, end := range pr.h.end {
			at[p] = max(pr.base[p], pr.seen[p])
			if at[p] < end {
				done = false
			}
		}
		pr.mu.Unlock()
		if done {
			return
		}
		select {
		case <-pr.commits:
		case err := <-pr.runError:
			t.Fatalf("the processor stopped: %v", err)
		case <-timeout:
			t.Fatalf("committed offsets %v did not reach %v", at, pr.h.end)
		}
	}
}

func order(id string, quantity int) *kgo.Record {
	cust := "C" + id
	price := event.Cents(250)
	tx := event.Transaction{SchemaVersion: event.SchemaVersion, TransactionID: id, CustomerID: cust,
		EventTime: time.Now().UTC().Add(-time.Minute), Currency: "EUR", PaymentMethod: "card", Channel: "web",
		Items:      []event.Item{{ProductID: "P1", Category: "books", Quantity: quantity, UnitPriceCents: price}},
		TotalCents: price * event.Cents(quantity), Card: event.Card{BIN: "411111", Last4: "0001"},
		DeviceID: "D1", IPAddress: "10.1.2.3", BillingCountry: "DE", ShippingCountry: "DE"}
	b, err := event.Marshal(&tx)
	if err != nil {
		panic(err)
	}
	return &kgo.Record{Key: []byte(cust), Value: b}
}

// snapshot is what a replay may change: the totals and every quarantine row.
type snapshot struct {
	sum  store.Summary
	rows []store.QuarantineRow
}

func (h *harness) snapshot() snapshot {
	h.t.Helper()
	sum, err := h.st.Summary(context.Background())
	if err != nil {
		h.t.Fatal(err)
	}
	sum.LastEventTime = nil
	rows, err := h.st.ListQuarantine(context.Background(), store.QuarantineFilter{Limit: 1000})
	if err != nil {
		h.t.Fatal(err)
	}
	return snapshot{sum, rows}
}

func byReason(rows []store.QuarantineRow) map[string]map[string]int {
	out := map[string]map[string]int{}
	for _, r := range rows {
		if out[r.Reason] == nil {
			out[r.Reason] = map[string]int{}
		}
		out[r.Reason][fmt.Sprintf("%s/%d", r.ReplayOutcome, r.ReplayAttempts)]++
	}
	return out
}

// TestReplayAfterContractChange quarantines records under strict checks,
// relaxes them, replays: the records are stored once and their rows
// marked. Replaying again changes nothing; a replay record that arrives
// twice changes nothing the second time.
func TestReplayAfterContractChange(t *testing.T) {
	for name, open := range stores() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testReplayAfterContractChange(t, open)
		})
	}
}

func testReplayAfterContractChange(t *testing.T, open func(t *testing.T) store.Store) {
	ctx := context.Background()
	h := newHarness(t, open)
	h.produce(order("T1", 1), order("T2", 5), order("T3", 1), order("T4", 7), order("T5", 5),
		&kgo.Record{Key: []byte("C9"), Value: []byte(`{"transaction_id": "T9", "items": [`)})
	strict := h.start(quality.Config{MaxQuantity: 2})
	strict.caughtUp()
	strict.stop()
	s := h.snapshot()
	if s.sum.TransactionsTotal != 2 || len(s.rows) != 4 {
		t.Fatalf("under the strict checks: %d stored, %d quarantined; want 2 and 4", s.sum.TransactionsTotal, len(s.rows))
	}

	relaxed := h.start(quality.Config{MaxQuantity: 10})
	cfg := replay.Config{Store: h.st, Brokers: h.brokers, Logger: quiet}
	outOfRange := store.QuarantineFilter{Reason: "out_of_range"}
	dry, err := replay.Replay(ctx, cfg, outOfRange, true)
	if err != nil || dry.Stream != 3 || !reflect.DeepEqual(dry.StreamByReason, map[string]int64{"out_of_range": 3}) || dry.Import.Replayed != 0 {
		t.Fatalf("dry run: %+v, %v; want 3 stream records of out_of_range", dry, err)
	}
	if now := h.snapshot(); !reflect.DeepEqual(now, s) {
		t.Fatalf("the dry run changed the store")
	}
	if _, err := replay.Replay(ctx, replay.Config{Store: h.st}, outOfRange, false); !errors.Is(err, replay.ErrNoBrokers) {
		t.Fatalf("replaying stream records without brokers: %v, want ErrNoBrokers", err)
	}

	res, err := replay.Replay(ctx, cfg, outOfRange, false)
	if err != nil || res.Stream != 3 {
		t.Fatalf("replay: %+v, %v; want 3 produced", res, err)
	}
	h.noteEnds()
	relaxed.caughtUp()
	once := h.snapshot()
	want := map[string]map[string]int{"out_of_range": {"stored/1": 3}, "malformed_json": {"/0": 1}}
	if once.sum.TransactionsTotal != 5 || len(once.rows) != 4 || !reflect.DeepEqual(byReason(once.rows), want) {
		t.Fatalf("after the replay: %d stored, rows %v; want 5 stored and %v", once.sum.TransactionsTotal, byReason(once.rows), want)
	}
	if got := relaxed.p.ReplayStats(); got != (pipeline.ReplayStats{Stored: 3}) {
		t.Fatalf("processor's replay counts = %+v, want 3 stored", got)
	}

	// Replaying again selects nothing and changes nothing.
	res, err = replay.Replay(ctx, cfg, outOfRange, false)
	if err != nil || res.Stream != 0 || res.Import.Replayed != 0 {
		t.Fatalf("second replay: %+v, %v; want nothing produced", res, err)
	}
	if again := h.snapshot(); !reflect.DeepEqual(again, once) {
		t.Fatalf("the second replay changed the store: %+v, was %+v", again, once)
	}

	// The same replay record produced twice more (an operator's retry, a
	// producer's): the dedup window or the store finds the transaction, and
	// the stored row stays as it is.
	row := find(t, once.rows, "out_of_range")
	h.produce(replay.Record(bus.TopicTransactions, &row), replay.Record(bus.TopicTransactions, &row))
	relaxed.caughtUp()
	if again := h.snapshot(); !reflect.DeepEqual(again, once) {
		t.Fatalf("a repeated replay record changed the store:\n%+v\nwas\n%+v", again, once)
	}
	if got := relaxed.p.ReplayStats(); got != (pipeline.ReplayStats{Stored: 3, Duplicate: 2}) {
		t.Fatalf("processor's replay counts = %+v, want 3 stored and 2 duplicates", got)
	}

	// The malformed record fails again: its row counts the attempt and the
	// new outcome; no row is added.
	res, err = replay.Replay(ctx, cfg, store.QuarantineFilter{}, false)
	if err != nil || res.Stream != 1 || res.StreamByReason["malformed_json"] != 1 {
		t.Fatalf("replaying the rest: %+v, %v; want the malformed record", res, err)
	}
	h.noteEnds()
	relaxed.caughtUp()
	last := h.snapshot()
	want["malformed_json"] = map[string]int{"quarantined/1": 1}
	if last.sum.TransactionsTotal != 5 || len(last.rows) != 4 || !reflect.DeepEqual(byReason(last.rows), want) {
		t.Fatalf("after replaying the malformed record: %d stored, rows %v; want 5 and %v", last.sum.TransactionsTotal, byReason(last.rows), want)
	}
	if r := find(t, last.rows, "malformed_json"); r.ReplayReason != "malformed_json" || r.ReplayedAt == nil || !r.Open() {
		t.Fatalf("the malformed record's row: %+v", r)
	}
}

// find returns the first row of reason.
func find(t *testing.T, rows []store.QuarantineRow, reason string) store.QuarantineRow {
	t.Helper()
	for _, r := range rows {
		if r.Reason == reason {
			return r
		}
	}
	t.Fatalf("no row of reason %s in %+v", reason, rows)
	return store.QuarantineRow{}
}

// contractOf is the default contract with c's thresholds.
func contractOf(t testing.TB, c quality.Config) *quality.Contract {
	t.Helper()
	q, err := c.Contract()
	if err != nil {
		t.Fatal(err)
	}
	return q
}
