package bench

import (
	"context"
	"testing"
)

// BenchmarkEmbeddedThroughput runs the bench's embedded phase alone: the
// records pre-loaded into an in-process broker, then processed end to end
// into a fresh SQLite store; it reports the phase's tx/s (the bench's
// embedded_tps), with the bench's defaults (200,000 records, 100,000
// customers): `go test ./internal/bench/ -run '^$' -bench EmbeddedThroughput
// -benchtime 3x -cpuprofile FILE`.
func BenchmarkEmbeddedThroughput(b *testing.B) {
	cfg := Config{}.withDefaults()
	recs, err := prepare(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	var sum float64
	for range b.N {
		tps, _, err := throughput(context.Background(), cfg, recs, 1, true, false)
		if err != nil {
			b.Fatal(err)
		}
		sum += tps
	}
	b.ReportMetric(sum/float64(b.N), "tx/s")
}
