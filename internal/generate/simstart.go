package generate

import "time"

// StartEndingBy is a Start for cfg (whose own Start it ignores) at which
// the simulated history of its first n records ends within the day
// before end as a rule, within three days always (and a minute before
// end at the latest: TestStartEndingBy), as a shop's recent
// history does: from DefaultStart a run's records are months old, and a
// processor's retention (--retain-rollups 30d) deletes the rows each
// batch has just written. How long n records take depends on the
// calendar (seasonality, the customers' lifecycle) and is noisy in the
// start (two starts half an hour apart can end days apart), so the start
// is found by bisection on where the records end, keeping the try that
// ends latest before end, then up to 10 tries around it when that is
// still more than a day before end: at most 28 rounds of generating them,
// about 2 s each for a million records. It returns end minus a minute
// when cfg is invalid or n is below 2.
func StartEndingBy(cfg Config, n int, end time.Time) time.Time {
	target := end.Add(-time.Minute)
	last := func(start time.Time) time.Time { return start.Add(span(cfg, n, start)) }
	// best is the start whose records end latest at or before target of
	// all those tried: where the records end is noisy in the start (two
	// starts half an hour apart end days apart), so the bisection's last
	// lo can end days before target where an earlier try ended hours
	// before it.
	best, bestEnd := time.Time{}, time.Time{}
	try := func(start time.Time) time.Time {
		e := last(start)
		if !e.After(target) && (best.IsZero() || e.After(bestEnd)) {
			best, bestEnd = start, e
		}
		return e
	}
	hi := target // ends after target: n records take some time
	s := last(hi).Sub(hi)
	lo := target.Add(-3 * s)
	for k := 0; k < 3 && try(lo).After(target); k++ {
		lo = lo.Add(-3 * s)
	}
	near := func() bool { return !best.IsZero() && target.Sub(bestEnd) < 24*time.Hour }
	for range 14 {
		mid := lo.Add(hi.Sub(lo) / 2).Truncate(time.Second)
		if try(mid).After(target) {
			hi = mid
			continue
		}
		lo = mid
		if near() {
			break
		}
	}
	// Still more than a day before target: a few starts around the best,
	// 23 minutes apart, whose ends the noise spreads over days.
	for k := 1; k <= 10 && !near() && !best.IsZero(); k++ {
		off := time.Duration((k+1)/2) * 23 * time.Minute
		if k%2 == 0 {
			off = -off
		}
		try(best.Add(off))
	}
	if best.IsZero() {
		return lo
	}
	return best
}

// Span is the event time from the first to the nth record of cfg's
// generator from start (0 when cfg is invalid or n is below 2).
func Span(cfg Config, n int, start time.Time) time.Duration { return span(cfg, n, start) }

func span(cfg Config, n int, start time.Time) time.Duration {
	cfg.Start = start
	g, err := New(cfg)
	if err != nil || n < 2 {
		return 0
	}
	first := g.Next().EventTime
	last := first
	for range n - 1 {
		last = g.Next().EventTime
	}
	return last.Sub(first)
}
