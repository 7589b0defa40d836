package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/shopstream/shopstream/internal/store"
)

// The live stream: GET /api/v1/stream answers with Server-Sent Events, so
// a dashboard tab needs one connection for every panel instead of a poll
// per panel. One hub per server reads the store once a tick, whatever the
// number of tabs, and fans the events out; it runs only while a tab
// listens. Events (each data line one JSON object):
//
//	summary  the running totals (SummaryResponse) with "at", the server's
//	         clock, and "changed_at", when the hub last saw the stored
//	         total grow (null until it has): what the freshness indicator reads
//	ready    the /readyz answer (Readiness), lag per partition included
//	minute   the per-minute windows of the last two minutes in event
//	         time, summed over channels: count, alerts, revenue per currency
//	alerts   the alerts stored since the previous tick ({"alerts": [AlertJSON]},
//	         oldest first, at most streamMaxAlerts a tick), when there are any
//	labels   the alerts whose label changed since the previous tick: a
//	         label event named their scenario, an analyst marked them
//	         ({"alerts": [AlertJSON]}, in the order of the change, at most
//	         streamMaxAlerts a tick), when there are any
//	quality  the quality counts of the last five minutes (QualityResponse
//	         without findings)
//
// A tab joining gets the latest summary, ready, minute and quality at
// once. A tab too slow to take its events is disconnected (its browser
// reconnects and backfills). The stream ends when the client goes, when
// the server shuts down, and when the session or token it was opened with
// no longer authenticates (an "end" event says why).

// streamTick is how often the hub reads the store; a hub takes the value
// in force when the server first streams (a benchmark shortens it to push
// ten updates a second).
var streamTick = time.Second

// streamMaxAlerts bounds the alerts sent per tick; more are left to the
// alerts API, which pages.
const streamMaxAlerts = 100

// streamBuffer is how many events a tab may fall behind before it is
// disconnected.
const streamBuffer = 64

// streamHub reads the store on a ticker while it has subscribers.
type streamHub struct {
	s *Server

	mu      sync.Mutex
	subs    map[chan []byte]struct{}
	running bool
	latest  map[string][]byte // the last event of each kind, for joiners

	// Owned by the running loop.
	lastTotal int64
	changedAt *time.Time
	// alertSeq follows the alerts by ID and changeSeq their changes by
	// number (store.AlertChanges), each once its first tick has noted
	// where the series stands.
	alertSeq, changeSeq           seqFollower
	alertsStarted, changesStarted bool
	tick                          int
	every                         time.Duration // streamTick when the hub was made
}

func (s *Server) hub() *streamHub {
	s.hubOnce.Do(func() {
		s.streamHub = &streamHub{s: s, subs: map[chan []byte]struct{}{}, latest: map[string][]byte{}, lastTotal: -1, every: streamTick}
	})
	return s.streamHub
}

// subscribe adds a subscriber and starts the loop when it is the first.
// It returns the channel and the latest events to send first.
func (h *streamHub) subscribe() (chan []byte, [][]byte) {
	ch := make(chan []byte, streamBuffer)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.subs[ch] = struct{}{}
	if !h.running {
		h.running = true
		// Alerts stored while no tab listened are the API's to page
		// through: a fresh start sends only those after it.
		h.alertsStarted, h.changesStarted = false, false
		go h.run()
	}
	var first [][]byte
	for _, kind := range []string{"ready", "summary", "minute", "quality"} {
		if b := h.latest[kind]; b != nil {
			first = append(first, b)
		}
	}
	return ch, first
}

func (h *streamHub) unsubscribe(ch chan []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.subs, ch)
}

// run reads and publishes once a tick until no subscriber is left or the
// server shuts down.
func (h *streamHub) run() {
	t := time.NewTicker(h.every)
	defer t.Stop()
	for {
		h.once()
		select {
		case <-h.s.done:
			h.mu.Lock()
			h.running = false
			h.mu.Unlock()
			return
		case <-t.C:
		}
		h.mu.Lock()
		if len(h.subs) == 0 {
			h.running = false
			h.mu.Unlock()
			return
		}
		h.mu.Unlock()
	}
}

// once reads what changed and publishes it.
func (h *streamHub) once() {
	ctx, cancel := context.WithTimeout(context.Background(), max(h.every*3, 3*time.Second))
	defer cancel()
	now := time.Now()
	h.tick++

	rd := Readiness{Ready: true}
	if h.s.cfg.Ready != nil {
		rd = h.s.cfg.Ready(ctx)
	}
	if err := h.s.cfg.Store.Ping(ctx); err != nil {
		rd.Ready = false
		rd.Reasons = append(rd.Reasons, "store: not answering (the server's log says why)")
	}
	h.publish("ready", rd)

	if sum, err := h.s.cachedSummary(ctx); err != nil {
		h.s.log.Warn("stream: reading the summary", "err", err)
	} else {
		if sum.TransactionsTotal != h.lastTotal {
			if h.lastTotal >= 0 {
				at := now.UTC()
				h.changedAt = &at
			}
			h.lastTotal = sum.TransactionsTotal
		}
		out := summaryJSON(sum)
		if h.s.cfg.Loading != nil {
			l := h.s.cfg.Loading()
			out.Loading = &l
		}
		h.publish("summary", StreamSummary{SummaryResponse: out, At: now.UTC(), ChangedAt: h.changedAt})
	}

	if rows, err := h.s.cfg.Store.Windows(ctx, store.Minute, now.Truncate(time.Minute).Add(-time.Minute)); err != nil {
		h.s.log.Warn("stream: reading the minutes", "err", err)
	} else {
		h.publish("minute", streamMinutes(rows, now))
	}

	if a, ok := h.s.cfg.Store.(interface {
		Alerts(context.Context, store.AlertFilter) ([]store.AlertRecord, error)
	}); ok {
		h.alerts(ctx, a)
	}

	if c, ok := h.s.cfg.Store.(store.AlertChanges); ok {
		h.changes(ctx, c)
	}

	if q, ok := h.s.cfg.Store.(store.Quality); ok && (h.tick%5 == 1) {
		to := now.UTC().Truncate(time.Minute).Add(time.Minute)
		from := to.Add(-5 * time.Minute)
		if rows, err := q.QualityMinutes(ctx, from, to); err != nil {
			h.s.log.Warn("stream: reading the quality counts", "err", err)
		} else {
			h.publish("quality", qualityJSON(from, to, rows, nil))
		}
	}
}

// streamGapReads bounds the gaps of a series read again each tick.
const streamGapReads = 8

// alerts publishes the alerts stored since the last tick, and those
// committed late with a lower ID than one already sent (seqFollower). The
// first tick only notes where the newest is: a joining tab backfills from
// the API.
func (h *streamHub) alerts(ctx context.Context, a interface {
	Alerts(context.Context, store.AlertFilter) ([]store.AlertRecord, error)
}) {
	if !h.alertsStarted {
		as, err := a.Alerts(ctx, store.AlertFilter{Limit: 1})
		if err != nil {
			h.s.log.Warn("stream: reading the alerts", "err", err)
			return
		}
		var newest int64
		if len(as) > 0 {
			newest = as[0].ID
		}
		h.alertSeq.start(newest)
		h.alertsStarted = true
		return
	}
	now := time.Now()
	var out []AlertJSON
	// The store answers newest first; each read is sent oldest first.
	take := func(as []store.AlertRecord) {
		for i := len(as) - 1; i >= 0; i-- {
			if h.alertSeq.admit(as[i].ID, now) {
				out = append(out, alertJSON(&as[i]))
			}
		}
	}
	for _, g := range h.alertSeq.pending(streamGapReads) {
		as, err := a.Alerts(ctx, store.AlertFilter{SinceID: g.from - 1, BeforeID: g.to + 1, Limit: int(min(g.to-g.from+1, 1000))})
		if err != nil {
			h.s.log.Warn("stream: reading the alerts", "err", err)
			return
		}
		take(as)
	}
	as, err := a.Alerts(ctx, store.AlertFilter{SinceID: h.alertSeq.top, Limit: streamMaxAlerts})
	if err != nil {
		h.s.log.Warn("stream: reading the alerts", "err", err)
		return
	}
	take(as)
	h.alertSeq.settle(now, seqGapWait)
	if len(out) == 0 {
		return
	}
	// One event, so a burst cannot fill a tab's buffer.
	h.publish("alerts", map[string][]AlertJSON{"alerts": out})
}

// changes publishes the alerts whose label changed since the last tick,
// the way alerts publishes new ones, late changes included: the first
// tick only notes where the changes are, later ones send those past it.
func (h *streamHub) changes(ctx context.Context, c store.AlertChanges) {
	if !h.changesStarted {
		_, latest, err := c.AlertChanges(ctx, -1, 1)
		if err != nil {
			h.s.log.Warn("stream: reading the changed alerts", "err", err)
			return
		}
		h.changeSeq.start(latest)
		h.changesStarted = true
		return
	}
	now := time.Now()
	var out []AlertJSON
	take := func(as []store.AlertRecord, upTo int64) {
		for i := range as {
			if as[i].Change > upTo {
				return
			}
			if h.changeSeq.admit(as[i].Change, now) {
				out = append(out, alertJSON(&as[i]))
			}
		}
	}
	for _, g := range h.changeSeq.pending(streamGapReads) {
		// In the order of their numbers: the gap's come first.
		as, _, err := c.AlertChanges(ctx, g.from-1, int(min(g.to-g.from+1, 1000)))
		if err != nil {
			h.s.log.Warn("stream: reading the changed alerts", "err", err)
			return
		}
		take(as, g.to)
	}
	as, _, err := c.AlertChanges(ctx, h.changeSeq.top, streamMaxAlerts)
	if err != nil {
		h.s.log.Warn("stream: reading the changed alerts", "err", err)
		return
	}
	take(as, math.MaxInt64)
	h.changeSeq.settle(now, seqGapWait)
	if len(out) == 0 {
		return
	}
	h.publish("labels", map[string][]AlertJSON{"alerts": out})
}

// publish encodes one event and hands it to every subscriber; one whose
// buffer is full is dropped (its handler sees the channel closed).
func (h *streamHub) publish(kind string, v any) {
	var b bytes.Buffer
	b.WriteString("event: " + kind + "\ndata: ")
	if err := json.NewEncoder(&b).Encode(v); err != nil { // ends with the newline of the data line
		h.s.log.Error("stream: encoding an event", "event", kind, "err", err)
		return
	}
	b.WriteString("\n")
	msg := b.Bytes()
	h.mu.Lock()
	defer h.mu.Unlock()
	if kind != "alerts" && kind != "labels" {
		h.latest[kind] = msg
	}
	for ch := range h.subs {
		select {
		case ch <- msg:
		default:
			delete(h.subs, ch)
			close(ch)
		}
	}
}

// StreamSummary is the data of a summary event.
type StreamSummary struct {
	SummaryResponse
	// At is the server's clock when the totals were read.
	At time.Time `json:"at"`
	// ChangedAt is when the stream last saw the stored total grow; null
	// until it has, since the stream started.
	ChangedAt *time.Time `json:"changed_at"`
}

// StreamMinute is one minute of a minute event.
type StreamMinute struct {
	Start   time.Time        `json:"start"`
	Count   int64            `json:"count"`
	Alerts  int64            `json:"alerts"`
	Revenue []CurrencyAmount `json:"revenue"`
	// Partial is true for the minute not over yet.
	Partial bool `json:"partial"`
}

// streamMinutes sums window rows per minute, over channels and payment
// methods, oldest first.
func streamMinutes(rows []store.WindowRow, now time.Time) map[string][]StreamMinute {
	type acc struct {
		n, alerts int64
		rev       map[string]int64
	}
	by := map[time.Time]*acc{}
	var order []time.Time
	for _, r := range rows {
		a := by[r.Start]
		if a == nil {
			a = &acc{rev: map[string]int64{}}
			by[r.Start] = a
			order = append(order, r.Start)
		}
		a.n += r.Count
		a.alerts += r.Alerts
		a.rev[r.Currency] += r.RevenueCents
	}
	out := make([]StreamMinute, 0, len(order))
	for _, t := range order {
		a := by[t]
		out = append(out, StreamMinute{Start: t.UTC(), Count: a.n, Alerts: a.alerts, Revenue: Amounts(a.rev), Partial: t.Add(time.Minute).After(now)})
	}
	for i := 1; i < len(out); i++ { // insertion sort: a few rows
		for j := i; j > 0 && out[j].Start.Before(out[j-1].Start); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return map[string][]StreamMinute{"minutes": out}
}

// streamAuthEvery is how often a stream checks that its credentials still
// authenticate, so a revoked token or an expired session stops it.
const streamAuthEvery = 15 * time.Second

// streamHeartbeat keeps proxies from closing a quiet stream.
const streamHeartbeat = 15 * time.Second

// stream serves GET /api/v1/stream.
func (s *Server) stream(w http.ResponseWriter, r *http.Request) {
	limit := -1
	if v := r.URL.Query().Get("events"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			WriteError(w, fmt.Errorf("%w: events %q, want a number of events from 1 to 1000", ErrBadRequest, v))
			return
		}
		limit = n
	}
	client := streamClient(r)
	if err := s.streams.take(client, s.limits.MaxStreams, s.limits.MaxStreamsPerClient); err != nil {
		w.Header().Set("Retry-After", "5")
		WriteError(w, err)
		return
	}
	defer s.streams.give(client)
	rc := http.NewResponseController(w)
	// Each write must finish within the server's write timeout; the
	// deadline moves on with every event instead of lasting the stream.
	extend := func() { rc.SetWriteDeadline(time.Now().Add(s.limits.WriteTimeout)) } //nolint:errcheck // not every writer has one
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	extend()
	w.WriteHeader(http.StatusOK)
	ch, first := s.hub().subscribe()
	defer s.hub().unsubscribe(ch)
	write := func(b []byte) bool {
		if limit == 0 {
			return false
		}
		if bytes.HasPrefix(b, []byte("event: ")) && limit > 0 {
			limit--
		}
		extend()
		if _, err := w.Write(b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	// The browser reconnects after 2 s when the connection drops.
	if !write([]byte("retry: 2000\n\n")) {
		return
	}
	for _, b := range first {
		if !write(b) {
			return
		}
	}
	auth := time.NewTicker(streamAuthEvery)
	defer auth.Stop()
	beat := time.NewTicker(streamHeartbeat)
	defer beat.Stop()
	end := func(why string) {
		b, _ := json.Marshal(map[string]string{"reason": why})
		write(fmt.Appendf(nil, "event: end\ndata: %s\n\n", b))
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.done:
			end("the server is shutting down")
			return
		case b, ok := <-ch:
			if !ok {
				end("this client fell behind; reconnect")
				return
			}
			if !write(b) {
				return
			}
		case <-beat.C:
			if !write([]byte(": keep-alive\n\n")) {
				return
			}
		case <-auth.C:
			if p, ok := r.Context().Value(principalKey{}).(Principal); ok && p.Actor != "anonymous" {
				if _, err := s.auth.authenticate(r); err != nil {
					// The reason may be the database's error: logged, not sent.
					s.log.Info("stream ended: its credentials no longer hold", "err", err)
					end("signed out")
					return
				}
			}
		}
	}
}

// streamSlots counts the open streams, in all and per client.
type streamSlots struct {
	mu    sync.Mutex
	total int
	per   map[string]int
}

// take counts a stream of client, or says which bound it would pass (a
// bound below 0 is off).
func (l *streamSlots) take(client string, most, perClient int) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case perClient >= 0 && l.per[client] >= perClient:
		return fmt.Errorf("%w: this client has %d live streams open, the most one may; close a dashboard tab, or retry once one closed", ErrTooManyRequests, l.per[client])
	case most >= 0 && l.total >= most:
		return fmt.Errorf("%w: the server has %d live streams open, the most it serves; retry later", ErrTooManyRequests, l.total)
	}
	if l.per == nil {
		l.per = map[string]int{}
	}
	l.per[client]++
	l.total++
	return nil
}

func (l *streamSlots) give(client string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total--
	if l.per[client]--; l.per[client] <= 0 {
		delete(l.per, client)
	}
}

// streamClient is whom a stream's slot counts against: its token or
// session, else, open to this machine or anyone, its address.
func streamClient(r *http.Request) string {
	if p, ok := r.Context().Value(principalKey{}).(Principal); ok && p.TokenID != 0 {
		return "token " + strconv.FormatInt(p.TokenID, 10)
	}
	return "address " + clientAddr(r)
}
