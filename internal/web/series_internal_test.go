package web

import (
	"context"
	"encoding/json"
	"log/slog"
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
	"github.com/shopstream/shopstream/internal/store/sqlite"
	"github.com/shopstream/shopstream/internal/store/storetest"
)

// seriesFixture is a ring sampled at 06:00, 06:01, 06:02 and 06:03 (one
// minute apart) of a counter, a gauge and a histogram, with what each did
// in between.
func seriesFixture(t *testing.T) (*Server, time.Time) {
	t.Helper()
	reg := prometheus.NewRegistry()
	f := promauto.With(reg)
	recs := f.NewCounterVec(prometheus.CounterOpts{Name: "shopstream_records_total"}, []string{"outcome"})
	backlog := f.NewGauge(prometheus.GaugeOpts{Name: "shopstream_outbox_pending_messages"})
	size := f.NewHistogram(prometheus.HistogramOpts{Name: "shopstream_batch_records", Buckets: prometheus.ExponentialBuckets(1, 4, 9)})
	f.NewCounter(prometheus.CounterOpts{Name: "other_total"}).Inc() // not the project's: not sampled
	recs.WithLabelValues("stored").Add(5000)                        // before the server: left out
	clock := time.Date(2026, 12, 3, 6, 0, 0, 0, time.UTC)
	h := newHistRing(reg, time.Minute)
	h.now = func() time.Time { return clock }
	h.add(h.take(true)) // 06:00
	for minute := 1; minute <= 3; minute++ {
		recs.WithLabelValues("stored").Add(float64(600 * minute)) // 10, 20, 30 a second
		recs.WithLabelValues("quarantined").Add(60)               // 1 a second, new at 06:01
		backlog.Set(float64(7 * minute))
		for range 100 {
			size.Observe([]float64{2, 10, 40}[minute-1]) // in (1, 4], (4, 16], (16, 64]
		}
		clock = clock.Add(time.Minute)
		h.add(h.take(true))
	}
	return &Server{hist: h}, clock
}

func getSeries(t *testing.T, s *Server, q url.Values) (int, SeriesRange, ErrorResponse) {
	t.Helper()
	rec := httptest.NewRecorder()
	s.metricSeries(rec, httptest.NewRequest(http.MethodGet, "/api/v1/metrics/series?"+q.Encode(), nil))
	var out SeriesRange
	var eb ErrorResponse
	if rec.Code == http.StatusOK {
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatalf("%v: %v in %s", q, err, rec.Body)
		}
	} else if err := json.Unmarshal(rec.Body.Bytes(), &eb); err != nil || eb.Error.Code == "" {
		t.Fatalf("%v: %d %q is not the JSON error shape (%v)", q, rec.Code, rec.Body, err)
	}
	return rec.Code, out, eb
}

func values(t *testing.T, m MetricSeries, labels map[string]string) []float64 {
	t.Helper()
	for _, sv := range m.Series {
		if len(sv.Labels) != len(labels) {
			continue
		}
		match := true
		for k, v := range labels {
			match = match && sv.Labels[k] == v
		}
		if !match {
			continue
		}
		out := make([]float64, len(sv.Values))
		for i, v := range sv.Values {
			out[i] = math.NaN()
			if v != nil {
				out[i] = *v
			}
		}
		return out
	}
	t.Fatalf("%s has no series %v: %+v", m.Name, labels, m.Series)
	return nil
}

func near(got, want []float64) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if !same(got[i], want[i]) && math.Abs(got[i]-want[i]) > 1e-6 {
			return false
		}
	}
	return true
}

// TestSeriesRatesValuesQuantiles: a counter's rate between two samples
// (what it counted before the server left out), a gauge's value, a
// histogram's quantiles, and a counter new between two samples counting
// from zero.
func TestSeriesRatesValuesQuantiles(t *testing.T) {
	s, _ := seriesFixture(t)
	code, r, _ := getSeries(t, s, url.Values{"since": {"2026-12-03T06:00:00Z"}, "until": {"2026-12-03T06:03:00Z"},
		"name": {"shopstream_records_total", "shopstream_outbox_pending_messages", "shopstream_batch_records"}, "quantile": {"0.5", "0.95"}})
	if code != http.StatusOK || len(r.Metrics) != 3 || len(r.Unknown) != 0 || r.Capped {
		t.Fatalf("%d %+v", code, r)
	}
	wantTimes := []float64{}
	for m := 1; m <= 3; m++ {
		wantTimes = append(wantTimes, float64(time.Date(2026, 12, 3, 6, m, 0, 0, time.UTC).Unix()))
	}
	recs, backlog, size := r.Metrics[0], r.Metrics[1], r.Metrics[2]
	if recs.Kind != "counter" || recs.Unit != "per_second" || !near(recs.Times, wantTimes) {
		t.Errorf("records: kind %s unit %s times %v, want a counter's rate at %v", recs.Kind, recs.Unit, recs.Times, wantTimes)
	}
	if got := values(t, recs, map[string]string{"outcome": "stored"}); !near(got, []float64{10, 20, 30}) {
		t.Errorf("stored records per second %v, want 10, 20, 30", got)
	}
	if got := values(t, recs, map[string]string{"outcome": "quarantined"}); !near(got, []float64{1, 1, 1}) {
		t.Errorf("quarantined records per second %v, want 1, 1, 1 (new at 06:01, from zero)", got)
	}
	if backlog.Kind != "gauge" || backlog.Unit != "value" {
		t.Errorf("backlog: kind %s unit %s", backlog.Kind, backlog.Unit)
	}
	if got := values(t, backlog, map[string]string{}); !near(got, []float64{7, 14, 21}) {
		t.Errorf("backlog %v, want 7, 14, 21", got)
	}
	if size.Kind != "histogram" || size.Unit != "count" || len(size.Series) != 2 {
		t.Fatalf("batch sizes: kind %s unit %s %d series, want a histogram's two quantiles", size.Kind, size.Unit, len(size.Series))
	}
	// Each minute's batches were all of 2, 10, then 40 records: each
	// quantile lies in that bucket, p95 above p50.
	p50, p95 := values(t, size, map[string]string{"quantile": "0.5"}), values(t, size, map[string]string{"quantile": "0.95"})
	for i, b := range [][2]float64{{1, 4}, {4, 16}, {16, 64}} {
		if !(p50[i] > b[0] && p50[i] < p95[i] && p95[i] <= b[1]) {
			t.Errorf("minute %d: batch size p50 %v p95 %v, want both in (%v, %v], p50 the lower", i+1, p50[i], p95[i], b[0], b[1])
		}
	}
}

// TestSeriesRangeClipping: a range before the ring starts at its oldest
// sample and says so; until ends the points; a step wider than the
// samples skips the ones between; a range after the ring has no point.
func TestSeriesRangeClipping(t *testing.T) {
	s, now := seriesFixture(t)
	name := url.Values{"name": {"shopstream_records_total"}}
	with := func(kv ...string) url.Values {
		q := url.Values{"name": name["name"]}
		for i := 0; i < len(kv); i += 2 {
			q.Set(kv[i], kv[i+1])
		}
		return q
	}
	code, r, _ := getSeries(t, s, with("since", "2026-12-03T05:00:00Z"))
	if code != http.StatusOK || !r.Capped || r.HeldSince == nil || !r.HeldSince.Equal(now.Add(-3*time.Minute)) ||
		r.Started == nil || !r.Started.Equal(*r.HeldSince) || len(r.Metrics[0].Times) != 3 {
		t.Fatalf("a range before the ring: %d capped %v held since %v started %v times %v, want capped at 06:00 with 3 points",
			code, r.Capped, r.HeldSince, r.Started, r.Metrics[0].Times)
	}
	_, r, _ = getSeries(t, s, with("since", "2026-12-03T06:01:00Z", "until", "2026-12-03T06:02:30Z"))
	if r.Capped || !near(r.Metrics[0].Times, []float64{float64(now.Add(-time.Minute).Unix())}) {
		t.Errorf("06:01 to 06:02:30: capped %v times %v, want the one point 06:01-06:02", r.Capped, r.Metrics[0].Times)
	}
	_, r, _ = getSeries(t, s, with("since", "2026-12-03T06:00:00Z", "step", "120"))
	if got := values(t, r.Metrics[0], map[string]string{"outcome": "stored"}); r.StepSeconds != 120 || !near(got, []float64{15}) {
		t.Errorf("step 120 s: step %v stored %v, want one point of 15 a second (06:00 to 06:02)", r.StepSeconds, got)
	}
	_, r, _ = getSeries(t, s, with("since", "2026-12-03T07:00:00Z"))
	if len(r.Metrics[0].Times) != 0 || r.Capped {
		t.Errorf("a range after the newest sample: times %v capped %v, want none", r.Metrics[0].Times, r.Capped)
	}
}

// TestSeriesRefusals: a missing, malformed or unknown name, a bad step or
// quantile, and a reversed range, each in the JSON error shape; an
// unknown name beside a known one is listed, not refused.
func TestSeriesRefusals(t *testing.T) {
	s, _ := seriesFixture(t)
	for _, c := range []struct {
		q    url.Values
		code int
		kind string
	}{
		{url.Values{}, http.StatusBadRequest, "bad_request"},
		{url.Values{"name": {"no such{metric}"}}, http.StatusBadRequest, "bad_request"},
		{url.Values{"name": {"shopstream_nothing_total"}}, http.StatusNotFound, "not_found"},
		{url.Values{"name": {"other_total"}}, http.StatusNotFound, "not_found"},
		{url.Values{"name": {"shopstream_records_total"}, "step": {"0"}}, http.StatusBadRequest, "bad_request"},
		{url.Values{"name": {"shopstream_records_total"}, "step": {"x"}}, http.StatusBadRequest, "bad_request"},
		{url.Values{"name": {"shopstream_batch_records"}, "quantile": {"1.5"}}, http.StatusBadRequest, "bad_request"},
		{url.Values{"name": {"shopstream_records_total"}, "since": {"2026-12-03T06:02:00Z"}, "until": {"2026-12-03T06:01:00Z"}}, http.StatusBadRequest, "bad_request"},
	} {
		code, _, eb := getSeries(t, s, c.q)
		if code != c.code || eb.Error.Code != c.kind {
			t.Errorf("%v: %d %q, want %d %q", c.q, code, eb.Error.Code, c.code, c.kind)
		}
	}
	code, r, _ := getSeries(t, s, url.Values{"name": {"shopstream_records_total", "shopstream_nothing_total"}})
	if code != http.StatusOK || len(r.Metrics) != 1 || len(r.Unknown) != 1 || r.Unknown[0] != "shopstream_nothing_total" {
		t.Errorf("a known and an unknown name: %d %+v, want the one and the other listed unknown", code, r)
	}
	// The dashboard's own series are known even where nothing is sampled.
	idle := &Server{hist: newHistRing(prometheus.NewRegistry(), 0)}
	code, r, _ = getSeries(t, idle, url.Values{"name": {seriesStored, seriesLag}})
	if code != http.StatusOK || len(r.Metrics) != 2 || len(r.Metrics[0].Times) != 0 || r.Started != nil {
		t.Errorf("a server that does not sample: %d %+v, want its own two series, empty", code, r)
	}
}

// TestSeriesDashboardReadings: the sampler reads the store's transactions
// total and the readiness' lag, in all and per partition, so a server
// without the pipeline's metrics (serve) has their history.
func TestSeriesDashboardReadings(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	lag := int64(40)
	srv, err := New(Config{Store: st, Gatherer: prometheus.NewRegistry(), HistogramEvery: time.Hour, Logger: slog.New(slog.DiscardHandler),
		Ready: func(context.Context) Readiness {
			return Readiness{Ready: true, Detail: map[string]any{"lag": lag, "partitions": []map[string]int64{{"partition": 0, "lag": lag - 10}, {"partition": 3, "lag": 10}}}}
		}})
	if err != nil {
		t.Fatal(err)
	}
	// A ring of its own, on a clock of its own, reading what the server
	// reads.
	h := newHistRing(prometheus.NewRegistry(), time.Minute)
	h.extra = srv.dashboardReadings
	clock := time.Now()
	h.now = func() time.Time { return clock }
	h.add(h.take(true))
	srv.hist = h
	clock = clock.Add(time.Minute)
	var txs []store.Tx
	for i := range 120 {
		txs = append(txs, storetest.Tx("t"+string(rune('a'+i%26))+string(rune('a'+i/26)), "c", time.Now(), 100, 0, int64(i)))
	}
	if err := st.WriteBatch(ctx, &store.Batch{Group: "g", Topic: "transactions", Parts: []store.Part{{Partition: 0, From: 0, To: int64(len(txs)), Txs: txs}}}); err != nil {
		t.Fatal(err)
	}
	lag = 55
	srv.sumAt = time.Time{} // the summary read afresh
	h.add(h.take(true))
	code, r, _ := getSeries(t, srv, url.Values{"name": {seriesStored, seriesLag}, "since": {strconv.FormatInt(time.Now().Add(-time.Minute).Unix(), 10)}})
	if code != http.StatusOK || len(r.Metrics) != 2 {
		t.Fatalf("%d %+v", code, r)
	}
	stored, lags := r.Metrics[0], r.Metrics[1]
	if got := values(t, stored, map[string]string{}); len(got) != 1 || got[0] <= 0 || stored.Kind != "counter" {
		t.Errorf("stored transactions per second %v (%s), want 120 over the time between the samples", got, stored.Kind)
	} else if math.Abs(got[0]-2) > 1e-9 {
		t.Errorf("stored transactions per second %v, want 120 in the minute between the samples: 2", got[0])
	}
	for labels, want := range map[string]float64{"": 55, "0": 45, "3": 10} {
		ls := map[string]string{}
		if labels != "" {
			ls["partition"] = labels
		}
		if got := values(t, lags, ls); !near(got, []float64{want}) || lags.Kind != "gauge" {
			t.Errorf("lag %v: %v (%s), want %v", ls, got, lags.Kind, want)
		}
	}
}

// summaryCounter is the SQLite store counting its Summary calls.
type summaryCounter struct {
	*sqlite.Store
	summaries int
}

func (s *summaryCounter) Summary(ctx context.Context) (store.Summary, error) {
	s.summaries++
	return s.Store.Summary(ctx)
}

// TestSeriesStoredTotalAlone: the sampler reads the stored total by the
// store's count alone while no live stream keeps the summary fresh, and
// the summary's total while one does, not the whole summary (a count of
// every customer) every sample.
func TestSeriesStoredTotalAlone(t *testing.T) {
	ctx := context.Background()
	sq, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer sq.Close()
	st := &summaryCounter{Store: sq}
	srv, err := New(Config{Store: st, Gatherer: prometheus.NewRegistry(), HistogramEvery: time.Hour, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	var txs []store.Tx
	for i := range 30 {
		txs = append(txs, storetest.Tx("t"+strconv.Itoa(i), "c", time.Now(), 100, 0, int64(i)))
	}
	if err := st.WriteBatch(ctx, &store.Batch{Group: "g", Topic: "transactions", Parts: []store.Part{{Partition: 0, From: 0, To: int64(len(txs)), Txs: txs}}}); err != nil {
		t.Fatal(err)
	}
	srv.sumAt = time.Time{}
	st.summaries = 0
	stored := func() float64 {
		for _, e := range srv.dashboardReadings() {
			if e.name == seriesStored {
				return e.v
			}
		}
		t.Fatal("no stored total among the readings")
		return 0
	}
	if got := stored(); got != 30 || st.summaries != 0 {
		t.Errorf("stored total %v with %d summaries read, want 30 from the store's count alone", got, st.summaries)
	}
	// A live stream's summary, fresh: its total, without another read.
	if _, err := srv.cachedSummary(ctx); err != nil {
		t.Fatal(err)
	}
	srv.sumMu.Lock()
	srv.sum.TransactionsTotal = 31 // told apart from the count
	srv.sumMu.Unlock()
	if got := stored(); got != 31 || st.summaries != 1 {
		t.Errorf("stored total %v with %d summaries read, want the fresh summary's 31 and the one read", got, st.summaries)
	}
}
