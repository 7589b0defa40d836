package pipeline

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/event"
	"github.com/shopstream/shopstream/internal/quality"
	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/sqlite"
	"github.com/shopstream/shopstream/internal/store/storetest"
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
		// The state's length at the edges of its uvarint's sizes (it is
		// written in place, then moved back over the room it left).
		{"state of 127 bytes", 2, &blobScorer{state: bytes.Repeat([]byte{7}, 127)}},
		{"state of 128 bytes", 2, &blobScorer{state: bytes.Repeat([]byte{8}, 128)}},
		{"state of 16,384 bytes", 2, &blobScorer{state: bytes.Repeat([]byte{9}, 16384)}},
		{"state of 2 MiB and 5 bytes", 2, &blobScorer{state: bytes.Repeat([]byte{1, 2, 3}, (2<<20+5)/3)}},
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
			// The layout checkpoints stored by earlier builds have.
			want := append([]byte(partCheckpointMagic), partCheckpointVersion)
			want = binary.AppendUvarint(want, uint64(len(d.AppendIDs(nil))))
			for _, id := range d.AppendIDs(nil) {
				want = append(binary.AppendUvarint(want, uint64(len(id))), id...)
			}
			if tc.scorer == nil {
				want = append(want, 0)
			} else {
				st := tc.scorer.AppendState(nil)
				want = append(binary.AppendUvarint(append(want, 1), uint64(len(st))), st...)
			}
			want = binary.LittleEndian.AppendUint32(want, crcOf(want))
			if !bytes.Equal(b, want) {
				t.Fatalf("encoded %d bytes, not the version %d layout (%d bytes)", len(b), partCheckpointVersion, len(want))
			}
			for cut := 0; cut < len(b); cut++ {
				if cut > 100 && cut < len(b)-100 {
					cut += len(b) / 1000 // a large state: its ends, and a thousand cuts between
				}
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

// The partitions of a processor, fed together, are checkpointed at
// different moments after their first checkpoint, by time and by records,
// and each keeps its spacing after.
func TestCheckpointsStaggered(t *testing.T) {
	t.Parallel()
	for _, by := range []string{"time", "records"} {
		t.Run(by, func(t *testing.T) {
			cfg := Config{CheckpointInterval: time.Minute, CheckpointRecords: 1 << 40}
			if by == "records" {
				cfg = Config{CheckpointInterval: 1 << 62, CheckpointRecords: 8000}
			}
			p := &Processor{cfg: cfg, log: slog.New(slog.DiscardHandler)}
			t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
			const parts = 4
			ps := make([]partState, parts)
			due := map[int32][]int{}
			// A batch of 100 records a second for each partition, 5
			// minutes; the first batch of each is checkpointed (nothing was).
			for s := range 300 {
				for i := range int32(parts) {
					if ps[i].dedup == nil {
						ps[i].dedup = quality.NewDedup(10)
					}
					part := &store.Part{Partition: i, From: int64(s * 100), To: int64(s*100 + 100), Txs: make([]store.Tx, 100)}
					p.maybeCheckpoint(&ps[i], part, t0.Add(time.Duration(s)*time.Second))
					if part.Checkpoint != nil {
						due[i] = append(due[i], s)
					}
				}
			}
			seconds := map[int]int32{}
			for i := range int32(parts) {
				d := due[i]
				if len(d) < 3 || d[0] != 0 {
					t.Fatalf("partition %d checkpointed at seconds %v, want the first batch and two more at least", i, d)
				}
				if j, ok := seconds[d[1]]; ok {
					t.Fatalf("partitions %d and %d both checkpointed again at second %d: %v", j, i, d[1], due)
				}
				seconds[d[1]] = i
				for k := 2; k < len(d); k++ {
					if d[k]-d[k-1] != 60 && by == "time" || d[k]-d[k-1] != 80 && by == "records" {
						t.Fatalf("partition %d checkpointed at seconds %v: not every interval after the first two", i, d)
					}
				}
			}
		})
	}
}

// countingScorer is a StatefulScorer of records whose state is perRecord
// bytes a record, and that notes how much room the buffer it is asked to
// append to had.
type countingScorer struct {
	blobScorer
	records, perRecord int
	room, wrote        int
}

func (c *countingScorer) StateRecords() int { return c.records }
func (c *countingScorer) AppendState(dst []byte) []byte {
	c.room = cap(dst) - len(dst)
	c.wrote = c.records * c.perRecord
	return append(dst, make([]byte, c.wrote)...)
}

// TestCheckpointBufferSizedByRecords: a partition's checkpoint is encoded
// into a buffer with room for its state, sized by the bytes per record of
// the last checkpoint, so a state that grew tenfold since is not copied
// into larger and larger buffers; without a count of records the last
// checkpoint's size sizes it.
func TestCheckpointBufferSizedByRecords(t *testing.T) {
	t.Parallel()
	p := &Processor{cfg: Config{CheckpointRecords: 1, CheckpointInterval: time.Hour}, log: slog.New(slog.DiscardHandler)}
	sc := &countingScorer{records: 100, perRecord: 40}
	ps := &partState{dedup: quality.NewDedup(10), scorer: sc}
	now := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	checkpoint := func(to int64) {
		part := &store.Part{From: to - 1, To: to, Txs: []store.Tx{{}}}
		p.maybeCheckpoint(ps, part, now)
		if part.Checkpoint == nil {
			t.Fatalf("no checkpoint at offset %d", to)
		}
	}
	checkpoint(1)
	sc.records = 1000
	checkpoint(2)
	if sc.room < sc.wrote {
		t.Errorf("the state grew tenfold: its %d bytes were appended with room for %d", sc.wrote, sc.room)
	}
	if sc.room > sc.wrote*5/4 {
		t.Errorf("room for %d bytes for a state of %d: more than a quarter spare", sc.room, sc.wrote)
	}
}

// TestCheckpointBufferSizedAfterRestore: the first checkpoint after a
// restore is sized by the bytes per record of the checkpoint restored
// (counted before the tail is replayed), not by its size alone.
func TestCheckpointBufferSizedAfterRestore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	stored := &countingScorer{records: 100, perRecord: 40}
	cp := encodePartState(nil, quality.NewDedup(10), stored)
	tx := storetest.Tx("t0", "c", time.Now(), 100, 0, 0)
	if err := st.WriteBatch(ctx, &store.Batch{Group: "g", Topic: "t", Parts: []store.Part{{Partition: 0, From: 0, To: 1, Txs: []store.Tx{tx}, Checkpoint: cp}}}); err != nil {
		t.Fatal(err)
	}
	sc := &countingScorer{records: 100, perRecord: 40} // what RestoreState leaves: the stored state's records
	p := &Processor{cfg: Config{Store: st, Group: "g", Topic: "t", DedupWindow: 10, CheckpointRecords: 1, CheckpointInterval: time.Hour,
		Now: time.Now, NewScorer: func(int32) Scorer { return sc }}, log: slog.New(slog.DiscardHandler)}
	ps := &partState{}
	if !p.restoreCheckpoint(ctx, ps, 0, 1) {
		t.Fatal("the stored checkpoint was not restored")
	}
	sc.records = 1000
	part := &store.Part{From: 1, To: 2, Txs: []store.Tx{{}}}
	p.maybeCheckpoint(ps, part, time.Now())
	if part.Checkpoint == nil {
		t.Fatal("no checkpoint")
	}
	if sc.room < sc.wrote {
		t.Errorf("the state grew tenfold since the restore: its %d bytes were appended with room for %d", sc.wrote, sc.room)
	}
}
