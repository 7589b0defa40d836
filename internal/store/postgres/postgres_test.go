package postgres_test

import (
	"context"
	"testing"

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
