package web

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limiters keeps one token bucket (golang.org/x/time/rate) per key: a
// client address or a token. Buckets unused for idleAfter are dropped, so
// the map stays as small as the set of recent clients.
type limiters struct {
	limit rate.Limit
	burst int
	now   func() time.Time

	mu        sync.Mutex
	m         map[string]*bucket
	lastPrune time.Time
}

type bucket struct {
	l    *rate.Limiter
	seen time.Time
}

const idleAfter = 10 * time.Minute

// newLimiters returns per-key limiters of perSecond requests with burst;
// perSecond below 0 means no limit.
func newLimiters(perSecond float64, burst int, now func() time.Time) *limiters {
	if perSecond < 0 {
		return nil
	}
	return &limiters{limit: rate.Limit(perSecond), burst: burst, now: now, m: map[string]*bucket{}}
}

// allow takes one request of key from its bucket, or says how long to wait
// for one. A nil *limiters allows everything.
func (l *limiters) allow(key string) (ok bool, wait time.Duration) {
	if l == nil {
		return true, 0
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.lastPrune) > time.Minute {
		for k, b := range l.m {
			if now.Sub(b.seen) > idleAfter {
				delete(l.m, k)
			}
		}
		l.lastPrune = now
	}
	b := l.m[key]
	if b == nil {
		b = &bucket{l: rate.NewLimiter(l.limit, l.burst)}
		l.m[key] = b
	}
	b.seen = now
	res := b.l.ReserveN(now, 1)
	if !res.OK() {
		return false, time.Minute
	}
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return false, d
	}
	return true, 0
}
