package iforest

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/shopstream/shopstream/internal/fraud/eval"
)

// datasetDir holds the ODDS/ADBench benchmarks; their published
// isolation-forest ROC-AUCs are in its parent's README.md.
const datasetDir = "../../../testdata/datasets/anomaly"

// benchmarks lists, per set, the published isolation-forest ROC-AUC from
// testdata/datasets/README.md (Liu et al. 2008 where the paper reports it,
// otherwise the PyOD benchmark), and, as a second reference, the mean over
// seeds 0-49 of scikit-learn 1.9.1's IsolationForest(n_estimators=100,
// max_samples=256) under the same protocol as this test (fit on the whole
// set, score every row).
var benchmarks = []struct {
	file      string
	published float64
	source    string
	sklearn   float64
	// unreachable, when set, says why the published figure cannot be met
	// by the published method under this protocol. The test then holds the
	// forest to the scikit-learn figure only, and logs the gap.
	unreachable string
}{
	{file: "breastw.csv", published: 0.99, source: "Liu et al. 2008", sklearn: 0.9867},
	{file: "pima.csv", published: 0.67, source: "Liu et al. 2008", sklearn: 0.6739},
	{file: "ionosphere.csv", published: 0.85, source: "Liu et al. 2008", sklearn: 0.8561},
	{file: "wbc.csv", published: 0.932, source: "PyOD benchmark", sklearn: 0.9375},
	{
		file: "glass.csv", published: 0.750, source: "PyOD benchmark", sklearn: 0.7029,
		// 9 anomalies in 214 rows. PyOD scores a random 40% (about 4
		// anomalies), so its figure has a standard deviation of about
		// 0.09 per split (0.700 ± 0.086 over 50 splits with
		// scikit-learn); trained on the whole set, scikit-learn's forest
		// averages 0.703 ± 0.017 and this one 0.700 ± 0.021 over 100 seeds.
		unreachable: "PyOD's 0.750 comes from 40% hold-out splits with about 4 anomalies each; the method averages 0.70 on the whole set, in scikit-learn as here",
	},
	{file: "vowels.csv", published: 0.756, source: "PyOD benchmark", sklearn: 0.7510},
	{file: "lympho.csv", published: 0.993, source: "PyOD benchmark", sklearn: 0.9978},
}

// TestPublishedROCAUC is the validation of the implementation: following
// Liu et al.'s protocol (train on the whole set with the defaults, score
// every row), the ROC-AUC averaged over five seeds must be within 0.03 of
// the published figure on every benchmark set, and of scikit-learn's
// figure under the same protocol.
func TestPublishedROCAUC(t *testing.T) {
	t.Parallel()
	const (
		seeds = 5
		tol   = 0.03
	)
	for _, ds := range benchmarks {
		t.Run(ds.file, func(t *testing.T) {
			t.Parallel()
			X, y := readDataset(t, ds.file)
			scores := make([]float64, len(X))
			var sum float64
			for seed := range int64(seeds) {
				f, err := Train(X, Config{Seed: seed})
				if err != nil {
					t.Fatal(err)
				}
				f.ScoreBatch(X, scores)
				auc := eval.ROCAUC(scores, y)
				t.Logf("seed %d: ROC-AUC %.4f", seed, auc)
				sum += auc
			}
			mean := sum / seeds
			t.Logf("mean ROC-AUC over %d seeds %.4f; published %.3f (%s); scikit-learn %.4f",
				seeds, mean, ds.published, ds.source, ds.sklearn)
			if math.Abs(mean-ds.sklearn) > tol {
				t.Errorf("mean ROC-AUC %.4f over %d seeds, scikit-learn %.4f under the same protocol: off by more than %.2f",
					mean, seeds, ds.sklearn, tol)
			}
			switch {
			case ds.unreachable != "":
				t.Logf("published %.3f (%s) not held: %s", ds.published, ds.source, ds.unreachable)
			case math.Abs(mean-ds.published) > tol:
				t.Errorf("mean ROC-AUC %.4f over %d seeds, published %.3f (%s): off by more than %.2f",
					mean, seeds, ds.published, ds.source, tol)
			}
		})
	}
}

func readDataset(t testing.TB, name string) ([][]float64, []bool) {
	t.Helper()
	fh, err := os.Open(filepath.Join(datasetDir, name))
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	X, y, err := ReadLabelledCSV(fh)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return X, y
}
