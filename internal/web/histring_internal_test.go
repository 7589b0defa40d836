package web

import (
	"encoding/json"
	"maps"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// TestHistQuantile: interpolation inside a bucket, "above" past the last
// finite bound, and never more, nor less, than the sum allows.
func TestHistQuantile(t *testing.T) {
	bounds := []float64{1, 2, 4, 8}
	for _, c := range []struct {
		name         string
		cum          []uint64
		sum, least   float64
		value, above float64
	}{
		{"inside a bucket", []uint64{0, 10, 20, 20, 20}, 45, 0, 3.8, math.NaN()},
		{"first bucket from 0", []uint64{20, 20, 20, 20, 20}, 10, 0, 0.95, math.NaN()},
		{"past the last bound", []uint64{0, 0, 0, 10, 20}, 500, 0, math.NaN(), 8},
		// 16 runs of 5 s in all: the slowest took at most 80 s, although
		// it is in the 4..8 bucket and interpolation says 7.8.
		{"capped by the sum", []uint64{0, 0, 0, 16, 16}, 4 * 16, 0, 4, math.NaN()},
		{"one observation", []uint64{0, 0, 1, 1, 1}, 2.5, 0, 2.5, math.NaN()},
		{"nothing observed", []uint64{0, 0, 0, 0, 0}, 0, 0, math.NaN(), math.NaN()},
		// A hundred batches of one record each: every one is 1, though
		// interpolation from 0 in the first bucket says 0.95.
		{"raised by the sum", []uint64{100, 100, 100, 100, 100}, 100, 0, 1, math.NaN()},
		// Twenty of 4 (sum 80): the 19th is 4, not 3.9.
		{"raised inside a bucket", []uint64{0, 0, 20, 20, 20}, 80, 0, 4, math.NaN()},
		{"first bucket from the least", []uint64{20, 20, 20, 20, 20}, 20, 1, 1, math.NaN()},
	} {
		v, a := histQuantile(0.95, bounds, c.cum, c.sum, c.least)
		if !same(v, c.value) || !same(a, c.above) {
			t.Errorf("%s: value %v above %v, want %v and %v", c.name, v, a, c.value, c.above)
		}
	}
}

// TestHistQuantileOfWholeBatches: sixty batches of one record and forty
// of seven (sum 340). Interpolating from 0 in the first bucket puts the
// median at 50/60 of a record; the records histogram's observations are
// at least 1 (histLeast), so its median is a batch of one.
func TestHistQuantileOfWholeBatches(t *testing.T) {
	bounds := []float64{1, 4, 16, 64}
	cum := []uint64{60, 60, 100, 100, 100}
	if v, _ := histQuantile(0.5, bounds, cum, 340, 0); !same(v, 50.0/60) {
		t.Errorf("median from 0: %v, want 50/60", v)
	}
	least := histLeast("shopstream_batch_records")
	if v, _ := histQuantile(0.5, bounds, cum, 340, least); !same(v, 1) {
		t.Errorf("median of whole batches (least %v): %v, want 1", least, v)
	}
	if v, _ := histQuantile(0.95, bounds, cum, 340, least); !(v > 4 && v <= 16) {
		t.Errorf("p95 of whole batches: %v, want in the (4, 16] bucket", v)
	}
	if l := histLeast("shopstream_e2e_latency_seconds"); l != 0 {
		t.Errorf("least latency %v, want 0", l)
	}
}

func same(a, b float64) bool {
	return math.IsNaN(a) && math.IsNaN(b) || math.Abs(a-b) < 1e-9
}

// TestHistogramRangeLeavesOutTheBackfill: a burst of slow observations
// before the range (the history backfill) fills the top bucket of the
// cumulative histogram; the range's quantile is of what came after.
func TestHistogramRangeLeavesOutTheBackfill(t *testing.T) {
	reg := prometheus.NewRegistry()
	lat := promauto.With(reg).NewHistogram(prometheus.HistogramOpts{Name: "shopstream_e2e_latency_seconds",
		Buckets: prometheus.ExponentialBuckets(0.001, 2, 16)})
	for range 1000 {
		lat.Observe(40) // past the largest bound, 32.768 s
	}
	clock := time.Date(2026, 12, 3, 6, 0, 0, 0, time.UTC)
	h := newHistRing(reg, time.Minute)
	h.now = func() time.Time { return clock }
	h.add(h.take(true)) // 06:00, the backfill done
	for i := range 100 {
		lat.Observe(0.008 + 0.008*float64(i)/99)
	}
	clock = clock.Add(10 * time.Minute)
	h.add(h.take(true)) // 06:10
	for range 100 {
		lat.Observe(0.5)
	}
	clock = clock.Add(10 * time.Minute) // 06:20: the fresh sample

	s := &Server{hist: h}
	get := func(q url.Values) HistogramRange {
		t.Helper()
		rec := httptest.NewRecorder()
		s.histograms(rec, httptest.NewRequest(http.MethodGet, "/api/v1/metrics/histograms?"+q.Encode(), nil))
		if rec.Code != http.StatusOK {
			t.Fatalf("%v: %d %s", q, rec.Code, rec.Body)
		}
		var out HistogramRange
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatal(err)
		}
		if out.From != nil && len(out.Histograms) != 1 {
			t.Fatalf("%v: %d histograms, want 1", q, len(out.Histograms))
		}
		return out
	}

	// The whole hour: capped to the first sample, the backfill left out.
	r := get(url.Values{"since": {"2026-12-03T05:20:00Z"}, "name": {"shopstream_e2e_latency_seconds"}})
	hq := r.Histograms[0]
	if !r.Capped || !r.From.Equal(time.Date(2026, 12, 3, 6, 0, 0, 0, time.UTC)) || !r.To.Equal(clock) || hq.Count != 200 {
		t.Errorf("last hour: capped %v from %v to %v count %d, want capped from 06:00 to 06:20 with 200", r.Capped, r.From, r.To, hq.Count)
	}
	if hq.Value == nil || *hq.Value < 0.256 || *hq.Value > 0.512 || hq.Above != nil {
		t.Errorf("last hour: p95 %v above %v, want in the 0.5 s bucket", hq.Value, hq.Above)
	}
	// Per bucket: the 100 of 8-16 ms (one of them exactly 8 ms, at most
	// the 8 ms bound), the 100 of 0.5 s, none of the backfill's 40 s.
	got := map[string]uint64{}
	for i, b := range hq.Buckets {
		if (b.Le == nil) != (i == len(hq.Buckets)-1) {
			t.Errorf("bucket %d of %d: le %v, want null only for the last", i, len(hq.Buckets), b.Le)
		}
		if b.Count > 0 {
			le := "+Inf"
			if b.Le != nil {
				le = strconv.FormatFloat(*b.Le, 'g', -1, 64)
			}
			got[le] = b.Count
		}
	}
	if want := map[string]uint64{"0.008": 1, "0.016": 99, "0.512": 100}; !maps.Equal(got, want) {
		t.Errorf("last hour: buckets %v, want %v", got, want)
	}
	// 06:00 to 06:10: only the fast ones.
	r = get(url.Values{"since": {"2026-12-03T06:00:00Z"}, "until": {"2026-12-03T06:10:00Z"}})
	hq = r.Histograms[0]
	if r.Capped || hq.Count != 100 || hq.Value == nil || *hq.Value < 0.008 || *hq.Value > 0.016 {
		t.Errorf("06:00-06:10: capped %v count %d p95 %v, want 100 observations of 8-16 ms", r.Capped, hq.Count, hq.Value)
	}
	// Since start, as /metrics has it, the quantile is past the buckets.
	b := h.take(true)
	for _, hs := range b.series {
		v, above := histQuantile(0.95, hs.bounds, hs.cum, hs.sum, 0)
		if !math.IsNaN(v) || above != 32.768 {
			t.Errorf("since start: p95 %v above %v, want past 32.768", v, above)
		}
	}
	// A range before the first sample: no pair of samples.
	r = get(url.Values{"since": {"2026-12-03T05:00:00Z"}, "until": {"2026-12-03T05:30:00Z"}})
	if r.From != nil || len(r.Histograms) != 0 {
		t.Errorf("before the ring: from %v histograms %v, want none", r.From, r.Histograms)
	}
	// after=: from the first sample at or after it (06:10 for 06:00:01,
	// where since= reads from 06:00), to the fresh one.
	r = get(url.Values{"after": {"2026-12-03T06:00:01Z"}})
	if r.From == nil || !r.From.Equal(time.Date(2026, 12, 3, 6, 10, 0, 0, time.UTC)) || r.Histograms[0].Count != 100 {
		t.Errorf("after 06:00:01: from %v, %v, want from 06:10 the 100 of 0.5 s", r.From, r.Histograms)
	}
	if r = get(url.Values{"since": {"2026-12-03T06:00:01Z"}}); r.From == nil || !r.From.Equal(time.Date(2026, 12, 3, 6, 0, 0, 0, time.UTC)) {
		t.Errorf("since 06:00:01: from %v, want 06:00", r.From)
	}
	// After the newest sample: none yet.
	if r = get(url.Values{"after": {"2026-12-03T06:10:01Z"}}); r.From != nil || len(r.Histograms) != 0 {
		t.Errorf("after the newest sample: from %v histograms %v, want none", r.From, r.Histograms)
	}
	for _, q := range []url.Values{{"after": {"2026-12-03T06:00:01Z"}, "since": {"2026-12-03T06:00:00Z"}},
		{"after": {"2026-12-03T06:10:00Z"}, "until": {"2026-12-03T06:00:00Z"}}, {"after": {"noon"}}} {
		rec := httptest.NewRecorder()
		s.histograms(rec, httptest.NewRequest(http.MethodGet, "/api/v1/metrics/histograms?"+q.Encode(), nil))
		if rec.Code != http.StatusBadRequest {
			t.Errorf("%v: %d %s, want 400", q, rec.Code, rec.Body)
		}
	}
}

// TestHistRingKeeps: the ring drops samples older than it keeps.
func TestHistRingKeeps(t *testing.T) {
	clock := time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)
	h := newHistRing(prometheus.NewRegistry(), time.Minute)
	h.now = func() time.Time { return clock }
	for range 200 {
		h.add(h.take(true))
		clock = clock.Add(time.Minute)
	}
	if n := len(h.samples); n != 121 || clock.Sub(h.samples[0].at) != 121*time.Minute {
		t.Errorf("%d samples from %v, want 121 (two hours)", n, h.samples[0].at)
	}
}

// TestHistRingSharesWhatDoesNotChange: a histogram's key, labels and
// bounds are kept once for consecutive samples; its counts each time.
func TestHistRingSharesWhatDoesNotChange(t *testing.T) {
	reg := prometheus.NewRegistry()
	lat := promauto.With(reg).NewHistogramVec(prometheus.HistogramOpts{Name: "shopstream_stage_duration_seconds",
		Buckets: prometheus.ExponentialBuckets(0.001, 2, 8)}, []string{"stage"})
	h := newHistRing(reg, time.Minute)
	lat.WithLabelValues("write").Observe(0.01)
	h.add(h.take(false))
	lat.WithLabelValues("write").Observe(0.02)
	h.add(h.take(false))
	a, b := h.samples[0].series, h.samples[1].series
	if len(a) != 1 || len(b) != 1 {
		t.Fatalf("%d and %d histograms, want 1", len(a), len(b))
	}
	for k, hb := range b {
		ha := a[k]
		if ha == nil || &ha.bounds[0] != &hb.bounds[0] || ha.key != hb.key || hb.labels["stage"] != "write" {
			t.Errorf("the second sample's %s does not share the first's bounds and labels", k)
		}
		if &ha.cum[0] == &hb.cum[0] || ha.cum[len(ha.cum)-1] != 1 || hb.cum[len(hb.cum)-1] != 2 {
			t.Errorf("counts %v then %v, want their own, 1 then 2", ha.cum, hb.cum)
		}
	}
}
