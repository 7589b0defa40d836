package alert

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/internal/bus"
	"github.com/shopstream/shopstream/internal/store"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// outbox is an in-memory store.Store outbox: DeliverOutbox hands every
// undelivered message to send, marks it delivered on nil and counts a
// failed attempt otherwise. prunedBefore records PruneOutbox calls.
type outbox struct {
	store.Store
	mu           sync.Mutex
	msgs         []store.OutboxMsg
	delivered    map[int64]bool
	prunedBefore []time.Time
}

func newOutbox(msgs ...store.OutboxMsg) *outbox {
	return &outbox{msgs: msgs, delivered: map[int64]bool{}}
}

func (o *outbox) DeliverOutbox(_ context.Context, limit int, send func(*store.OutboxMsg) error) (int, int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	ok, bad := 0, 0
	for i := range o.msgs {
		m := &o.msgs[i]
		if o.delivered[m.ID] || ok+bad == limit {
			continue
		}
		c := *m
		if send(&c) == nil {
			o.delivered[m.ID] = true
			ok++
		} else {
			m.Attempts++
			bad++
		}
	}
	return ok, bad, nil
}

func (o *outbox) PruneOutbox(_ context.Context, before time.Time, _ int) (int64, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.prunedBefore = append(o.prunedBefore, before)
	return 0, nil
}

func (o *outbox) allDelivered() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.delivered) == len(o.msgs)
}

// run runs d until cond holds (or 20 s pass), then stops it.
func run(t *testing.T, d *Deliverer, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			cancel()
			<-done
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestWebhookRetriesKeepTheIdempotencyKey: a receiver that fails each
// message's first two attempts gets every message three times, each time
// with the same Idempotency-Key, and a different key per message.
func TestWebhookRetriesKeepTheIdempotencyKey(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	seen := map[string]int{}
	bodies := map[string]string{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("Idempotency-Key")
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		seen[key]++
		if prev, ok := bodies[key]; ok && prev != string(body) {
			t.Errorf("message %s changed between attempts", key)
		}
		bodies[key] = string(body)
		if seen[key] <= 2 {
			http.Error(w, "try later", http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	payload := []byte(`{"transaction_id":"t1","decision":"decline","risk":0.97}`)
	ob := newOutbox(
		store.OutboxMsg{ID: 7, Kind: "webhook", Target: "ops", Payload: payload},
		store.OutboxMsg{ID: 8, Kind: "webhook", Target: "ops", Payload: payload},
		store.OutboxMsg{ID: 9, Kind: "webhook", Target: "ops", Payload: payload},
	)
	reg := prometheus.NewRegistry()
	d, err := New(Config{Store: ob, Webhooks: map[string]string{"ops": srv.URL}, Interval: time.Millisecond,
		RetryInitial: time.Millisecond, RetryMax: 5 * time.Millisecond, Logger: quiet, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	run(t, d, "every message delivered", ob.allDelivered)
	mu.Lock()
	defer mu.Unlock()
	for _, id := range []string{"shopstream-outbox-7", "shopstream-outbox-8", "shopstream-outbox-9"} {
		if seen[id] != 3 {
			t.Errorf("%s arrived %d times, want 3 (two refused, one accepted)", id, seen[id])
		}
	}
	if len(seen) != 3 {
		t.Errorf("keys seen: %v, want exactly the three messages' ids", seen)
	}
	if got := testutil.ToFloat64(d.failed.WithLabelValues("webhook")); got != 6 {
		t.Errorf("failed attempts counted %v, want 6", got)
	}
}

// TestFailingTargetBacksOff: while a target is backing off after a
// failure, its messages fail without a request.
func TestFailingTargetBacksOff(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	requests := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		requests++
		mu.Unlock()
		http.Error(w, "down", http.StatusBadGateway)
	}))
	defer srv.Close()
	var msgs []store.OutboxMsg
	for i := range 50 {
		msgs = append(msgs, store.OutboxMsg{ID: int64(i + 1), Kind: "webhook", Target: "ops", Payload: []byte(`{}`)})
	}
	ob := newOutbox(msgs...)
	d, err := New(Config{Store: ob, Webhooks: map[string]string{"ops": srv.URL}, Logger: quiet, RetryInitial: time.Hour, RetryMax: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ok, bad, err := ob.DeliverOutbox(context.Background(), 100, d.send(context.Background()))
	if err != nil || ok != 0 || bad != 50 {
		t.Fatalf("delivered %d, failed %d, err %v; want 0, 50", ok, bad, err)
	}
	if requests != 1 {
		t.Fatalf("%d requests to a failing target in one pass, want 1", requests)
	}
}

// TestUnconfiguredTargetFailsAtOnce: a message for a webhook or topic
// that is not configured is given up on at once, with no request, and
// counted; it is not retried.
func TestUnconfiguredTargetFailsAtOnce(t *testing.T) {
	t.Parallel()
	ob := newOutbox(
		store.OutboxMsg{ID: 1, Kind: "webhook", Target: "gone", Payload: []byte(`{}`)},
		store.OutboxMsg{ID: 2, Kind: "kafka", Target: "elsewhere", Payload: []byte(`{}`)},
	)
	d, err := New(Config{Store: ob, Webhooks: map[string]string{"ops": "http://127.0.0.1:1/never"}, Topics: []string{bus.TopicAlerts},
		Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	err = d.configured(&ob.msgs[0])
	if !errors.Is(err, ErrNotConfigured) || err.Error() != `outbox target is not configured: webhook "gone" (configured: [ops])` {
		t.Fatalf("configured = %v", err)
	}
	start := time.Now()
	ok, bad, err := ob.DeliverOutbox(context.Background(), 10, d.send(context.Background()))
	if err != nil || ok != 2 || bad != 0 || time.Since(start) > time.Second {
		t.Fatalf("delivered %d, failed %d, err %v in %s; want both given up at once", ok, bad, err, time.Since(start))
	}
	if got := testutil.ToFloat64(d.undeliverable.WithLabelValues("webhook")) + testutil.ToFloat64(d.undeliverable.WithLabelValues("kafka")); got != 2 {
		t.Fatalf("undeliverable counted %v, want 2", got)
	}
	if got := testutil.ToFloat64(d.delivered.WithLabelValues("webhook")); got != 0 {
		t.Fatalf("a given-up message counted as delivered")
	}
}

// TestKafkaMessageID: a Kafka message carries its stable id as the
// message-id header, besides the headers queued with it.
func TestKafkaMessageID(t *testing.T) {
	t.Parallel()
	b, err := bus.StartEmbedded(bus.EmbeddedConfig{Partitions: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...), kgo.ConsumeTopics(bus.TopicAlerts))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ob := newOutbox(store.OutboxMsg{ID: 42, Kind: "kafka", Target: bus.TopicAlerts, Key: []byte("c1"), Payload: []byte(`{"a":1}`),
		Headers: []byte(`{"shopstream-reason":"velocity","message-id":"spoofed"}`)})
	d, err := New(Config{Store: ob, Kafka: cl, Topics: []string{bus.TopicAlerts}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if ok, _, err := ob.DeliverOutbox(context.Background(), 10, d.send(context.Background())); err != nil || ok != 1 {
		t.Fatalf("delivered %d: %v", ok, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	fs := cl.PollFetches(ctx)
	if err := fs.Err(); err != nil {
		t.Fatal(err)
	}
	recs := fs.Records()
	if len(recs) != 1 {
		t.Fatalf("%d records on %s, want 1", len(recs), bus.TopicAlerts)
	}
	h := map[string][]string{}
	for _, x := range recs[0].Headers {
		h[x.Key] = append(h[x.Key], string(x.Value))
	}
	if len(h["message-id"]) != 1 || h["message-id"][0] != "shopstream-outbox-42" || h["shopstream-reason"][0] != "velocity" {
		t.Fatalf("headers %v, want one message-id shopstream-outbox-42 and the queued reason", h)
	}
}

// TestPrunesDeliveredMessages: the deliverer prunes messages delivered
// before the retention, on the injected clock.
func TestPrunesDeliveredMessages(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)
	ob := newOutbox()
	d, err := New(Config{Store: ob, Interval: time.Millisecond, PruneAfter: 6 * time.Hour, Logger: quiet,
		Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	run(t, d, "a prune", func() bool { ob.mu.Lock(); defer ob.mu.Unlock(); return len(ob.prunedBefore) > 0 })
	ob.mu.Lock()
	defer ob.mu.Unlock()
	if want := now.Add(-6 * time.Hour); !ob.prunedBefore[0].Equal(want) {
		t.Fatalf("pruned before %s, want %s", ob.prunedBefore[0], want)
	}
	if len(ob.prunedBefore) != 1 {
		t.Fatalf("pruned %d times within one prune interval of a frozen clock, want 1", len(ob.prunedBefore))
	}
}

// TestWebhookTextInTheAlertsCurrency: the chat line names the amount as
// the alert gives it, in its currency's decimals (it printed two for
// every currency: 15050.00 JPY), and a records-lost alert says what was
// lost (it read as a transaction of no one).
func TestWebhookTextInTheAlertsCurrency(t *testing.T) {
	t.Parallel()
	srv, texts := slackReceiver(t, 3)
	ob := newOutbox(
		store.OutboxMsg{ID: 1, Kind: "webhook", Target: "ops", Payload: []byte(`{"transaction_id":"t1","customer_id":"c1","amount":15050,"currency":"JPY","risk":0.97,"decision":"decline","reasons":[]}`)},
		store.OutboxMsg{ID: 2, Kind: "webhook", Target: "ops", Payload: []byte(`{"transaction_id":"t2","customer_id":"c2","amount":15.050,"currency":"BHD","risk":0.5,"decision":"review","reasons":[]}`)},
		// A records-lost alert (pipeline.LossAlert) is no transaction.
		store.OutboxMsg{ID: 3, Kind: "webhook", Target: "ops", Payload: []byte(`{"kind":"records_lost","reason":"retention","group":"shopstream","topic":"transactions","partition":2,"from_offset":100,"to_offset":150,"count":50}`)},
	)
	d, err := New(Config{Store: ob, Webhooks: map[string]string{"ops": srv.URL}, Interval: time.Millisecond, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	run(t, d, "both messages delivered", ob.allDelivered)
	got := []string{<-texts, <-texts, <-texts}
	slices.Sort(got)
	if !strings.Contains(got[1], "transaction t1 of customer c1 (15050 JPY)") || !strings.Contains(got[2], "transaction t2 of customer c2 (15.050 BHD)") ||
		!strings.Contains(got[0], "50 offsets lost on transactions partition 2 (retention)") {
		t.Errorf("webhook texts %q", got)
	}
}

// TestSlackTextShowsMarkupAsWritten: a record's ids may hold what Slack's
// text reads as markup ("<!channel>" notifies a whole channel); the chat
// line of a --webhook shows them as written, escaped.
func TestSlackTextShowsMarkupAsWritten(t *testing.T) {
	t.Parallel()
	srv, texts := slackReceiver(t, 1)
	ob := newOutbox(store.OutboxMsg{ID: 1, Kind: "webhook", Target: "ops",
		Payload: []byte(`{"transaction_id":"a&b","customer_id":"<!channel>","amount":12.50,"currency":"EUR","risk":0.97,"decision":"decline","reasons":[]}`)})
	d, err := New(Config{Store: ob, Webhooks: map[string]string{"ops": srv.URL}, Interval: time.Millisecond, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	run(t, d, "the message delivered", ob.allDelivered)
	if got := <-texts; !strings.Contains(got, "transaction a&amp;b of customer &lt;!channel&gt;") || strings.Contains(got, "<!") {
		t.Errorf("webhook text %q, want the ids escaped", got)
	}
}

// slackReceiver is a --webhook endpoint that sends the text of each
// message it gets (up to n unread) to texts.
func slackReceiver(t *testing.T, n int) (*httptest.Server, <-chan string) {
	t.Helper()
	texts := make(chan string, n)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m SlackMessage
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
			t.Errorf("webhook body: %v", err)
		}
		texts <- m.Text
	}))
	t.Cleanup(srv.Close)
	return srv, texts
}
