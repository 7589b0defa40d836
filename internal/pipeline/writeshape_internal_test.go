package pipeline

import (
	"context"
	"testing"

	"github.com/shopstream/shopstream/internal/store/sqlite"
)

// TestWriteShapeDefaults: with no batch size or writer count given, the
// processor takes the store's (SQLite: one writer, larger batches); what
// the caller gives wins.
func TestWriteShapeDefaults(t *testing.T) {
	t.Parallel()
	st, err := sqlite.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c := Config{Store: st}.withDefaults()
	if c.Writers != st.Writers() || c.MaxBatch != st.BatchRecords() || c.Writers != 1 || c.MaxBatch == DefaultMaxBatch {
		t.Fatalf("defaults over SQLite: %d writers, batches of %d; want the store's %d and %d", c.Writers, c.MaxBatch, st.Writers(), st.BatchRecords())
	}
	c = Config{Store: st, Writers: 3, MaxBatch: 7}.withDefaults()
	if c.Writers != 3 || c.MaxBatch != 7 {
		t.Fatalf("given 3 writers and batches of 7: got %d and %d", c.Writers, c.MaxBatch)
	}
	c = Config{}.withDefaults()
	if c.Writers != DefaultWriters || c.MaxBatch != DefaultMaxBatch {
		t.Fatalf("defaults with a store of no shape: %d writers, batches of %d", c.Writers, c.MaxBatch)
	}
}
