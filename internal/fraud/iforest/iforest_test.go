package iforest

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestAveragePathLength(t *testing.T) {
	t.Parallel()
	// c(n) = 2(ln(n−1) + 0.5772156649) − 2(n−1)/n for n > 2, by hand:
	for _, tc := range []struct {
		n    int
		want float64
	}{
		{-1, 0},
		{0, 0},
		{1, 0},
		{2, 1},
		{3, 2*(math.Log(2)+0.5772156649) - 4.0/3},    // 1.2075
		{4, 2*(math.Log(3)+0.5772156649) - 6.0/4},    // 1.8516
		{10, 2*(math.Log(9)+0.5772156649) - 18.0/10}, // 3.7488
		{256, 2*(math.Log(255)+0.5772156649) - 510.0/256},
	} {
		if got := AveragePathLength(tc.n); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("c(%d) = %v, want %v", tc.n, got, tc.want)
		}
	}
	// The paper's normaliser for ψ = 256 is about 10.24.
	if got := AveragePathLength(256); math.Abs(got-10.2448) > 1e-4 {
		t.Errorf("c(256) = %.4f, want 10.2448", got)
	}
}

func TestHeightLimit(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ psi, want int }{
		{2, 1}, {3, 2}, {4, 2}, {5, 3}, {128, 7}, {129, 8}, {214, 8}, {256, 8}, {257, 9}, {1 << 16, 16},
	} {
		if got := heightLimit(tc.psi); got != tc.want {
			t.Errorf("heightLimit(%d) = %d, want ⌈log₂ %d⌉ = %d", tc.psi, got, tc.psi, tc.want)
		}
	}
}

func TestConfig(t *testing.T) {
	t.Parallel()
	if got, want := (Config{Seed: 7}).WithDefaults(), (Config{Trees: 100, SampleSize: 256, Seed: 7}); got != want {
		t.Errorf("WithDefaults = %+v, want %+v", got, want)
	}
	if got, want := (Config{Trees: 3, SampleSize: 16}).WithDefaults(), (Config{Trees: 3, SampleSize: 16}); got != want {
		t.Errorf("WithDefaults overrode set fields: %+v, want %+v", got, want)
	}
	X := gaussian(rand.New(rand.NewPCG(1, 1)), 300, 2)
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Trees: -1}, "Trees is -1"},
		{Config{Trees: MaxTrees + 1}, "Trees is"},
		{Config{SampleSize: 1}, "SampleSize is 1"},
		{Config{SampleSize: -5}, "SampleSize is -5"},
		{Config{SampleSize: MaxSampleSize + 1}, "SampleSize is"},
		// 512 trees × 2^(8+1)−1 nodes is within the limit; 16384 × 511 is not.
		{Config{Trees: MaxTrees}, "need"},
	} {
		_, err := Train(X, tc.cfg)
		if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Train with %+v: error %v, want ErrInvalidConfig mentioning %q", tc.cfg, err, tc.want)
		}
	}
}

func TestTrainRejectsBadData(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		X    [][]float64
		want string
	}{
		{"no rows", nil, "at least 2 rows, got 0"},
		{"one row", [][]float64{{1}}, "at least 2 rows, got 1"},
		{"no features", [][]float64{{}, {}}, "row 0 has 0 features, want 1 to 65536"},
		{"ragged", [][]float64{{1, 2}, {1}}, "row 1 has 1 features, row 0 has 2"},
		{"NaN", [][]float64{{1, 2}, {1, math.NaN()}}, "row 1, feature 1 is NaN"},
		{"Inf", [][]float64{{math.Inf(-1), 2}, {1, 2}}, "row 0, feature 0 is -Inf"},
	} {
		_, err := Train(tc.X, Config{})
		if err == nil || !strings.Contains(err.Error(), tc.want) || errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: Train error %v, want one mentioning %q", tc.name, err, tc.want)
		}
	}
}

func TestMetadata(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(2, 2))
	for _, tc := range []struct {
		rows int
		cfg  Config
		want Metadata
	}{
		{1000, Config{Seed: -3}, Metadata{Features: 3, Trees: 100, SampleSize: 256, Seed: -3, Rows: 1000}},
		// Fewer rows than ψ: ψ is the row count.
		{100, Config{Trees: 10, Seed: 5}, Metadata{Features: 3, Trees: 10, SampleSize: 100, Seed: 5, Rows: 100}},
		{2, Config{Trees: 1, SampleSize: 2}, Metadata{Features: 3, Trees: 1, SampleSize: 2, Rows: 2}},
	} {
		f, err := Train(gaussian(rng, tc.rows, 3), tc.cfg)
		if err != nil {
			t.Fatal(err)
		}
		if got := f.Metadata(); got != tc.want {
			t.Errorf("%d rows, %+v: Metadata = %+v, want %+v", tc.rows, tc.cfg, got, tc.want)
		}
	}
}

func TestDeterministic(t *testing.T) {
	t.Parallel()
	X := gaussian(rand.New(rand.NewPCG(3, 3)), 500, 4)
	a, _ := Train(X, Config{Seed: 42})
	b, _ := Train(X, Config{Seed: 42})
	c, _ := Train(X, Config{Seed: 43})
	differ := false
	for _, x := range X {
		if a.Score(x) != b.Score(x) {
			t.Fatalf("two forests with seed 42 score %v differently: %v vs %v", x, a.Score(x), b.Score(x))
		}
		differ = differ || a.Score(x) != c.Score(x)
	}
	if !differ {
		t.Error("seeds 42 and 43 grew forests that score every record identically")
	}
}

// TestPlantedOutliers checks the method's premise on data where the answer
// is known, the paper's own illustration: a few points far from a dense
// two-dimensional cluster are isolated after a few splits and score above
// 0.6, while the cluster's body (within 1.5σ of its centre) scores below 0.5.
func TestPlantedOutliers(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(4, 4))
	X := gaussian(rng, 1000, 2)
	outliers := [][]float64{{6, 6}, {-7, 4}, {8, -1}, {-5, -6}, {0, 9}}
	X = append(X, outliers...)
	f, err := Train(X, Config{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range outliers {
		if s := f.Score(x); s <= 0.6 {
			t.Errorf("planted outlier %v scores %.3f, want > 0.6", x, s)
		}
	}
	inliers := 0
	for _, x := range X[:1000] {
		if math.Hypot(x[0], x[1]) > 1.5 {
			continue
		}
		inliers++
		if s := f.Score(x); s >= 0.5 {
			t.Errorf("inlier %v, %.2fσ from the centre, scores %.3f, want < 0.5", x, math.Hypot(x[0], x[1]), s)
		}
	}
	if inliers < 600 {
		t.Fatalf("only %d of 1000 points within 1.5σ; the test data is not what it claims", inliers)
	}
}

func TestConstantFeaturesNeverSplit(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(6, 6))
	X := gaussian(rng, 300, 3)
	for _, x := range X {
		x[1] = 4 // constant everywhere: no split can be drawn on it
	}
	f, _ := Train(X, Config{Seed: 2})
	for i, n := range f.nodes {
		if slot := i % treeNodes(f.depth); slot < 1<<f.depth-1 && !math.IsInf(n.split, 1) && n.feature == 1 {
			t.Fatalf("node %d splits on the constant feature 1", i)
		}
	}
}

func TestDuplicateRows(t *testing.T) {
	t.Parallel()
	// Every attribute constant: each tree is one external node of ψ rows,
	// path length c(ψ), so every score is exactly 2^−1.
	X := make([][]float64, 50)
	for i := range X {
		X[i] = []float64{1, 2}
	}
	f, err := Train(X, Config{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range [][]float64{{1, 2}, {100, -100}} {
		if s := f.Score(x); math.Abs(s-0.5) > 1e-12 {
			t.Errorf("Score(%v) = %v on duplicate rows, want 0.5", x, s)
		}
	}
}

// TestPathLengthByHand checks the score of a forest small enough to work
// out: ψ = 2, height limit 1; the root splits the two rows apart, each
// external node has depth 1 and size 1, so h = 1 for any record and
// s = 2^(−1/c(2)) = 0.5.
func TestPathLengthByHand(t *testing.T) {
	t.Parallel()
	f, err := Train([][]float64{{0}, {1}}, Config{Trees: 3, SampleSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range []float64{-5, 0, 0.5, 1, 7} {
		if s := f.Score([]float64{x}); s != 0.5 {
			t.Errorf("Score(%v) = %v, want 0.5", x, s)
		}
	}
}

func TestScoreBatchMatchesScore(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(7, 7))
	for _, tc := range []struct {
		rows, features, trees int
	}{
		{37, 5, 100},  // tail of 5 after four blocks; trees a multiple of 8 plus 4
		{64, 3, 13},   // trees not a multiple of 8
		{8, 70, 20},   // wider than the batch buffer: one at a time
		{3, 1, 1},     // below one block
		{200, 64, 17}, // exactly the buffer's width
	} {
		X := gaussian(rng, tc.rows, tc.features)
		X[0][0] = math.NaN() // NaN follows the left branch in both paths
		f, err := Train(X[1:], Config{Trees: tc.trees, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		out := make([]float64, len(X))
		f.ScoreBatch(X, out)
		for i, x := range X {
			if s := f.Score(x); out[i] != s {
				t.Fatalf("%+v: record %d: ScoreBatch %v, Score %v", tc, i, out[i], s)
			}
			if math.IsNaN(out[i]) || out[i] <= 0 || out[i] >= 1 {
				t.Fatalf("%+v: record %d scores %v, outside (0, 1)", tc, i, out[i])
			}
		}
	}
}

func TestScoreDoesNotAllocate(t *testing.T) {
	X := gaussian(rand.New(rand.NewPCG(8, 8)), 300, 10)
	f, _ := Train(X, Config{Seed: 1})
	out := make([]float64, len(X))
	if n := testing.AllocsPerRun(50, func() { f.Score(X[0]) }); n != 0 {
		t.Errorf("Score allocates %v times per call", n)
	}
	if n := testing.AllocsPerRun(20, func() { f.ScoreBatch(X, out) }); n != 0 {
		t.Errorf("ScoreBatch allocates %v times per call", n)
	}
}

func TestWrongLengthPanics(t *testing.T) {
	t.Parallel()
	f, _ := Train(gaussian(rand.New(rand.NewPCG(9, 9)), 20, 3), Config{Trees: 2})
	for name, call := range map[string]func(){
		"Score short":         func() { f.Score([]float64{1, 2}) },
		"Score long":          func() { f.Score([]float64{1, 2, 3, 4}) },
		"ScoreBatch record":   func() { f.ScoreBatch([][]float64{{1, 2, 3}, {1}}, make([]float64, 2)) },
		"ScoreBatch out size": func() { f.ScoreBatch([][]float64{{1, 2, 3}}, make([]float64, 2)) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s did not panic", name)
				}
			}()
			call()
		}()
	}
}

func gaussian(rng *rand.Rand, rows, features int) [][]float64 {
	X := make([][]float64, rows)
	for i := range X {
		X[i] = make([]float64, features)
		for j := range X[i] {
			X[i][j] = rng.NormFloat64()
		}
	}
	return X
}

// TestScoreParallelMatchesScore: every record of shares split at any
// worker count scores as Score scores it alone.
func TestScoreParallelMatchesScore(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(9, 9))
	X := gaussian(rng, 10_003, 4)
	f, err := Train(X, Config{Trees: 20, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	for _, workers := range []int{1, 2, 3, 7} {
		out := make([]float64, len(X))
		f.ScoreParallel(X, out, workers)
		for i, x := range X {
			if s := f.Score(x); out[i] != s {
				t.Fatalf("%d workers: record %d: ScoreParallel %v, Score %v", workers, i, out[i], s)
			}
		}
	}
}
