package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
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
	return LabelledPartEvery(base, off, n, time.Millisecond)
}

// LabelledPartEvery is LabelledPart with the transactions step apart in
// event time.
func LabelledPartEvery(base time.Time, off int64, n int, step time.Duration) store.Part {
	rng := rand.New(rand.NewPCG(uint64(off), 77))
	p := store.Part{Partition: 0, From: off, To: off + int64(n), Txs: make([]store.Tx, n), Labels: make([]store.Label, n)}
	for i := range n {
		k := off + int64(i)
		tx := Tx(fmt.Sprintf("tx_%016x", uint64(k)*0x9e3779b97f4a7c15), fmt.Sprintf("c%06d", k%50_000), base.Add(time.Duration(k)*step), 100+k%900, 0, k)
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

// BenchWriteHistory writes, as BenchWriteLabelled, a backfill of old
// history: 540 days of event time in 440,000 transactions (run's demo
// shop), its batches walking through it from the start; with keep, the
// store leaves out the minute rows run's retention deletes
// (store.MinuteHorizon: minute windows after 2 days, minute rollups
// after 30). It reports transactions per second and the minute rows
// written per transaction.
func BenchWriteHistory(b *testing.B, s store.Store, keep bool) {
	const batch, total, span = 5000, 440_000, 540 * 24 * time.Hour
	step := span / total
	base := time.Now().Add(-span)
	if keep {
		s.(store.MinuteHorizon).KeepMinutes(2*24*time.Hour, 30*24*time.Hour)
	}
	off := int64(0)
	minutes := 0
	var cpu time.Duration // of this process while writing: SQLite's included
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		p := LabelledPartEvery(base, off%total, batch, step)
		p.From, p.To = off, off+batch
		for i := range p.Txs {
			p.Txs[i].TransactionID = fmt.Sprintf("%s_%d", p.Txs[i].TransactionID, off/total)
			p.Txs[i].Offset = off + int64(i)
			p.Labels[i].TransactionID = p.Txs[i].TransactionID
		}
		for i := range p.Alerts {
			p.Alerts[i].TransactionID = fmt.Sprintf("%s_%d", p.Alerts[i].TransactionID, off/total)
		}
		parts := []store.Part{p}
		ws := store.WindowDeltas(parts)
		rs := store.RollupDeltas(parts)
		if keep {
			ws = store.MinuteWindowsSince(ws, time.Now().Add(-2*24*time.Hour))
			rs = store.MinuteRollupsSince(rs, time.Now().Add(-30*24*time.Hour))
		}
		for _, w := range ws {
			if w.Granularity == store.Minute {
				minutes++
			}
		}
		for _, r := range rs {
			if r.Granularity == store.Minute {
				minutes++
			}
		}
		c0 := processCPU()
		b.StartTimer()
		if err := s.WriteBatch(context.Background(), &store.Batch{Group: "g", Topic: "t", Parts: parts}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		cpu += processCPU() - c0
		b.StartTimer()
		off += batch
	}
	b.ReportMetric(float64(off)/b.Elapsed().Seconds(), "tx/s")
	b.ReportMetric(float64(minutes)/float64(off), "minute-rows/tx")
	b.ReportMetric(float64(cpu.Microseconds())/float64(off), "cpu-µs/tx")
}

// processCPU is the CPU time (user and system) this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
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
