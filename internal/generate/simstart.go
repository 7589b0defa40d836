package generate

import "time"

// StartEndingBy is a Start for cfg (whose own Start it ignores) at which
// the simulated history of its first n records ends within the day
// before end (and a minute before end at the latest), as a shop's recent
// history does: from DefaultStart a run's records are months old, and a
// processor's retention (--retain-rollups 30d) deletes the rows each
// batch has just written. How long n records take depends on the
// calendar (seasonality, the customers' lifecycle), so the start is found
// by bisection on where the records end: at most 18 rounds of generating
// them, about 3 s each for a million records. It returns end minus a
// minute when cfg is invalid or n is below 2.
func StartEndingBy(cfg Config, n int, end time.Time) time.Time {
	target := end.Add(-time.Minute)
	last := func(start time.Time) time.Time { return start.Add(span(cfg, n, start)) }
	hi := target // ends after target: n records take some time
	s := last(hi).Sub(hi)
	lo := target.Add(-3 * s)
	for k := 0; k < 3 && last(lo).After(target); k++ {
		lo = lo.Add(-3 * s)
	}
	for range 14 {
		mid := lo.Add(hi.Sub(lo) / 2).Truncate(time.Second)
		e := last(mid)
		if e.After(target) {
			hi = mid
			continue
		}
		lo = mid
		if target.Sub(e) < 24*time.Hour {
			break
		}
	}
	return lo
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
