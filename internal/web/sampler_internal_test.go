package web

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/pgtest"
	"github.com/shopstream/shopstream/internal/store/postgres"
	"github.com/shopstream/shopstream/internal/store/sqlite"
)

// TestSamplerSavesForServe: a process that serves nothing samples its
// registry every minute for three and a half hours, ending 40 minutes past
// an hour 20 to 80 minutes ago, into a store (SQLite, PostgreSQL), holding in memory only what the
// next folds need. A server over the same store that samples no pipeline
// (as serve) lists the instance, last seen at its newest sample (a fine
// one: saved every 15 s, here every tick), and answers its series from the
// saved tiers: half an hour at the fine samples' resolution, a day at the
// 5-minute one, a week at the hour's, each point the rate, backlog mean and
// p95 of the ticks between its two samples (the day's and the week's last
// point the newest fine sample, carried on from the newest coarse one);
// its histograms over two hours count every observation after the
// answer's first sample up to the newest. An instance that saved nothing
// is a 404.
func TestSamplerSavesForServe(t *testing.T) {
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
			// The ticks end 40 minutes past an hour, 20 to 80 minutes ago:
			// the week's last point, the newest 5-minute sample, is over
			// half its step after the last hourly one, so a point of its own.
			start := time.Now().Truncate(time.Hour).Add(-4*time.Hour + 10*time.Minute + 7*time.Second)
			// The sim's metrics move in the sampler's gather, so each tick
			// records exactly what the sample taken at it saw.
			sim := newTierSim(start, time.Minute)
			var h *histRing
			gather := prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
				if at := h.now(); at.After(start) {
					k := len(sim.ticks)
					tk := simTick{at: at, inc: float64(10 * (k%7 + 1)), gauge: float64((k * 13) % 29)}
					for j := range k%4 + 1 {
						tk.obs = append(tk.obs, float64((k*37+j*11)%700)+0.5)
					}
					sim.recs.Add(tk.inc)
					sim.backlog.Set(tk.gauge)
					for _, o := range tk.obs {
						sim.sizes.Observe(o)
					}
					sim.ticks = append(sim.ticks, tk)
				}
				return sim.reg.Gather()
			})
			cfg := SamplerConfig{Gatherer: gather, Store: ss, Instance: "p1", Logger: slog.New(slog.DiscardHandler)}
			h = newSampler(cfg)
			ticks := make(chan time.Time)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() {
				defer close(done)
				h.sample(ctx, cfg, start, ticks)
			}()
			held := 0
			for i := 1; i <= 210; i++ {
				ticks <- start.Add(time.Duration(i) * time.Minute) // received: the tick before is done
				h.mu.Lock()
				held = max(held, len(h.samples)+len(h.tiers[0].samples)+len(h.tiers[1].samples))
				h.mu.Unlock()
			}
			cancel()
			<-done
			end := start.Add(210 * time.Minute)
			if len(sim.ticks) != 210 {
				t.Fatalf("%d ticks gathered, want 210", len(sim.ticks))
			}
			// Five fine samples, twelve 5-minute ones and an hour's at most,
			// where a server keeps two hours of fine samples and every tier.
			if held > 6+13+1 || len(h.tiers[1].samples) != 1 {
				t.Errorf("the sampler held up to %d samples (the hour tier %d), want at most 20 (1)", held, len(h.tiers[1].samples))
			}

			serveReg := prometheus.NewRegistry()
			serveReg.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: "shopstream_store_size_bytes"}))
			s, err := New(Config{Store: st, Gatherer: serveReg, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.closeDone.Do(func() { close(s.done) }) })
			var insts SampleInstances
			readJSON(t, httptestGet(t, s.sampleInstances, "/api/v1/metrics/instances"), &insts)
			if insts.Server.Instance != nil || insts.Server.Pipeline || len(insts.Instances) != 1 || insts.Instances[0].Instance != "p1" ||
				!insts.Instances[0].LastSeen.Equal(end) || !insts.Instances[0].Oldest.Equal(start) || insts.Instances[0].Self {
				t.Fatalf("instances: %+v, want p1 alone, last seen %v, since %v, and a server without a pipeline", insts, end, start)
			}

			for _, c := range []struct {
				since      time.Time
				step       int
				resolution float64
				held       time.Time // zero: the range's start or later
				points     int
			}{
				{end.Add(-30 * time.Minute), 60, 15, time.Time{}, 29},
				{time.Now().Add(-24 * time.Hour), 300, 300, start, 40},
				{time.Now().Add(-7 * 24 * time.Hour), 3600, 3600, start, 3},
			} {
				q := tierQuery(c.since, time.Time{}, c.step)
				q.Set("instance", "p1")
				code, r, _ := getSeries(t, s, q)
				if code != http.StatusOK || r.ResolutionSeconds != c.resolution || r.Source != sourceStore || r.Instance == nil || *r.Instance != "p1" ||
					r.SampleSeconds != 15 || r.Started != nil || r.HeldSince == nil || (!c.held.IsZero() && !r.HeldSince.Equal(c.held)) ||
					(c.held.IsZero() && r.HeldSince.After(c.since)) {
					t.Fatalf("%v: %d %+v, want resolution %v from p1's saved samples", c.since, code, r, c.resolution)
				}
				if last := r.Metrics[0].Times[len(r.Metrics[0].Times)-1]; last != float64(end.Unix()) {
					t.Errorf("%v: the last point at %v, want p1's newest saved sample %v", c.since, last, end.Unix())
				}
				if n := checkPoints(t, r, sim.ticks, sim.bounds, time.Time{}); n < c.points {
					t.Errorf("%v: %d points compared, want at least %d", c.since, n, c.points)
				}
			}
			since := end.Add(-2 * time.Hour)
			rec := httptestGet(t, s.histograms, "/api/v1/metrics/histograms?instance=p1&name=shopstream_batch_records&since="+strconv.FormatInt(since.Unix(), 10))
			var hr HistogramRange
			readJSON(t, rec, &hr)
			if hr.ResolutionSeconds != 300 || hr.Source != sourceStore || hr.From == nil || hr.To == nil || !hr.To.Equal(end) || len(hr.Histograms) != 1 {
				t.Fatalf("histograms of p1: %+v", hr)
			}
			want := uint64(0)
			for _, tk := range sim.ticks {
				if tk.at.After(*hr.From) && !tk.at.After(*hr.To) {
					want += uint64(len(tk.obs))
				}
			}
			if hr.Histograms[0].Count != want || want == 0 || since.Sub(*hr.From) > 5*time.Minute || hr.From.After(since) {
				t.Errorf("histograms of p1: %d from %v, want %d from the 5-minute sample at or before %v", hr.Histograms[0].Count, hr.From, want, since)
			}
			// The server's own samples still answer without instance=.
			if code, r, _ := getSeries(t, s, url.Values{"name": {"shopstream_store_size_bytes"}}); code != http.StatusOK || r.Source != sourceMemory || r.Instance != nil {
				t.Errorf("the server's own samples: %d %+v", code, r)
			}
			if code, _, eb := getSeries(t, s, url.Values{"name": {"shopstream_records_total"}, "instance": {"p2"}}); code != http.StatusNotFound {
				t.Errorf("an instance that saved nothing: %d %+v, want 404", code, eb)
			}
		})
	}
}
