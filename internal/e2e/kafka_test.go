package e2e

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/shopstream/shopstream/internal/bus"
	"github.com/shopstream/shopstream/internal/generate"
	"github.com/shopstream/shopstream/internal/pipeline"
	"github.com/shopstream/shopstream/internal/quality"
)

// envKafka names a real Kafka for the TestIntegrationRealKafka tests.
const envKafka = "SHOPSTREAM_TEST_KAFKA"

// partitions of every test topic.
const partitions = 4

// kafkaEnv is a Kafka cluster: the in-process broker or a real one.
type kafkaEnv struct {
	brokers []string
	cl      *kgo.Client // produces the test records; admin requests
	adm     *kadm.Client
}

// embeddedKafka starts the in-process broker for t.
func embeddedKafka(t *testing.T) *kafkaEnv {
	t.Helper()
	b, err := bus.StartEmbedded(bus.EmbeddedConfig{Partitions: partitions})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return newKafkaEnv(t, b.Addrs())
}

// realKafka connects to the Kafka named by SHOPSTREAM_TEST_KAFKA, or skips t.
func realKafka(t *testing.T) *kafkaEnv {
	t.Helper()
	brokers := bus.SplitBrokers(os.Getenv(envKafka))
	if len(brokers) == 0 {
		t.Skipf("skipping: %s is not set; it names a real Apache Kafka (comma-separated host:port) to run these tests against. "+
			"`make kafka-test` starts one (test/kafka/kafka.sh) and runs them", envKafka)
	}
	k := newKafkaEnv(t, brokers)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := k.cl.Ping(ctx); err != nil {
		t.Fatalf("reaching the Kafka in %s=%s: %v", envKafka, os.Getenv(envKafka), err)
	}
	return k
}

func newKafkaEnv(t *testing.T, brokers []string) *kafkaEnv {
	t.Helper()
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.ProducerLinger(2*time.Millisecond),
		kgo.MaxBufferedRecords(50_000),
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return &kafkaEnv{brokers: brokers, cl: cl, adm: kadm.NewClient(cl)}
}

var nonWord = regexp.MustCompile(`[^a-zA-Z0-9]+`)

// newTopic creates a topic of its own for t, with 4 partitions.
func (k *kafkaEnv) newTopic(t *testing.T) string {
	t.Helper()
	name := fmt.Sprintf("e2e-%s-%d", strings.Trim(nonWord.ReplaceAllString(t.Name(), "-"), "-"), time.Now().UnixNano())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := k.adm.CreateTopic(ctx, partitions, -1, nil, name)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("creating topic %s: %v", name, err)
	}
	// Wait until the metadata shows every partition with a leader.
	deadline := time.Now().Add(30 * time.Second)
	for {
		md, err := k.adm.Metadata(ctx, name)
		if err == nil {
			if td, ok := md.Topics[name]; ok && td.Err == nil && len(td.Partitions) == partitions {
				ready := true
				for _, p := range td.Partitions {
					ready = ready && p.Err == nil && p.Leader >= 0
				}
				if ready {
					return name
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("topic %s has no leaders for its %d partitions after 30 s (last error: %v)", name, partitions, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// endOffsets returns the end offset of every partition of topic.
func (k *kafkaEnv) endOffsets(t *testing.T, topic string) map[int32]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	listed, err := k.adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = listed.Error()
	}
	if err != nil {
		t.Fatalf("listing end offsets of %s: %v", topic, err)
	}
	out := map[int32]int64{}
	listed.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
	if len(out) != partitions {
		t.Fatalf("topic %s: end offsets of %d partitions, want %d", topic, len(out), partitions)
	}
	return out
}

// evictMembers removes every member of group with a LeaveGroup request naming
// its member ID. The tests call it after SIGKILLing the group's only
// processor: the dead member's session would otherwise hold up the next
// processor's join for up to 45 s. Members already gone are fine.
func (k *kafkaEnv) evictMembers(t *testing.T, group string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	described, err := k.adm.DescribeGroups(ctx, group)
	if err == nil {
		err = described.Error()
	}
	if err != nil {
		t.Fatalf("describing group %s: %v", group, err)
	}
	req := kmsg.NewPtrLeaveGroupRequest()
	req.Group = group
	reason := "e2e test: the member was killed"
	for _, m := range described[group].Members {
		lm := kmsg.NewLeaveGroupRequestMember()
		lm.MemberID = m.MemberID
		lm.Reason = &reason
		req.Members = append(req.Members, lm)
	}
	if len(req.Members) == 0 {
		return
	}
	resp, err := req.RequestWith(ctx, k.cl)
	if err == nil {
		err = kerr.ErrorForCode(resp.ErrorCode)
	}
	if err != nil {
		t.Fatalf("removing the dead members of group %s: %v", group, err)
	}
	for _, m := range resp.Members {
		if err := kerr.ErrorForCode(m.ErrorCode); err != nil && !errors.Is(err, kerr.UnknownMemberID) {
			t.Fatalf("removing member %s of group %s: %v", m.MemberID, group, err)
		}
	}
}

// window is one event-time minute's totals of good records.
type window struct{ count, cents int64 }

// expected is what must be stored, computed from what was produced.
type expected struct {
	records     int64 // produced
	stored      int64 // good records: stored as transactions
	cents       int64 // sum of the good records' totals
	quarantined int64 // bad records: quarantined
	minutes     map[time.Time]window
	customers   map[string]bool // of the good records

	mu sync.Mutex
	at map[offset]sent // filled in as the broker acknowledges records
}

// offset is a record's place in the topic.
type offset struct {
	partition int32
	offset    int64
}

// sent is what a record at an offset was.
type sent struct {
	id  string         // transaction ID
	bad quality.Reason // the check it was made to fail; "" when good
}

func newExpected() expected {
	return expected{minutes: map[time.Time]window{}, customers: map[string]bool{}, at: map[offset]sent{}}
}

func (e *expected) add(r *generate.Record) {
	e.records++
	if r.Bad != "" {
		e.quarantined++
		return
	}
	e.stored++
	e.cents += int64(r.AmountCents)
	e.customers[string(r.Key)] = true
	m := r.EventTime.UTC().Truncate(time.Minute)
	w := e.minutes[m]
	w.count++
	w.cents += int64(r.AmountCents)
	e.minutes[m] = w
}

// feed is a seeded synthetic shop whose records the tests produce in one or
// more waves, with event times stepping from half an hour ago towards now.
type feed struct {
	gen   *generate.Generator
	seed  int64
	start time.Time
	next  time.Time
	step  time.Duration
	want  expected
	good  []generate.Record // every good record produced by write, for resend
	old   []generate.Record // every record produced by history, for resend
}

func newFeed(t *testing.T, seed int64) *feed {
	t.Helper()
	g, err := generate.New(generate.Config{Seed: seed, Customers: 5_000, FraudRate: 0.02, BadRate: 0.02})
	if err != nil {
		t.Fatal(err)
	}
	// Event times from 35 minutes ago, 45 ms apart: 40,000 records end
	// about 5 minutes ago, so every good record is in the past and every
	// future_timestamp record (an hour or more ahead) is in the future.
	start := time.Now().UTC().Add(-35 * time.Minute).Truncate(time.Millisecond)
	return &feed{gen: g, seed: seed, start: start, next: start, step: 45 * time.Millisecond, want: newExpected()}
}

// labelHeaders are the headers the generate command sets (internal/cli's
// labelHeaders): the labels only evaluation reads.
func labelHeaders(r *generate.Record) []kgo.RecordHeader {
	hs := []kgo.RecordHeader{{Key: pipeline.HeaderLabel, Value: []byte(r.Label())}}
	if r.Scenario != "" {
		hs = append(hs, kgo.RecordHeader{Key: pipeline.HeaderScenario, Value: []byte(r.Scenario)})
	}
	if r.Bad != "" {
		hs = append(hs, kgo.RecordHeader{Key: pipeline.HeaderBad, Value: []byte(r.Bad)})
	}
	return hs
}

// produce writes the feed's next n records to topic, keyed by customer, and
// waits until the broker has acknowledged all of them.
func (f *feed) produce(t *testing.T, k *kafkaEnv, topic string, n int) {
	t.Helper()
	if err := f.write(k, topic, n); err != nil {
		t.Fatal(err)
	}
}

// write is produce for any goroutine: it returns the first error.
func (f *feed) write(k *kafkaEnv, topic string, n int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s := f.sender(ctx, k, topic)
	for range n {
		r := f.gen.NextAt(f.next)
		f.next = f.next.Add(f.step)
		if r.Bad == "" {
			f.good = append(f.good, r)
		}
		s.send(r)
	}
	return s.flush()
}

// history produces n good records with event times from ago on, 45 ms
// apart, from a generator of their own without bad records (a
// future_timestamp record from days ago would not be in the future).
func (f *feed) history(t *testing.T, k *kafkaEnv, topic string, n int, ago time.Duration) {
	t.Helper()
	g, err := generate.New(generate.Config{Seed: f.seed + 1, Customers: 1_000, FraudRate: -1})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s := f.sender(ctx, k, topic)
	at := time.Now().UTC().Add(-ago).Truncate(time.Millisecond)
	for range n {
		r := g.NextAt(at)
		at = at.Add(f.step)
		f.old = append(f.old, r)
		s.send(r)
	}
	if err := s.flush(); err != nil {
		t.Fatal(err)
	}
}

// resend produces again the exact bytes of n records picked with rng from
// from, labelled as duplicates: what a producer retrying across a crash
// sends. They must be quarantined as duplicate_id, however long ago their
// originals were stored.
func (f *feed) resend(t *testing.T, k *kafkaEnv, topic string, from []generate.Record, n int, rng *rand.Rand, rekey bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s := f.sender(ctx, k, topic)
	for range n {
		r := from[rng.IntN(len(from))]
		r.Bad, r.Fraud, r.Scenario, r.AmountCents = quality.DuplicateID, false, "", 0
		if rekey {
			r.Key = append([]byte("rekeyed-"), r.Key...)
		}
		s.send(r)
	}
	if err := s.flush(); err != nil {
		t.Fatal(err)
	}
}

// sender produces a feed's records to a topic, counting each in the feed's
// expected totals and, once acknowledged, under its offset.
type sender struct {
	ctx   context.Context
	f     *feed
	k     *kafkaEnv
	topic string
	mu    sync.Mutex
	err   error // the first produce error
}

func (f *feed) sender(ctx context.Context, k *kafkaEnv, topic string) *sender {
	return &sender{ctx: ctx, f: f, k: k, topic: topic}
}

func (s *sender) send(r generate.Record) {
	s.f.want.add(&r)
	what := sent{id: r.TransactionID, bad: r.Bad}
	rec := &kgo.Record{Topic: s.topic, Key: r.Key, Value: r.Value, Headers: labelHeaders(&r)}
	s.k.cl.Produce(s.ctx, rec, func(rec *kgo.Record, err error) {
		if err != nil {
			s.mu.Lock()
			if s.err == nil {
				s.err = err
			}
			s.mu.Unlock()
			return
		}
		s.f.want.mu.Lock()
		s.f.want.at[offset{rec.Partition, rec.Offset}] = what
		s.f.want.mu.Unlock()
	})
}

// flush waits until the broker has acknowledged every record sent.
func (s *sender) flush() error {
	if err := s.k.cl.Flush(s.ctx); err != nil {
		return fmt.Errorf("flushing records to %s: %w", s.topic, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return fmt.Errorf("producing to %s: %w", s.topic, s.err)
	}
	return nil
}

// stream produces the feed's records in the background, in waves of size
// records every interval, so the processors face a live stream while the
// test does things to them. The feed is the stream's until wait returns.
type stream struct {
	produced atomic.Int64 // records acknowledged so far
	done     chan struct{}
	err      error
}

func (f *feed) stream(k *kafkaEnv, topic string, waves, size int, every time.Duration) *stream {
	s := &stream{done: make(chan struct{})}
	go func() {
		defer close(s.done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for i := range waves {
			if i > 0 {
				<-tick.C
			}
			if err := f.write(k, topic, size); err != nil {
				s.err = err
				return
			}
			s.produced.Add(int64(size))
		}
	}()
	return s
}

// waitProduced waits until at least n records are produced (or the stream
// has ended).
func (s *stream) waitProduced(t *testing.T, n int64) {
	t.Helper()
	for s.produced.Load() < n {
		select {
		case <-s.done:
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// wait waits for the stream to end and fails t if producing failed.
func (s *stream) wait(t *testing.T) {
	t.Helper()
	select {
	case <-s.done:
	case <-time.After(3 * time.Minute):
		t.Fatal("the producing stream has not ended after 3 minutes")
	}
	if s.err != nil {
		t.Fatal(s.err)
	}
}
