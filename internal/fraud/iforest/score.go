package iforest

import (
	"fmt"
	"math"
	"sync"
)

// Score returns x's anomaly score, 2^(−E[h(x)]/c(ψ)): near 1 for records
// isolated early, about 0.5 or less when nothing stands out. x must have
// Metadata().Features values; a different length is a programming error
// and panics. A NaN value compares false with every split and so follows
// the "<= split" side.
//
// A walk down one tree is a chain of dependent loads, each waiting on the
// last, so Score walks eight trees at once to keep eight loads in flight.
// It does not allocate, and returns exactly what [Forest.ScoreBatch] does.
func (f *Forest) Score(x []float64) float64 {
	f.checkRecord(x)
	stride := treeNodes(f.depth)
	var sum float64
	t := 0
	for ; t+8 <= f.meta.Trees; t += 8 {
		// Indices run over the group of eight trees; tree k starts at bk,
		// and the children of its node bk+j are at bk+2j+1 and bk+2j+2.
		g := f.nodes[t*stride : (t+8)*stride]
		b1, b2, b3, b4, b5, b6, b7 := stride, 2*stride, 3*stride, 4*stride, 5*stride, 6*stride, 7*stride
		i0, i1, i2, i3, i4, i5, i6, i7 := 0, b1, b2, b3, b4, b5, b6, b7
		for range f.depth {
			n0, n1, n2, n3 := g[i0], g[i1], g[i2], g[i3]
			n4, n5, n6, n7 := g[i4], g[i5], g[i6], g[i7]
			i0 = 2*i0 + 1 + right(x[n0.feature], n0.split)
			i1 = 2*i1 + 1 - b1 + right(x[n1.feature], n1.split)
			i2 = 2*i2 + 1 - b2 + right(x[n2.feature], n2.split)
			i3 = 2*i3 + 1 - b3 + right(x[n3.feature], n3.split)
			i4 = 2*i4 + 1 - b4 + right(x[n4.feature], n4.split)
			i5 = 2*i5 + 1 - b5 + right(x[n5.feature], n5.split)
			i6 = 2*i6 + 1 - b6 + right(x[n6.feature], n6.split)
			i7 = 2*i7 + 1 - b7 + right(x[n7.feature], n7.split)
		}
		// Added one tree at a time, in tree order, like every other path,
		// so that all of them round identically.
		sum = sum + g[i0].split + g[i1].split + g[i2].split + g[i3].split +
			g[i4].split + g[i5].split + g[i6].split + g[i7].split
	}
	for ; t < f.meta.Trees; t++ {
		sum += f.pathLength(t*stride, x)
	}
	return math.Exp2(sum * f.invNorm)
}

// batchFeatures bounds the records ScoreBatch interleaves: their values are
// copied into a stack buffer of batchFeatures×8 float64 (4 KiB). Wider
// records are scored one at a time.
const batchFeatures = 64

// ScoreBatch writes the score of each X[i] to out[i], exactly as
// [Forest.Score] would. It walks each tree for eight records at once, their
// values interleaved in one small buffer, so eight independent walks
// overlap and share the tree's hot upper nodes. out must have len(X)
// elements and every record Metadata().Features values, or it panics. It
// does not allocate.
func (f *Forest) ScoreBatch(X [][]float64, out []float64) {
	if len(out) != len(X) {
		panic(fmt.Sprintf("iforest: ScoreBatch of %d records into %d scores", len(X), len(out)))
	}
	for _, x := range X {
		f.checkRecord(x)
	}
	d := f.meta.Features
	start := 0
	if d <= batchFeatures {
		var buf [batchFeatures * 8]float64
		for ; start+8 <= len(X); start += 8 {
			// buf[8j+k] is feature j of record k.
			for k, x := range X[start : start+8] {
				for j, v := range x {
					buf[8*j+k] = v
				}
			}
			f.score8(buf[:8*d], (*[8]float64)(out[start:start+8]))
		}
	}
	for ; start < len(X); start++ {
		out[start] = f.Score(X[start])
	}
}

// ScoreParallel is ScoreBatch on up to workers goroutines, each scoring
// a contiguous share of X (a multiple of eight records), for scoring a
// whole file; the scores are ScoreBatch's. Under 4,096 records, or with
// one worker, it is ScoreBatch.
func (f *Forest) ScoreParallel(X [][]float64, out []float64, workers int) {
	if len(out) != len(X) {
		panic(fmt.Sprintf("iforest: ScoreParallel of %d records into %d scores", len(X), len(out)))
	}
	if workers <= 1 || len(X) < 4096 {
		f.ScoreBatch(X, out)
		return
	}
	share := (len(X)/workers + 8) &^ 7
	var wg sync.WaitGroup
	for from := 0; from < len(X); from += share {
		to := min(from+share, len(X))
		wg.Add(1)
		go func() {
			defer wg.Done()
			f.ScoreBatch(X[from:to], out[from:to])
		}()
	}
	wg.Wait()
}

// score8 scores the eight records interleaved in v (v[8j+k] is feature j of
// record k) into out.
func (f *Forest) score8(v []float64, out *[8]float64) {
	stride := treeNodes(f.depth)
	nodes := f.nodes
	var s0, s1, s2, s3, s4, s5, s6, s7 float64
	for base := 0; base < len(nodes); base += stride {
		tree := nodes[base : base+stride]
		i0, i1, i2, i3, i4, i5, i6, i7 := 0, 0, 0, 0, 0, 0, 0, 0
		for range f.depth {
			n0, n1, n2, n3 := tree[i0], tree[i1], tree[i2], tree[i3]
			n4, n5, n6, n7 := tree[i4], tree[i5], tree[i6], tree[i7]
			i0 = 2*i0 + 1 + right(v[8*int(n0.feature)], n0.split)
			i1 = 2*i1 + 1 + right(v[8*int(n1.feature)+1], n1.split)
			i2 = 2*i2 + 1 + right(v[8*int(n2.feature)+2], n2.split)
			i3 = 2*i3 + 1 + right(v[8*int(n3.feature)+3], n3.split)
			i4 = 2*i4 + 1 + right(v[8*int(n4.feature)+4], n4.split)
			i5 = 2*i5 + 1 + right(v[8*int(n5.feature)+5], n5.split)
			i6 = 2*i6 + 1 + right(v[8*int(n6.feature)+6], n6.split)
			i7 = 2*i7 + 1 + right(v[8*int(n7.feature)+7], n7.split)
		}
		s0 += tree[i0].split
		s1 += tree[i1].split
		s2 += tree[i2].split
		s3 += tree[i3].split
		s4 += tree[i4].split
		s5 += tree[i5].split
		s6 += tree[i6].split
		s7 += tree[i7].split
	}
	for k, s := range [8]float64{s0, s1, s2, s3, s4, s5, s6, s7} {
		out[k] = math.Exp2(s * f.invNorm)
	}
}

// pathLength is h(x) in the tree starting at base: the external node's
// depth plus c(size), precomputed in the bottom slot the walk ends on.
func (f *Forest) pathLength(base int, x []float64) float64 {
	tree := f.nodes[base : base+treeNodes(f.depth)]
	i := 0
	for range f.depth {
		n := tree[i]
		i = 2*i + 1 + right(x[n.feature], n.split)
	}
	return tree[i].split
}

// right is 1 when v goes to the right child. Written so the compiler emits
// a flag set (SETHI) rather than a jump that would mispredict half the time.
func right(v, split float64) int {
	if v > split {
		return 1
	}
	return 0
}

func (f *Forest) checkRecord(x []float64) {
	if len(x) != f.meta.Features {
		panic(fmt.Sprintf("iforest: scoring a record of %d features with a forest trained on %d", len(x), f.meta.Features))
	}
}
