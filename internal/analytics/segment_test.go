package analytics

import (
	"math"
	"math/rand/v2"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

// blobs draws well-separated Gaussian clusters of the given sizes around
// centres; the second feature is in units 100 times larger, which
// standardisation must undo. It returns the points and their true blob.
func blobs(seed uint64, sizes []int, centres [][2]float64) ([][]float64, []int) {
	rng := rand.New(rand.NewPCG(seed, 3))
	var pts [][]float64
	var truth []int
	for b, n := range sizes {
		for range n {
			pts = append(pts, []float64{centres[b][0] + rng.NormFloat64(), 100 * (centres[b][1] + rng.NormFloat64())})
			truth = append(truth, b)
		}
	}
	return pts, truth
}

var blobCentres = [][2]float64{{0, 0}, {10, 10}, {0, 20}}

func TestFitSegmentsRecoversBlobs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		sizes []int
		cfg   SegmentConfig
	}{
		{"exact silhouette", []int{300, 200, 100}, SegmentConfig{Seed: 1}},
		{"sampled silhouette", []int{3000, 2000, 1000}, SegmentConfig{Seed: 2, SilhouetteSample: 500}},
		{"fixed k", []int{300, 200, 100}, SegmentConfig{K: 3, Seed: 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pts, truth := blobs(9, tt.sizes, blobCentres)
			s, err := FitSegments(pts, tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if s.K != 3 {
				t.Fatalf("chose k = %d (candidates %+v), want 3", s.K, s.Candidates)
			}
			// Clusters are numbered by size, so blob b is cluster b.
			for i, l := range s.Labels {
				if l != truth[i] {
					t.Fatalf("point %d (%v) in cluster %d, drawn from blob %d", i, pts[i], l, truth[i])
				}
			}
			for c, centre := range blobCentres {
				got := s.Centroids[c]
				if math.Abs(got[0]-centre[0]) > 0.3 || math.Abs(got[1]-100*centre[1]) > 30 {
					t.Errorf("centroid %d = %v, want near (%v, %v)", c, got, centre[0], 100*centre[1])
				}
				p := s.Profiles[c]
				if p.Size != tt.sizes[c] || math.Abs(p.Means[0]-got[0]) > 1e-9 || math.Abs(p.Means[1]-got[1]) > 1e-7 {
					t.Errorf("profile %d = %+v, want size %d and means at the centroid %v", c, p, tt.sizes[c], got)
				}
				if pred := s.Predict([]float64{centre[0], 100 * centre[1]}); pred != c {
					t.Errorf("Predict(centre of blob %d) = %d", c, pred)
				}
			}
			if !(s.Silhouette > 0.7) {
				t.Errorf("mean silhouette %.3f, want well above 0.7 for separated blobs", s.Silhouette)
			}
			if tt.cfg.K == 0 && len(s.Candidates) != 7 {
				t.Errorf("tried %d values of k, want 7 (2..8)", len(s.Candidates))
			}
		})
	}
}

func TestFitSegmentsIsDeterministic(t *testing.T) {
	t.Parallel()
	pts, _ := blobs(4, []int{400, 400, 400}, [][2]float64{{0, 0}, {2, 2}, {4, 0}}) // overlapping: starts matter
	fit := func(seed uint64) *Segmentation {
		s, err := FitSegments(pts, SegmentConfig{Seed: seed, SilhouetteSample: 300})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	a, b := fit(42), fit(42)
	if !reflect.DeepEqual(a, b) {
		t.Error("two fits with seed 42 differ")
	}
	all := a.PredictAll(pts, nil)
	for i, l := range all {
		if l != a.Labels[i] {
			t.Fatalf("PredictAll puts point %d in %d, the fit in %d", i, l, a.Labels[i])
		}
	}
}

// The candidates of k are fitted at once on the available cores; the fit
// is the same on one core. Not parallel: it sets GOMAXPROCS.
func TestFitSegmentsSameOnOneCore(t *testing.T) {
	pts, _ := blobs(4, []int{400, 400, 400}, [][2]float64{{0, 0}, {2, 2}, {4, 0}})
	fit := func(procs int) *Segmentation {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		s, err := FitSegments(pts, SegmentConfig{Seed: 7, SilhouetteSample: 300})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	one, four := fit(1), fit(4)
	if !reflect.DeepEqual(one, four) {
		t.Errorf("the fit on one core (k %d, candidates %v) differs from the fit on four (k %d, %v)", one.K, one.Candidates, four.K, four.Candidates)
	}
	if len(one.Candidates) != 7 {
		t.Errorf("tried %d values of k, want 7", len(one.Candidates))
	}
}

func TestFitSegmentsErrors(t *testing.T) {
	t.Parallel()
	pts := [][]float64{{1, 2}, {3, 4}, {5, 6}}
	for _, tt := range []struct {
		name     string
		features [][]float64
		cfg      SegmentConfig
		wantErr  string
	}{
		{"no customers", nil, SegmentConfig{}, "no customers"},
		{"ragged", [][]float64{{1, 2}, {3}}, SegmentConfig{K: 1}, "customer 1 has 1 features, customer 0 has 2"},
		{"NaN", [][]float64{{1, 2}, {math.NaN(), 3}}, SegmentConfig{K: 1}, "customer 1 feature 0 is NaN"},
		{"k above n", pts, SegmentConfig{K: 4}, "K 4 exceeds the 3 points"},
		{"bad range", pts, SegmentConfig{KMin: 5, KMax: 3}, "k range [5, 3]"},
		{"too few to choose", pts[:2], SegmentConfig{}, "at least 3 points"},
	} {
		if _, err := FitSegments(tt.features, tt.cfg); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%s: error %v, want one containing %q", tt.name, err, tt.wantErr)
		}
	}
	// Constant features and duplicate points still cluster.
	s, err := FitSegments([][]float64{{1, 1}, {1, 1}, {1, 1}, {1, 1}}, SegmentConfig{Seed: 1})
	if err != nil || s.K < 2 {
		t.Errorf("identical points: %+v, %v", s, err)
	}
}
