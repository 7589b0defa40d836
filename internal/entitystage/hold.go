package entitystage

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
)

// EnvHoldBatch names a test hook's environment variable, read by New when
// Config.BeforeCommit is not set: set to N (from 1), the stage holds the
// store transaction of its Nth batch write open after the batch's last
// write, logs HeldMessage, and waits until its context ends (then the
// batch rolls back) or the process is killed. The end-to-end tests
// (internal/e2e) use it to SIGKILL a `shopstream process --entities` with
// an entity batch in flight, at a point they know rather than guess.
const EnvHoldBatch = "SHOPSTREAM_TEST_ENTITY_HOLD_BATCH"

// HeldMessage is what the stage logs when the hook holds a batch.
const HeldMessage = "entity batch held open before its commit (test hook " + EnvHoldBatch + ")"

// holdFromEnv returns the hook EnvHoldBatch asks for; nil when unset.
func holdFromEnv(log *slog.Logger) (func(ctx context.Context, b int) error, error) {
	v, ok := os.LookupEnv(EnvHoldBatch)
	if !ok || v == "" {
		return nil, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return nil, fmt.Errorf("entitystage: %s=%q: want a batch number from 1", EnvHoldBatch, v)
	}
	log.Warn("test hook set: the entity stage will hold a batch open before its commit", "env", EnvHoldBatch, "batch", n)
	return func(ctx context.Context, b int) error {
		if b != n {
			return nil
		}
		log.Warn(HeldMessage, "batch", b)
		<-ctx.Done()
		return ctx.Err()
	}, nil
}
