package web

import "time"

// seqFollower follows a numbered series (alert IDs, alert change numbers)
// whose numbers are taken before their writer commits: on PostgreSQL a
// number can become visible after a higher one was read and sent. It
// remembers what it sent above the floor (every number at or below it is
// sent or given up) and the gaps below the highest number sent, which a
// later commit may still fill; a gap not filled within the wait (a rolled
// back write, or a change number an alert's next change replaced) is
// given up.
//
// The series' store answers reads by number range, so the gaps are read
// again each tick while they last: a handful of small ranges.
type seqFollower struct {
	floor, top int64
	sent       map[int64]struct{} // the numbers in (floor, top] sent
	gaps       []seqGap           // ascending, disjoint, within (floor, top)
}

// seqGap is a run of numbers [from, to] not seen when a higher one was.
type seqGap struct {
	from, to int64
	seen     time.Time
}

// seqGapWait is how long a gap is read again before it is given up: a
// generous bound on the time between a writer taking a number and
// committing.
const seqGapWait = 30 * time.Second

// maxSeqGaps bounds the gaps kept; past it the oldest is given up.
const maxSeqGaps = 256

// start follows the numbers after n.
func (f *seqFollower) start(n int64) {
	f.floor, f.top, f.sent, f.gaps = n, n, map[int64]struct{}{}, nil
}

// admit reports whether n is new, and records it as sent if so.
func (f *seqFollower) admit(n int64, now time.Time) bool {
	if n <= f.floor {
		return false
	}
	if _, ok := f.sent[n]; ok {
		return false
	}
	if n > f.top {
		if n > f.top+1 {
			f.gaps = append(f.gaps, seqGap{from: f.top + 1, to: n - 1, seen: now})
		}
		f.top = n
	}
	f.sent[n] = struct{}{}
	return true
}

// settle moves the floor past what is sent and past the gaps older than
// wait; past maxSeqGaps gaps the oldest go too, whatever their age.
func (f *seqFollower) settle(now time.Time, wait time.Duration) {
	defer func() {
		// Gaps filled while the floor passed them.
		for len(f.gaps) > 0 && f.gaps[0].to <= f.floor {
			f.gaps = f.gaps[1:]
		}
		if len(f.gaps) > 0 {
			f.gaps[0].from = max(f.gaps[0].from, f.floor+1)
		}
	}()
	for f.floor < f.top {
		n := f.floor + 1
		if _, ok := f.sent[n]; ok {
			delete(f.sent, n)
			f.floor = n
			continue
		}
		// n lies in the first gap: every number in (floor, top] is sent
		// or in a gap.
		for len(f.gaps) > 0 && f.gaps[0].to < n {
			f.gaps = f.gaps[1:]
		}
		if len(f.gaps) == 0 { // cannot happen; keeps the loop finite
			f.floor = f.top
			clear(f.sent)
			return
		}
		g := f.gaps[0]
		if now.Sub(g.seen) < wait && len(f.gaps) <= maxSeqGaps {
			return
		}
		for k := range f.sent {
			if k <= g.to {
				delete(f.sent, k)
			}
		}
		f.floor, f.gaps = g.to, f.gaps[1:]
	}
}

// pending returns the gaps still read again, oldest first, at most n.
func (f *seqFollower) pending(n int) []seqGap {
	return f.gaps[:min(n, len(f.gaps))]
}
