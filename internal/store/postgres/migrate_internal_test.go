package postgres

import (
	"context"
	"io/fs"
	"path"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/pgtest"
	"github.com/shopstream/shopstream/internal/store/sqlstore"
	"github.com/shopstream/shopstream/internal/store/storetest"
)

// Migration 0013 keeps the transactions stored before it (they become the
// default partition) and their ids' uniqueness.
func TestPartitionMigrationKeepsRows(t *testing.T) {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	old := fstest.MapFS{}
	entries, err := fs.ReadDir(migrationsFS, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries[:12] {
		b, _ := fs.ReadFile(migrationsFS, path.Join("migrations", e.Name()))
		old[path.Join("migrations", e.Name())] = &fstest.MapFile{Data: b}
	}
	s := &Store{Store: sqlstore.New(dialect{pool}), pool: pool}
	if _, err := s.Migrate(ctx, old, "migrations"); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	var txs []store.Tx
	for i, id := range []string{"old1", "old2", "old3"} {
		txs = append(txs, storetest.Tx(id, "c", at.AddDate(0, 0, i), 100, 0, int64(i)))
	}
	// Written as the build before 0013 wrote them: straight into the table.
	if err := pgxBegin(ctx, pool, func(tx sqlstore.DB) error { return copyTxsIntoOld(ctx, tx, txs) }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Migrate(ctx, migrationsFS, "migrations"); err != nil {
		t.Fatal(err)
	}
	var n, ids int
	if err := pool.QueryRow(ctx, "SELECT (SELECT count(*) FROM transactions_default), (SELECT count(*) FROM transaction_ids)").Scan(&n, &ids); err != nil {
		t.Fatal(err)
	}
	if n != 3 || ids != 3 {
		t.Fatalf("after the migration: %d rows in the default partition, %d ids; want 3 and 3", n, ids)
	}
	dup := storetest.Tx("old2", "c", at.AddDate(0, 1, 0), 100, 0, 0)
	err = s.WriteBatch(ctx, &store.Batch{Group: "g", Topic: "t", Parts: []store.Part{{Partition: 0, From: 0, To: 1, Txs: []store.Tx{dup}}}})
	if _, ok := store.IsDuplicate(err); !ok {
		t.Fatalf("an id stored before the migration, again: %v; want a *DuplicateError", err)
	}
}

func pgxBegin(ctx context.Context, pool *pgxpool.Pool, fn func(tx sqlstore.DB) error) error {
	return dialect{pool}.Tx(ctx, fn)
}

// copyTxsIntoOld copies rows with the columns of the schema before 0014.
func copyTxsIntoOld(ctx context.Context, tx sqlstore.DB, txs []store.Tx) error {
	for _, t := range txs {
		if _, err := tx.Exec(ctx, `INSERT INTO transactions (transaction_id, customer_id, event_time, total_cents, currency,
			payment_method, channel, card_bin, card_last4, device_id, ip_address, billing_country, shipping_country, items,
			kafka_partition, kafka_offset, risk, decision, reasons, produced_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)`,
			t.TransactionID, t.CustomerID, t.EventTime, t.TotalCents, t.Currency, t.PaymentMethod, t.Channel, t.CardBIN, t.CardLast4,
			t.DeviceID, t.IPAddress, t.BillingCountry, t.ShippingCountry, string(t.ItemsJSON), t.Partition, t.Offset, 0.0, t.Decision,
			string(t.ReasonsJSON), t.ProducedAt); err != nil {
			return err
		}
	}
	return nil
}
