package cli

import (
	"testing"
	"time"
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
