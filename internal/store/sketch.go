package store

import (
	"encoding/binary"
	"errors"
	"hash/fnv"
	"math"
	"math/bits"
)

// A customer sketch is a HyperLogLog of customer IDs (2^10 registers: a
// standard error of about 3.25%, nearly exact below a few thousand), kept
// with each product rollup row (ProductWindow) so that the distinct
// customers of any set of rows is the estimate of their sketches' union.
// Merging is idempotent: adding a customer twice changes nothing.
//
// Encoded, a sketch is one format byte and then either sparse entries
// (sketchSparse: sorted big-endian uint16s, register index << 6 | rank,
// for sketches of fewer than sketchDenseAt registers set) or the 1,024
// registers (sketchDense).
const (
	sketchP       = 10
	sketchM       = 1 << sketchP
	sketchSparse  = 1
	sketchDense   = 2
	sketchDenseAt = sketchM / 2
)

// ErrBadSketch is a stored sketch that cannot be decoded.
var ErrBadSketch = errors.New("bad customer sketch")

// Sketch is a customer sketch's registers being built or merged.
type Sketch struct {
	reg [sketchM]uint8
}

// Add adds a customer ID.
func (s *Sketch) Add(id string) {
	h := fnv.New64a()
	h.Write([]byte(id))
	x := mix64(h.Sum64())
	idx := x >> (64 - sketchP)
	rank := uint8(bits.LeadingZeros64(x<<sketchP|1<<(sketchP-1))) + 1
	if rank > s.reg[idx] {
		s.reg[idx] = rank
	}
}

// mix64 is splitmix64's finaliser: FNV's high bits alone are not uniform
// enough for the register index.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// Merge adds an encoded sketch to s (the union of both).
func (s *Sketch) Merge(enc []byte) error {
	if len(enc) == 0 {
		return nil
	}
	switch enc[0] {
	case sketchSparse:
		if (len(enc)-1)%2 != 0 {
			return ErrBadSketch
		}
		for i := 1; i < len(enc); i += 2 {
			e := binary.BigEndian.Uint16(enc[i:])
			idx, rank := e>>6, uint8(e&63)
			if rank > s.reg[idx] {
				s.reg[idx] = rank
			}
		}
	case sketchDense:
		if len(enc) != 1+sketchM {
			return ErrBadSketch
		}
		for i, r := range enc[1:] {
			if r > s.reg[i] {
				s.reg[i] = r
			}
		}
	default:
		return ErrBadSketch
	}
	return nil
}

// Encode returns s encoded, sparse while few registers are set.
func (s *Sketch) Encode() []byte {
	n := 0
	for _, r := range s.reg {
		if r != 0 {
			n++
		}
	}
	if n >= sketchDenseAt {
		return append([]byte{sketchDense}, s.reg[:]...)
	}
	out := make([]byte, 1, 1+2*n)
	out[0] = sketchSparse
	for i, r := range s.reg {
		if r != 0 {
			out = binary.BigEndian.AppendUint16(out, uint16(i)<<6|uint16(r))
		}
	}
	return out
}

// Estimate is the number of distinct customers added: HyperLogLog's
// estimate, by linear counting while it is small (below 2.5 × 1,024),
// rounded.
func (s *Sketch) Estimate() int64 {
	sum, zeros := 0.0, 0
	for _, r := range s.reg {
		sum += math.Ldexp(1, -int(r))
		if r == 0 {
			zeros++
		}
	}
	m := float64(sketchM)
	e := 0.7213 / (1 + 1.079/m) * m * m / sum
	if e <= 2.5*m && zeros > 0 {
		e = m * math.Log(m/float64(zeros))
	}
	return int64(math.Round(e))
}
