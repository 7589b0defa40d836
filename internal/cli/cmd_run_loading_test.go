package cli

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/shopstream/shopstream/internal/event"

	"github.com/shopstream/shopstream/internal/pipeline"
	"github.com/shopstream/shopstream/internal/quality"
	"github.com/shopstream/shopstream/internal/store/sqlite"
)

// closed reports whether ch is closed, without waiting.
func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// TestLoadTrackerGates: with analytics on, what waits for the first
// refresh (run's product fold) waits past the backfill's storing until
// that refresh ends, well or not, and a second end changes nothing; with
// analytics off it waits for the backfill alone.
func TestLoadTrackerGates(t *testing.T) {
	now := time.Now()
	l := newLoadTracker(time.Hour, now, true)
	if closed(l.stored) || closed(l.loaded) {
		t.Fatal("a gate open before the backfill is stored")
	}
	l.historyDone(10)
	l.backfillStored(now.Add(time.Second))
	if !closed(l.stored) || closed(l.loaded) {
		t.Fatalf("backfill stored: stored %v, loaded %v; want stored alone", closed(l.stored), closed(l.loaded))
	}
	l.firstRefreshEnded()
	l.firstRefreshEnded()
	if !closed(l.loaded) {
		t.Fatal("loaded still shut after the first refresh ended")
	}

	off := newLoadTracker(time.Hour, now, false)
	if closed(off.loaded) {
		t.Fatal("analytics off: loaded open before the backfill is stored")
	}
	off.historyDone(10)
	off.backfillStored(now.Add(time.Second))
	if !closed(off.loaded) {
		t.Fatal("analytics off: loaded shut after the backfill is stored")
	}
	off.firstRefreshEnded() // no refresh runs; must not close twice
	if none := newLoadTracker(0, now, true); !closed(none.stored) || closed(none.loaded) {
		t.Fatal("no history: stored must be open at once, loaded wait for the refresh")
	}
}

// TestLoadTrackerStoredAt: the snapshot says when the history was all
// stored, and only once it was.
func TestLoadTrackerStoredAt(t *testing.T) {
	now := time.Date(2026, 12, 6, 16, 26, 37, 0, time.UTC)
	l := newLoadTracker(time.Hour, now, true)
	l.historyDone(10)
	if s := l.snapshot(); s.Backfill.StoredAt != nil {
		t.Fatalf("storing, yet stored at %v", s.Backfill.StoredAt)
	}
	l.backfillStored(now.Add(12500 * time.Millisecond))
	s := l.snapshot()
	if s.Backfill.StoredAt == nil || !s.Backfill.StoredAt.Equal(now.Add(12500*time.Millisecond)) || s.Backfill.Seconds != 12.5 {
		t.Fatalf("stored 12.5 s after the start: stored_at %v, seconds %v", s.Backfill.StoredAt, s.Backfill.Seconds)
	}
	if s := newLoadTracker(0, now, true).snapshot(); s.Backfill.StoredAt != nil {
		t.Fatalf("no history, yet stored at %v", s.Backfill.StoredAt)
	}
}

// TestCheckHistoryAsHistory: while run's history is stored, the processor
// checks it with event_time_past widened to the history's length and a
// day, so a purchase of 400 days ago passes; once the history is stored,
// the contract in force before comes back, and warns of it again.
func TestCheckHistoryAsHistory(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	proc, err := pipeline.New(pipeline.Config{Brokers: []string{"127.0.0.1:1"}, Store: st, Group: "g",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	before := proc.Quality()
	now := time.Now()
	old := []byte(`{"schema_version":1,"transaction_id":"0f0c6c1e-3a2b-4f7e-9d51-0b8f2f1e6a42","customer_id":"c-1","event_time":"` + now.Add(-400*24*time.Hour).UTC().Format(time.RFC3339) +
		`","currency":"EUR","total_amount":10.00,"payment_method":"card","channel":"web","items":[{"product_id":"p-1","category":"books","quantity":1,"unit_price":10.00}],` +
		`"card":{"bin":"411111","last4":"4242"},"device_id":"d-1","ip_address":"81.2.69.160","billing_country":"DE","shipping_country":"DE"}`)
	stale := func(c *quality.Contract) bool {
		var tx event.Transaction
		var res quality.Result
		c.Decode(old, now, &tx, &res)
		if res.Failure != nil {
			t.Fatalf("the record fails %v", res.Failure)
		}
		return slices.Contains(res.Warnings, quality.CheckEventTimePast)
	}
	if !stale(before) {
		t.Fatal("the default contract does not warn of a purchase 400 days old")
	}
	stored := make(chan struct{})
	g, gctx := errgroup.WithContext(ctx)
	if err := checkHistoryAsHistory(gctx, g, proc, 540*24*time.Hour, stored); err != nil {
		t.Fatal(err)
	}
	during := proc.Quality()
	if got := time.Duration(during.Spec().Checks.EventTimePast.MaxSkew); got != 541*24*time.Hour {
		t.Errorf("event_time_past.max_skew during the history = %v, want %v", got, 541*24*time.Hour)
	}
	if stale(during) {
		t.Error("a purchase 400 days old is warned stale during a history of 540 days")
	}
	close(stored)
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	if proc.Quality() != before || !stale(proc.Quality()) {
		t.Error("the contract in force before did not come back once the history was stored")
	}
}
