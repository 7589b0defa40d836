package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/storetest"
)

// Migration 0035 rebuilds transactions with a CHECK on the total instead
// of a trigger: every row stays as it was, rowid included, with the same
// indexes, and a negative total is still refused as a data error.
func TestTotalCheckMigrationKeepsRows(t *testing.T) {
	ctx := context.Background()
	s := openAt34(t, t.TempDir())
	defer s.Close()
	entries, err := fs.ReadDir(migrationsFS, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	var txs []store.Tx
	for i := range 50 {
		tx := storetest.Tx(string(rune('a'+i%26))+strings.Repeat("x", i), "c"+string(rune('0'+i%7)), at.Add(time.Duration(i)*time.Minute), int64(i*37), 0, int64(i))
		if i%3 == 0 {
			tx.Features = nil
		}
		if i%4 == 0 {
			tx.ShadowRisk, tx.HasShadow = 0.25*float64(i%4+1), true
		}
		tx.IPCountry, tx.IPHosting = "DE", i%5 == 0
		txs = append(txs, tx)
	}
	if err := s.WriteBatch(ctx, &store.Batch{Group: "g", Topic: "t", Parts: []store.Part{{Partition: 0, From: 0, To: 50, Txs: txs}}}); err != nil {
		t.Fatal(err)
	}
	// A gap in the rowids, which the copy must keep.
	if _, err := s.db.ExecContext(ctx, "DELETE FROM transactions WHERE rowid IN (3, 17)"); err != nil {
		t.Fatal(err)
	}
	rowsBefore, indexesBefore := dumpTransactions(t, s.db)
	if triggers := transactionTriggers(t, s.db); len(triggers) != 1 {
		t.Fatalf("before 0035: triggers on transactions %v, want the totals' check", triggers)
	}

	applied, err := s.MigrateUp(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) != len(entries)-34 || applied[0].Version != 35 {
		t.Fatalf("applied %v, want 0035 onwards", applied)
	}
	rowsAfter, indexesAfter := dumpTransactions(t, s.db)
	if len(rowsAfter) != 48 || !reflect.DeepEqual(rowsBefore, rowsAfter) {
		t.Fatalf("the rows changed in the migration:\nbefore %v\nafter  %v", rowsBefore, rowsAfter)
	}
	// 0042 adds the index of the rows with a feature vector; the others
	// are kept as they were.
	if _, ok := indexesAfter["transactions_features_idx"]; !ok {
		t.Fatalf("indexes after %v: no transactions_features_idx (0042)", indexesAfter)
	}
	delete(indexesAfter, "transactions_features_idx")
	if !reflect.DeepEqual(indexesBefore, indexesAfter) {
		t.Fatalf("indexes before %v, after %v", indexesBefore, indexesAfter)
	}
	if triggers := transactionTriggers(t, s.db); len(triggers) != 0 {
		t.Fatalf("after 0035: triggers on transactions %v, want none", triggers)
	}
	neg := storetest.Tx("neg", "c1", at, -1, 0, 50)
	err = s.WriteBatch(ctx, &store.Batch{Group: "g", Topic: "t", Parts: []store.Part{{Partition: 0, From: 50, To: 51, Txs: []store.Tx{neg}}}})
	if r, ok := store.IsRejected(err); !ok || !strings.Contains(r.Message, "transactions_total_cents_check") {
		t.Fatalf("a negative total after 0035: %v, want a RejectedError naming the check", err)
	}
	// The next rowid follows the largest kept one.
	ok := storetest.Tx("next", "c1", at, 5, 0, 50)
	if err := s.WriteBatch(ctx, &store.Batch{Group: "g", Topic: "t", Parts: []store.Part{{Partition: 0, From: 50, To: 51, Txs: []store.Tx{ok}}}}); err != nil {
		t.Fatal(err)
	}
	var rowid int64
	if err := s.db.QueryRowContext(ctx, "SELECT rowid FROM transactions WHERE transaction_id = 'next'").Scan(&rowid); err != nil || rowid != 51 {
		t.Fatalf("the next row's rowid = %d (%v), want 51", rowid, err)
	}
}

// openAt34 opens a store in dir migrated up to 0034, the schema before
// the totals' check became a CHECK.
func openAt34(tb testing.TB, dir string) *Store {
	tb.Helper()
	s, err := Open(context.Background(), dir, store.WithSchema(store.SchemaAsIs))
	if err != nil {
		tb.Fatal(err)
	}
	entries, err := fs.ReadDir(migrationsFS, "migrations")
	if err != nil {
		tb.Fatal(err)
	}
	if len(entries) < 35 || !strings.HasPrefix(entries[34].Name(), "0035_") {
		tb.Fatalf("migration 0035 is not the 35th: %v", entries)
	}
	old := fstest.MapFS{}
	for _, e := range entries[:34] {
		b, _ := fs.ReadFile(migrationsFS, path.Join("migrations", e.Name()))
		old[path.Join("migrations", e.Name())] = &fstest.MapFile{Data: b}
	}
	if _, err := s.Migrate(context.Background(), old, "migrations"); err != nil {
		tb.Fatal(err)
	}
	return s
}

// BenchmarkTotalCheckMigration times migration 0035 on a store of
// SHOPSTREAM_BENCH_ROWS transactions (100,000; docs/deploy.md quotes a
// million), written at 0034 in batches of 20,000, over 300,000 customers.
func BenchmarkTotalCheckMigration(b *testing.B) {
	rows := 100_000
	if v := os.Getenv("SHOPSTREAM_BENCH_ROWS"); v != "" {
		var err error
		if rows, err = strconv.Atoi(v); err != nil || rows < 1 {
			b.Fatalf("SHOPSTREAM_BENCH_ROWS=%q: want a positive integer", v)
		}
	}
	ctx := context.Background()
	items := []byte(`[{"product_id":"P000123","category":"electronics","quantity":1,"unit_price":129.99},{"product_id":"P004567","category":"books","quantity":2,"unit_price":12.50}]`)
	at := time.Now().Add(-24 * time.Hour)
	for b.Loop() {
		b.StopTimer()
		dir := b.TempDir()
		s := openAt34(b, dir)
		for from := 0; from < rows; from += 20_000 {
			var txs []store.Tx
			for n := from; n < min(rows, from+20_000); n++ {
				tx := storetest.Tx(fmt.Sprintf("%032x", uint64(n)*0x9e3779b97f4a7c15), fmt.Sprintf("C%07d", n%300_000),
					at.Add(time.Duration(n)*50*time.Millisecond), 100, 0, int64(n))
				tx.ItemsJSON = items
				txs = append(txs, tx)
			}
			if err := s.WriteBatch(ctx, &store.Batch{Group: "g", Topic: "t",
				Parts: []store.Part{{Partition: 0, From: int64(from), To: int64(from + len(txs)), Txs: txs}}}); err != nil {
				b.Fatal(err)
			}
		}
		s.Close()
		if fi, err := os.Stat(filepath.Join(dir, FileName)); err == nil {
			b.ReportMetric(float64(fi.Size())/(1<<20), "db-MB")
		}
		b.StartTimer()
		s, err := Open(ctx, dir) // applies 0035 (and any later)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		s.Close()
		b.StartTimer()
	}
}

// dumpTransactions reads every row of transactions with its rowid, in
// rowid order, and the table's indexes with their definitions.
func dumpTransactions(t *testing.T, db *sql.DB) ([][]any, map[string]string) {
	t.Helper()
	rows, err := db.Query("SELECT rowid, * FROM transactions ORDER BY rowid")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out [][]any
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		out = append(out, vals)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	idx := map[string]string{}
	irows, err := db.Query("SELECT name, coalesce(sql, '') FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'transactions'")
	if err != nil {
		t.Fatal(err)
	}
	defer irows.Close()
	for irows.Next() {
		var name, def string
		if err := irows.Scan(&name, &def); err != nil {
			t.Fatal(err)
		}
		idx[name] = def
	}
	return out, idx
}

func transactionTriggers(t *testing.T, db *sql.DB) []string {
	t.Helper()
	rows, err := db.Query("SELECT name FROM sqlite_schema WHERE type = 'trigger' AND tbl_name = 'transactions'")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	return names
}
