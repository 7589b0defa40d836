package web

import (
	"math"
	"slices"
	"time"
)

// The ring's 15 s samples reach back two hours; older ones fold into
// coarser tiers, so that every range of the System page's picker (up to
// 30 days) has points, in bounded memory. A sample of a tier is one of the
// finer tier's samples, the first in each interval of the tier's step
// (aligned to the clock): the counters and histograms are cumulative, so
// the rate or the quantile between two coarse samples is exactly that of
// the fine samples between them. Two things differ from the sample
// folded:
//   - a gauge is the mean of the finer tier's values over the step (ending
//     with the sample's), not its last value;
//   - counters and histograms are corrected for resets (a restart of the
//     process that took them, when the tiers were restored from the
//     store): a value lower than the coarse sample's before continues
//     from it, counting from zero since the reset, so that every coarse
//     difference is of what was counted in between.
//
// The coarse tiers are persisted (histpersist.go) and restored when the
// server starts. The fine samples are saved too, one per savedFine.every
// for savedFine.keep (as taken: uncorrected), so that a dashboard served
// elsewhere (histremote.go) is at most that far behind the process; they
// are not restored (a server's own fine samples start afresh).

// histTier is a tier's resolution and reach.
type histTier struct {
	every, keep time.Duration
}

// histTiers are the coarse tiers, finest first: 5 minutes for two days,
// an hour for 32 days (the 30 days of the picker and a day to start from).
var histTiers = []histTier{
	{every: 5 * time.Minute, keep: 48 * time.Hour},
	{every: time.Hour, keep: 32 * 24 * time.Hour},
}

// savedFine is the fine samples' saved tier: the first of the ring's
// samples in each 15 s (aligned to the clock), kept two hours, as the
// ring keeps its own.
var savedFine = histTier{every: 15 * time.Second, keep: histKeep}

// coarseTier is one coarse tier's samples, oldest first.
type coarseTier struct {
	histTier
	samples []histSample
}

// resetOffsets are what a tier adds to the counters (by meta index) and
// histograms (by key) of the samples it folds, learnt at each reset.
type resetOffsets struct {
	vals  map[int]float64
	hists map[string]*histSeries
}

// coarsen returns s as a coarse sample following prev (the coarse tier's
// newest; none when zero), and the offsets after it: counters and
// histograms are s's plus off, and where one of them is below prev's (a
// reset) the offset becomes prev's value. Gauges are the mean of the
// values of span (the finer tier's samples after prev up to s), s's own
// when span has none. meta says which series are counters. s is not
// changed; what does not change is shared.
func coarsen(s, prev histSample, span []histSample, meta []*seriesMeta, off resetOffsets) (histSample, resetOffsets) {
	c := histSample{at: s.at, series: s.series, vals: slices.Clone(s.vals)}
	noff := resetOffsets{vals: off.vals, hists: off.hists}
	valsCloned, histsCloned, seriesCloned := false, false, false
	for i, v := range c.vals {
		if math.IsNaN(v) || i >= len(meta) {
			continue
		}
		if !meta[i].counter {
			sum, n := 0.0, 0
			for _, f := range span {
				if fv := f.value(i); !math.IsNaN(fv) {
					sum += fv
					n++
				}
			}
			if n > 0 {
				c.vals[i] = sum / float64(n)
			}
			continue
		}
		o := off.vals[i]
		if p := prev.value(i); !math.IsNaN(p) && v+o < p {
			o = p
			if !valsCloned {
				noff.vals, valsCloned = cloneMap(off.vals), true
			}
			noff.vals[i] = o
		}
		c.vals[i] = v + o
	}
	for key, hs := range s.series {
		o := off.hists[key]
		if o != nil && !slices.Equal(o.bounds, hs.bounds) {
			o = nil
		}
		if p := prev.series[key]; p != nil && slices.Equal(p.bounds, hs.bounds) && below(hs, o, p) {
			o = p
			if !histsCloned {
				noff.hists, histsCloned = cloneMap(off.hists), true
			}
			noff.hists[key] = p
		}
		if o == nil {
			continue
		}
		if !seriesCloned {
			c.series, seriesCloned = cloneMap(s.series), true
		}
		sum := &histSeries{key: hs.key, name: hs.name, labels: hs.labels, bounds: hs.bounds, cum: make([]uint64, len(hs.cum)), sum: hs.sum + o.sum}
		for i := range hs.cum {
			sum.cum[i] = hs.cum[i] + o.cum[i]
		}
		c.series[key] = sum
	}
	return c, noff
}

// below is whether hs plus o (none: nil) counts less than p in a bucket.
func below(hs, o, p *histSeries) bool {
	if len(p.cum) != len(hs.cum) {
		return false
	}
	for i := range hs.cum {
		v := hs.cum[i]
		if o != nil {
			v += o.cum[i]
		}
		if v < p.cum[i] {
			return true
		}
	}
	return false
}

func cloneMap[K comparable, V any](m map[K]V) map[K]V {
	out := make(map[K]V, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	return out
}

// fold takes s, just added to the tier finer than ti (-1: the fine
// ring), into tier ti when it is the first in a new interval of the
// tier's step, and on into the coarser tiers. h.mu is held.
func (h *histRing) fold(ti int, s histSample) {
	t := h.tiers[ti]
	var prev histSample
	if n := len(t.samples); n > 0 {
		prev = t.samples[n-1]
		if !s.at.Truncate(t.every).After(prev.at.Truncate(t.every)) {
			return
		}
	}
	finer := h.samples
	if ti > 0 {
		finer = h.tiers[ti-1].samples
	}
	var span []histSample
	if !prev.at.IsZero() {
		span = after(finer, prev.at, s.at)
	}
	c, off := coarsen(s, prev, span, h.metaNow(), h.offs[ti])
	h.offs[ti] = off
	t.samples = appendKept(t.samples, c, t.keep)
	if h.persist != nil {
		h.queue(unsaved{tier: ti, s: c})
	}
	if ti+1 < len(h.tiers) {
		h.fold(ti+1, c)
	}
}

// after returns the samples after from up to to.
func after(samples []histSample, from, to time.Time) []histSample {
	i := 0
	for i < len(samples) && !samples[i].at.After(from) {
		i++
	}
	j := i
	for j < len(samples) && !samples[j].at.After(to) {
		j++
	}
	return samples[i:j]
}

// appendKept appends s to samples and drops those older than keep before
// it, into a new array when it drops any (readers keep the old one).
func appendKept(samples []histSample, s histSample, keep time.Duration) []histSample {
	samples = append(samples, s)
	cut := 0
	for cut < len(samples)-1 && s.at.Sub(samples[cut].at) > keep {
		cut++
	}
	if cut > 0 {
		samples = append(samples[:0:0], samples[cut:]...)
	}
	return samples
}

// metaNow is the series' meta as it is now.
func (h *histRing) metaNow() []*seriesMeta {
	h.metaMu.Lock()
	defer h.metaMu.Unlock()
	return h.meta
}

// histView is the samples a range is answered from: the fine ring's
// (tier -1) or a coarse tier's.
type histView struct {
	tier        int
	samples     []histSample
	every, keep time.Duration
}

// view returns the tier a range from since is answered from: the finest
// whose oldest sample is at or before since, else the one that reaches
// furthest back (the finer of two that reach as far); then a coarser one
// that reaches as far, when its samples are at most step apart (fewer
// samples for the same points). With fresh, a coarse tier's samples end
// with the fine ring's newest, as the tier would fold it (its interval
// unfinished).
func (h *histRing) view(since time.Time, step time.Duration, fresh bool) histView {
	h.mu.Lock()
	defer h.mu.Unlock()
	best := histView{tier: -1, samples: h.samples, every: h.every, keep: h.keep}
	// reach is how far back samples reach for this range.
	reach := func(samples []histSample) time.Time {
		if samples[0].at.Before(since) {
			return since
		}
		return samples[0].at
	}
	holds := len(h.samples) > 0 && !h.samples[0].at.After(since)
	for ti, t := range h.tiers {
		if holds || len(t.samples) < 2 {
			continue
		}
		if len(best.samples) > 0 && !t.samples[0].at.Before(best.samples[0].at) {
			continue
		}
		best = histView{tier: ti, samples: t.samples, every: t.every, keep: t.keep}
		if !t.samples[0].at.After(since) {
			break
		}
	}
	if len(best.samples) == 0 && h.gather == nil && len(h.tiers[0].samples) > 0 {
		// Another instance's saved tiers, of a single sample yet: no
		// point, but the names it has.
		t := h.tiers[0]
		best = histView{tier: 0, samples: t.samples, every: t.every, keep: t.keep}
	}
	for ti := best.tier + 1; ti < len(h.tiers) && len(best.samples) > 0; ti++ {
		t := h.tiers[ti]
		if t.every > step || len(t.samples) < 2 || reach(t.samples).After(reach(best.samples)) {
			break
		}
		best = histView{tier: ti, samples: t.samples, every: t.every, keep: t.keep}
	}
	if fresh && best.tier >= 0 && h.gather == nil && len(h.tiers[0].samples) > 0 {
		// Another instance's saved tiers (histremote.go): the 5-minute
		// tier's samples end with its newest saved fine sample, and a
		// coarser tier's with that newest point, its gauges the mean of
		// the 5-minute ones since the tier's newest.
		fine := h.tiers[0].samples
		if c, ok := extend(fine[len(fine)-1], h.samples, h.metaNow()); ok {
			n := len(fine)
			fine = append(fine[:n:n], c)
		}
		if best.tier == 0 {
			best.samples = fine
		} else {
			last, prev := fine[len(fine)-1], best.samples[len(best.samples)-1]
			if last.at.After(prev.at) {
				c, _ := coarsen(last, prev, after(fine, prev.at, last.at), h.metaNow(), resetOffsets{})
				n := len(best.samples)
				best.samples = append(best.samples[:n:n], c)
			}
		}
		return best
	}
	if fresh && best.tier >= 0 && len(h.samples) > 0 {
		if s := h.samples[len(h.samples)-1]; s.at.After(best.samples[len(best.samples)-1].at) {
			n := len(best.samples)
			best.samples = append(best.samples[:n:n], h.correct(best.tier, s))
		}
	}
	return best
}

// extend returns the coarse sample prev carried on to the newest of fine,
// raw samples as taken (another instance's saved fine samples, which are
// not corrected for resets as its coarse tiers are): its counters and
// histograms prev's plus what the fine samples counted from prev's
// instant on (each a difference of consecutive samples, counting from
// zero across a reset, as a range of fine samples does), its gauges the
// mean of the fine values after prev. ok is false when fine holds no
// sample at prev's instant (the coarse samples are fine ones, so it has
// one unless it was not saved) or none after it.
func extend(prev histSample, fine []histSample, meta []*seriesMeta) (histSample, bool) {
	i := len(fine) - 1
	for i >= 0 && fine[i].at.After(prev.at) {
		i--
	}
	if i < 0 || !fine[i].at.Equal(prev.at) || i == len(fine)-1 {
		return histSample{}, false
	}
	span := fine[i:]
	last := span[len(span)-1]
	c := histSample{at: last.at, series: make(map[string]*histSeries, len(last.series)), vals: make([]float64, len(last.vals))}
	for v := range c.vals {
		if math.IsNaN(last.vals[v]) || v >= len(meta) {
			c.vals[v] = math.NaN()
			continue
		}
		if !meta[v].counter {
			sum, n := 0.0, 0
			for _, f := range span[1:] {
				if fv := f.value(v); !math.IsNaN(fv) {
					sum += fv
					n++
				}
			}
			c.vals[v] = sum / float64(n)
			continue
		}
		total := prev.value(v)
		if math.IsNaN(total) {
			total = 0
		}
		for k := 1; k < len(span); k++ {
			a, b := span[k-1].value(v), span[k].value(v)
			switch {
			case math.IsNaN(b):
			case math.IsNaN(a) || a > b:
				total += b
			default:
				total += b - a
			}
		}
		c.vals[v] = total
	}
	for key, hs := range last.series {
		sum := &histSeries{key: hs.key, name: hs.name, labels: hs.labels, bounds: hs.bounds, cum: make([]uint64, len(hs.cum))}
		if p := prev.series[key]; p != nil && slices.Equal(p.bounds, hs.bounds) {
			copy(sum.cum, p.cum)
			sum.sum = p.sum
		}
		for k := 1; k < len(span); k++ {
			b := span[k].series[key]
			if b == nil || !slices.Equal(b.bounds, hs.bounds) {
				continue
			}
			a := span[k-1].series[key]
			if a != nil && !slices.Equal(a.bounds, hs.bounds) {
				a = nil
			}
			cum, s := diff(a, b)
			for j := range cum {
				sum.cum[j] += cum[j]
			}
			sum.sum += s
		}
		c.series[key] = sum
	}
	return c, true
}

// correct returns s (a fine sample newer than every coarse one) as tier
// ti would hold it: its counters and histograms corrected for resets
// through each tier up to ti, its gauges the mean of the fine samples
// since the tier's newest. h.mu is held.
func (h *histRing) correct(ti int, s histSample) histSample {
	meta := h.metaNow()
	for i := 0; i <= ti; i++ {
		t := h.tiers[i]
		var prev histSample
		if n := len(t.samples); n > 0 {
			prev = t.samples[n-1]
		}
		var span []histSample
		if ti == i && !prev.at.IsZero() {
			span = append(after(h.samples, prev.at, s.at), s)
			if n := len(span); n > 1 && span[n-2].at.Equal(s.at) {
				span = span[:n-1]
			}
		}
		s, _ = coarsen(s, prev, span, meta, h.offs[i])
	}
	return s
}
