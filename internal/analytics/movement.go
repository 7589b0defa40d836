package analytics

import (
	"cmp"
	"fmt"
	"slices"
)

// SegmentFlow counts the customers whose RFM segment was From at one
// refresh and To at the next. From "" is a customer the earlier refresh
// did not score (new: a first purchase since); To "" one the later refresh
// no longer scores (left: erased, or every purchase deleted by
// retention). From == To counts the customers who stayed.
type SegmentFlow struct {
	From      Segment
	To        Segment
	Customers int64
}

// SegmentChange is one segment's change between two refreshes.
type SegmentChange struct {
	Segment Segment
	// Before and After are its sizes at the earlier and the later refresh.
	Before, After int64
	// In counts the customers who came from another segment or were new,
	// Out those who went to another segment or left: After − Before =
	// In − Out.
	In, Out int64
}

// Movement is the transition matrix of the customers' segments between
// two refreshes.
type Movement struct {
	// Flows holds every non-empty cell, largest first (ties by From, then
	// To, in byte order).
	Flows []SegmentFlow
	// Customers is how many the later refresh scored; Entered how many of
	// them the earlier did not, Left how many the earlier scored and the
	// later did not; Moved how many changed segment, Stayed how many kept
	// theirs.
	Customers, Entered, Left, Moved, Stayed int64
}

// NewMovement totals flows (cells with the same From and To are added;
// empty ones dropped) and orders them largest first.
func NewMovement(flows []SegmentFlow) Movement {
	sum := map[[2]Segment]int64{}
	for _, f := range flows {
		sum[[2]Segment{f.From, f.To}] += f.Customers
	}
	var m Movement
	m.Flows = []SegmentFlow{}
	for k, n := range sum {
		if n <= 0 {
			continue
		}
		m.Flows = append(m.Flows, SegmentFlow{From: k[0], To: k[1], Customers: n})
		switch {
		case k[0] == "":
			m.Entered += n
		case k[1] == "":
			m.Left += n
		case k[0] == k[1]:
			m.Stayed += n
		default:
			m.Moved += n
		}
		if k[1] != "" {
			m.Customers += n
		}
	}
	slices.SortFunc(m.Flows, func(a, b SegmentFlow) int {
		return cmp.Or(cmp.Compare(b.Customers, a.Customers), cmp.Compare(a.From, b.From), cmp.Compare(a.To, b.To))
	})
	return m
}

// SegmentMovement compares two refreshes' segments: prevIDs and prevSegs
// the earlier's customers and their segments, curIDs and curSegs the
// later's, each list of IDs in strictly increasing byte order (as the
// refresh and the store keep them). It walks both once.
func SegmentMovement(prevIDs []string, prevSegs []Segment, curIDs []string, curSegs []Segment) (Movement, error) {
	if len(prevIDs) != len(prevSegs) || len(curIDs) != len(curSegs) {
		return Movement{}, fmt.Errorf("segment movement: %d and %d IDs for %d and %d segments", len(prevIDs), len(curIDs), len(prevSegs), len(curSegs))
	}
	for _, ids := range [][]string{prevIDs, curIDs} {
		for i := 1; i < len(ids); i++ {
			if ids[i-1] >= ids[i] {
				return Movement{}, fmt.Errorf("segment movement: customer IDs %q and %q out of order", ids[i-1], ids[i])
			}
		}
	}
	// The cells of the few segments, indexed by their place in names
	// (found by comparing strings, cheap next to hashing them once per
	// customer); names[0] is "" (new, or left).
	names := []Segment{""}
	idx := func(s Segment) int {
		for k, n := range names {
			if n == s {
				return k
			}
		}
		names = append(names, s)
		return len(names) - 1
	}
	var cells [][]int64
	add := func(from, to Segment) {
		f, t := idx(from), idx(to)
		for len(cells) < len(names) {
			cells = append(cells, nil)
		}
		if t >= len(cells[f]) {
			cells[f] = append(cells[f], make([]int64, len(names)-len(cells[f]))...)
		}
		cells[f][t]++
	}
	i, j := 0, 0
	for i < len(prevIDs) || j < len(curIDs) {
		switch {
		case j == len(curIDs) || (i < len(prevIDs) && prevIDs[i] < curIDs[j]):
			add(prevSegs[i], "")
			i++
		case i == len(prevIDs) || curIDs[j] < prevIDs[i]:
			add("", curSegs[j])
			j++
		default:
			add(prevSegs[i], curSegs[j])
			i, j = i+1, j+1
		}
	}
	var flows []SegmentFlow
	for f, row := range cells {
		for t, n := range row {
			if n > 0 {
				flows = append(flows, SegmentFlow{From: names[f], To: names[t], Customers: n})
			}
		}
	}
	return NewMovement(flows), nil
}

// Changes is each segment's size before and after and what came in and
// went out: the segments of Segments first in their order (those with
// no customer at either refresh too), then any other segment in the
// flows, in byte order.
func (m Movement) Changes() []SegmentChange {
	by := map[Segment]*SegmentChange{}
	out := make([]SegmentChange, 0, len(Segments))
	for _, s := range Segments {
		out = append(out, SegmentChange{Segment: s})
	}
	var extra []Segment
	for _, f := range m.Flows {
		for _, s := range []Segment{f.From, f.To} {
			if s != "" && !slices.Contains(Segments, s) && !slices.Contains(extra, s) {
				extra = append(extra, s)
			}
		}
	}
	slices.Sort(extra)
	for _, s := range extra {
		out = append(out, SegmentChange{Segment: s})
	}
	for i := range out {
		by[out[i].Segment] = &out[i]
	}
	for _, f := range m.Flows {
		if c := by[f.From]; c != nil {
			c.Before += f.Customers
			if f.To != f.From {
				c.Out += f.Customers
			}
		}
		if c := by[f.To]; c != nil {
			c.After += f.Customers
			if f.To != f.From {
				c.In += f.Customers
			}
		}
	}
	return out
}
