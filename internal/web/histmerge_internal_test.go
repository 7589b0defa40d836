package web

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/pgtest"
	"github.com/shopstream/shopstream/internal/store/postgres"
	"github.com/shopstream/shopstream/internal/store/sqlite"
)

// TestHistogramsMergeInstances: under a serve-like server (no pipeline,
// no id), GET /api/v1/metrics/histograms?instance=* merges the latency
// histograms of the processes that saved samples over the range: p1
// committing 90 records a minute at 20 ms, p2 10 a minute at 500 ms, both
// up to a minute ago; p3, last seen three hours ago, is left out. The
// merged count and buckets are the sums of each instance's own answer
// (instance=p1, instance=p2) and of what they observed, and the p95 is in
// p2's bucket (256, 512] ms, where p1's alone is in its (16, 32] ms; the
// period before is merged too. On both stores.
func TestHistogramsMergeInstances(t *testing.T) {
	for name, open := range map[string]func(t *testing.T) store.Store{
		"sqlite": func(t *testing.T) store.Store {
			st, err := sqlite.Open(context.Background(), t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			return st
		},
		"postgres": func(t *testing.T) store.Store {
			st, err := postgres.Open(context.Background(), pgtest.URL(t))
			if err != nil {
				t.Fatal(err)
			}
			return st
		},
	} {
		t.Run(name, func(t *testing.T) {
			st := open(t)
			t.Cleanup(func() { st.Close() })
			ss := st.(store.SystemSamples)
			end := time.Now().Add(-time.Minute).Truncate(time.Second)
			seed := func(inst string, from time.Time, n, perMinute int, lat float64) {
				if err := SeedLatencyHistory(ss, inst, from, n, perMinute, lat); err != nil {
					t.Fatal(err)
				}
			}
			seed("p1", end.Add(-90*time.Minute), 90, 90, 0.02)
			seed("p2", end.Add(-75*time.Minute), 75, 10, 0.5)
			seed("p3", end.Add(-5*time.Hour), 120, 50, 3)

			reg := prometheus.NewRegistry()
			reg.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: "shopstream_store_size_bytes"}))
			s, err := New(Config{Store: st, Gatherer: reg, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.closeDone.Do(func() { close(s.done) }) })
			get := func(inst string, since, until time.Time) HistogramRange {
				t.Helper()
				target := "/api/v1/metrics/histograms?name=shopstream_e2e_latency_seconds&instance=" + inst + "&since=" + strconv.FormatInt(since.Unix(), 10)
				if !until.IsZero() {
					target += "&until=" + strconv.FormatInt(until.Unix(), 10)
				}
				rec := httptestGet(t, s.histograms, target)
				if rec.Code != http.StatusOK {
					t.Fatalf("%s: %d %s", target, rec.Code, rec.Body)
				}
				var out HistogramRange
				readJSON(t, rec, &out)
				return out
			}
			for _, c := range []struct {
				what         string
				since, until time.Time
				p1, p2       uint64 // records a minute over the range
			}{
				{"the last half hour", end.Add(-30 * time.Minute), time.Time{}, 90, 10},
				{"the half hour before", end.Add(-60 * time.Minute), end.Add(-30 * time.Minute), 90, 10},
			} {
				all, one, two := get("%2A", c.since, c.until), get("p1", c.since, c.until), get("p2", c.since, c.until)
				if !slices.Equal(all.Instances, []string{"p1", "p2"}) || all.Source != sourceStore || all.Instance == nil || *all.Instance != "*" ||
					all.Capped || all.From == nil || all.To == nil || len(all.Histograms) != 1 || len(one.Histograms) != 1 || len(two.Histograms) != 1 {
					t.Fatalf("%s: merged %+v (p1 %+v, p2 %+v), want p1's and p2's latency", c.what, all, one, two)
				}
				h, h1, h2 := all.Histograms[0], one.Histograms[0], two.Histograms[0]
				// What each observed between its two samples: a minute's
				// records per minute between them.
				for _, x := range []struct {
					inst    string
					r       HistogramRange
					perMin  uint64
					latency float64
				}{{"p1", one, c.p1, 0.02}, {"p2", two, c.p2, 0.5}} {
					mins := uint64(x.r.To.Sub(*x.r.From) / time.Minute)
					if got := x.r.Histograms[0].Count; got != mins*x.perMin || mins < 29 {
						t.Errorf("%s: %s counted %d over %d minutes, want %d", c.what, x.inst, got, mins, mins*x.perMin)
					}
				}
				if h.Count != h1.Count+h2.Count || h.Sum != h1.Sum+h2.Sum || len(h.Buckets) != len(h1.Buckets) {
					t.Errorf("%s: merged %d observations summing %v, want p1's %d + p2's %d (%v + %v)", c.what, h.Count, h.Sum, h1.Count, h2.Count, h1.Sum, h2.Sum)
				}
				for i := range h.Buckets {
					if h.Buckets[i].Count != h1.Buckets[i].Count+h2.Buckets[i].Count {
						t.Errorf("%s: bucket %d holds %d, want %d + %d", c.what, i, h.Buckets[i].Count, h1.Buckets[i].Count, h2.Buckets[i].Count)
					}
				}
				// 10% of the records took 500 ms: the p95 is among them.
				if h.Value == nil || *h.Value <= 0.256 || *h.Value > 0.512 || h1.Value == nil || *h1.Value > 0.032 {
					t.Errorf("%s: merged p95 %v (p1's %v), want in p2's bucket of 500 ms, (256, 512] ms", c.what, deref(h.Value), deref(h1.Value))
				}
				from, to := *one.From, *one.To
				if two.From.Before(from) {
					from = *two.From
				}
				if two.To.After(to) {
					to = *two.To
				}
				if !all.From.Equal(from) || !all.To.Equal(to) {
					t.Errorf("%s: merged from %v to %v, want %v to %v", c.what, all.From, all.To, from, to)
				}
			}
			// A range before every instance's samples but p3's: p3 alone,
			// and capped, as p3's samples start after it.
			old := get("%2A", end.Add(-6*time.Hour), end.Add(-3*time.Hour))
			if !slices.Equal(old.Instances, []string{"p3"}) || !old.Capped || len(old.Histograms) != 1 || old.Histograms[0].Count == 0 {
				t.Errorf("five hours ago: %+v, want p3's samples alone, capped", old)
			}
		})
	}
}

func deref(v *float64) any {
	if v == nil {
		return nil
	}
	return *v
}
