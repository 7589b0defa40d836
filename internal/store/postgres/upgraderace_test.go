package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/postgres"
	"github.com/shopstream/shopstream/internal/store/storetest"
)

// TestUpgradeRace runs the label writers against the entity stage's
// raise of the same transaction at once: a transaction of the test holds
// the rows locked while both start, so each writer has run its first
// statements when the other commits.
func TestUpgradeRace(t *testing.T) { storetest.RunUpgradeRace(t, open, blockRows) }

// blockRows locks the alert row (if any) and the transactions row of
// transactionID in a transaction of its own; waiting polls
// pg_stat_activity for sessions of the test's database waiting for a
// lock.
func blockRows(t *testing.T, s store.Store, transactionID string) (waiting func(n int), release func()) {
	t.Helper()
	ctx := context.Background()
	pool := s.(*postgres.Store).Pool()
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	release = func() { _ = tx.Rollback(ctx) }
	t.Cleanup(release)
	for _, q := range []string{`SELECT 1 FROM alerts WHERE transaction_id = $1 FOR UPDATE`,
		`SELECT 1 FROM transactions WHERE transaction_id = $1 FOR UPDATE`} {
		if _, err := tx.Exec(ctx, q, transactionID); err != nil {
			t.Fatal(err)
		}
	}
	waiting = func(n int) {
		t.Helper()
		deadline := time.Now().Add(time.Minute)
		for {
			var waiters int
			if err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
				WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiters); err != nil {
				t.Fatal(err)
			}
			if waiters >= n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d sessions wait for a lock after a minute, want %d", waiters, n)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	return waiting, release
}
