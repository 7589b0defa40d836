package analytics

import (
	"fmt"
	"math"
	"time"

	"gonum.org/v1/gonum/mat"
)

// The limits CheckBGNBD holds a fit to.
const (
	// MinHistoryWeeks is the least span of history, from the first
	// purchase to the end of the calibration period, on which a BG/NBD
	// fit is believed: the model tells a slow buyer from one who dropped
	// out only by gaps longer than the usual one, and customers' usual
	// gaps are weeks (CDNOW's mean is α/r ≈ 18 weeks, fitted on 39).
	MinHistoryWeeks = 8
	// MinRepeatCustomers is the least number of customers with a repeat
	// purchase: without them there is nothing to fit dropout or spend on.
	MinRepeatCustomers = 20
	// paramLo and paramHi bound the parameters of a fit that means
	// something: beyond them a parameter runs off to where the model
	// degenerates (r and α without bound: every customer buys at one rate;
	// a to 0: nobody ever drops out).
	paramLo, paramHi = 1e-4, 1e4
	// maxLogSE is the largest standard error of a log-parameter taken as
	// determined by the data: e² ≈ 7.4, a parameter known only within a
	// factor of seven either way sits on a flat likelihood.
	maxLogSE = 2.0
)

// FitCheck says whether a BG/NBD fit can be used for predictions, and if
// not, what is wrong and what data would help.
type FitCheck struct {
	// Degenerate is true when the fit must not be used: its CLVs would be
	// artefacts of the optimiser, not of the customers.
	Degenerate bool `json:"degenerate"`
	// Problems says what is wrong, one sentence each.
	Problems []string `json:"problems,omitempty"`
	// HistoryWeeks is the span of the history, first purchase to the end
	// of the calibration period, in weeks.
	HistoryWeeks float64 `json:"history_weeks"`
	// RepeatCustomers is the number of customers with a repeat purchase.
	RepeatCustomers int `json:"repeat_customers"`
	// LogSE are the standard errors of ln r, ln α, ln a, ln b from the
	// observed information; absent when the information is singular.
	LogSE []float64 `json:"log_standard_errors,omitempty"`
}

// CheckBGNBD checks a BG/NBD fit on the summaries it was fitted on
// (recency and age in periods of unit): enough history and repeat
// customers, parameters away from where the model degenerates, and a
// likelihood curved enough around the optimum that every parameter is
// determined. A degenerate fit is reported with what is missing, so that
// nobody reads CLVs off it.
func CheckBGNBD(fit BGNBD, customers []Summary, unit time.Duration) FitCheck {
	var c FitCheck
	weeks := float64(unit) / float64(Week)
	for _, s := range customers {
		c.HistoryWeeks = max(c.HistoryWeeks, s.Age*weeks)
		if s.Frequency > 0 {
			c.RepeatCustomers++
		}
	}
	problem := func(format string, args ...any) {
		c.Degenerate = true
		c.Problems = append(c.Problems, fmt.Sprintf(format, args...))
	}
	if c.HistoryWeeks < MinHistoryWeeks {
		problem("only %.1f weeks of history: needs at least %d weeks of repeat purchases to tell customers who stopped from slow ones", c.HistoryWeeks, MinHistoryWeeks)
	}
	if c.RepeatCustomers < MinRepeatCustomers {
		problem("%d customers with a repeat purchase: needs at least %d", c.RepeatCustomers, MinRepeatCustomers)
	}
	names := [4]string{"r", "α", "a", "b"}
	vals := [4]float64{fit.R, fit.Alpha, fit.A, fit.B}
	for i, v := range vals {
		if !(v > paramLo && v < paramHi) {
			problem("%s = %.3g is at the edge of what the fit allows (%g to %g)%s", names[i], v, paramLo, paramHi, boundMeaning(i, v))
		}
	}
	if len(customers) == 0 || c.Degenerate && c.HistoryWeeks < MinHistoryWeeks {
		return c
	}
	se, ok := logStandardErrors(fit, customers)
	if !ok {
		problem("flat likelihood: the data do not determine the four parameters together (the observed information is singular)")
		return c
	}
	c.LogSE = se
	for i, s := range se {
		if s > maxLogSE {
			problem("flat likelihood: %s is known only within a factor of %.3g either way (standard error of ln %s %.2f)", names[i], math.Exp(s), names[i], s)
		}
	}
	return c
}

// boundMeaning says what a parameter at a bound means for the customers.
func boundMeaning(i int, v float64) string {
	switch {
	case i <= 1 && v >= paramHi:
		return ": purchase rates come out the same for every customer"
	case i == 2 && v <= paramLo:
		return ": nobody ever seems to drop out"
	case i == 3 && v >= paramHi:
		return ": nobody ever seems to drop out"
	}
	return ""
}

// logStandardErrors are the standard errors of the log-parameters: the
// square roots of the diagonal of the inverse observed information, the
// negated Hessian of the log-likelihood in log-parameters, by central
// differences of the analytic gradient. ok is false when the information
// is not positive definite.
func logStandardErrors(m BGNBD, customers []Summary) ([]float64, bool) {
	d, _, err := groupBG(customers)
	if err != nil {
		return nil, false
	}
	theta := []float64{math.Log(m.R), math.Log(m.Alpha), math.Log(m.A), math.Log(m.B)}
	grad := func(th []float64) []float64 {
		p := BGNBD{math.Exp(th[0]), math.Exp(th[1]), math.Exp(th[2]), math.Exp(th[3])}
		g := make([]float64, 4)
		bgLogLikelihood(p, d, g)
		return []float64{g[0] * p.R, g[1] * p.Alpha, g[2] * p.A, g[3] * p.B}
	}
	const h = 1e-4
	info := mat.NewSymDense(4, nil)
	rows := make([][]float64, 4)
	for j := range 4 {
		up, down := append([]float64(nil), theta...), append([]float64(nil), theta...)
		up[j] += h
		down[j] -= h
		gu, gd := grad(up), grad(down)
		rows[j] = make([]float64, 4)
		for i := range 4 {
			rows[j][i] = -(gu[i] - gd[i]) / (2 * h)
		}
	}
	for i := range 4 {
		for j := i; j < 4; j++ {
			v := (rows[i][j] + rows[j][i]) / 2
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, false
			}
			info.SetSym(i, j, v)
		}
	}
	var chol mat.Cholesky
	if !chol.Factorize(info) {
		return nil, false
	}
	var cov mat.SymDense
	if err := chol.InverseTo(&cov); err != nil {
		return nil, false
	}
	se := make([]float64, 4)
	for i := range se {
		v := cov.At(i, i)
		if !(v > 0) {
			return nil, false
		}
		se[i] = math.Sqrt(v)
	}
	return se, true
}
