package analytics

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/optimize"
)

// maximize finds the parameters that maximise a log-likelihood by
// minimising the negative mean log-likelihood over log-parameters with
// BFGS. Working in log space keeps every parameter positive without
// constraints; dividing by the number of customers keeps the gradient
// threshold meaningful whatever the data size. fg returns the mean
// log-likelihood at the (positive) parameters and writes its gradient with
// respect to them into grad.
func maximize(init []float64, fg func(params, grad []float64) float64) ([]float64, error) {
	n := len(init)
	params := make([]float64, n)
	grad := make([]float64, n)
	eval := func(theta []float64, g []float64) float64 {
		for i, t := range theta {
			// Outside this box a parameter is degenerate (a rate of e^40);
			// report it as infeasible so that the line search backs off.
			if !(t > -40 && t < 40) {
				for j := range g {
					g[j] = 0
				}
				return math.Inf(1)
			}
			params[i] = math.Exp(t)
		}
		ll := fg(params, grad)
		for i := range g {
			g[i] = -grad[i] * params[i] // chain rule: d/dlog p = p d/dp
		}
		if math.IsNaN(ll) {
			return math.Inf(1)
		}
		return -ll
	}
	// gonum asks for the value and then the gradient at the same point;
	// one pass over the data computes both, so the gradient of the last
	// point is kept for the Grad call that follows.
	lastTheta, lastGrad := make([]float64, n), make([]float64, n)
	haveLast := false
	p := optimize.Problem{
		Func: func(theta []float64) float64 {
			f := eval(theta, lastGrad)
			copy(lastTheta, theta)
			haveLast = true
			return f
		},
		Grad: func(g, theta []float64) {
			if haveLast && slices.Equal(theta, lastTheta) {
				copy(g, lastGrad)
				return
			}
			eval(theta, g)
		},
	}
	theta0 := make([]float64, n)
	for i, v := range init {
		theta0[i] = math.Log(v)
	}
	settings := &optimize.Settings{
		GradientThreshold: 1e-9,
		Converger:         &optimize.FunctionConverge{Absolute: 1e-13, Relative: 1e-13, Iterations: 20},
		MajorIterations:   1000,
	}
	res, err := optimize.Minimize(p, theta0, settings, &optimize.BFGS{})
	if res == nil {
		return nil, fmt.Errorf("maximizing likelihood: %w", err)
	}
	// A line search that can no longer make progress at the optimum is
	// reported as an error by gonum; the gradient says whether it matters.
	if err != nil || math.IsInf(res.F, 0) || math.IsNaN(res.F) {
		g := make([]float64, n)
		eval(res.X, g)
		worst := 0.0
		for _, v := range g {
			worst = max(worst, math.Abs(v))
		}
		if !(worst < 1e-5) {
			if err == nil {
				err = errors.New("no finite optimum")
			}
			return nil, fmt.Errorf("maximizing likelihood: stopped with gradient %.3g after %d iterations: %w", worst, res.Stats.MajorIterations, err)
		}
	}
	out := make([]float64, n)
	for i, t := range res.X {
		out[i] = math.Exp(t)
	}
	return out, nil
}
