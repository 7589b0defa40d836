package web

import (
	"bytes"
	"net/http"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
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

	mu     sync.Mutex
	m      map[string]cachedAnswer
	flight singleflight.Group
}

// cachedAnswer is one kept answer.
type cachedAnswer struct {
	status int
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
// next, once for all the requests for the same key that arrive meanwhile
// (at a thousand requests a second, an expired answer is asked for again
// many times before the first asker has it), and keeps a 200 of at most
// maxCachedBody bytes. An answer other than a 200 goes to its own asker
// only: the others run next themselves.
func (c *readCache) serve(w http.ResponseWriter, r *http.Request, next http.Handler) {
	key := r.URL.Path + "?" + r.URL.RawQuery
	c.mu.Lock()
	a, ok := c.m[key]
	c.mu.Unlock()
	if ok && c.now().Before(a.until) {
		a.write(w)
		return
	}
	leader := false
	v, _, _ := c.flight.Do(key, func() (any, error) {
		leader = true
		buf := &bufferWriter{orig: w, header: http.Header{}}
		next.ServeHTTP(buf, r)
		a := &cachedAnswer{status: buf.status, header: buf.header, body: buf.body.Bytes(), until: c.now().Add(c.ttl)}
		if a.status == 0 {
			a.status = http.StatusOK
		}
		if a.status == http.StatusOK && len(a.body) <= maxCachedBody {
			c.mu.Lock()
			if len(c.m) >= maxCachedAnswers {
				clear(c.m)
			}
			c.m[key] = *a
			c.mu.Unlock()
		}
		return a, nil
	})
	ans := v.(*cachedAnswer)
	if leader || ans.status == http.StatusOK {
		ans.write(w)
		return
	}
	next.ServeHTTP(w, r)
}

// write sends the answer.
func (a *cachedAnswer) write(w http.ResponseWriter) {
	h := w.Header()
	for k, v := range a.header {
		h[k] = v
	}
	w.WriteHeader(a.status)
	w.Write(a.body) //nolint:errcheck // the client went away
}

// clear forgets every answer: something changed.
func (c *readCache) clear() {
	c.mu.Lock()
	clear(c.m)
	c.mu.Unlock()
}

// bufferWriter keeps an answer to send it to every asker. WriteError logs
// under the request ID of orig, the writer of the request that runs the
// handler; Unwrap gives it to http.ResponseController.
type bufferWriter struct {
	orig   http.ResponseWriter
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferWriter) Header() http.Header { return b.header }

func (b *bufferWriter) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}

func (b *bufferWriter) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}

// Unwrap returns the writer of the request that runs the handler.
func (b *bufferWriter) Unwrap() http.ResponseWriter { return b.orig }
