package sqlite_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/sqlite"
	"github.com/shopstream/shopstream/internal/store/storetest"
)

// BenchmarkPruneTransactions deletes the oldest 5,000 of a table of
// 50,000 transactions (written untimed each round, so the table stays that
// size) with PruneTransactions in batches of 1,000, and reports the
// microseconds per deleted row.
func BenchmarkPruneTransactions(b *testing.B) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const batch, keep = 5000, 50_000
	base := time.Now().Add(-24 * time.Hour)
	off := int64(0)
	write := func() {
		txs := make([]store.Tx, batch)
		for i := range txs {
			n := off + int64(i)
			txs[i] = storetest.Tx(fmt.Sprintf("tx_%016x", uint64(n)*0x9e3779b97f4a7c15), fmt.Sprintf("c%06d", n%50_000), base.Add(time.Duration(n)*time.Millisecond), 100+n%900, 0, n)
		}
		if err := s.WriteBatch(ctx, &store.Batch{Group: "g", Topic: "t",
			Parts: []store.Part{{Partition: 0, From: off, To: off + batch, Txs: txs}}}); err != nil {
			b.Fatal(err)
		}
		off += batch
	}
	for off < keep {
		write()
	}
	var deleted int64
	for b.Loop() {
		b.StopTimer()
		write()
		cut := base.Add(time.Duration(off-keep) * time.Millisecond)
		b.StartTimer()
		p, err := s.PruneTransactions(ctx, cut, 1000)
		if err != nil {
			b.Fatal(err)
		}
		if p.Rows != batch {
			b.Fatalf("deleted %d, want %d", p.Rows, batch)
		}
		deleted += p.Rows
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(deleted), "µs/row")
}
