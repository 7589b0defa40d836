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

// A smallSketch encodes as a Sketch of the same customers does, byte for
// byte, below its list's bound, across it and far beyond (dense), with
// customers added more than once.
func TestSmallSketchEncodesAsSketch(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 1, 2, 5, smallSketchMax - 1, smallSketchMax, smallSketchMax + 1, 100, sketchDenseAt + 10, 5000} {
		var small smallSketch
		var s Sketch
		for i := range n {
			id := fmt.Sprintf("C%d", i*7919%(n/2+1)) // about half are repeats
			small.Add(id)
			s.Add(id)
		}
		if got, want := small.Encode(), s.Encode(); string(got) != string(want) {
			t.Fatalf("%d customers: small sketch encodes as % x, the sketch as % x", n, got, want)
		}
	}
}

// MergeEncoded encodes the union as a Sketch that merged both encodings
// does, byte for byte: sparse with sparse (overlapping or not, and across
// the dense threshold), sparse with dense, empty, and a sparse encoding
// out of order (not written by Encode, read all the same); a bad one is
// refused.
func TestMergeEncodedAsSketch(t *testing.T) {
	t.Parallel()
	enc := func(from, n int) []byte {
		var s Sketch
		for i := range n {
			s.Add(fmt.Sprintf("C%d", from+i))
		}
		return s.Encode()
	}
	sizes := []int{0, 1, 3, 40, 300, 400, 2000}
	for _, na := range sizes {
		for _, nb := range sizes {
			for _, from := range []int{0, na / 2, 100_000} { // b shares half of a's customers, or none
				a, b := enc(0, na), enc(from, nb)
				if na == 0 {
					a = nil
				}
				var s Sketch
				if err := s.Merge(a); err != nil {
					t.Fatal(err)
				}
				if err := s.Merge(b); err != nil {
					t.Fatal(err)
				}
				got, err := MergeEncoded(a, b)
				if err != nil {
					t.Fatalf("%d and %d customers from %d: %v", na, nb, from, err)
				}
				if string(got) != string(s.Encode()) {
					t.Fatalf("%d and %d customers from %d: % x, want % x", na, nb, from, got, s.Encode())
				}
			}
		}
	}
	a := enc(0, 5)
	swapped := append([]byte{a[0]}, a[3:5]...)
	swapped = append(append(swapped, a[1:3]...), a[5:]...)
	if got, err := MergeEncoded(swapped, enc(7, 3)); err != nil || string(got) != string(mustMerge(t, a, enc(7, 3))) {
		t.Fatalf("out of order: % x, %v; want % x", got, err, mustMerge(t, a, enc(7, 3)))
	}
	if _, err := MergeEncoded([]byte{sketchSparse, 1}, a); err == nil {
		t.Fatal("a sparse sketch of an odd length was merged")
	}
}

func mustMerge(t *testing.T, a, b []byte) []byte {
	t.Helper()
	var s Sketch
	if err := s.Merge(a); err != nil {
		t.Fatal(err)
	}
	if err := s.Merge(b); err != nil {
		t.Fatal(err)
	}
	return s.Encode()
}

// FuzzMergeEncoded: whatever the bytes, MergeEncoded answers as the merge
// through the registers does, and never panics.
func FuzzMergeEncoded(f *testing.F) {
	var s Sketch
	s.Add("a")
	s.Add("b")
	f.Add(s.Encode(), []byte{sketchSparse, 0x10, 0x02})
	f.Add([]byte{sketchSparse}, []byte{})
	f.Add([]byte{sketchDense}, []byte{sketchSparse, 0, 1, 0, 1})
	f.Fuzz(func(t *testing.T, a, b []byte) {
		got, err := MergeEncoded(a, b)
		want, werr := mergeDense(a, b)
		if (err == nil) != (werr == nil) || string(got) != string(want) {
			t.Fatalf("MergeEncoded(% x, % x) = % x, %v; through the registers % x, %v", a, b, got, err, want, werr)
		}
	})
}
