package experiment

import (
	"errors"
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// Sample summarises one variant's metric over its exposed units.
type Sample struct {
	// N is the number of exposed units.
	N int64
	// Sum is the metric summed over units: conversions, or revenue.
	Sum float64
	// SumSquares is the sum of the squared per-unit values (equal to Sum for
	// a 0/1 conversion metric).
	SumSquares float64
	// Proportion marks a 0/1 metric, whose variance is p(1-p).
	Proportion bool
}

// Conversions is the sample of a conversion metric: k of n units converted.
func Conversions(k, n int64) Sample {
	return Sample{N: n, Sum: float64(k), SumSquares: float64(k), Proportion: true}
}

// Mean is the metric per unit.
func (s Sample) Mean() float64 {
	if s.N == 0 {
		return 0
	}
	return s.Sum / float64(s.N)
}

// Variance is the per-unit variance: p(1-p) for a proportion, the unbiased
// sample variance otherwise.
func (s Sample) Variance() float64 {
	m := s.Mean()
	if s.Proportion {
		return m * (1 - m)
	}
	if s.N < 2 {
		return 0
	}
	n := float64(s.N)
	return max(0, (s.SumSquares-s.Sum*s.Sum/n)/(n-1))
}

// ErrTooSmall reports samples a test cannot be computed on: fewer than two
// units in a variant, a control mean of zero (no relative lift), or no
// variance at all.
var ErrTooSmall = errors.New("experiment: too little data for the test")

// Result compares a treatment with control.
type Result struct {
	// Lift is the point estimate: (treatment - control) / control for a
	// relative lift, treatment - control for an absolute one.
	Lift float64
	// StdErr is the standard error of Lift.
	StdErr float64
	// Low and High bound the interval at the requested confidence.
	Low, High float64
	// PValue is the two-sided p-value of "no difference" (fixed-horizon
	// tests only; NaN for the sequential test, whose interval is the
	// decision rule).
	PValue float64
	// DoF is the Welch-Satterthwaite degrees of freedom (fixed horizon).
	DoF float64
}

// Significant reports whether the interval excludes no difference.
func (r Result) Significant() bool { return r.Low > 0 || r.High < 0 }

func check(a, b Sample, relative bool) error {
	if a.N < 2 || b.N < 2 {
		return ErrTooSmall
	}
	if relative && a.Mean() == 0 {
		return ErrTooSmall
	}
	if a.Variance() == 0 && b.Variance() == 0 {
		return ErrTooSmall
	}
	return nil
}

// liftVariance is the variance of the lift estimate: for a relative lift by
// the delta method, var_b/(m_a² n_b) + var_a m_b²/(m_a⁴ n_a).
func liftVariance(a, b Sample, relative bool) float64 {
	ma, mb := a.Mean(), b.Mean()
	va, vb := a.Variance(), b.Variance()
	na, nb := float64(a.N), float64(b.N)
	if relative {
		return vb/(ma*ma*nb) + va*mb*mb/(ma*ma*ma*ma*na)
	}
	return vb/nb + va/na
}

func lift(a, b Sample, relative bool) float64 {
	if relative {
		return (b.Mean() - a.Mean()) / a.Mean()
	}
	return b.Mean() - a.Mean()
}

// FixedHorizon is the two-sided Welch t test of the lift of b (treatment)
// over a (control) at significance alpha (0.05 for a 95% interval). Valid
// when looked at once, at a sample size fixed in advance.
func FixedHorizon(a, b Sample, relative bool, alpha float64) (Result, error) {
	if err := check(a, b, relative); err != nil {
		return Result{}, err
	}
	va, vb := a.Variance(), b.Variance()
	na, nb := float64(a.N), float64(b.N)
	dof := math.Pow(vb/nb+va/na, 2) / (vb*vb/(nb*nb*(nb-1)) + va*va/(na*na*(na-1)))
	se := math.Sqrt(liftVariance(a, b, relative))
	est := lift(a, b, relative)
	t := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: dof}
	w := t.Quantile(1-alpha/2) * se
	return Result{
		Lift: est, StdErr: se, Low: est - w, High: est + w,
		PValue: 2 * (1 - t.CDF(math.Abs(est/se))), DoF: dof,
	}, nil
}

// Sequential is the two-sided test of the lift by an asymptotic confidence
// sequence (Waudby-Smith et al., "Time-uniform central limit theory and
// asymptotic confidence sequences", 2023, eq. 161 of the preprint; as in
// GrowthBook): the interval holds at confidence 1-alpha simultaneously for
// every sample size, so results may be watched continuously without
// inflating false positives. tuning is the sample size (both variants) at
// which the interval is tightest, e.g. 5000.
func Sequential(a, b Sample, relative bool, alpha, tuning float64) (Result, error) {
	if err := check(a, b, relative); err != nil {
		return Result{}, err
	}
	if tuning <= 0 {
		return Result{}, errors.New("experiment: the sequential tuning parameter must be positive")
	}
	v := liftVariance(a, b, relative)
	n := float64(a.N + b.N)
	s2 := v * n
	rho := math.Sqrt((-2*math.Log(alpha) + math.Log(-2*math.Log(alpha)+1)) / tuning)
	nr2 := n * rho * rho
	half := math.Sqrt(s2) * math.Sqrt(2*(nr2+1)*math.Log(math.Sqrt(nr2+1)/alpha)/(n*n*rho*rho))
	est := lift(a, b, relative)
	return Result{Lift: est, StdErr: math.Sqrt(v), Low: est - half, High: est + half, PValue: math.NaN()}, nil
}

// TwoProportionZ is the classic pooled two-proportion z test of k1/n1
// (control) against k2/n2 (treatment): the z statistic and its two-sided
// p-value.
func TwoProportionZ(k1, n1, k2, n2 int64) (z, p float64, err error) {
	if n1 < 1 || n2 < 1 {
		return 0, 0, ErrTooSmall
	}
	p1, p2 := float64(k1)/float64(n1), float64(k2)/float64(n2)
	pool := float64(k1+k2) / float64(n1+n2)
	se := math.Sqrt(pool * (1 - pool) * (1/float64(n1) + 1/float64(n2)))
	if se == 0 {
		return 0, 0, ErrTooSmall
	}
	z = (p2 - p1) / se
	return z, 2 * distuv.UnitNormal.Survival(math.Abs(z)), nil
}

// SRMThreshold is the p-value below which a sample-ratio mismatch is
// flagged: the split of units between variants is then too far from the
// configured weights to be chance, and the experiment's results are not to
// be trusted.
const SRMThreshold = 0.001

// SampleRatio is the chi-square goodness-of-fit test of the units observed
// per variant against the configured weights (normalised to sum 1): the
// statistic and its p-value. A p-value under SRMThreshold is a mismatch.
func SampleRatio(observed []int64, weights []float64) (chi2, p float64, err error) {
	if len(observed) < 2 || len(observed) != len(weights) {
		return 0, 0, errors.New("experiment: sample ratio needs one weight per variant and two variants or more")
	}
	var total int64
	var wsum float64
	for i, o := range observed {
		if weights[i] <= 0 {
			return 0, 0, errors.New("experiment: sample ratio weights must be positive")
		}
		total += o
		wsum += weights[i]
	}
	if total == 0 {
		return 0, 1, nil
	}
	for i, o := range observed {
		e := float64(total) * weights[i] / wsum
		d := float64(o) - e
		chi2 += d * d / e
	}
	return chi2, distuv.ChiSquared{K: float64(len(observed) - 1)}.Survival(chi2), nil
}
