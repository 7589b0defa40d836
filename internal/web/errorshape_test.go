package web_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/shopstream/shopstream/internal/store/sqlite"
	"github.com/shopstream/shopstream/internal/web"
)

// lockedBuffer is a log sink safe for the server's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestErrorShapeEverywhere checks the answers that come from no API
// handler's WriteError: a handler that panics, the dashboard's file server
// and the mux's own refusals outside /api/. Each is the API's
// ErrorResponse with its status, while what succeeds is unchanged.
func TestErrorShapeEverywhere(t *testing.T) {
	st, err := sqlite.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var logs lockedBuffer
	srv, err := web.New(web.Config{Store: st, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv.Handle("GET /api/v1/panics", http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("a bug in a handler")
	}))
	srv.Handle("GET /api/v1/panics-late", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		web.WriteJSON(w, http.StatusOK, map[string]string{"half": "an answer"})
		panic("a bug after the answer began")
	}))
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	do := func(method, path string) (*http.Response, []byte, error) {
		hr, err := http.NewRequest(method, ts.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(hr)
		if err != nil {
			return nil, nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp, b, err
	}

	for _, c := range []struct {
		method, path string
		status       int
		allow        string
	}{
		{"GET", "/api/v1/panics", http.StatusInternalServerError, ""},
		{"GET", "/no-such-file.js", http.StatusNotFound, ""},
		{"GET", "/vendor/nothing.css", http.StatusNotFound, ""},
		{"GET", "/%ff", http.StatusNotFound, ""},
		{"GET", "/vendor/", http.StatusNotFound, ""},
		{"GET", "/vendor", http.StatusNotFound, ""},
		{"POST", "/", http.StatusMethodNotAllowed, "GET, HEAD"},
		{"POST", "/healthz", http.StatusMethodNotAllowed, "GET, HEAD"},
		{"DELETE", "/metrics", http.StatusMethodNotAllowed, "GET, HEAD"},
		{"PUT", "/core.js", http.StatusMethodNotAllowed, "GET, HEAD"},
	} {
		resp, body, err := do(c.method, c.path)
		if err != nil {
			t.Errorf("%s %s: %v", c.method, c.path, err)
			continue
		}
		if resp.StatusCode != c.status || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			t.Errorf("%s %s: %d %q %s, want a JSON %d", c.method, c.path, resp.StatusCode, resp.Header.Get("Content-Type"), body, c.status)
			continue
		}
		checkErrorBody(t, c.method+" "+c.path, resp.StatusCode, body)
		if c.allow != "" && resp.Header.Get("Allow") != c.allow {
			t.Errorf("%s %s: Allow %q, want %q", c.method, c.path, resp.Header.Get("Allow"), c.allow)
		}
		if resp.Header.Get("X-Request-Id") == "" {
			t.Errorf("%s %s: no X-Request-Id", c.method, c.path)
		}
	}
	// The panic is logged with its request ID, which the answer names;
	// its value is not shown to the client.
	resp, body, err := do("GET", "/api/v1/panics")
	if err != nil {
		t.Fatal(err)
	}
	id := resp.Header.Get("X-Request-Id")
	if !strings.Contains(string(body), id) || strings.Contains(string(body), "a bug") {
		t.Errorf("the panic's answer %s should name request %s and hide the panic", body, id)
	}
	if l := logs.String(); !strings.Contains(l, "request_id="+id) || !strings.Contains(l, "a bug in a handler") || !strings.Contains(l, "goroutine") {
		t.Errorf("the panic is not logged with its request ID and stack:\n%s", l)
	}
	// A panic after the answer began cannot change its status: the
	// connection is cut, so the client sees a broken answer, not a whole one.
	if _, body, err := do("GET", "/api/v1/panics-late"); err == nil {
		t.Errorf("a panic after the answer began: the client read a whole answer %s", body)
	}

	// What succeeds is as before.
	for _, c := range []struct{ path, ctype string }{{"/", "text/html"}, {"/core.js", "javascript"}, {"/healthz", "application/json"}, {"/metrics", "text/plain"}} {
		resp, body, err := do("GET", c.path)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Content-Type"), c.ctype) {
			t.Errorf("GET %s: %d %q %.80s", c.path, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
	}
	// A HEAD of a missing file is a 404 without a body, as HEAD is.
	resp, body, err = do("HEAD", "/no-such-file.js")
	if err != nil || resp.StatusCode != http.StatusNotFound || len(body) != 0 {
		t.Errorf("HEAD /no-such-file.js: %v %v %q", resp, err, body)
	}
}
