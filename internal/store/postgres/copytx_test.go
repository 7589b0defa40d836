package postgres_test

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/pgtest"
	"github.com/shopstream/shopstream/internal/store/postgres"
	"github.com/shopstream/shopstream/internal/store/storetest"
)

// The transactions' binary COPY stores every column as the row holds it:
// NULL and present shadow risks, absent, empty and full feature vectors,
// text beyond ASCII, times before PostgreSQL's epoch and to the
// microsecond, negative and large numbers, and enough rows to span
// several of the encoder's chunks.
func TestCopyTransactionsRoundTrip(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	s, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	at := time.Date(1999, 12, 31, 23, 59, 59, 123456000, time.UTC)
	a := storetest.Tx("tx-a", "kundé-1", at, 0, 3, 1<<40)
	a.ShadowRisk, a.HasShadow, a.Risk = 0.25, true, 0.75
	a.Features = nil
	a.IPCountry, a.IPHosting = "NL", true
	a.ProducedAt = at.Add(time.Microsecond)
	a.ItemsJSON = []byte(`[{"product_id":"Pü","category":"bücher","quantity":2,"unit_price":1.5}]`)
	a.ReasonsJSON = []byte(`["velocity","geo"]`)
	b := storetest.Tx("tx-b", "c2", time.Date(2026, 5, 1, 12, 0, 0, 1000, time.UTC), math.MaxInt64, 0, 0)
	b.Features = []float32{}
	c := storetest.Tx("tx-c", "c3", time.Date(2026, 5, 2, 0, 0, 0, 0, time.UTC), 42, 1, 7)
	c.Features = []float32{-1.5, 0, float32(math.Inf(1)), 3.25e-7}
	txs := []store.Tx{a, b, c}
	for i := range 3000 { // past 64 KiB of COPY data
		txs = append(txs, storetest.Tx(fmt.Sprintf("bulk-%05d", i), "c", c.EventTime, int64(i), 2, int64(i)))
	}
	byPart := map[int32][]store.Tx{}
	for _, tx := range txs {
		byPart[tx.Partition] = append(byPart[tx.Partition], tx)
	}
	var parts []store.Part
	for p, txs := range byPart {
		parts = append(parts, store.Part{Partition: p, From: 0, To: int64(len(txs)), Txs: txs})
	}
	if err := s.WriteBatch(ctx, &store.Batch{Group: "g", Topic: "t", Parts: parts}); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM transactions").Scan(&n); err != nil || n != len(txs) {
		t.Fatalf("%d rows stored of %d (%v)", n, len(txs), err)
	}
	for _, want := range []store.Tx{a, b, c} {
		var got store.Tx
		var items, reasons string
		var shadow *float32
		var feats []float32
		var featsNull bool
		var risk float32
		err := conn.QueryRow(ctx, `SELECT transaction_id, customer_id, event_time, total_cents, currency, payment_method, channel,
				card_bin, card_last4, device_id, ip_address, billing_country, shipping_country, items::text, kafka_partition,
				kafka_offset, risk, decision, reasons::text, shadow_risk, coalesce(features, '{}'), features IS NULL, produced_at,
				ip_country, ip_hosting
			FROM transactions WHERE transaction_id = $1`, want.TransactionID).Scan(&got.TransactionID, &got.CustomerID,
			&got.EventTime, &got.TotalCents, &got.Currency, &got.PaymentMethod, &got.Channel, &got.CardBIN, &got.CardLast4,
			&got.DeviceID, &got.IPAddress, &got.BillingCountry, &got.ShippingCountry, &items, &got.Partition, &got.Offset,
			&risk, &got.Decision, &reasons, &shadow, &feats, &featsNull, &got.ProducedAt, &got.IPCountry, &got.IPHosting)
		if err != nil {
			t.Fatalf("%s: %v", want.TransactionID, err)
		}
		if got.TransactionID != want.TransactionID || got.CustomerID != want.CustomerID || !got.EventTime.Equal(want.EventTime) ||
			got.TotalCents != want.TotalCents || got.Currency != want.Currency || got.PaymentMethod != want.PaymentMethod ||
			got.Channel != want.Channel || got.CardBIN != want.CardBIN || got.CardLast4 != want.CardLast4 || got.DeviceID != want.DeviceID ||
			got.IPAddress != want.IPAddress || got.BillingCountry != want.BillingCountry || got.ShippingCountry != want.ShippingCountry ||
			items != string(want.ItemsJSON) || got.Partition != want.Partition || got.Offset != want.Offset ||
			risk != float32(want.Risk) || got.Decision != want.Decision || reasons != string(want.ReasonsJSON) ||
			!got.ProducedAt.Equal(want.ProducedAt) || got.IPCountry != want.IPCountry || got.IPHosting != want.IPHosting {
			t.Errorf("%s: stored %+v (items %s, reasons %s, risk %v), want %+v", want.TransactionID, got, items, reasons, risk, want)
		}
		if (shadow != nil) != want.HasShadow || shadow != nil && *shadow != float32(want.ShadowRisk) {
			t.Errorf("%s: shadow risk %v, want %v (%v)", want.TransactionID, shadow, want.ShadowRisk, want.HasShadow)
		}
		if featsNull != (want.Features == nil) || len(feats) != len(want.Features) {
			t.Fatalf("%s: features %v (NULL %v), want %v", want.TransactionID, feats, featsNull, want.Features)
		}
		for i := range feats {
			if feats[i] != want.Features[i] {
				t.Errorf("%s: features %v, want %v", want.TransactionID, feats, want.Features)
			}
		}
	}
}
