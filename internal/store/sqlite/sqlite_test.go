package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
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
