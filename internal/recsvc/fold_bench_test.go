package recsvc_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/event"
	"github.com/shopstream/shopstream/internal/generate"
	"github.com/shopstream/shopstream/internal/pipeline"
	"github.com/shopstream/shopstream/internal/recommend"
	"github.com/shopstream/shopstream/internal/recsvc"
	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/pgtest"
	"github.com/shopstream/shopstream/internal/store/postgres"
	"github.com/shopstream/shopstream/internal/store/sqlite"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// The fold benchmark's stream: what `shopstream bench` processes, the
// generator's shop of 100,000 customers on seed 1, foldTxs transactions
// over four partitions.
const (
	foldTxs        = 50_000
	foldCustomers  = 100_000
	foldPartitions = 4
)

// foldStream is the stream as stored rows, in one batch per partition,
// and as its (customer, product) lines.
type foldStream struct {
	batch *store.Batch
	lines [][2]string
}

func newFoldStream(b *testing.B) *foldStream {
	b.Helper()
	g, err := generate.New(generate.Config{Seed: 1, Customers: foldCustomers})
	if err != nil {
		b.Fatal(err)
	}
	fs := &foldStream{batch: &store.Batch{Group: "bench", Topic: "transactions"}}
	for p := range foldPartitions {
		fs.batch.Parts = append(fs.batch.Parts, store.Part{Partition: int32(p), From: 0})
	}
	start := time.Now().Add(-time.Hour)
	var t event.Transaction
	for i := range foldTxs {
		r := g.NextAt(start.Add(time.Duration(i) * time.Hour / foldTxs))
		if err := event.Decode(r.Value, &t); err != nil {
			b.Fatalf("record %d: %v", i, err)
		}
		part := &fs.batch.Parts[i%foldPartitions]
		part.Txs = append(part.Txs, pipeline.NewTx(&t, part.Partition, part.To, start, r.Value))
		part.To++
		for _, it := range t.Items {
			fs.lines = append(fs.lines, [2]string{t.CustomerID, it.ProductID})
		}
	}
	return fs
}

// report states the cost per purchase line and per transaction.
func (fs *foldStream) report(b *testing.B) {
	ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	b.ReportMetric(ns/float64(len(fs.lines)), "ns/line")
	b.ReportMetric(ns/foldTxs, "ns/tx")
	b.ReportMetric(float64(len(fs.lines))/foldTxs, "lines/tx")
}

// BenchmarkFold times folding the stream's purchase lines: into
// recommend.Counts alone (counts: from empty histories, as in `shopstream
// bench`; counts-full-history: every customer already holding 50
// products, so each new line pairs with 50, the worst case of a long-lived
// service), and through recsvc.Service.Fold reading them from a store
// (sqlite, postgres: the read, the items JSON parsed, the fold; the
// database server's share included in the wall time). Each op folds the
// whole stream into fresh counts.
func BenchmarkFold(b *testing.B) {
	fs := newFoldStream(b)
	b.Run("counts", func(b *testing.B) {
		for range b.N {
			c := recommend.NewCounts(50)
			for _, l := range fs.lines {
				c.Add(l[0], l[1])
			}
		}
		fs.report(b)
	})
	b.Run("counts-full-history", func(b *testing.B) {
		// Each customer's history: 50 products of a run of 1,000 starting
		// at a place of their own.
		hist := make([]string, 1050)
		for i := range hist {
			hist[i] = fmt.Sprintf("H%04d", i)
		}
		customers := map[string]int{}
		for _, l := range fs.lines {
			if _, ok := customers[l[0]]; !ok {
				customers[l[0]] = len(customers) % 1000
			}
		}
		for range b.N {
			b.StopTimer()
			c := recommend.NewCounts(50)
			for cust, at := range customers {
				for _, p := range hist[at : at+50] {
					c.Add(cust, p)
				}
			}
			b.StartTimer()
			for _, l := range fs.lines {
				c.Add(l[0], l[1])
			}
		}
		fs.report(b)
	})
	ctx := context.Background()
	stores := map[string]func() (store.Store, error){
		"sqlite":   func() (store.Store, error) { return sqlite.Open(ctx, b.TempDir()) },
		"postgres": func() (store.Store, error) { return postgres.Open(ctx, pgtest.URL(b)) },
	}
	for _, name := range []string{"sqlite", "postgres"} {
		b.Run(name, func(b *testing.B) {
			st, err := stores[name]()
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			if err := st.WriteBatch(ctx, fs.batch); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for range b.N {
				svc, err := recsvc.New(recsvc.Config{Store: st.(store.Purchases)})
				if err != nil {
					b.Fatal(err)
				}
				n, err := svc.Fold(ctx)
				if err != nil {
					b.Fatal(err)
				}
				if n != len(fs.lines) {
					b.Fatalf("folded %d lines, want %d", n, len(fs.lines))
				}
			}
			fs.report(b)
		})
	}
}
