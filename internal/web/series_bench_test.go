package web

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/shopstream/shopstream/internal/pipeline"
	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/pgtest"
	"github.com/shopstream/shopstream/internal/store/postgres"
	"github.com/shopstream/shopstream/internal/store/sqlite"
	"github.com/shopstream/shopstream/internal/store/storetest"
)

// BenchmarkSamplerTick measures one tick of the server's sampler
// (histring.go): gathering a registry like `shopstream run`'s (Go and
// process collectors, the pipeline's metrics, the outbox backlog and the
// store's size read from the store at each gather, uncached), keeping its
// shopstream_* counters, gauges and histograms, and the dashboard's own
// readings (the summary read afresh from the store, as a tick 15 s after
// the last finds it; the readiness' lag of 12 partitions), over a store
// of 10,000 transactions, on SQLite and on PostgreSQL.
func BenchmarkSamplerTick(b *testing.B) {
	for _, c := range []struct {
		name string
		open func(b *testing.B) store.Store
	}{
		{"sqlite", func(b *testing.B) store.Store {
			st, err := sqlite.Open(context.Background(), b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { st.Close() })
			return st
		}},
		{"postgres", func(b *testing.B) store.Store {
			st, err := postgres.Open(context.Background(), pgtest.URL(b))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { st.Close() })
			return st
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			ctx := context.Background()
			st := c.open(b)
			for batch := range 10 {
				txs := make([]store.Tx, 1000)
				for i := range txs {
					n := batch*1000 + i
					txs[i] = storetest.Tx(fmt.Sprintf("t%d", n), fmt.Sprintf("c%d", n%2000), time.Now().Add(-time.Duration(n)*time.Second), 100, 0, int64(n))
				}
				if err := st.WriteBatch(ctx, &store.Batch{Group: "g", Topic: "transactions",
					Parts: []store.Part{{Partition: 0, From: int64(batch * 1000), To: int64(batch*1000 + 1000), Txs: txs}}}); err != nil {
					b.Fatal(err)
				}
			}
			reg := prometheus.NewRegistry()
			reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
			pm := pipeline.NewMetrics(reg)
			pm.Records.WithLabelValues("stored").Add(10000)
			for i := range 1000 {
				pm.BatchSize.Observe(float64(i % 300))
				pm.Latency.Observe(float64(i) / 1000)
				pm.StageDuration.WithLabelValues([]string{"poll", "process", "write", "group_commit"}[i%4]).Observe(float64(i) / 10000)
			}
			backlog, size := st.(store.OutboxBacklog), st.(store.Size)
			reg.MustRegister(
				prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "shopstream_outbox_pending_messages"}, func() float64 {
					n, _, _ := backlog.OutboxBacklog(ctx)
					return float64(n)
				}),
				prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "shopstream_store_size_bytes"}, func() float64 {
					n, _ := size.StoreSize(ctx)
					return float64(n)
				}))
			parts := make([]map[string]int64, 12)
			for p := range parts {
				parts[p] = map[string]int64{"partition": int64(p), "committed": 100, "end": 110, "lag": 10}
			}
			srv, err := New(Config{Store: st, Gatherer: reg, HistogramEvery: time.Hour, Logger: slog.New(slog.DiscardHandler),
				Ready: func(context.Context) Readiness {
					return Readiness{Ready: true, Detail: map[string]any{"lag": 120, "pending_batches": 0, "partitions": parts}}
				}})
			if err != nil {
				b.Fatal(err)
			}
			// tick: what the ticker does; gather: the registry alone,
			// without the dashboard's readings (summary, readiness).
			for _, extra := range []bool{true, false} {
				b.Run(map[bool]string{true: "tick", false: "gather"}[extra], func(b *testing.B) {
					h := newHistRing(reg, time.Hour)
					h.extra = srv.dashboardReadings
					b.ReportAllocs()
					for b.Loop() {
						srv.sumMu.Lock()
						srv.sumAt = time.Time{}
						srv.sumMu.Unlock()
						h.add(h.take(extra))
					}
					b.StopTimer()
					last := h.samples[len(h.samples)-1]
					if len(last.series) == 0 || len(last.vals) == 0 {
						b.Fatalf("a tick kept %d histograms and %d values", len(last.series), len(last.vals))
					}
					b.ReportMetric(float64(len(last.vals)), "values/tick")
					b.ReportMetric(float64(len(last.series)), "histograms/tick")
				})
			}
			if c.name != "sqlite" {
				return
			}
			// ring: the heap a full ring keeps, 480 ticks (two hours at
			// 15 s) of this registry, the store the same either way.
			b.Run("ring", func(b *testing.B) {
				var retained uint64
				for b.Loop() {
					var m0, m1 runtime.MemStats
					runtime.GC()
					runtime.ReadMemStats(&m0)
					h := newHistRing(reg, time.Hour)
					h.extra = srv.dashboardReadings
					for range int(histKeep / histEvery) {
						h.add(h.take(true))
					}
					runtime.GC()
					runtime.ReadMemStats(&m1)
					if len(h.samples) != int(histKeep/histEvery) {
						b.Fatalf("%d samples kept, want %d", len(h.samples), histKeep/histEvery)
					}
					retained = m1.HeapAlloc - min(m0.HeapAlloc, m1.HeapAlloc)
					runtime.KeepAlive(h)
				}
				b.ReportMetric(float64(retained), "B/ring")
			})
		})
	}
}
