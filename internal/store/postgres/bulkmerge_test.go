package postgres_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/pgtest"
	"github.com/shopstream/shopstream/internal/store/postgres"
)

// TestLargeBatchMergesLikeSmall writes the same transactions, each in a
// minute of its own, into one database in two large batches (whose
// window rows are merged from COPY, as an import's) and into another in
// batches of 100 (merged from arrays, as the stream's); the second large
// batch adds to the rows the first stored. Both databases must then hold the same window
// metrics and fraud rollups, row for row.
func TestLargeBatchMergesLikeSmall(t *testing.T) {
	ctx := context.Background()
	const n = 2500 // more window rows than the COPY threshold
	start := time.Date(2024, 5, 6, 0, 0, 0, 0, time.UTC)
	txs := func(round int) []store.Tx {
		out := make([]store.Tx, n)
		for i := range out {
			decision := "approve"
			if i%7 == 0 {
				decision = "review"
			}
			out[i] = store.Tx{TransactionID: fmt.Sprintf("r%d-%d", round, i), CustomerID: fmt.Sprintf("c%d", i%300),
				EventTime: start.Add(time.Duration(i) * time.Minute), TotalCents: int64(100 + i), Currency: "EUR",
				PaymentMethod: "card", Channel: "web", ItemsJSON: []byte(`[]`), Offset: int64(round*n + i),
				Risk: float64(i%100) / 100, Decision: decision, ReasonsJSON: []byte(`[]`), ProducedAt: start}
		}
		return out
	}
	urlLarge, urlSmall := pgtest.URL(t), pgtest.URL(t)
	write := func(url string, size int) {
		s, err := postgres.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		var next int64
		for round := range 2 {
			all := txs(round)
			for lo := 0; lo < len(all); lo += size {
				p := store.Part{Partition: 0, From: next, To: next + int64(min(size, len(all)-lo)), Txs: all[lo:min(lo+size, len(all))]}
				next = p.To
				if err := s.WriteBatch(ctx, &store.Batch{Group: "g", Topic: "t", Parts: []store.Part{p}}); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	write(urlLarge, n)
	write(urlSmall, 100)
	dump := func(url, query string) []string {
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		rows, err := conn.Query(ctx, query)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			v, err := rows.Values()
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, fmt.Sprint(v))
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	for _, q := range []string{
		`SELECT granularity, window_start, channel, payment_method, currency, tx_count, revenue_cents, alert_count
			FROM window_metrics ORDER BY 1, 2, 3, 4, 5`,
		`SELECT granularity, bucket_start, series, risk_bucket, truth, scenario, decision, analyst, n
			FROM fraud_rollups ORDER BY 1, 2, 3, 4, 5, 6, 7, 8`,
	} {
		large, small := dump(urlLarge, q), dump(urlSmall, q)
		if len(small) < n {
			t.Fatalf("%s: only %d rows from %d transactions", q, len(small), 2*n)
		}
		if strings.Join(large, "\n") != strings.Join(small, "\n") {
			t.Errorf("%s: large batches stored %d rows, batches of 100 %d, and they differ", q, len(large), len(small))
			for i := range min(len(large), len(small)) {
				if large[i] != small[i] {
					t.Fatalf("first difference at row %d:\n large %s\n small %s", i, large[i], small[i])
				}
			}
		}
	}
}
