package postgres

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/sqlstore"
	"github.com/shopstream/shopstream/internal/store/storetest"
)

// The fraud model trainer's reads of a partition's latest feature vectors
// (one transaction in ten carries one here) read those rows alone, through
// the index of the rows with a vector (migration 0042), not ten rows of
// the offset index for each vector kept.
func TestTrainerReadsOnlyVectors(t *testing.T) {
	ctx := context.Background()
	s := openMigrated(t)
	if _, err := s.EnsurePartitions(ctx, time.Now(), 1); err != nil {
		t.Fatal(err)
	}
	const n, every, limit = 6_000, 10, 200
	at := time.Now().Add(-time.Hour).Truncate(time.Microsecond)
	var txs []store.Tx
	for i := range n {
		tx := storetest.Tx("tv-"+string(rune('a'+i%26))+time.Duration(i).String(), "c", at.Add(time.Duration(i)*time.Millisecond), 100, 0, int64(i))
		if i%every != 0 {
			tx.Features = nil
		}
		txs = append(txs, tx)
	}
	if err := s.WriteBatch(ctx, &store.Batch{Group: "g", Topic: "t", Parts: []store.Part{{Partition: 0, From: 0, To: n, Txs: txs}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, "ANALYZE transactions"); err != nil {
		t.Fatal(err)
	}
	d := dialect{s.pool}
	for name, q := range map[string]string{"training sample": sqlstore.TrainingSampleSQL, "labelled features": sqlstore.LabelledFeaturesSQL} {
		var read, got int
		err := d.ReadInOrder(ctx, func(db sqlstore.DB) error {
			var plan string
			if err := db.QueryRow(ctx, "EXPLAIN (ANALYZE, FORMAT JSON) "+q, int32(0), limit).Scan(&plan); err != nil {
				return err
			}
			var doc []struct{ Plan planNode }
			if err := json.Unmarshal([]byte(plan), &doc); err != nil {
				return err
			}
			read, got = doc[0].Plan.transactionsRead(), doc[0].Plan.ActualRows
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if got != limit {
			t.Fatalf("%s: %d rows, want %d", name, got, limit)
		}
		if read > limit+limit/10 {
			t.Errorf("%s: read %d rows of transactions for %d vectors; want only rows with a vector", name, read, limit)
		}
	}
}

// transactionsRead is the rows the plan's scans of transactions' tables
// read: those they returned and those their filter removed.
func (p planNode) transactionsRead() int {
	n := 0
	if strings.HasPrefix(p.Relation, "transactions") && p.NodeType != "Bitmap Index Scan" {
		n = p.ActualRows + p.RemovedByFilter
	}
	for _, c := range p.Plans {
		n += c.transactionsRead()
	}
	return n
}
