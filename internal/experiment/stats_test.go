package experiment

import (
	"math"
	"math/rand/v2"
	"testing"
)

func near(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if math.IsNaN(got) || math.Abs(got-want) > tol {
		t.Errorf("%s = %.6f, want %.6f (±%g)", what, got, want, tol)
	}
}

// meanSample builds a mean metric from sums as GrowthBook's tests give them.
func meanSample(sum, sumSquares float64, n int64) Sample {
	return Sample{N: n, Sum: sum, SumSquares: sumSquares}
}

// The vectors below are GrowthBook's stats-engine tests
// (packages/stats/tests/frequentist/test_tests.py), as listed in
// testdata/datasets/README.md.

func TestFixedHorizonMeansVector(t *testing.T) {
	r, err := FixedHorizon(meanSample(1396.87, 52377.9767, 3407), meanSample(2422.7, 134698.29, 3461), true, 0.05)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "lift", r.Lift, 0.70732, 5e-5)
	near(t, "standard error", r.StdErr, 0.37879, 5e-5)
	near(t, "p-value", r.PValue, 0.06191, 5e-5)
	near(t, "low", r.Low, -0.03526, 5e-5)
	near(t, "high", r.High, 1.44989, 5e-5)
	if r.Significant() {
		t.Error("an interval containing 0 reported significant")
	}
}

func TestFixedHorizonProportionsVector(t *testing.T) {
	r, err := FixedHorizon(Conversions(14, 28), Conversions(16, 30), true, 0.05)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "lift", r.Lift, 0.06667, 5e-5)
	near(t, "standard error", r.StdErr, 0.2717, 5e-5)
	near(t, "p-value", r.PValue, 0.80707, 5e-5)
	near(t, "low", r.Low, -0.47767, 5e-5)
	near(t, "high", r.High, 0.61101, 5e-5)
}

func TestSequentialProportionsVector(t *testing.T) {
	r, err := Sequential(Conversions(1396, 3000), Conversions(2422, 3461), true, 0.05, 5000)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "lift", r.Lift, 0.50386, 5e-5)
	near(t, "standard error", r.StdErr, 0.03386, 5e-5)
	near(t, "low", r.Low, 0.40098, 5e-5)
	near(t, "high", r.High, 0.60675, 5e-5)
	if !r.Significant() {
		t.Error("an interval excluding 0 reported not significant")
	}
}

func TestSequentialMeansVector(t *testing.T) {
	r, err := Sequential(meanSample(1396.87, 52377.9767, 3000), meanSample(2422.7, 134698.29, 3461), true, 0.05, 1000)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "lift", r.Lift, 0.50336, 5e-5)
	near(t, "low", r.Low, -0.55844, 5e-5)
	near(t, "high", r.High, 1.56516, 5e-5)
}

func TestTwoProportionZVector(t *testing.T) {
	z, p, err := TwoProportionZ(1396, 3000, 2422, 3461)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "z", z, 19.12, 5e-3)
	if p > 1e-60 {
		t.Errorf("p = %g for z = 19.12, want astronomically small", p)
	}
	// Symmetry: swapping the arms negates z and keeps p.
	z2, p2, _ := TwoProportionZ(2422, 3461, 1396, 3000)
	near(t, "swapped z", z2, -z, 1e-12)
	near(t, "swapped p", p2, p, 1e-300)
}

func TestSampleRatio(t *testing.T) {
	// 5,000 against 5,000 is no mismatch; 5,300 against 4,700 is.
	if _, p, _ := SampleRatio([]int64{5000, 5000}, []float64{1, 1}); p != 1 {
		t.Errorf("even split: p = %v, want 1", p)
	}
	chi2, p, err := SampleRatio([]int64{5300, 4700}, []float64{0.5, 0.5})
	if err != nil {
		t.Fatal(err)
	}
	near(t, "chi2", chi2, 36, 1e-9) // (300²/5000)·2
	if p >= SRMThreshold {
		t.Errorf("5300/4700: p = %v, want a mismatch", p)
	}
	// Uneven weights are honoured: 2,000/8,000 is right for 20/80.
	if _, p, _ := SampleRatio([]int64{2000, 8000}, []float64{0.2, 0.8}); p != 1 {
		t.Errorf("20/80 split: p = %v, want 1", p)
	}
	if _, _, err := SampleRatio([]int64{1}, []float64{1}); err == nil {
		t.Error("one variant accepted")
	}
}

func TestTooSmall(t *testing.T) {
	if _, err := FixedHorizon(Conversions(0, 1), Conversions(1, 5), true, 0.05); err == nil {
		t.Error("one control unit accepted")
	}
	if _, err := FixedHorizon(Conversions(0, 100), Conversions(1, 100), true, 0.05); err == nil {
		t.Error("relative lift over a zero control mean accepted")
	}
	if _, err := Sequential(Conversions(10, 100), Conversions(12, 100), true, 0.05, 0); err == nil {
		t.Error("zero tuning accepted")
	}
}

// simulateAA runs many A/A experiments of n units per arm at conversion
// rate p, looking at each once at the end (fixed) or after every batch of
// units (peeking), and returns the share found significant.
func simulateAA(rng *rand.Rand, experiments, n, looks int, p float64, test func(a, b Sample) (Result, error)) float64 {
	hits := 0
	for range experiments {
		var ka, kb int64
		per := n / looks
		found := false
		for l := 1; l <= looks; l++ {
			for range per {
				if rng.Float64() < p {
					ka++
				}
				if rng.Float64() < p {
					kb++
				}
			}
			m := int64(l * per)
			r, err := test(Conversions(ka, m), Conversions(kb, m))
			if err == nil && r.Significant() {
				found = true
				break
			}
		}
		if found {
			hits++
		}
	}
	return float64(hits) / float64(experiments)
}

// TestAAFalsePositiveRate: with no effect, the fixed-horizon test looked at
// once finds one at the nominal 5%; looked at after every 500 units it
// finds far more, which is why the sequential test exists, and the
// sequential test peeked at as often stays below 5%.
func TestAAFalsePositiveRate(t *testing.T) {
	if testing.Short() {
		t.Skip("simulation")
	}
	rng := rand.New(rand.NewPCG(7, 11))
	fixed := func(a, b Sample) (Result, error) { return FixedHorizon(a, b, true, 0.05) }
	seq := func(a, b Sample) (Result, error) { return Sequential(a, b, true, 0.05, 5000) }

	const experiments = 2000
	once := simulateAA(rng, experiments, 5000, 1, 0.1, fixed)
	// Binomial(2000, 0.05): sd ≈ 0.0049; allow about 3 sd.
	if once < 0.035 || once > 0.065 {
		t.Errorf("fixed horizon, one look: false-positive rate %.4f, want about 0.05", once)
	}
	peeking := simulateAA(rng, experiments, 5000, 10, 0.1, fixed)
	if peeking < 0.08 {
		t.Errorf("fixed horizon peeked at 10 times: false-positive rate %.4f; expected it inflated well above 0.05", peeking)
	}
	seqPeek := simulateAA(rng, experiments, 5000, 10, 0.1, seq)
	if seqPeek > 0.05 {
		t.Errorf("sequential, peeked at 10 times: false-positive rate %.4f, want at most 0.05", seqPeek)
	}
	t.Logf("A/A false-positive rates over %d experiments: fixed once %.4f, fixed peeking %.4f, sequential peeking %.4f", experiments, once, peeking, seqPeek)
}

// TestDetectsPlantedUplift: a 5% relative uplift on a 10% conversion rate
// is found by the sequential test, watched every 2,000 units, in most
// experiments within 150,000 units per arm.
func TestDetectsPlantedUplift(t *testing.T) {
	if testing.Short() {
		t.Skip("simulation")
	}
	rng := rand.New(rand.NewPCG(3, 5))
	const experiments, maxN, step = 100, 150_000, 2000
	found, sumN := 0, 0
	for range experiments {
		var ka, kb int64
		for n := step; n <= maxN; n += step {
			for range step {
				if rng.Float64() < 0.10 {
					ka++
				}
				if rng.Float64() < 0.105 {
					kb++
				}
			}
			r, err := Sequential(Conversions(ka, int64(n)), Conversions(kb, int64(n)), true, 0.05, 5000)
			if err == nil && r.Low > 0 {
				found++
				sumN += n
				break
			}
		}
	}
	if found < 80 {
		t.Errorf("sequential test found a 5%% uplift in %d of %d experiments within %d units per arm; want at least 80", found, experiments, maxN)
	}
	if found > 0 {
		t.Logf("found in %d/%d; mean units per arm at detection %d", found, experiments, sumN/found)
	}
}
