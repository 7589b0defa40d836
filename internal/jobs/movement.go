package jobs

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/shopstream/shopstream/internal/analytics"
	"github.com/shopstream/shopstream/internal/store"
)

// ranSegments are the customers' segments as a refresh of this process
// stored them, with the ID of the movement it recorded.
type ranSegments struct {
	movementID int64
	list       segmentList
}

// segmentList is customers' segments, IDs in byte order, kept without a
// pointer per customer (idList; each segment as its place in names).
type segmentList struct {
	ids   idList
	segs  []uint16
	names []analytics.Segment
}

func (l *segmentList) add(id string, seg analytics.Segment) {
	k := slices.Index(l.names, seg)
	if k < 0 {
		k = len(l.names)
		l.names = append(l.names, seg)
	}
	l.ids.add(id)
	l.segs = append(l.segs, uint16(k))
}

// expand returns the IDs and segments as analytics.SegmentMovement takes
// them (nil when there are none).
func (l *segmentList) expand() ([]string, []analytics.Segment) {
	if l == nil || l.ids.len() == 0 {
		return nil, nil
	}
	segs := make([]analytics.Segment, len(l.segs))
	for i, k := range l.segs {
		segs[i] = l.names[k]
	}
	return l.ids.strings(), segs
}

// previousSegments returns the segments of the refresh before and when it
// ran (empty when no movement was ever recorded): this process's own when
// the newest stored movement is the one it recorded, otherwise (the first
// run of a process, or another instance refreshed since) those stored,
// read in customer-ID order before this run writes its own.
func (r *Refresh) previousSegments(ctx context.Context) (*segmentList, *time.Time, error) {
	st := r.cfg.Store
	latest, err := st.SegmentMovements(ctx, 1)
	if err != nil {
		return nil, nil, err
	}
	var at *time.Time
	if len(latest) > 0 {
		t := latest[0].ComputedAt
		at = &t
	}
	if p := r.ran; p != nil && len(latest) > 0 && latest[0].ID == p.movementID {
		return &p.list, at, nil
	}
	var prev segmentList
	err = st.CustomerSegments(ctx, func(id, seg string) error {
		if len(prev.names) > math.MaxUint16 && !slices.Contains(prev.names, analytics.Segment(seg)) {
			return fmt.Errorf("more than %d segments stored (%q)", math.MaxUint16+1, seg)
		}
		prev.add(id, analytics.Segment(seg))
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("reading the stored segments: %w", err)
	}
	return &prev, at, nil
}

// recordMovement stores the movement from the previous segments to this
// run's (the customers of pop, scored) and keeps this run's segments for
// the next run.
func (r *Refresh) recordMovement(ctx context.Context, prev *segmentList, prevAt *time.Time,
	pop *population, scores []analytics.RFMScore, asOf, now time.Time, rep *RefreshReport) error {
	// This run's IDs are the population's own strings; cur copies them
	// for the next run.
	var cur segmentList
	ids, segs := make([]string, len(pop.sums)), make([]analytics.Segment, len(pop.sums))
	for i, s := range pop.sums {
		ids[i], segs[i] = s.CustomerID, scores[i].Segment
		cur.add(s.CustomerID, scores[i].Segment)
	}
	prevIDs, prevSegs := prev.expand()
	mv, err := analytics.SegmentMovement(prevIDs, prevSegs, ids, segs)
	if err != nil {
		return err
	}
	flows := make([]store.SegmentFlow, len(mv.Flows))
	for i, f := range mv.Flows {
		flows[i] = store.SegmentFlow{From: string(f.From), To: string(f.To), Customers: f.Customers}
	}
	id, err := r.cfg.Store.SaveSegmentMovement(ctx, store.SegmentMovement{AsOf: asOf, ComputedAt: now, PreviousComputedAt: prevAt, Flows: flows},
		r.cfg.MovementsKept)
	if err != nil {
		return err
	}
	r.ran = &ranSegments{movementID: id, list: cur}
	rep.CustomersNew, rep.CustomersMoved, rep.CustomersLeft = mv.Entered, mv.Moved, mv.Left
	return nil
}
