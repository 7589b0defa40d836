package store

import (
	"encoding/binary"
	"errors"
	"hash/fnv"
	"math"
	"math/bits"
	"slices"
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
	idx, rank := register(id)
	if rank > s.reg[idx] {
		s.reg[idx] = rank
	}
}

// MergeEncoded returns the encoding of the union of two encoded sketches,
// as a Sketch that merged both would encode it, byte for byte. Two sparse
// ones (most rows of the product rollup) are merged entry by entry
// without the 1,024 registers.
func MergeEncoded(a, b []byte) ([]byte, error) {
	if len(a) == 0 || len(b) == 0 || a[0] != sketchSparse || b[0] != sketchSparse || (len(a)-1)%2 != 0 || (len(b)-1)%2 != 0 {
		return mergeDense(a, b)
	}
	out := make([]byte, 1, len(a)+len(b)-1)
	out[0] = sketchSparse
	i, j := 1, 1
	last := -1
	for i < len(a) || j < len(b) {
		var e uint16
		switch {
		case j >= len(b):
			e, i = binary.BigEndian.Uint16(a[i:]), i+2
		case i >= len(a):
			e, j = binary.BigEndian.Uint16(b[j:]), j+2
		default:
			ea, eb := binary.BigEndian.Uint16(a[i:]), binary.BigEndian.Uint16(b[j:])
			switch {
			case ea>>6 < eb>>6:
				e, i = ea, i+2
			case eb>>6 < ea>>6:
				e, j = eb, j+2
			default:
				e, i, j = max(ea, eb), i+2, j+2 // one index: the higher rank
			}
		}
		if int(e>>6) <= last || e&63 == 0 {
			// Not as Encode writes them (sorted by index, one entry per
			// index, no rank 0): merged register by register instead.
			return mergeDense(a, b)
		}
		last = int(e >> 6)
		out = binary.BigEndian.AppendUint16(out, e)
	}
	if (len(out)-1)/2 >= sketchDenseAt {
		return mergeDense(out, nil)
	}
	return out, nil
}

// mergeDense is MergeEncoded through the registers.
func mergeDense(a, b []byte) ([]byte, error) {
	var s Sketch
	if err := s.Merge(a); err != nil {
		return nil, err
	}
	if err := s.Merge(b); err != nil {
		return nil, err
	}
	return s.Encode(), nil
}

// register is the register a customer ID sets, and its rank.
func register(id string) (idx uint16, rank uint8) {
	h := fnv.New64a()
	h.Write([]byte(id))
	x := mix64(h.Sum64())
	return uint16(x >> (64 - sketchP)), uint8(bits.LeadingZeros64(x<<sketchP|1<<(sketchP-1))) + 1
}

// smallSketchMax is how many registers a smallSketch lists before it
// turns into a Sketch; below sketchDenseAt, so a listed one always
// encodes sparse.
const smallSketchMax = 32

// smallSketch is a Sketch being built that takes the room of the
// registers it set while they are few, as most of a product fold's rows
// are (an hour of one product: a customer or two): a Sketch is 1 KiB
// however few it holds, and encoding it reads every register. It encodes
// as a Sketch of the same customers does, byte for byte.
type smallSketch struct {
	set   []uint16 // register index << 6 | rank, one per index
	dense *Sketch  // once more than smallSketchMax are set
}

// Add adds a customer ID.
func (s *smallSketch) Add(id string) {
	if s.dense != nil {
		s.dense.Add(id)
		return
	}
	idx, rank := register(id)
	s.set1(idx, rank)
}

// set1 raises register idx to rank.
func (s *smallSketch) set1(idx uint16, rank uint8) {
	if s.dense != nil {
		if rank > s.dense.reg[idx] {
			s.dense.reg[idx] = rank
		}
		return
	}
	for i, e := range s.set {
		if e>>6 == idx {
			if uint16(rank) > e&63 {
				s.set[i] = idx<<6 | uint16(rank)
			}
			return
		}
	}
	if len(s.set) < smallSketchMax {
		s.set = append(s.set, idx<<6|uint16(rank))
		return
	}
	s.dense = new(Sketch)
	for _, e := range s.set {
		s.dense.reg[e>>6] = uint8(e & 63)
	}
	s.dense.reg[idx] = rank
	s.set = nil
}

// Encode returns s encoded, as Sketch.Encode does.
func (s *smallSketch) Encode() []byte {
	if s.dense != nil {
		return s.dense.Encode()
	}
	slices.Sort(s.set) // by index: one entry per index
	out := make([]byte, 1, 1+2*len(s.set))
	out[0] = sketchSparse
	for _, e := range s.set {
		out = binary.BigEndian.AppendUint16(out, e)
	}
	return out
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
