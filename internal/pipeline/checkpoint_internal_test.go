package pipeline

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/shopstream/shopstream/internal/event"
	"github.com/shopstream/shopstream/internal/quality"
	"github.com/shopstream/shopstream/internal/store"
)

// blobScorer is a StatefulScorer whose state is a byte string.
type blobScorer struct{ state []byte }

func (b *blobScorer) Score(*event.Transaction, *store.Tx) {}
func (b *blobScorer) Replay(*store.Tx)                    {}
func (b *blobScorer) AppendState(dst []byte) []byte       { return append(dst, b.state...) }
func (b *blobScorer) RestoreState(state []byte) error     { b.state = bytes.Clone(state); return nil }

func TestPartStateRoundTrip(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		ids    int
		scorer StatefulScorer
	}{
		{"empty, no scorer", 0, nil},
		{"ids, no scorer", 7, nil},
		{"window full, scorer", 25, &blobScorer{state: []byte("fraud state \x00\xff")}},
		{"scorer with empty state", 3, &blobScorer{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := quality.NewDedup(10)
			for i := range tc.ids {
				d.Check(fmt.Sprintf("tx-%d", i))
			}
			b := encodePartState(nil, d, tc.scorer)
			ids, sc, err := decodePartState(b)
			if err != nil {
				t.Fatal(err)
			}
			if want := d.AppendIDs(nil); !slices.Equal(ids, want) {
				t.Fatalf("ids %v, want %v", ids, want)
			}
			switch {
			case tc.scorer == nil && sc != nil:
				t.Fatalf("scorer state %q from a checkpoint without one", sc)
			case tc.scorer != nil && (sc == nil || !bytes.Equal(sc, tc.scorer.AppendState(nil))):
				t.Fatalf("scorer state %q, want %q", sc, tc.scorer.AppendState(nil))
			}
			if again := encodePartState(nil, d, tc.scorer); !bytes.Equal(again, b) {
				t.Fatal("encoding is not deterministic")
			}
			for cut := range len(b) {
				if _, _, err := decodePartState(b[:cut]); !errors.Is(err, errBadCheckpoint) {
					t.Fatalf("truncated to %d bytes: err = %v, want errBadCheckpoint", cut, err)
				}
			}
		})
	}
}

// FuzzPartStateDecode: the checkpoint comes from the database; no bytes may
// crash the decoder or make it allocate without bound, and what it accepts
// re-encodes to the same content.
func FuzzPartStateDecode(f *testing.F) {
	d := quality.NewDedup(4)
	d.Check("a")
	d.Check("bb")
	f.Add(encodePartState(nil, d, nil))
	f.Add(encodePartState(nil, d, &blobScorer{state: []byte("xyz")}))
	f.Add([]byte("SSPC\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) >= 9 { // fix the checksum so mutations reach the decoder
			b = bytes.Clone(b)
			sum := crcPart(b[:len(b)-4])
			copy(b[len(b)-4:], sum[:])
		}
		ids, sc, err := decodePartState(b)
		if err != nil {
			if !errors.Is(err, errBadCheckpoint) {
				t.Fatalf("error %v does not wrap errBadCheckpoint", err)
			}
			return
		}
		d := quality.NewDedup(max(1, len(ids)))
		for _, id := range ids {
			if d.Check(id) != nil {
				return // repeated ids: no window holds them, nothing to compare
			}
		}
		var s StatefulScorer
		if sc != nil {
			s = &blobScorer{state: sc}
		}
		ids2, sc2, err := decodePartState(encodePartState(nil, d, s))
		if err != nil || !slices.Equal(ids2, ids) || !bytes.Equal(sc2, sc) || (sc2 == nil) != (sc == nil) {
			t.Fatalf("accepted %x but its re-encoding decodes to other content (%v)", b, err)
		}
	})
}

func crcPart(b []byte) [4]byte {
	s := crcOf(b)
	return [4]byte{byte(s), byte(s >> 8), byte(s >> 16), byte(s >> 24)}
}
