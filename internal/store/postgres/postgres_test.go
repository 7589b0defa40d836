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
