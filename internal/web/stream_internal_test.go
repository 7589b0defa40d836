package web

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/sqlite"
	"github.com/shopstream/shopstream/internal/store/storetest"
)

// sseEvent is one event read from a stream.
type sseEvent struct {
	name string
	data string
}

// readEvents sends the events of the stream body to a channel, closed when
// the stream ends.
func readEvents(body interface{ Read([]byte) (int, error) }) <-chan sseEvent {
	out := make(chan sseEvent, 256)
	go func() {
		defer close(out)
		sc := bufio.NewScanner(body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				ev.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				ev.data = strings.TrimPrefix(line, "data: ")
			case line == "" && ev.name != "":
				out <- ev
				ev = sseEvent{}
			}
		}
	}()
	return out
}

// next returns the next event named name, failing after timeout.
func next(t *testing.T, evs <-chan sseEvent, name string) sseEvent {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		select {
		case ev, ok := <-evs:
			if !ok {
				t.Fatalf("the stream ended before a %s event", name)
			}
			if ev.name == name {
				return ev
			}
		case <-deadline:
			t.Fatalf("no %s event within 15 s", name)
		}
	}
}

func streamServer(t *testing.T) (*Server, *sqlite.Store, string, context.CancelFunc, <-chan error) {
	t.Helper()
	// A write timeout shorter than the tests' streams: each event must
	// extend it.
	return streamServerWith(t, Limits{WriteTimeout: time.Second})
}

// streamServerWith is streamServer with limits.
func streamServerWith(t *testing.T, limits Limits) (*Server, *sqlite.Store, string, context.CancelFunc, <-chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	srv, err := New(Config{Store: st, Addr: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler), Limits: limits})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()
	t.Cleanup(cancel)
	return srv, st, "http://" + ln.Addr().String(), cancel, served
}

func writeTxs(ctx context.Context, t *testing.T, st *sqlite.Store, from int64, n int, alert bool) {
	t.Helper()
	p := store.Part{Partition: 0, From: from, To: from + int64(n), CheckedAt: time.Now()}
	for i := range n {
		tx := storetest.Tx("tx-"+time.Now().Format("150405.000000")+"-"+string(rune('a'+i)), "c1", time.Now(), 1250, 0, from+int64(i))
		if alert && i == 0 {
			tx.Risk, tx.Decision, tx.ReasonsJSON = 0.95, "decline", []byte(`["velocity"]`)
			p.Alerts = append(p.Alerts, store.Alert{TransactionID: tx.TransactionID, CustomerID: tx.CustomerID, EventTime: tx.EventTime,
				Risk: tx.Risk, Decision: tx.Decision, ReasonsJSON: tx.ReasonsJSON, AmountCents: tx.TotalCents})
		}
		p.Txs = append(p.Txs, tx)
	}
	if err := st.WriteBatch(ctx, &store.Batch{Group: "g", Topic: "t", Parts: []store.Part{p}}); err != nil {
		t.Fatal(err)
	}
}

// TestStreamFollowsTheStore opens the stream, writes transactions and an
// alert, and expects the summary to grow with changed_at set, the minute
// to count them and the alert to arrive; then the client goes away and the
// hub, left without subscribers, stops.
func TestStreamFollowsTheStore(t *testing.T) {
	srv, st, base, _, _ := streamServer(t)
	ctx := context.Background()
	writeTxs(ctx, t, st, 0, 3, false)

	cctx, hangUp := context.WithCancel(ctx)
	req, _ := http.NewRequestWithContext(cctx, "GET", base+"/api/v1/stream", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("GET /api/v1/stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	evs := readEvents(resp.Body)
	var sum StreamSummary
	if err := json.Unmarshal([]byte(next(t, evs, "summary").data), &sum); err != nil {
		t.Fatal(err)
	}
	if sum.TransactionsTotal != 3 || sum.ChangedAt != nil {
		t.Fatalf("first summary: total %d, changed_at %v; want 3 and none yet", sum.TransactionsTotal, sum.ChangedAt)
	}
	next(t, evs, "ready")

	writeTxs(ctx, t, st, 3, 4, true)
	// A tick reads the summary before the alerts, so the new alert may
	// come in the tick whose summary still counts 3: wait for both, in
	// either order.
	var as map[string][]AlertJSON
	deadline := time.After(15 * time.Second)
	for sum.TransactionsTotal != 7 || as == nil {
		var ev sseEvent
		var ok bool
		select {
		case ev, ok = <-evs:
			if !ok {
				t.Fatal("the stream ended before the summary of 7 and the alerts event")
			}
		case <-deadline:
			t.Fatalf("within 15 s: summary total %d, alerts event %v; want 7 and one", sum.TransactionsTotal, as != nil)
		}
		switch ev.name {
		case "summary":
			if err := json.Unmarshal([]byte(ev.data), &sum); err != nil {
				t.Fatal(err)
			}
		case "alerts":
			if err := json.Unmarshal([]byte(ev.data), &as); err != nil {
				t.Fatal(err)
			}
		}
	}
	if sum.ChangedAt == nil || sum.ChangedAt.After(sum.At) {
		t.Errorf("summary after growth: changed_at %v, at %v; want a time not after at", sum.ChangedAt, sum.At)
	}
	if a := as["alerts"]; len(a) != 1 || a[0].Decision != "decline" || a[0].CustomerID != "c1" {
		t.Errorf("alerts event = %+v, want the declined transaction of c1", a)
	}
	// Its chargeback arrives on the labels topic: the alert, now with its
	// scenario, comes again as a labels event.
	if a := as["alerts"]; len(a) == 1 {
		lb := &store.Batch{Group: "g", Topic: "labels", Parts: []store.Part{{Partition: 0, From: 0, To: 1, LabelEvents: []store.LabelEvent{{
			LabelID: "cb-1", TransactionID: a[0].TransactionID, Kind: "chargeback", Fraud: true, Scenario: "card_testing", ReasonCode: "10.4",
			EventTime: time.Now()}}}}}
		if _, err := st.WriteLabels(ctx, lb, store.LabelOptions{}); err != nil {
			t.Fatal(err)
		}
		var ls map[string][]AlertJSON
		if err := json.Unmarshal([]byte(next(t, evs, "labels").data), &ls); err != nil {
			t.Fatal(err)
		}
		if l := ls["alerts"]; len(l) != 1 || l[0].TransactionID != a[0].TransactionID || l[0].Scenario == nil || *l[0].Scenario != "card_testing" {
			t.Errorf("labels event = %+v, want the alert with scenario card_testing", l)
		}
	}
	var m map[string][]StreamMinute
	for {
		if err := json.Unmarshal([]byte(next(t, evs, "minute").data), &m); err != nil {
			t.Fatal(err)
		}
		var n int64
		for _, x := range m["minutes"] {
			n += x.Count
		}
		if n == 7 {
			break
		}
	}

	// The stream outlives the server's one-second write timeout.
	firstAt := sum.At
	for sum.At.Sub(firstAt) < 2500*time.Millisecond {
		if err := json.Unmarshal([]byte(next(t, evs, "summary").data), &sum); err != nil {
			t.Fatal(err)
		}
	}

	hangUp()
	h := srv.hub()
	for i := 0; ; i++ {
		h.mu.Lock()
		running, subs := h.running, len(h.subs)
		h.mu.Unlock()
		if !running && subs == 0 {
			break
		}
		if i > 100 {
			t.Fatalf("after the client left: hub running %v with %d subscribers", running, subs)
		}
		time.Sleep(50 * time.Millisecond) // polled: the hub stops on its next tick
	}
}

// TestStreamEndsOnShutdown: Serve must return within its grace period
// while a stream is open, the stream ending with an end event.
func TestStreamEndsOnShutdown(t *testing.T) {
	_, _, base, cancel, served := streamServer(t)
	resp, err := http.Get(base + "/api/v1/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	evs := readEvents(resp.Body)
	next(t, evs, "summary")
	cancel()
	end := next(t, evs, "end")
	if !strings.Contains(end.data, "shutting down") {
		t.Errorf("end event %s, want the shutdown named", end.data)
	}
	select {
	case err := <-served:
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return with a stream open")
	}
}

// TestStreamNeedsAViewer: with a token stored, the stream wants one, and a
// bad ?events is refused naming the parameter.
func TestStreamNeedsAViewer(t *testing.T) {
	_, st, base, _, _ := streamServer(t)
	c, err := CreateToken(context.Background(), st, "ops", store.RoleViewer, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	get := func(path, token string) int {
		req, _ := http.NewRequest("GET", base+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			evs := readEvents(resp.Body)
			n := 0
			for range evs {
				n++
			}
			if n != 2 {
				t.Errorf("%s: %d events, want the 2 asked for", path, n)
			}
		}
		return resp.StatusCode
	}
	if code := get("/api/v1/stream", ""); code != http.StatusUnauthorized {
		t.Errorf("stream without a token: %d, want 401", code)
	}
	if code := get("/api/v1/stream?events=2", c.Token); code != http.StatusOK {
		t.Errorf("stream with a viewer's token: %d, want 200", code)
	}
	if code := get("/api/v1/stream?events=0", c.Token); code != http.StatusBadRequest {
		t.Errorf("stream?events=0: %d, want 400", code)
	}
}

// TestStreamMinutes sums window rows per minute over channels, oldest
// first, revenue per currency, and marks the minute not over as partial.
func TestStreamMinutes(t *testing.T) {
	now := time.Date(2026, 3, 1, 10, 5, 30, 0, time.UTC)
	m4, m5 := now.Truncate(time.Minute).Add(-time.Minute), now.Truncate(time.Minute)
	rows := []store.WindowRow{
		{Start: m5, Channel: "web", Currency: "EUR", Count: 2, RevenueCents: 500, Alerts: 1},
		{Start: m4, Channel: "web", Currency: "EUR", Count: 3, RevenueCents: 700},
		{Start: m4, Channel: "app", Currency: "EUR", Count: 1, RevenueCents: 100, Alerts: 1},
		{Start: m4, Channel: "app", Currency: "JPY", Count: 1, RevenueCents: 900},
	}
	got := streamMinutes(rows, now)["minutes"]
	if len(got) != 2 || !got[0].Start.Equal(m4) || got[0].Partial || !got[1].Partial {
		t.Fatalf("minutes %+v, want 10:04 complete then 10:05 partial", got)
	}
	if got[0].Count != 5 || got[0].Alerts != 1 || len(got[0].Revenue) != 2 || got[0].Revenue[0].Currency != "JPY" || got[0].Revenue[0].Amount != "900" ||
		got[0].Revenue[1].Currency != "EUR" || got[0].Revenue[1].Amount != "8.00" {
		t.Errorf("10:04 = %+v, want 5 transactions, 1 alert, 900 JPY and 8.00 EUR", got[0])
	}
	if got[1].Count != 2 || got[1].Alerts != 1 {
		t.Errorf("10:05 = %+v, want 2 transactions and 1 alert", got[1])
	}
}

// TestStreamSlots: the live streams one client (its token) may hold open
// at once, and the server in all, are bounded; past either, 429 with
// Retry-After naming the bound; a stream closed gives its slot back.
func TestStreamSlots(t *testing.T) {
	_, st, base, _, _ := streamServerWith(t, Limits{WriteTimeout: time.Second, MaxStreams: 3, MaxStreamsPerClient: 2})
	token := func(name string) string {
		c, err := CreateToken(context.Background(), st, name, store.RoleViewer, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return c.Token
	}
	a, b, c := token("a"), token("b"), token("c")
	open := func(token string) (*http.Response, string) {
		req, _ := http.NewRequest("GET", base+"/api/v1/stream", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode == http.StatusOK {
			t.Cleanup(func() { resp.Body.Close() })
			next(t, readEvents(resp.Body), "summary")
			return resp, ""
		}
		var e ErrorResponse
		json.NewDecoder(resp.Body).Decode(&e) //nolint:errcheck // checked below
		resp.Body.Close()
		if resp.Header.Get("Retry-After") == "" {
			t.Errorf("%d without Retry-After", resp.StatusCode)
		}
		return resp, e.Error.Code + ": " + e.Error.Message
	}
	a1, _ := open(a)
	if r, _ := open(a); r.StatusCode != http.StatusOK {
		t.Fatalf("a's second stream: %d", r.StatusCode)
	}
	if r, msg := open(a); r.StatusCode != http.StatusTooManyRequests || !strings.Contains(msg, "rate_limited: too many requests: this client has 2 live streams open") {
		t.Errorf("a's third stream: %d %s, want 429 naming the client's bound", r.StatusCode, msg)
	}
	if r, _ := open(b); r.StatusCode != http.StatusOK {
		t.Fatalf("b's stream: %d", r.StatusCode)
	}
	if r, msg := open(c); r.StatusCode != http.StatusTooManyRequests || !strings.Contains(msg, "the server has 3 live streams open") {
		t.Errorf("c's stream with 3 open: %d %s, want 429 naming the server's bound", r.StatusCode, msg)
	}
	a1.Body.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r, _ := open(c)
		if r.StatusCode == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("c's stream after a's first closed: %d", r.StatusCode)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
