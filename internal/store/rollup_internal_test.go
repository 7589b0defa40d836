package store

import (
	"math/rand/v2"
	"sort"
	"testing"
	"time"
)

// rowsBySortSlice is RollupFold.Rows as it was first written: the rows
// made from the map and sorted with sort.Slice by their fields (the key's
// names looked up as Rows does). The test
// below holds Rows to its rows and order.
func rowsBySortSlice(f *RollupFold) []FraudRollup {
	hours := make(map[rollupKey]int64)
	days := make(map[rollupKey]int64)
	for k, n := range f.m {
		k.start = floorDiv(k.start, hourMicros)
		hours[k] += n
		k.start = floorDiv(k.start, dayMicros)
		days[k] += n
	}
	var out []FraudRollup
	for _, g := range [...]struct {
		g Granularity
		m map[rollupKey]int64
	}{{Day, days}, {Hour, hours}, {Minute, f.m}} {
		for k, n := range g.m {
			if n == 0 {
				continue
			}
			out = append(out, FraudRollup{Granularity: g.g, Start: time.UnixMicro(k.start).UTC(), Series: rankSeries[k.series],
				Bucket: int(k.bucket), Truth: rankTruth[k.truth], Scenario: f.names.list[k.scenario], Decision: f.names.list[k.decision],
				Analyst: k.analyst, N: n})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := &out[i], &out[j]
		switch {
		case a.Granularity != b.Granularity:
			return a.Granularity < b.Granularity
		case !a.Start.Equal(b.Start):
			return a.Start.Before(b.Start)
		case a.Series != b.Series:
			return a.Series < b.Series
		case a.Bucket != b.Bucket:
			return a.Bucket < b.Bucket
		case a.Truth != b.Truth:
			return a.Truth < b.Truth
		case a.Scenario != b.Scenario:
			return a.Scenario < b.Scenario
		case a.Decision != b.Decision:
			return a.Decision < b.Decision
		}
		return !a.Analyst && b.Analyst
	})
	return out
}

// Rows gives the rows and the order of sorting the rows themselves by
// their fields, on folds of every shape: every series, truth, scenario,
// decision and analyst flag, times before 1970 and across days, counts
// taken away to zero, and an import's one minute per order.
func TestRollupRowsAsSortedRows(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	decisions := []string{"", "approve", "review", "decline", "Review", "zz", "a"}
	scenarios := []string{"", "card_testing", "account_takeover", "analyst", "b", "é"}
	for trial := range 60 {
		var f RollupFold
		base := time.Date(1969, 12, 30, 22, 0, 0, 0, time.UTC).Add(time.Duration(rng.IntN(200)) * 24 * time.Hour)
		n := 1 + rng.IntN(3000)
		spread := time.Duration(1+rng.IntN(5000)) * time.Second
		var added []Outcome
		for range n {
			o := Outcome{
				EventTime: base.Add(time.Duration(rng.Int64N(int64(spread)))),
				Risk:      rng.Float64(), Decision: decisions[rng.IntN(len(decisions))],
				Labelled: rng.IntN(2) == 0, Fraud: rng.IntN(3) == 0, Scenario: scenarios[rng.IntN(len(scenarios))],
				HasShadow: rng.IntN(2) == 0, ShadowRisk: rng.Float64(), Analyst: rng.IntN(5) == 0,
			}
			if trial%4 == 0 { // an import: unscored, one shape
				o = Outcome{EventTime: o.EventTime}
			}
			f.Add(&o, 1)
			added = append(added, o)
		}
		// Take some away again, some of them all of their minute.
		for i := range added {
			if rng.IntN(4) == 0 {
				f.Add(&added[i], -1)
			}
		}
		want := rowsBySortSlice(&f)
		got := f.Rows()
		if len(got) != len(want) {
			t.Fatalf("trial %d: %d rows, want %d", trial, len(got), len(want))
		}
		for i := range got {
			if got[i] != want[i] || !got[i].Start.Equal(want[i].Start) || got[i].Start.Location() != time.UTC {
				t.Fatalf("trial %d: row %d is %+v, want %+v", trial, i, got[i], want[i])
			}
		}
	}
	var empty RollupFold
	if rows := empty.Rows(); len(rows) != 0 {
		t.Fatalf("an empty fold gave %d rows", len(rows))
	}
}
