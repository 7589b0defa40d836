package analytics

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSegmentOf(t *testing.T) {
	t.Parallel()
	// One row per cell of the map in SegmentOf's doc; F and M pick the
	// FM column: 1, 1.5–2, 2.5–3, 3.5–4, 4.5–5.
	cols := [5][2]uint8{{1, 1}, {1, 2}, {2, 3}, {3, 4}, {4, 5}}
	want := map[uint8][5]Segment{
		5: {NewCustomers, PotentialLoyalist, PotentialLoyalist, Loyal, Champions},
		4: {Promising, PotentialLoyalist, PotentialLoyalist, Loyal, Loyal},
		3: {AboutToSleep, AboutToSleep, NeedAttention, Loyal, Loyal},
		2: {Lost, Hibernating, AtRisk, AtRisk, AtRisk},
		1: {Lost, Lost, AtRisk, AtRisk, CantLoseThem},
	}
	seen := map[Segment]bool{}
	for r := uint8(1); r <= 5; r++ {
		for c, fm := range cols {
			if got := SegmentOf(r, fm[0], fm[1]); got != want[r][c] {
				t.Errorf("SegmentOf(R=%d, F=%d, M=%d) = %q, want %q", r, fm[0], fm[1], got, want[r][c])
			}
			seen[want[r][c]] = true
		}
		// Every F, M with the same F+M falls in the same column, in either
		// order.
		for f := uint8(1); f <= 5; f++ {
			for m := uint8(1); m <= 5; m++ {
				if got, w := SegmentOf(r, f, m), want[r][fmColumn[f+m]]; got != w || SegmentOf(r, m, f) != w {
					t.Errorf("SegmentOf(%d, %d, %d) = %q, want %q", r, f, m, got, w)
				}
			}
		}
	}
	for _, s := range Segments {
		if !seen[s] {
			t.Errorf("segment %q is unreachable", s)
		}
	}
	if len(seen) != len(Segments) {
		t.Errorf("map uses %d segments, Segments lists %d", len(seen), len(Segments))
	}
	if SegmentOf(0, 0, 0) != Lost || SegmentOf(9, 9, 9) != Champions {
		t.Error("scores outside 1–5 are not clamped")
	}
}

func TestScoreRFM(t *testing.T) {
	t.Parallel()
	seq := func(vs ...float64) []float64 { return vs }
	tests := []struct {
		name   string
		values []float64
		want   []uint8 // scores as a frequency; recency is checked reversed
	}{
		{"empty", nil, nil},
		{"one customer is in the middle", seq(7), []uint8{3}},
		{"ten distinct split in fifths", seq(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), []uint8{1, 1, 2, 2, 3, 3, 4, 4, 5, 5}},
		{"input order does not matter", seq(10, 1, 9, 2, 8, 3, 7, 4, 6, 5), []uint8{5, 1, 5, 1, 4, 2, 4, 2, 3, 3}},
		{"all equal score 3", seq(4, 4, 4, 4, 4), []uint8{3, 3, 3, 3, 3}},
		// Six one-time buyers share mid-rank 3 of 10: the second quintile.
		{"a large tie lands where its middle is", seq(1, 1, 1, 1, 1, 1, 2, 3, 4, 5), []uint8{2, 2, 2, 2, 2, 2, 4, 4, 5, 5}},
		{"five distinct", seq(-2, 0, 0.5, 3, 1e9), []uint8{1, 2, 3, 4, 5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := make([]RFMValues, len(tt.values))
			for i, v := range tt.values {
				in[i] = RFMValues{Recency: v, Frequency: v, Monetary: v}
			}
			got, err := ScoreRFM(in)
			if err != nil {
				t.Fatal(err)
			}
			for i, s := range got {
				if s.F != tt.want[i] || s.M != tt.want[i] || s.R != 6-tt.want[i] {
					t.Errorf("value %v: R, F, M = %d, %d, %d, want %d, %d, %d", tt.values[i], s.R, s.F, s.M, 6-tt.want[i], tt.want[i], tt.want[i])
				}
				if s.Segment != SegmentOf(s.R, s.F, s.M) {
					t.Errorf("value %v: segment %q, want %q", tt.values[i], s.Segment, SegmentOf(s.R, s.F, s.M))
				}
			}
		})
	}
}

// Scores must not depend on the order customers are listed in.
func TestScoreRFMIsOrderIndependent(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	in := make([]RFMValues, 1000)
	for i := range in {
		in[i] = RFMValues{Recency: float64(rng.IntN(60)), Frequency: float64(1 + rng.IntN(4)), Monetary: math.Round(rng.ExpFloat64() * 50)}
	}
	want, err := ScoreRFM(in)
	if err != nil {
		t.Fatal(err)
	}
	perm := rng.Perm(len(in))
	shuffled := make([]RFMValues, len(in))
	for i, p := range perm {
		shuffled[i] = in[p]
	}
	got, err := ScoreRFM(shuffled)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range perm {
		if got[i] != want[p] {
			t.Fatalf("customer %d scored %+v alone, %+v shuffled", p, want[p], got[i])
		}
	}
	// Equal values, equal scores.
	byF := map[float64]uint8{}
	for i, s := range want {
		if q, ok := byF[in[i].Frequency]; ok && q != s.F {
			t.Fatalf("frequency %v scored both %d and %d", in[i].Frequency, q, s.F)
		}
		byF[in[i].Frequency] = s.F
	}
	counts := make([]int, 6)
	for _, s := range want {
		counts[s.R]++
	}
	if slices.Contains(counts[1:], 0) {
		t.Errorf("recency scores per quintile %v: a quintile is empty", counts[1:])
	}
}

func TestScoreRFMErrors(t *testing.T) {
	t.Parallel()
	if _, err := ScoreRFM([]RFMValues{{}, {Monetary: math.NaN()}}); err == nil || !strings.Contains(err.Error(), "customer 1 has monetary NaN") {
		t.Errorf("NaN: error %v", err)
	}
	if err := ScoreRFMInto(make([]RFMScore, 1), nil); err == nil {
		t.Error("ScoreRFMInto accepted a destination of the wrong length")
	}
}

// TestRFMRecencyTiesOnWholeDays: customers whose last purchase is the same
// number of days before the end must get the same recency value and score,
// however long ago their first purchase was (issue 16: recency in weeks as
// (end-first)/7 - (last-first)/7 split such ties into slightly different
// floats).
func TestRFMRecencyTiesOnWholeDays(t *testing.T) {
	t.Parallel()
	end := time.Date(2011, 12, 9, 12, 0, 0, 0, time.UTC)
	var purchases []Purchase
	for i := range 60 {
		id := fmt.Sprintf("c%02d", i)
		last := end.AddDate(0, 0, -32-(i%3)*39) // 32, 71 or 110 days ago
		first := last.AddDate(0, 0, -(i*13)%300)
		purchases = append(purchases, Purchase{id, first, 1}, Purchase{id, last, float64(i)})
	}
	sums, err := Summarize(purchases, end, Week)
	if err != nil {
		t.Fatal(err)
	}
	vals := make([]RFMValues, len(sums))
	for i, s := range sums {
		vals[i] = s.RFMValues()
	}
	scores, err := ScoreRFM(vals)
	if err != nil {
		t.Fatal(err)
	}
	byValue := map[float64]uint8{}
	for i, v := range vals {
		if v.Recency != math.Trunc(v.Recency) {
			t.Errorf("customer %s: recency %v is not a whole number of days", sums[i].CustomerID, v.Recency)
		}
		if r, ok := byValue[v.Recency]; ok && r != scores[i].R {
			t.Errorf("customer %s: recency %v scored R%d, another customer with it R%d", sums[i].CustomerID, v.Recency, scores[i].R, r)
		}
		byValue[v.Recency] = scores[i].R
	}
	if len(byValue) != 3 {
		t.Errorf("got %d distinct recency values %v, want 3 (32, 71 and 110 days)", len(byValue), byValue)
	}
}
