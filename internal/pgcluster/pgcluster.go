// Package pgcluster runs a private, throwaway PostgreSQL cluster: for tests
// (through internal/store/pgtest) and for `shopstream bench` when it is given
// no server.
//
// Start runs initdb into a new temporary directory and pg_ctl start on a free
// port of 127.0.0.1, with the unix socket inside that directory, trust
// authentication for the superuser "postgres" and fsync on, as in
// production. When the process runs as root, initdb and the server run as the
// "postgres" OS user, since PostgreSQL refuses root. The server binaries are
// found through `pg_config --bindir`, PATH, or the newest
// /usr/lib/postgresql/*/bin; without them Start fails with an error that
// wraps ErrNoServer and says how to install them.
//
// Destroy stops the server and removes the directory. A small watchdog
// process does the same within a second if this process dies without calling
// Destroy (a panic, a timeout, SIGKILL), so no server or directory is left
// behind.
//
// Typical use:
//
//	c, err := pgcluster.Start(ctx, pgcluster.Options{
//		Settings: map[string]string{"max_connections": "200"},
//	})
//	if err != nil {
//		return err
//	}
//	defer c.Destroy()
//	pool, err := pgxpool.New(ctx, c.URL("postgres"))
package pgcluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ErrNoServer is wrapped by the error of Start when no PostgreSQL server
// binaries (initdb, pg_ctl, postgres) are installed. The error's message says
// how to install them.
var ErrNoServer = errors.New("no PostgreSQL server binaries (initdb, pg_ctl, postgres) found")

// InstallHint says how to install the server binaries; the error wrapping
// ErrNoServer ends with it.
const InstallHint = "install the PostgreSQL server (Debian/Ubuntu: apt-get install -y postgresql; " +
	"other systems: the package providing initdb and pg_ctl)"

// Superuser is the database superuser of a cluster, who connects without a
// password.
const Superuser = "postgres"

// timeout bounds pg_ctl start and stop.
const timeout = 60 * time.Second

// confFile holds the cluster's settings, included from postgresql.conf.
const confFile = "pgcluster.conf"

// Options configure Start. The zero value is ready to use.
type Options struct {
	// Settings are extra postgresql.conf parameters, e.g.
	// {"max_connections": "200"}; they may override fsync but not
	// listen_addresses, port or unix_socket_directories, which the cluster
	// manages. Values are written quoted, so units work: "256MB".
	Settings map[string]string
	// DirPrefix starts the name of the temporary directory; default
	// "shopstream-pgcluster-".
	DirPrefix string
	// Logf, if set, receives a line for each step (initdb, start, stop,
	// removal).
	Logf func(format string, args ...any)
}

// Cluster is a running (or stopped) private PostgreSQL cluster. Its methods
// are safe for concurrent use.
type Cluster struct {
	bin      binaries
	dir      string // temporary directory holding everything below
	data     string // data directory
	logFile  string
	port     int
	settings map[string]string
	cred     *syscall.Credential // the postgres OS user when running as root
	logf     func(format string, args ...any)

	mu       sync.Mutex
	watchdog *os.Process
	running  bool
	removed  bool
}

// Start makes a new cluster with initdb and starts it on a free port; it
// returns once the server accepts connections. ctx bounds initdb and the
// first start; the cluster outlives it. The caller must call Destroy.
func Start(ctx context.Context, opt Options) (*Cluster, error) {
	settings, err := checkSettings(opt.Settings)
	if err != nil {
		return nil, err
	}
	bin, err := findBinaries()
	if err != nil {
		return nil, err
	}
	c := &Cluster{bin: bin, settings: settings, logf: opt.Logf}
	if c.logf == nil {
		c.logf = func(string, ...any) {}
	}
	if os.Geteuid() == 0 {
		if c.cred, err = postgresUser(); err != nil {
			return nil, err
		}
	}
	prefix := opt.DirPrefix
	if prefix == "" {
		prefix = "shopstream-pgcluster-"
	}
	if c.dir, err = os.MkdirTemp("", prefix); err != nil {
		return nil, fmt.Errorf("making the cluster directory: %w", err)
	}
	c.data = filepath.Join(c.dir, "data")
	c.logFile = filepath.Join(c.dir, "postgres.log")
	if c.cred != nil {
		if err := os.Chown(c.dir, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
			return nil, errors.Join(fmt.Errorf("handing %s to the postgres user: %w", c.dir, err), c.Destroy())
		}
	}
	if err := c.startWatchdog(); err != nil {
		return nil, errors.Join(err, c.Destroy())
	}

	c.logf("pgcluster: initdb in %s (binaries in %s)", c.data, filepath.Dir(bin.initdb))
	out, err := c.command(ctx, bin.initdb, "-D", c.data, "-U", Superuser, "--auth=trust",
		"--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions").CombinedOutput()
	if err != nil {
		return nil, errors.Join(fmt.Errorf("initdb failed: %w\n%s", err, out), c.Destroy())
	}
	// The settings live in a file of their own, included once, so a restart
	// keeps them.
	conf, err := os.OpenFile(filepath.Join(c.data, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err == nil {
		_, err = conf.WriteString("\ninclude '" + confFile + "'\n")
		err = errors.Join(err, conf.Close())
	}
	if err != nil {
		return nil, errors.Join(fmt.Errorf("configuring the cluster: %w", err), c.Destroy())
	}

	// A free port may be taken by someone else before the server binds it:
	// then try another.
	for attempt := 1; ; attempt++ {
		if c.port, err = freePort(); err == nil {
			if err = c.writeSettings(); err == nil {
				err = c.start(ctx)
			}
		}
		if err == nil {
			return c, nil
		}
		if attempt == 3 || ctx.Err() != nil || !strings.Contains(err.Error(), "in use") {
			return nil, errors.Join(err, c.Destroy())
		}
	}
}

// URL returns the URL of database on the cluster, as the superuser
// "postgres" over TCP, e.g.
// postgres://postgres@127.0.0.1:45678/postgres?sslmode=disable. The
// maintenance database "postgres" always exists. URLs stay valid across Stop,
// Start and Restart.
func (c *Cluster) URL(database string) string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", Superuser, c.port, database)
}

// Port returns the TCP port the server listens on, on 127.0.0.1.
func (c *Cluster) Port() int { return c.port }

// Dir returns the temporary directory holding the data directory ("data"),
// the server log ("postgres.log") and the unix socket.
func (c *Cluster) Dir() string { return c.dir }

// Stop stops the server the way a crash would (pg_ctl stop -m immediate: no
// shutdown checkpoint, every connection cut) and waits until it is gone;
// committed data survives through WAL recovery at the next Start. Stopping a
// stopped cluster does nothing.
func (c *Cluster) Stop() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stop()
}

// Start starts the server again after Stop, on the same port, and returns
// once it accepts connections. Starting a running cluster does nothing.
func (c *Cluster) Start() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.removed {
		return errors.New("pgcluster: starting a destroyed cluster")
	}
	return c.start(context.Background())
}

// Restart is Stop then Start: a crash and recovery of the server.
func (c *Cluster) Restart() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.removed {
		return errors.New("pgcluster: restarting a destroyed cluster")
	}
	if err := c.stop(); err != nil {
		return err
	}
	return c.start(context.Background())
}

// Destroy stops the server (immediately), ends the watchdog and removes the
// cluster's directory. Later calls do nothing and return nil.
func (c *Cluster) Destroy() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.removed {
		return nil
	}
	c.removed = true
	if _, err := os.Stat(filepath.Join(c.data, "postmaster.pid")); c.data != "" && err == nil {
		// A server may run that pg_ctl start did not report, e.g. when ctx
		// ended during Start.
		c.running = true
	}
	err := c.stop()
	if c.watchdog != nil {
		// The watchdog leads its own process group: end it and its sleep.
		_ = syscall.Kill(-c.watchdog.Pid, syscall.SIGKILL)
		_, _ = c.watchdog.Wait()
		c.watchdog = nil
	}
	if rmErr := os.RemoveAll(c.dir); rmErr != nil {
		err = errors.Join(err, fmt.Errorf("removing %s: %w", c.dir, rmErr))
	} else {
		c.logf("pgcluster: removed %s", c.dir)
	}
	return err
}

// LogTail returns the last n lines of the server log, for error messages.
func (c *Cluster) LogTail(n int) string {
	b, err := os.ReadFile(c.logFile)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// start runs pg_ctl start and waits until the server accepts connections.
// c.mu is held, or c is not yet shared.
func (c *Cluster) start(ctx context.Context) error {
	if c.running {
		return nil
	}
	out, err := c.command(ctx, c.bin.pgCtl, "start", "-D", c.data, "-l", c.logFile, "-w",
		"-t", strconv.Itoa(int(timeout.Seconds()))).CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_ctl start failed: %w\n%s\nlast lines of %s:\n%s", err, out, c.logFile, c.LogTail(20))
	}
	c.running = true
	c.logf("pgcluster: server running on 127.0.0.1:%d", c.port)
	return nil
}

// stop runs pg_ctl stop -m immediate and waits until the server is gone.
// c.mu is held, or c is not yet shared.
func (c *Cluster) stop() error {
	if !c.running {
		return nil
	}
	out, err := c.command(context.Background(), c.bin.pgCtl, "stop", "-D", c.data, "-m", "immediate", "-w",
		"-t", strconv.Itoa(int(timeout.Seconds()))).CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_ctl stop failed: %w\n%s", err, out)
	}
	c.running = false
	c.logf("pgcluster: server on 127.0.0.1:%d stopped", c.port)
	return nil
}

// managed are the settings Start owns.
var managed = map[string]bool{"listen_addresses": true, "port": true, "unix_socket_directories": true}

var settingName = regexp.MustCompile(`^[a-z_][a-z0-9_.]*$`)

// checkSettings validates opt.Settings and returns a copy.
func checkSettings(s map[string]string) (map[string]string, error) {
	out := make(map[string]string, len(s))
	for k, v := range s {
		switch {
		case !settingName.MatchString(k):
			return nil, fmt.Errorf("pgcluster: invalid setting name %q", k)
		case managed[k]:
			return nil, fmt.Errorf("pgcluster: setting %s is managed by pgcluster", k)
		case strings.ContainsAny(v, "\n\r\x00"):
			return nil, fmt.Errorf("pgcluster: setting %s: value %q has a line break or NUL", k, v)
		}
		out[k] = v
	}
	return out, nil
}

// writeSettings writes the included configuration file: the managed
// settings, fsync on, then Options.Settings in name order.
func (c *Cluster) writeSettings() error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Written by pgcluster.\nlisten_addresses = '127.0.0.1'\nport = %d\nunix_socket_directories = %s\nfsync = on\n",
		c.port, quote(c.dir))
	names := make([]string, 0, len(c.settings))
	for k := range c.settings {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		fmt.Fprintf(&b, "%s = %s\n", k, quote(c.settings[k]))
	}
	path := filepath.Join(c.data, confFile)
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if c.cred != nil {
		return os.Chown(path, int(c.cred.Uid), int(c.cred.Gid))
	}
	return nil
}

// quote makes a postgresql.conf string literal.
func quote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `''`).Replace(s) + "'"
}

// startWatchdog starts a shell, in a session of its own, that waits for this
// process to end and then stops the server and removes the directory;
// Destroy kills it first. It is what cleans up when this process dies
// without calling Destroy (panic, timeout, SIGKILL).
func (c *Cluster) startWatchdog() error {
	const script = `while [ -d "/proc/$1" ]; do sleep 1; done
"$2" stop -D "$3" -m immediate -w >/dev/null 2>&1
rm -rf "$4"`
	cmd := c.command(context.Background(), "/bin/sh", "-c", script, "pgcluster-watchdog",
		strconv.Itoa(os.Getpid()), c.bin.pgCtl, c.data, c.dir)
	cmd.SysProcAttr.Setsid = true
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting the cleanup watchdog: %w", err)
	}
	c.watchdog = cmd.Process
	return nil
}

// command prepares a program to run as the cluster's OS user, killed if ctx
// ends first.
func (c *Cluster) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = c.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	// pg_ctl hands the server's output to the log file; WaitDelay guards
	// against any child that still holds our pipes.
	cmd.WaitDelay = 5 * time.Second
	cmd.Env = append(os.Environ(), "LC_ALL=C", "PGTZ=UTC")
	return cmd
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
	return findBinariesIn(dirs)
}

func findBinariesIn(dirs []string) (binaries, error) {
	for _, d := range dirs {
		b := binaries{initdb: filepath.Join(d, "initdb"), pgCtl: filepath.Join(d, "pg_ctl")}
		if isExecutable(b.initdb) && isExecutable(b.pgCtl) && isExecutable(filepath.Join(d, "postgres")) {
			return b, nil
		}
	}
	return binaries{}, fmt.Errorf("%w via pg_config --bindir, PATH or /usr/lib/postgresql/*/bin: %s", ErrNoServer, InstallHint)
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

// postgresUser returns the credential of the "postgres" OS user, under which
// initdb and the server run when this process runs as root.
func postgresUser() (*syscall.Credential, error) {
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, PostgreSQL must run as another user, and the user \"postgres\" was not found (%v): "+
			"installing the server package creates it (apt-get install -y postgresql), or run as a normal user", err)
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
