package eval

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

const tol = 1e-12

// same reports whether got matches want, with NaN matching NaN.
func same(got, want float64) bool {
	if math.IsNaN(want) {
		return math.IsNaN(got)
	}
	if math.IsInf(want, 0) {
		return got == want
	}
	return math.Abs(got-want) <= tol
}

var (
	T   = true
	F   = false
	nan = math.NaN()
)

// Every figure below is worked out by hand in the comment beside it.
var rankingCases = []struct {
	name   string
	scores []float64
	labels []bool
	roc    float64
	ap     float64
}{
	{
		// scikit-learn's documented example for both metrics.
		// Ranks: pos 0.35→2, 0.8→4; (6−3)/(2·2) = 0.75.
		// AP: 0.8(T) P=1 R=½; 0.4(F); 0.35(T) P=⅔ R=1: ½·1 + ½·⅔ = 0.8333.
		name:   "sklearn example",
		scores: []float64{0.1, 0.4, 0.35, 0.8},
		labels: []bool{F, F, T, T},
		roc:    0.75,
		ap:     5.0 / 6,
	},
	{
		name:   "perfect",
		scores: []float64{0.9, 0.8, 0.2, 0.1},
		labels: []bool{T, T, F, F},
		roc:    1,
		ap:     1,
	},
	{
		// AP: 0.9(F),0.8(F) add nothing; 0.2(T) P=⅓ R=½; 0.1(T) P=½ R=1:
		// ½·⅓ + ½·½ = 5/12.
		name:   "inverted",
		scores: []float64{0.1, 0.2, 0.8, 0.9},
		labels: []bool{T, T, F, F},
		roc:    0,
		ap:     5.0 / 12,
	},
	{
		// One threshold takes everything: P=½ at R=1.
		name:   "all tied",
		scores: []float64{0.5, 0.5, 0.5, 0.5},
		labels: []bool{T, F, T, F},
		roc:    0.5,
		ap:     0.5,
	},
	{
		// Ranks: 0.1→1, 0.7,0.7→2.5 each, 0.9→4; pos sum 6.5; (6.5−3)/4.
		// AP: 0.9 P=1 R=½; {0.7,0.7} P=⅔ R=1: ½ + ⅓.
		name:   "tie across classes",
		scores: []float64{0.9, 0.7, 0.7, 0.1},
		labels: []bool{T, T, F, F},
		roc:    0.875,
		ap:     5.0 / 6,
	},
	{
		// Pairs (pos,neg): (3,3)=½ (3,1)=1 (2,3)=0 (2,1)=1, twice for the
		// two 2s: 3.5/6. AP: {3,3} P=½ R=⅓; {2,2} P=¾ R=1: ⅙ + ⅔·¾.
		name:   "ties in both groups",
		scores: []float64{3, 3, 2, 2, 1},
		labels: []bool{T, F, T, T, F},
		roc:    3.5 / 6,
		ap:     2.0 / 3,
	},
	{
		// Input order must not matter: the case above, shuffled.
		name:   "ties in both groups shuffled",
		scores: []float64{2, 1, 3, 2, 3},
		labels: []bool{T, F, F, T, T},
		roc:    3.5 / 6,
		ap:     2.0 / 3,
	},
	{
		// NaN ranks lowest: the positive 0.5 beats it.
		name:   "NaN score ranks lowest",
		scores: []float64{nan, 0.5},
		labels: []bool{F, T},
		roc:    1,
		ap:     1,
	},
	{name: "only positives", scores: []float64{0.1, 0.9}, labels: []bool{T, T}, roc: nan, ap: nan},
	{name: "only negatives", scores: []float64{0.1, 0.9}, labels: []bool{F, F}, roc: nan, ap: nan},
	{name: "empty", scores: nil, labels: nil, roc: nan, ap: nan},
}

func TestROCAUC(t *testing.T) {
	t.Parallel()
	for _, tc := range rankingCases {
		if got := ROCAUC(tc.scores, tc.labels); !same(got, tc.roc) {
			t.Errorf("%s: ROCAUC = %v, want %v", tc.name, got, tc.roc)
		}
	}
}

func TestPRAUC(t *testing.T) {
	t.Parallel()
	for _, tc := range rankingCases {
		if got := PRAUC(tc.scores, tc.labels); !same(got, tc.ap) {
			t.Errorf("%s: PRAUC = %v, want %v", tc.name, got, tc.ap)
		}
	}
}

func TestRecallAtFPR(t *testing.T) {
	t.Parallel()
	// Three positives, three negatives.
	scores := []float64{0.9, 0.8, 0.7, 0.6, 0.5, 0.4}
	labels := []bool{T, T, F, T, F, F}
	inf := math.Inf(1)
	for _, tc := range []struct {
		name          string
		scores        []float64
		labels        []bool
		maxFPR        float64
		recall, thres float64
	}{
		// 0.9, 0.8 are positives; 0.7 is the first false alarm.
		{"no false alarms", scores, labels, 0, 2.0 / 3, 0.8},
		// One false alarm (⅓) lets 0.6 in.
		{"one false alarm", scores, labels, 1.0 / 3, 1, 0.6},
		// Lower thresholds add only negatives: keep the highest with full recall.
		{"any FPR", scores, labels, 1, 1, 0.6},
		{"top is negative", []float64{0.9, 0.1}, []bool{F, T}, 0, 0, inf},
		// The tie at 0.9 holds a negative, so it is all or nothing.
		{"tie breaks budget", []float64{0.9, 0.9, 0.1}, []bool{T, F, T}, 0, 0, inf},
		{"tie within budget", []float64{0.9, 0.9, 0.1}, []bool{T, F, T}, 1, 1, 0.1},
		{"negative budget", scores, labels, -0.5, 0, inf},
		{"only positives", []float64{0.2, 0.3}, []bool{T, T}, 0.1, nan, nan},
		{"only negatives", []float64{0.2, 0.3}, []bool{F, F}, 0.1, nan, nan},
	} {
		r, th := RecallAtFPR(tc.scores, tc.labels, tc.maxFPR)
		if !same(r, tc.recall) || !same(th, tc.thres) {
			t.Errorf("%s: RecallAtFPR(%v) = (%v, %v), want (%v, %v)", tc.name, tc.maxFPR, r, th, tc.recall, tc.thres)
		}
	}
}

func TestConfusion(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name                   string
		c                      Confusion
		precision, recall, fpr float64
		f1                     float64
	}{
		// 2TP/(2TP+FP+FN) = 4/5.
		{"typical", Confusion{TP: 2, FP: 1, TN: 1, FN: 0}, 2.0 / 3, 1, 0.5, 0.8},
		{"empty", Confusion{}, nan, nan, nan, nan},
		{"nothing flagged", Confusion{TN: 2, FN: 3}, nan, 0, 0, 0},
		{"everything flagged", Confusion{TP: 1, FP: 3}, 0.25, 1, 1, 0.4},
	} {
		c := tc.c
		if !same(c.Precision(), tc.precision) || !same(c.Recall(), tc.recall) || !same(c.FPR(), tc.fpr) || !same(c.F1(), tc.f1) {
			t.Errorf("%s: %+v: precision %v recall %v FPR %v F1 %v, want %v %v %v %v",
				tc.name, c, c.Precision(), c.Recall(), c.FPR(), c.F1(), tc.precision, tc.recall, tc.fpr, tc.f1)
		}
	}
}

func TestConfusionAt(t *testing.T) {
	t.Parallel()
	scores := []float64{0.9, 0.8, 0.7, 0.6}
	labels := []bool{T, F, T, F}
	for _, tc := range []struct {
		threshold float64
		want      Confusion
	}{
		{0.7, Confusion{TP: 2, FP: 1, TN: 1}}, // at the threshold counts as flagged
		{0.95, Confusion{TN: 2, FN: 2}},
		{0, Confusion{TP: 2, FP: 2}},
	} {
		if got := ConfusionAt(scores, labels, tc.threshold); got != tc.want {
			t.Errorf("ConfusionAt(%v) = %+v, want %+v", tc.threshold, got, tc.want)
		}
	}
}

func TestLengthMismatchPanics(t *testing.T) {
	t.Parallel()
	for name, f := range map[string]func(){
		"ROCAUC":      func() { ROCAUC([]float64{1}, nil) },
		"PRAUC":       func() { PRAUC([]float64{1}, nil) },
		"RecallAtFPR": func() { RecallAtFPR([]float64{1}, nil, 0.1) },
		"ConfusionAt": func() { ConfusionAt([]float64{1}, nil, 0.1) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s with 1 score and 0 labels did not panic", name)
				}
			}()
			f()
		}()
	}
}

// The histogram forms equal the exact ones over the bucket indexes, on
// random scores and labels, ties and empty buckets included.
func TestHistogramAUCMatchesBucketedScores(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 13))
	for trial := range 200 {
		const buckets = 20
		pos, neg := make([]int64, buckets), make([]int64, buckets)
		var scores []float64
		var labels []bool
		for range 1 + rng.IntN(300) {
			b := rng.IntN(buckets)
			if trial%3 == 0 {
				b = rng.IntN(4) * 5 // few distinct buckets: many ties
			}
			fraud := rng.Float64() < float64(b+1)/buckets
			scores = append(scores, float64(b))
			labels = append(labels, fraud)
			if fraud {
				pos[b]++
			} else {
				neg[b]++
			}
		}
		if got, want := HistogramROCAUC(pos, neg), ROCAUC(scores, labels); !same(got, want) {
			t.Fatalf("trial %d: HistogramROCAUC = %v, ROCAUC = %v", trial, got, want)
		}
		if got, want := HistogramPRAUC(pos, neg), PRAUC(scores, labels); !same(got, want) {
			t.Fatalf("trial %d: HistogramPRAUC = %v, PRAUC = %v", trial, got, want)
		}
	}
	if v := HistogramROCAUC([]int64{0, 3}, []int64{0, 0}); !math.IsNaN(v) {
		t.Fatalf("ROC-AUC with one class = %v, want NaN", v)
	}
}

// TestRankingAsIndexSorts: ROCAUC and PRAUC (Ranking's two halves) give,
// to the bit, what the rank sum and the precision-recall sum over an
// index sort give, computed independently below, with ties, NaN scores
// and one class.
func TestRankingAsIndexSorts(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for trial := range 300 {
		n := 1 + rng.IntN(400)
		scores, labels := make([]float64, n), make([]bool, n)
		for i := range scores {
			switch rng.IntN(10) {
			case 0:
				scores[i] = math.NaN()
			case 1, 2, 3:
				scores[i] = float64(rng.IntN(5)) / 4 // ties
			default:
				scores[i] = rng.Float64()
			}
			labels[i] = rng.IntN(4) == 0 || trial%50 == 1
		}
		roc, pr := Ranking(scores, labels)
		wroc, wpr := rocByIndices(scores, labels), prByIndices(scores, labels)
		same := func(a, b float64) bool {
			return math.Float64bits(a) == math.Float64bits(b) || (math.IsNaN(a) && math.IsNaN(b))
		}
		if !same(roc, wroc) || !same(pr, wpr) || !same(ROCAUC(scores, labels), wroc) || !same(PRAUC(scores, labels), wpr) {
			t.Fatalf("trial %d: Ranking %v, %v; by index sorts %v, %v", trial, roc, pr, wroc, wpr)
		}
	}
}

// rocByIndices is ROCAUC as the Mann-Whitney rank sum over indices sorted
// by score, NaN first.
func rocByIndices(scores []float64, labels []bool) float64 {
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return cmp.Compare(scores[a], scores[b]) })
	var nPos, nNeg int
	var posRankSum float64
	for i := 0; i < len(idx); {
		j := tieEnd(scores, idx, i)
		// Ranks i+1..j (1-based) averaged.
		avg := float64(i+1+j) / 2
		for _, k := range idx[i:j] {
			if labels[k] {
				posRankSum += avg
				nPos++
			} else {
				nNeg++
			}
		}
		i = j
	}
	if nPos == 0 || nNeg == 0 {
		return math.NaN()
	}
	p, n := float64(nPos), float64(nNeg)
	return (posRankSum - p*(p+1)/2) / (p * n)
}

// prByIndices is PRAUC as average precision over indices sorted highest
// first.
func prByIndices(scores []float64, labels []bool) float64 {
	nPos, nNeg := countClasses(labels)
	if nPos == 0 || nNeg == 0 {
		return math.NaN()
	}
	idx := orderDescending(scores)
	var tp, fp int
	var ap, prevRecall float64
	for i := 0; i < len(idx); {
		j := tieEnd(scores, idx, i)
		for _, k := range idx[i:j] {
			if labels[k] {
				tp++
			} else {
				fp++
			}
		}
		recall := float64(tp) / float64(nPos)
		precision := float64(tp) / float64(tp+fp)
		ap += (recall - prevRecall) * precision
		prevRecall = recall
		i = j
	}
	return ap
}
