package pgcluster_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shopstream/shopstream/internal/pgcluster"
)

// start starts a cluster for t, skipped like pgtest's tests when no server is
// installed and SHOPSTREAM_SKIP_POSTGRES=1.
func start(t *testing.T, opt pgcluster.Options) *pgcluster.Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := pgcluster.Start(ctx, opt)
	if errors.Is(err, pgcluster.ErrNoServer) && os.Getenv("SHOPSTREAM_SKIP_POSTGRES") == "1" {
		t.Skipf("skipping: %v", err)
	}
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Destroy(); err != nil {
			t.Errorf("Destroy: %v", err)
		}
	})
	return c
}

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connecting to %s: %v", url, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func TestLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var logged []string
	c := start(t, pgcluster.Options{
		Settings: map[string]string{"max_connections": "42", "work_mem": "8MB"},
		Logf:     func(format string, args ...any) { logged = append(logged, format) },
	})
	if len(logged) == 0 {
		t.Error("Logf was never called")
	}
	if !strings.Contains(c.URL("postgres"), "127.0.0.1:") || c.Port() == 0 {
		t.Errorf("URL %q, port %d", c.URL("postgres"), c.Port())
	}

	before := connect(t, c.URL("postgres"))
	for setting, want := range map[string]string{"max_connections": "42", "work_mem": "8MB", "fsync": "on"} {
		var got string
		if err := before.QueryRow(ctx, "SHOW "+setting).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%s = %q, want %q", setting, got, want)
		}
	}
	if _, err := before.Exec(ctx, `CREATE TABLE t (id int PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	if _, err := before.Exec(ctx, `INSERT INTO t SELECT generate_series(1, 1000)`); err != nil {
		t.Fatal(err)
	}

	if err := c.Restart(); err != nil {
		t.Fatalf("Restart: %v", err)
	}
	if err := before.Ping(ctx); err == nil {
		t.Error("a connection from before the restart still works; want it cut")
	}
	var n int
	if err := connect(t, c.URL("postgres")).QueryRow(ctx, `SELECT count(*) FROM t`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1000 {
		t.Fatalf("after the restart the table has %d rows, want 1000", n)
	}

	if err := c.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if err := c.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	short, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if conn, err := pgx.Connect(short, c.URL("postgres")); err == nil {
		conn.Close(ctx)
		t.Fatal("connected while the server is stopped")
	}
	if err := c.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	if err := c.Start(); err != nil {
		t.Fatalf("second Start: %v", err)
	}
	if err := connect(t, c.URL("postgres")).Ping(ctx); err != nil {
		t.Fatalf("after Start: %v", err)
	}

	dir := c.Dir()
	if _, err := os.Stat(filepath.Join(dir, "data", "PG_VERSION")); err != nil {
		t.Fatalf("no data directory in %s: %v", dir, err)
	}
	if err := c.Destroy(); err != nil {
		t.Fatalf("Destroy: %v", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("after Destroy, stat %s: %v; want it gone", dir, err)
	}
	if err := c.Destroy(); err != nil {
		t.Fatalf("second Destroy: %v", err)
	}
	if err := c.Start(); err == nil {
		t.Fatal("Start after Destroy succeeded")
	}
}

func TestStartRejectsManagedAndMalformedSettings(t *testing.T) {
	t.Parallel()
	for _, s := range []map[string]string{
		{"port": "5432"},
		{"listen_addresses": "*"},
		{"unix_socket_directories": "/tmp"},
		{"max_connections\nfsync": "off"},
		{"work_mem": "1MB\nfsync = off"},
	} {
		if c, err := pgcluster.Start(context.Background(), pgcluster.Options{Settings: s}); err == nil {
			_ = c.Destroy()
			t.Errorf("Start with settings %q succeeded", s)
		}
	}
}

func TestStartHonoursContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c, err := pgcluster.Start(ctx, pgcluster.Options{DirPrefix: "shopstream-pgcluster-ctx-"})
	if err == nil {
		_ = c.Destroy()
		t.Fatal("Start with a cancelled context succeeded")
	}
	if errors.Is(err, pgcluster.ErrNoServer) {
		t.Skipf("skipping: %v", err)
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	left, _ := filepath.Glob(filepath.Join(os.TempDir(), "shopstream-pgcluster-ctx-*"))
	if len(left) != 0 {
		t.Errorf("a failed Start left %v behind", left)
	}
}

// TestWatchdogCleansUpAfterADeadProcess starts a cluster in a child process,
// kills that process with SIGKILL, and expects the watchdog to stop the
// server and remove the directory.
func TestWatchdogCleansUpAfterADeadProcess(t *testing.T) {
	t.Parallel()
	if os.Getenv("SHOPSTREAM_SKIP_POSTGRES") == "1" {
		t.Skip("skipping: SHOPSTREAM_SKIP_POSTGRES=1")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), "PGCLUSTER_HELPER=1")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()

	var dir string
	var port int
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if _, err := fmt.Sscanf(sc.Text(), "cluster %d %s", &port, &dir); err == nil {
			break
		}
	}
	if dir == "" {
		t.Fatalf("the helper process reported no cluster (scan: %v)", sc.Err())
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()

	deadline := time.Now().Add(30 * time.Second)
	for {
		_, statErr := os.Stat(dir)
		conn, dialErr := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second)
		if dialErr == nil {
			conn.Close()
		}
		if errors.Is(statErr, os.ErrNotExist) && dialErr != nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("30s after the owner died: stat %s: %v; dial port %d: %v", dir, statErr, port, dialErr)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestHelperProcess is the child of TestWatchdogCleansUpAfterADeadProcess:
// it starts a cluster, reports it, and waits to be killed.
func TestHelperProcess(t *testing.T) {
	if os.Getenv("PGCLUSTER_HELPER") != "1" {
		t.Skip("helper process for TestWatchdogCleansUpAfterADeadProcess")
	}
	c, err := pgcluster.Start(context.Background(), pgcluster.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		os.Exit(1)
	}
	fmt.Printf("cluster %d %s\n", c.Port(), c.Dir())
	time.Sleep(time.Minute)
	_ = c.Destroy() // not reached: the parent kills this process first
	os.Exit(1)
}
