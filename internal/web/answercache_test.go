package web

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestAnswerCacheServesStaleWhileRebuilding: once an answer is kept, a
// request past the TTL gets it at once while one rebuild runs in the
// background, held here until the test lets it finish; the next request
// gets the rebuilt answer, and a failed rebuild keeps the older one.
func TestAnswerCacheServesStaleWhileRebuilding(t *testing.T) {
	rebuilt := make(chan string, 4)
	h := &answerCache{ttl: time.Nanosecond, rebuilt: func(k string) { rebuilt <- k }}
	release := make(chan struct{})
	builds := 0
	var fail error
	build := func(ctx context.Context) (any, error) {
		builds++
		if builds > 1 {
			<-release
		}
		if fail != nil {
			return nil, fail
		}
		return builds, nil
	}
	ctx := context.Background()
	if v, err := h.cached(ctx, "k", build); err != nil || v != 1 {
		t.Fatalf("first answer %v, %v; want 1 built while the request waits", v, err)
	}
	time.Sleep(time.Millisecond) // past the TTL of a nanosecond
	// The rebuild is held on release: the request must not wait for it.
	if v, err := h.cached(ctx, "k", build); err != nil || v != 1 {
		t.Fatalf("answer past the TTL %v, %v; want the kept 1 at once", v, err)
	}
	// A second stale request starts no second rebuild.
	if v, _ := h.cached(ctx, "k", build); v != 1 {
		t.Fatalf("answer %v while rebuilding, want 1", v)
	}
	close(release)
	if k := <-rebuilt; k != "k" {
		t.Fatalf("rebuilt %q", k)
	}
	if builds != 2 {
		t.Fatalf("%d builds, want 2: one rebuild for both stale requests", builds)
	}
	if v, _ := h.cached(ctx, "k", build); v != 2 {
		t.Fatalf("answer after the rebuild %v, want 2", v)
	}
	<-rebuilt // the rebuild that request started
	fail = errors.New("store away")
	time.Sleep(time.Millisecond)
	h.cached(ctx, "k", build)
	<-rebuilt
	if v, err := h.cached(ctx, "k", build); err != nil || v != 3 {
		t.Fatalf("answer after a failed rebuild %v, %v; want the kept 3", v, err)
	}
	<-rebuilt
}
