package cli

import (
	"context"
	"errors"
	"testing"

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
