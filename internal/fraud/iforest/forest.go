package iforest

import (
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
)

// eulerGamma is the Euler-Mascheroni constant in the paper's approximation
// of the harmonic number, H(i) ≈ ln i + 0.5772156649.
const eulerGamma = 0.5772156649

// pcgStream is the second PCG seed word. It is fixed so that Config.Seed
// alone determines the forest.
const pcgStream = 0x6966_6f72_6573_7421 // "iforest!"

// Forest is a trained isolation forest, made by [Train] or
// [Forest.UnmarshalBinary]; the zero value has no trees and is not usable.
// It is immutable once made and safe for concurrent scoring.
type Forest struct {
	// nodes holds all trees, each treeNodes(depth) long in heap order:
	// node i has children 2i+1 (values <= split) and 2i+2. The first
	// 2^depth − 1 nodes of a tree are internal, the last 2^depth external.
	nodes   []node
	depth   int     // height limit ⌈log₂ ψ⌉, the length of every walk
	invNorm float64 // −1/(trees·c(ψ)), turning a sum of path lengths into an exponent
	meta    Metadata
}

// node is an internal or an external node, told apart by its position.
// Internal: records with x[feature] <= split go left; a pass-through node
// padding a shallow external node has split +Inf. External: split holds
// the precomputed path length depth + c(size), feature the training size
// (kept for encoding).
type node struct {
	split   float64
	feature int32
}

// Metadata describes how a forest was trained, for storing next to it.
type Metadata struct {
	// Features is the number of values a scored record must have.
	Features int
	// Trees is the number of trees.
	Trees int
	// SampleSize is the ψ actually used: Config.SampleSize, or the row
	// count when the training set was smaller.
	SampleSize int
	// Seed is the Config.Seed the forest was grown with.
	Seed int64
	// Rows is the number of training rows.
	Rows int
}

// Metadata returns how f was trained.
func (f *Forest) Metadata() Metadata { return f.meta }

// AveragePathLength is c(n), the average path length of an unsuccessful
// search in a binary search tree of n keys, which the paper uses both to
// normalise scores (c(ψ)) and to stand in for the subtree not grown below
// an external node of n training rows: c(n) = 2H(n−1) − 2(n−1)/n with
// H(i) ≈ ln i + 0.5772156649, c(2) = 1 and c(1) = c(0) = 0.
func AveragePathLength(n int) float64 {
	switch {
	case n <= 1:
		return 0
	case n == 2:
		return 1
	}
	m := float64(n - 1)
	return 2*(math.Log(m)+eulerGamma) - 2*m/float64(n)
}

// heightLimit is ⌈log₂ ψ⌉, the depth at which a tree stops growing: about
// the average depth of a random tree, since only records isolated sooner
// than average are of interest.
func heightLimit(psi int) int { return bits.Len(uint(psi - 1)) }

// treeNodes is the size of a complete binary tree of the given height.
func treeNodes(depth int) int { return 1<<(depth+1) - 1 }

// Train grows a forest on X, every row one record of the same number of
// finite features. cfg's zero fields take their defaults. Errors about cfg
// wrap [ErrInvalidConfig].
func Train(X [][]float64, cfg Config) (*Forest, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	d, err := checkTrainingSet(X)
	if err != nil {
		return nil, err
	}
	psi := min(cfg.SampleSize, len(X))
	if err := checkNodes(cfg.Trees, psi); err != nil {
		return nil, err
	}
	depth := heightLimit(psi)
	stride := treeNodes(depth)
	f := &Forest{
		nodes:   make([]node, cfg.Trees*stride),
		depth:   depth,
		invNorm: -1 / (float64(cfg.Trees) * AveragePathLength(psi)),
		meta:    Metadata{Features: d, Trees: cfg.Trees, SampleSize: psi, Seed: cfg.Seed, Rows: len(X)},
	}
	g := grower{
		X:      X,
		depth:  depth,
		rng:    rand.New(rand.NewPCG(uint64(cfg.Seed), pcgStream)),
		feats:  identity(d),
		sample: make([]int32, psi),
	}
	rows := identity(len(X))
	for t := range cfg.Trees {
		// Partial Fisher-Yates: the first ψ entries become a uniform
		// sample without replacement, whatever order rows was left in.
		for i := range psi {
			j := i + g.rng.IntN(len(rows)-i)
			rows[i], rows[j] = rows[j], rows[i]
		}
		copy(g.sample, rows[:psi])
		g.grow(f.nodes[t*stride:(t+1)*stride], 0, 0, g.sample)
	}
	return f, nil
}

// checkTrainingSet returns the number of features, or what is wrong with X.
func checkTrainingSet(X [][]float64) (int, error) {
	if len(X) < 2 {
		return 0, fmt.Errorf("training an isolation forest needs at least 2 rows, got %d", len(X))
	}
	if len(X) > math.MaxInt32 {
		return 0, fmt.Errorf("training an isolation forest on %d rows: more than %d", len(X), math.MaxInt32)
	}
	d := len(X[0])
	if d == 0 || d > MaxFeatures {
		return 0, fmt.Errorf("training an isolation forest: row 0 has %d features, want 1 to %d", d, MaxFeatures)
	}
	for i, row := range X {
		if len(row) != d {
			return 0, fmt.Errorf("training an isolation forest: row %d has %d features, row 0 has %d", i, len(row), d)
		}
		for j, v := range row {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return 0, fmt.Errorf("training an isolation forest: row %d, feature %d is %v, not a finite number", i, j, v)
			}
		}
	}
	return d, nil
}

func identity(n int) []int32 {
	s := make([]int32, n)
	for i := range s {
		s[i] = int32(i)
	}
	return s
}

// grower holds what growing one tree needs, reused across trees.
type grower struct {
	X      [][]float64
	depth  int
	rng    *rand.Rand
	feats  []int32 // a permutation of feature indices, drawn from without replacement
	sample []int32
}

// grow builds the subtree rooted at slot of tree, at depth e, from the
// training rows in idx, which it reorders.
func (g *grower) grow(tree []node, slot, e int, idx []int32) {
	if e == g.depth || len(idx) <= 1 {
		fillExternal(tree, g.depth, slot, e, len(idx))
		return
	}
	q, lo, hi, ok := g.attribute(idx)
	if !ok {
		fillExternal(tree, g.depth, slot, e, len(idx))
		return
	}
	u := g.rng.Float64()
	p := lo + u*(hi-lo)
	if math.IsInf(hi-lo, 0) { // range beyond float64: interpolate without the difference
		p = lo*(1-u) + hi*u
	}
	if !(p < hi) { // rounding reached hi: keep the maximum on the right
		p = lo
	}
	// Partition: values <= p first. lo goes left and hi right, so both
	// sides are non-empty.
	i, j := 0, len(idx)
	for i < j {
		if g.X[idx[i]][q] <= p {
			i++
		} else {
			j--
			idx[i], idx[j] = idx[j], idx[i]
		}
	}
	tree[slot] = node{split: p, feature: int32(q)}
	g.grow(tree, 2*slot+1, e+1, idx[:i])
	g.grow(tree, 2*slot+2, e+1, idx[i:])
}

// attribute draws attributes uniformly without replacement until one is
// not constant over idx, returning it with its range; ok is false when
// every attribute is constant.
func (g *grower) attribute(idx []int32) (q int, lo, hi float64, ok bool) {
	for k := range g.feats {
		j := k + g.rng.IntN(len(g.feats)-k)
		g.feats[k], g.feats[j] = g.feats[j], g.feats[k]
		q = int(g.feats[k])
		lo, hi = g.X[idx[0]][q], g.X[idx[0]][q]
		for _, r := range idx[1:] {
			v := g.X[r][q]
			lo, hi = min(lo, v), max(hi, v)
		}
		if hi > lo {
			return q, lo, hi, true
		}
	}
	return 0, 0, 0, false
}

// fillExternal writes an external node at slot (depth e) of size training
// rows: pass-through nodes down to the height limit, and its path length
// e + c(size) in every bottom slot below it, so any walk through it ends
// with the right value.
func fillExternal(tree []node, depth, slot, e, size int) {
	leaf := node{split: float64(e) + AveragePathLength(size), feature: int32(size)}
	lo, hi := slot, slot
	for ; e < depth; e++ {
		for s := lo; s <= hi; s++ {
			tree[s] = node{split: math.Inf(1)}
		}
		lo, hi = 2*lo+1, 2*hi+2
	}
	for s := lo; s <= hi; s++ {
		tree[s] = leaf
	}
}
