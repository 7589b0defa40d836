package cli

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/jobs"
)

// TestSkipUntil: the stream's quality job is skipped, without running,
// until the backfill is stored, and runs from then on.
func TestSkipUntil(t *testing.T) {
	after := make(chan struct{})
	runs := 0
	run := skipUntil(after, func(context.Context) error { runs++; return nil })
	if err := run(context.Background()); !errors.Is(err, jobs.ErrSkipped) || runs != 0 {
		t.Fatalf("before: err %v, %d runs; want ErrSkipped and none", err, runs)
	}
	close(after)
	for range 2 {
		if err := run(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if runs != 2 {
		t.Fatalf("after: %d runs, want 2", runs)
	}
}

// TestSkipUntilPlus: the local job (freshness, drift) is skipped until
// the backfill is stored and for the grace after the first run that saw
// it stored, and runs from then on.
func TestSkipUntilPlus(t *testing.T) {
	after := make(chan struct{})
	clock := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	runs := 0
	run := skipUntilPlus(after, 2*time.Minute, func() time.Time { return clock }, func(context.Context) error { runs++; return nil })
	step := func(want bool) {
		t.Helper()
		err := run(context.Background())
		if ran := err == nil; ran != want || (err != nil && !errors.Is(err, jobs.ErrSkipped)) {
			t.Fatalf("at %v: err %v, want run %v", clock, err, want)
		}
		clock = clock.Add(time.Minute)
	}
	step(false)
	step(false) // still backfilling
	close(after)
	step(false) // first seen stored
	step(false) // a minute later
	step(true)  // two minutes later
	step(true)
	if runs != 2 {
		t.Fatalf("%d runs, want 2", runs)
	}
}
