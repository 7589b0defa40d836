package cli

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/shopstream/shopstream/internal/store/sqlite"
)

// countingSize is a store.Size that counts its reads.
type countingSize struct {
	reads int
	size  int64
	err   error
}

func (c *countingSize) StoreSize(context.Context) (int64, error) {
	c.reads++
	return c.size, c.err
}

// TestStoreSizeIsCached: scrapes within 15 s of a reading reuse it, a
// later one reads again, and a failed read leaves the metric out of the
// scrape (the others stay) without being retried at every scrape.
func TestStoreSizeIsCached(t *testing.T) {
	s := &countingSize{size: 4096}
	c := newStoreSizeCollector(s)
	clock := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	c.now = func() time.Time { return clock }
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	want := func(v string) {
		t.Helper()
		exp := "# HELP shopstream_store_size_bytes " + storeSizeHelp + "\n# TYPE shopstream_store_size_bytes gauge\nshopstream_store_size_bytes " + v + "\n"
		if err := testutil.GatherAndCompare(reg, strings.NewReader(exp), "shopstream_store_size_bytes"); err != nil {
			t.Fatal(err)
		}
	}
	want("4096")
	s.size = 8192
	clock = clock.Add(14 * time.Second)
	want("4096")
	if s.reads != 1 {
		t.Fatalf("%d reads for two scrapes 14 s apart, want 1", s.reads)
	}
	clock = clock.Add(time.Second)
	want("8192")
	s.err = errors.New("database down")
	clock = clock.Add(15 * time.Second)
	if _, err := reg.Gather(); err == nil || !strings.Contains(err.Error(), "database down") {
		t.Fatalf("gathering while the store fails: %v, want its error", err)
	}
	if _, err := reg.Gather(); err == nil || s.reads != 3 {
		t.Fatalf("a second scrape after a failure: %v, %d reads, want the failure reused (3 reads)", err, s.reads)
	}
}

// TestRegistryHasStoreSize: the registry of run, process and serve
// exposes the size of a real SQLite store.
func TestRegistryHasStoreSize(t *testing.T) {
	st, err := sqlite.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	mfs, err := newRegistry(st).Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "shopstream_store_size_bytes" {
			if v := mf.GetMetric()[0].GetGauge().GetValue(); v <= 0 {
				t.Fatalf("shopstream_store_size_bytes = %v, want the database's bytes", v)
			}
			return
		}
	}
	t.Fatal("no shopstream_store_size_bytes in the registry")
}
