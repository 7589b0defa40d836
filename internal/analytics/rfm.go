package analytics

import (
	"fmt"
	"math"
	"slices"
)

// RFMValues are one customer's raw recency, frequency and monetary value.
// Recency is the time since the last purchase in any unit (smaller is more
// recent); Frequency and Monetary are counts and amounts where larger is
// better. [Summary.RFMValues] derives them from a summary.
type RFMValues struct {
	Recency, Frequency, Monetary float64
}

// RFMScore is one customer's quintile scores, 1 (worst fifth of the
// population) to 5 (best fifth), and the segment they map to.
type RFMScore struct {
	R, F, M uint8
	Segment Segment
}

// Segment is a conventional RFM segment name, stored and shown as is.
type Segment string

// The conventional RFM segments, from best to worst.
const (
	Champions         Segment = "Champions"
	Loyal             Segment = "Loyal"
	PotentialLoyalist Segment = "Potential Loyalist"
	NewCustomers      Segment = "New"
	Promising         Segment = "Promising"
	NeedAttention     Segment = "Need Attention"
	AboutToSleep      Segment = "About to Sleep"
	AtRisk            Segment = "At Risk"
	CantLoseThem      Segment = "Can't Lose Them"
	Hibernating       Segment = "Hibernating"
	Lost              Segment = "Lost"
)

// Segments lists every segment, for dashboards and metrics that must show
// empty segments too.
var Segments = []Segment{Champions, Loyal, PotentialLoyalist, NewCustomers, Promising,
	NeedAttention, AboutToSleep, AtRisk, CantLoseThem, Hibernating, Lost}

// segmentGrid is the R × FM map of SegmentOf, indexed by [R−1][fmColumn[F+M]]:
// the FM columns are 1, 1.5–2, 2.5–3, 3.5–4, 4.5–5.
var segmentGrid = [5][5]Segment{
	{Lost, Lost, AtRisk, AtRisk, CantLoseThem},                             // R = 1
	{Lost, Hibernating, AtRisk, AtRisk, AtRisk},                            // R = 2
	{AboutToSleep, AboutToSleep, NeedAttention, Loyal, Loyal},              // R = 3
	{Promising, PotentialLoyalist, PotentialLoyalist, Loyal, Loyal},        // R = 4
	{NewCustomers, PotentialLoyalist, PotentialLoyalist, Loyal, Champions}, // R = 5
}

// fmColumn maps F+M (2..10) to the grid column.
var fmColumn = [11]uint8{0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4}

// SegmentOf maps scores to the conventional named segment, keyed on the
// recency score R and the mean of the frequency and monetary scores,
// FM = (F+M)/2. The map is the widely used R-versus-FM chart (Putler's RFM
// segments, reproduced in most "RFM segmentation" recipes), whose regions
// are drawn as ranges on axes running 0 to 5. We read a range a–b as the
// scores above a up to b, as the chart draws it; the equally common
// if-chain that reads the same ranges as inclusive makes New, Promising and
// Can't Lose Them unreachable. The resulting map, every cell of which is
// covered by a table test:
//
//	R \ FM   1               1.5–2               2.5–3               3.5–4    4.5–5
//	5        New             Potential Loyalist  Potential Loyalist  Loyal    Champions
//	4        Promising       Potential Loyalist  Potential Loyalist  Loyal    Loyal
//	3        About to Sleep  About to Sleep      Need Attention      Loyal    Loyal
//	2        Lost            Hibernating         At Risk             At Risk  At Risk
//	1        Lost            Lost                At Risk             At Risk  Can't Lose Them
//
// Scores outside 1–5 are clamped into it.
func SegmentOf(r, f, m uint8) Segment {
	r, f, m = clampScore(r), clampScore(f), clampScore(m)
	return segmentGrid[r-1][fmColumn[f+m]]
}

func clampScore(s uint8) uint8 { return min(max(s, 1), 5) }

// ScoreRFM gives every customer quintile scores relative to the whole
// population and their segment. Recency is reversed: the most recent fifth
// scores R = 5.
//
// Each value is scored by the position of its mid-rank: with L values
// below it and E values equal to it (itself included) among n,
//
//	score = 1 + ⌊5 · (L + E/2) / n⌋
//
// so distinct values split into fifths as evenly as n allows, equal values
// always get equal scores, and a tie spanning a quintile boundary lands in
// the quintile holding its middle (a population that is all equal scores
// 3). The result does not depend on the order of the input. A NaN value is
// an error.
func ScoreRFM(values []RFMValues) ([]RFMScore, error) {
	out := make([]RFMScore, len(values))
	if err := ScoreRFMInto(out, values); err != nil {
		return nil, err
	}
	return out, nil
}

// ScoreRFMInto is ScoreRFM writing into dst, which must be as long as
// values, so that a periodic refresh can reuse its buffer.
func ScoreRFMInto(dst []RFMScore, values []RFMValues) error {
	if len(dst) != len(values) {
		return fmt.Errorf("scoring RFM: %d destinations for %d customers", len(dst), len(values))
	}
	buf := make([]ranked, len(values))
	metrics := []struct {
		get func(RFMValues) float64
		set func(*RFMScore, uint8)
	}{
		{func(v RFMValues) float64 { return -v.Recency }, func(s *RFMScore, q uint8) { s.R = q }},
		{func(v RFMValues) float64 { return v.Frequency }, func(s *RFMScore, q uint8) { s.F = q }},
		{func(v RFMValues) float64 { return v.Monetary }, func(s *RFMScore, q uint8) { s.M = q }},
	}
	names := [...]string{"recency", "frequency", "monetary"}
	for k, mt := range metrics {
		for i, v := range values {
			x := mt.get(v)
			if math.IsNaN(x) {
				return fmt.Errorf("scoring RFM: customer %d has %s NaN", i, names[k])
			}
			buf[i] = ranked{x, int32(i)}
		}
		quintiles(buf, func(i int32, q uint8) { mt.set(&dst[i], q) })
	}
	for i := range dst {
		dst[i].Segment = SegmentOf(dst[i].R, dst[i].F, dst[i].M)
	}
	return nil
}

type ranked struct {
	v float64
	i int32
}

// quintiles sorts buf by value and reports the mid-rank quintile of each
// index (see ScoreRFM).
func quintiles(buf []ranked, set func(i int32, q uint8)) {
	slices.SortFunc(buf, func(a, b ranked) int { return cmpFloat(a.v, b.v) })
	n := float64(len(buf))
	for lo := 0; lo < len(buf); {
		hi := lo + 1
		for hi < len(buf) && buf[hi].v == buf[lo].v {
			hi++
		}
		q := uint8(1 + int(5*(float64(lo)+float64(hi-lo)/2)/n))
		q = min(q, 5)
		for _, r := range buf[lo:hi] {
			set(r.i, q)
		}
		lo = hi
	}
}
