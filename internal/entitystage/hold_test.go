package entitystage

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
)

// TestHoldFromEnv: the test hook is off without its variable, refuses a
// value that is no batch number, lets the other writes through and holds
// the named one until its context ends.
func TestHoldFromEnv(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	t.Setenv(EnvHoldBatch, "") // empty is unset
	if hook, err := holdFromEnv(quiet); hook != nil || err != nil {
		t.Fatalf("without %s: hook %v, err %v; want neither", EnvHoldBatch, hook != nil, err)
	}
	for _, bad := range []string{"0", "-1", "x"} {
		t.Setenv(EnvHoldBatch, bad)
		if _, err := holdFromEnv(quiet); err == nil {
			t.Errorf("%s=%s accepted", EnvHoldBatch, bad)
		}
	}
	t.Setenv(EnvHoldBatch, "2")
	hook, err := holdFromEnv(quiet)
	if err != nil || hook == nil {
		t.Fatalf("%s=2: hook %v, err %v", EnvHoldBatch, hook != nil, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := hook(ctx, 1); err != nil {
		t.Fatalf("write 1: %v, want it let through", err)
	}
	cancel()
	if err := hook(ctx, 2); !errors.Is(err, context.Canceled) {
		t.Fatalf("write 2: %v, want it held until its context ended", err)
	}
}
