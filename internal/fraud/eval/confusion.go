package eval

import "math"

// Confusion counts the four outcomes of flagging records at one threshold.
// Its rates are NaN when their denominator is zero (precision with nothing
// flagged, recall with no positives, FPR with no negatives), so an empty
// case is never mistaken for a perfect or a failed one.
type Confusion struct {
	TP, FP, TN, FN int
}

// ConfusionAt counts outcomes when every record scoring at or above
// threshold is flagged.
func ConfusionAt(scores []float64, labels []bool, threshold float64) Confusion {
	checkLengths("ConfusionAt", scores, labels)
	var c Confusion
	for i, s := range scores {
		flagged := s >= threshold
		switch {
		case flagged && labels[i]:
			c.TP++
		case flagged:
			c.FP++
		case labels[i]:
			c.FN++
		default:
			c.TN++
		}
	}
	return c
}

// Precision is the share of flagged records that are positive: how much of
// an analyst's alert queue is worth their time.
func (c Confusion) Precision() float64 { return ratio(c.TP, c.TP+c.FP) }

// Recall is the share of positives that were flagged: how much fraud is caught.
func (c Confusion) Recall() float64 { return ratio(c.TP, c.TP+c.FN) }

// FPR is the share of negatives that were flagged: the cost to honest
// customers, and the budget the fraud target is set against.
func (c Confusion) FPR() float64 { return ratio(c.FP, c.FP+c.TN) }

// F1 is the harmonic mean of precision and recall, 2TP / (2TP + FP + FN),
// which stays defined (as 0) when nothing correct was flagged but something
// could have been.
func (c Confusion) F1() float64 { return ratio(2*c.TP, 2*c.TP+c.FP+c.FN) }

func ratio(num, den int) float64 {
	if den == 0 {
		return math.NaN()
	}
	return float64(num) / float64(den)
}
