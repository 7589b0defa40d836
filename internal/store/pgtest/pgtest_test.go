package pgtest_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shopstream/shopstream/internal/store/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

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

func TestURLGivesAWorkingEmptyDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	conn := connect(t, pgtest.URL(t))

	var tables int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`).Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if tables != 0 {
		t.Fatalf("new database has %d tables in public, want 0", tables)
	}
	if _, err := conn.Exec(ctx, `CREATE TABLE t (id int PRIMARY KEY, name text NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `INSERT INTO t VALUES (1, 'one'), (2, 'two')`); err != nil {
		t.Fatal(err)
	}
	var name string
	if err := conn.QueryRow(ctx, `SELECT name FROM t WHERE id = $1`, 2).Scan(&name); err != nil {
		t.Fatal(err)
	}
	if name != "two" {
		t.Fatalf("read %q, want %q", name, "two")
	}
}

func TestEachURLIsADifferentDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, b := connect(t, pgtest.URL(t)), connect(t, pgtest.URL(t))

	var nameA, nameB string
	if err := a.QueryRow(ctx, `SELECT current_database()`).Scan(&nameA); err != nil {
		t.Fatal(err)
	}
	if err := b.QueryRow(ctx, `SELECT current_database()`).Scan(&nameB); err != nil {
		t.Fatal(err)
	}
	if nameA == nameB {
		t.Fatalf("both URLs point at database %q", nameA)
	}
	if _, err := a.Exec(ctx, `CREATE TABLE only_in_a (x int)`); err != nil {
		t.Fatal(err)
	}
	var found bool
	if err := b.QueryRow(ctx, `SELECT to_regclass('only_in_a') IS NOT NULL`).Scan(&found); err != nil {
		t.Fatal(err)
	}
	if found {
		t.Fatal("a table made through one URL is visible through the other")
	}
}

func TestDatabaseIsDroppedWhenTheTestEnds(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var name string
	outer := t
	t.Run("user", func(t *testing.T) {
		// This connection outlives the subtest (it is closed by the outer
		// test), so the drop must end it rather than wait for it.
		conn := connect(outer, pgtest.URL(t))
		if err := conn.QueryRow(ctx, `SELECT current_database()`).Scan(&name); err != nil {
			t.Fatal(err)
		}
	})
	admin := connect(t, pgtest.Server(t))
	var exists bool
	if err := admin.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if exists {
		t.Fatalf("database %q still exists after its test ended", name)
	}
}

func TestLongTestNamesGiveValidDatabaseNames(t *testing.T) {
	t.Parallel()
	t.Run(strings.Repeat("Very Long/Name-With*Odd\"Characters ", 5), func(t *testing.T) {
		conn := connect(t, pgtest.URL(t))
		var name string
		if err := conn.QueryRow(context.Background(), `SELECT current_database()`).Scan(&name); err != nil {
			t.Fatal(err)
		}
		if len(name) > 63 {
			t.Fatalf("database name %q is %d bytes, PostgreSQL allows 63", name, len(name))
		}
	})
}

// Not parallel: Restart cuts every connection of the test binary.
func TestRestartKeepsCommittedData(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	before := connect(t, url)
	if _, err := before.Exec(ctx, `CREATE TABLE t (id int PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	if _, err := before.Exec(ctx, `INSERT INTO t SELECT generate_series(1, 1000)`); err != nil {
		t.Fatal(err)
	}

	pgtest.Restart(t)

	if err := before.Ping(ctx); err == nil {
		t.Error("a connection from before the restart still works; want it cut")
	}
	after := connect(t, url)
	var n int
	if err := after.QueryRow(ctx, `SELECT count(*) FROM t`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1000 {
		t.Fatalf("after the restart the table has %d rows, want 1000", n)
	}
}

// Not parallel: Stop takes the server away from every test of the binary.
func TestStopAndStart(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)

	pgtest.Stop(t)
	short, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if conn, err := pgx.Connect(short, url); err == nil {
		conn.Close(ctx)
		t.Fatal("connected while the server is stopped")
	}

	pgtest.Start(t)
	pgtest.Start(t) // starting a running server does nothing
	if err := connect(t, url).Ping(ctx); err != nil {
		t.Fatalf("after Start: %v", err)
	}
}
