package analytics

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
)

func TestSegmentMovement(t *testing.T) {
	// a stays a Champion, b and c move from Loyal to At Risk, d leaves
	// (erased), e is new, f moves from Lost to Champions.
	prevIDs := []string{"a", "b", "c", "d", "f"}
	prevSegs := []Segment{Champions, Loyal, Loyal, Lost, Lost}
	curIDs := []string{"a", "b", "c", "e", "f"}
	curSegs := []Segment{Champions, AtRisk, AtRisk, NewCustomers, Champions}
	m, err := SegmentMovement(prevIDs, prevSegs, curIDs, curSegs)
	if err != nil {
		t.Fatal(err)
	}
	want := []SegmentFlow{
		{Loyal, AtRisk, 2},
		{"", NewCustomers, 1},
		{Champions, Champions, 1},
		{Lost, "", 1},
		{Lost, Champions, 1},
	}
	if !reflect.DeepEqual(m.Flows, want) {
		t.Fatalf("flows = %v, want %v", m.Flows, want)
	}
	if m.Customers != 5 || m.Entered != 1 || m.Left != 1 || m.Moved != 3 || m.Stayed != 1 {
		t.Fatalf("totals = %+v", m)
	}
	ch := m.Changes()
	if len(ch) != len(Segments) {
		t.Fatalf("%d changes, want one per segment (%d)", len(ch), len(Segments))
	}
	by := map[Segment]SegmentChange{}
	for _, c := range ch {
		by[c.Segment] = c
	}
	for s, w := range map[Segment]SegmentChange{
		Champions:    {Champions, 1, 2, 1, 0},
		Loyal:        {Loyal, 2, 0, 0, 2},
		AtRisk:       {AtRisk, 0, 2, 2, 0},
		Lost:         {Lost, 2, 0, 0, 2},
		NewCustomers: {NewCustomers, 0, 1, 1, 0},
		Hibernating:  {Hibernating, 0, 0, 0, 0},
	} {
		if by[s] != w {
			t.Errorf("change of %s = %+v, want %+v", s, by[s], w)
		}
	}
}

func TestSegmentMovementRefusesUnorderedIDs(t *testing.T) {
	if _, err := SegmentMovement([]string{"b", "a"}, []Segment{Lost, Lost}, nil, nil); err == nil {
		t.Fatal("IDs out of order accepted")
	}
	if _, err := SegmentMovement(nil, nil, []string{"a", "a"}, []Segment{Lost, Lost}); err == nil {
		t.Fatal("a repeated ID accepted")
	}
	if _, err := SegmentMovement([]string{"a"}, nil, nil, nil); err == nil {
		t.Fatal("IDs without segments accepted")
	}
}

// TestSegmentMovementAgainstMaps checks the merge walk against a count
// made with maps, on random populations.
func TestSegmentMovementAgainstMaps(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 50 {
		prev, cur := map[string]Segment{}, map[string]Segment{}
		for i := range 200 {
			id := fmt.Sprintf("c%04d", i)
			if rng.IntN(4) > 0 {
				prev[id] = Segments[rng.IntN(len(Segments))]
			}
			if rng.IntN(4) > 0 {
				cur[id] = Segments[rng.IntN(len(Segments))]
			}
		}
		lists := func(m map[string]Segment) ([]string, []Segment) {
			ids := make([]string, 0, len(m))
			for id := range m {
				ids = append(ids, id)
			}
			slices.Sort(ids)
			segs := make([]Segment, len(ids))
			for i, id := range ids {
				segs[i] = m[id]
			}
			return ids, segs
		}
		pi, ps := lists(prev)
		ci, cs := lists(cur)
		got, err := SegmentMovement(pi, ps, ci, cs)
		if err != nil {
			t.Fatal(err)
		}
		want := map[[2]Segment]int64{}
		for id, s := range prev {
			want[[2]Segment{s, cur[id]}]++
		}
		for id, s := range cur {
			if _, ok := prev[id]; !ok {
				want[[2]Segment{"", s}]++
			}
		}
		gotMap := map[[2]Segment]int64{}
		for _, f := range got.Flows {
			gotMap[[2]Segment{f.From, f.To}] = f.Customers
		}
		if !reflect.DeepEqual(gotMap, want) {
			t.Fatalf("round %d: flows %v, want %v", round, gotMap, want)
		}
		if got.Customers != int64(len(cur)) {
			t.Fatalf("round %d: %d customers, want %d", round, got.Customers, len(cur))
		}
		for i := 1; i < len(got.Flows); i++ {
			if got.Flows[i].Customers > got.Flows[i-1].Customers {
				t.Fatalf("round %d: flows not largest first: %v", round, got.Flows)
			}
		}
		var net int64
		for _, c := range got.Changes() {
			if c.After-c.Before != c.In-c.Out {
				t.Fatalf("round %d: %+v: after − before ≠ in − out", round, c)
			}
			net += c.After - c.Before
		}
		if net != int64(len(cur)-len(prev)) {
			t.Fatalf("round %d: net change %d, want %d", round, net, len(cur)-len(prev))
		}
	}
}
