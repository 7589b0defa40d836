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
//     max_connections=200. When the test binary runs as root, initdb and the
//     server run as the "postgres" OS user, since PostgreSQL refuses root. The
//     server binaries are found through `pg_config --bindir`, PATH, or the
//     newest /usr/lib/postgresql/*/bin. Without them the test fails with a
//     message saying how to install them, or is skipped when
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
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"os/user"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
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

// installHint is how to get a server, in every message about a missing one.
const installHint = "install the PostgreSQL server (Debian/Ubuntu: apt-get install -y postgresql; " +
	"other systems: the package providing initdb and pg_ctl), or set " + EnvURL +
	" to the URL of a server where the user may create databases, or set " + EnvSkip +
	"=1 to skip these tests"

// startTimeout bounds pg_ctl start and stop.
const startTimeout = 60 * time.Second

var (
	shared     server
	sharedOnce sync.Once
	dbSeq      atomic.Int64
)

// server is the one PostgreSQL server of this test binary.
type server struct {
	admin   string // URL of the maintenance database, as the superuser
	cluster *cluster
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
		bin, err := findBinaries()
		if err != nil {
			shared.err = err
			shared.skip = os.Getenv(EnvSkip) == "1"
			return
		}
		c, err := startCluster(bin)
		if err != nil {
			shared.err = err
			return
		}
		shared.cluster = c
		shared.admin = c.url("postgres")
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
	s := get()
	s.check(tb)

	name := dbName(tb.Name())
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if err := s.exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
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
	if err := c.stop(); err != nil {
		tb.Fatalf("pgtest: stopping the cluster: %v", err)
	}
	tb.Cleanup(func() {
		shared.mu.Lock()
		defer shared.mu.Unlock()
		if err := c.start(); err != nil {
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
	if err := c.start(); err != nil {
		tb.Fatalf("pgtest: starting the cluster: %v", err)
	}
}

func controlled(tb testing.TB) *cluster {
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
		if err := c.destroy(); err != nil {
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

// binaries are the server programs of one PostgreSQL installation.
type binaries struct{ initdb, pgCtl string }

// findBinaries looks for initdb, pg_ctl and postgres in one directory: the
// one `pg_config --bindir` names, then the one pg_ctl is in on PATH, then the
// newest /usr/lib/postgresql/*/bin (Debian's layout, off PATH).
func findBinaries() (binaries, error) {
	var dirs []string
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		dirs = append(dirs, strings.TrimSpace(string(out)))
	}
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		dirs = append(dirs, filepath.Dir(p))
	}
	dirs = append(dirs, debianBinDirs()...)
	for _, d := range dirs {
		b := binaries{initdb: filepath.Join(d, "initdb"), pgCtl: filepath.Join(d, "pg_ctl")}
		if isExecutable(b.initdb) && isExecutable(b.pgCtl) && isExecutable(filepath.Join(d, "postgres")) {
			return b, nil
		}
	}
	return binaries{}, fmt.Errorf("no PostgreSQL server binaries (initdb, pg_ctl, postgres) found "+
		"via pg_config --bindir, PATH or /usr/lib/postgresql/*/bin: %s", installHint)
}

// debianBinDirs lists /usr/lib/postgresql/<version>/bin, newest first.
func debianBinDirs() []string {
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	version := func(dir string) float64 {
		v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(dir)), 64)
		return v
	}
	sort.Slice(matches, func(i, j int) bool { return version(matches[i]) > version(matches[j]) })
	return matches
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// cluster is a PostgreSQL cluster in a temporary directory, run by pg_ctl.
type cluster struct {
	bin      binaries
	dir      string // temporary directory holding everything below
	data     string // data directory
	logFile  string
	port     int
	cred     *syscall.Credential // the postgres OS user when running as root
	watchdog *os.Process
	running  bool
	removed  bool
}

// startCluster makes a cluster with initdb and starts it on a free port,
// trying another port if the first is taken in the meantime.
func startCluster(bin binaries) (*cluster, error) {
	c := &cluster{bin: bin}
	if os.Geteuid() == 0 {
		cred, err := postgresUser()
		if err != nil {
			return nil, err
		}
		c.cred = cred
	}
	dir, err := os.MkdirTemp("", "shopstream-pgtest-")
	if err != nil {
		return nil, fmt.Errorf("making the cluster directory: %w", err)
	}
	c.dir = dir
	c.data = filepath.Join(dir, "data")
	c.logFile = filepath.Join(dir, "postgres.log")
	if c.cred != nil {
		if err := os.Chown(dir, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
			c.removeDir()
			return nil, fmt.Errorf("handing %s to the postgres user: %w", dir, err)
		}
	}
	if err := c.startWatchdog(); err != nil {
		c.removeDir()
		return nil, err
	}

	out, err := c.command(bin.initdb, "-D", c.data, "-U", "postgres", "--auth=trust",
		"--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions").CombinedOutput()
	if err != nil {
		_ = c.destroy()
		return nil, fmt.Errorf("initdb failed: %w\n%s", err, out)
	}
	// The settings live in a file of their own, included once, so a restart
	// keeps them. fsync stays on, as in production.
	conf, err := os.OpenFile(filepath.Join(c.data, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err == nil {
		_, err = conf.WriteString("\ninclude 'pgtest.conf'\n")
		err = errors.Join(err, conf.Close())
	}
	if err != nil {
		_ = c.destroy()
		return nil, fmt.Errorf("configuring the cluster: %w", err)
	}

	for attempt := 1; ; attempt++ {
		if c.port, err = freePort(); err == nil {
			if err = c.writeSettings(); err == nil {
				err = c.start()
			}
		}
		if err == nil {
			return c, nil
		}
		if attempt == 3 || !strings.Contains(err.Error(), "in use") {
			_ = c.destroy()
			return nil, err
		}
	}
}

func (c *cluster) writeSettings() error {
	settings := fmt.Sprintf(`# Written by pgtest.
listen_addresses = '127.0.0.1'
port = %d
unix_socket_directories = '%s'
max_connections = 200
fsync = on
`, c.port, strings.ReplaceAll(c.dir, "'", "''"))
	path := filepath.Join(c.data, "pgtest.conf")
	if err := os.WriteFile(path, []byte(settings), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if c.cred != nil {
		return os.Chown(path, int(c.cred.Uid), int(c.cred.Gid))
	}
	return nil
}

func (c *cluster) url(database string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.port, database)
}

// start runs pg_ctl start and waits until the server accepts connections.
func (c *cluster) start() error {
	if c.running {
		return nil
	}
	out, err := c.command(c.bin.pgCtl, "start", "-D", c.data, "-l", c.logFile, "-w",
		"-t", strconv.Itoa(int(startTimeout.Seconds()))).CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_ctl start failed: %w\n%s\nlast lines of %s:\n%s", err, out, c.logFile, c.logTail())
	}
	c.running = true
	return nil
}

// stop runs pg_ctl stop -m immediate and waits until the server is gone.
func (c *cluster) stop() error {
	if !c.running {
		return nil
	}
	out, err := c.command(c.bin.pgCtl, "stop", "-D", c.data, "-m", "immediate", "-w",
		"-t", strconv.Itoa(int(startTimeout.Seconds()))).CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_ctl stop failed: %w\n%s", err, out)
	}
	c.running = false
	return nil
}

// destroy stops the server, ends the watchdog and removes the directory.
func (c *cluster) destroy() error {
	if c.removed {
		return nil
	}
	err := c.stop()
	if c.watchdog != nil {
		// The watchdog leads its own process group: end it and its sleep.
		_ = syscall.Kill(-c.watchdog.Pid, syscall.SIGKILL)
		_, _ = c.watchdog.Wait()
		c.watchdog = nil
	}
	c.removeDir()
	return err
}

func (c *cluster) removeDir() {
	c.removed = true
	if err := os.RemoveAll(c.dir); err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: removing %s: %v\n", c.dir, err)
	}
}

// startWatchdog starts a shell, in a session of its own, that waits for this
// process to end and then stops the server and removes the directory; normal
// shutdown kills it first. It is what cleans up when the test binary dies
// without running Main's cleanup (panic, -timeout, SIGKILL).
func (c *cluster) startWatchdog() error {
	const script = `while [ -d "/proc/$1" ]; do sleep 1; done
"$2" stop -D "$3" -m immediate -w >/dev/null 2>&1
rm -rf "$4"`
	cmd := c.command("/bin/sh", "-c", script, "pgtest-watchdog",
		strconv.Itoa(os.Getpid()), c.bin.pgCtl, c.data, c.dir)
	cmd.SysProcAttr.Setsid = true
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting the cleanup watchdog: %w", err)
	}
	c.watchdog = cmd.Process
	return nil
}

// command prepares a program to run as the cluster's OS user.
func (c *cluster) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Dir = c.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	// pg_ctl hands the server's output to the log file; WaitDelay guards
	// against any child that still holds our pipes.
	cmd.WaitDelay = 5 * time.Second
	cmd.Env = append(os.Environ(), "LC_ALL=C", "PGTZ=UTC")
	return cmd
}

func (c *cluster) logTail() string {
	b, err := os.ReadFile(c.logFile)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	return strings.Join(lines, "\n")
}

// postgresUser returns the credential of the "postgres" OS user, under which
// initdb and the server run when the tests run as root.
func postgresUser() (*syscall.Credential, error) {
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, PostgreSQL must run as another user, and the user \"postgres\" was not found (%v): "+
			"installing the server package creates it (apt-get install -y postgresql), or run the tests as a normal user", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("user postgres has a non-numeric uid %q or gid %q", u.Uid, u.Gid)
	}
	// No supplementary groups: the server must not keep root's.
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// freePort asks the kernel for a free TCP port on 127.0.0.1.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
