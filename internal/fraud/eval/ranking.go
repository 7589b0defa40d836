package eval

import (
	"cmp"
	"fmt"
	"math"
	"slices"
)

// ROCAUC is the area under the ROC curve, computed as the Mann-Whitney U
// statistic: tied scores share the average of their ranks, which is the
// same as counting each positive-negative tie as half a correct ordering
// (and equals scikit-learn's roc_auc_score). It is NaN when labels hold
// only one class, since there is then no pair to order.
//
// NaN scores rank below every number and tie with each other.
func ROCAUC(scores []float64, labels []bool) float64 {
	checkLengths("ROCAUC", scores, labels)
	roc, _ := Ranking(scores, labels)
	return roc
}

// PRAUC is the area under the precision-recall curve as average precision,
// AP = Σₖ (Rₖ − Rₖ₋₁)·Pₖ over the distinct score thresholds from the
// highest down: the step-wise sum of scikit-learn's
// average_precision_score, with no interpolation (trapezoids over PR
// points overstate it). Tied scores form one threshold. It is NaN when
// labels hold only one class: with no positives recall is undefined, and
// with no negatives every ranking is perfect, which says nothing about the
// scores.
func PRAUC(scores []float64, labels []bool) float64 {
	checkLengths("PRAUC", scores, labels)
	_, pr := Ranking(scores, labels)
	return pr
}

// Ranking is ROCAUC and PRAUC of the same scores from one sort of
// (score, label) pairs held together: both metrics are computed here
// (ROCAUC and PRAUC take their half), from the same tie groups. Sorting
// the pairs rather than indices compared through the scores keeps the
// sort in cache: a million scores of a file are ranked in a fraction of
// the time.
func Ranking(scores []float64, labels []bool) (roc, pr float64) {
	checkLengths("Ranking", scores, labels)
	type scored struct {
		s   float64
		pos bool
	}
	v := make([]scored, len(scores))
	for i, s := range scores {
		v[i] = scored{s, labels[i]}
	}
	// Ascending, NaN first; descending, as the precision-recall sum walks
	// it, is the same order backwards, ties in the same groups.
	slices.SortFunc(v, func(a, b scored) int { return cmp.Compare(a.s, b.s) })
	type group struct{ from, to, pos int }
	var groups []group
	for i := 0; i < len(v); {
		j, pos := i, 0
		for ; j < len(v) && cmp.Compare(v[j].s, v[i].s) == 0; j++ {
			if v[j].pos {
				pos++
			}
		}
		groups = append(groups, group{i, j, pos})
		i = j
	}
	var nPos int
	var posRankSum float64
	for _, g := range groups {
		avg := float64(g.from+1+g.to) / 2
		for range g.pos {
			posRankSum += avg
		}
		nPos += g.pos
	}
	nNeg := len(v) - nPos
	if nPos == 0 || nNeg == 0 {
		return math.NaN(), math.NaN()
	}
	p, n := float64(nPos), float64(nNeg)
	roc = (posRankSum - p*(p+1)/2) / (p * n)
	var tp, fp int
	var prevRecall float64
	for k := len(groups) - 1; k >= 0; k-- {
		g := groups[k]
		tp += g.pos
		fp += g.to - g.from - g.pos
		recall := float64(tp) / float64(nPos)
		precision := float64(tp) / float64(tp+fp)
		pr += (recall - prevRecall) * precision
		prevRecall = recall
	}
	return roc, pr
}

// RecallAtFPR returns the highest recall reachable while the false-positive
// rate stays at or below maxFPR, and the threshold that reaches it (flag
// scores >= threshold). Among thresholds with that recall it returns the
// highest, the one with the fewest false alarms. When even the top-scored
// group of records breaks the budget, nothing can be flagged: recall is 0
// and threshold +Inf. Both are NaN when labels hold only one class.
func RecallAtFPR(scores []float64, labels []bool, maxFPR float64) (recall, threshold float64) {
	checkLengths("RecallAtFPR", scores, labels)
	nPos, nNeg := countClasses(labels)
	if nPos == 0 || nNeg == 0 {
		return math.NaN(), math.NaN()
	}
	idx := orderDescending(scores)
	recall, threshold = 0, math.Inf(1)
	var tp, fp int
	for i := 0; i < len(idx); {
		j := tieEnd(scores, idx, i)
		gained := false
		for _, k := range idx[i:j] {
			if labels[k] {
				tp++
				gained = true
			} else {
				fp++
			}
		}
		// FPR only grows as the threshold falls, so the first breach ends
		// the search.
		if !(float64(fp)/float64(nNeg) <= maxFPR) {
			break
		}
		if gained {
			recall, threshold = float64(tp)/float64(nPos), scores[idx[i]]
		}
		i = j
	}
	return recall, threshold
}

// checkLengths panics when scores and labels do not pair up: silently
// truncating would report a figure for data that was never scored.
func checkLengths(fn string, scores []float64, labels []bool) {
	if len(scores) != len(labels) {
		panic(fmt.Sprintf("eval.%s: %d scores but %d labels", fn, len(scores), len(labels)))
	}
}

func countClasses(labels []bool) (pos, neg int) {
	for _, l := range labels {
		if l {
			pos++
		}
	}
	return pos, len(labels) - pos
}

// orderDescending returns the indices of scores sorted highest first, NaN last.
func orderDescending(scores []float64) []int {
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return cmp.Compare(scores[b], scores[a]) })
	return idx
}

// tieEnd returns the end of the run of equal scores in idx starting at i.
func tieEnd(scores []float64, idx []int, i int) int {
	j := i + 1
	for j < len(idx) && cmp.Compare(scores[idx[j]], scores[idx[i]]) == 0 {
		j++
	}
	return j
}

// HistogramROCAUC is ROCAUC of scores known only by their bucket: pos[i]
// and neg[i] count the positives and negatives whose score fell in bucket
// i, buckets in ascending order of score. Scores sharing a bucket count as
// tied, so it equals ROCAUC of the bucket indexes, and differs from ROCAUC
// of the exact scores only by the pairs ordered inside one bucket. NaN
// when either class is empty.
func HistogramROCAUC(pos, neg []int64) float64 {
	checkBuckets("HistogramROCAUC", pos, neg)
	var p, n, below, correct float64
	for i := range pos {
		pi, ni := float64(pos[i]), float64(neg[i])
		// Each positive here beats every negative in a lower bucket and
		// half-beats each one in its own.
		correct += pi * (below + ni/2)
		below += ni
		p += pi
		n += ni
	}
	if p == 0 || n == 0 {
		return math.NaN()
	}
	return correct / (p * n)
}

// HistogramPRAUC is PRAUC (average precision) of scores known only by
// their bucket, as HistogramROCAUC: each non-empty bucket is one threshold,
// from the highest bucket down. NaN when either class is empty.
func HistogramPRAUC(pos, neg []int64) float64 {
	checkBuckets("HistogramPRAUC", pos, neg)
	var nPos, nNeg int64
	for i := range pos {
		nPos += pos[i]
		nNeg += neg[i]
	}
	if nPos == 0 || nNeg == 0 {
		return math.NaN()
	}
	var tp, fp int64
	var ap, prevRecall float64
	for i := len(pos) - 1; i >= 0; i-- {
		if pos[i] == 0 && neg[i] == 0 {
			continue
		}
		tp += pos[i]
		fp += neg[i]
		recall := float64(tp) / float64(nPos)
		ap += (recall - prevRecall) * float64(tp) / float64(tp+fp)
		prevRecall = recall
	}
	return ap
}

// checkBuckets panics when the two histograms do not pair up, or hold a
// negative count.
func checkBuckets(fn string, pos, neg []int64) {
	if len(pos) != len(neg) {
		panic(fmt.Sprintf("eval.%s: %d positive buckets but %d negative", fn, len(pos), len(neg)))
	}
	for i := range pos {
		if pos[i] < 0 || neg[i] < 0 {
			panic(fmt.Sprintf("eval.%s: negative count in bucket %d", fn, i))
		}
	}
}
