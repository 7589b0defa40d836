package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/fraud"
	"github.com/shopstream/shopstream/internal/fraudmetrics"
	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/sqlite"
	"github.com/shopstream/shopstream/internal/store/storetest"
)

// BenchmarkWriteBatch writes batches of 5,000 transactions over 50,000
// customers, as the processor does, and reports transactions per second.
func BenchmarkWriteBatch(b *testing.B) {
	s, err := sqlite.Open(context.Background(), b.TempDir())
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
	s, err := sqlite.Open(context.Background(), b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	storetest.BenchWriteLabelled(b, s)
}

// BenchmarkWriteHistory writes a backfill of 540 days of history in
// batches of 5,000 (storetest.BenchWriteHistory), with every minute row
// written and with the minutes run's retention deletes left out.
func BenchmarkWriteHistory(b *testing.B) {
	for _, keep := range []bool{false, true} {
		b.Run(map[bool]string{false: "all-minutes", true: "minute-horizon"}[keep], func(b *testing.B) {
			s, err := sqlite.Open(context.Background(), b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			storetest.BenchWriteHistory(b, s, keep)
		})
	}
}

// BenchmarkFraudMetrics times GET /api/v1/fraud/metrics' work (reading
// the rollups and computing the report, no cache) over a store of
// SHOPSTREAM_BENCH_FRAUD_ROWS transactions (default 1,000,000) spread
// evenly over a week, all labelled, 2% fraud, bulk-inserted with SQL and
// rolled up by migration 0015's backfill.
func BenchmarkFraudMetrics(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	s, err := sqlite.Open(ctx, dir)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	db, err := sql.Open("sqlite", filepath.Join(dir, sqlite.FileName))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	n := storetest.BenchFraudRows(b)
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	step := int64(storetest.BenchFraudSpan/time.Microsecond) / int64(n)
	t0 := time.Now()
	if _, err := db.Exec(`WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < ? - 1),
			g AS (SELECT i, ? + i * ? AS ts, CAST((i * 2654435761) % 1000003 AS REAL) / 1000003 AS f FROM s),
			r AS (SELECT i, ts, CASE WHEN i % 50 = 0 THEN 0.3 + 0.7 * f ELSE 0.6 * f * f * f END AS risk FROM g)
		INSERT INTO transactions (transaction_id, customer_id, event_time, total_cents, currency, payment_method,
			channel, card_bin, card_last4, device_id, ip_address, billing_country, shipping_country, items, kafka_partition,
			kafka_offset, risk, decision, reasons, produced_at, stored_at)
		SELECT 'b' || i, 'c' || (i % 100000), ts, 1000, 'EUR', 'card', 'web', '411111', '1234', 'd', '10.0.0.1', 'DE', 'DE', '[]',
			i % 8, i / 8, risk, CASE WHEN risk >= 0.9 THEN 'decline' WHEN risk >= 0.4 THEN 'review' ELSE 'approve' END, '[]', ts, ts
		FROM r`, n, base, step); err != nil {
		b.Fatal(err)
	}
	if _, err := db.Exec(`WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < ? - 1)
		INSERT INTO labels (transaction_id, fraud, scenario)
		SELECT 'b' || i, i % 50 = 0, CASE WHEN i % 50 <> 0 THEN '' WHEN (i / 50) % 3 = 0 THEN 'card_testing'
			WHEN (i / 50) % 3 = 1 THEN 'bot_burst' ELSE 'stolen_card' END FROM s`, n); err != nil {
		b.Fatal(err)
	}
	filled := time.Since(t0)
	t0 = time.Now()
	if _, err := db.Exec(storetest.BackfillScript(b, "migrations/0015_fraud_rollups.sql")); err != nil {
		b.Fatal(err)
	}
	var rollups int64
	if err := db.QueryRow("SELECT count(*) FROM fraud_rollups").Scan(&rollups); err != nil {
		b.Fatal(err)
	}
	b.Logf("%d transactions inserted in %v; backfill of %d rollup rows in %v", n, filled.Round(time.Millisecond), rollups, time.Since(t0).Round(time.Millisecond))
	svc, err := fraudmetrics.New(fraudmetrics.Config{Store: s, TTL: time.Nanosecond,
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

// BenchmarkRingPage: a page of the rings API over 10,000 stored rings.
func BenchmarkRingPage(b *testing.B) {
	s, err := sqlite.Open(context.Background(), b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	storetest.BenchRingPage(b, s, 10_000)
}
