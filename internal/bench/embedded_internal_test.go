package bench

import (
	"context"
	"log/slog"
	"testing"

	"github.com/shopstream/shopstream/internal/detector"
	"github.com/shopstream/shopstream/internal/fraud"
	"github.com/shopstream/shopstream/internal/pipeline"
	"github.com/shopstream/shopstream/internal/shopgeo"
)

// BenchmarkEmbeddedThroughput runs the bench's embedded phase alone: the
// records pre-loaded into an in-process broker, then processed end to end
// into a fresh SQLite store, scored as `shopstream bench` scores them (the
// rules and an isolation forest trained by TrainModel); it reports the
// phase's tx/s (the bench's embedded_tps), with the bench's defaults
// (200,000 records, 100,000 customers): `go test ./internal/bench/ -run
// '^$' -bench EmbeddedThroughput -benchtime 3x -cpuprofile FILE`.
func BenchmarkEmbeddedThroughput(b *testing.B) {
	det, err := detector.New(detector.Config{State: shopgeo.Lookups(fraud.StateConfig{}), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	if err := TrainModel(det, 1); err != nil {
		b.Fatal(err)
	}
	cfg := Config{NewScorer: func(p int32) pipeline.Scorer { return det.NewPartitionScorer(p) }}.withDefaults()
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
