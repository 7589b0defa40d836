package analytics

import (
	"reflect"
	"runtime"
	"testing"
)

// SetParallelism bounds the goroutines of the parallel steps below
// GOMAXPROCS, never above it, and the fit is the same with one goroutine
// as with four. Not parallel: it sets GOMAXPROCS and the bound.
func TestSetParallelism(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	defer SetParallelism(0)
	for _, tt := range []struct{ set, want int }{{0, 4}, {-3, 4}, {1, 1}, {3, 3}, {4, 4}, {9, 4}} {
		SetParallelism(tt.set)
		if got := goroutines(); got != tt.want {
			t.Errorf("SetParallelism(%d) on 4 cores: %d goroutines, want %d", tt.set, got, tt.want)
		}
	}
	pts, _ := blobs(4, []int{400, 400, 400}, [][2]float64{{0, 0}, {2, 2}, {4, 0}})
	fit := func(n int) *Segmentation {
		SetParallelism(n)
		s, err := FitSegments(pts, SegmentConfig{Seed: 7, SilhouetteSample: 300})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	one, four := fit(1), fit(0)
	if !reflect.DeepEqual(one, four) {
		t.Errorf("the fit on one goroutine (k %d, candidates %v) differs from the fit on four (k %d, %v)", one.K, one.Candidates, four.K, four.Candidates)
	}
}
