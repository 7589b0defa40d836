package fraud

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/event"
)

// checkpointStream is a deterministic stream over few enough customers,
// cards, devices and IP addresses that they recur, with a late event now
// and then and a gap of two days in the middle (so Expire drops keys).
func checkpointStream(n int) []*event.Transaction {
	rng := rand.New(rand.NewPCG(7, 11))
	at := time.Duration(0)
	out := make([]*event.Transaction, 0, n)
	for i := range n {
		at += time.Duration(rng.IntN(600)) * time.Second
		if i == n/2 {
			at += 48 * time.Hour
		}
		when := at
		if rng.IntN(20) == 0 {
			when -= time.Duration(rng.IntN(3600)) * time.Second // late
		}
		x := txn{
			cust:   fmt.Sprintf("c%d", rng.IntN(40)),
			at:     when,
			cents:  event.Cents(100 + rng.IntN(50_000)),
			device: fmt.Sprintf("d%d", rng.IntN(25)),
			ip:     fmt.Sprintf("%d.0.0.%d", 1+rng.IntN(3), rng.IntN(9)),
			ship:   []string{"US", "DE", "FR", "NG"}[rng.IntN(4)],
		}
		if rng.IntN(4) != 0 {
			x.card = fmt.Sprintf("%s/%04d", []string{"411111", "522222"}[rng.IntN(2)], rng.IntN(30))
		}
		t := x.event()
		t.TransactionID = fmt.Sprintf("t%d", i)
		out = append(out, t)
	}
	return out
}

// TestCheckpointResumesExactly is the promise recovery rests on: a State
// restored from a checkpoint taken at any point, fed the rest of the
// stream, scores every later transaction exactly as a State that never
// stopped, and ends in the same state.
func TestCheckpointResumesExactly(t *testing.T) {
	t.Parallel()
	stream := checkpointStream(2000)
	for _, tc := range []struct {
		name   string
		cut    int
		expire bool // the live state sweeps idle keys as the detector does
	}{
		{"empty state", 0, false},
		{"after one transaction", 1, false},
		{"mid stream", 777, false},
		{"after the two-day gap", 1001, true},
		{"near the end", 1999, true},
		{"at the end", 2000, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			step := func(s *State, i int, tx *event.Transaction) Features {
				f := s.Features(tx)
				s.Update(tx, &f)
				if tc.expire && i%100 == 99 {
					s.Expire(tx.EventTime)
				}
				return f
			}
			live := testState(t)
			for i, tx := range stream[:tc.cut] {
				step(live, i, tx)
			}
			cp, err := live.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			restored := testState(t)
			if err := restored.UnmarshalBinary(cp); err != nil {
				t.Fatalf("restoring a checkpoint of %d bytes: %v", len(cp), err)
			}
			if again, _ := restored.MarshalBinary(); !bytes.Equal(again, cp) {
				t.Fatalf("restored state encodes differently (%d bytes, want %d)", len(again), len(cp))
			}
			for i := tc.cut; i < len(stream); i++ {
				a, b := step(live, i, stream[i]), step(restored, i, stream[i])
				if a.Values != b.Values {
					t.Fatalf("transaction %d scored differently after restore:\nlive     %v\nrestored %v", i, a.Values, b.Values)
				}
			}
			// Compared by contents: their slots differ (the restored
			// tables are compact; the live one reuses the slots Expire
			// freed).
			if !bytes.Equal(sortedEncoding(live), sortedEncoding(restored)) {
				t.Fatal("states differ at the end of the stream")
			}
			if lc, ld, lk, li := live.Len(); tc.cut > 0 && lc+ld+lk+li == 0 {
				t.Fatal("live state is empty: the test exercises nothing")
			}
		})
	}
}

// TestCheckpointIsDeterministic: states built by different routes to the
// same contents (scored live, replayed) encode to the same bytes.
func TestCheckpointIsDeterministic(t *testing.T) {
	t.Parallel()
	stream := checkpointStream(500)
	a, b := testState(t), testState(t)
	for _, tx := range stream {
		f := a.Features(tx)
		a.Update(tx, &f)
		b.Update(tx, nil)
	}
	x, _ := a.MarshalBinary()
	y, _ := b.MarshalBinary()
	if !bytes.Equal(x, y) {
		t.Fatal("the same state encodes to different bytes")
	}
	if len(x) > 300*a.custs.len()+200*(a.devices.len()+a.cards.len()+a.ips.len())+100 {
		t.Errorf("checkpoint of %d bytes is not compact", len(x))
	}
}

// TestCheckpointEncodesInParallelAlike: a large state is encoded in two
// halves at once; cut anywhere, the two halves make the bytes of the
// encoding in one piece, and AppendBinary's own cut (by the bytes per
// record of the encoding before) does too, encoding after encoding.
func TestCheckpointEncodesInParallelAlike(t *testing.T) {
	t.Parallel()
	s := testState(t)
	for _, tx := range checkpointStream(2000) {
		s.Update(tx, nil)
	}
	whole := s.appendBinary(nil, math.MaxInt)
	body := whole[len(checkpointMagic)+1+32 : len(whole)-4] // the tables
	ts := s.encTables()
	for k := range len(ts) + 1 {
		slots := 0
		if k < len(ts) {
			slots = ts[k].slots
		}
		for j := range slots + 1 {
			var sizes [4]int
			head := appendTables(nil, &ts, 0, 0, k, j, &sizes)
			tail := appendTables(nil, &ts, k, j, len(ts), 0, &sizes)
			if got := append(head, tail...); !bytes.Equal(got, body) {
				t.Fatalf("cut at slot %d of table %d: %d bytes, want the %d of the whole", j, k, len(got), len(body))
			}
		}
	}
	k, j, _, ok := s.halfway(&ts, 1)
	if !ok || k == 0 && j == 0 || k == len(ts) {
		t.Fatalf("after an encoding, the halves are cut at slot %d of table %d (%v): not inside the tables", j, k, ok)
	}
	for round := range 2 {
		par := s.appendBinary([]byte("prefix"), 1)
		if !bytes.Equal(par[len("prefix"):], whole) {
			t.Fatalf("round %d: the encoding in halves (%d bytes) differs from the whole (%d bytes)", round, len(par)-len("prefix"), len(whole))
		}
	}
	r := testState(t)
	if err := r.UnmarshalBinary(whole); err != nil {
		t.Fatal(err)
	}
	rts := r.encTables()
	if k, j, _, ok := r.halfway(&rts, 1); !ok || k == 0 && j == 0 || k == len(rts) {
		t.Fatalf("a state never encoded is cut at slot %d of table %d (%v): not inside the tables", j, k, ok)
	}
	for round := range 2 {
		if again := r.appendBinary(nil, 1); !bytes.Equal(again, whole) {
			t.Fatalf("round %d: the restored state encodes differently in halves", round)
		}
	}
}

func TestCheckpointRejectsCorruption(t *testing.T) {
	t.Parallel()
	s := testState(t)
	for _, tx := range checkpointStream(200) {
		s.Update(tx, nil)
	}
	good, _ := s.MarshalBinary()
	flip := bytes.Clone(good)
	flip[len(flip)/2] ^= 0x10
	future := bytes.Clone(good)
	future[len(checkpointMagic)] = CheckpointVersion + 1
	for name, b := range map[string][]byte{
		"empty":       nil,
		"truncated":   good[:len(good)-9],
		"flipped bit": flip,
		"newer":       future,
		"not a state": []byte("hello, world, this is not a state"),
	} {
		t.Run(name, func(t *testing.T) {
			r := testState(t)
			r.Update(checkpointStream(1)[0], nil)
			before, _ := r.MarshalBinary()
			err := r.UnmarshalBinary(b)
			if !errors.Is(err, ErrBadCheckpoint) {
				t.Fatalf("UnmarshalBinary = %v, want ErrBadCheckpoint", err)
			}
			if after, _ := r.MarshalBinary(); !bytes.Equal(after, before) {
				t.Fatal("a failed restore changed the state")
			}
		})
	}
}

// FuzzCheckpointDecode: the decoder reads bytes from the database, so no
// input may crash it or make it allocate without bound, and whatever it
// accepts re-encodes to bytes that decode to the same state.
func FuzzCheckpointDecode(f *testing.F) {
	s, _ := NewState(StateConfig{})
	empty, _ := s.MarshalBinary()
	f.Add(empty)
	for _, tx := range checkpointStream(30) {
		s.Update(tx, nil)
	}
	full, _ := s.MarshalBinary()
	f.Add(full)
	f.Add([]byte("SSFS\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		// The checksum would turn away nearly every mutation; fix it so
		// the fuzzer reaches the record decoder.
		if len(b) >= 9 {
			b = bytes.Clone(b)
			sum := crcOf(b[:len(b)-4])
			copy(b[len(b)-4:], sum)
		}
		st, _ := NewState(StateConfig{})
		if err := st.UnmarshalBinary(b); err != nil {
			if !errors.Is(err, ErrBadCheckpoint) {
				t.Fatalf("error %v does not wrap ErrBadCheckpoint", err)
			}
			return
		}
		again, _ := st.MarshalBinary()
		st2, _ := NewState(StateConfig{})
		if err := st2.UnmarshalBinary(again); err != nil {
			t.Fatalf("accepted %x but its re-encoding %x is refused: %v", b, again, err)
		}
		if third, _ := st2.MarshalBinary(); !bytes.Equal(third, again) {
			t.Fatalf("accepted %x: re-encodings differ:\n%x\n%x", b, again, third)
		}
	})
}

func crcOf(b []byte) []byte {
	var out [4]byte
	sum := crc32Checksum(b)
	out[0], out[1], out[2], out[3] = byte(sum), byte(sum>>8), byte(sum>>16), byte(sum>>24)
	return out[:]
}

// BenchmarkCheckpoint encodes and restores the state of a partition that
// saw 500,000 transactions of 50,000 customers in the last day (every
// device, card and IP address record still held): the size of one
// partition's checkpoint with a million customers over four partitions at
// ten orders each.
func BenchmarkCheckpoint(b *testing.B) {
	s, _ := NewState(StateConfig{})
	rng := rand.New(rand.NewPCG(1, 2))
	start := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for i := range 500_000 {
		c := rng.IntN(50_000)
		t := &event.Transaction{CustomerID: fmt.Sprintf("c%d", c), EventTime: start.Add(time.Duration(i) * 160 * time.Millisecond),
			TotalCents: event.Cents(100 + rng.IntN(90_000)), Card: event.Card{BIN: "411111", Last4: fmt.Sprintf("%04d", rng.IntN(10_000))},
			DeviceID: fmt.Sprintf("d%d", rng.IntN(400_000)), IPAddress: fmt.Sprintf("10.%d.%d.%d", rng.IntN(256), rng.IntN(256), rng.IntN(256)),
			ShippingCountry: "US"}
		s.Update(t, nil)
	}
	enc, _ := s.MarshalBinary()
	b.Run("encode", func(b *testing.B) {
		b.SetBytes(int64(len(enc)))
		for b.Loop() {
			enc, _ = s.AppendBinary(enc[:0])
		}
	})
	b.Run("restore", func(b *testing.B) {
		b.SetBytes(int64(len(enc)))
		for b.Loop() {
			r, _ := NewState(StateConfig{})
			if err := r.UnmarshalBinary(enc); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// sortedEncoding is the state's encoding in version 2's layout: the
// records of each table in ascending order of key, keys as deltas. Two
// states hold the same contents exactly when these are equal, whatever
// the order of their slots.
func sortedEncoding(s *State) []byte {
	b := append([]byte(checkpointMagic), checkpointSortedVersion)
	for _, f := range [...]float64{s.gN, s.gMeanLog, s.gVarLog, s.gMeanAmt} {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(f))
	}
	b = appendSorted(b, &s.custs, appendCustomer)
	b = appendSorted(b, &s.devices, func(b []byte, d *device) []byte { return s.devRings.appendEntity(b, d, &devCodec) })
	b = appendSorted(b, &s.cards, func(b []byte, c *card) []byte { return s.cardRings.appendEntity(b, c, &cardCodec) })
	b = appendSorted(b, &s.ips, func(b []byte, n *network) []byte { return s.ipRings.appendEntity(b, n, &ipCodec) })
	return binary.LittleEndian.AppendUint32(b, crc32Checksum(b))
}

func appendSorted[T any](b []byte, t *table[T], rec func([]byte, *T) []byte) []byte {
	keys := slices.Sorted(maps.Keys(t.idx))
	b = binary.AppendUvarint(b, uint64(len(keys)))
	prev := uint64(0)
	for _, k := range keys {
		b = binary.AppendUvarint(b, k-prev)
		prev = k
		b = rec(b, t.get(k))
	}
	return b
}

// TestCheckpointReadsSortedVersion: a version 2 checkpoint (records by
// key, keys as deltas), as the builds before version 3 stored them,
// restores the same state; one with a key twice is refused, as is a
// version 3 one with a key twice.
func TestCheckpointReadsSortedVersion(t *testing.T) {
	t.Parallel()
	s := testState(t)
	for _, tx := range checkpointStream(300) {
		s.Update(tx, nil)
	}
	s.Expire(checkpointStream(300)[299].EventTime.Add(36 * time.Hour)) // free slots: slot order is not key order
	for _, tx := range checkpointStream(300)[:50] {
		s.Update(tx, nil)
	}
	old := sortedEncoding(s)
	r := testState(t)
	if err := r.UnmarshalBinary(old); err != nil {
		t.Fatalf("restoring a version 2 checkpoint: %v", err)
	}
	if !bytes.Equal(sortedEncoding(r), old) {
		t.Fatal("the state restored from version 2 differs")
	}
	cur, _ := s.MarshalBinary()
	if bytes.Equal(cur[:len(checkpointMagic)+1], old[:len(checkpointMagic)+1]) || bytes.Equal(cur, old) {
		t.Fatal("version 3 encodes as version 2")
	}
	// The same key twice: the first customer's key written again over the
	// second's, in each layout, the checksum fixed.
	for name, b := range map[string][]byte{"version 2": repeatFirstKey(t, old, true), "version 3": repeatFirstKey(t, cur, false)} {
		if err := testState(t).UnmarshalBinary(b); !errors.Is(err, ErrBadCheckpoint) || !strings.Contains(err.Error(), "repeated") {
			t.Errorf("%s with a customer's key twice: %v; want a repeated key refused", name, err)
		}
	}
}

// repeatFirstKey returns enc with its second customer's key made equal to
// the first's: sorted, the second delta becomes 0 (the delta's varint is
// rewritten in place when it shrinks); else the second 8 bytes become the
// first's.
func repeatFirstKey(t *testing.T, enc []byte, sorted bool) []byte {
	t.Helper()
	b := bytes.Clone(enc[:len(enc)-4])
	at := len(checkpointMagic) + 1 + 32
	n, w := binary.Uvarint(b[at:])
	if n < 2 {
		t.Fatalf("%d customers: the test needs two", n)
	}
	at += w
	first := at
	var second int
	if sorted {
		_, w = binary.Uvarint(b[at:])
		at += w
	} else {
		at += 8
	}
	// Skip the first customer's record: decode it to find its end.
	r := &reader{b: b[at:]}
	var c customer
	readCustomer(r, &c)
	if r.err != nil {
		t.Fatal(r.err)
	}
	second = len(b) - len(r.b)
	if sorted {
		_, w := binary.Uvarint(b[second:])
		b = slices.Concat(b[:second], []byte{0}, b[second+w:])
	} else {
		copy(b[second:second+8], b[first:first+8])
	}
	return binary.LittleEndian.AppendUint32(b, crc32Checksum(b))
}
