package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopstream/shopstream/internal/event"
	"github.com/shopstream/shopstream/internal/fraud"
	"github.com/shopstream/shopstream/internal/fraudmetrics"

	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/pgtest"
	"github.com/shopstream/shopstream/internal/store/postgres"
	"github.com/shopstream/shopstream/internal/store/storetest"
)

// BenchmarkWriteBatch writes batches of 5,000 transactions over 50,000
// customers, as the processor does, and reports transactions per second.
func BenchmarkWriteBatch(b *testing.B) {
	s, err := postgres.Open(context.Background(), pgtest.URL(b))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const batch = 5000
	base := time.Now().Add(-time.Hour)
	off := int64(0)
	b.ResetTimer()
	for b.Loop() {
		txs := make([]store.Tx, batch)
		for i := range txs {
			n := off + int64(i)
			txs[i] = storetest.Tx(fmt.Sprintf("tx_%016x", uint64(n)*0x9e3779b97f4a7c15), fmt.Sprintf("c%06d", n%50_000), base.Add(time.Duration(n)*time.Millisecond), 100+n%900, 0, n)
		}
		err := s.WriteBatch(context.Background(), &store.Batch{Group: "g", Topic: "t",
			Parts: []store.Part{{Partition: 0, From: off, To: off + batch, Txs: txs}}})
		if err != nil {
			b.Fatal(err)
		}
		off += batch
	}
	b.ReportMetric(float64(off)/b.Elapsed().Seconds(), "tx/s")
}

// BenchmarkWriteBatchLabelled writes batches of 5,000 labelled, scored
// transactions with their alerts: the processor's write, rollups included.
func BenchmarkWriteBatchLabelled(b *testing.B) {
	s, err := postgres.Open(context.Background(), pgtest.URL(b))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	storetest.BenchWriteLabelled(b, s)
}

// BenchmarkFraudMetrics times GET /api/v1/fraud/metrics' work (reading
// the rollups and computing the report, no cache) over a store of
// SHOPSTREAM_BENCH_FRAUD_ROWS transactions (default 1,000,000) spread
// evenly over a week, all labelled, 2% fraud, bulk-inserted with SQL and
// rolled up by migration 0015's backfill.
func BenchmarkFraudMetrics(b *testing.B) {
	ctx := context.Background()
	url := pgtest.URL(b)
	s, err := postgres.Open(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	n := storetest.BenchFraudRows(b)
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	step := int64(storetest.BenchFraudSpan/time.Microsecond) / int64(n)
	t0 := time.Now()
	if _, err := conn.Exec(ctx, `INSERT INTO transactions (transaction_id, customer_id, event_time, total_cents, currency, payment_method,
			channel, card_bin, card_last4, device_id, ip_address, billing_country, shipping_country, items, kafka_partition,
			kafka_offset, risk, decision, reasons, produced_at, stored_at)
		SELECT 'b' || i, 'c' || (i % 100000), ts, 1000, 'EUR', 'card', 'web', '411111', '1234', 'd', '10.0.0.1', 'DE', 'DE', '[]',
			i % 8, i / 8, risk, CASE WHEN risk >= 0.9 THEN 'decline' WHEN risk >= 0.4 THEN 'review' ELSE 'approve' END, '[]', ts, ts
		FROM (SELECT i, $1::timestamptz + (i * $2::bigint) * interval '1 microsecond' AS ts,
				CASE WHEN i % 50 = 0 THEN 0.3 + 0.7 * f ELSE 0.6 * f * f * f END AS risk
			FROM (SELECT i, ((i * 2654435761) % 1000003)::float8 / 1000003 AS f FROM generate_series(0, $3::bigint - 1) AS i) AS g) AS r`,
		base, step, n); err != nil {
		b.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `INSERT INTO labels (transaction_id, fraud, scenario)
		SELECT 'b' || i, i % 50 = 0, CASE WHEN i % 50 = 0 THEN (ARRAY['card_testing', 'bot_burst', 'stolen_card'])[1 + (i / 50) % 3] ELSE '' END
		FROM generate_series(0, $1::bigint - 1) AS i`, n); err != nil {
		b.Fatal(err)
	}
	filled := time.Since(t0)
	t0 = time.Now()
	if _, err := conn.Exec(ctx, storetest.BackfillScript(b, "migrations/0015_fraud_rollups.sql")); err != nil {
		b.Fatal(err)
	}
	var rollups int64
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM fraud_rollups").Scan(&rollups); err != nil {
		b.Fatal(err)
	}
	b.Logf("%d transactions inserted in %v; backfill of %d rollup rows in %v", n, filled.Round(time.Millisecond), rollups, time.Since(t0).Round(time.Millisecond))
	benchFraudMetrics(b, s)
}

// benchFraudMetrics times the report of each window, with no cache.
func benchFraudMetrics(b *testing.B, s store.Store) {
	svc, err := fraudmetrics.New(fraudmetrics.Config{Store: s.(store.Fraud), TTL: time.Nanosecond,
		Thresholds: func() fraud.ScorerConfig { return fraud.ScorerConfig{}.WithDefaults() }})
	if err != nil {
		b.Fatal(err)
	}
	for _, w := range []string{"1h", "24h", "all"} {
		b.Run(w, func(b *testing.B) {
			storetest.BenchFraudMetricsAPI(b, func(ctx context.Context) error {
				r, err := svc.Report(ctx, w)
				if err == nil && r.Labelled == 0 {
					err = fmt.Errorf("window %s: nothing labelled", w)
				}
				return err
			})
		})
	}
}

// BenchmarkStoreSize is one reading of the store's size: pg_database_size
// of a freshly migrated database, which stats every file of it.
func BenchmarkStoreSize(b *testing.B) {
	ctx := context.Background()
	s, err := postgres.Open(ctx, pgtest.URL(b))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for b.Loop() {
		if _, err := s.StoreSize(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRingPage: a page of the rings API over 10,000 stored rings.
func BenchmarkRingPage(b *testing.B) {
	s, err := postgres.Open(context.Background(), pgtest.URL(b))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	storetest.BenchRingPage(b, s, 10_000)
}

// BenchmarkProductFoldLateInTheDay folds the last minute's 2,000
// transactions (5,000-transaction chunks, as the product fold's default)
// into a product rollup that holds the rest of the day already: 23 hours
// of 2,000 transactions each over 3,000 products, what a live shop's fold
// meets late in the UTC day.
func BenchmarkProductFoldLateInTheDay(b *testing.B) {
	ctx := context.Background()
	s, err := postgres.Open(ctx, pgtest.URL(b))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	day := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	off := int64(0)
	write := func(n int, from time.Time, span time.Duration) {
		txs := make([]store.Tx, n)
		for i := range txs {
			k := off + int64(i)
			items := []event.Item{{ProductID: fmt.Sprintf("P%04d", k*7919%3000), Category: "c", Quantity: 1, UnitPriceCents: 500}}
			if k%3 == 0 {
				items = append(items, event.Item{ProductID: fmt.Sprintf("P%04d", k*104729%3000), Category: "c", Quantity: 2, UnitPriceCents: 250})
			}
			txs[i] = storetest.Tx(fmt.Sprintf("pf_%016x", uint64(k)*0x9e3779b97f4a7c15), fmt.Sprintf("c%06d", k%50_000),
				from.Add(span*time.Duration(i)/time.Duration(n)), 1000, 0, k)
			txs[i].ItemsJSON = event.AppendItemsJSONIn(nil, items, "EUR")
		}
		if err := s.WriteBatch(ctx, &store.Batch{Group: "g", Topic: "t",
			Parts: []store.Part{{Partition: 0, From: off, To: off + int64(n), Txs: txs}}}); err != nil {
			b.Fatal(err)
		}
		off += int64(n)
	}
	fold := func() {
		for {
			c, err := s.FoldProducts(ctx, store.ProductFoldOptions{Limit: 5000, Now: time.Now()})
			if err != nil {
				b.Fatal(err)
			}
			if c.Done {
				return
			}
		}
	}
	for h := range 23 {
		write(2000, day.Add(time.Duration(h)*time.Hour), time.Hour)
	}
	fold()
	minute := day.Add(23 * time.Hour)
	for b.Loop() {
		b.StopTimer()
		write(2000, minute, time.Minute)
		minute = minute.Add(time.Minute)
		b.StartTimer()
		fold()
	}
}
