package postgres

import (
	"context"
	"fmt"
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
	s, pool := migratedTo(t, 12)
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
	err := s.WriteBatch(ctx, &store.Batch{Group: "g", Topic: "t", Parts: []store.Part{{Partition: 0, From: 0, To: 1, Txs: []store.Tx{dup}}}})
	if _, ok := store.IsDuplicate(err); !ok {
		t.Fatalf("an id stored before the migration, again: %v; want a *DuplicateError", err)
	}
}

// migratedTo returns a store on a fresh database with the first n
// migrations applied, as a build of that schema left it, and its pool
// (closed when the test ends).
func migratedTo(t *testing.T, n int) (*Store, *pgxpool.Pool) {
	t.Helper()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	entries, err := fs.ReadDir(migrationsFS, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	old := fstest.MapFS{}
	for _, e := range entries[:n] {
		b, _ := fs.ReadFile(migrationsFS, path.Join("migrations", e.Name()))
		old[path.Join("migrations", e.Name())] = &fstest.MapFile{Data: b}
	}
	if name := entries[n-1].Name(); name[:4] != fmt.Sprintf("%04d", n) {
		t.Fatalf("migration %d is %s", n, name)
	}
	s := &Store{Store: sqlstore.New(dialect{pool}), pool: pool}
	if _, err := s.Migrate(ctx, old, "migrations"); err != nil {
		t.Fatal(err)
	}
	return s, pool
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

// Migration 0040 drops the key of transactions and fills transaction_ids
// with where each id's row is; the ids stored before it are still refused
// again, and a search by id (here: the duplicates' kept copies) finds the
// rows of a day partition and of the default one.
func TestTransactionIDsMigrationLocatesRows(t *testing.T) {
	ctx := context.Background()
	s, pool := migratedTo(t, 39)
	now := time.Now().UTC()
	if _, err := s.EnsurePartitions(ctx, now, 1); err != nil {
		t.Fatal(err)
	}
	// Today's in its day partition, an old one in the default partition.
	txs := []store.Tx{
		storetest.Tx("a-today", "c1", now.Truncate(time.Microsecond), 100, 2, 17),
		storetest.Tx("b-old", "c2", time.Date(2025, 3, 1, 12, 0, 0, 123456000, time.UTC), 200, 3, 40),
	}
	// Written as the build before 0040 wrote them: the id alone into
	// transaction_ids; and an id whose transaction is gone.
	err := pgxBegin(ctx, pool, func(tx sqlstore.DB) error {
		for _, id := range []string{"a-today", "b-old", "orphan"} {
			if _, err := tx.Exec(ctx, "INSERT INTO transaction_ids (transaction_id) VALUES ($1)", id); err != nil {
				return err
			}
		}
		return copyTxsInto(ctx, pgTx(tx), "transactions", []store.Part{{Partition: 2, Txs: txs}})
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Migrate(ctx, migrationsFS, "migrations"); err != nil {
		t.Fatal(err)
	}
	for _, want := range txs {
		var at time.Time
		var p int32
		var off int64
		if err := pool.QueryRow(ctx, "SELECT event_time, kafka_partition, kafka_offset FROM transaction_ids WHERE transaction_id = $1",
			want.TransactionID).Scan(&at, &p, &off); err != nil {
			t.Fatal(err)
		}
		if !at.Equal(want.EventTime) || p != want.Partition || off != want.Offset {
			t.Errorf("transaction_ids has %s at %v, partition %d, offset %d; want %v, %d, %d", want.TransactionID, at, p, off,
				want.EventTime, want.Partition, want.Offset)
		}
	}
	var orphan *time.Time
	if err := pool.QueryRow(ctx, "SELECT event_time FROM transaction_ids WHERE transaction_id = 'orphan'").Scan(&orphan); err != nil || orphan != nil {
		t.Errorf("the id without a transaction: %v, %v; want kept with no event time", orphan, err)
	}
	var keyed int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
		JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = i.indkey[0]
		WHERE c.relname LIKE 'transactions%' AND a.attname = 'transaction_id'`).Scan(&keyed); err != nil {
		t.Fatal(err)
	}
	if keyed != 0 {
		t.Errorf("%d indexes of transactions start with the id after 0040; want none", keyed)
	}
	// Each id again, in another partition and at another time: refused, and
	// the kept copy found where it is.
	var again []store.Tx
	for i, x := range txs {
		again = append(again, storetest.Tx(x.TransactionID, x.CustomerID, now.Add(-time.Hour), 1, 0, int64(i)))
	}
	// The id whose transaction was gone: refused too (not "a unique
	// violation but no duplicate found", which would retry the batch
	// forever), its kept copy nowhere known.
	again = append(again, storetest.Tx("orphan", "c3", now.Add(-time.Hour), 1, 0, 2))
	err = s.WriteBatch(ctx, &store.Batch{Group: "g", Topic: "t", Parts: []store.Part{{Partition: 0, From: 0, To: 3, Txs: again}}})
	d, ok := store.IsDuplicate(err)
	if !ok {
		t.Fatalf("the ids stored before the migration, again: %v; want a *DuplicateError", err)
	}
	kept := map[string][2]int64{}
	for _, c := range d.Copies {
		kept[c.TransactionID] = [2]int64{int64(c.KeptPartition), c.KeptOffset}
	}
	for _, x := range txs {
		if got, want := kept[x.TransactionID], [2]int64{int64(x.Partition), x.Offset}; got != want {
			t.Errorf("the kept copy of %s at %v; want %v (copies %+v)", x.TransactionID, got, want, d.Copies)
		}
	}
	if got, ok := kept["orphan"]; !ok || got != [2]int64{-1, -1} {
		t.Errorf("the id without a transaction: kept at %v (listed %v); want listed, at -1, -1", got, ok)
	}
}
