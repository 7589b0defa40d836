package iforest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// encodedForests returns forests of several shapes: ψ a power of two or
// not, fewer rows than ψ, duplicate rows with shallow external nodes.
func encodedForests(t testing.TB) map[string]*Forest {
	t.Helper()
	rng := rand.New(rand.NewPCG(10, 10))
	dup := make([][]float64, 40)
	for i := range dup {
		dup[i] = []float64{float64(i % 3), 1}
	}
	out := map[string]*Forest{}
	for name, tc := range map[string]struct {
		X   [][]float64
		cfg Config
	}{
		"default":    {gaussian(rng, 600, 6), Config{Seed: 1}},
		"small psi":  {gaussian(rng, 100, 2), Config{Trees: 9, SampleSize: 5, Seed: -7}},
		"few rows":   {gaussian(rng, 30, 3), Config{Trees: 4, Seed: 1 << 40}},
		"duplicates": {dup, Config{Trees: 5, Seed: 3}},
	} {
		f, err := Train(tc.X, tc.cfg)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out[name] = f
	}
	return out
}

func TestMarshalRoundTrip(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(11, 11))
	for name, f := range encodedForests(t) {
		b, err := f.MarshalBinary()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var g Forest
		if err := g.UnmarshalBinary(b); err != nil {
			t.Fatalf("%s: decoding what was just encoded: %v", name, err)
		}
		if g.Metadata() != f.Metadata() {
			t.Errorf("%s: metadata %+v after round trip, want %+v", name, g.Metadata(), f.Metadata())
		}
		for range 200 {
			x := make([]float64, f.meta.Features)
			for j := range x {
				x[j] = rng.NormFloat64() * 3
			}
			if a, b := f.Score(x), g.Score(x); a != b {
				t.Fatalf("%s: Score(%v) = %v before, %v after the round trip", name, x, a, b)
			}
		}
		b2, _ := g.MarshalBinary()
		if !bytes.Equal(b, b2) {
			t.Errorf("%s: re-encoding the decoded forest gives different bytes", name)
		}
		if name == "default" {
			t.Logf("default forest (100 trees, ψ 256, 6 features): %d bytes encoded, %d in memory", len(b), len(f.nodes)*16)
		}
	}
}

// TestDecodeByHand scores a forest written out byte by byte: one tree,
// ψ = 4, height limit 2, whose root splits feature 0 at 5 into an external
// node of 1 row (depth 1) and a node splitting feature 1 at 8 into
// external nodes of 2 and 1 rows (depth 2). So h(x) is 1 + c(1) = 1 left
// of the root, 2 + c(2) = 3 on the right's left, 2 + c(1) = 2 on its
// right, and s = 2^(−h/c(4)).
func TestDecodeByHand(t *testing.T) {
	t.Parallel()
	b := []byte("IFOR\x01")
	b = binary.AppendUvarint(b, 2) // features
	b = binary.AppendUvarint(b, 1) // trees
	b = binary.AppendUvarint(b, 4) // ψ
	b = binary.AppendUvarint(b, 9) // rows
	b = binary.AppendVarint(b, -1) // seed
	split := func(q uint64, v float64) {
		b = binary.AppendUvarint(b, q+1)
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
	}
	leaf := func(size uint64) { b = binary.AppendUvarint(b, 0); b = binary.AppendUvarint(b, size) }
	split(0, 5)
	leaf(1)
	split(1, 8)
	leaf(2)
	leaf(1)
	b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))

	var f Forest
	if err := f.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if want := (Metadata{Features: 2, Trees: 1, SampleSize: 4, Seed: -1, Rows: 9}); f.Metadata() != want {
		t.Errorf("Metadata = %+v, want %+v", f.Metadata(), want)
	}
	c4 := AveragePathLength(4)
	for _, tc := range []struct {
		x []float64
		h float64
	}{
		{[]float64{0, 100}, 1},
		{[]float64{5, 100}, 1}, // equal to the split goes left
		{[]float64{6, 0}, 3},
		{[]float64{6, 8}, 3},
		{[]float64{6, 9}, 2},
		{[]float64{math.NaN(), 9}, 1}, // NaN goes left
	} {
		if got, want := f.Score(tc.x), math.Exp2(-tc.h/c4); got != want {
			t.Errorf("Score(%v) = %v, want 2^(−%v/c(4)) = %v", tc.x, got, tc.h, want)
		}
	}
	again, _ := f.MarshalBinary()
	if !bytes.Equal(again, b) {
		t.Errorf("re-encoded:\n%x\nwant\n%x", again, b)
	}
}

func TestUnmarshalErrors(t *testing.T) {
	t.Parallel()
	valid, err := encodedForests(t)["small psi"].MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	withCRC := func(b []byte) []byte {
		return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
	}
	header := func(features, trees, psi, rows uint64) []byte {
		b := []byte("IFOR\x01")
		for _, v := range []uint64{features, trees, psi, rows} {
			b = binary.AppendUvarint(b, v)
		}
		return binary.AppendVarint(b, 0)
	}
	flip := func(i int) []byte {
		b := bytes.Clone(valid)
		b[i] ^= 0x40
		return b
	}
	for _, tc := range []struct {
		name string
		data []byte
		want string
		err  error
	}{
		{"empty", nil, "does not start with", ErrBadEncoding},
		{"magic", []byte("JSON{}"), "does not start with", ErrBadEncoding},
		{"version", []byte("IFOR\x02rest"), "2 (this code reads 1)", ErrUnsupportedVersion},
		{"too short", []byte("IFOR\x01\x05"), "too short", ErrBadEncoding},
		{"truncated header", withCRC([]byte("IFOR\x01\x05")), "trees at byte 6 is truncated", ErrBadEncoding},
		{"zero features", withCRC(header(0, 1, 4, 9)), "0 features", ErrBadEncoding},
		{"zero trees", withCRC(header(2, 0, 4, 9)), "0 trees", ErrBadEncoding},
		{"psi 1", withCRC(header(2, 1, 1, 9)), "sample size 1", ErrBadEncoding},
		{"rows below psi", withCRC(header(2, 1, 4, 3)), "3 training rows for sample size 4", ErrBadEncoding},
		{"too many nodes", withCRC(header(2, 10000, 1<<16, 1<<20)), "limit", ErrBadEncoding},
		{"trees cannot fit", withCRC(header(2, 50, 4, 9)), "50 trees cannot fit", ErrBadEncoding},
		{"feature out of range", withCRC(append(header(2, 1, 4, 9), 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0)), "split on feature 2 of 2", ErrBadEncoding},
		{"NaN split", withCRC(append(header(2, 1, 4, 9), 1, 0, 0, 0, 0, 0, 0, 0xf8, 0x7f, 0, 1, 0, 3)), "split value NaN", ErrBadEncoding},
		{"sizes short", withCRC(append(header(2, 1, 4, 9), 0, 3)), "add up to 3, not the sample size 4", ErrBadEncoding},
		{"sizes over", withCRC(append(header(2, 1, 4, 9), 0, 5)), "external node of size 5", ErrBadEncoding},
		{"below height limit", withCRC(append(header(1, 1, 2, 9), 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0)), "internal node below the height limit 1", ErrBadEncoding},
		{"checksum", flip(len(valid) - 1), "checksum", ErrBadEncoding},
		{"damaged body", flip(len(valid) / 2), "checksum", ErrBadEncoding},
		{"cut short", valid[:len(valid)-9], "checksum", ErrBadEncoding},
		{"trailing bytes", withCRC(append(bytes.Clone(valid[:len(valid)-4]), 0)), "1 bytes between the last tree and the checksum", ErrBadEncoding},
		{"cut short, checksum fixed", withCRC(valid[:len(valid)-9]), "", ErrBadEncoding},
	} {
		var f Forest
		err := f.UnmarshalBinary(tc.data)
		if !errors.Is(err, tc.err) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %v mentioning %q", tc.name, err, tc.err, tc.want)
		}
		if f.meta.Trees != 0 || f.nodes != nil {
			t.Errorf("%s: failed decode changed the forest", tc.name)
		}
	}
}

func TestMarshalZeroForest(t *testing.T) {
	t.Parallel()
	if _, err := new(Forest).MarshalBinary(); err == nil {
		t.Error("encoding a zero Forest succeeded")
	}
}

// FuzzUnmarshal: no input may panic the decoder or yield a forest that
// panics when scoring; whatever decodes must re-encode to bytes that decode
// to a forest scoring identically. Each input is tried as it is and with a
// correct checksum appended, so mutations reach the parser behind the
// checksum.
func FuzzUnmarshal(f *testing.F) {
	for _, forest := range encodedForests(f) {
		if forest.meta.Trees > 10 {
			continue // keep the corpus small so mutations stay fast
		}
		b, _ := forest.MarshalBinary()
		f.Add(b[:len(b)-4])
	}
	f.Add([]byte("IFOR\x01"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		decodeChecked(t, data)
		decodeChecked(t, binary.LittleEndian.AppendUint32(bytes.Clone(data), crc32.Checksum(data, castagnoli)))
	})
}

func decodeChecked(t *testing.T, data []byte) {
	var g Forest
	if err := g.UnmarshalBinary(data); err != nil {
		if !errors.Is(err, ErrBadEncoding) && !errors.Is(err, ErrUnsupportedVersion) {
			t.Fatalf("error %v wraps neither ErrBadEncoding nor ErrUnsupportedVersion", err)
		}
		return
	}
	b, err := g.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var h Forest
	if err := h.UnmarshalBinary(b); err != nil {
		t.Fatalf("re-encoded forest does not decode: %v", err)
	}
	if h.Metadata() != g.Metadata() {
		t.Fatalf("metadata %+v, but %+v after a round trip", g.Metadata(), h.Metadata())
	}
	rng := rand.New(rand.NewPCG(1, 2))
	x := make([]float64, g.meta.Features)
	for range 5 {
		for j := range x {
			x[j] = rng.NormFloat64() * 10
		}
		s := g.Score(x)
		if s != h.Score(x) {
			t.Fatalf("Score(%v) = %v, but %v after a round trip", x, s, h.Score(x))
		}
		if !(s > 0 && s <= 1) {
			t.Fatalf("Score(%v) = %v, outside (0, 1]", x, s)
		}
	}
}
