package iforest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
)

// Encoding, version 1. Forests are stored in the database next to their
// metrics, so the format is versioned, compact and checked:
//
//	"IFOR"                         magic
//	0x01                           version
//	uvarint features, trees, ψ, rows
//	varint  seed
//	trees × tree, each its real nodes in preorder (no padding):
//	  uvarint 0, uvarint size      external node of size training rows
//	  uvarint q+1, 8 bytes split   internal node on feature q, IEEE 754 little-endian
//	4 bytes CRC-32C (Castagnoli) of everything before, little-endian
//
// Path lengths are not stored: the decoder recomputes depth + c(size), so an
// encoding cannot carry a value inconsistent with its tree.
const (
	binaryMagic   = "IFOR"
	binaryVersion = 1
)

// ErrBadEncoding is wrapped by every error from [Forest.UnmarshalBinary]
// about its input, as opposed to a version this code cannot read.
var ErrBadEncoding = errors.New("malformed isolation forest encoding")

// ErrUnsupportedVersion is returned for an encoding from a newer (or
// unknown) format version, so a caller can tell "upgrade the reader" from
// "the stored bytes are damaged".
var ErrUnsupportedVersion = errors.New("unsupported isolation forest encoding version")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// MarshalBinary encodes f in the current format version. It fails only
// for a zero Forest, which has no trees to encode.
func (f *Forest) MarshalBinary() ([]byte, error) {
	m := f.meta
	if m.Trees == 0 {
		return nil, errors.New("encoding an isolation forest: it has no trees (a zero Forest, not from Train or UnmarshalBinary)")
	}
	b := make([]byte, 0, 32+len(f.nodes)*6)
	b = append(b, binaryMagic...)
	b = append(b, binaryVersion)
	b = binary.AppendUvarint(b, uint64(m.Features))
	b = binary.AppendUvarint(b, uint64(m.Trees))
	b = binary.AppendUvarint(b, uint64(m.SampleSize))
	b = binary.AppendUvarint(b, uint64(m.Rows))
	b = binary.AppendVarint(b, m.Seed)
	stride := treeNodes(f.depth)
	for t := range m.Trees {
		b = f.appendNode(b, f.nodes[t*stride:(t+1)*stride], 0, 0)
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli)), nil
}

// appendNode encodes the real subtree at slot (depth e), skipping padding.
func (f *Forest) appendNode(b []byte, tree []node, slot, e int) []byte {
	if e == f.depth || math.IsInf(tree[slot].split, 1) {
		// External: its size sits in every bottom slot below it; take the
		// leftmost.
		for ; e < f.depth; e++ {
			slot = 2*slot + 1
		}
		b = binary.AppendUvarint(b, 0)
		return binary.AppendUvarint(b, uint64(tree[slot].feature))
	}
	n := tree[slot]
	b = binary.AppendUvarint(b, uint64(n.feature)+1)
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(n.split))
	b = f.appendNode(b, tree, 2*slot+1, e+1)
	return f.appendNode(b, tree, 2*slot+2, e+1)
}

// UnmarshalBinary replaces f with the forest encoded in data. Every field
// is checked before it is trusted, so arbitrary bytes produce an error,
// never a panic or a forest that scores out of bounds; allocation is
// bounded by MaxNodes. On error f is unchanged.
func (f *Forest) UnmarshalBinary(data []byte) error {
	var d decoder
	if len(data) < len(binaryMagic)+1 || string(data[:len(binaryMagic)]) != binaryMagic {
		return fmt.Errorf("%w: does not start with %q", ErrBadEncoding, binaryMagic)
	}
	if v := data[len(binaryMagic)]; v != binaryVersion {
		return fmt.Errorf("%w: %d (this code reads %d)", ErrUnsupportedVersion, v, binaryVersion)
	}
	// The checksum first: damaged bytes are reported as damage, not as
	// whichever field the damage happened to hit.
	if len(data) < len(binaryMagic)+1+4 {
		return fmt.Errorf("%w: %d bytes, too short for a header and checksum", ErrBadEncoding, len(data))
	}
	body := data[:len(data)-4]
	if want, got := binary.LittleEndian.Uint32(data[len(body):]), crc32.Checksum(body, castagnoli); got != want {
		return fmt.Errorf("%w: checksum %08x, stored %08x", ErrBadEncoding, got, want)
	}
	d.b, d.off = body, len(binaryMagic)+1
	var m Metadata
	features := d.uvarint("features")
	trees := d.uvarint("trees")
	psi := d.uvarint("sample size")
	rows := d.uvarint("rows")
	m.Seed = d.varint("seed")
	switch {
	case d.err != nil:
		return d.err
	case features < 1 || features > MaxFeatures:
		return fmt.Errorf("%w: %d features, want 1 to %d", ErrBadEncoding, features, MaxFeatures)
	case trees < 1 || trees > MaxTrees:
		return fmt.Errorf("%w: %d trees, limit %d", ErrBadEncoding, trees, MaxTrees)
	case psi < 2 || psi > MaxSampleSize:
		return fmt.Errorf("%w: sample size %d outside [2, %d]", ErrBadEncoding, psi, MaxSampleSize)
	case rows < psi || rows > math.MaxInt32:
		return fmt.Errorf("%w: %d training rows for sample size %d", ErrBadEncoding, rows, psi)
	}
	m.Features, m.Trees, m.SampleSize, m.Rows = int(features), int(trees), int(psi), int(rows)
	if err := checkNodes(m.Trees, m.SampleSize); err != nil {
		return fmt.Errorf("%w: %v", ErrBadEncoding, err)
	}
	// Every tree takes at least two bytes; refuse before allocating for
	// trees that cannot be there.
	if rest := len(body) - d.off; rest < 2*m.Trees {
		return fmt.Errorf("%w: %d trees cannot fit in the %d bytes that follow the header", ErrBadEncoding, m.Trees, rest)
	}
	depth := heightLimit(m.SampleSize)
	stride := treeNodes(depth)
	nodes := make([]node, m.Trees*stride)
	for t := range m.Trees {
		tr := treeDecoder{decoder: &d, tree: nodes[t*stride : (t+1)*stride], depth: depth, features: m.Features, psi: m.SampleSize}
		tr.node(0, 0)
		if d.err == nil && tr.size != m.SampleSize {
			d.err = fmt.Errorf("%w: external node sizes add up to %d, not the sample size %d", ErrBadEncoding, tr.size, m.SampleSize)
		}
		if d.err != nil {
			return fmt.Errorf("tree %d: %w", t, d.err)
		}
	}
	if rest := len(body) - d.off; rest != 0 {
		return fmt.Errorf("%w: %d bytes between the last tree and the checksum", ErrBadEncoding, rest)
	}
	*f = Forest{
		nodes:   nodes,
		depth:   depth,
		invNorm: -1 / (float64(m.Trees) * AveragePathLength(m.SampleSize)),
		meta:    m,
	}
	return nil
}

// decoder reads varints, remembering the first error.
type decoder struct {
	b   []byte
	off int
	err error
}

func (d *decoder) uvarint(what string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.off:])
	if n <= 0 {
		d.err = fmt.Errorf("%w: %s at byte %d is truncated or overflows", ErrBadEncoding, what, d.off)
		return 0
	}
	d.off += n
	return v
}

func (d *decoder) varint(what string) int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b[d.off:])
	if n <= 0 {
		d.err = fmt.Errorf("%w: %s at byte %d is truncated or overflows", ErrBadEncoding, what, d.off)
		return 0
	}
	d.off += n
	return v
}

func (d *decoder) float64(what string) float64 {
	if d.err != nil {
		return 0
	}
	if len(d.b)-d.off < 8 {
		d.err = fmt.Errorf("%w: %s at byte %d is truncated", ErrBadEncoding, what, d.off)
		return 0
	}
	v := math.Float64frombits(binary.LittleEndian.Uint64(d.b[d.off:]))
	d.off += 8
	return v
}

// treeDecoder rebuilds one tree's padded layout from its preorder encoding.
type treeDecoder struct {
	*decoder
	tree     []node
	depth    int
	features int
	psi      int
	size     int // training rows in the external nodes so far
}

func (t *treeDecoder) node(slot, e int) {
	tag := t.uvarint("node")
	if t.err != nil {
		return
	}
	if tag == 0 {
		size := t.uvarint("external node size")
		if t.err != nil {
			return
		}
		if size < 1 || size > uint64(t.psi-t.size) {
			t.err = fmt.Errorf("%w: external node of size %d at byte %d; %d of %d sample rows left",
				ErrBadEncoding, size, t.off, t.psi-t.size, t.psi)
			return
		}
		t.size += int(size)
		fillExternal(t.tree, t.depth, slot, e, int(size))
		return
	}
	if e == t.depth {
		t.err = fmt.Errorf("%w: internal node below the height limit %d at byte %d", ErrBadEncoding, t.depth, t.off)
		return
	}
	if tag > uint64(t.features) {
		t.err = fmt.Errorf("%w: split on feature %d of %d at byte %d", ErrBadEncoding, tag-1, t.features, t.off)
		return
	}
	split := t.float64("split")
	if t.err != nil {
		return
	}
	if math.IsNaN(split) || math.IsInf(split, 0) {
		t.err = fmt.Errorf("%w: split value %v at byte %d", ErrBadEncoding, split, t.off-8)
		return
	}
	t.tree[slot] = node{split: split, feature: int32(tag - 1)}
	t.node(2*slot+1, e+1)
	t.node(2*slot+2, e+1)
}
