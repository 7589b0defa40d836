package sqlite_test

import (
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/sqlite"
	"github.com/shopstream/shopstream/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := sqlite.Open(context.Background(), t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestReopenKeepsData(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	tx := storetest.Tx("a", "c", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), 5, 0, 0)
	if err := s.WriteBatch(ctx, &store.Batch{Group: "g", Topic: "t", Parts: []store.Part{{Partition: 0, From: 0, To: 1, Txs: []store.Tx{tx}}}}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatalf("reopening (migrations must be idempotent): %v", err)
	}
	defer s.Close()
	offs, _ := s.Offsets(ctx, "g", "t")
	if offs[0] != 1 {
		t.Fatalf("offsets after reopen = %v", offs)
	}
}
func TestFraudConformance(t *testing.T) {
	storetest.RunFraudIn(t, func(ctx context.Context, dir string) (*sqlite.Store, error) { return sqlite.Open(ctx, dir) })
}

func TestLabelsConformance(t *testing.T) {
	storetest.RunLabels(t, func(t *testing.T) *sqlite.Store {
		s, err := sqlite.Open(context.Background(), t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// TestUpgradeRace runs the label writers and the entity stage's raise of
// the same transaction in both orders; SQLite's writers take turns, so
// they never interleave.
func TestUpgradeRace(t *testing.T) {
	storetest.RunUpgradeRace(t, func(t *testing.T) *sqlite.Store {
		s, err := sqlite.Open(context.Background(), t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}, nil)
}

func TestSchema(t *testing.T) {
	storetest.RunSchema(t, storetest.Schema{
		Fresh: func(t *testing.T) string { return t.TempDir() },
		Open: func(ctx context.Context, dir string, opts ...store.OpenOption) (store.Store, error) {
			return sqlite.Open(ctx, dir, opts...)
		},
		Record: func(t *testing.T, dir string, v int) {
			db, err := sql.Open("sqlite", filepath.Join(dir, sqlite.FileName))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.Exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'from_a_newer_build.sql', 0)", v); err != nil {
				t.Fatal(err)
			}
		},
	})
}

// CheckpointWAL folds the write-ahead log into the database and truncates
// it, so the files stay bounded however long the store runs.
func TestCheckpointWALTruncates(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var txs []store.Tx
	for i := range 200 {
		txs = append(txs, storetest.Tx(fmt.Sprintf("t%d", i), "c", time.Date(2026, 1, 1, 0, 0, i, 0, time.UTC), 5, 0, int64(i)))
	}
	if err := s.WriteBatch(ctx, &store.Batch{Group: "g", Topic: "t", Parts: []store.Part{{Partition: 0, From: 0, To: 200, Txs: txs}}}); err != nil {
		t.Fatal(err)
	}
	wal := filepath.Join(dir, sqlite.FileName+"-wal")
	if fi, err := os.Stat(wal); err != nil || fi.Size() == 0 {
		t.Fatalf("no write-ahead log after a batch: %v", err)
	}
	if busy, err := s.CheckpointWAL(ctx); err != nil || busy {
		t.Fatalf("CheckpointWAL = busy %v, %v", busy, err)
	}
	if fi, err := os.Stat(wal); err != nil || fi.Size() != 0 {
		t.Fatalf("write-ahead log after the checkpoint: %v bytes, %v; want 0", fi.Size(), err)
	}
	if offs, _ := s.Offsets(ctx, "g", "t"); offs[0] != 200 {
		t.Fatalf("offsets after the checkpoint = %v", offs)
	}
}

// The store copies its write-ahead log into the database file in the
// background: SQLite's own checkpoints, in the committing writer, are off,
// yet a batch reaches the database file by itself within a few intervals.
func TestBackgroundCheckpoints(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var pages int
	if err := s.DB().QueryRowContext(ctx, "PRAGMA wal_autocheckpoint").Scan(&pages); err != nil || pages != 0 {
		t.Fatalf("wal_autocheckpoint = %d, %v; want 0 (checkpoints off the writer's path)", pages, err)
	}
	const n = 3000
	txs := make([]store.Tx, n)
	for i := range txs {
		txs[i] = storetest.Tx(fmt.Sprintf("t%d", i), fmt.Sprintf("c%d", i%100), time.Date(2026, 1, 1, 0, 0, i, 0, time.UTC), 5, 0, int64(i))
	}
	if err := s.WriteBatch(ctx, &store.Batch{Group: "g", Topic: "t", Parts: []store.Part{{Partition: 0, From: 0, To: n, Txs: txs}}}); err != nil {
		t.Fatal(err)
	}
	// The database file alone, copied without its log, holds only what a
	// checkpoint copied into it.
	inFile := func() (int, error) {
		b, err := os.ReadFile(filepath.Join(dir, sqlite.FileName))
		if err != nil {
			return 0, err
		}
		cp := filepath.Join(t.TempDir(), "copy.db")
		if err := os.WriteFile(cp, b, 0o600); err != nil {
			return 0, err
		}
		db, err := sql.Open("sqlite", "file:"+cp+"?mode=ro")
		if err != nil {
			return 0, err
		}
		defer db.Close()
		var c int
		err = db.QueryRow("SELECT count(*) FROM transactions").Scan(&c)
		return c, err
	}
	deadline := time.Now().Add(20 * sqlite.CheckpointInterval)
	for {
		c, err := inFile()
		if err == nil && c == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the database file holds %d of %d transactions (%v) after %v: the log was not checkpointed", c, n, err, 20*sqlite.CheckpointInterval)
		}
		time.Sleep(sqlite.CheckpointInterval / 4)
	}
}

// A writer that never pauses still lets the log restart: each round of
// background checkpoints ends with the writers held, so the log is
// copied to its end and the next write starts it over (its header's
// checkpoint sequence number, bytes 12-15, counts the restarts), instead
// of growing with every batch.
func TestBackgroundCheckpointsRestartTheLog(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	wal := filepath.Join(dir, sqlite.FileName+"-wal")
	sequences := map[uint32]bool{}
	const per = 500
	end := time.Now().Add(5 * sqlite.CheckpointInterval)
	for b := 0; time.Now().Before(end); b++ {
		txs := make([]store.Tx, per)
		for i := range txs {
			n := b*per + i
			txs[i] = storetest.Tx(fmt.Sprintf("t%d", n), fmt.Sprintf("c%d", n%1000), time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(n)*time.Second), 5, 0, int64(n))
		}
		if err := s.WriteBatch(ctx, &store.Batch{Group: "g", Topic: "t", Parts: []store.Part{{Partition: 0, From: int64(b * per), To: int64((b + 1) * per), Txs: txs}}}); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(wal)
		if err != nil {
			t.Fatal(err)
		}
		var hdr [16]byte
		_, err = io.ReadFull(f, hdr[:])
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		sequences[binary.BigEndian.Uint32(hdr[12:])] = true
	}
	if len(sequences) < 3 {
		t.Fatalf("the log restarted %d times in %v of continuous writes; want one or more a round", len(sequences)-1, 5*sqlite.CheckpointInterval)
	}
}

func TestRollupBackfill(t *testing.T) {
	dir := t.TempDir()
	s, err := sqlite.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	db, err := sql.Open("sqlite", filepath.Join(dir, sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	storetest.RunRollupBackfill(t, s, "migrations/0015_fraud_rollups.sql", func(q string) error {
		if _, err := db.Exec(q); err != nil {
			return err
		}
		_, err := db.Exec(storetest.UnlabelledBackfill(t, "migrations/0018_label_events.sql"))
		return err
	})
}

func TestAddressKeyAcross(t *testing.T) {
	storetest.RunAddressKeyAcross(t, func(t *testing.T) string { return t.TempDir() }, func(t *testing.T, dir string) store.Store {
		s, err := sqlite.Open(context.Background(), dir)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// TestPingWhilePoolBusy: with every connection of the store's pool held
// by a read, Ping still answers, as readiness must while the store is only
// busy; and it fails once the store is closed.
func TestPingWhilePoolBusy(t *testing.T) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var held []*sql.Tx
	for range 4 {
		tx, err := s.DB().BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		var n int
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM transactions").Scan(&n); err != nil {
			t.Fatal(err)
		}
		held = append(held, tx)
	}
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	var one int
	if err := s.DB().QueryRowContext(short, "SELECT 1").Scan(&one); err == nil {
		t.Fatal("a fifth read through the pool answered: the pool is not full, the test proves nothing")
	}
	cancel()
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := s.Ping(pctx); err != nil {
		t.Errorf("Ping with the pool busy = %v, want an answer", err)
	}
	for _, tx := range held {
		tx.Rollback()
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(ctx); err == nil {
		t.Error("Ping after Close answered, want an error")
	}
}

// TestOpenReadOnly reads a store beside the connection that writes it:
// what the writer commits after the reader opened is read, and the reader
// writes nothing, even when asked to.
func TestOpenReadOnly(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	if _, err := sqlite.OpenReadOnly(ctx, dir); err == nil {
		t.Fatal("opened an empty directory to read")
	}
	w, err := sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	write := func(s store.Store, id string, off int64) error {
		tx := storetest.Tx(id, "c", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), 5, 0, off)
		return s.WriteBatch(ctx, &store.Batch{Group: "g", Topic: "t", Parts: []store.Part{{Partition: 0, From: off, To: off + 1, Txs: []store.Tx{tx}}}})
	}
	if err := write(w, "a", 0); err != nil {
		t.Fatal(err)
	}
	r, err := sqlite.OpenReadOnly(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := write(w, "b", 1); err != nil {
		t.Fatal(err)
	}
	if sum, err := r.Summary(ctx); err != nil || sum.TransactionsTotal != 2 {
		t.Fatalf("the reader's summary: %+v, %v; want the writer's 2 transactions", sum, err)
	}
	if err := r.Ping(ctx); err != nil {
		t.Fatalf("ping: %v", err)
	}
	if err := write(r, "c", 2); err == nil {
		t.Fatal("the read-only store wrote a batch")
	}
	if sum, _ := w.Summary(ctx); sum.TransactionsTotal != 2 {
		t.Fatalf("after the reader's refused write the store holds %d transactions", sum.TransactionsTotal)
	}
}
