package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

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
	waiting = func(n int) { t.Helper(); waitForLocks(t, pool, n) }
	return waiting, release
}

// waitForLocks returns once n sessions of the test's database wait for a
// lock (pg_stat_activity), failing t after a minute.
func waitForLocks(t *testing.T, pool *pgxpool.Pool, n int) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		var waiters int
		if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
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

// TestUpgradeLockOrder: a label batch and an entity batch over the same
// two transactions, x approved without an alert and z under review with
// one, each in flight while the other starts. The entity batch takes x's
// row, then waits (here, for another writer inserting x's alert, which
// then gives up); the label writer locks z's alert and waits for x's row;
// the entity batch goes on to z's alert. Taking its transactions' alert
// rows before any transactions row, as the label writer does, the raise
// never waits for the label writer in a cycle: both commit, and the
// rollups equal their recomputation.
func TestUpgradeLockOrder(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	pool := s.Pool()
	base := time.Date(2026, 4, 1, 12, 0, 0, 0, time.UTC)
	tx := func(id string, off int64, decision string, risk float64) store.Tx {
		return store.Tx{TransactionID: id, CustomerID: "c-" + id, EventTime: base.Add(time.Duration(off) * time.Second), TotalCents: 1000,
			Currency: "EUR", PaymentMethod: "card", Channel: "web", CardBIN: "411111", CardLast4: "1234", DeviceID: "d1",
			IPAddress: "10.0.0.1", BillingCountry: "DE", ShippingCountry: "DE",
			ItemsJSON: []byte(`[{"product_id":"P1","category":"books","quantity":1,"unit_price":1.00}]`),
			Partition: 0, Offset: off, Decision: decision, Risk: risk, ReasonsJSON: []byte("[]"), ProducedAt: base}
	}
	x, z := tx("x", 0, "approve", 0.1), tx("z", 1, "review", 0.5)
	err := s.WriteBatch(ctx, &store.Batch{Group: "g", Topic: "transactions", Parts: []store.Part{{Partition: 0, From: 0, To: 2,
		Txs: []store.Tx{x, z}, Alerts: []store.Alert{{TransactionID: "z", CustomerID: "c-z", EventTime: z.EventTime, Risk: z.Risk,
			Decision: z.Decision, ReasonsJSON: z.ReasonsJSON, AmountCents: z.TotalCents}}}}})
	if err != nil {
		t.Fatal(err)
	}
	other, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = other.Rollback(ctx) })
	if _, err := other.Exec(ctx, `INSERT INTO alerts (transaction_id, customer_id, event_time, risk, decision, reasons, amount_cents, created_at)
		VALUES ('x', 'c-x', $1, 0.5, 'review', '[]', 1000, now())`, x.EventTime); err != nil {
		t.Fatal(err)
	}
	const reason = `{"rule":"device_shared_accounts","entity":"device:d1","weight":0.6,"step":2}`
	up := &store.EntityBatch{Group: "entities", Topic: "transactions.entities", Owner: "stage", Generation: 1,
		Parts: []store.EntityPart{{Partition: 0, From: 0, To: 1, Upgrades: []store.EntityUpgrade{
			{TransactionID: "x", EventTime: x.EventTime, Risk: 0.7, Decision: "review", ReasonsJSON: []byte(reason)},
			{TransactionID: "z", EventTime: z.EventTime, Risk: 0.95, Decision: "decline", ReasonsJSON: []byte(reason)}}}}}
	labels := &store.Batch{Group: "g", Topic: storetest.LabelTopic, Owner: "p1", Generation: 1, Parts: []store.Part{{Partition: 0, From: 0, To: 2,
		LabelEvents: []store.LabelEvent{
			storetest.LabelEvent("cb-x", "x", "chargeback", true, "stolen_card", base.Add(20*24*time.Hour), 0),
			storetest.LabelEvent("cb-z", "z", "chargeback", true, "stolen_card", base.Add(20*24*time.Hour), 1)}}}}
	errs := make(chan error, 2)
	go func() { errs <- s.WriteEntityBatch(ctx, up) }()
	waitForLocks(t, pool, 1) // the raise holds x's row and waits to insert x's alert
	go func() {
		_, err := s.WriteLabels(ctx, labels, store.LabelOptions{ExpireBefore: base, TxGroup: "g", TxTopic: "transactions"})
		errs <- err
	}()
	waitForLocks(t, pool, 2)
	if err := other.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Errorf("a writer failed: %v", err)
		}
	}
	if !up.Parts[0].Upgrades[0].Applied || !up.Parts[0].Upgrades[1].Applied {
		t.Errorf("upgrades applied: %v, %v; want both", up.Parts[0].Upgrades[0].Applied, up.Parts[0].Upgrades[1].Applied)
	}
	storetest.CheckRollupsMatchLabels(t, s)
}
