package postgres

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/storetest"
)

// Each outbox message is updated twice after its insert: the claim's
// lease, then delivered_at. With room on its page (migration 0039) each
// new version stays on the page of the one before, where PostgreSQL logs
// only the bytes that changed; on full pages (fill factor 100) every
// update moved the row and logged all of it.
func TestOutboxUpdatesStayOnTheirPage(t *testing.T) {
	ctx := context.Background()
	s := openMigrated(t)
	// Alerts' messages of the stream's size (about 850 bytes a row), in
	// batches of transactions, as the processor queues them.
	const batches, perBatch = 4, 100
	payload := bytes.Repeat([]byte(`{"alert":"x"}`), 55)
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	var off int64
	for b := range batches {
		part := store.Part{Partition: 0, From: off, To: off + perBatch}
		for i := range perBatch {
			id := fmt.Sprintf("ob-%d-%d", b, i)
			part.Txs = append(part.Txs, storetest.Tx(id, "c"+id, at, 100, 0, off+int64(i)))
			part.Outbox = append(part.Outbox, store.OutboxMsg{Kind: "kafka", Target: "alerts", Key: []byte("c" + id),
				Headers: []byte(`{"kind":"fraud_alert"}`), Payload: payload, Ref: id})
		}
		if err := s.WriteBatch(ctx, &store.Batch{Group: "g", Topic: "t", Parts: []store.Part{part}}); err != nil {
			t.Fatal(err)
		}
		off += perBatch
	}
	pages := func() map[int64]int64 {
		t.Helper()
		m := map[int64]int64{}
		rows, err := s.pool.Query(ctx, `SELECT id, (ctid::text::point)[0]::bigint FROM outbox`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var id, page int64
			if err := rows.Scan(&id, &page); err != nil {
				t.Fatal(err)
			}
			m[id] = page
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return m
	}
	before := pages()
	if len(before) != batches*perBatch {
		t.Fatalf("%d outbox rows, want %d", len(before), batches*perBatch)
	}
	delivered, failed, err := s.DeliverOutbox(ctx, 500, func(*store.OutboxMsg) error { return nil })
	if err != nil || delivered != batches*perBatch || failed != 0 {
		t.Fatalf("DeliverOutbox: %d delivered, %d failed, %v; want all %d delivered", delivered, failed, err, batches*perBatch)
	}
	after := pages()
	stayed := 0
	for id, p := range before {
		if after[id] == p {
			stayed++
		}
	}
	t.Logf("%d of %d messages on their page after the claim and the delivery", stayed, len(before))
	if stayed*10 < len(before)*9 {
		t.Errorf("%d of %d outbox rows stayed on their page through the claim and the delivery, want at least 90%%", stayed, len(before))
	}
}
