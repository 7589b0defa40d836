package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/store"
)

// testStoreSize: the store says how much disk it takes (store.Size, the
// shopstream_store_size_bytes metric), more than nothing once migrated,
// and more after a thousand transactions are stored.
func testStoreSize(t *testing.T, s store.Store) {
	ctx := context.Background()
	sz, ok := s.(store.Size)
	if !ok {
		t.Fatalf("%T does not implement store.Size", s)
	}
	before, err := sz.StoreSize(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if before <= 0 {
		t.Fatalf("size of a migrated store = %d, want more than 0", before)
	}
	txs := make([]store.Tx, 1000)
	for i := range txs {
		txs[i] = Tx(fmt.Sprintf("size-%d", i), fmt.Sprintf("c%d", i), base.Add(time.Duration(i)*time.Second), 100, 0, int64(i))
	}
	write(t, s, part(0, 0, txs...))
	after, err := sz.StoreSize(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if after <= before {
		t.Errorf("size after storing 1000 transactions = %d, before %d: want it to grow", after, before)
	}
}
