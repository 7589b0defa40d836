package web

import (
	"slices"
	"testing"
	"time"
)

// TestSeqFollower follows a series whose numbers become visible out of
// order: a number below one sent is sent once it appears, within the
// wait; a gap never filled is given up after it, and the floor then
// passes it; nothing is sent twice.
func TestSeqFollower(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	var f seqFollower
	f.start(10)
	admit := func(now time.Time, ns ...int64) []int64 {
		var got []int64
		for _, n := range ns {
			if f.admit(n, now) {
				got = append(got, n)
			}
		}
		f.settle(now, 30*time.Second)
		return got
	}
	if got := admit(t0, 3, 10, 11, 12); !slices.Equal(got, []int64{11, 12}) {
		t.Fatalf("first read: sent %v, want [11 12] (10 and below were there at the start)", got)
	}
	if f.floor != 12 || len(f.gaps) != 0 || len(f.sent) != 0 {
		t.Fatalf("after a read without gaps: floor %d, gaps %v, %d sent kept; want 12, none, 0", f.floor, f.gaps, len(f.sent))
	}
	// 13 and 14 are taken by writers that commit late; 15 is seen.
	if got := admit(t0.Add(time.Second), 15, 12); !slices.Equal(got, []int64{15}) {
		t.Fatalf("sent %v, want [15]", got)
	}
	if p := f.pending(8); len(p) != 1 || p[0].from != 13 || p[0].to != 14 {
		t.Fatalf("pending %v, want the gap 13..14", p)
	}
	// 14 commits 20 s later: sent, though below 15; 13 is still awaited.
	if got := admit(t0.Add(21*time.Second), 14, 15, 16); !slices.Equal(got, []int64{14, 16}) {
		t.Fatalf("sent %v, want [14 16]", got)
	}
	if f.floor != 12 {
		t.Fatalf("floor %d while 13 is awaited, want 12", f.floor)
	}
	// 13 never comes (rolled back): given up 30 s after the gap was seen,
	// and the floor passes everything sent above it.
	if got := admit(t0.Add(30*time.Second), 16); len(got) != 0 {
		t.Fatalf("sent %v again", got)
	}
	if f.floor != 12 {
		t.Fatalf("floor %d before the wait is over, want 12", f.floor)
	}
	if got := admit(t0.Add(31*time.Second), 13, 17); !slices.Equal(got, []int64{13, 17}) {
		t.Fatalf("sent %v, want [13 17]: 13 came within the wait", got)
	}
	if f.floor != 17 || len(f.sent) != 0 || len(f.gaps) != 0 {
		t.Fatalf("floor %d, %d sent kept, gaps %v; want 17, 0, none", f.floor, len(f.sent), f.gaps)
	}
	// A gap never filled.
	admit(t0.Add(40*time.Second), 20)
	admit(t0.Add(69*time.Second), 21)
	if f.floor != 17 {
		t.Fatalf("floor %d while 18..19 are awaited, want 17", f.floor)
	}
	admit(t0.Add(71 * time.Second))
	if f.floor != 21 || len(f.gaps) != 0 {
		t.Fatalf("after the wait: floor %d, gaps %v; want 21 and none", f.floor, f.gaps)
	}
	if got := admit(t0.Add(72*time.Second), 18, 19); len(got) != 0 {
		t.Fatalf("sent %v after their gap was given up", got)
	}
}

// TestSeqFollowerBoundsGaps keeps at most maxSeqGaps gaps, however young:
// past it the oldest are given up.
func TestSeqFollowerBoundsGaps(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	var f seqFollower
	f.start(0)
	for i := range int64(maxSeqGaps + 50) {
		f.admit(2*i+2, t0) // leaves 2i+1 out
	}
	f.settle(t0, time.Hour)
	if len(f.gaps) != maxSeqGaps {
		t.Fatalf("%d gaps kept, want %d", len(f.gaps), maxSeqGaps)
	}
	if f.gaps[0].from != 101 || f.floor != 100 {
		t.Fatalf("oldest gap kept %v, floor %d; want 101 and 100", f.gaps[0], f.floor)
	}
	if len(f.sent) != maxSeqGaps {
		t.Fatalf("%d sent numbers kept, want %d (those above the floor)", len(f.sent), maxSeqGaps)
	}
}
