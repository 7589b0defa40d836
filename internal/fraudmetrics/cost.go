package fraudmetrics

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/shopstream/shopstream/internal/fraud"
	"github.com/shopstream/shopstream/internal/store"
)

// DefaultTargetReviewRate is CostInputs.TargetReviewRate's default: at
// most 0.5% of orders sent to review.
const DefaultTargetReviewRate = 0.005

// CostInputs is what a fraud team brings to the cost view.
type CostInputs struct {
	// TargetReviewRate is the largest share of orders the team can
	// review. Defaults to DefaultTargetReviewRate.
	TargetReviewRate float64
	// LossPerFraud is what a fraudulent order that goes through costs
	// (the goods, the chargeback and its fee), and CostPerReview what one
	// review costs; NaN when not given, and then the money figures are
	// NaN too.
	LossPerFraud, CostPerReview float64
}

// CostReport weighs the fraud stopped against the review workload, at the
// thresholds in force and at the review threshold that meets a target
// review rate. Counts are at the resolution of the risk histograms
// (store.RiskBuckets): a threshold counts whole buckets.
type CostReport struct {
	Window             string
	AsOf, Since, Until time.Time
	// Transactions are every scored transaction of the window; KnownFraud
	// those labelled fraud so far (labels arrive late: see
	// Report.Pending).
	Transactions, KnownFraud int64
	Inputs                   CostInputs
	// Current is at the thresholds in force; Target at the lowest review
	// threshold whose review rate is at most the target, the decline
	// threshold unchanged.
	Current, Target CostPoint
	// Curve is every review threshold from 0.01 to the decline
	// threshold, in steps of one bucket.
	Curve []CostPoint
}

// CostPoint is the outcome of one pair of thresholds. Current's counts
// are the decisions taken (exact, from the outcome rows); the others are
// at the buckets' resolution.
type CostPoint struct {
	ReviewAt, DeclineAt float64
	// Reviewed and Declined are the transactions at or above each
	// threshold (Reviewed below DeclineAt); ReviewRate is Reviewed over
	// all.
	Reviewed, Declined int64
	ReviewRate         float64
	// FraudCaught is the known fraud reviewed or declined, FraudMissed
	// the known fraud approved, CaughtShare the caught share of it (NaN
	// when none is known).
	FraudCaught, FraudMissed int64
	CaughtShare              float64
	// LossPrevented is FraudCaught × LossPerFraud, ReviewCost Reviewed ×
	// CostPerReview, Net their difference: NaN without the inputs.
	LossPrevented, ReviewCost, Net float64
}

// Cost computes the cost view from the active risk histogram of r (every
// transaction, store.Histogram.None included) at the thresholds th.
func Cost(r *store.Rollups, window string, th fraud.ScorerConfig, in CostInputs) *CostReport {
	if !(in.TargetReviewRate > 0) {
		in.TargetReviewRate = DefaultTargetReviewRate
	}
	rep := &CostReport{Window: window, AsOf: r.AsOf, Since: r.Since, Until: r.Until, Inputs: in, Curve: []CostPoint{}}
	h := r.Histograms[store.SeriesActive]
	if h == nil {
		h = &store.Histogram{}
	}
	var all, fraudAt [store.RiskBuckets]int64
	for b := range store.RiskBuckets {
		all[b] = h.Fraud[b] + h.Legit[b] + h.None[b]
		fraudAt[b] = h.Fraud[b]
		rep.Transactions += all[b]
		rep.KnownFraud += h.Fraud[b]
	}
	point := func(review, decline int) CostPoint {
		p := CostPoint{ReviewAt: float64(review) / store.RiskBuckets, DeclineAt: float64(decline) / store.RiskBuckets}
		for b := range store.RiskBuckets {
			switch {
			case b >= decline:
				p.Declined += all[b]
				p.FraudCaught += fraudAt[b]
			case b >= review:
				p.Reviewed += all[b]
				p.FraudCaught += fraudAt[b]
			default:
				p.FraudMissed += fraudAt[b]
			}
		}
		return finish(p, rep, in)
	}
	// A threshold t counts the buckets from round(t × buckets) up.
	bucket := func(t float64) int { return min(max(int(math.Round(t*store.RiskBuckets)), 0), store.RiskBuckets) }
	review, decline := bucket(th.ReviewAt), bucket(th.DeclineAt)
	decline = max(decline, review)
	rep.Current = point(review, decline)
	if len(r.Outcomes) > 0 {
		// The decisions taken are known exactly from the outcome rows.
		cur := &rep.Current
		cur.Reviewed, cur.Declined, cur.FraudCaught, cur.FraudMissed = 0, 0, 0, 0
		for i := range r.Outcomes {
			o := &r.Outcomes[i]
			switch o.Decision {
			case "review":
				cur.Reviewed += o.N
			case "decline":
				cur.Declined += o.N
			}
			if o.Truth == store.TruthFraud {
				if o.Decision == "approve" {
					cur.FraudMissed += o.N
				} else {
					cur.FraudCaught += o.N
				}
			}
		}
		*cur = finish(*cur, rep, in)
	}
	rep.Target = point(decline, decline)
	found := false
	for t := 1; t <= decline; t++ {
		p := point(t, decline)
		rep.Curve = append(rep.Curve, p)
		if !found && rep.Transactions > 0 && p.ReviewRate <= in.TargetReviewRate {
			rep.Target, found = p, true
		}
	}
	return rep
}

// Cost returns the cost view of the named window (a key of Windows) at
// the thresholds in force.
func (s *Service) Cost(ctx context.Context, window string, in CostInputs) (*CostReport, error) {
	span, ok := Windows[window]
	if !ok {
		return nil, fmt.Errorf("%w %q, want %s", ErrUnknownWindow, window, WindowNames)
	}
	r, err := s.cfg.Rollups(ctx, store.RollupQuery{Span: span, OutcomesBy: store.Day})
	if err != nil {
		return nil, fmt.Errorf("reading the fraud rollups of window %s: %w", window, err)
	}
	return Cost(r, window, s.cfg.Thresholds(), in), nil
}

// CostRange returns the cost view of event times in [since, until), in
// whole minutes; a zero bound is open. Its window is "range".
func (s *Service) CostRange(ctx context.Context, since, until time.Time, in CostInputs) (*CostReport, error) {
	r, err := s.cfg.Rollups(ctx, store.RollupQuery{Since: since, Until: until, OutcomesBy: store.Day})
	if err != nil {
		return nil, fmt.Errorf("reading the fraud rollups of %s to %s: %w", since.UTC().Format(time.RFC3339), until.UTC().Format(time.RFC3339), err)
	}
	return Cost(r, "range", s.cfg.Thresholds(), in), nil
}

// finish fills in a point's rates and money from its counts.
func finish(p CostPoint, rep *CostReport, in CostInputs) CostPoint {
	p.ReviewRate, p.CaughtShare = math.NaN(), math.NaN()
	if rep.Transactions > 0 {
		p.ReviewRate = float64(p.Reviewed) / float64(rep.Transactions)
	}
	if known := p.FraudCaught + p.FraudMissed; known > 0 {
		p.CaughtShare = float64(p.FraudCaught) / float64(known)
	}
	p.LossPrevented = float64(p.FraudCaught) * in.LossPerFraud
	p.ReviewCost = float64(p.Reviewed) * in.CostPerReview
	p.Net = p.LossPrevented - p.ReviewCost
	return p
}
