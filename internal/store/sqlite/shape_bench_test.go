package sqlite_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/sqlite"
	"github.com/shopstream/shopstream/internal/store/storetest"
)

// BenchmarkWriteShape stores scored records shaped like the bench's (random
// 32-hex IDs, 100,000 customers, 8 partitions, a two-item basket, a feature
// vector on one in ten) through WriteBatch, and reports transactions per
// second. The environment varies what docs/benchmarks.md compares:
//
//	SHOPSTREAM_BENCH_BATCH    records per batch (10,000)
//	SHOPSTREAM_BENCH_BATCHES  batches (20)
//	SHOPSTREAM_BENCH_PAGE     the database's page size in bytes (SQLite's 4096)
//	SHOPSTREAM_BENCH_SQL      statements run on the migrated schema first,
//	                          separated by ';' (e.g. DROP INDEX transactions_customer_idx)
func BenchmarkWriteShape(b *testing.B) {
	ctx := context.Background()
	env := func(name string, def int) int {
		v := os.Getenv(name)
		if v == "" {
			return def
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			b.Fatalf("%s=%q: want a positive integer", name, v)
		}
		return n
	}
	batch, batches := env("SHOPSTREAM_BENCH_BATCH", 10_000), env("SHOPSTREAM_BENCH_BATCHES", 20)
	dir := b.TempDir()
	s, err := sqlite.Open(ctx, dir)
	if err != nil {
		b.Fatal(err)
	}
	if ps := os.Getenv("SHOPSTREAM_BENCH_PAGE"); ps != "" {
		// A WAL database keeps its page size: out of WAL, rebuild, back.
		s.Close()
		if s, err = sqlite.Open(ctx, dir); err != nil {
			b.Fatal(err)
		}
		c, err := s.DB().Conn(ctx)
		if err != nil {
			b.Fatal(err)
		}
		for _, q := range []string{"PRAGMA journal_mode = DELETE", "PRAGMA page_size = " + ps, "VACUUM", "PRAGMA journal_mode = WAL"} {
			if _, err := c.ExecContext(ctx, q); err != nil {
				b.Fatalf("%s: %v", q, err)
			}
		}
		var got string
		if err := c.QueryRowContext(ctx, "PRAGMA page_size").Scan(&got); err != nil || got != ps {
			b.Fatalf("page size %s (%v), want %s", got, err, ps)
		}
		c.Close()
	}
	defer s.Close()
	for _, q := range strings.Split(os.Getenv("SHOPSTREAM_BENCH_SQL"), ";") {
		if strings.TrimSpace(q) != "" {
			if _, err := s.DB().ExecContext(ctx, q); err != nil {
				b.Fatalf("%s: %v", q, err)
			}
		}
	}
	base := time.Now().Add(-time.Hour)
	r := rand.New(rand.NewPCG(1, 2))
	items := []byte(`[{"product_id":"P000123","category":"electronics","quantity":1,"unit_price":129.99},{"product_id":"P004567","category":"books","quantity":2,"unit_price":12.50}]`)
	const partitions = 8
	off := int64(0)
	for b.Loop() {
		for range batches {
			parts := make([]store.Part, partitions)
			for i := range batch {
				n := off + int64(i)
				p := int32(n % partitions)
				tx := storetest.Tx(fmt.Sprintf("%016x%016x", r.Uint64(), r.Uint64()), fmt.Sprintf("C%07d", r.IntN(100_000)),
					base.Add(time.Duration(n)*time.Millisecond), 100+n%900, p, n/partitions)
				tx.ItemsJSON, tx.Risk = items, r.Float64()
				tx.DeviceID = fmt.Sprintf("dev%08x", r.Uint32())
				tx.IPAddress = fmt.Sprintf("10.%d.%d.%d", r.IntN(256), r.IntN(256), r.IntN(256))
				if n%10 != 0 {
					tx.Features = nil
				}
				parts[p].Txs = append(parts[p].Txs, tx)
			}
			var write []store.Part
			for p := range parts {
				if txs := parts[p].Txs; len(txs) > 0 {
					write = append(write, store.Part{Partition: int32(p), From: txs[0].Offset, To: txs[len(txs)-1].Offset + 1, Txs: txs})
				}
			}
			if err := s.WriteBatch(ctx, &store.Batch{Group: "g", Topic: "t", Parts: write}); err != nil {
				b.Fatal(err)
			}
			off += int64(batch)
		}
	}
	b.ReportMetric(float64(off)/b.Elapsed().Seconds(), "tx/s")
}
