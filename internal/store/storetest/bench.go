package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/store"
)

// Scenarios are the fraud scenarios LabelledPart spreads its fraud over.
var Scenarios = []string{"card_testing", "account_takeover", "bot_burst", "stolen_card", "geo_mismatch"}

// LabelledPart is a batch part of n scored, labelled transactions from
// offset off, one millisecond of event time apart from base, as the
// generator's stream gives the processor: 2% fraud spread over Scenarios,
// legitimate risks mostly low and fraud risks mostly high, decisions by
// the default thresholds (review 0.4, decline 0.9), an alert for each
// transaction not approved.
func LabelledPart(base time.Time, off int64, n int) store.Part {
	rng := rand.New(rand.NewPCG(uint64(off), 77))
	p := store.Part{Partition: 0, From: off, To: off + int64(n), Txs: make([]store.Tx, n), Labels: make([]store.Label, n)}
	for i := range n {
		k := off + int64(i)
		tx := Tx(fmt.Sprintf("tx_%016x", uint64(k)*0x9e3779b97f4a7c15), fmt.Sprintf("c%06d", k%50_000), base.Add(time.Duration(k)*time.Millisecond), 100+k%900, 0, k)
		l := store.Label{TransactionID: tx.TransactionID}
		if rng.IntN(50) == 0 {
			l.Fraud, l.Scenario = true, Scenarios[rng.IntN(len(Scenarios))]
			tx.Risk = 0.3 + 0.7*rng.Float64()
		} else {
			r := rng.Float64()
			tx.Risk = 0.6 * r * r * r
		}
		switch {
		case tx.Risk >= 0.9:
			tx.Decision = "decline"
		case tx.Risk >= 0.4:
			tx.Decision = "review"
		}
		if tx.Decision != "approve" {
			p.Alerts = append(p.Alerts, store.Alert{TransactionID: tx.TransactionID, CustomerID: tx.CustomerID, EventTime: tx.EventTime,
				Risk: tx.Risk, Decision: tx.Decision, ReasonsJSON: tx.ReasonsJSON, AmountCents: tx.TotalCents})
		}
		p.Txs[i], p.Labels[i] = tx, l
	}
	return p
}

// BenchWriteLabelled writes batches of LabelledPart(5,000) and reports
// transactions per second: the processor's hot path with labels and
// alerts, the rollups included.
func BenchWriteLabelled(b *testing.B, s store.Store) {
	const batch = 5000
	base := time.Now().Add(-time.Hour)
	off := int64(0)
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		p := LabelledPart(base, off, batch)
		b.StartTimer()
		if err := s.WriteBatch(context.Background(), &store.Batch{Group: "g", Topic: "t", Parts: []store.Part{p}}); err != nil {
			b.Fatal(err)
		}
		off += batch
	}
	b.ReportMetric(float64(off)/b.Elapsed().Seconds(), "tx/s")
}

// BenchFraudMetricsAPI times reads of the rollups as GET
// /api/v1/fraud/metrics makes them for window (through report, which
// computes the answer), and reports their p50 and p95 in milliseconds.
func BenchFraudMetricsAPI(b *testing.B, report func(ctx context.Context) error) {
	ctx := context.Background()
	var ds []time.Duration
	for b.Loop() {
		t0 := time.Now()
		if err := report(ctx); err != nil {
			b.Fatal(err)
		}
		ds = append(ds, time.Since(t0))
	}
	slices.Sort(ds)
	b.ReportMetric(float64(ds[len(ds)/2])/1e6, "p50-ms")
	b.ReportMetric(float64(ds[min(len(ds)-1, len(ds)*95/100)])/1e6, "p95-ms")
}

// BenchFraudRows is how many transactions the fraud-metrics benchmarks
// store: SHOPSTREAM_BENCH_FRAUD_ROWS, default 1,000,000.
func BenchFraudRows(b *testing.B) int {
	n := 1_000_000
	if v := os.Getenv("SHOPSTREAM_BENCH_FRAUD_ROWS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			b.Fatalf("SHOPSTREAM_BENCH_FRAUD_ROWS=%q: want a positive number", v)
		}
	}
	return n
}

// BenchFraudSpan is the span of event time the benchmark's transactions
// cover, evenly: a week.
const BenchFraudSpan = 7 * 24 * time.Hour

// BackfillScript is the backfill part of a rollup migration file: every
// statement from its first CREATE TEMP TABLE on, after emptying the
// rollups.
func BackfillScript(tb testing.TB, migration string) string {
	tb.Helper()
	text, err := os.ReadFile(migration)
	if err != nil {
		tb.Fatal(err)
	}
	i := strings.Index(string(text), "CREATE TEMP TABLE")
	if i < 0 {
		tb.Fatalf("%s: no backfill found", migration)
	}
	return "DELETE FROM fraud_rollups;\n" + string(text[i:])
}
