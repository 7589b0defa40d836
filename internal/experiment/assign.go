package experiment

import "strconv"

// fnv32a is the 32-bit FNV-1a hash of s.
func fnv32a(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}

// Hash maps a unit to a bucket in [0, 1) the way GrowthBook's SDKs do.
// Version 1 is fnv32a(value+seed) % 1000 / 1000; version 2, which spreads
// better, is fnv32a(decimal string of fnv32a(seed+value)) % 10000 / 10000.
// ok is false for an unknown version.
func Hash(seed, value string, version int) (bucket float64, ok bool) {
	switch version {
	case 1:
		return float64(fnv32a(value+seed)%1000) / 1000, true
	case 2:
		inner := fnv32a(seed + value)
		return float64(fnv32a(strconv.FormatUint(uint64(inner), 10))%10000) / 10000, true
	}
	return 0, false
}

// Range is a half-open bucket interval [Start, End) of one variant.
type Range struct{ Start, End float64 }

// BucketRanges splits [0, 1) between n variants by weights, each variant
// using the first coverage share of its interval, as GrowthBook does:
// coverage is clamped to [0, 1], and weights that are missing, of the wrong
// length or not summing to 1 (within 0.01) are replaced by equal weights.
func BucketRanges(n int, coverage float64, weights []float64) []Range {
	if n < 1 {
		return nil
	}
	coverage = min(max(coverage, 0), 1)
	if !validWeights(n, weights) {
		weights = make([]float64, n)
		for i := range weights {
			weights[i] = 1 / float64(n)
		}
	}
	out := make([]Range, n)
	cum := 0.0
	for i, w := range weights {
		out[i] = Range{Start: cum, End: cum + coverage*w}
		cum += w
	}
	return out
}

func validWeights(n int, w []float64) bool {
	if len(w) != n {
		return false
	}
	sum := 0.0
	for _, x := range w {
		sum += x
	}
	return sum >= 0.99 && sum <= 1.01
}

// ChooseVariation returns the variant whose range holds bucket, or -1 when
// the bucket falls outside every range (outside the coverage).
func ChooseVariation(bucket float64, ranges []Range) int {
	for i, r := range ranges {
		if bucket >= r.Start && bucket < r.End {
			return i
		}
	}
	return -1
}
