package recsvc

import (
	"context"
	"time"
)

// pacer holds the service's background work (store reads, folds, model
// builds) to a share of one core while the host is busy, so that a
// processor running flat out on the same host loses at most about that
// share of a core to it. The host is busy when less than half a core
// stood idle, on average, since the pacer last looked (idle, when
// given); on a host with room to spare the work is not held back. After
// work that took d it owes d·(1/share − 1) of rest, taken before the next
// piece of work starts; work that arrives while nothing is owed starts at
// once, so at everyday rates (a fold of a second's purchases takes a few
// milliseconds) the service is never held back. Under a burst the service
// falls behind and catches up at its share; the lag is the price of the
// bound, and shopstream_recommendations_paced_seconds_total says how much
// it paid.
//
// The share is of wall time, not of CPU time: a read's wait on the
// database counts (the database's share of the read is on the same host
// as often as not), and so does time the scheduler gives to others, which
// errs on the side of leaving the processor more.
//
// golang.org/x/time/rate's token bucket would do the accounting, but a
// reservation larger than its burst is refused, and a piece of work here
// (a model build) has no upper bound, so the owed rest is kept here.
type pacer struct {
	share float64
	until time.Time // no work before
	now   func() time.Time
	// rested is called with each rest taken.
	rested func(time.Duration)
	// idle, when not nil, reports the host's idle cores since its last
	// call; ok false means unknown, which counts as busy.
	idle func() (cores float64, ok bool)
}

// idleEnough is the idle capacity, in cores, at which the host is not
// busy and work owes no rest.
const idleEnough = 0.5

// wait rests until what is owed is paid or ctx ends.
func (p *pacer) wait(ctx context.Context) error {
	if p == nil {
		return ctx.Err()
	}
	d := p.until.Sub(p.now())
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		if p.rested != nil {
			p.rested(d)
		}
		return nil
	}
}

// spent records work that took d, ending now.
func (p *pacer) spent(d time.Duration) {
	if p == nil || p.share >= 1 || d <= 0 {
		return
	}
	if p.idle != nil {
		if cores, ok := p.idle(); ok && cores >= idleEnough {
			p.until = time.Time{}
			return
		}
	}
	p.until = p.now().Add(time.Duration(float64(d) * (1/p.share - 1)))
}
