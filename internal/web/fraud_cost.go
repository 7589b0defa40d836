package web

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/shopstream/shopstream/internal/fraudmetrics"
)

// FraudCost is the body of GET /api/v1/fraud/cost: the fraud stopped
// against the review workload, at the thresholds in force and at the
// review threshold that meets a target review rate.
type FraudCost struct {
	Window string     `json:"window"`
	AsOf   *time.Time `json:"as_of"`
	// Transactions are every scored transaction of the window;
	// KnownFraud those labelled fraud so far.
	Transactions     int64       `json:"transactions"`
	KnownFraud       int64       `json:"known_fraud"`
	TargetReviewRate float64     `json:"target_review_rate"`
	LossPerFraud     *float64    `json:"loss_per_fraud"`
	CostPerReview    *float64    `json:"cost_per_review"`
	Current          CostPoint   `json:"current"`
	Target           CostPoint   `json:"target"`
	Curve            []CostPoint `json:"curve"`
}

// CostPoint is the outcome of one pair of thresholds.
type CostPoint struct {
	ReviewAt      float64  `json:"review_at"`
	DeclineAt     float64  `json:"decline_at"`
	Reviewed      int64    `json:"reviewed"`
	Declined      int64    `json:"declined"`
	ReviewRate    *float64 `json:"review_rate"`
	FraudCaught   int64    `json:"fraud_caught"`
	FraudMissed   int64    `json:"fraud_missed"`
	CaughtShare   *float64 `json:"caught_share"`
	LossPrevented *float64 `json:"loss_prevented"`
	ReviewCost    *float64 `json:"review_cost"`
	Net           *float64 `json:"net"`
}

func costPointJSON(p fraudmetrics.CostPoint) CostPoint {
	return CostPoint{ReviewAt: p.ReviewAt, DeclineAt: p.DeclineAt, Reviewed: p.Reviewed, Declined: p.Declined,
		ReviewRate: num(p.ReviewRate), FraudCaught: p.FraudCaught, FraudMissed: p.FraudMissed, CaughtShare: num(p.CaughtShare),
		LossPrevented: num(p.LossPrevented), ReviewCost: num(p.ReviewCost), Net: num(p.Net)}
}

// queryNumber reads an optional number in [lo, hi] from the query: NaN
// when absent.
func queryNumber(r *http.Request, name string, lo, hi float64) (float64, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return math.NaN(), nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || !(v >= lo && v <= hi) {
		return 0, fmt.Errorf("%w: %s %q, want a number from %v to %v", ErrBadRequest, name, s, lo, hi)
	}
	return v, nil
}

func (h *fraudAPI) cost(w http.ResponseWriter, r *http.Request) {
	var in fraudmetrics.CostInputs
	var err error
	if in.TargetReviewRate, err = queryNumber(r, "target_review_rate", 1e-6, 1); err != nil {
		WriteError(w, err)
		return
	}
	if math.IsNaN(in.TargetReviewRate) {
		in.TargetReviewRate = fraudmetrics.DefaultTargetReviewRate
	}
	if in.LossPerFraud, err = queryNumber(r, "loss_per_fraud", 0, 1e12); err != nil {
		WriteError(w, err)
		return
	}
	if in.CostPerReview, err = queryNumber(r, "cost_per_review", 0, 1e12); err != nil {
		WriteError(w, err)
		return
	}
	since, until, err := timeRange(r.URL.Query())
	if err != nil {
		WriteError(w, err)
		return
	}
	name := r.URL.Query().Get("window")
	var rep *fraudmetrics.CostReport
	switch {
	case (!since.IsZero() || !until.IsZero()) && name != "":
		WriteError(w, fmt.Errorf("%w: window and since/until exclude each other", ErrBadRequest))
		return
	case !since.IsZero() || !until.IsZero():
		rep, err = h.measure.CostRange(r.Context(), since, until, in)
	default:
		if name == "" {
			name = "24h"
		}
		rep, err = h.measure.Cost(r.Context(), name, in)
	}
	if errors.Is(err, fraudmetrics.ErrUnknownWindow) {
		WriteError(w, fmt.Errorf("%w: window %q, want %s", ErrBadRequest, name, fraudmetrics.WindowNames))
		return
	}
	if err != nil {
		WriteError(w, err)
		return
	}
	out := FraudCost{Window: rep.Window, Transactions: rep.Transactions, KnownFraud: rep.KnownFraud,
		TargetReviewRate: rep.Inputs.TargetReviewRate, LossPerFraud: num(in.LossPerFraud), CostPerReview: num(in.CostPerReview),
		Current: costPointJSON(rep.Current), Target: costPointJSON(rep.Target), Curve: make([]CostPoint, len(rep.Curve))}
	if !rep.AsOf.IsZero() {
		asOf := rep.AsOf
		out.AsOf = &asOf
	}
	for i, p := range rep.Curve {
		out.Curve[i] = costPointJSON(p)
	}
	WriteJSON(w, http.StatusOK, out)
}
