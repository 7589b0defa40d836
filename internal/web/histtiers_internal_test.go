package web

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/pgtest"
	"github.com/shopstream/shopstream/internal/store/postgres"
	"github.com/shopstream/shopstream/internal/store/sqlite"
)

// tierSim is a process sampled by a ring on a fake clock, with a record
// of what it counted, set and observed before each tick: what the
// coarse tiers' points are checked against, independently of the ring.
type tierSim struct {
	reg     *prometheus.Registry
	recs    prometheus.Counter
	backlog prometheus.Gauge
	sizes   prometheus.Histogram
	bounds  []float64
	h       *histRing
	clock   time.Time
	ticks   []simTick
}

type simTick struct {
	at    time.Time
	inc   float64   // records counted since the tick before
	gauge float64   // the backlog at the tick
	obs   []float64 // batch sizes observed since the tick before
}

// newTierSim is a process whose counters start from zero, its ring's
// first sample at start.
func newTierSim(start time.Time, every time.Duration) *tierSim {
	reg := prometheus.NewRegistry()
	f := promauto.With(reg)
	s := &tierSim{reg: reg, bounds: prometheus.ExponentialBuckets(1, 2, 11), clock: start,
		recs:    f.NewCounterVec(prometheus.CounterOpts{Name: "shopstream_records_total"}, []string{"outcome"}).WithLabelValues("stored"),
		backlog: f.NewGauge(prometheus.GaugeOpts{Name: "shopstream_outbox_pending_messages"})}
	s.sizes = f.NewHistogram(prometheus.HistogramOpts{Name: "shopstream_batch_records", Buckets: s.bounds})
	s.h = newHistRing(reg, every)
	s.h.now = func() time.Time { return s.clock }
	return s
}

// run ticks n times, every apart, varying what happens before each.
func (s *tierSim) run(n int, every time.Duration) {
	for range n {
		k := len(s.ticks)
		s.clock = s.clock.Add(every)
		tk := simTick{at: s.clock, inc: float64(10 * (k%7 + 1)), gauge: float64((k * 13) % 29)}
		for j := range k%4 + 1 {
			tk.obs = append(tk.obs, float64((k*37+j*11)%700)+0.5)
		}
		s.recs.Add(tk.inc)
		s.backlog.Set(tk.gauge)
		for _, o := range tk.obs {
			s.sizes.Observe(o)
		}
		s.ticks = append(s.ticks, tk)
		s.h.add(s.h.take(true))
		s.h.save() // as the ticker does: nothing without a store
	}
}

// expect is what the ticks in (a, b] add up to: the records' rate, the
// backlog's mean, and the p95 of the batch sizes.
func expect(ticks []simTick, bounds []float64, a, b time.Time) (rate, mean, p95 float64) {
	var inc, gsum, osum float64
	n := 0
	cum := make([]uint64, len(bounds)+1)
	for _, tk := range ticks {
		if !tk.at.After(a) || tk.at.After(b) {
			continue
		}
		inc += tk.inc
		gsum += tk.gauge
		n++
		for _, o := range tk.obs {
			osum += o
			for i := range cum {
				if i == len(bounds) || o <= bounds[i] {
					cum[i]++
				}
			}
		}
	}
	p95, _ = histQuantile(0.95, bounds, cum, osum, 0)
	return inc / b.Sub(a).Seconds(), gsum / float64(n), p95
}

// checkPoints compares each point of an answer (but the first, whose
// start is not in the answer) with what the ticks add up to between its
// time and the point's before it; it returns how many it compared. The
// gauge of a point across restart (a coarse mean of finer means of
// unequal spans) is left out.
func checkPoints(t *testing.T, r SeriesRange, ticks []simTick, bounds []float64, restart time.Time) int {
	t.Helper()
	byName := map[string]MetricSeries{}
	for _, m := range r.Metrics {
		byName[m.Name] = m
	}
	recs, backlog, sizes := byName["shopstream_records_total"], byName["shopstream_outbox_pending_messages"], byName["shopstream_batch_records"]
	if len(recs.Times) == 0 || len(backlog.Times) != len(recs.Times) || len(sizes.Times) != len(recs.Times) {
		t.Fatalf("points: %d, %d and %d", len(recs.Times), len(backlog.Times), len(sizes.Times))
	}
	rv, gv := values(t, recs, map[string]string{"outcome": "stored"}), values(t, backlog, map[string]string{})
	pv := values(t, sizes, map[string]string{"quantile": "0.95"})
	unix := func(f float64) time.Time { return time.UnixMilli(int64(math.Round(f * 1000))).UTC() }
	n := 0
	for i := 1; i < len(recs.Times); i++ {
		a, b := unix(recs.Times[i-1]), unix(recs.Times[i])
		rate, mean, p95 := expect(ticks, bounds, a, b)
		if a.Before(restart) && !b.Before(restart) {
			mean = gv[i]
		}
		if math.IsNaN(p95) {
			t.Fatalf("point %d: no p95 in the buckets: the check would be empty", i)
		}
		if !near([]float64{rv[i], gv[i], pv[i]}, []float64{rate, mean, p95}) {
			t.Errorf("point %d (%v to %v): rate %v backlog %v p95 %v, want %v, %v and %v (the ticks in between)",
				i, a, b, rv[i], gv[i], pv[i], rate, mean, p95)
		}
		n++
	}
	return n
}

var tierNames = url.Values{"name": {"shopstream_records_total", "shopstream_outbox_pending_messages", "shopstream_batch_records"},
	"quantile": {"0.95"}}

func tierQuery(since, until time.Time, step int) url.Values {
	q := url.Values{"since": {since.Format(time.RFC3339)}, "step": {strconv.Itoa(step)}}
	if !until.IsZero() {
		q.Set("until", until.Format(time.RFC3339))
	}
	for k, v := range tierNames {
		q[k] = v
	}
	return q
}

// TestTiersFoldAndChoose: 50 hours of one-minute samples (ticks at 7 s
// past the minute). The series endpoint answers the last hour from the
// fine samples, a day from the 5-minute tier and a week or more from the
// hour's (capped at its oldest sample); every coarse point's counter rate,
// gauge mean and histogram p95 are those of the ticks between its two
// samples, the last point included, which ends with the newest fine
// sample (two minutes into an interval of the 5-minute tier). The tiers
// keep what they should.
func TestTiersFoldAndChoose(t *testing.T) {
	start := time.Date(2026, 12, 1, 6, 0, 7, 0, time.UTC)
	sim := newTierSim(start, time.Minute)
	sim.h.add(sim.h.take(true))
	sim.run(50*60+2, time.Minute)
	now := sim.clock
	s := &Server{hist: sim.h}

	for _, c := range []struct {
		name       string
		since      time.Duration
		resolution float64
		capped     bool
		heldSince  time.Time
		points     int // at least, compared
	}{
		{"hour", time.Hour, 60, false, now.Add(-2 * time.Hour), 50},
		{"day", 24 * time.Hour, 300, false, now.Add(-48 * time.Hour).Add(-2 * time.Minute), 280},
		{"week", 7 * 24 * time.Hour, 3600, true, start, 45},
		{"sixty days", 60 * 24 * time.Hour, 3600, true, start, 45},
	} {
		code, r, _ := getSeries(t, s, tierQuery(now.Add(-c.since), time.Time{}, 1))
		if code != http.StatusOK {
			t.Fatalf("%s: %d", c.name, code)
		}
		if r.ResolutionSeconds != c.resolution || r.StepSeconds != c.resolution || r.Capped != c.capped ||
			r.HeldSince == nil || !r.HeldSince.Equal(c.heldSince) {
			t.Errorf("%s: resolution %v step %v capped %v held since %v, want %v, %v, %v, %v", c.name, r.ResolutionSeconds,
				r.StepSeconds, r.Capped, r.HeldSince, c.resolution, c.resolution, c.capped, c.heldSince)
		}
		if n := checkPoints(t, r, sim.ticks, sim.bounds, time.Time{}); n < c.points {
			t.Errorf("%s: %d points compared, want at least %d", c.name, n, c.points)
		}
	}
	// The last hour asked at a step of 5 minutes is the 5-minute tier's,
	// which reaches as far: its points are the same.
	if _, r, _ := getSeries(t, s, tierQuery(now.Add(-time.Hour), time.Time{}, 300)); r.ResolutionSeconds != 300 || len(r.Metrics[0].Times) != 12 {
		t.Errorf("the last hour at a 300 s step: resolution %v, %d points, want 300 and 12", r.ResolutionSeconds, len(r.Metrics[0].Times))
	} else {
		checkPoints(t, r, sim.ticks, sim.bounds, time.Time{})
	}
	// A custom range of yesterday morning, from the 5-minute tier.
	from := start.Add(24 * time.Hour)
	if _, r, _ := getSeries(t, s, tierQuery(from, from.Add(3*time.Hour), 1)); r.ResolutionSeconds != 300 || len(r.Metrics[0].Times) != 36 {
		t.Errorf("a custom range of three hours a day ago: resolution %v, %d points, want 300 and 36", r.ResolutionSeconds, len(r.Metrics[0].Times))
	}
	h := sim.h
	if n := len(h.tiers[0].samples); n != 48*12+1 {
		t.Errorf("the 5-minute tier holds %d samples, want %d (two days)", n, 48*12+1)
	}
	if n := len(h.tiers[1].samples); n != 51 {
		t.Errorf("the hour tier holds %d samples, want 51", n)
	}

	// The histograms endpoint takes the same tiers: a day's count is of
	// the ticks after the 5-minute sample at or before its start.
	rec := httptestGet(t, s.histograms, "/api/v1/metrics/histograms?name=shopstream_batch_records&since="+
		strconv.FormatInt(now.Add(-24*time.Hour).Unix(), 10))
	var hr HistogramRange
	readJSON(t, rec, &hr)
	if hr.ResolutionSeconds != 300 || hr.From == nil || len(hr.Histograms) != 1 {
		t.Fatalf("histograms of a day: %+v", hr)
	}
	want := uint64(0)
	for _, tk := range sim.ticks {
		if tk.at.After(*hr.From) {
			want += uint64(len(tk.obs))
		}
	}
	if hr.Histograms[0].Count != want || now.Add(-24*time.Hour).Sub(*hr.From) > 5*time.Minute || hr.From.After(now.Add(-24*time.Hour)) {
		t.Errorf("histograms of a day: %d from %v, want %d from the 5-minute sample at or before %v", hr.Histograms[0].Count, hr.From,
			want, now.Add(-24*time.Hour))
	}
}

func httptestGet(t *testing.T, h http.HandlerFunc, target string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h(rec, httptest.NewRequest(http.MethodGet, target, nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("%s: %d %s", target, rec.Code, rec.Body)
	}
	return rec
}

func readJSON(t *testing.T, rec *httptest.ResponseRecorder, v any) {
	t.Helper()
	if err := json.Unmarshal(rec.Body.Bytes(), v); err != nil {
		t.Fatalf("%v in %s", err, rec.Body)
	}
}

// TestTiersOutliveARestart: a process samples three and a half hours into
// a store (SQLite, PostgreSQL) and stops; the store is closed. Eight
// minutes later a new process (its counters from zero, having counted,
// set and observed a little before its first sample) opens the store,
// restores the tiers and samples 90 minutes. Its day and week answer
// from the restored tiers: every point is what the ticks saved add up to
// (the last two minutes of the first process, after its last coarse
// sample, are lost), the point across the restart counts what the new
// process did from zero, and the hour across it adds the first process's
// half hour to the new one's (the reset corrected).
func TestTiersOutliveARestart(t *testing.T) {
	for name, open := range map[string]func(t *testing.T) func() store.Store{
		"sqlite": func(t *testing.T) func() store.Store {
			dir := t.TempDir()
			return func() store.Store {
				st, err := sqlite.Open(context.Background(), dir)
				if err != nil {
					t.Fatal(err)
				}
				return st
			}
		},
		"postgres": func(t *testing.T) func() store.Store {
			u := pgtest.URL(t)
			return func() store.Store {
				st, err := postgres.Open(context.Background(), u)
				if err != nil {
					t.Fatal(err)
				}
				return st
			}
		},
	} {
		t.Run(name, func(t *testing.T) {
			reopen := open(t)
			st := reopen()
			start := time.Date(2026, 12, 1, 6, 0, 7, 0, time.UTC)
			a := newTierSim(start, time.Minute)
			a.h.persist = &histPersist{st: st.(store.SystemSamples), instance: "p1"}
			a.h.add(a.h.take(true))
			a.h.save()
			a.run(212, time.Minute) // to 09:32:07; the last coarse sample 09:30:07
			lastSaved := a.h.tiers[0].samples[len(a.h.tiers[0].samples)-1].at
			if err := st.Close(); err != nil {
				t.Fatal(err)
			}

			st = reopen()
			t.Cleanup(func() { st.Close() })
			restart := lastSaved.Add(10 * time.Minute)
			b := newTierSim(restart, time.Minute)
			before := simTick{at: restart, inc: 500, gauge: 4, obs: []float64{3.5, 100.5}}
			b.recs.Add(before.inc)
			b.backlog.Set(before.gauge)
			for _, o := range before.obs {
				b.sizes.Observe(o)
			}
			if err := b.h.restore(context.Background(), st.(store.SystemSamples), "p1"); err != nil {
				t.Fatal(err)
			}
			if n, want := len(b.h.tiers[0].samples), len(a.h.tiers[0].samples); n != want {
				t.Fatalf("restored %d samples of the 5-minute tier, want %d", n, want)
			}
			b.h.persist = &histPersist{st: st.(store.SystemSamples), instance: "p1"}
			b.h.add(b.h.take(true))
			b.h.save()
			b.run(90, time.Minute)

			var ticks []simTick
			for _, tk := range a.ticks {
				if !tk.at.After(lastSaved) {
					ticks = append(ticks, tk)
				}
			}
			ticks = append(append(ticks, before), b.ticks...)
			s := &Server{hist: b.h}
			for _, c := range []struct {
				since      time.Duration
				step       int
				resolution float64
				points     int
			}{{24 * time.Hour, 1, 300, 55}, {7 * 24 * time.Hour, 3600, 3600, 4}} {
				code, r, _ := getSeries(t, s, tierQuery(b.clock.Add(-c.since), time.Time{}, c.step))
				if code != http.StatusOK || r.ResolutionSeconds != c.resolution || r.HeldSince == nil || !r.HeldSince.Equal(start) ||
					r.Started == nil || !r.Started.Equal(restart) {
					t.Fatalf("%v: %d resolution %v held since %v started %v, want %v from %v, started %v", c.since, code,
						r.ResolutionSeconds, r.HeldSince, r.Started, c.resolution, start, restart)
				}
				if n := checkPoints(t, r, ticks, a.bounds, restart); n < c.points {
					t.Errorf("%v: %d points compared, want at least %d", c.since, n, c.points)
				}
			}
			// A third process finds the second's samples too.
			c := newTierSim(b.clock.Add(time.Minute), time.Minute)
			if err := c.h.restore(context.Background(), st.(store.SystemSamples), "p1"); err != nil {
				t.Fatal(err)
			}
			if n, want := len(c.h.tiers[1].samples), len(b.h.tiers[1].samples); n != want || n < 6 {
				t.Errorf("restored %d samples of the hour tier, want %d (at least 6)", n, want)
			}
		})
	}
}
