package web

import (
	"context"
	"math"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/pgtest"
	"github.com/shopstream/shopstream/internal/store/postgres"
	"github.com/shopstream/shopstream/internal/store/sqlite"
)

// runGatherer serves the shopstream_* metrics of a `shopstream run`
// (testdata/run_metrics.prom, its /metrics after 75 s with --entities:
// 323 counter and gauge series and 14 histogram series of 209 buckets in
// all, the Kafka clients' included), every counter and bucket moving on
// at each gather, every gauge changing.
func runGatherer(b *testing.B) (prometheus.Gatherer, int, int) {
	f, err := os.Open("testdata/run_metrics.prom")
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(f)
	if err != nil {
		b.Fatal(err)
	}
	var mfs []*dto.MetricFamily
	values, hists := 0, 0
	for _, mf := range fams {
		mfs = append(mfs, mf)
		for range mf.GetMetric() {
			if mf.GetType() == dto.MetricType_HISTOGRAM {
				hists++
			} else {
				values++
			}
		}
	}
	tick := 0
	return prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		tick++
		for _, mf := range mfs {
			for j, m := range mf.GetMetric() {
				switch {
				case m.Counter != nil:
					*m.Counter.Value += float64(j + 1)
				case m.Gauge != nil:
					*m.Gauge.Value = float64((tick * (j + 3)) % 97)
				case m.Histogram != nil:
					n := uint64(0)
					for k, bk := range m.Histogram.Bucket {
						if k%3 == tick%3 {
							n++
						}
						*bk.CumulativeCount += n
					}
					*m.Histogram.SampleCount += n + 1
					*m.Histogram.SampleSum += float64(n) * 0.5
				}
			}
		}
		return mfs, nil
	}), values, hists
}

// BenchmarkSystemTiers measures the coarse tiers (histtiers.go,
// histpersist.go) with the metric set of a `shopstream run`: the heap
// the ring keeps when every tier is full (32 days at 5-minute ticks, then
// two hours at 15 s), the bytes of a saved row and the time to encode
// it, and the cost of saving a row (with its tier's retention) and of
// restoring full tiers, on SQLite and PostgreSQL.
func BenchmarkSystemTiers(b *testing.B) {
	g, values, hists := runGatherer(b)
	b.Run("memory", func(b *testing.B) {
		var retained uint64
		var held int
		for b.Loop() {
			var m0, m1 runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&m0)
			clock := time.Date(2026, 11, 1, 0, 0, 7, 0, time.UTC)
			h := newHistRing(g, histEvery)
			h.now = func() time.Time { return clock }
			for range int(histTiers[1].keep / (5 * time.Minute)) {
				h.add(h.take(true))
				clock = clock.Add(5 * time.Minute)
			}
			for range int(histKeep / histEvery) {
				h.add(h.take(true))
				clock = clock.Add(histEvery)
			}
			runtime.GC()
			runtime.ReadMemStats(&m1)
			retained = m1.HeapAlloc - min(m0.HeapAlloc, m1.HeapAlloc)
			held = len(h.samples) + len(h.tiers[0].samples) + len(h.tiers[1].samples)
			if len(h.tiers[0].samples) < 500 || len(h.tiers[1].samples) < 700 {
				b.Fatalf("tiers of %d and %d samples", len(h.tiers[0].samples), len(h.tiers[1].samples))
			}
			runtime.KeepAlive(h)
		}
		b.ReportMetric(float64(retained), "B/ring")
		b.ReportMetric(float64(retained)/float64(held), "B/sample")
		b.ReportMetric(float64(held), "samples")
		b.ReportMetric(float64(values), "values/sample")
		b.ReportMetric(float64(hists), "histograms/sample")
	})

	// The sampler of a process without --addr (sampler.go): the heap
	// its lean ring keeps after the same ticks, and the time of a tick
	// (a gather, the fold, the trim; a save's encoding once in 20).
	b.Run("sampler-memory", func(b *testing.B) {
		var retained uint64
		var held int
		for b.Loop() {
			var m0, m1 runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&m0)
			clock := time.Date(2026, 11, 1, 0, 0, 7, 0, time.UTC)
			h := newSampler(SamplerConfig{Gatherer: g})
			h.now = func() time.Time { return clock }
			for range int(histTiers[1].keep / (5 * time.Minute)) {
				h.add(h.take(false))
				clock = clock.Add(5 * time.Minute)
			}
			for range int(histKeep / histEvery) {
				h.add(h.take(false))
				clock = clock.Add(histEvery)
			}
			runtime.GC()
			runtime.ReadMemStats(&m1)
			retained = m1.HeapAlloc - min(m0.HeapAlloc, m1.HeapAlloc)
			held = len(h.samples) + len(h.tiers[0].samples) + len(h.tiers[1].samples)
			runtime.KeepAlive(h)
		}
		b.ReportMetric(float64(retained), "B/ring")
		b.ReportMetric(float64(held), "samples")
	})
	// A tick of that sampler as it runs: the gather, the fold, the trim,
	// and the save of what it queued (the fine sample every tick, a
	// coarse one in 20), encoded, into a store that takes it at no cost
	// (the stores' own cost is save and save-fine below).
	b.Run("sampler-tick", func(b *testing.B) {
		clock := time.Date(2026, 11, 1, 0, 0, 7, 0, time.UTC)
		h := newSampler(SamplerConfig{Gatherer: g})
		h.now = func() time.Time { return clock }
		var st countingSamples
		h.persist = &histPersist{st: &st, instance: "p1"}
		h.add(h.take(false))
		h.save()
		st.rows, st.bytes = 0, 0
		b.ReportAllocs()
		for b.Loop() {
			clock = clock.Add(histEvery)
			h.add(h.take(false))
			h.save()
		}
		b.ReportMetric(float64(st.rows)/float64(b.N), "rows/tick")
		b.ReportMetric(float64(st.bytes)/float64(max(1, st.rows)), "B/row")
	})

	h := newHistRing(g, histEvery)
	h.add(h.take(true))
	s := h.take(true)
	meta := h.metaNow()
	row := encodeSample(s, meta)
	b.Run("encode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			row = encodeSample(s, meta)
		}
		b.ReportMetric(float64(len(row)), "B/row")
	})
	back, err := h.decodeSample(s.at, row, decodeCache{})
	if err != nil || len(back.series) != len(s.series) {
		b.Fatalf("decoding: %v, %d histograms of %d", err, len(back.series), len(s.series))
	}
	for i, v := range s.vals {
		if bv := back.value(i); bv != v && !(math.IsNaN(v) && math.IsNaN(bv)) {
			b.Fatalf("value %d decoded %v, was %v", i, bv, v)
		}
	}

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
			ss := c.open(b).(store.SystemSamples)
			// Full tiers of one instance: two days of 5-minute rows and
			// 32 days of hourly ones, ending now.
			now := time.Now().Truncate(time.Minute)
			for _, t := range append([]histTier{savedFine}, histTiers...) {
				for at := now.Add(-t.keep); !at.After(now); at = at.Add(t.every) {
					if err := ss.SaveSystemSample(ctx, store.SystemSample{Instance: "p1", Step: int(t.every / time.Second), At: at, Data: row},
						t.keep); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.Run("save", func(b *testing.B) {
				at := now
				for b.Loop() {
					at = at.Add(5 * time.Minute)
					if err := ss.SaveSystemSample(ctx, store.SystemSample{Instance: "p1", Step: 300, At: at, Data: row}, histTiers[0].keep); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("save-fine", func(b *testing.B) {
				at := now
				for b.Loop() {
					at = at.Add(savedFine.every)
					if err := ss.SaveSystemSample(ctx, store.SystemSample{Instance: "p1", Step: 15, At: at, Data: row}, savedFine.keep); err != nil {
						b.Fatal(err)
					}
				}
			})
			// serve's first read of an instance (histremote.go): every
			// tier, the fine one included.
			b.Run("pull", func(b *testing.B) {
				for b.Loop() {
					r := newStoredRing(time.Now)
					if err := r.pull(ctx, ss, "p1", true); err != nil {
						b.Fatal(err)
					}
					if len(r.samples) < 400 || len(r.tiers[0].samples) < 500 || len(r.tiers[1].samples) < 700 {
						b.Fatalf("read %d, %d and %d samples", len(r.samples), len(r.tiers[0].samples), len(r.tiers[1].samples))
					}
				}
			})
			b.Run("restore", func(b *testing.B) {
				for b.Loop() {
					r := newHistRing(g, histEvery)
					if err := r.restore(ctx, ss, "p1"); err != nil {
						b.Fatal(err)
					}
					if len(r.tiers[0].samples) < 500 || len(r.tiers[1].samples) < 700 {
						b.Fatalf("restored %d and %d samples", len(r.tiers[0].samples), len(r.tiers[1].samples))
					}
				}
			})
		})
	}
}

// countingSamples takes saved samples at no cost, counting them.
type countingSamples struct {
	rows, bytes int
}

func (c *countingSamples) SaveSystemSample(_ context.Context, s store.SystemSample, _ time.Duration) error {
	c.rows++
	c.bytes += len(s.Data)
	return nil
}

func (c *countingSamples) SystemSamples(context.Context, string, int, time.Time) ([]store.SystemSample, error) {
	return nil, nil
}

func (c *countingSamples) SystemSampleInstances(context.Context) ([]store.SystemSampleInstance, error) {
	return nil, nil
}
