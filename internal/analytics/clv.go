package analytics

import (
	"fmt"
	"math"
	"slices"
	"sync"
	"time"
)

// CLVConfig configures [NewCLV].
type CLVConfig struct {
	// Months is the horizon of the prediction. Defaults to 12.
	Months int
	// AnnualDiscountRate discounts future revenue: revenue in month m is
	// worth 1/(1+d)^(m/12) today. Zero means no discounting (there is no
	// way to ask for a default; 0.10 is a common choice). Must be > −1.
	AnnualDiscountRate float64
	// Period is the period the models were fitted in, the unit of the
	// summaries' Recency and Age. Defaults to Week, as for CDNOW.
	Period time.Duration
}

// CLVPrediction is one customer's predicted value over the horizon.
type CLVPrediction struct {
	// ProbAlive is the BG/NBD probability the customer has not dropped out.
	ProbAlive float64
	// ExpectedPurchases is the expected number of purchases over the whole
	// horizon (undiscounted).
	ExpectedPurchases float64
	// ExpectedSpend is the Gamma-Gamma expected value of one future
	// purchase (average order value).
	ExpectedSpend float64
	// Value is the discounted expected revenue over the horizon; multiply
	// by a margin for profit.
	Value float64
}

// CLV predicts customer lifetime value from a fitted BG/NBD model (how many
// purchases) and Gamma-Gamma model (how much each is worth). Build it once
// with NewCLV and call Predict for every customer; it holds no mutable
// state, so one CLV may be shared by goroutines.
type CLV struct {
	bg BGNBD
	gg GammaGamma
	// ends[m] is the end of month m+1 in model periods; discount[m] its
	// discount factor.
	ends, discount []float64
}

// monthDays is the mean length of a month, 365.25/12 days, so that twelve
// months are one year whatever the period.
const monthDays = 365.25 / 12

// NewCLV validates the models and configuration and precomputes the month
// boundaries and discount factors.
//
// The value over M months with annual discount rate d is
//
//	CLV = Σ_{m=1..M} (E[Y(t_m)] − E[Y(t_{m−1})]) · E[M] / (1+d)^(m/12)
//
// where t_m is the end of month m in model periods (a month being 365.25/12
// days), E[Y(t)] is the BG/NBD conditional expectation of purchases in the
// next t periods (so the difference is the purchases expected within month
// m), and E[M] is the Gamma-Gamma expected spend per purchase. Revenue is
// discounted to the end of the month it falls in.
func NewCLV(bg BGNBD, gg GammaGamma, cfg CLVConfig) (*CLV, error) {
	if cfg.Months == 0 {
		cfg.Months = 12
	}
	if cfg.Period == 0 {
		cfg.Period = Week
	}
	switch {
	case cfg.Months < 0 || cfg.Months > 1200:
		return nil, fmt.Errorf("CLV: Months %d is not within 1..1200", cfg.Months)
	case cfg.Period < 0:
		return nil, fmt.Errorf("CLV: Period %v is negative", cfg.Period)
	case !(cfg.AnnualDiscountRate > -1) || math.IsInf(cfg.AnnualDiscountRate, 0):
		return nil, fmt.Errorf("CLV: AnnualDiscountRate %v is not a finite rate above −1", cfg.AnnualDiscountRate)
	}
	if err := bg.validate(); err != nil {
		return nil, fmt.Errorf("CLV: %w", err)
	}
	if !(gg.P > 0 && gg.Q > 1 && gg.Gamma > 0) || math.IsInf(gg.P+gg.Q+gg.Gamma, 0) {
		return nil, fmt.Errorf("CLV: Gamma-Gamma parameters %+v: need p > 0, q > 1, γ > 0", gg)
	}
	c := &CLV{bg: bg, gg: gg, ends: make([]float64, cfg.Months), discount: make([]float64, cfg.Months)}
	monthPeriods := monthDays * float64(Day) / float64(cfg.Period)
	for m := range cfg.Months {
		c.ends[m] = float64(m+1) * monthPeriods
		c.discount[m] = math.Pow(1+cfg.AnnualDiscountRate, -float64(m+1)/12)
	}
	return c, nil
}

// Predict returns the customer's probability alive, expected purchases,
// expected order value and discounted value over the horizon.
func (c *CLV) Predict(s Summary) CLVPrediction {
	x, T := float64(s.Frequency), s.Age
	cum, disc := c.ifAlive(x, T)
	return c.predict(s, cum, disc)
}

// ifAlive is the expected purchases over the horizon of a customer who is
// alive, undiscounted and discounted. It depends on x and T only, not t_x,
// so a population with many customers of the same x and age needs it once
// for all of them (see PredictAll).
func (c *CLV) ifAlive(x, T float64) (cum, discounted float64) {
	var prev float64
	for m, end := range c.ends {
		cur := c.bg.purchasesIfAlive(end, x, T)
		discounted += (cur - prev) * c.discount[m]
		prev = cur
	}
	return prev, discounted
}

func (c *CLV) predict(s Summary, cum, disc float64) CLVPrediction {
	x, tx, T := float64(s.Frequency), s.Recency, s.Age
	p := CLVPrediction{
		ProbAlive:     c.bg.ProbAlive(x, tx, T),
		ExpectedSpend: c.gg.ExpectedSpend(x, s.MonetaryMean),
	}
	if p.ProbAlive == 0 {
		return p
	}
	p.ExpectedPurchases = cum * p.ProbAlive
	p.Value = disc * p.ProbAlive * p.ExpectedSpend
	return p
}

// PredictAll predicts every customer, writing into dst (grown or allocated
// as needed) and returning it. The dozen hypergeometric evaluations of a
// prediction (about 2 µs) depend only on the customer's x and age T, which
// whole-day histories share widely, so each goroutine computes them once
// per distinct (x, T); the population is split into contiguous chunks over
// GOMAXPROCS goroutines. The result is the same as calling Predict in a
// loop.
func (c *CLV) PredictAll(customers []Summary, dst []CLVPrediction) []CLVPrediction {
	dst = slices.Grow(dst[:0], len(customers))[:len(customers)]
	workers := min(goroutines(), max(1, len(customers)/1000))
	chunk := (len(customers) + workers - 1) / max(workers, 1)
	type key struct{ x, T float64 }
	type val struct{ cum, disc float64 }
	var wg sync.WaitGroup
	for lo := 0; lo < len(customers); lo += chunk {
		hi := min(lo+chunk, len(customers))
		wg.Go(func() {
			cache := make(map[key]val)
			for i := lo; i < hi; i++ {
				s := customers[i]
				k := key{float64(s.Frequency), s.Age}
				v, ok := cache[k]
				if !ok {
					v.cum, v.disc = c.ifAlive(k.x, k.T)
					cache[k] = v
				}
				dst[i] = c.predict(s, v.cum, v.disc)
			}
		})
	}
	wg.Wait()
	return dst
}
