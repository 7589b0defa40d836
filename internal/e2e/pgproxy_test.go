package e2e

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// pgProxy sits between processors and PostgreSQL, forwarding the wire
// protocol untouched, and can lose the reply to one batch's COMMIT: it
// forwards the COMMIT of the batch with a chosen sequence number, lets the
// server commit it, and cuts the connection before the reply reaches the
// processor. That is the ambiguous end of a database crash or network
// failure during a commit, made to happen on cue: the batch is stored, and
// the processor believes it failed.
type pgProxy struct {
	ln     net.Listener
	target string // host:port of the server
	cutAt  int64  // the batch commit to cut (1 is the first); 0: none

	commits atomic.Int64 // batch commits seen
	cuts    atomic.Int64 // commits whose reply was lost

	wg    sync.WaitGroup
	mu    sync.Mutex
	conns []net.Conn
}

// newPGProxy starts a proxy to the server of dbURL and returns it with the
// URL to reach the same database through it.
func newPGProxy(t *testing.T, dbURL string, cutAt int64) (*pgProxy, string) {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &pgProxy{ln: ln, target: u.Host, cutAt: cutAt}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(p.close)
	u.Host = ln.Addr().String()
	return p, u.String()
}

func (p *pgProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.handle(c)
		}()
	}
}

func (p *pgProxy) close() {
	p.ln.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *pgProxy) track(c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.conns = append(p.conns, c)
}

// handle forwards one client connection, reading the client's side message
// by message to spot a batch (COPY into transactions) and its COMMIT.
func (p *pgProxy) handle(client net.Conn) {
	p.track(client)
	defer client.Close()
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	p.track(server)
	defer server.Close()

	var mute atomic.Bool // drop what the server sends from now on
	go func() {
		defer client.Close()
		buf := make([]byte, 32<<10)
		for {
			n, err := server.Read(buf)
			if n > 0 && !mute.Load() {
				if _, werr := client.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()

	r := bufio.NewReaderSize(client, 64<<10)
	// The startup phase: untyped messages, the last of them the startup
	// message proper (after an optional SSL or GSS encryption request).
	for {
		msg, err := readMessage(r, false)
		if err != nil {
			return
		}
		if _, err := server.Write(msg); err != nil {
			return
		}
		if code := binary.BigEndian.Uint32(msg[4:8]); code != 80877103 && code != 80877104 {
			break
		}
	}
	inBatch := false
	for {
		msg, err := readMessage(r, true)
		if err != nil {
			return
		}
		if msg[0] == 'Q' {
			q := strings.ToLower(strings.TrimSpace(strings.TrimRight(string(msg[5:]), "\x00")))
			switch {
			case strings.HasPrefix(q, `copy "transactions"`):
				inBatch = true
			case q == "rollback":
				inBatch = false
			case q == "commit" && inBatch:
				inBatch = false
				if p.commits.Add(1) == p.cutAt {
					mute.Store(true)
					server.Write(msg)
					// Let the server commit, then cut both sides.
					time.Sleep(200 * time.Millisecond)
					p.cuts.Add(1)
					return
				}
			}
		}
		if _, err := server.Write(msg); err != nil {
			return
		}
	}
}

// readMessage reads one protocol message: a type byte (when typed), then a
// big-endian length that counts itself, then the body.
func readMessage(r *bufio.Reader, typed bool) ([]byte, error) {
	head := 4
	if typed {
		head = 5
	}
	msg := make([]byte, head)
	if _, err := io.ReadFull(r, msg); err != nil {
		return nil, err
	}
	n := int(binary.BigEndian.Uint32(msg[head-4:]))
	if n < 4 || n > 1<<30 {
		return nil, fmt.Errorf("bad message length %d", n)
	}
	msg = append(msg, make([]byte, n-4)...)
	_, err := io.ReadFull(r, msg[head:])
	return msg, err
}
