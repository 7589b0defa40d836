package analytics

import (
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestHoldoutCDNOW runs the calibration/holdout check on CDNOW as Fader,
// Hardie and Lee (2005) did: 39 weeks of calibration to 1997-09-30, 39 of
// holdout to 1998-06-30. The calibration fit is the published one; the
// groups are the calibration frequencies of the published summary file;
// the model's holdout total is within 15% of what the customers bought.
func TestHoldoutCDNOW(t *testing.T) {
	t.Parallel()
	ps := readCDNOWPurchases(t)
	cal := time.Date(1997, 9, 30, 0, 0, 0, 0, time.UTC)
	hold := time.Date(1998, 6, 30, 0, 0, 0, 0, time.UTC)
	h, err := ValidateBGNBD(ps, cal, hold, Week, 8)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range h.Groups {
		t.Logf("x=%d or more=%v customers=%d actual %.3f predicted %.3f", g.Frequency, g.OrMore, g.Customers, g.Actual, g.Predicted)
	}
	t.Logf("holdout t*=%.2f weeks; %d customers bought on %.0f days, predicted %.1f", h.HoldoutPeriods, h.Customers, h.ActualTotal, h.PredictedTotal)
	for _, c := range []struct {
		name      string
		got, want float64
	}{{"r", h.Fit.R, 0.243}, {"alpha", h.Fit.Alpha, 4.414}, {"a", h.Fit.A, 0.793}, {"b", h.Fit.B, 2.426}} {
		if math.Abs(c.got-c.want) > 0.0006 {
			t.Errorf("calibration %s = %.4f, published %.3f", c.name, c.got, c.want)
		}
	}
	if h.HoldoutPeriods != 39 || h.Customers != 2357 {
		t.Errorf("holdout of %.2f weeks over %d customers, want 39 weeks and CDNOW's 2,357", h.HoldoutPeriods, h.Customers)
	}
	// Group sizes from the published summary file, counted independently.
	want := make([]int, 8)
	for _, s := range readCDNOW(t, "cdnow_customers_summary.csv") {
		want[min(s.Frequency, 7)]++
	}
	for i, g := range h.Groups {
		if g.Customers != want[i] {
			t.Errorf("group x=%d has %d customers, the summary file %d", i, g.Customers, want[i])
		}
		if !(g.Predicted > 0) || (i > 0 && g.Predicted <= h.Groups[i-1].Predicted) {
			t.Errorf("group x=%d predicted %.3f; want positive and rising with x", i, g.Predicted)
		}
	}
	if h.Check.Degenerate {
		t.Errorf("CDNOW's fit reported degenerate: %v", h.Check.Problems)
	}
	if rel := math.Abs(h.PredictedTotal-h.ActualTotal) / h.ActualTotal; rel > 0.15 {
		t.Errorf("holdout: predicted %.0f purchase days, actual %.0f (%.0f%% off); want within 15%%", h.PredictedTotal, h.ActualTotal, 100*rel)
	}
}

// TestHoldoutSimulated: on customers drawn from the model itself, with the
// holdout drawn from the same processes, prediction and outcome agree per
// group.
func TestHoldoutSimulated(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(11, 2))
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	cal := start.AddDate(0, 0, 7*52)
	hold := cal.AddDate(0, 0, 7*26)
	var ps []Purchase
	for i := range 20_000 {
		id := "c" + strconv.Itoa(i)
		first := rng.Float64() * 40 // weeks after start
		lambda := gammaDraw(rng, 0.6) / 4
		p := betaDraw(rng, 0.9, 3)
		week := func(w float64) time.Time { return start.Add(time.Duration(w * float64(Week))) }
		ps = append(ps, Purchase{CustomerID: id, Time: week(first), Amount: 10})
		for now := first; ; {
			now += rng.ExpFloat64() / lambda
			if now > 78 {
				break
			}
			ps = append(ps, Purchase{CustomerID: id, Time: week(now), Amount: 10})
			if rng.Float64() < p {
				break
			}
		}
	}
	h, err := ValidateBGNBD(ps, cal, hold, Week, 6)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range h.Groups {
		t.Logf("x=%d customers=%d actual %.3f predicted %.3f", g.Frequency, g.Customers, g.Actual, g.Predicted)
		if g.Customers >= 500 && math.Abs(g.Predicted-g.Actual) > 0.1*g.Actual+0.02 {
			t.Errorf("group x=%d: predicted %.3f, actual %.3f; want within 10%%", g.Frequency, g.Predicted, g.Actual)
		}
	}
	if h.Check.Degenerate {
		t.Errorf("a fit on the model's own data reported degenerate: %v", h.Check.Problems)
	}
}

// gammaDraw and betaDraw draw Gamma(shape, 1) and Beta(a, b) for the
// simulations (Marsaglia and Tsang, boosted below shape 1).
func gammaDraw(r *rand.Rand, shape float64) float64 {
	if shape < 1 {
		return gammaDraw(r, shape+1) * math.Pow(1-r.Float64(), 1/shape)
	}
	d := shape - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := r.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		if u := r.Float64(); math.Log(u) < 0.5*x*x+d*(1-v+math.Log(v)) {
			return d * v
		}
	}
}

func betaDraw(r *rand.Rand, a, b float64) float64 {
	x, y := gammaDraw(r, a), gammaDraw(r, b)
	return x / (x + y)
}

// TestCheckBGNBDDegenerate: the fits the issue met on the old default run
// are reported as degenerate, each with what is missing.
func TestCheckBGNBDDegenerate(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(5, 5))
	// Everyone buys at the same rate and nobody drops out: the
	// heterogeneity and dropout parameters run off to their bounds.
	var same []Summary
	for i := range 5000 {
		T := 10 + rng.Float64()*30
		s := Summary{CustomerID: strconv.Itoa(i), Age: T}
		for now := rng.ExpFloat64() / 0.3; now < T; now += rng.ExpFloat64() / 0.3 {
			s.Frequency++
			s.Recency = now
		}
		same = append(same, s)
	}
	// A week of history: too short to tell anything.
	var week []Summary
	for i := range 5000 {
		T := rng.Float64()
		s := Summary{CustomerID: strconv.Itoa(i), Age: T}
		if rng.Float64() < 0.05 {
			s.Frequency, s.Recency = 1, T*rng.Float64()
		}
		week = append(week, s)
	}
	for _, c := range []struct {
		name string
		sums []Summary
		want string
	}{
		{"one rate, no dropout", same, "at the edge of what the fit allows"},
		{"one week", week, "needs at least 8 weeks of repeat purchases"},
	} {
		fit, err := FitBGNBD(c.sums)
		if err != nil {
			t.Logf("%s: the fit fails outright (%v), which is degenerate enough", c.name, err)
			continue
		}
		chk := CheckBGNBD(fit.BGNBD, c.sums, Week)
		t.Logf("%s: r=%.3g α=%.3g a=%.3g b=%.3g: %v", c.name, fit.R, fit.Alpha, fit.A, fit.B, chk.Problems)
		if !chk.Degenerate || !strings.Contains(strings.Join(chk.Problems, "; "), c.want) {
			t.Errorf("%s: check %+v; want degenerate, saying %q", c.name, chk, c.want)
		}
	}
	// CDNOW's own fit passes, with every parameter determined.
	cd := readCDNOW(t, "cdnow_customers_summary.csv")
	fit, err := FitBGNBD(cd)
	if err != nil {
		t.Fatal(err)
	}
	if chk := CheckBGNBD(fit.BGNBD, cd, Week); chk.Degenerate || len(chk.LogSE) != 4 {
		t.Errorf("CDNOW: %+v; want a sound fit with four standard errors", chk)
	}
}
