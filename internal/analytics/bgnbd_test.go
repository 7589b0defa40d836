package analytics

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"gonum.org/v1/gonum/diff/fd"
)

// Published figures (Fader, Hardie and Lee 2005), checked to the precision
// they were published with: three decimals, the log-likelihood to 0.1.
func checkPublishedBG(t *testing.T, fit BGNBDFit) {
	t.Helper()
	t.Logf("r=%.5f alpha=%.5f a=%.5f b=%.5f LL=%.4f", fit.R, fit.Alpha, fit.A, fit.B, fit.LogLikelihood)
	for _, c := range []struct {
		name      string
		got, want float64
		tol       float64
	}{
		{"r", fit.R, 0.243, 0.0005},
		{"alpha", fit.Alpha, 4.414, 0.0005},
		{"a", fit.A, 0.793, 0.0005},
		{"b", fit.B, 2.426, 0.0005},
		{"log-likelihood", fit.LogLikelihood, -9582.4, 0.05},
	} {
		if math.Abs(c.got-c.want) > c.tol {
			t.Errorf("%s = %.5f, want %v ± %v", c.name, c.got, c.want, c.tol)
		}
	}
}

func TestFitBGNBDOnCDNOW(t *testing.T) {
	t.Parallel()
	data := readCDNOW(t, "cdnow_customers_summary.csv")
	if len(data) != 2357 {
		t.Fatalf("read %d CDNOW customers, want 2357", len(data))
	}
	fit, err := FitBGNBD(data)
	if err != nil {
		t.Fatal(err)
	}
	checkPublishedBG(t, fit)
	if fit.Customers != 2357 {
		t.Errorf("fit reports %d customers, want 2357", fit.Customers)
	}
	// Customer 1 of the paper: x = 2, t_x = 30.43, T = 38.86.
	got := fit.ExpectedPurchases(39, 2, 30.43, 38.86)
	t.Logf("customer 1 expects %.5f purchases in 39 weeks", got)
	if math.Abs(got-1.226) > 0.0005 {
		t.Errorf("customer 1 expects %.5f purchases in 39 weeks, want 1.226", got)
	}
}

// The same figures from the raw purchases, through Summarize.
func TestFitBGNBDOnRawCDNOW(t *testing.T) {
	t.Parallel()
	data, err := Summarize(readCDNOWPurchases(t), time.Date(1997, 9, 30, 0, 0, 0, 0, time.UTC), Week)
	if err != nil {
		t.Fatal(err)
	}
	fit, err := FitBGNBD(data)
	if err != nil {
		t.Fatal(err)
	}
	checkPublishedBG(t, fit)
}

// A fit on a population drawn from known parameters must recover them.
func TestFitBGNBDRecoversSimulatedParameters(t *testing.T) {
	t.Parallel()
	want := BGNBD{R: 0.5, Alpha: 3, A: 1.5, B: 4}
	fit, err := FitBGNBD(simulate(7, 20000, want, publishedGG, 80))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name      string
		got, want float64
	}{{"r", fit.R, want.R}, {"alpha", fit.Alpha, want.Alpha}, {"a", fit.A, want.A}, {"b", fit.B, want.B}} {
		if rel := math.Abs(c.got/c.want - 1); rel > 0.2 {
			t.Errorf("%s = %.4f, drawn from %v (%.0f%% off)", c.name, c.got, c.want, 100*rel)
		}
	}
}

// The analytic gradient the fit relies on must match finite differences.
func TestBGNBDGradient(t *testing.T) {
	t.Parallel()
	groups, _, err := groupBG(readCDNOW(t, "cdnow_customers_summary.csv"))
	if err != nil {
		t.Fatal(err)
	}
	f := func(p []float64) float64 { return bgLogLikelihood(BGNBD{p[0], p[1], p[2], p[3]}, groups, nil) }
	for _, p := range [][]float64{{0.243, 4.414, 0.793, 2.426}, {1, 1, 1, 1}, {2.5, 0.3, 3, 0.7}} {
		got := make([]float64, 4)
		bgLogLikelihood(BGNBD{p[0], p[1], p[2], p[3]}, groups, got)
		want := fd.Gradient(nil, f, p, &fd.Settings{Formula: fd.Central})
		for i := range got {
			if math.Abs(got[i]-want[i]) > 1e-4*max(1, math.Abs(want[i])) {
				t.Errorf("at %v: d/dp%d = %.6g, finite differences %.6g", p, i, got[i], want[i])
			}
		}
	}
}

func TestBGNBDPredictions(t *testing.T) {
	t.Parallel()
	m := publishedBG
	tests := []struct {
		name       string
		x, tx, T   float64
		wantAlive  float64 // −1: only check range
		aliveAbove float64
	}{
		{"no repeat purchase is alive for sure", 0, 0, 38.86, 1, 0},
		{"recent buyer is likely alive", 2, 38, 38.86, -1, 0.8},
		{"heavy buyer gone quiet is likely dead", 20, 5, 38.86, -1, 0},
		{"overflowing odds", 5000, 1, 1000, 0, 0},
	}
	for _, tt := range tests {
		got := m.ProbAlive(tt.x, tt.tx, tt.T)
		if tt.wantAlive >= 0 && got != tt.wantAlive {
			t.Errorf("%s: P(alive) = %v, want %v", tt.name, got, tt.wantAlive)
		}
		if !(got >= tt.aliveAbove && got <= 1) {
			t.Errorf("%s: P(alive) = %v, want in [%v, 1]", tt.name, got, tt.aliveAbove)
		}
		e := m.ExpectedPurchases(39, tt.x, tt.tx, tt.T)
		if math.IsNaN(e) || e < 0 {
			t.Errorf("%s: expected purchases %v", tt.name, e)
		}
	}
	// Customer 1, by hand: 1/(1 + 0.793/3.426 · (43.274/34.844)^2.243).
	if p := m.ProbAlive(2, 30.43, 38.86); math.Abs(p-0.72658) > 1e-5 {
		t.Errorf("customer 1: P(alive) = %.6f, want 0.72658", p)
	}
	if p := m.ProbAlive(20, 5, 38.86); p > 0.01 {
		t.Errorf("heavy buyer silent for 34 weeks: P(alive) = %.4f, want < 0.01", p)
	}
	// Expectations grow with the horizon and vanish with it.
	if e := m.ExpectedPurchases(0, 2, 30.43, 38.86); e != 0 {
		t.Errorf("E[Y(0)] = %v, want 0", e)
	}
	prev := 0.0
	for _, h := range []float64{1, 4, 13, 26, 39, 52, 104} {
		e := m.ExpectedPurchases(h, 2, 30.43, 38.86)
		if !(e > prev) {
			t.Errorf("E[Y(%v)] = %v, not above E at the previous horizon %v", h, e, prev)
		}
		prev = e
	}
	// Every CDNOW customer gets a finite, non-negative expectation.
	for _, s := range readCDNOW(t, "cdnow_customers_summary.csv") {
		e := m.ExpectedPurchases(52, float64(s.Frequency), s.Recency, s.Age)
		if math.IsNaN(e) || math.IsInf(e, 0) || e < 0 {
			t.Fatalf("customer %s: expected purchases %v", s.CustomerID, e)
		}
	}
}

func TestFitBGNBDRejectsBadHistories(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		data    []Summary
		wantErr string
	}{
		{"empty", nil, "no customers"},
		{"negative frequency", []Summary{{CustomerID: "a", Frequency: -1, Age: 3}}, `customer 0 ("a"): frequency -1 is negative`},
		{"recency after age", []Summary{{CustomerID: "b", Frequency: 1, Recency: 4, Age: 3}}, "recency t_x = 4 is not within [0, T = 3]"},
		{"repeat at age 0", []Summary{{CustomerID: "c", Frequency: 1, Recency: 0, Age: 3}}, "1 repeat purchases but recency t_x = 0"},
		{"NaN age", []Summary{{CustomerID: "d", Age: math.NaN()}}, "age T = NaN"},
	}
	for _, tt := range tests {
		_, err := FitBGNBD(tt.data)
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%s: error %v, want one containing %q", tt.name, err, tt.wantErr)
		}
	}
	if _, err := (BGNBD{R: -1, Alpha: 1, A: 1, B: 1}).LogLikelihood([]Summary{{Age: 1}}); err == nil {
		t.Error("LogLikelihood accepted a negative r")
	}
}

// TestSortPairs checks the radix sort of packed index pairs against
// slices.Sort, for runs short and long and indexes narrow and wide.
func TestSortPairs(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(7, 8))
	for _, n := range []int{0, 1, 100, 511, 512, 5000, 100_000} {
		for _, width := range []int{1, 7, 10, 17, 32} {
			keys := make([]uint64, n)
			for i := range keys {
				hi, lo := rng.Uint64N(1<<width), rng.Uint64N(1<<width)
				if width > 3 && i%3 == 0 {
					hi = 5 // repeated digits, as in real histories
				}
				keys[i] = hi<<32 | lo
			}
			want := slices.Clone(keys)
			slices.Sort(want)
			sortPairs(keys, make([]uint64, n), width)
			if !slices.Equal(keys, want) {
				t.Fatalf("n=%d width=%d: not sorted", n, width)
			}
		}
	}
}

// TestTabulatedLikelihood: the log-likelihood and gradient summed with
// powers tabulated per distinct value equal those summed history by
// history, on whole-day histories (which take the tabulated way) and
// away from the optimum.
func TestTabulatedLikelihood(t *testing.T) {
	t.Parallel()
	data := simulateDays(200_000)
	for _, m := range []BGNBD{publishedBG, {R: 2, Alpha: 0.5, A: 3, B: 0.2}, {R: 0.05, Alpha: 40, A: 0.1, B: 9}} {
		var ll [2]float64
		var grad [2][]float64
		tabulated := false
		for i, rowwise := range []bool{false, true} {
			d, _, err := groupBG(data)
			if err != nil {
				t.Fatal(err)
			}
			d.rowwise = rowwise
			grad[i] = make([]float64, 4)
			ll[i] = bgLogLikelihood(m, d, grad[i])
			if !rowwise {
				for _, g := range d.groups {
					tabulated = tabulated || (g.x > 0 && len(g.rows) > len(d.vals))
				}
			}
		}
		if !tabulated {
			t.Fatal("no group large enough to be tabulated: the test compares nothing")
		}
		if math.Abs(ll[0]-ll[1]) > 1e-9*math.Abs(ll[1]) {
			t.Errorf("%+v: log-likelihood %v tabulated, %v row by row", m, ll[0], ll[1])
		}
		for j := range 4 {
			if math.Abs(grad[0][j]-grad[1][j]) > 1e-8*max(1, math.Abs(grad[1][j])) {
				t.Errorf("%+v: gradient[%d] %v tabulated, %v row by row", m, j, grad[0][j], grad[1][j])
			}
		}
	}
}
