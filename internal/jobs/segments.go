package jobs

import (
	"cmp"
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/shopstream/shopstream/internal/analytics"
	"github.com/shopstream/shopstream/internal/modeldoc"
	"github.com/shopstream/shopstream/internal/store"
)

// segments clusters the population and returns every customer's cluster,
// or nil with the reason in rep when it cannot.
func (r *Refresh) segments(ctx context.Context, pop *population, asOf time.Time, preds []prediction, rep *RefreshReport) ([]int, error) {
	n := len(pop.sums)
	names := []string{"recency_days", "log1p_frequency", "log1p_monetary"}
	slot := make([]int, len(pop.catNames)) // category -> feature index, or -1
	for i := range slot {
		slot[i] = -1
	}
	if kept := r.kept; kept != nil {
		// The clustering of this day is kept: its features, by name.
		names = kept.segNames
		for i, name := range names[3:] {
			if k := slices.Index(pop.catNames, name[len("share:"):]); k >= 0 {
				slot[k] = 3 + i
			}
		}
	} else {
		for i, k := range topCategories(pop, r.cfg.Categories) {
			names = append(names, "share:"+pop.catNames[k])
			slot[k] = 3 + i
		}
	}
	d := len(names)
	features := func(i int, dst []float64) {
		clear(dst)
		s := pop.sums[i]
		v := s.RFMValues()
		dst[0], dst[1], dst[2] = v.Recency, math.Log1p(v.Frequency), math.Log1p(max(v.Monetary, 0))
		var total int64
		for e := pop.catStart[i]; e < pop.catStart[i+1]; e++ {
			total += pop.catCents[e]
		}
		if total <= 0 {
			return
		}
		for e := pop.catStart[i]; e < pop.catStart[i+1]; e++ {
			if f := slot[pop.catIdx[e]]; f >= 0 {
				dst[f] = float64(pop.catCents[e]) / float64(total)
			}
		}
	}

	if kept := r.kept; kept != nil {
		labels := make([]int, n)
		buf := make([]float64, d)
		for i := range n {
			features(i, buf)
			labels[i] = kept.seg.Predict(buf)
		}
		rep.SegmentsVersion, rep.K = kept.segVersion, kept.seg.K
		return labels, nil
	}

	rng := rand.New(rand.NewPCG(r.cfg.Seed, 0x5e6))
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	if n > r.cfg.SampleSize {
		// Partial Fisher-Yates: the first SampleSize are a uniform sample.
		for i := range r.cfg.SampleSize {
			j := i + rng.IntN(n-i)
			idx[i], idx[j] = idx[j], idx[i]
		}
		idx = idx[:r.cfg.SampleSize]
	}
	flat := make([]float64, len(idx)*d)
	sample := make([][]float64, len(idx))
	for s, i := range idx {
		sample[s] = flat[s*d : (s+1)*d : (s+1)*d]
		features(i, sample[s])
	}
	seg, err := analytics.FitSegments(sample, analytics.SegmentConfig{K: r.cfg.K, KMin: r.cfg.KMin, KMax: r.cfg.KMax, Seed: r.cfg.Seed})
	if err != nil {
		rep.SegmentsNote = "clustering skipped: " + err.Error()
		r.log.Info("behavioural clustering skipped", "reason", err)
		return nil, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	labels := make([]int, n)
	buf := make([]float64, d)
	prof := make([]modeldoc.ClusterProfile, seg.K)
	catSpend := make([][]int64, seg.K)
	clvSum, clvN := make([]float64, seg.K), make([]int, seg.K)
	for c := range prof {
		prof[c].Cluster = c
		catSpend[c] = make([]int64, len(pop.catNames))
	}
	for i := range n {
		features(i, buf)
		c := seg.Predict(buf)
		labels[i] = c
		p := &prof[c]
		p.Size++
		p.MeanRecencyDays += buf[0]
		p.MeanFrequency += float64(pop.sums[i].Frequency + 1)
		p.MeanMonetary += float64(pop.cents[i]) / r.minorPer
		if preds != nil && preds[i].ok {
			clvSum[c] += preds[i].p.Value
			clvN[c]++
		}
		for e := pop.catStart[i]; e < pop.catStart[i+1]; e++ {
			catSpend[c][pop.catIdx[e]] += pop.catCents[e]
		}
	}
	for c := range prof {
		p := &prof[c]
		if p.Size > 0 {
			sz := float64(p.Size)
			p.Share, p.MeanRecencyDays, p.MeanFrequency, p.MeanMonetary = sz/float64(n), p.MeanRecencyDays/sz, p.MeanFrequency/sz, p.MeanMonetary/sz
		}
		if clvN[c] > 0 {
			m := clvSum[c] / float64(clvN[c])
			p.MeanCLV = &m
		}
		p.TopCategories = topShares(catSpend[c], pop.catNames, 3)
	}

	params := modeldoc.SegmentsParams{K: seg.K, Features: names, Centroids: seg.Centroids, Seed: r.cfg.Seed, SampleSize: len(idx)}
	metrics := modeldoc.SegmentsMetrics{AsOf: asOf, Customers: n, Clusters: prof, Candidates: []modeldoc.KSilhouette{}}
	if !math.IsNaN(seg.Silhouette) {
		s := seg.Silhouette
		metrics.Silhouette = &s
	}
	for _, c := range seg.Candidates {
		metrics.Candidates = append(metrics.Candidates, modeldoc.KSilhouette{K: c.K, Silhouette: c.Silhouette})
	}
	pj, err := json.Marshal(params)
	if err != nil {
		return nil, err
	}
	mj, err := json.Marshal(metrics)
	if err != nil {
		return nil, err
	}
	v, err := r.cfg.Store.SaveModelVersion(ctx, store.ModelSegments, pj, mj)
	if err != nil {
		return nil, err
	}
	rep.SegmentsVersion, rep.K, rep.Silhouette = v, seg.K, metrics.Silhouette
	r.fitted.seg, r.fitted.segNames, r.fitted.segVersion = seg, names, v
	return labels, nil
}

// topCategories returns the indexes of the c categories with the most
// spend over the population, largest first (ties by name).
func topCategories(pop *population, c int) []int {
	total := make([]int64, len(pop.catNames))
	for e, k := range pop.catIdx {
		total[k] += pop.catCents[e]
	}
	order := make([]int, len(total))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		if c := cmp.Compare(total[b], total[a]); c != 0 {
			return c
		}
		return cmp.Compare(pop.catNames[a], pop.catNames[b])
	})
	return order[:min(c, len(order))]
}

// topShares returns the n largest categories of spend with their share.
func topShares(spend []int64, names []string, n int) []modeldoc.CategoryShare {
	var total int64
	order := make([]int, 0, len(spend))
	for k, v := range spend {
		total += v
		if v > 0 {
			order = append(order, k)
		}
	}
	slices.SortFunc(order, func(a, b int) int {
		if c := cmp.Compare(spend[b], spend[a]); c != 0 {
			return c
		}
		return cmp.Compare(names[a], names[b])
	})
	out := []modeldoc.CategoryShare{}
	for _, k := range order[:min(n, len(order))] {
		out = append(out, modeldoc.CategoryShare{Category: names[k], Share: float64(spend[k]) / float64(total)})
	}
	return out
}
