package web

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/shopstream/shopstream/internal/store"
)

// GET /api/v1/metrics/series answers, from the samples the server keeps
// of its own metrics (histring.go), a time series per metric over a range:
// the per-second rate of a counter between consecutive samples, a gauge's
// value at each sample, and quantiles of what a histogram observed between
// consecutive samples. It is the snapshot the dashboard's live charts
// backfill their range from before they append what the stream sends.

// The dashboard's own series: readings the sampler takes beside the
// Gatherer's, so that the charts the stream feeds (stored transactions per
// second, consumer lag) have a history in every process that serves the
// dashboard, `serve` included, where the pipeline's metrics are absent.
// They are not on /metrics (the processes' own figures are: the
// pipeline's shopstream_records_total and shopstream_consumer_lag_records).
const (
	// seriesStored is the store's transactions_total, the Overview's
	// transactions per second as a counter.
	seriesStored = "dashboard:stored_transactions_total"
	// seriesLag is the consumer lag /readyz reports: in all (no labels)
	// and per partition (label partition).
	seriesLag = "dashboard:consumer_lag"
)

// dashboardSeries are always known: a server that does not sample answers
// them empty rather than 404.
var dashboardSeries = map[string]bool{seriesStored: true, seriesLag: true}

// storedTotal is the total of stored transactions for the dashboard's
// series, read every HistogramEvery whether or not anyone watches: the
// summary's while the live stream keeps it fresh (cached 500 ms), else
// the store's total alone where it has one (store.TransactionCounter).
// The whole summary also counts every customer, a read of a million rows
// at a million customers, which the stream's commits then shared the
// database with.
func (s *Server) storedTotal(ctx context.Context) (int64, error) {
	s.sumMu.Lock()
	sum, fresh := s.sum, time.Since(s.sumAt) < summaryFresh
	s.sumMu.Unlock()
	if fresh {
		return sum.TransactionsTotal, nil
	}
	if c, ok := s.cfg.Store.(store.TransactionCounter); ok {
		return c.TransactionsTotal(ctx)
	}
	sum, err := s.cachedSummary(ctx)
	return sum.TransactionsTotal, err
}

// metricName is what a Prometheus metric name may be.
var metricName = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)

const (
	// seriesMaxNames bounds the names of one request.
	seriesMaxNames = 20
	// seriesMaxQuantiles bounds the quantiles of one request.
	seriesMaxQuantiles = 5
)

// dashboardReadings reads the dashboard's own series: the store's total
// (storedTotal) and the lag of the readiness detail, when it has one.
func (s *Server) dashboardReadings() []extraValue {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var out []extraValue
	if total, err := s.storedTotal(ctx); err == nil {
		out = append(out, extraValue{name: seriesStored, labels: map[string]string{}, counter: true, v: float64(total)})
	}
	if s.cfg.Ready == nil {
		return out
	}
	rd := s.cfg.Ready(ctx)
	if rd.Detail == nil {
		return out
	}
	b, err := json.Marshal(rd.Detail)
	if err != nil {
		return out
	}
	var d struct {
		Lag        *float64 `json:"lag"`
		Error      string   `json:"error"`
		Partitions []struct {
			Partition *int32   `json:"partition"`
			Lag       *float64 `json:"lag"`
		} `json:"partitions"`
	}
	if json.Unmarshal(b, &d) != nil || d.Error != "" {
		return out
	}
	if d.Lag != nil {
		out = append(out, extraValue{name: seriesLag, labels: map[string]string{}, v: *d.Lag})
	}
	for _, p := range d.Partitions {
		if p.Partition != nil && p.Lag != nil {
			out = append(out, extraValue{name: seriesLag, labels: map[string]string{"partition": strconv.Itoa(int(*p.Partition))}, v: *p.Lag})
		}
	}
	return out
}

// SeriesRange is the body of GET /api/v1/metrics/series.
type SeriesRange struct {
	// Since and Until are the range asked for (Until null: now).
	Since time.Time  `json:"since"`
	Until *time.Time `json:"until"`
	// StepSeconds is the least time between two points; SampleSeconds how
	// often the server samples. ResolutionSeconds is the interval of the
	// samples the answer is from: the 15 s samples of the last two hours,
	// or a coarse tier's, 300 (two days) or 3600 (32 days), chosen by the
	// range (the finest that holds its start); HeldSeconds how far back
	// that tier keeps samples.
	StepSeconds       float64 `json:"step_seconds"`
	SampleSeconds     float64 `json:"sample_seconds"`
	ResolutionSeconds float64 `json:"resolution_seconds"`
	HeldSeconds       float64 `json:"held_seconds"`
	// Started is the server's first sample (null when it does not sample:
	// no metrics registry); HeldSince the oldest the tier holds (older
	// than Started when the tiers were restored from the store).
	Started   *time.Time `json:"started"`
	HeldSince *time.Time `json:"held_since"`
	// Capped is true when the range starts before HeldSince: the points
	// start there.
	Capped  bool           `json:"capped"`
	Metrics []MetricSeries `json:"metrics"`
	// Unknown are the names asked for that this server has not sampled
	// (with several names; one unknown name alone is a 404).
	Unknown []string `json:"unknown"`
	// Instance is the instance whose samples the answer is of (null:
	// this server's own, which has no id); Source is memory (this
	// server's own samples: 15 s ones for two hours, then the coarse
	// tiers) or store (another instance's, asked for with instance=: its
	// saved tiers: 15 s samples for two hours, then 5-minute and hourly
	// ones; SampleSeconds 15, Started null, and no point newer than its
	// newest saved sample).
	Instance *string `json:"instance"`
	Source   string  `json:"source"`
}

// MetricSeries is one metric's points over the range.
type MetricSeries struct {
	Name string `json:"name"`
	// Kind is counter, gauge or histogram; Unit what the values are:
	// per_second (a counter's rate), value (a gauge's) or the
	// observations' own unit (a histogram's quantiles).
	Kind string `json:"kind"`
	Unit string `json:"unit"`
	// Times are the points' instants, Unix seconds: each the sample that
	// ends the interval a rate or quantile is of.
	Times  []float64     `json:"times"`
	Series []SeriesValue `json:"series"`
}

// SeriesValue is one series of a metric (one set of labels; a
// histogram's quantile q has the label quantile) with a value per time,
// null where the series was not read or a histogram observed nothing.
type SeriesValue struct {
	Labels map[string]string `json:"labels"`
	Values []*float64        `json:"values"`
}

func (s *Server) metricSeries(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	names := q["name"]
	if len(names) == 0 {
		WriteError(w, fmt.Errorf("%w: name is required (a metric of /metrics, or %s or %s)", ErrBadRequest, seriesStored, seriesLag))
		return
	}
	if len(names) > seriesMaxNames {
		WriteError(w, fmt.Errorf("%w: %d names, at most %d", ErrBadRequest, len(names), seriesMaxNames))
		return
	}
	for _, n := range names {
		if !metricName.MatchString(n) {
			WriteError(w, fmt.Errorf("%w: name %q is no metric name", ErrBadRequest, n))
			return
		}
	}
	since, until, err := timeRange(q)
	if err != nil {
		WriteError(w, err)
		return
	}
	src, err := s.histFor(r.Context(), q.Get("instance"))
	if err != nil {
		WriteError(w, err)
		return
	}
	h := src.h
	step := h.every
	if v := q.Get("step"); v != "" {
		secs, err := strconv.ParseFloat(v, 64)
		if err != nil || !(secs >= 1 && secs <= 86400) {
			WriteError(w, fmt.Errorf("%w: step %q, want seconds from 1 to 86400", ErrBadRequest, v))
			return
		}
		step = max(step, time.Duration(secs*float64(time.Second)))
	}
	quants := []float64{0.95}
	if vs := q["quantile"]; len(vs) > 0 {
		if len(vs) > seriesMaxQuantiles {
			WriteError(w, fmt.Errorf("%w: %d quantiles, at most %d", ErrBadRequest, len(vs), seriesMaxQuantiles))
			return
		}
		quants = quants[:0]
		for _, v := range vs {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || !(f >= 0 && f <= 1) {
				WriteError(w, fmt.Errorf("%w: quantile %q, want a number from 0 to 1", ErrBadRequest, v))
				return
			}
			quants = append(quants, f)
		}
	}
	if since.IsZero() {
		since = h.now().Add(-time.Hour)
	}
	v := h.view(since, step, true)
	step = max(step, v.every)
	out := SeriesRange{Since: since, StepSeconds: step.Seconds(), SampleSeconds: h.every.Seconds(),
		ResolutionSeconds: v.every.Seconds(), HeldSeconds: v.keep.Seconds(), Metrics: []MetricSeries{}, Unknown: []string{},
		Instance: src.instance, Source: src.source}
	if !until.IsZero() {
		out.Until = &until
	}
	samples := v.samples
	h.mu.Lock()
	if !h.started.IsZero() {
		started := h.started
		out.Started = &started
	}
	h.mu.Unlock()
	if len(samples) > 0 {
		held := samples[0].at
		out.HeldSince = &held
		out.Capped = since.Before(held)
	}
	kept := stepSamples(samples, since, until, step, v.every)

	// The series of each name: counters and gauges from the meta, the
	// histograms from the newest sample that has them.
	h.metaMu.Lock()
	meta := h.meta
	h.metaMu.Unlock()
	for _, name := range names {
		var idx []int
		counter := false
		for i, m := range meta {
			if m.name == name {
				idx = append(idx, i)
				counter = m.counter
			}
		}
		hist := histKeys(samples, name)
		switch {
		case len(idx) > 0:
			out.Metrics = append(out.Metrics, valueSeries(name, counter, meta, idx, kept))
		case len(hist) > 0:
			out.Metrics = append(out.Metrics, quantileSeries(name, hist, quants, kept))
		case dashboardSeries[name]:
			out.Metrics = append(out.Metrics, MetricSeries{Name: name, Kind: map[bool]string{true: "counter", false: "gauge"}[name == seriesStored],
				Unit: map[bool]string{true: "per_second", false: "value"}[name == seriesStored], Times: []float64{}, Series: []SeriesValue{}})
		default:
			out.Unknown = append(out.Unknown, name)
		}
	}
	if len(out.Metrics) == 0 {
		if src.source == sourceStore {
			WriteError(w, fmt.Errorf("%w: instance %q saved no metric %q", ErrNotFound, *src.instance, out.Unknown))
			return
		}
		WriteError(w, fmt.Errorf("%w: this server has sampled no metric %q (its /metrics has what it samples; a pipeline's metrics are in its own process's, "+
			"and its saved samples are asked for with instance=)", ErrNotFound, out.Unknown))
		return
	}
	WriteJSON(w, http.StatusOK, out)
}

// stepSamples returns the samples a range's points are made of: the
// newest at or before since (or the oldest held, when the range starts
// before it), then each one at least step after the one kept before it
// (less half a sampling interval, for a ticker's jitter), up to the
// newest at or before until (zero: the newest held).
func stepSamples(samples []histSample, since, until time.Time, step, every time.Duration) []histSample {
	first := 0
	for i, s := range samples {
		if !s.at.After(since) {
			first = i
		}
	}
	var kept []histSample
	for _, s := range samples[first:] {
		if !until.IsZero() && s.at.After(until) {
			break
		}
		if len(kept) > 0 && s.at.Sub(kept[len(kept)-1].at) < step-every/2 {
			continue
		}
		kept = append(kept, s)
	}
	return kept
}

// times are the instants of the points between consecutive samples.
func times(kept []histSample) []float64 {
	ts := make([]float64, 0, max(0, len(kept)-1))
	for _, s := range kept[min(1, len(kept)):] {
		ts = append(ts, float64(s.at.UnixMilli())/1000)
	}
	return ts
}

// valueSeries is a counter's rate or a gauge's value between consecutive
// kept samples. A counter new in the later sample, or lower than in the
// earlier (a restart), counts from zero, as the histograms' diff does.
func valueSeries(name string, counter bool, meta []*seriesMeta, idx []int, kept []histSample) MetricSeries {
	ms := MetricSeries{Name: name, Kind: "gauge", Unit: "value", Times: times(kept), Series: make([]SeriesValue, 0, len(idx))}
	if counter {
		ms.Kind, ms.Unit = "counter", "per_second"
	}
	sort.Slice(idx, func(a, b int) bool { return meta[idx[a]].key < meta[idx[b]].key })
	for _, i := range idx {
		sv := SeriesValue{Labels: meta[i].labels, Values: make([]*float64, 0, len(ms.Times))}
		for k := 1; k < len(kept); k++ {
			a, b := kept[k-1], kept[k]
			vb := b.value(i)
			if math.IsNaN(vb) {
				sv.Values = append(sv.Values, nil)
				continue
			}
			v := vb
			if counter {
				va := a.value(i)
				if math.IsNaN(va) || va > vb {
					va = 0
				}
				v = (vb - va) / b.at.Sub(a.at).Seconds()
			}
			sv.Values = append(sv.Values, &v)
		}
		ms.Series = append(ms.Series, sv)
	}
	return ms
}

// histKeys are the keys of the histogram series of name in the newest
// sample that has any.
func histKeys(samples []histSample, name string) []string {
	for i := len(samples) - 1; i >= 0; i-- {
		var keys []string
		for k, hs := range samples[i].series {
			if hs.name == name {
				keys = append(keys, k)
			}
		}
		if len(keys) > 0 {
			sort.Strings(keys)
			return keys
		}
	}
	return nil
}

// quantileSeries is each quantile of what each histogram series observed
// between consecutive kept samples: null when it observed nothing, or when
// the quantile lies past the largest finite bucket bound.
func quantileSeries(name string, keys []string, quants []float64, kept []histSample) MetricSeries {
	ms := MetricSeries{Name: name, Kind: "histogram", Unit: histUnit(name), Times: times(kept), Series: []SeriesValue{}}
	for _, key := range keys {
		for _, q := range quants {
			var labels map[string]string
			sv := SeriesValue{Values: make([]*float64, 0, len(ms.Times))}
			for k := 1; k < len(kept); k++ {
				hb := kept[k].series[key]
				if hb == nil {
					sv.Values = append(sv.Values, nil)
					continue
				}
				if labels == nil {
					labels = map[string]string{}
					for l, v := range hb.labels {
						labels[l] = v
					}
					labels["quantile"] = strconv.FormatFloat(q, 'f', -1, 64)
				}
				cum, sum := diff(kept[k-1].series[key], hb)
				v, _ := histQuantile(q, hb.bounds, cum, sum, histLeast(name))
				if math.IsNaN(v) {
					sv.Values = append(sv.Values, nil)
					continue
				}
				sv.Values = append(sv.Values, &v)
			}
			if labels == nil {
				labels = map[string]string{"quantile": strconv.FormatFloat(q, 'f', -1, 64)}
			}
			sv.Labels = labels
			ms.Series = append(ms.Series, sv)
		}
	}
	return ms
}

// histUnit is a histogram's unit by the naming conventions: seconds,
// bytes, or the count of what it observes (records).
// histLeast is the smallest value an observation of the histogram can
// take: 1 for the records per batch (a committed batch holds at least
// one), 0 for the others (durations and sizes).
func histLeast(name string) float64 {
	if strings.HasSuffix(name, "_records") {
		return 1
	}
	return 0
}

func histUnit(name string) string {
	for _, u := range []string{"seconds", "bytes"} {
		if len(name) > len(u) && name[len(name)-len(u):] == u {
			return u
		}
	}
	return "count"
}
