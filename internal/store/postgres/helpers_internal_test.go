package postgres

import (
	"context"
	"testing"

	"github.com/shopstream/shopstream/internal/store/pgtest"
)

// openMigrated returns a store on a new database of the test cluster,
// migrated, closed when the test ends.
func openMigrated(t *testing.T) *Store {
	t.Helper()
	s, err := Open(context.Background(), pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
