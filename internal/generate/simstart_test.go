package generate

import (
	"testing"
	"time"
)

// TestStartEndingBy: over 60 ends 17 minutes apart, the records of the
// start found end at least a minute before the end, within three days of
// it always and within a day in nearly every case. Where they end is
// noisy in the start (starts half an hour apart end days apart): the
// bisection's last try alone ended over three days early for 14 of 300
// such ends, and 5.2 days early at worst (`generate --start auto`'s test
// failed then).
func TestStartEndingBy(t *testing.T) {
	t.Parallel()
	cfg := Config{Seed: 1, Customers: 1000}
	base := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	const ends = 60
	var overDay int
	for i := range ends {
		end := base.Add(time.Duration(i) * 17 * time.Minute)
		s := StartEndingBy(cfg, 3000, end)
		gap := end.Sub(s.Add(Span(cfg, 3000, s)))
		if gap < time.Minute || gap > 72*time.Hour {
			t.Errorf("end %v: the records end %v before it, want from a minute to three days", end, gap)
		}
		if gap > 24*time.Hour {
			overDay++
		}
	}
	if overDay > ends/10 {
		t.Errorf("%d of %d ends more than a day after the records, want at most %d", overDay, ends, ends/10)
	}
	t.Logf("%d of %d ends more than a day after the records", overDay, ends)
}
