package postgres_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/pgtest"
	"github.com/shopstream/shopstream/internal/store/postgres"
	"github.com/shopstream/shopstream/internal/store/storetest"
)

// linguistic makes a database whose default collation orders text as
// people read it ('a' < 'B'), as the postgres container image's and most
// distributions' initdb do (en_US.UTF-8), unlike the test cluster's C. ICU's
// en-US stands in for the C library's, which a host may not have
// generated; both order text alike where it matters here.
const linguistic = "TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US'"

// linguisticURL returns a new database in a linguistic collation, checked
// to be one.
func linguisticURL(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, pgtest.Server(t))
	if err != nil {
		t.Fatal(err)
	}
	var version int
	err = admin.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&version)
	admin.Close(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if version < 150000 {
		t.Skipf("a database's default collation from ICU needs PostgreSQL 15 or later; the server is %d", version)
	}
	url := pgtest.URLWith(t, linguistic)
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var lingual bool
	if err := conn.QueryRow(ctx, "SELECT 'a'::text < 'B'::text").Scan(&lingual); err != nil {
		t.Fatal(err)
	}
	if !lingual {
		t.Fatalf("the database made with %q orders 'B' before 'a': not a linguistic collation", linguistic)
	}
	return url
}

func openLinguistic(t *testing.T) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), linguisticURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// migratedLinguistic returns a connection to a new database in a
// linguistic collation that the store has migrated.
func migratedLinguistic(t *testing.T) *pgx.Conn {
	t.Helper()
	ctx := context.Background()
	url := linguisticURL(t)
	s, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// TestTextColumnsCompareAsBytes: in a database whose collation is
// linguistic, every text column of the schema, the transactions'
// partitions' included, compares as bytes once the store has migrated it
// (0034): its keys' B-trees compare by memcmp, not strcoll.
func TestTextColumnsCompareAsBytes(t *testing.T) {
	ctx := context.Background()
	conn := migratedLinguistic(t)
	rows, err := conn.Query(ctx, `SELECT c.relname, a.attname, a.attcollation = 'pg_catalog."C"'::regcollation
		FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
		WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())
			AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped AND a.attcollation <> 0
		ORDER BY 1, 2`)
	if err != nil {
		t.Fatal(err)
	}
	bytewise := map[string]bool{}
	for rows.Next() {
		var rel, col string
		var c bool
		if err := rows.Scan(&rel, &col, &c); err != nil {
			t.Fatal(err)
		}
		bytewise[rel+"."+col] = c
		if !c {
			t.Errorf("%s.%s compares in the database's collation, not as bytes", rel, col)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for _, col := range []string{"transactions.transaction_id", "transactions.customer_id", "transaction_ids.transaction_id",
		"customers.customer_id", "labels.transaction_id", "window_metrics.channel", "product_windows.product_id"} {
		if _, ok := bytewise[col]; !ok {
			t.Errorf("column %s not found among %d text columns", col, len(bytewise))
		}
	}
	// A column compares as bytes, whatever the database's collation: 'B'
	// before 'a'.
	var first string
	if _, err := conn.Exec(ctx, "INSERT INTO transaction_ids VALUES ('a'), ('B')"); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRow(ctx, "SELECT transaction_id FROM transaction_ids ORDER BY transaction_id LIMIT 1").Scan(&first); err != nil {
		t.Fatal(err)
	}
	if first != "B" {
		t.Errorf("first transaction ID in order = %q, want \"B\" (byte order)", first)
	}
}

// TestConformanceInLinguisticCollation runs the store's conformance suites
// in a database whose own collation is linguistic, where every column
// compares as bytes and every parameter and literal in the database's
// collation: no statement may fail for it, and every order the suites
// check (byte order of IDs among them) must hold.
func TestConformanceInLinguisticCollation(t *testing.T) {
	open := func(t *testing.T) store.Store { return openLinguistic(t) }
	t.Run("Store", func(t *testing.T) { storetest.Run(t, open) })
	t.Run("Analytics", func(t *testing.T) { storetest.RunAnalytics(t, open) })
	t.Run("Purchases", func(t *testing.T) { storetest.RunPurchases(t, open) })
	t.Run("Import", func(t *testing.T) { storetest.RunImport(t, open, "") })
	t.Run("Fraud", func(t *testing.T) { storetest.RunFraud(t, openLinguistic) })
	t.Run("Labels", func(t *testing.T) { storetest.RunLabels(t, openLinguistic) })
}

// twinIndexes lists pairs of indexes of one table, in the store's
// schema, with the same columns, collations, operator classes, orders,
// included columns, expressions and predicate.
const twinIndexes = `SELECT a.indexrelid::regclass::text || ' and ' || b.indexrelid::regclass::text
	FROM pg_index a JOIN pg_index b ON a.indrelid = b.indrelid AND a.indexrelid < b.indexrelid
		AND a.indkey::text = b.indkey::text AND a.indnkeyatts = b.indnkeyatts
		AND a.indcollation::text = b.indcollation::text AND a.indclass::text = b.indclass::text
		AND a.indoption::text = b.indoption::text
		AND pg_get_expr(a.indexprs, a.indrelid) IS NOT DISTINCT FROM pg_get_expr(b.indexprs, b.indrelid)
		AND pg_get_expr(a.indpred, a.indrelid) IS NOT DISTINCT FROM pg_get_expr(b.indpred, b.indrelid)
	JOIN pg_class c ON c.oid = a.indrelid
	WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())
	ORDER BY 1`

// TestNoTwinIndexes: once every text column compares as bytes (0034), an
// index declared on the same columns in the "C" collation as another (as
// 0032's customer list index was, beside the primary key) is the other's
// twin, and every row written pays for both. No two indexes of a table
// may be twins, in a database whose own collation is linguistic.
func TestNoTwinIndexes(t *testing.T) {
	ctx := context.Background()
	conn := migratedLinguistic(t)
	twins := func() []string {
		t.Helper()
		rows, err := conn.Query(ctx, twinIndexes)
		if err != nil {
			t.Fatal(err)
		}
		out, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	for _, pair := range twins() {
		t.Errorf("indexes %s index the same keys", pair)
	}
	// The query finds a twin made on purpose.
	if _, err := conn.Exec(ctx, `CREATE INDEX twin_check ON customers (customer_id COLLATE "C")`); err != nil {
		t.Fatal(err)
	}
	if got := twins(); len(got) != 1 || got[0] != "customers_pkey and twin_check" {
		t.Errorf("twins with one made on purpose: %q, want [\"customers_pkey and twin_check\"]", got)
	}
}
