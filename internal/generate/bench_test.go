package generate

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkGenerateToFile measures the bulk path: default shop, simulated
// clock, records and labels written to files on disk.
func BenchmarkGenerateToFile(b *testing.B) {
	g, err := New(Config{Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	f, err := os.Create(filepath.Join(dir, "tx.jsonl"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	sink := NewFileSink(f, nil)
	ctx := context.Background()
	var bytes int64
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := g.Next()
		bytes += int64(len(r.Value)) + 1
		if err := sink.Write(ctx, r); err != nil {
			b.Fatal(err)
		}
	}
	if err := sink.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.SetBytes(bytes / int64(b.N))
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkNext measures generation and encoding alone.
func BenchmarkNext(b *testing.B) {
	for _, bc := range []struct {
		name string
		cfg  Config
	}{
		{"default", Config{Seed: 1}},
		{"1M_customers", Config{Seed: 1, Customers: 1_000_000}},
		{"bad_0.05", Config{Seed: 1, BadRate: 0.05}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			g, err := New(bc.cfg)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				g.Next()
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// BenchmarkNextAt measures live mode, where each buyer is drawn by rate.
func BenchmarkNextAt(b *testing.B) {
	g, err := New(Config{Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	t := DefaultStart
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t = t.Add(time.Millisecond)
		g.NextAt(t)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
