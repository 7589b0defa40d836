package alert

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/internal/alertroute"
	"github.com/shopstream/shopstream/internal/bus"
	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/sqlite"
)

// shiftClock is the real clock moved on by what the test adds, so that
// backoffs run in real time while windows can be jumped.
type shiftClock struct {
	mu    sync.Mutex
	shift time.Duration
}

func (c *shiftClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.shift)
}
func (c *shiftClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.shift += d
}

func openSQLite(t *testing.T) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// queue stores payloads as the processor queues alerts: outbox messages
// for the alerts topic, in one batch.
func queue(t *testing.T, s store.Store, payloads ...[]byte) {
	t.Helper()
	p := store.Part{Partition: 0, From: 0, To: int64(len(payloads))}
	for _, pl := range payloads {
		p.Outbox = append(p.Outbox, store.OutboxMsg{Kind: "kafka", Target: bus.TopicAlerts, Key: []byte("c"), Payload: pl})
	}
	if err := s.WriteBatch(context.Background(), &store.Batch{Group: "g", Topic: "transactions", Parts: []store.Part{p}}); err != nil {
		t.Fatal(err)
	}
}

func fraudPayload(tx, decision string, risk float64) []byte {
	return fmt.Appendf(nil, `{"transaction_id":%q,"customer_id":"c-%s","event_time":"2026-03-01T12:00:00Z","amount":12.50,"currency":"EUR","risk":%v,"decision":%q,"reasons":[]}`,
		tx, tx, risk, decision)
}

// receiver is a webhook endpoint that checks every request's signature,
// drops repeats by Idempotency-Key, and misbehaves on purpose: each
// message's first attempt answers 500, its second is accepted but
// answered too late for the client (the reply is lost), later ones succeed.
type receiver struct {
	t        *testing.T
	key      []byte
	slow     time.Duration
	mu       sync.Mutex
	attempts map[string]int
	accepted map[string][]byte // by Idempotency-Key
	repeats  int
	badSigs  int
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	id := r.Header.Get(HeaderIdempotencyKey)
	if err := VerifySignature(rc.key, r.Header.Get(HeaderTimestamp), r.Header.Get(HeaderSignature), body, time.Now(), 5*time.Minute); err != nil {
		rc.mu.Lock()
		rc.badSigs++
		rc.mu.Unlock()
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	rc.mu.Lock()
	rc.attempts[id]++
	n := rc.attempts[id]
	if n == 1 {
		rc.mu.Unlock()
		http.Error(w, "not now", http.StatusInternalServerError)
		return
	}
	if _, dup := rc.accepted[id]; dup {
		rc.repeats++
	} else {
		rc.accepted[id] = body
	}
	rc.mu.Unlock()
	if n == 2 {
		time.Sleep(rc.slow) // accepted, but the sender times out first
	}
}

func (rc *receiver) count() int { rc.mu.Lock(); defer rc.mu.Unlock(); return len(rc.accepted) }

// chat is a Slack-compatible endpoint that keeps every message.
type chat struct {
	mu   sync.Mutex
	msgs []map[string]any
}

func (c *chat) ServeHTTP(_ http.ResponseWriter, r *http.Request) {
	var m map[string]any
	if err := json.NewDecoder(r.Body).Decode(&m); err == nil {
		c.mu.Lock()
		c.msgs = append(c.msgs, m)
		c.mu.Unlock()
	}
}

func (c *chat) all() []map[string]any {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]map[string]any(nil), c.msgs...)
}

// waitFor polls cond every few milliseconds for up to 20 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestRoutedWebhooks is the test: a local receiver that fails the
// first attempts (a 500, then a reply that comes too late) gets each
// routed decline exactly once by message id, every request validly
// signed; a burst of reviews to the chat destination is one group
// message, and the quality alerts over its rate limit one digest.
func TestRoutedWebhooks(t *testing.T) {
	t.Parallel()
	const secret = "s3cret-key"
	rc := &receiver{t: t, key: []byte(secret), slow: 400 * time.Millisecond, attempts: map[string]int{}, accepted: map[string][]byte{}}
	siem := httptest.NewServer(rc)
	defer siem.Close()
	ch := &chat{}
	ops := httptest.NewServer(ch)
	defer ops.Close()
	routes, err := ParseRoutes(fmt.Appendf(nil, `
destinations:
  - name: siem
    type: webhook
    url: %s/in
    secret_env: SIEM_KEY
  - name: ops
    type: slack
    url: %s/hook
    rate_limit: {count: 1, per: 1m}
  - name: board
    type: dashboard
rules:
  - name: declines
    match: {kind: [fraud], min_severity: critical}
    destinations: [siem, board]
  - name: reviews
    match: {labels: {decision: [review]}}
    destinations: [ops]
    group_window: 30s
  - name: quality
    match: {kind: [quality]}
    destinations: [ops]
`, siem.URL, ops.URL), func(k string) (string, bool) { return secret, k == "SIEM_KEY" }, os.ReadFile)
	if err != nil {
		t.Fatal(err)
	}
	s := openSQLite(t)
	var payloads [][]byte
	for i := range 30 {
		payloads = append(payloads, fraudPayload(fmt.Sprintf("r%02d", i), "review", 0.5))
	}
	for i := range 4 {
		payloads = append(payloads, fmt.Appendf(nil, `{"kind":"quality","severity":"warning","labels":{"check":"null_rate"},"summary":"null rate %d"}`, i))
	}
	for i := range 5 {
		payloads = append(payloads, fraudPayload(fmt.Sprintf("d%d", i), "decline", 0.97))
	}
	queue(t, s, payloads...)
	clock := &shiftClock{}
	reg := prometheus.NewRegistry()
	d, err := New(Config{Store: s, Routes: func() *Routes { return routes }, Now: clock.now, Interval: 2 * time.Millisecond,
		RetryInitial: time.Millisecond, RetryMax: 5 * time.Millisecond, HTTP: &http.Client{Timeout: 150 * time.Millisecond},
		Logger: quiet, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()

	waitFor(t, "five declines at the receiver", func() bool { return rc.count() == 5 })
	waitFor(t, "the declines recorded as sent", func() bool {
		ds, _ := s.Deliveries(ctx, store.DeliveryFilter{Destination: "siem", Status: "sent"})
		return len(ds) == 5
	})
	rc.mu.Lock()
	txs := map[string]bool{}
	for id, b := range rc.accepted {
		var body Body
		if err := json.Unmarshal(b, &body); err != nil || body.ID != id || body.Type != "alert" || len(body.Alerts) != 1 || body.Rule != "declines" {
			t.Errorf("webhook body %s: %+v, %v", b, body, err)
			continue
		}
		var a struct {
			TransactionID string `json:"transaction_id"`
		}
		_ = json.Unmarshal(body.Alerts[0], &a)
		txs[a.TransactionID] = true
	}
	if len(txs) != 5 || rc.badSigs != 0 || rc.repeats < 1 {
		t.Errorf("the receiver has %d distinct declines (want 5), %d bad signatures (want 0), %d repeats dropped (want some: replies were lost)",
			len(txs), rc.badSigs, rc.repeats)
	}
	for id, n := range rc.attempts {
		if n < 3 {
			t.Errorf("%s was attempted %d times; want a refused, a late and a good attempt", id, n)
		}
	}
	rc.mu.Unlock()
	if got := testutil.ToFloat64(d.deliveryOutcomes.WithLabelValues("siem", "sent")); got != 5 {
		t.Errorf("siem sent counted %v, want 5", got)
	}
	if got := testutil.ToFloat64(d.deliveryOutcomes.WithLabelValues("siem", "failed")); got < 10 {
		t.Errorf("siem failures counted %v, want at least 10", got)
	}

	// Nothing has reached the chat yet: the group waits for its window,
	// the digest for the rate window.
	if msgs := ch.all(); len(msgs) != 0 {
		t.Fatalf("the chat got %d messages before any window ended: %v", len(msgs), msgs)
	}
	clock.add(31 * time.Second)
	waitFor(t, "the group message", func() bool { return len(ch.all()) == 1 })
	g := ch.all()[0]
	if text, _ := g["text"].(string); !strings.HasPrefix(text, "30 review alerts in the last 30 seconds (rule reviews)\n• review transaction r00 of customer c-r00 (12.50 EUR), risk 0.5") {
		t.Errorf("group text %q", text)
	}
	if as, _ := g["alerts"].([]any); len(as) != 30 {
		t.Errorf("the group carries %d alerts, want 30", len(as))
	}
	clock.add(30 * time.Second)
	waitFor(t, "the digest", func() bool { return len(ch.all()) == 2 })
	if text := ch.all()[1]["text"]; text != "4 more quality alerts in the last minute" {
		t.Errorf("digest text %q", text)
	}
	for dest, want := range map[string]map[string]float64{
		"ops":   {"grouped": 30, "rate_limited": 4},
		"siem":  {"pending": 5},
		"board": {"pending": 5},
	} {
		for status, n := range want {
			if got := testutil.ToFloat64(d.routed.WithLabelValues(dest, status)); got != n {
				t.Errorf("routed %s %s counted %v, want %v", dest, status, got, n)
			}
		}
	}
	waitFor(t, "the board's five", func() bool {
		ds, _ := s.Deliveries(ctx, store.DeliveryFilter{Destination: "board", Status: "sent"})
		return len(ds) == 5
	})
	// Every alert is accounted for in the record. The chat has the digest
	// before the dispatcher records it as sent, so wait for the record to
	// settle (no row pending) before counting.
	var all []store.Delivery
	byStatus := map[alertroute.Status]int{}
	waitFor(t, "no delivery pending", func() bool {
		var err error
		all, err = s.Deliveries(ctx, store.DeliveryFilter{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		byStatus = map[alertroute.Status]int{}
		for _, dl := range all {
			byStatus[dl.Status]++
		}
		return byStatus[alertroute.Pending] == 0
	})
	// 5 declines x 2 + the group and the digest sent; 30 grouped; 4 rate-limited
	if byStatus[alertroute.Sent] != 12 || byStatus[alertroute.Grouped] != 30 || byStatus[alertroute.RateLimited] != 4 || len(all) != 46 {
		t.Errorf("record by status %v of %d rows", byStatus, len(all))
	}
}

// TestRoutedKafka: a kafka destination gets an alert with its message id
// and a group as one record, through kfake.
func TestRoutedKafka(t *testing.T) {
	t.Parallel()
	b, err := bus.StartEmbedded(bus.EmbeddedConfig{Partitions: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	const topic = "alerts.routed"
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...), kgo.ConsumeTopics(topic), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := bus.EnsureTopics(context.Background(), cl, topic); err != nil {
		t.Fatal(err)
	}
	routes, err := ParseRoutes([]byte(`{"destinations": [{"name": "bus", "type": "kafka", "topic": "`+topic+`"}],
	  "rules": [{"name": "losses", "match": {"kind": ["records_lost"]}, "destinations": ["bus"]},
	            {"name": "quality", "match": {"kind": ["quality"]}, "destinations": ["bus"], "group_window": "1m"}]}`), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := openSQLite(t)
	loss := []byte(`{"kind":"records_lost","reason":"retention","group":"g","topic":"transactions","partition":2,"from_offset":10,"to_offset":15,"count":5}`)
	queue(t, s, loss, []byte(`{"kind":"quality","labels":{"check":"schema"}}`), []byte(`{"kind":"quality","labels":{"check":"schema"}}`))
	clock := &shiftClock{}
	d, err := New(Config{Store: s, Kafka: cl, Routes: func() *Routes { return routes }, Now: clock.now, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for range 2 { // route, then send what is due
		if _, _, err := s.DeliverOutbox(ctx, 10, d.send(ctx)); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.DeliverAlerts(ctx, 10, clock.now(), d.sendRouted(ctx, routes)); err != nil {
			t.Fatal(err)
		}
	}
	clock.add(time.Minute)
	if n, _, err := s.DeliverAlerts(ctx, 10, clock.now(), d.sendRouted(ctx, routes)); n != 1 || err != nil {
		t.Fatalf("the group: %d sent, %v", n, err)
	}
	var recs []*kgo.Record
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for len(recs) < 2 {
		fs := cl.PollFetches(pctx)
		if err := fs.Err(); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, fs.Records()...)
	}
	headers := func(r *kgo.Record) map[string]string {
		h := map[string]string{}
		for _, x := range r.Headers {
			h[x.Key] = string(x.Value)
		}
		return h
	}
	if h := headers(recs[0]); string(recs[0].Value) != string(loss) || !strings.HasPrefix(h["message-id"], "shopstream-delivery-") || h["shopstream-type"] != "alert" ||
		string(recs[0].Key) != "records_lost:retention:transactions:2" {
		t.Errorf("loss record %s %s %v", recs[0].Key, recs[0].Value, h)
	}
	var body Body
	if err := json.Unmarshal(recs[1].Value, &body); err != nil || body.Type != "group" || body.Count != 2 || len(body.Alerts) != 2 ||
		headers(recs[1])["message-id"] != body.ID || body.Text != "2 quality alerts in the last minute (rule quality)\n• warning quality alert quality:schema\n• warning quality alert quality:schema" {
		t.Errorf("group record %s: %+v, %v", recs[1].Value, body, err)
	}
}

func TestVerifySignature(t *testing.T) {
	t.Parallel()
	key, body := []byte("k"), []byte(`{"id":"x"}`)
	now := time.Unix(1_800_000_000, 0)
	sig := Sign(key, now.Unix(), body)
	ts := fmt.Sprint(now.Unix())
	if err := VerifySignature(key, ts, sig, body, now.Add(time.Minute), 5*time.Minute); err != nil {
		t.Fatalf("a good signature: %v", err)
	}
	for name, tc := range map[string]struct {
		key       string
		ts, sig   string
		body      string
		now       time.Time
		wantStale bool
	}{
		"other key":      {key: "j", ts: ts, sig: sig, body: string(body), now: now},
		"other body":     {key: "k", ts: ts, sig: sig, body: `{"id":"y"}`, now: now},
		"other time":     {key: "k", ts: fmt.Sprint(now.Unix() + 1), sig: sig, body: string(body), now: now},
		"replayed later": {key: "k", ts: ts, sig: sig, body: string(body), now: now.Add(6 * time.Minute), wantStale: true},
		"no timestamp":   {key: "k", ts: "", sig: sig, body: string(body), now: now},
	} {
		err := VerifySignature([]byte(tc.key), tc.ts, tc.sig, []byte(tc.body), tc.now, 5*time.Minute)
		if err == nil || (tc.wantStale && !strings.Contains(err.Error(), ErrStale.Error())) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// The recipe in docs/alerts.md, computed apart (Python's hmac module):
	// HMAC-SHA256 of "1800000000." and the body.
	if sig != "sha256=621cf66c742c40abb4a9df73b10823d7c17337bcc75516df5944e906ba599690" {
		t.Fatalf("signature %q", sig)
	}
}

// TestRoutesFileReload: a changed file is put in force; a bad one is
// logged and counted and the routes in force stay.
func TestRoutesFileReload(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "routes.yaml")
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("destinations: [{name: a, type: dashboard}]\nrules: [{name: r, destinations: [a]}]\n")
	reg := prometheus.NewRegistry()
	f, err := NewRoutesFile(RoutesFileConfig{Path: path, Logger: quiet, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	first := f.Current()
	f.Reload() // unchanged
	if f.Current() != first {
		t.Fatal("an unchanged file was parsed again")
	}
	write("destinations: [{name: a, type: dashboard}, {name: b, type: dashboard}]\nrules: [{name: r, destinations: [a, b]}]\n")
	f.Reload()
	if got := f.Current().DestinationNames(); len(got) != 2 {
		t.Fatalf("after a good change: %v", got)
	}
	write("destinations: [{name: a, type: dashboard, colour: red}]\n")
	f.Reload()
	f.Reload() // reported once
	if got := f.Current().DestinationNames(); len(got) != 2 {
		t.Fatalf("a bad file replaced the routes: %v", got)
	}
	if ok, bad := testutil.ToFloat64(f.reloads.WithLabelValues("ok")), testutil.ToFloat64(f.reloads.WithLabelValues("error")); ok != 1 || bad != 1 {
		t.Fatalf("reloads ok %v, error %v; want 1 and 1", ok, bad)
	}
	if _, err := NewRoutesFile(RoutesFileConfig{Path: path, Logger: quiet}); err == nil || !strings.Contains(err.Error(), `unknown field "colour"`) {
		t.Fatalf("starting with a bad file: %v", err)
	}
}

// TestExampleRoutes: the example file in deploy/ parses, with its keys.
func TestExampleRoutes(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("../../deploy/alert-routes.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	r, err := ParseRoutes(data, func(string) (string, bool) { return "key", true }, func(string) ([]byte, error) { return []byte("key\n"), nil })
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Rules) == 0 || len(r.keys) == 0 {
		t.Fatalf("example routes %+v", r)
	}
}

// FuzzParseRoutes: no file makes ParseRoutes panic; whatever it accepts
// has a key for each webhook destination.
func FuzzParseRoutes(f *testing.F) {
	f.Add([]byte("destinations: [{name: a, type: dashboard}]\nrules: [{name: r, destinations: [a]}]\n"))
	f.Add([]byte("destinations:\n  - {name: h, type: webhook, url: 'https://x.example/h', secret_env: K}\nrules: []\n"))
	f.Add([]byte(`{"destinations": [{"name": "k", "type": "kafka", "topic": "t", "rate_limit": {"count": 2, "per": "1m"}}]}`))
	if data, err := os.ReadFile("../../deploy/alert-routes.example.yaml"); err == nil {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseRoutes(data, func(string) (string, bool) { return "key", true }, func(string) ([]byte, error) { return []byte("k"), nil })
		if err != nil {
			return
		}
		for name, d := range r.Destinations {
			if d.Type == alertroute.TypeWebhook && len(r.keys[name]) == 0 {
				t.Fatalf("webhook %s without a key", name)
			}
		}
	})
}

// TestRoutedSlackTextEscaped: the same for a routed slack destination.
func TestRoutedSlackTextEscaped(t *testing.T) {
	t.Parallel()
	ch := &chat{}
	ops := httptest.NewServer(ch)
	defer ops.Close()
	routes, err := ParseRoutes(fmt.Appendf(nil, `
destinations:
  - {name: ops, type: slack, url: %s/hook}
rules:
  - {name: all, match: {kind: [fraud]}, destinations: [ops]}
`, ops.URL), func(string) (string, bool) { return "", false }, os.ReadFile)
	if err != nil {
		t.Fatal(err)
	}
	s := openSQLite(t)
	queue(t, s, []byte(`{"transaction_id":"t1","customer_id":"<@U024BE7LH>","event_time":"2026-03-01T12:00:00Z","amount":12.50,"currency":"EUR","risk":0.97,"decision":"decline","reasons":[]}`))
	d, err := New(Config{Store: s, Routes: func() *Routes { return routes }, Interval: 2 * time.Millisecond, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	run(t, d, "the chat message", func() bool { return len(ch.all()) == 1 })
	text, _ := ch.all()[0]["text"].(string)
	if !strings.Contains(text, "customer &lt;@U024BE7LH&gt;") || strings.Contains(text, "<@") {
		t.Errorf("slack text %q, want the customer escaped", text)
	}
}
