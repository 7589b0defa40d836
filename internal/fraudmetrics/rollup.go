package fraudmetrics

import (
	"sort"
	"time"

	"github.com/shopstream/shopstream/internal/fraud/eval"
	"github.com/shopstream/shopstream/internal/store"
)

// ComputeRollups measures detection from the stored rollups: counts are
// exact; PR-AUC and ROC-AUC are those of the risks rounded down to
// store.RiskBuckets buckets (risks within 0.01 count as tied).
func ComputeRollups(r *store.Rollups, in Inputs) *Report {
	m := &Report{Window: in.Window, Thresholds: in.Thresholds, PerScenario: map[string]Scenario{}, Series: []Point{},
		AsOf: r.AsOf, ComputedAt: in.Now.UTC(), RiskBuckets: store.RiskBuckets, LabelWindow: in.LabelWindow}
	// Rows starting before matured are past the label window.
	matured := r.AsOf.Add(-in.LabelWindow)
	if !r.AsOf.IsZero() {
		m.Since, m.Until = r.Since, r.Until
		if in.Window == "all" {
			m.Since = time.Time{}
		}
	}
	var c eval.Confusion
	for i := range r.Outcomes {
		o := &r.Outcomes[i]
		n := int(o.N)
		m.Transactions += n
		if o.Truth == store.TruthNone {
			switch {
			case in.LabelWindow > 0 && !o.Start.After(matured):
				m.PresumedLegit += n
				presumed := *o
				presumed.Truth = store.TruthLegit
				tallyN(&c, &presumed, n)
			case o.Decision != "approve":
				m.Pending.Alerted += n
			default:
				m.Pending.Unalerted += n
			}
			continue
		}
		m.Labelled += n
		if o.Analyst {
			m.AnalystLabelled += n
		}
		tallyN(&c, o, n)
		if o.Truth == store.TruthFraud {
			sc := m.PerScenario[o.Scenario]
			sc.Fraud += n
			if o.Decision != "approve" {
				sc.Caught += n
			}
			m.PerScenario[o.Scenario] = sc
		}
	}
	m.Fraud, m.Flagged = c.TP+c.FN, c.TP+c.FP
	m.Precision, m.Recall, m.FPR = c.Precision(), c.Recall(), c.FPR()
	for k, sc := range m.PerScenario {
		sc.Recall = float64(sc.Caught) / float64(sc.Fraud)
		m.PerScenario[k] = sc
	}
	m.PRAUC, m.ROCAUC = aucs(r.Histograms[store.SeriesActive])
	if sh := r.Histograms[store.SeriesShadow]; sh != nil && histTotal(sh) > 0 {
		m.Shadow = &Shadow{Version: in.ShadowVersion, Rows: int(histTotal(sh)), Fraud: int(sum(sh.Fraud[:]))}
		m.Shadow.PRAUC, _ = aucs(sh)
		m.Shadow.ActivePRAUC, _ = aucs(r.Histograms[store.SeriesActiveShadowed])
	}
	m.Series = rollupSeries(r)
	return m
}

// tallyN counts n labelled outcomes of one row into c.
func tallyN(c *eval.Confusion, o *store.FraudRollup, n int) {
	flagged := o.Decision != "approve"
	switch {
	case flagged && o.Truth == store.TruthFraud:
		c.TP += n
	case flagged:
		c.FP += n
	case o.Truth == store.TruthFraud:
		c.FN += n
	default:
		c.TN += n
	}
}

func aucs(h *store.Histogram) (pr, roc float64) {
	if h == nil {
		h = &store.Histogram{}
	}
	return eval.HistogramPRAUC(h.Fraud[:], h.Legit[:]), eval.HistogramROCAUC(h.Fraud[:], h.Legit[:])
}

func sum(xs []int64) int64 {
	var s int64
	for _, x := range xs {
		s += x
	}
	return s
}

func histTotal(h *store.Histogram) int64 { return sum(h.Fraud[:]) + sum(h.Legit[:]) }

// seriesBucket is the width of the series' buckets over [first, last]:
// about 24 buckets, as series takes it.
func seriesBucket(first, last time.Time) time.Duration {
	for _, b := range bucketSizes {
		if last.Sub(first)/b <= 30 {
			return b
		}
	}
	return bucketSizes[len(bucketSizes)-1]
}

// outcomesBy is the coarsest granularity of rollup rows that fits the
// buckets of the series of a window spanning [first, last].
func outcomesBy(first, last time.Time) store.Granularity {
	switch size := seriesBucket(first, last); {
	case size < time.Hour:
		return store.Minute
	case size < 24*time.Hour:
		return store.Hour
	}
	return store.Day
}

// labelledSpan is the span of the labelled outcome rows' starts, from the
// window's start when it has one.
func labelledSpan(r *store.Rollups) (first, last time.Time) {
	for i := range r.Outcomes {
		o := &r.Outcomes[i]
		if o.Truth == store.TruthNone {
			continue
		}
		if first.IsZero() || o.Start.Before(first) {
			first = o.Start
		}
		if o.Start.After(last) {
			last = o.Start
		}
	}
	if !first.IsZero() && !r.Since.IsZero() && r.Since.After(r.Oldest) {
		first = r.Since
	}
	return first, last
}

// rollupSeries buckets the labelled outcome rows by event time, as series
// does the outcomes.
func rollupSeries(r *store.Rollups) []Point {
	first, last := labelledSpan(r)
	if first.IsZero() {
		return []Point{}
	}
	size := seriesBucket(first, last)
	byStart := map[int64]*eval.Confusion{}
	for i := range r.Outcomes {
		o := &r.Outcomes[i]
		if o.Truth == store.TruthNone {
			continue
		}
		k := o.Start.Truncate(size).Unix()
		c := byStart[k]
		if c == nil {
			c = &eval.Confusion{}
			byStart[k] = c
		}
		tallyN(c, o, int(o.N))
	}
	keys := make([]int64, 0, len(byStart))
	for k := range byStart {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	pts := make([]Point, len(keys))
	for i, k := range keys {
		c := byStart[k]
		pts[i] = Point{Start: time.Unix(k, 0).UTC(), Labelled: c.TP + c.FP + c.TN + c.FN, Fraud: c.TP + c.FN,
			Flagged: c.TP + c.FP, Precision: c.Precision(), Recall: c.Recall()}
	}
	return pts
}
