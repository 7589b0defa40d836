package cli

import (
	"context"
	"log/slog"
	"maps"
	"regexp"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/pgtest"
	"github.com/shopstream/shopstream/internal/store/postgres"
	"github.com/shopstream/shopstream/internal/store/sqlite"
	"github.com/shopstream/shopstream/internal/store/storetest"
)

// TestRunMemoryBounds: run's bounds of what it keeps in memory are its
// demo's (runMemoryBounds), process's and serve's a shop's.
func TestRunMemoryBounds(t *testing.T) {
	defaults := func(cmd string) map[string]string {
		_, help, _ := runCLI(t, cmd, "-h")
		out := map[string]string{}
		for _, m := range regexp.MustCompile(`(?m)^  -((?:fraud|recommend|analytics-fold)-max-[a-z-]+) int\n\s*\t[^\n]*\(default ([0-9]+)\)$`).FindAllStringSubmatch(help, -1) {
			out[m[1]] = m[2]
		}
		return out
	}
	want := map[string]map[string]string{
		"run": {"fraud-max-customers": "500000", "fraud-max-entities": "5000", "recommend-max-customers": "60000",
			"recommend-max-pairs": "750000", "analytics-fold-max-customers": "1000000"},
		"process": {"fraud-max-customers": "500000", "fraud-max-entities": "500000", "analytics-fold-max-customers": "1000000"},
		"serve":   {"recommend-max-customers": "100000", "recommend-max-pairs": "1000000"},
	}
	for cmd, w := range want {
		if got := defaults(cmd); !maps.Equal(got, w) {
			t.Errorf("%s -h: bounds %v, want %v", cmd, got, w)
		}
	}
}

// TestRunRetentionDefaults: run deletes by default what piles up by
// processing time and keeps the raw transactions; process and serve keep
// the raw data but delete the delivered outbox; all three delete the
// minute rollups and the quality minutes and findings after the
// dashboard's longest range (30 days) and the audit trail after a year.
func TestRunRetentionDefaults(t *testing.T) {
	defaults := func(cmd string) map[string]string {
		_, help, _ := runCLI(t, cmd, "-h")
		out := map[string]string{}
		def := regexp.MustCompile(`\(default ([^)]+)\)$`)
		for _, m := range regexp.MustCompile(`(?m)^  -(retain-[a-z-]+) value\n\s*\t([^\n]*)$`).FindAllStringSubmatch(help, -1) {
			out[m[1]] = ""
			if d := def.FindStringSubmatch(m[2]); d != nil {
				out[m[1]] = d[1]
			}
		}
		if len(out) != 9 {
			t.Fatalf("%s -h: retention flags %v, want 9:\n%s", cmd, out, help)
		}
		return out
	}
	want := map[string]map[string]string{
		"run": {"retain-transactions": "", "retain-minute-windows": "48h0m0s", "retain-alerts": "2160h0m0s",
			"retain-quarantine": "720h0m0s", "retain-outbox": "1h0m0s", "retain-rollups": "720h0m0s", "retain-quality": "720h0m0s",
			"retain-audit": "8760h0m0s", "retain-models": "168h0m0s"},
		"serve": {"retain-transactions": "", "retain-minute-windows": "", "retain-alerts": "", "retain-quarantine": "",
			"retain-outbox": "24h0m0s", "retain-rollups": "720h0m0s", "retain-quality": "720h0m0s", "retain-audit": "8760h0m0s",
			"retain-models": "168h0m0s"},
		"process": {"retain-transactions": "", "retain-outbox": "24h0m0s", "retain-rollups": "720h0m0s", "retain-quality": "720h0m0s",
			"retain-audit": "8760h0m0s", "retain-models": "168h0m0s"},
	}
	for cmd, w := range want {
		got := defaults(cmd)
		for k, v := range w {
			if got[k] != v {
				t.Errorf("%s --%s defaults to %q, want %q", cmd, k, got[k], v)
			}
		}
	}
}

// TestRetentionWaitsForAfter: the retention job started with a gate (run's
// backfill being stored) deletes nothing until the gate opens, then what
// is past its age; the product fold, with a gate of its own (run's first
// analytics refresh), folds nothing until that one opens.
func TestRetentionWaitsForAfter(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	old := time.Now().Add(-48 * time.Hour)
	if err := st.WriteBatch(ctx, &store.Batch{Group: "g", Topic: "t", Parts: []store.Part{{Partition: 0, From: 0, To: 1,
		Txs: []store.Tx{storetest.Tx("old", "c1", old, 100, 0, 0)}}}}); err != nil {
		t.Fatal(err)
	}
	if err := st.WriteBatch(ctx, &store.Batch{Group: "g", Topic: "t", Parts: []store.Part{{Partition: 0, From: 1, To: 2,
		Txs: []store.Tx{storetest.Tx("new", "c1", time.Now(), 100, 0, 1)}}}}); err != nil {
		t.Fatal(err)
	}
	folded := func() int {
		var n int
		if err := st.DB().QueryRowContext(ctx, "SELECT transactions FROM product_fold").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	count := func() int {
		var n int
		if err := st.DB().QueryRowContext(ctx, "SELECT count(*) FROM transactions").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	f := retentionFlags{transactions: dayDuration(time.Hour), interval: 10 * time.Millisecond, batch: 10,
		productsInterval: 10 * time.Millisecond, productsChunk: 10}
	after, foldAfter := make(chan struct{}), make(chan struct{})
	var g errgroup.Group
	if err := f.startAfter(ctx, &g, st, slog.New(slog.DiscardHandler), nil, after, foldAfter); err != nil {
		t.Fatal(err)
	}
	// Twenty intervals with the gates shut: nothing may go.
	time.Sleep(200 * time.Millisecond)
	if n := count(); n != 2 {
		t.Fatalf("%d transactions before the gate opened, want the old one kept", n)
	}
	if n := folded(); n != 0 {
		t.Fatalf("%d transactions folded into the product rollup before the gate opened, want none", n)
	}
	// Retention's gate (run's backfill stored): the old one goes, the
	// product fold still waits (for the first analytics refresh).
	close(after)
	deadline := time.Now().Add(30 * time.Second)
	for count() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("after the retention gate opened: %d transactions stored; want the old one deleted", count())
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	if n := folded(); n != 0 {
		t.Fatalf("%d transactions folded before the fold's gate opened, want none", n)
	}
	close(foldAfter)
	for folded() == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("after the fold's gate opened: nothing folded")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	g.Wait()
}

// TestRetentionAgesFromConfig: the new ages are keys of the configuration
// file and the environment like every flag, and config print shows where
// each came from.
func TestRetentionAgesFromConfig(t *testing.T) {
	path := writeConfig(t, "c.yaml", "retain-rollups: 7d\nretain-audit: 0\n")
	t.Setenv("SHOPSTREAM_RETAIN_QUALITY", "14d")
	out, stderr, err := runCLI(t, "config", "print", "--config", path, "serve")
	if err != nil {
		t.Fatalf("config print: %v\n%s", err, stderr)
	}
	for _, want := range []string{
		`retain-rollups\s+168h0m0s\s+file \S+c\.yaml:1`,
		`retain-audit\s+0s\s+file \S+c\.yaml:2`,
		`retain-quality\s+336h0m0s\s+env SHOPSTREAM_RETAIN_QUALITY`,
	} {
		if !regexp.MustCompile(`(?m)^` + want).MatchString(out) {
			t.Errorf("config print has no line matching %s:\n%s", want, out)
		}
	}
}

// TestProductsChunkByStore: --products-fold-chunk 0 takes the store's
// default, small on SQLite, whose one writer a chunk holds, large on
// PostgreSQL; a number given is kept on both.
func TestProductsChunkByStore(t *testing.T) {
	ctx := context.Background()
	lite, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer lite.Close()
	pg, err := postgres.Open(ctx, pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	embedded, err := openEmbedded(ctx, t.TempDir(), "shopstream run") // run's store: SQLite behind the data directory's lock
	if err != nil {
		t.Fatal(err)
	}
	defer embedded.Close()
	for _, c := range []struct {
		name string
		st   store.Store
		n    int
		want int
	}{
		{"sqlite default", lite, 0, productsChunkSQLite},
		{"run's store default", embedded, 0, productsChunkSQLite},
		{"postgres default", pg, 0, productsChunkPostgres},
		{"sqlite given", lite, 700, 700},
		{"postgres given", pg, 700, 700},
	} {
		if got := productsChunk(c.n, c.st); got != c.want {
			t.Errorf("%s: chunk %d, want %d", c.name, got, c.want)
		}
	}
	if productsChunkSQLite >= productsChunkPostgres {
		t.Errorf("SQLite's chunk %d is not below PostgreSQL's %d", productsChunkSQLite, productsChunkPostgres)
	}
}
