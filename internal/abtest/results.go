package abtest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/shopstream/shopstream/internal/event"
	"github.com/shopstream/shopstream/internal/experiment"
	"github.com/shopstream/shopstream/internal/store"
)

// Alpha is the significance of every test: 95% intervals.
const Alpha = 0.05

// SequentialTuning is the sample size (both variants) at which the
// sequential interval is tightest; GrowthBook's default.
const SequentialTuning = 5000

// Results is an experiment's state as the store holds it.
type Results struct {
	Experiment Definition `json:"experiment"`
	// Status is "scheduled", "running" or "stopped".
	Status   string          `json:"status"`
	Variants []VariantResult `json:"variants"`
	// Comparisons hold each variant after the first against the first.
	Comparisons []Comparison `json:"comparisons"`
	SampleRatio SampleRatio  `json:"sample_ratio"`
	ComputedAt  time.Time    `json:"computed_at"`
}

// VariantResult is one variant's counts.
type VariantResult struct {
	Name        string  `json:"name"`
	Recommender string  `json:"recommender"`
	Weight      float64 `json:"weight"`
	// Exposures are the customers exposed (once each).
	Exposures int64 `json:"exposures"`
	// Conversions are the exposed customers who bought a product they
	// were shown within the window after their first exposure.
	Conversions    int64   `json:"conversions"`
	ConversionRate float64 `json:"conversion_rate"`
	// Revenue is the total of the exposed customers' transactions within
	// their windows, in major units of their one currency (minor units /
	// 100 with several: event.MinorPerMajor); RevenuePerExposed divides it
	// by Exposures.
	Revenue           float64 `json:"revenue"`
	RevenuePerExposed float64 `json:"revenue_per_exposed"`

	revenueSquares float64 // sum over customers of their revenue squared
}

// Comparison is a variant against control on both metrics.
type Comparison struct {
	Variant    string `json:"variant"`
	Conversion Tests  `json:"conversion"`
	Revenue    Tests  `json:"revenue"`
	// Significant is the decision on the experiment's metric: the
	// sequential interval of the relative lift excludes 0, which stays
	// valid however often the results are looked at.
	Significant bool `json:"significant"`
}

// Tests are the tests of one metric; a test lacking data (too few
// exposures, a control of zero) is absent, and Note says why.
type Tests struct {
	// Absolute and Relative are fixed-horizon Welch tests (the relative
	// one by the delta method), valid when looked at once.
	Absolute *Interval `json:"absolute,omitempty"`
	Relative *Interval `json:"relative,omitempty"`
	// Sequential is the relative lift's confidence sequence.
	Sequential *Interval `json:"sequential,omitempty"`
	// Z is the pooled two-proportion z test (conversion only).
	Z    *ZTest `json:"z_test,omitempty"`
	Note string `json:"note,omitempty"`
}

// Interval is a lift with its 95% interval.
type Interval struct {
	Lift   float64 `json:"lift"`
	StdErr float64 `json:"std_err"`
	Low    float64 `json:"low"`
	High   float64 `json:"high"`
	// PValue is absent for the sequential test, whose interval is the
	// decision rule.
	PValue *float64 `json:"p_value,omitempty"`
}

// ZTest is the two-proportion z test.
type ZTest struct {
	Z      float64 `json:"z"`
	PValue float64 `json:"p_value"`
}

// SampleRatio is the chi-square check of the exposures' split against the
// weights.
type SampleRatio struct {
	ChiSquare float64 `json:"chi_square"`
	PValue    float64 `json:"p_value"`
	// Mismatch is set when PValue < experiment.SRMThreshold (0.001): the
	// split is not chance, and the results are not to be trusted.
	Mismatch bool `json:"mismatch"`
}

// Results computes the results of experiment name from the store: every
// exposure, and the transactions of the exposed customers within their
// windows. It reads the experiments again if name is not known here yet
// (created through another instance).
func (s *Service) Results(ctx context.Context, name string) (*Results, error) {
	d, ok := s.Get(name)
	if !ok {
		if err := s.Load(ctx); err != nil {
			return nil, err
		}
		if d, ok = s.Get(name); !ok {
			return nil, fmt.Errorf("experiment %q: %w", name, ErrUnknown)
		}
	}
	now := s.cfg.Now()
	type unit struct {
		variant   int
		shown     map[string]struct{}
		converted bool
		cents     int64
	}
	units := map[string]*unit{}
	err := s.cfg.Store.Exposures(ctx, name, func(x *store.Exposure) error {
		if x.Variant < 0 || x.Variant >= len(d.Variants) {
			return fmt.Errorf("exposure of customer %q to experiment %q names variant %d of %d", x.CustomerID, name, x.Variant, len(d.Variants))
		}
		u := &unit{variant: x.Variant, shown: make(map[string]struct{}, len(x.Items))}
		for _, it := range x.Items {
			u.shown[it] = struct{}{}
		}
		units[x.CustomerID] = u
		return nil
	})
	if err != nil {
		return nil, err
	}
	currencies := map[string]int64{}
	err = s.cfg.Store.ExposedPurchases(ctx, name, func(p *store.ExposedPurchase) error {
		u := units[p.CustomerID]
		if u == nil {
			return nil // exposed after the exposures were read
		}
		u.cents += p.TotalCents
		currencies[p.Currency] += p.TotalCents
		for _, pr := range p.Products {
			if _, ok := u.shown[pr]; ok {
				u.converted = true
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	res := &Results{Experiment: d, Status: d.Status(now), ComputedAt: now.UTC(), Variants: make([]VariantResult, len(d.Variants))}
	for i, v := range d.Variants {
		res.Variants[i] = VariantResult{Name: v.Name, Recommender: v.Recommender, Weight: v.Weight}
	}
	// Revenue in major units of the purchases' one currency (¥1,000 is
	// 1000, not 10), as the customer analytics show the shop's.
	minorPer := event.MinorPerMajor(currencies)
	for _, u := range units {
		v := &res.Variants[u.variant]
		v.Exposures++
		if u.converted {
			v.Conversions++
		}
		r := float64(u.cents) / minorPer
		v.Revenue += r
		v.revenueSquares += r * r
	}
	observed := make([]int64, len(d.Variants))
	for i := range res.Variants {
		v := &res.Variants[i]
		observed[i] = v.Exposures
		if v.Exposures > 0 {
			v.ConversionRate = float64(v.Conversions) / float64(v.Exposures)
			v.RevenuePerExposed = v.Revenue / float64(v.Exposures)
		}
	}
	if chi2, p, err := experiment.SampleRatio(observed, d.Weights()); err == nil {
		res.SampleRatio = SampleRatio{ChiSquare: chi2, PValue: p, Mismatch: p < experiment.SRMThreshold}
	}
	for i := 1; i < len(res.Variants); i++ {
		res.Comparisons = append(res.Comparisons, compare(&d, &res.Variants[0], &res.Variants[i]))
	}
	return res, nil
}

// compare tests variant b against control a.
func compare(d *Definition, a, b *VariantResult) Comparison {
	c := Comparison{Variant: b.Name}
	ca, cb := experiment.Conversions(a.Conversions, a.Exposures), experiment.Conversions(b.Conversions, b.Exposures)
	c.Conversion = tests(ca, cb)
	if z, p, err := experiment.TwoProportionZ(a.Conversions, a.Exposures, b.Conversions, b.Exposures); err == nil {
		c.Conversion.Z = &ZTest{Z: z, PValue: p}
	}
	ra := experiment.Sample{N: a.Exposures, Sum: a.Revenue, SumSquares: a.revenueSquares}
	rb := experiment.Sample{N: b.Exposures, Sum: b.Revenue, SumSquares: b.revenueSquares}
	c.Revenue = tests(ra, rb)
	t := c.Conversion
	if d.Metric == MetricRevenue {
		t = c.Revenue
	}
	c.Significant = t.Sequential != nil && (t.Sequential.Low > 0 || t.Sequential.High < 0)
	return c
}

func tests(a, b experiment.Sample) Tests {
	var t Tests
	var errs []error
	if r, err := experiment.FixedHorizon(a, b, false, Alpha); err == nil {
		t.Absolute = interval(r, true)
	} else {
		errs = append(errs, err)
	}
	if r, err := experiment.FixedHorizon(a, b, true, Alpha); err == nil {
		t.Relative = interval(r, true)
	} else {
		errs = append(errs, err)
	}
	if r, err := experiment.Sequential(a, b, true, Alpha, SequentialTuning); err == nil {
		t.Sequential = interval(r, false)
	} else {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		t.Note = errors.Join(errs...).Error()
		if errors.Is(errs[0], experiment.ErrTooSmall) {
			t.Note = "too little data yet: fewer than 2 exposures in a variant, no conversions in control, or no variance"
		}
	}
	return t
}

func interval(r experiment.Result, withP bool) *Interval {
	iv := &Interval{Lift: r.Lift, StdErr: r.StdErr, Low: r.Low, High: r.High}
	if withP {
		p := r.PValue
		iv.PValue = &p
	}
	return iv
}
