package analytics

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mathext"
)

// GammaGamma holds the parameters of the Gamma-Gamma model of monetary
// value (Fader and Hardie 2013): each purchase's value is Gamma(P, ν) around
// a customer's mean, and the customers' ν are Gamma(Q, Gamma) across the
// population, so a customer's mean spend is P/ν with population mean
// P·Gamma/(Q−1). It assumes spend is independent of purchase frequency;
// check that on the data before trusting it.
type GammaGamma struct {
	P, Q, Gamma float64
}

// GammaGammaFit is the result of [FitGammaGamma].
type GammaGammaFit struct {
	GammaGamma
	// LogLikelihood is the log-likelihood at the fitted parameters,
	// without the terms that depend only on the data.
	LogLikelihood float64
	// Customers is how many repeat customers (x > 0) were fitted.
	Customers int
	// FreeRepeatCustomers is how many repeat customers were left out
	// because their repeat purchases were all worth 0 (free items).
	FreeRepeatCustomers int
}

// ggLogLikelihood is the log-likelihood of the repeat customers' mean
// spends (x, z̄) and its gradient with respect to (p, q, γ):
//
//	ln L = lnΓ(px+q) − lnΓ(px) − lnΓ(q) + q ln γ + (px−1) ln z̄ + px ln x − (px+q) ln(γ + x z̄)
func ggLogLikelihood(m GammaGamma, xs, zs []float64, grad []float64) float64 {
	p, q, g := m.P, m.Q, m.Gamma
	lgQ, _ := math.Lgamma(q)
	lnG := math.Log(g)
	var psiQ float64
	if grad != nil {
		psiQ = mathext.Digamma(q)
	}
	var ll, gp, gq, gg float64
	for i, x := range xs {
		z := zs[i]
		px := p * x
		lgPXQ, _ := math.Lgamma(px + q)
		lgPX, _ := math.Lgamma(px)
		lnZ, lnX, lnD := math.Log(z), math.Log(x), math.Log(g+x*z)
		ll += lgPXQ - lgPX - lgQ + q*lnG + (px-1)*lnZ + px*lnX - (px+q)*lnD
		if grad == nil {
			continue
		}
		psiPXQ := mathext.Digamma(px + q)
		gp += x * (psiPXQ - mathext.Digamma(px) + lnZ + lnX - lnD)
		gq += psiPXQ - psiQ + lnG - lnD
		gg += q/g - (px+q)/(g+x*z)
	}
	if grad != nil {
		grad[0], grad[1], grad[2] = gp, gq, gg
	}
	return ll
}

// FitGammaGamma estimates the Gamma-Gamma parameters by maximum likelihood
// on the customers with at least one repeat purchase, the only ones whose
// MonetaryMean says anything (the first purchase is excluded by design);
// the others are skipped. Repeat customers whose repeat purchases were all
// free (a mean of exactly 0) are left out too and counted in
// FreeRepeatCustomers: the model describes positive spends only, and
// lifetimes users filter them the same way (monetary_value > 0). A repeat
// customer with a negative or non-finite mean spend is an error naming the
// customer, since the model is undefined there.
func FitGammaGamma(customers []Summary) (GammaGammaFit, error) {
	var xs, zs []float64
	free := 0
	for i, s := range customers {
		if s.Frequency <= 0 {
			continue
		}
		if s.MonetaryMean == 0 {
			free++
			continue
		}
		if !(s.MonetaryMean > 0) || math.IsInf(s.MonetaryMean, 0) {
			return GammaGammaFit{}, fmt.Errorf("fitting Gamma-Gamma: customer %d (%q) has %d repeat purchases with mean value %v; the model needs a positive mean", i, s.CustomerID, s.Frequency, s.MonetaryMean)
		}
		xs = append(xs, float64(s.Frequency))
		zs = append(zs, s.MonetaryMean)
	}
	if len(xs) == 0 && free > 0 {
		return GammaGammaFit{}, fmt.Errorf("fitting Gamma-Gamma: no customer has a repeat purchase of positive value (%d repeat customers whose repeat purchases were all free)", free)
	}
	if len(xs) == 0 {
		return GammaGammaFit{}, errors.New("fitting Gamma-Gamma: no customer has a repeat purchase")
	}
	n := float64(len(xs))
	var meanZ float64
	for _, z := range zs {
		meanZ += z
	}
	meanZ /= n
	fg := func(p, grad []float64) float64 {
		ll := ggLogLikelihood(GammaGamma{p[0], p[1], p[2]}, xs, zs, grad)
		for i := range grad {
			grad[i] /= n
		}
		return ll / n
	}
	// Start where the population mean spend p·γ/(q−1) matches the data.
	p, err := maximize([]float64{1, 2, meanZ}, fg)
	if err != nil {
		return GammaGammaFit{}, fmt.Errorf("fitting Gamma-Gamma on %d repeat customers: %w", len(xs), err)
	}
	m := GammaGamma{p[0], p[1], p[2]}
	return GammaGammaFit{GammaGamma: m, LogLikelihood: ggLogLikelihood(m, xs, zs, nil), Customers: len(xs), FreeRepeatCustomers: free}, nil
}

// ExpectedSpend is the expected value of a customer's future purchases
// given x repeat purchases with mean value zbar (Fader and Hardie 2013,
// eq. 5): a weighted mean of the population mean p·γ/(q−1) and the
// customer's own mean, weighing the customer more the more they bought:
//
//	E[M | x, z̄] = (p·γ + p·x·z̄) / (p·x + q − 1)
//
// A customer without repeat purchases gets the population mean. Undefined
// (+Inf or negative) when q ≤ 1, where the population mean does not exist.
func (m GammaGamma) ExpectedSpend(x, zbar float64) float64 {
	if x <= 0 {
		return m.PopulationMean()
	}
	return (m.P*m.Gamma + m.P*x*zbar) / (m.P*x + m.Q - 1)
}

// PopulationMean is the mean spend per purchase across customers,
// p·γ/(q−1).
func (m GammaGamma) PopulationMean() float64 { return m.P * m.Gamma / (m.Q - 1) }
