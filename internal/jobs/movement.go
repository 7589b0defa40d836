package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/shopstream/shopstream/internal/analytics"
	"github.com/shopstream/shopstream/internal/store"
)

// ranSegments are the customers' segments as a refresh of this process
// stored them, with the ID of the movement it recorded: IDs in byte order.
type ranSegments struct {
	movementID int64
	ids        []string
	segs       []analytics.Segment
}

// previousSegments returns the segments of the refresh before and when it
// ran (nil when no movement was ever recorded): this process's own when
// the newest stored movement is the one it recorded, otherwise (the first
// run of a process, or another instance refreshed since) those stored,
// read in customer-ID order before this run writes its own.
func (r *Refresh) previousSegments(ctx context.Context) ([]string, []analytics.Segment, *time.Time, error) {
	st := r.cfg.Store
	latest, err := st.SegmentMovements(ctx, 1)
	if err != nil {
		return nil, nil, nil, err
	}
	var at *time.Time
	if len(latest) > 0 {
		t := latest[0].ComputedAt
		at = &t
	}
	if p := r.ran; p != nil && len(latest) > 0 && latest[0].ID == p.movementID {
		return p.ids, p.segs, at, nil
	}
	// One string per segment, not one per customer.
	names := make(map[string]analytics.Segment, len(analytics.Segments))
	for _, s := range analytics.Segments {
		names[string(s)] = s
	}
	var ids []string
	var segs []analytics.Segment
	err = st.CustomerSegments(ctx, func(id, seg string) error {
		s, ok := names[seg]
		if !ok {
			s = analytics.Segment(seg)
			names[seg] = s
		}
		ids, segs = append(ids, id), append(segs, s)
		return nil
	})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("reading the stored segments: %w", err)
	}
	return ids, segs, at, nil
}

// recordMovement stores the movement from the previous segments to this
// run's (the customers of pop, scored) and keeps this run's segments for
// the next run.
func (r *Refresh) recordMovement(ctx context.Context, prevIDs []string, prevSegs []analytics.Segment, prevAt *time.Time,
	pop *population, scores []analytics.RFMScore, asOf, now time.Time, rep *RefreshReport) error {
	ids := make([]string, len(pop.sums))
	segs := make([]analytics.Segment, len(pop.sums))
	for i, s := range pop.sums {
		ids[i], segs[i] = s.CustomerID, scores[i].Segment
	}
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
	r.ran = &ranSegments{movementID: id, ids: ids, segs: segs}
	rep.CustomersNew, rep.CustomersMoved, rep.CustomersLeft = mv.Entered, mv.Moved, mv.Left
	return nil
}
