package postgres_test

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"net/url"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/pgtest"
	"github.com/shopstream/shopstream/internal/store/postgres"
	"github.com/shopstream/shopstream/internal/store/storetest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func open(t *testing.T) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return open(t) })
}

func TestMigrationsAreIdempotent(t *testing.T) {
	url := pgtest.URL(t)
	for range 2 {
		s, err := postgres.Open(context.Background(), url)
		if err != nil {
			t.Fatalf("opening twice: %v", err)
		}
		s.Close()
	}
}
func TestFraudConformance(t *testing.T) { storetest.RunFraud(t, open) }

func TestLabelsConformance(t *testing.T) { storetest.RunLabels(t, open) }

func TestSchema(t *testing.T) {
	storetest.RunSchema(t, storetest.Schema{
		Fresh: func(t *testing.T) string { return pgtest.URL(t) },
		Open: func(ctx context.Context, url string, opts ...store.OpenOption) (store.Store, error) {
			return postgres.Open(ctx, url, opts...)
		},
		Record: func(t *testing.T, url string, v int) {
			conn, err := pgx.Connect(context.Background(), url)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(context.Background())
			if _, err := conn.Exec(context.Background(), "INSERT INTO schema_migrations (version, name) VALUES ($1, 'from_a_newer_build.sql')", v); err != nil {
				t.Fatal(err)
			}
		},
	})
}

// TestSchemaCheckWithoutCreateRight opens the store, requiring the current
// schema, as a user that may read but not create tables: what a processor
// runs as when only the migration step may change the schema.
func TestSchemaCheckWithoutCreateRight(t *testing.T) {
	ctx := context.Background()
	admin := pgtest.URL(t)
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var db string
	if err := conn.QueryRow(ctx, "SELECT current_database()").Scan(&db); err != nil {
		t.Fatal(err)
	}
	role := db + "_reader"
	for _, q := range []string{
		"CREATE ROLE " + role + " LOGIN",
		"REVOKE CREATE ON SCHEMA public FROM PUBLIC",
		"GRANT USAGE ON SCHEMA public TO " + role,
		"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO " + role,
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), admin)
		if err == nil {
			c.Exec(context.Background(), "DROP OWNED BY "+role)
			c.Exec(context.Background(), "DROP ROLE "+role)
			c.Close(context.Background())
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(role)
	reader := u.String()

	_, err = postgres.Open(ctx, reader, store.WithSchema(store.SchemaRequire))
	var sv *store.SchemaVersionError
	if !errors.As(err, &sv) || sv.Database != 0 {
		t.Fatalf("a never-migrated database, read without the right to create: %v, want a SchemaVersionError at version 0", err)
	}
	s, err := postgres.Open(ctx, admin) // migrates
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = postgres.Open(ctx, reader, store.WithSchema(store.SchemaRequire))
	if err != nil {
		t.Fatalf("requiring the current schema without the right to create: %v", err)
	}
	s.Close()
}

func TestRollupBackfill(t *testing.T) {
	url := pgtest.URL(t)
	s, err := postgres.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	storetest.RunRollupBackfill(t, s, "migrations/0015_fraud_rollups.sql", func(q string) error {
		if _, err := conn.Exec(context.Background(), q); err != nil {
			return err
		}
		_, err := conn.Exec(context.Background(), storetest.UnlabelledBackfill(t, "migrations/0018_label_events.sql"))
		return err
	})
}

func TestAddressKeyAcross(t *testing.T) {
	storetest.RunAddressKeyAcross(t, func(t *testing.T) string { return pgtest.URL(t) }, func(t *testing.T, url string) store.Store {
		s, err := postgres.Open(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// TestCheckpointStoredUncompressed: a partition's checkpoint is stored as
// written, not compressed (migration 0033): compressing megabytes of
// state in the batch's transaction stalled the partition's stream. A
// checkpoint of one repeated byte, which any compression shrinks to
// almost nothing, takes its full size in the table and reads back whole.
func TestCheckpointStoredUncompressed(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	state := bytes.Repeat([]byte{7}, 1<<20)
	b := &store.Batch{Group: "g", Topic: "transactions", Parts: []store.Part{{Partition: 0, From: 0, To: 1,
		Txs: []store.Tx{storetest.Tx("cp-1", "c1", time.Now(), 100, 0, 0)}, Checkpoint: state}}}
	if err := s.WriteBatch(ctx, b); err != nil {
		t.Fatal(err)
	}
	var size, length int
	if err := s.Pool().QueryRow(ctx, `SELECT pg_column_size(checkpoint), length(checkpoint) FROM consumer_offsets
		WHERE group_id = 'g' AND topic = 'transactions' AND partition = 0`).Scan(&size, &length); err != nil {
		t.Fatal(err)
	}
	if length != len(state) || size < len(state) {
		t.Errorf("checkpoint of %d bytes stored as %d bytes (length %d): compressed", len(state), size, length)
	}
	cp, err := s.Checkpoint(ctx, "g", "transactions", 0)
	if err != nil || cp == nil || !bytes.Equal(cp.State, state) || cp.Offset != 1 {
		t.Fatalf("checkpoint read back: %v, %v", cp != nil && bytes.Equal(cp.State, state), err)
	}
}

// TestPartitionCheckpointsUnlogged: the checkpoints stored after their
// batches write no WAL (migration 0041), neither their rows nor their
// TOAST, so the batches committing meanwhile do not wait for tens of
// megabytes to be flushed; the offsets they go with stay logged.
func TestPartitionCheckpointsUnlogged(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	rows, err := s.Pool().Query(ctx, `SELECT c.relname, c.relpersistence, coalesce(tc.relpersistence, '-')
		FROM pg_class c LEFT JOIN pg_class tc ON tc.oid = c.reltoastrelid
		WHERE c.relname IN ('partition_checkpoints', 'consumer_offsets') AND c.relnamespace = current_schema()::regnamespace`)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for rows.Next() {
		var name, p, tp string
		if err := rows.Scan(&name, &p, &tp); err != nil {
			t.Fatal(err)
		}
		got[name] = p + tp
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	// relpersistence: u unlogged, p permanent (the TOAST table follows).
	if want := map[string]string{"partition_checkpoints": "uu", "consumer_offsets": "pp"}; !maps.Equal(got, want) {
		t.Errorf("persistence of the table and its TOAST: %v; want %v", got, want)
	}
}
