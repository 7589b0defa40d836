package bench

import (
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/testrace"
)

// TestSimulatedStart: the deployed phase's generator, started where
// simulatedStart says, ends its simulated history at most three days before now
// (the calendar makes the end jump with the start), never after it.
func TestSimulatedStart(t *testing.T) {
	testrace.SkipUnderRace(t)
	now := time.Date(2026, 12, 3, 9, 30, 0, 0, time.UTC)
	for _, c := range []struct{ customers, n int }{{1000, 5000}, {100_000, 20_000}, {1_000_000, 100_000}} {
		start := simulatedStart(1, c.customers, c.n, now)
		end := start.Add(simulatedSpan(1, c.customers, c.n, start))
		if end.After(now.Add(-time.Minute)) || end.Before(now.Add(-3*24*time.Hour)) || !start.Before(end) {
			t.Errorf("%d records of %d customers from %v end at %v, want within the three days before %v", c.n, c.customers, start, end, now)
		}
	}
}
