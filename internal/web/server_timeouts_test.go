package web_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/sqlite"
	"github.com/shopstream/shopstream/internal/web"
)

// serveOn starts the product server (web.Server.Serve: the http.Server
// with Limits' timeouts) on a loopback port and returns its address.
func serveOn(t *testing.T, st store.Store, limits web.Limits) string {
	t.Helper()
	srv, err := web.New(web.Config{Store: st, Addr: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler), Limits: limits})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := srv.Listen()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String()
}

func openStore(t *testing.T) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// dial connects to addr; every read fails after bound, which no test
// should reach: the server is expected to act well before.
func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetReadDeadline(time.Now().Add(10 * time.Second)) //nolint:errcheck // a fresh TCP connection
	return c
}

// trickle writes b one byte every step until stop is closed or a write
// fails (the server hung up), as a slow client does.
func trickle(c net.Conn, b []byte, step time.Duration, stop <-chan struct{}) {
	for _, x := range b {
		select {
		case <-stop:
			return
		case <-time.After(step):
		}
		if _, err := c.Write([]byte{x}); err != nil {
			return
		}
	}
}

// closedByServer reads a connection (dial's, or a reader of it) until it
// ends and reports how: what was answered, and an error for a connection
// the server left open.
func closedByServer(c io.Reader) (string, error) {
	b, err := io.ReadAll(c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return string(b), errors.New("the server kept the connection open")
	}
	return string(b), nil // EOF or reset: closed by the server
}

// A client sending its headers slowly is cut at ReadHeaderTimeout, long
// before the read timeout; the same request sent at once is answered.
func TestReadHeaderTimeoutCutsASlowClient(t *testing.T) {
	t.Parallel()
	addr := serveOn(t, openStore(t), web.Limits{ReadHeaderTimeout: 200 * time.Millisecond, ReadTimeout: time.Minute, IdleTimeout: time.Minute})
	request := "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slow\r\nAccept: */*\r\n" + strings.Repeat("X-Pad: aaaaaaaa\r\n", 40) + "\r\n"

	fast := dial(t, addr)
	if _, err := io.WriteString(fast, request); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(fast), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("headers sent at once: %d", resp.StatusCode)
	}

	slow := dial(t, addr)
	stop := make(chan struct{})
	defer close(stop)
	// 700-odd bytes, one every 20 ms: about 15 s to send them all.
	go trickle(slow, []byte(request), 20*time.Millisecond, stop)
	got, err := closedByServer(slow)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(got, "200 OK") {
		t.Fatalf("the slow client was answered: %q", got)
	}
}

// A client sending its body slowly is cut at ReadTimeout: the body's read
// fails (400, in the API's error shape) and the connection is closed.
func TestReadTimeoutCutsASlowBody(t *testing.T) {
	t.Parallel()
	addr := serveOn(t, openStore(t), web.Limits{ReadTimeout: 300 * time.Millisecond, IdleTimeout: time.Minute})
	c := dial(t, addr)
	body := `{"token":"` + strings.Repeat("x", 990) + `"}`
	if _, err := io.WriteString(c, "POST /api/v1/session HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1002\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	defer close(stop)
	go trickle(c, []byte(body), 20*time.Millisecond, stop)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "i/o timeout") {
		t.Fatalf("a body sent slowly: %d %s, want 400 naming the read's timeout", resp.StatusCode, b)
	}
	checkErrorBody(t, "a body sent slowly", resp.StatusCode, b)
	if _, err := closedByServer(br); err != nil {
		t.Fatal(err)
	}
}

// An idle keep-alive connection is closed at IdleTimeout.
func TestIdleTimeoutClosesIdleConnections(t *testing.T) {
	t.Parallel()
	addr := serveOn(t, openStore(t), web.Limits{IdleTimeout: 200 * time.Millisecond, ReadTimeout: time.Minute})
	c := dial(t, addr)
	if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body) //nolint:errcheck // the status matters
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Close {
		t.Fatalf("GET /healthz: %d, close %v; want 200 on a kept-alive connection", resp.StatusCode, resp.Close)
	}
	if got, err := closedByServer(br); err != nil || got != "" {
		t.Fatalf("idle connection: %q, %v", got, err)
	}
}

// slowSummary is the SQLite store whose summary is a real query that runs
// for minutes unless its context ends: a recursive count SQLite
// interrupts when the request's time is up.
type slowSummary struct{ *sqlite.Store }

func (s slowSummary) Summary(ctx context.Context) (store.Summary, error) {
	var n int64
	err := s.DB().QueryRowContext(ctx, "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT count(*) FROM (SELECT x FROM c LIMIT 2000000000)").Scan(&n)
	return store.Summary{}, err
}

// A request whose database call outlasts RequestTimeout is answered 503
// in the API's error shape, and the call is cancelled: the store answers
// the next request.
func TestRequestTimeoutAnswers503(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	addr := serveOn(t, slowSummary{st}, web.Limits{RequestTimeout: 300 * time.Millisecond})
	cl := &http.Client{Timeout: 20 * time.Second}
	resp, err := cl.Get("http://" + addr + "/api/v1/summary")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("a query past the request timeout: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	checkErrorBody(t, "GET /api/v1/summary past the request timeout", resp.StatusCode, b)
	if !strings.Contains(string(b), "timed out") || !strings.Contains(string(b), "request_id") {
		t.Errorf("503 body %s: want it to say it timed out, with the request ID", b)
	}
	resp, err = cl.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /healthz after the timed-out query: %d", resp.StatusCode)
	}
}

// The defaults stay: headers 10 s, or the read timeout when shorter.
func TestTimeoutDefaults(t *testing.T) {
	l := web.Limits{}.WithDefaults()
	if l.ReadHeaderTimeout != 10*time.Second || l.ReadTimeout != 15*time.Second || l.WriteTimeout != time.Minute ||
		l.IdleTimeout != 2*time.Minute || l.RequestTimeout != 30*time.Second {
		t.Fatalf("defaults %+v", l)
	}
	if l := (web.Limits{ReadTimeout: 2 * time.Second}).WithDefaults(); l.ReadHeaderTimeout != 2*time.Second {
		t.Fatalf("with a 2 s read timeout the header timeout is %v", l.ReadHeaderTimeout)
	}
}

// Headers over the limit are answered 431 in the API's error shape by the
// server's own check; past twice the limit net/http refuses them itself
// (plain text, no handler runs), which bounds what a client can make the
// server read.
func TestHeadersOverTheLimitAnswerJSON431(t *testing.T) {
	const limit = 8 << 10
	addr := serveOn(t, openStore(t), web.Limits{MaxHeaderBytes: limit})
	get := func(pad int) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, "http://"+addr+"/api/v1/summary", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Pad", strings.Repeat("a", pad))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, body
	}
	// Just under the limit: answered.
	if resp, body := get(limit - 512); resp.StatusCode != http.StatusOK {
		t.Fatalf("headers under the limit: %d %s", resp.StatusCode, body)
	}
	// Over the limit, under twice it: the server's 431 in the error shape.
	resp, body := get(limit + 1024)
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("headers over the limit: %d %s", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("431 content type %q", ct)
	}
	if resp.Header.Get("X-Request-Id") == "" || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("431 lacks the server's headers: %v", resp.Header)
	}
	var e web.ErrorResponse
	if err := json.Unmarshal(body, &e); err != nil || e.Error.Code != "header_too_large" || !strings.Contains(e.Error.Message, "8192") {
		t.Errorf("431 body %s (%v)", body, err)
	}
	// Past the hard bound (twice the limit, plus net/http's own 4 KiB):
	// net/http's plain 431.
	resp, body = get(2*limit + 8<<10)
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge || json.Valid(body) {
		t.Errorf("headers past the hard bound: %d %s", resp.StatusCode, body)
	}
}
