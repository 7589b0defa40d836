package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/shopstream/shopstream/internal/analyticsview"
	"github.com/shopstream/shopstream/internal/store"
)

// clvEdges are the CLV buckets' edges: 1, 2, 5, 10, ... 1,000,000 in the
// currency's units. Predicted CLV is skewed (most customers near zero, a
// few far out), so equal-width buckets would put nearly everyone in one.
var clvEdges = func() []float64 {
	var out []float64
	for p := 1.0; p <= 1e6; p *= 10 {
		out = append(out, p)
		if p < 1e6 {
			out = append(out, 2*p, 5*p)
		}
	}
	return out
}()

// CLVDistribution is the body of GET /api/v1/clv/distribution.
type CLVDistribution struct {
	// Customers with a prediction; Unscored without (scored before any
	// CLV model could be fitted).
	Customers int64    `json:"customers"`
	Unscored  int64    `json:"unscored"`
	MeanCLV   *float64 `json:"mean_clv"`
	// CLV buckets from the lowest to the highest non-empty one; the last
	// bucket's To is null when it is open-ended.
	CLV []Bucket `json:"clv"`
	// PAlive buckets are the ten tenths of [0, 1].
	PAlive []Bucket `json:"p_alive"`
	// Model is the CLV model in force with its fit diagnostics, null
	// before the first fit.
	Model *analyticsview.CLVModel `json:"model"`
}

// Bucket is one bar of a histogram: [From, To).
type Bucket struct {
	From      float64  `json:"from"`
	To        *float64 `json:"to"`
	Customers int64    `json:"customers"`
}

func (h *analyticsAPI) clvDistribution(w http.ResponseWriter, r *http.Request) {
	dr, ok := h.a.(store.CLVDistributionReader)
	if !ok {
		WriteError(w, fmt.Errorf("%w: this store cannot count CLV predictions", ErrNotFound))
		return
	}
	h.cachedJSON(w, r, "clv-distribution", func(ctx context.Context) (any, error) {
		d, err := dr.CLVDistribution(ctx, clvEdges)
		if err != nil {
			return nil, err
		}
		out := &CLVDistribution{Customers: d.Customers, Unscored: d.Unscored, CLV: []Bucket{}, PAlive: make([]Bucket, 10)}
		if d.Customers > 0 {
			m := d.SumCLV / float64(d.Customers)
			out.MeanCLV = &m
		}
		counts := make([]int64, len(clvEdges)+1)
		for _, c := range d.Cells {
			counts[c.CLVBucket] += c.N
			out.PAlive[c.AliveBucket].Customers += c.N
		}
		for i := range out.PAlive {
			to := float64(i+1) / 10
			out.PAlive[i].From, out.PAlive[i].To = float64(i)/10, &to
		}
		lo, hi := -1, -1
		for i, n := range counts {
			if n > 0 {
				if lo < 0 {
					lo = i
				}
				hi = i
			}
		}
		for i := lo; lo >= 0 && i <= hi; i++ {
			b := Bucket{Customers: counts[i]}
			if i > 0 {
				b.From = clvEdges[i-1]
			}
			if i < len(clvEdges) {
				to := clvEdges[i]
				b.To = &to
			}
			out.CLV = append(out.CLV, b)
		}
		m, err := analyticsview.ReadCLVModel(ctx, h.a)
		switch {
		case errors.Is(err, store.ErrNoModel):
		case err != nil:
			return nil, err
		default:
			out.Model = m
		}
		return out, nil
	})
}
