package web

import (
	"bytes"
	"net/http"
	"sync"
	"time"
)

// readCache keeps the answers of the read routes (GET, role Viewer, not
// streaming) for a short time, by path and query: at a thousand requests
// a second the dashboard's and the API's reads ask the same few questions
// many times a second, and each answer costs a store query (the SQL
// parsed and run, the rows scanned) and its JSON. What a Viewer route
// answers depends on the store only, never on who asks, so one answer
// serves every caller allowed to ask; the guard checks credentials, role
// and rate limits before the cache is asked. Any change made through this
// server (a state-changing request) empties it, so a client reads its own
// writes at once; what the pipeline stores shows up within the TTL.
type readCache struct {
	ttl time.Duration
	now func() time.Time

	mu sync.Mutex
	m  map[string]cachedAnswer
}

// cachedAnswer is one kept answer.
type cachedAnswer struct {
	header http.Header
	body   []byte
	until  time.Time
}

// Bounds of the cache: answers past maxCachedBody bytes are not kept, and
// past maxCachedAnswers entries it starts afresh.
const (
	maxCachedBody    = 1 << 20
	maxCachedAnswers = 1024
)

func newReadCache(ttl time.Duration) *readCache {
	if ttl <= 0 {
		return nil
	}
	return &readCache{ttl: ttl, now: time.Now, m: map[string]cachedAnswer{}}
}

// cacheable reports whether answers of a route with acc, asked with
// method, may be kept.
func cacheable(method string, acc Access) bool {
	return method == http.MethodGet && acc.Role == Viewer && !acc.Stream
}

// serve answers r from the cache if it holds a fresh answer; else it runs
// next and keeps its answer if it is a 200 of at most maxCachedBody bytes.
func (c *readCache) serve(w http.ResponseWriter, r *http.Request, next http.Handler) {
	key := r.URL.Path + "?" + r.URL.RawQuery
	now := c.now()
	c.mu.Lock()
	a, ok := c.m[key]
	c.mu.Unlock()
	if ok && now.Before(a.until) {
		h := w.Header()
		for k, v := range a.header {
			h[k] = v
		}
		w.WriteHeader(http.StatusOK)
		w.Write(a.body) //nolint:errcheck // the client went away
		return
	}
	rec := &teeWriter{ResponseWriter: w}
	next.ServeHTTP(rec, r)
	if rec.status != http.StatusOK || rec.over {
		return
	}
	h := w.Header().Clone()
	h.Del("X-Request-Id")
	c.mu.Lock()
	if len(c.m) >= maxCachedAnswers {
		clear(c.m)
	}
	c.m[key] = cachedAnswer{header: h, body: rec.buf.Bytes(), until: now.Add(c.ttl)}
	c.mu.Unlock()
}

// clear forgets every answer: something changed.
func (c *readCache) clear() {
	c.mu.Lock()
	clear(c.m)
	c.mu.Unlock()
}

// teeWriter passes an answer on and keeps a copy of it.
type teeWriter struct {
	http.ResponseWriter
	status int
	buf    bytes.Buffer
	over   bool
}

func (t *teeWriter) WriteHeader(code int) {
	if t.status == 0 {
		t.status = code
	}
	t.ResponseWriter.WriteHeader(code)
}

func (t *teeWriter) Write(b []byte) (int, error) {
	if t.status == 0 {
		t.status = http.StatusOK
	}
	if !t.over {
		if t.buf.Len()+len(b) > maxCachedBody {
			t.over = true
			t.buf = bytes.Buffer{}
		} else {
			t.buf.Write(b)
		}
	}
	return t.ResponseWriter.Write(b)
}
