package fraudmetrics

import (
	"math"
	"testing"

	"github.com/shopstream/shopstream/internal/fraud"
	"github.com/shopstream/shopstream/internal/store"
)

// TestCost: 10,000 transactions, 100 of them known fraud; the review
// workload and the fraud caught at the thresholds in force and at the
// threshold meeting a 0.5% review rate.
func TestCost(t *testing.T) {
	h := &store.Histogram{}
	h.None[5] = 9000  // risk 0.05
	h.Legit[20] = 500 // 0.20
	h.None[45] = 200  // 0.45
	h.Legit[60] = 100 // 0.60
	h.None[70] = 30   // 0.70
	h.Fraud[30] = 10  // 0.30: missed at 0.4
	h.Fraud[45] = 20
	h.Fraud[70] = 20
	h.Fraud[95] = 50
	h.None[95] = 70
	r := &store.Rollups{Histograms: map[string]*store.Histogram{store.SeriesActive: h}}
	c := Cost(r, "24h", fraud.ScorerConfig{ReviewAt: 0.4, DeclineAt: 0.9}, CostInputs{LossPerFraud: 200, CostPerReview: 5})
	if c.Transactions != 10_000 || c.KnownFraud != 100 {
		t.Fatalf("transactions %d, known fraud %d", c.Transactions, c.KnownFraud)
	}
	cur := c.Current
	if cur.Reviewed != 370 || cur.Declined != 120 || cur.FraudCaught != 90 || cur.FraudMissed != 10 || cur.CaughtShare != 0.9 {
		t.Fatalf("current: %+v", cur)
	}
	if cur.LossPrevented != 18_000 || cur.ReviewCost != 1850 || cur.Net != 16_150 {
		t.Fatalf("current money: %+v", cur)
	}
	// 0.5% of 10,000 is 50: reviewing from 0.46 leaves 150 (60 and 70),
	// from 0.61 leaves 50 (the 0.70 bucket).
	tg := c.Target
	if tg.ReviewAt != 0.61 || tg.Reviewed != 50 || tg.FraudCaught != 70 || tg.ReviewRate != 0.005 {
		t.Fatalf("target: %+v", tg)
	}
	if len(c.Curve) != 90 || c.Curve[0].ReviewAt != 0.01 || c.Curve[89].ReviewAt != 0.9 || c.Curve[89].Reviewed != 0 {
		t.Fatalf("curve of %d points from %v to %v", len(c.Curve), c.Curve[0].ReviewAt, c.Curve[len(c.Curve)-1].ReviewAt)
	}
	// With outcome rows, the current figures are the decisions taken.
	r.Outcomes = []store.FraudRollup{{Truth: store.TruthNone, Decision: "review", N: 360}, {Truth: store.TruthFraud, Decision: "review", N: 41},
		{Truth: store.TruthFraud, Decision: "decline", N: 50}, {Truth: store.TruthFraud, Decision: "approve", N: 9}, {Truth: store.TruthNone, Decision: "decline", N: 70}}
	cur = Cost(r, "24h", fraud.ScorerConfig{ReviewAt: 0.4, DeclineAt: 0.9}, CostInputs{LossPerFraud: 200, CostPerReview: 5}).Current
	if cur.Reviewed != 401 || cur.Declined != 120 || cur.FraudCaught != 91 || cur.FraudMissed != 9 || cur.Net != 91*200-401*5 {
		t.Fatalf("current from the outcomes: %+v", cur)
	}
	// Without money inputs the money is NaN; with no fraud known, the share.
	empty := Cost(&store.Rollups{}, "1h", fraud.ScorerConfig{ReviewAt: 0.4, DeclineAt: 0.9}, CostInputs{LossPerFraud: math.NaN(), CostPerReview: math.NaN()})
	if !math.IsNaN(empty.Current.Net) || !math.IsNaN(empty.Current.CaughtShare) || empty.Inputs.TargetReviewRate != DefaultTargetReviewRate {
		t.Fatalf("empty: %+v", empty)
	}
}
