package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/pgtest"
	"github.com/shopstream/shopstream/internal/store/postgres"
	"github.com/shopstream/shopstream/internal/store/storetest"
)

// BenchmarkWriteBatch writes batches of 5,000 transactions over 50,000
// customers, as the processor does, and reports transactions per second.
func BenchmarkWriteBatch(b *testing.B) {
	s, err := postgres.Open(context.Background(), pgtest.URL(b))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const batch = 5000
	base := time.Now().Add(-time.Hour)
	off := int64(0)
	b.ResetTimer()
	for b.Loop() {
		txs := make([]store.Tx, batch)
		for i := range txs {
			n := off + int64(i)
			txs[i] = storetest.Tx(fmt.Sprintf("tx_%016x", uint64(n)*0x9e3779b97f4a7c15), fmt.Sprintf("c%06d", n%50_000), base.Add(time.Duration(n)*time.Millisecond), 100+n%900, 0, n)
		}
		err := s.WriteBatch(context.Background(), &store.Batch{Group: "g", Topic: "t",
			Parts: []store.Part{{Partition: 0, From: off, To: off + batch, Txs: txs}}})
		if err != nil {
			b.Fatal(err)
		}
		off += batch
	}
	b.ReportMetric(float64(off)/b.Elapsed().Seconds(), "tx/s")
}
