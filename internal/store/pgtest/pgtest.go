// Package pgtest gives tests a real, throwaway PostgreSQL database.
//
// URL returns a connection URL to a fresh, empty database made for the
// calling test and dropped when it ends. The databases live on one server per
// test binary:
//
//   - If SHOPSTREAM_TEST_POSTGRES is set, it is the URL of a server on which
//     its user may create databases (PostgreSQL 13 or newer), and that server
//     is used as it is.
//   - Otherwise the first call starts a private cluster: initdb into a
//     temporary directory, then pg_ctl start on a free port of 127.0.0.1 with
//     the unix socket inside that directory, fsync on and
//     max_connections=200 (see package internal/pgcluster, which does the
//     work). When the test binary runs as root, initdb and the server run as
//     the "postgres" OS user, since PostgreSQL refuses root. The server
//     binaries are found through `pg_config --bindir`, PATH, or the newest
//     /usr/lib/postgresql/*/bin. Without them the test fails with a message
//     saying how to install them, or is skipped when
//     SHOPSTREAM_SKIP_POSTGRES=1.
//
// A package whose tests use pgtest calls Main from its TestMain, so the
// cluster is stopped and its directory removed when the tests end:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
// Main also stops the cluster on SIGINT and SIGTERM, and a small watchdog
// process stops it and removes its directory within a second if the test
// binary dies without cleaning up (a panic, `go test -timeout`, SIGKILL).
//
// Typical use:
//
//	func TestSomething(t *testing.T) {
//		t.Parallel()
//		pool, err := pgxpool.New(ctx, pgtest.URL(t))
//		...
//	}
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shopstream/shopstream/internal/pgcluster"
)

// Environment variables read by this package.
const (
	// EnvURL names an existing server to use instead of starting one: a URL
	// whose user may CREATE DATABASE, e.g.
	// postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable.
	EnvURL = "SHOPSTREAM_TEST_POSTGRES"
	// EnvSkip, set to 1, skips tests that need PostgreSQL when no server
	// binaries are installed, instead of failing them.
	EnvSkip = "SHOPSTREAM_SKIP_POSTGRES"
)

// moreHints follow pgcluster's install hint in the message about a missing
// server.
const moreHints = ", or set " + EnvURL + " to the URL of a server where the user may create databases, or set " +
	EnvSkip + "=1 to skip these tests"

// startTimeout bounds each CREATE or DROP DATABASE.
const startTimeout = 60 * time.Second

var (
	shared     server
	sharedOnce sync.Once
	dbSeq      atomic.Int64
)

// server is the one PostgreSQL server of this test binary.
type server struct {
	admin   string // URL of the maintenance database, as the superuser
	cluster *pgcluster.Cluster
	err     error
	skip    bool // binaries missing and EnvSkip set

	// mu is held for reading while databases are created or dropped and for
	// writing while the cluster stops and starts, so those never meet.
	mu sync.RWMutex
}

// get starts or finds the shared server once; later calls return the same
// result, including the same error.
func get() *server {
	sharedOnce.Do(func() {
		if u := os.Getenv(EnvURL); u != "" {
			if _, err := pgx.ParseConfig(u); err != nil {
				shared.err = fmt.Errorf("parsing %s: %w", EnvURL, err)
				return
			}
			shared.admin = u
			return
		}
		c, err := pgcluster.Start(context.Background(), pgcluster.Options{
			Settings:  map[string]string{"max_connections": "200"},
			DirPrefix: "shopstream-pgtest-",
		})
		if errors.Is(err, pgcluster.ErrNoServer) {
			shared.err = fmt.Errorf("%w%s", err, moreHints)
			shared.skip = os.Getenv(EnvSkip) == "1"
			return
		}
		if err != nil {
			shared.err = err
			return
		}
		shared.cluster = c
		shared.admin = c.URL("postgres")
		watchSignals()
	})
	return &shared
}

func (s *server) check(tb testing.TB) {
	tb.Helper()
	if s.err == nil {
		return
	}
	if s.skip {
		tb.Skipf("skipping: %v (%s=1)", s.err, EnvSkip)
	}
	tb.Fatalf("pgtest: %v", s.err)
}

// Server returns the URL of the shared server's maintenance database, as a
// user who may create databases. Tests should work in a database of their own
// from URL; Server is for what needs the server as a whole.
func Server(tb testing.TB) (adminURL string) {
	tb.Helper()
	s := get()
	s.check(tb)
	return s.admin
}

// URL returns a connection URL to a new, empty database for tb, dropped (with
// any connections still open to it) when tb and its subtests end. Each call
// makes a different database, so parallel tests never see each other's rows.
func URL(tb testing.TB) string {
	tb.Helper()
	return URLWith(tb, "")
}

// URLWith is URL with options of CREATE DATABASE, e.g. "TEMPLATE template0
// LOCALE_PROVIDER icu ICU_LOCALE 'en-US'" for a database whose default
// collation is not the cluster's C.
func URLWith(tb testing.TB, options string) string {
	tb.Helper()
	s := get()
	s.check(tb)

	name := dbName(tb.Name())
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if err := s.exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" "+options); err != nil {
		tb.Fatalf("pgtest: creating database %s: %v", name, err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
		defer cancel()
		// FORCE ends connections the test left open (PostgreSQL 13+).
		if err := s.exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			tb.Errorf("pgtest: dropping database %s: %v", name, err)
		}
	})
	u, err := withDatabase(s.admin, name)
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	return u
}

// exec runs one statement on a new connection to the maintenance database.
// A connection per statement costs a few milliseconds and survives Restart.
func (s *server) exec(ctx context.Context, sql string) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	conn, err := pgx.Connect(ctx, s.admin)
	if err != nil {
		return fmt.Errorf("connecting to %s: %w", redact(s.admin), err)
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}

// Restart stops the shared cluster the way a crash would (pg_ctl stop -m
// immediate: no shutdown checkpoint, every connection cut) and starts it
// again on the same port, so existing URLs stay valid; committed data
// survives through WAL recovery. It returns once the server accepts
// connections again.
//
// Restart affects EVERY test in the test binary that uses the shared cluster,
// including parallel ones: their connections break. Tests that call it should
// not call t.Parallel, and their package's other tests should tolerate it or
// live in another package. It skips the test when SHOPSTREAM_TEST_POSTGRES
// names an outside server, which pgtest does not control.
func Restart(tb testing.TB) {
	tb.Helper()
	Stop(tb)
	Start(tb)
}

// Stop stops the shared cluster (pg_ctl stop -m immediate), for a test that
// needs the database down for a while; Start starts it again. If the test
// ends while the cluster is stopped, it is started again for the tests after
// it. The warning on Restart applies.
func Stop(tb testing.TB) {
	tb.Helper()
	c := controlled(tb)
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if err := c.Stop(); err != nil {
		tb.Fatalf("pgtest: stopping the cluster: %v", err)
	}
	tb.Cleanup(func() {
		shared.mu.Lock()
		defer shared.mu.Unlock()
		if err := c.Start(); err != nil {
			tb.Errorf("pgtest: starting the cluster again after the test: %v", err)
		}
	})
}

// Start starts the shared cluster after Stop; if it runs, Start does nothing.
func Start(tb testing.TB) {
	tb.Helper()
	c := controlled(tb)
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if err := c.Start(); err != nil {
		tb.Fatalf("pgtest: starting the cluster: %v", err)
	}
}

func controlled(tb testing.TB) *pgcluster.Cluster {
	tb.Helper()
	s := get()
	s.check(tb)
	if s.cluster == nil {
		tb.Skipf("skipping: the server is %s's, which pgtest cannot stop or start", EnvURL)
	}
	return s.cluster
}

// Main runs the tests, then stops the shared cluster, if one was started, and
// removes its directory, and exits with the tests' status. Call it from
// TestMain.
func Main(m *testing.M) {
	code := m.Run()
	shutdown()
	os.Exit(code)
}

// shutdown stops the cluster and removes its directory; safe to call twice.
func shutdown() {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if c := shared.cluster; c != nil {
		if err := c.Destroy(); err != nil {
			fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
		}
	}
}

// watchSignals stops the cluster on SIGINT or SIGTERM, then lets the signal
// end the process as it would have. A signal the process started with
// ignored (SIGINT in a background job of a script) stays ignored.
func watchSignals() {
	ch := make(chan os.Signal, 1)
	for _, sig := range []os.Signal{syscall.SIGINT, syscall.SIGTERM} {
		if !signal.Ignored(sig) {
			signal.Notify(ch, sig)
		}
	}
	go func() {
		sig := <-ch
		shutdown()
		signal.Reset(sig)
		_ = syscall.Kill(os.Getpid(), sig.(syscall.Signal))
		time.Sleep(time.Second) // the default action ends the process first
		os.Exit(128 + int(sig.(syscall.Signal)))
	}()
}

// dbName makes a database name from a test name: unique in this process and,
// through the pid, among test binaries sharing one server; at most 63 bytes.
func dbName(testName string) string {
	slug := strings.Trim(nonWord.ReplaceAllString(strings.ToLower(testName), "_"), "_")
	prefix := fmt.Sprintf("pgtest_%d_%d_", os.Getpid(), dbSeq.Add(1))
	if max := 63 - len(prefix); len(slug) > max {
		slug = slug[:max]
	}
	return prefix + slug
}

var nonWord = regexp.MustCompile(`[^a-z0-9]+`)

// withDatabase returns u with its database replaced by name.
func withDatabase(u, name string) (string, error) {
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "postgres" && p.Scheme != "postgresql") {
		return "", fmt.Errorf("%s must be a postgres:// URL to derive database URLs from, got %q", EnvURL, redact(u))
	}
	p.Path = "/" + name
	p.RawPath = ""
	return p.String(), nil
}

// redact hides the password of a URL in messages.
func redact(u string) string {
	if p, err := url.Parse(u); err == nil {
		return p.Redacted()
	}
	return "(unparsable URL)"
}
