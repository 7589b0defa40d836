package postgres

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/storetest"
)

// The product fold rewrites every product's hour and day row at each run
// of a live stream. Its updates change no indexed column and find room on
// their pages (migration 0038), so they stay in place (HOT): no new index
// entries and a fraction of the WAL. The first updates of freshly filled
// pages find room for about half of them (52, then 84 of 120); the rows
// that moved leave room behind, and from the third pass on all stay in
// place. With 0031's covering index, which held the sums, none did.
func TestProductFoldUpdatesInPlace(t *testing.T) {
	ctx := context.Background()
	s := openMigrated(t)
	const products, passes = 60, 5
	hour := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	// The fold's connections report their counts within a second or two
	// of going idle: wait for the updates expected so far.
	counts := func(want int64) (upd, hot int64) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			err := s.pool.QueryRow(ctx, `SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'product_windows'`).Scan(&upd, &hot)
			if err != nil {
				t.Fatal(err)
			}
			if upd >= want || time.Now().After(deadline) {
				break
			}
		}
		if upd < want {
			t.Fatalf("product_windows: %d updates reported, want %d (an hour and a day row per product and pass after the first)", upd, want)
		}
		return upd, hot
	}
	// Passes over the same products in the same hour, as the runs of a
	// live stream: the first inserts their hour and day rows, each later
	// one updates them.
	var off, upd, hot int64
	for pass := range passes {
		txs := make([]store.Tx, products)
		for i := range txs {
			tx := storetest.Tx(fmt.Sprintf("inplace-%d-%d", pass, i), fmt.Sprintf("c%d-%d", pass, i), hour.Add(time.Duration(pass*5+i%5)*time.Minute), 250, 0, off+int64(i))
			tx.ItemsJSON = fmt.Appendf(nil, `[{"product_id":"P%03d","category":"books","quantity":1,"unit_price":2.50}]`, i)
			txs[i] = tx
		}
		err := s.WriteBatch(ctx, &store.Batch{Group: "g", Topic: "t", Parts: []store.Part{{Partition: 0, From: off, To: off + products, Txs: txs}}})
		if err != nil {
			t.Fatal(err)
		}
		off += products
		for done := false; !done; {
			c, err := s.FoldProducts(ctx, store.ProductFoldOptions{Limit: 1000, Now: time.Now()})
			if err != nil {
				t.Fatal(err)
			}
			done = c.Done
		}
		if pass == 0 {
			continue
		}
		u, h := counts(int64(2 * products * pass))
		t.Logf("pass %d: %d of %d updates in place", pass, h-hot, u-upd)
		if pass == passes-1 && (h-hot)*10 < (u-upd)*9 {
			t.Errorf("product_windows, pass %d: %d of %d updates in place (HOT), want at least 90%%", pass, h-hot, u-upd)
		}
		upd, hot = u, h
	}
}
