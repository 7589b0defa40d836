package sqlite_test

import (
	"context"
	"testing"

	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/sqlite"
	"github.com/shopstream/shopstream/internal/store/storetest"
)

func TestAnalyticsConformance(t *testing.T) {
	storetest.RunAnalytics(t, func(t *testing.T) store.Store {
		s, err := sqlite.Open(context.Background(), t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// Two stores on one database file in one process do not lead at once.
func TestTryLeadPerFile(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	a, err := sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	release, ok, err := a.TryLead(ctx, "job")
	if err != nil || !ok {
		t.Fatalf("TryLead: %v, %v", ok, err)
	}
	if _, ok, _ := b.TryLead(ctx, "job"); ok {
		t.Fatal("a second store on the same file led too")
	}
	release()
	if r, ok, _ := b.TryLead(ctx, "job"); !ok {
		t.Fatal("not leading after release")
	} else {
		r()
	}
}
