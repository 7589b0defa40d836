package web

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shopstream/shopstream/internal/pipeline"
	"github.com/shopstream/shopstream/internal/store"
)

// SeedSystemHistory saves into st, under instance, the coarse samples a
// process with the pipeline's metrics would have saved sampling every
// minute from `from` for n minutes, storing 600 records a minute in
// batches of 10 to 19 with latencies of 20 to 80 ms: the history a
// server restarted later restores.
func SeedSystemHistory(st store.SystemSamples, instance string, from time.Time, n int) error {
	return SeedSystemHistoryRate(st, instance, from, n, 1)
}

// SeedSystemHistoryRate is SeedSystemHistory storing k times as many
// records a minute, in batches k times as large.
func SeedSystemHistoryRate(st store.SystemSamples, instance string, from time.Time, n, k int) error {
	reg := prometheus.NewRegistry()
	pm := pipeline.NewMetrics(reg)
	clock := from
	h := newHistRing(reg, time.Minute)
	h.now = func() time.Time { return clock }
	h.persist = &histPersist{st: st, instance: instance}
	h.add(h.take(true))
	for i := range n {
		clock = clock.Add(time.Minute)
		for j := range 40 {
			pm.Records.WithLabelValues("stored").Add(float64(15 * k))
			pm.BatchSize.Observe(float64(k * (10 + (i+j)%10)))
			pm.Latency.Observe(0.02 + 0.06*float64((i*7+j)%10)/10)
		}
		h.add(h.take(true))
		h.save()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.unsaved) > 0 {
		return fmt.Errorf("%d samples not saved", len(h.unsaved))
	}
	return nil
}

// SeedLatencyHistory saves into st, under instance, the samples of a
// process sampling every minute from `from` for n minutes, committing
// perMinute records a minute, each lat seconds after it was produced.
func SeedLatencyHistory(st store.SystemSamples, instance string, from time.Time, n, perMinute int, lat float64) error {
	reg := prometheus.NewRegistry()
	pm := pipeline.NewMetrics(reg)
	clock := from
	h := newHistRing(reg, time.Minute)
	h.now = func() time.Time { return clock }
	h.persist = &histPersist{st: st, instance: instance}
	h.add(h.take(true))
	h.save()
	for range n {
		clock = clock.Add(time.Minute)
		for range perMinute {
			pm.Latency.Observe(lat)
		}
		h.add(h.take(true))
		h.save()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.unsaved) > 0 {
		return fmt.Errorf("%d samples not saved", len(h.unsaved))
	}
	return nil
}
