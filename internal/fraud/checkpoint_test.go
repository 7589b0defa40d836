package fraud

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
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
			x, _ := live.MarshalBinary()
			y, _ := restored.MarshalBinary()
			if !bytes.Equal(x, y) {
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

// TestSortKeySlots: the radix sort orders keys as a comparison sort does,
// keys that differ only in their highest or lowest 16 bits included.
func TestSortKeySlots(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{0, 1, 2, radixMin, 3*radixMin + 17} {
		s := make([]keySlot, n)
		for i := range s {
			switch i % 3 {
			case 0:
				s[i].key = rng.Uint64()
			case 1:
				s[i].key = rng.Uint64() & 0xffff // low digit only
			default:
				s[i].key = rng.Uint64() &^ (1<<48 - 1) // high digit only
			}
			s[i].i = uint32(i)
		}
		want := slices.Clone(s)
		slices.SortStableFunc(want, func(a, b keySlot) int { return cmp.Compare(a.key, b.key) })
		sortKeySlots(s, make([]keySlot, n))
		if !slices.Equal(s, want) {
			t.Fatalf("%d keys: radix order differs from a stable comparison sort", n)
		}
	}
}
