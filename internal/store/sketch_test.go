package store

import (
	"fmt"
	"math"
	"testing"
)

// The sketch is within 3 standard errors (about 10%) of the count, and
// within 2 for small counts (where only two customers sharing a register
// err), survives encoding (sparse and dense), and merging
// is a union: the same customers twice count once.
func TestSketchEstimates(t *testing.T) {
	for _, n := range []int{0, 1, 7, 40, 300, 5000, 100000} {
		var a, b Sketch
		for i := range n {
			a.Add(fmt.Sprintf("c%d", i))
			if i%2 == 0 {
				b.Add(fmt.Sprintf("c%d", i)) // a subset of a
			}
		}
		var u Sketch
		for _, s := range []*Sketch{&a, &b, &a} {
			if err := u.Merge(s.Encode()); err != nil {
				t.Fatal(err)
			}
		}
		got := u.Estimate()
		tol := math.Max(2, 3*1.04/math.Sqrt(sketchM)*float64(n))
		if math.Abs(float64(got-int64(n))) > tol {
			t.Errorf("%d customers: estimate %d (±%.0f)", n, got, tol)
		}
		if enc := a.Encode(); n < 100 && enc[0] != sketchSparse || n > 5000 && enc[0] != sketchDense {
			t.Errorf("%d customers encoded as format %d", n, enc[0])
		}
	}
	var s Sketch
	for _, bad := range [][]byte{{9}, {sketchSparse, 1}, {sketchDense, 1, 2}} {
		if err := s.Merge(bad); err == nil {
			t.Errorf("%v merged", bad)
		}
	}
}
