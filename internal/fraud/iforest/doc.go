// Package iforest is the isolation forest of Liu, Ting and Zhou,
// "Isolation Forest" (ICDM 2008, https://doi.org/10.1109/ICDM.2008.17),
// implemented exactly as published so that its detection figures can be
// checked against the paper's:
//
//   - each of t trees (default 100) is grown on a sub-sample of ψ rows
//     (default 256) drawn without replacement, or all rows when there are
//     fewer than ψ;
//   - a node splits on an attribute chosen uniformly at random, at a value
//     drawn uniformly between that attribute's minimum and maximum in the
//     node's sample, until a node holds one row or reaches the height
//     limit ⌈log₂ ψ⌉;
//   - a record's path length is the depth of the external node it lands in
//     plus c(size), the average path length of an unbuilt tree over the
//     size training rows that reached it, with
//     c(n) = 2H(n−1) − 2(n−1)/n, H(i) ≈ ln i + 0.5772156649, c(2) = 1,
//     c(1) = c(0) = 0;
//   - its anomaly score is s = 2^(−E[h]/c(ψ)): near 1 for anomalies, well
//     below 0.5 for normal records.
//
// One detail the paper leaves open: an attribute whose values in a node
// are all equal cannot separate anything. Such attributes are skipped and
// another is drawn, as scikit-learn does, so the choice is uniform among
// the attributes that can split; a node where every attribute is constant
// (duplicate rows) becomes an external node. Splitting on a constant
// attribute instead would send every row to one side and spend the height
// limit on nothing.
//
// Scoring sits on the hot path of every transaction, so the forest is laid
// out for it: all trees live in one flat node array, each tree a complete
// binary tree of height ⌈log₂ ψ⌉ in implicit (heap) order, so children are
// found by arithmetic and every walk takes exactly the same number of
// steps. An external node above the height limit is padded with
// pass-through nodes that send every record left, and its path length
// (depth + c(size)) is precomputed at the bottom, so scores are exactly
// those of the published trees. A walk of one tree is a chain of dependent
// loads; [Forest.Score] walks several trees at once and
// [Forest.ScoreBatch] several records at once so that those chains
// overlap. Neither allocates.
//
// Training is deterministic for a seed: all randomness comes from one
// math/rand/v2 PCG seeded from [Config.Seed]. The package is pure (no I/O
// beyond the io.Reader given to [ReadLabelledCSV]).
package iforest
