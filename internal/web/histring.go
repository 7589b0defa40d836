package web

import (
	"fmt"
	"math"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// The histograms of /metrics count since the process started, so a
// quantile read from them mixes the start (the history backfill, say)
// with now. The server samples its own shopstream_* metrics (histograms,
// counters and gauges) into a bounded ring and answers GET
// /api/v1/metrics/histograms with the quantile of what was observed
// between two samples: of a time range; and GET /api/v1/metrics/series
// (series.go) with the rates, values and quantiles between consecutive
// samples of a range, which backfills the dashboard's live charts.

const (
	// histEvery is how often the ring samples by default.
	histEvery = 15 * time.Second
	// histKeep is how far back the ring reaches: two hours, so the last
	// hour has its previous hour to compare with.
	histKeep = 2 * time.Hour
	// histPrefix: only the project's own histograms are sampled.
	histPrefix = "shopstream_"
)

// histSeries is one histogram at one instant: cumulative counts per
// finite upper bound, then the total (the +Inf bucket), and the sum.
type histSeries struct {
	key    string // name{labels}
	name   string
	labels map[string]string
	bounds []float64 // finite upper bounds, ascending
	cum    []uint64  // len(bounds)+1: cumulative counts, the last is the count
	sum    float64
}

type histSample struct {
	at     time.Time
	series map[string]*histSeries // by name{labels}
	// vals are the counters' and gauges' values, by the index of their
	// series in the ring's meta; NaN (or past the end) where a series was
	// not read.
	vals []float64
}

// value is what s read of the series of index i; NaN when nothing.
func (s histSample) value(i int) float64 {
	if i < len(s.vals) {
		return s.vals[i]
	}
	return math.NaN()
}

// seriesMeta is one counter or gauge series the ring has read, once.
type seriesMeta struct {
	key     string
	name    string
	labels  map[string]string
	counter bool
}

// extraValue is a reading the ring takes beside the Gatherer's (the
// dashboard's own series: extra.go).
type extraValue struct {
	name    string
	labels  map[string]string
	counter bool
	v       float64
}

// histRing holds the samples of the last histKeep, oldest first.
type histRing struct {
	gather prometheus.Gatherer
	every  time.Duration
	keep   time.Duration
	now    func() time.Time
	// extra, when set, adds readings to each sample the ticker takes.
	extra func() []extraValue

	metaMu sync.Mutex
	index  map[string]int // by name{labels}
	meta   []*seriesMeta  // grows, never shrinks: bounded by what the registry has

	mu      sync.Mutex
	samples []histSample
	started time.Time // the first sample added
	// tiers are the coarse tiers (histtiers.go), offs their offsets
	// for resets.
	tiers []*coarseTier
	offs  []resetOffsets
	// persist, when set, saves the coarse samples (histpersist.go);
	// unsaved are those folded and not yet saved.
	persist *histPersist
	unsaved []unsaved
	// fineQueued is the newest fine sample queued to be saved.
	fineQueued time.Time
	// lean, for a sampler that only saves (sampler.go), keeps only what
	// the folds to come need.
	lean bool
}

func newHistRing(g prometheus.Gatherer, every time.Duration) *histRing {
	if every <= 0 {
		every = histEvery
	}
	h := &histRing{gather: g, every: every, keep: histKeep, now: time.Now, index: map[string]int{}}
	for _, t := range histTiers {
		h.tiers = append(h.tiers, &coarseTier{histTier: t})
		h.offs = append(h.offs, resetOffsets{})
	}
	return h
}

// metaOf returns the index of the series, adding it when new.
func (h *histRing) metaOf(name string, labels map[string]string, counter bool) int {
	key := seriesKey(name, labels)
	h.metaMu.Lock()
	defer h.metaMu.Unlock()
	if i, ok := h.index[key]; ok {
		return i
	}
	h.meta = append(h.meta, &seriesMeta{key: key, name: name, labels: labels, counter: counter})
	h.index[key] = len(h.meta) - 1
	return len(h.meta) - 1
}

// take reads the Gatherer now (and the extra readings when withExtra). A
// failing collector leaves out only its own families (as /metrics does).
func (h *histRing) take(withExtra bool) histSample {
	at := h.now()
	mfs, _ := h.gather.Gather()
	s := histSample{at: at, series: map[string]*histSeries{}}
	// A histogram's key, labels and bounds are those of the sample before
	// when they have not changed: a tick keeps only its counts.
	var prev map[string]*histSeries
	h.mu.Lock()
	if n := len(h.samples); n > 0 {
		prev = h.samples[n-1].series
	}
	h.mu.Unlock()
	set := func(i int, v float64) {
		for len(s.vals) <= i {
			s.vals = append(s.vals, math.NaN())
		}
		s.vals[i] = v
	}
	labelsOf := func(m *dto.Metric) map[string]string {
		ls := make(map[string]string, len(m.GetLabel()))
		for _, lp := range m.GetLabel() {
			ls[lp.GetName()] = lp.GetValue()
		}
		return ls
	}
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), histPrefix) {
			continue
		}
		switch mf.GetType() {
		case dto.MetricType_COUNTER, dto.MetricType_GAUGE, dto.MetricType_UNTYPED:
			counter := mf.GetType() == dto.MetricType_COUNTER
			for _, m := range mf.GetMetric() {
				var v float64
				switch {
				case m.GetCounter() != nil:
					v = m.GetCounter().GetValue()
				case m.GetGauge() != nil:
					v = m.GetGauge().GetValue()
				case m.GetUntyped() != nil:
					v = m.GetUntyped().GetValue()
				default:
					continue
				}
				set(h.metaOf(mf.GetName(), labelsOf(m), counter), v)
			}
			continue
		case dto.MetricType_HISTOGRAM:
		default:
			continue
		}
		for _, m := range mf.GetMetric() {
			hg := m.GetHistogram()
			if hg == nil {
				continue
			}
			hs := &histSeries{name: mf.GetName(), labels: labelsOf(m), sum: hg.GetSampleSum()}
			for _, b := range hg.GetBucket() {
				if math.IsInf(b.GetUpperBound(), +1) {
					continue
				}
				hs.bounds = append(hs.bounds, b.GetUpperBound())
				hs.cum = append(hs.cum, b.GetCumulativeCount())
			}
			hs.cum = append(hs.cum, hg.GetSampleCount())
			key := seriesKey(hs.name, hs.labels)
			if p := prev[key]; p != nil && slices.Equal(p.bounds, hs.bounds) {
				hs.labels, hs.bounds, key = p.labels, p.bounds, p.key
			}
			hs.key = key
			s.series[key] = hs
		}
	}
	if withExtra && h.extra != nil {
		for _, e := range h.extra() {
			set(h.metaOf(e.name, e.labels, e.counter), e.v)
		}
	}
	return s
}

func seriesKey(name string, labels map[string]string) string {
	ks := make([]string, 0, len(labels))
	for k := range labels {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	var b strings.Builder
	b.WriteString(name)
	b.WriteByte('{')
	for i, k := range ks {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=%q", k, labels[k])
	}
	b.WriteByte('}')
	return b.String()
}

// add keeps s, drops what is older than keep and folds s into the
// coarse tiers.
func (h *histRing) add(s histSample) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.started.IsZero() {
		h.started = s.at
	}
	h.samples = appendKept(h.samples, s, h.keep)
	if h.persist != nil && (h.fineQueued.IsZero() || s.at.Truncate(savedFine.every).After(h.fineQueued.Truncate(savedFine.every))) {
		h.fineQueued = s.at
		h.queue(unsaved{tier: -1, s: s})
	}
	if len(h.tiers) > 0 {
		h.fold(0, s)
	}
	if h.lean {
		h.trim()
	}
}

// run samples every h.every until done is closed.
func (h *histRing) run(done <-chan struct{}) {
	t := time.NewTicker(h.every)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
			h.add(h.take(true))
			h.save()
		}
	}
}

// pick returns the samples that bound [since, until), of the tier view
// chooses: the newest sample at or before since (the oldest held when
// since precedes the tier: capped), and the newest at or before until, or
// a fresh one when until is zero or after the newest held. ok is false
// when there is no such pair.
func (h *histRing) pick(since, until time.Time, after bool) (v histView, a, b histSample, capped, ok bool) {
	// A ring of another instance's saved samples takes no fresh sample:
	// its coarse tiers end with its newest saved fine one.
	v = h.view(since, 0, h.gather == nil)
	samples := v.samples
	if len(samples) == 0 {
		return v, a, b, false, false
	}
	ai := -1
	if after {
		// The oldest sample at or after since: what was observed since
		// then, whatever the samples' phase (since = a moment whose
		// observations are to be left out, e.g. run's backfill stored).
		for i, s := range samples {
			if !s.at.Before(since) {
				ai = i
				break
			}
		}
		if ai < 0 {
			return v, a, b, false, false
		}
	} else {
		for i, s := range samples {
			if !s.at.After(since) {
				ai = i
			}
		}
		if ai < 0 {
			ai, capped = 0, true
		}
	}
	a = samples[ai]
	if h.gather == nil && (until.IsZero() || until.After(samples[len(samples)-1].at)) {
		// Another instance's saved samples: the newest is the freshest.
		b = samples[len(samples)-1]
	} else if until.IsZero() || until.After(samples[len(samples)-1].at) {
		b = h.take(false)
		if v.tier >= 0 {
			h.mu.Lock()
			b = h.correct(v.tier, b)
			h.mu.Unlock()
		}
	} else {
		bi := -1
		for i, s := range samples {
			if !s.at.After(until) {
				bi = i
			}
		}
		if bi <= ai {
			return v, a, b, capped, false
		}
		b = samples[bi]
	}
	return v, a, b, capped, b.at.After(a.at)
}

// histQuantile is the q-quantile of the observations counted by cum
// (cumulative counts per finite upper bound, then the total) whose values
// add up to sum. Inside a finite bucket it interpolates linearly, as
// Prometheus' histogram_quantile does (from 0 in the first bucket). In the
// +Inf bucket there is no upper bound to interpolate to: value is NaN and
// above is the largest finite bound. For non-negative observations (every
// shopstream histogram: durations and sizes) the quantile is at most the
// sum less the least the observations ranked below it can add up to (each
// its bucket's lower bound), divided by the n observations ranked at or
// above it: the estimate is capped there, so sixteen runs of 86 s in all
// never have a p95 of 98 s. Likewise it is at least the sum less the most
// the observations ranked above it can add up to, divided by those ranked
// at or below it.
//
// least is the smallest value an observation can take: 0 for durations and
// sizes, 1 for counts of records per batch, whose first bucket (0, 1]
// holds batches of exactly one record (histLeast). The first bucket
// interpolates from it.
func histQuantile(q float64, bounds []float64, cum []uint64, sum, least float64) (value, above float64) {
	value, above = math.NaN(), math.NaN()
	total := cum[len(cum)-1]
	if total == 0 || len(cum) != len(bounds)+1 {
		return value, above
	}
	rank := q * float64(total)
	i := 0
	for i < len(bounds) && float64(cum[i]) < rank {
		i++
	}
	if i == len(bounds) {
		if len(bounds) > 0 {
			above = bounds[len(bounds)-1]
		}
		return value, above
	}
	lo, below := math.Min(least, bounds[0]), uint64(0)
	if i > 0 {
		lo, below = bounds[i-1], cum[i-1]
	} else if bounds[0] <= 0 {
		return bounds[0], above
	}
	hi := bounds[i]
	in := cum[i] - below
	value = hi
	if in > 0 {
		value = lo + (hi-lo)*(rank-float64(below))/float64(in)
	}
	// The n observations ranked at or past the quantile are each >= it,
	// and each one ranked below is at least its bucket's lower bound.
	r := math.Max(1, math.Ceil(rank))
	n := float64(total) - r + 1
	if n >= 1 && bounds[0] > 0 {
		low, prev := 0.0, uint64(0)
		for j := range i {
			if j > 0 {
				low += float64(cum[j]-prev) * bounds[j-1]
			} else {
				low += float64(cum[0]) * math.Min(least, bounds[0])
			}
			prev = cum[j]
		}
		low += (r - 1 - float64(below)) * lo
		if limit := (sum - low) / n; limit >= lo && limit < value {
			value = limit
		}
		// And at least the sum less the most the observations ranked
		// above it can add up to (each its bucket's upper bound; none
		// may be in +Inf), divided by the r ranked at or below it, of
		// which it is the largest: a hundred batches of one record have
		// a median of 1, not the first bucket's midpoint 0.5.
		if cum[len(cum)-1] == cum[len(bounds)-1] {
			most := (float64(cum[i]) - r) * hi
			for j := i + 1; j < len(bounds); j++ {
				most += float64(cum[j]-cum[j-1]) * bounds[j]
			}
			if floor := math.Min((sum-most)/r, hi); floor > value {
				value = floor
			}
		}
	}
	return value, above
}

// diff is b minus a, series by series; a series new in b, or one that
// went down (a reset), counts from zero.
func diff(a, b *histSeries) (cum []uint64, sum float64) {
	if a == nil || len(a.cum) != len(b.cum) || a.cum[len(a.cum)-1] > b.cum[len(b.cum)-1] {
		return b.cum, b.sum
	}
	cum = make([]uint64, len(b.cum))
	for i := range b.cum {
		if a.cum[i] > b.cum[i] || (i < len(a.bounds) && a.bounds[i] != b.bounds[i]) {
			return b.cum, b.sum
		}
		cum[i] = b.cum[i] - a.cum[i]
	}
	return cum, b.sum - a.sum
}

// HistogramRange is the body of GET /api/v1/metrics/histograms.
type HistogramRange struct {
	// Since and Until are the range asked for (Until null: now).
	Since time.Time  `json:"since"`
	Until *time.Time `json:"until"`
	// From and To are the samples the answer is the difference of; null
	// when the server holds no two samples in the range yet.
	From *time.Time `json:"from"`
	To   *time.Time `json:"to"`
	// Capped is true when the range starts before the oldest sample held:
	// From is that sample, later than Since.
	Capped bool `json:"capped"`
	// HeldSince is the oldest sample the server holds of the tier the
	// answer is from; SampleSeconds how often the server samples,
	// ResolutionSeconds the interval of the tier's samples (SampleSeconds,
	// or a coarse tier's: 300, 3600), and HeldSeconds how far back the
	// tier keeps samples.
	HeldSince         *time.Time          `json:"held_since"`
	SampleSeconds     float64             `json:"sample_seconds"`
	ResolutionSeconds float64             `json:"resolution_seconds"`
	HeldSeconds       float64             `json:"held_seconds"`
	Quantile          float64             `json:"quantile"`
	Histograms        []HistogramQuantile `json:"histograms"`
	// Instance is the instance whose samples the answer is of (null:
	// this server's own, which has no id); Source is memory (this
	// server's own samples) or store (another instance's saved ones:
	// SampleSeconds is then 15, the fine samples saved).
	Instance *string `json:"instance"`
	Source   string  `json:"source"`
	// Instances are, with instance=* (source store), the instances whose
	// histograms are merged: those with two samples in the range.
	Instances []string `json:"instances,omitempty"`
}

// HistogramQuantile is one histogram's observations between From and To.
type HistogramQuantile struct {
	Name   string            `json:"name"`
	Labels map[string]string `json:"labels"`
	Count  uint64            `json:"count"`
	Sum    float64           `json:"sum"`
	// Value is the quantile; null when nothing was observed, or when it
	// lies past the largest finite bucket bound: then Above is that bound
	// (the quantile is greater, by how much the buckets cannot tell).
	Value *float64 `json:"value"`
	Above *float64 `json:"above"`
	// Buckets are the observations between From and To in each bucket
	// (not cumulative), ascending; the last, Le null, is past the largest
	// finite bound.
	Buckets []HistogramBucket `json:"buckets"`
}

// HistogramBucket is one bucket of a histogram over a range: Count
// observations greater than the bound before it and at most Le (null:
// +Inf).
type HistogramBucket struct {
	Le    *float64 `json:"le"`
	Count uint64   `json:"count"`
}

func (s *Server) histograms(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	since, until, err := timeRange(q)
	if err != nil {
		WriteError(w, err)
		return
	}
	quant := 0.95
	if v := q.Get("quantile"); v != "" {
		if quant, err = strconv.ParseFloat(v, 64); err != nil || !(quant >= 0 && quant <= 1) {
			WriteError(w, fmt.Errorf("%w: quantile %q, want a number from 0 to 1", ErrBadRequest, v))
			return
		}
	}
	after, err := queryTime(q, "after")
	if err != nil {
		WriteError(w, err)
		return
	}
	if !after.IsZero() {
		if !since.IsZero() {
			WriteError(w, fmt.Errorf("%w: give since or after, not both", ErrBadRequest))
			return
		}
		if !until.IsZero() && !until.After(after) {
			WriteError(w, fmt.Errorf("%w: until %s is not after after %s", ErrBadRequest, until.UTC().Format(time.RFC3339), after.UTC().Format(time.RFC3339)))
			return
		}
		since = after
	}
	name := q.Get("name")
	if q.Get("instance") == allInstances {
		out, err := s.mergedHistograms(r.Context(), since, until, !after.IsZero(), name, quant)
		if err != nil {
			WriteError(w, err)
			return
		}
		WriteJSON(w, http.StatusOK, out)
		return
	}
	src, err := s.histFor(r.Context(), q.Get("instance"))
	if err != nil {
		WriteError(w, err)
		return
	}
	h := src.h
	if since.IsZero() {
		since = h.now().Add(-time.Hour)
	}
	out := HistogramRange{Since: since, SampleSeconds: h.every.Seconds(), Quantile: quant, Histograms: []HistogramQuantile{},
		Instance: src.instance, Source: src.source}
	if !until.IsZero() {
		out.Until = &until
	}
	v, a, b, capped, ok := h.pick(since, until, !after.IsZero())
	out.ResolutionSeconds, out.HeldSeconds = v.every.Seconds(), v.keep.Seconds()
	if len(v.samples) > 0 {
		held := v.samples[0].at
		out.HeldSince = &held
	}
	out.Capped = capped
	if ok {
		out.From, out.To = &a.at, &b.at
		var m histMerge
		m.add(a, b, name)
		out.Histograms = m.quantiles(quant)
	}
	WriteJSON(w, http.StatusOK, out)
}

// histMerge adds up what histograms observed between pairs of samples:
// one pair, or one per instance (their buckets summed).
type histMerge struct {
	keys []string
	by   map[string]*histSeries // name, labels, bounds; cum and sum: the observations between
}

// add adds what each histogram of b (of name, all when empty) observed
// since a; a histogram whose bounds differ from those added before under
// its name and labels is left out.
func (m *histMerge) add(a, b histSample, name string) {
	if m.by == nil {
		m.by = map[string]*histSeries{}
	}
	for k, hs := range b.series {
		if name != "" && hs.name != name {
			continue
		}
		cum, sum := diff(a.series[k], hs)
		t := m.by[k]
		if t == nil {
			m.by[k] = &histSeries{key: k, name: hs.name, labels: hs.labels, bounds: hs.bounds, cum: slices.Clone(cum), sum: sum}
			m.keys = append(m.keys, k)
			continue
		}
		if !slices.Equal(t.bounds, hs.bounds) {
			continue
		}
		for i := range cum {
			t.cum[i] += cum[i]
		}
		t.sum += sum
	}
}

// quantiles are the histograms added, by name and labels, with their
// q-quantile.
func (m *histMerge) quantiles(quant float64) []HistogramQuantile {
	out := []HistogramQuantile{}
	keys := slices.Clone(m.keys)
	sort.Strings(keys)
	for _, k := range keys {
		hs := m.by[k]
		cum, sum := hs.cum, hs.sum
		hq := HistogramQuantile{Name: hs.name, Labels: hs.labels, Count: cum[len(cum)-1], Sum: sum,
			Buckets: make([]HistogramBucket, len(cum))}
		for i := range cum {
			if i < len(hs.bounds) {
				hq.Buckets[i].Le = &hs.bounds[i]
			}
			hq.Buckets[i].Count = cum[i]
			if i > 0 {
				hq.Buckets[i].Count -= cum[i-1]
			}
		}
		v, above := histQuantile(quant, hs.bounds, cum, sum, histLeast(hs.name))
		if !math.IsNaN(v) {
			hq.Value = &v
		}
		if !math.IsNaN(above) {
			hq.Above = &above
		}
		out = append(out, hq)
	}
	return out
}
