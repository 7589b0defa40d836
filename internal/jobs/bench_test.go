package jobs

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/shopstream/shopstream/internal/event"
	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/pgtest"
)

// benchCustomers is the population of BenchmarkRefreshStore:
// SHOPSTREAM_BENCH_CUSTOMERS, default 100,000.
func benchCustomers(b *testing.B) int {
	n := 100_000
	if v := os.Getenv("SHOPSTREAM_BENCH_CUSTOMERS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 100 {
			b.Fatalf("SHOPSTREAM_BENCH_CUSTOMERS=%q: want a number of at least 100", v)
		}
	}
	return n
}

var benchCategories = []string{"fashion", "home_kitchen", "tech_accessories", "books", "beauty", "electronics", "grocery", "shoes", "toys", "phones"}

// fillSynthetic writes customers' histories drawn from the BG/NBD and
// Gamma-Gamma models with the CDNOW parameters (rates in weeks): first
// purchases uniform over 78 weeks, then Poisson purchases with rate
// λ ~ Gamma(0.243, 4.414) until dropping out with p ~ Beta(0.793, 2.426)
// after each, each worth Gamma(6.25, ν), ν ~ Gamma(3.74, 15.44), in one to
// three items of random categories. Deterministic for seed. It returns the
// transactions written.
func fillSynthetic(b *testing.B, s store.Store, seed uint64, customers int) int64 {
	src := rand.NewPCG(seed, 1)
	rng := rand.New(src)
	lambda := distuv.Gamma{Alpha: 0.243, Beta: 4.414, Src: src}
	drop := distuv.Beta{Alpha: 0.793, Beta: 2.426, Src: src}
	nu := distuv.Gamma{Alpha: 3.74, Beta: 15.44, Src: src}
	const weeks = 78
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	week := float64(7 * 24 * time.Hour)
	var txs []store.Tx
	var off int64
	flush := func() {
		err := s.WriteBatch(context.Background(), &store.Batch{Group: "bench", Topic: "transactions",
			Parts: []store.Part{{Partition: 0, From: off, To: off + int64(len(txs)), Txs: txs}}})
		if err != nil {
			b.Fatal(err)
		}
		off += int64(len(txs))
		txs = txs[:0]
	}
	for c := range customers {
		id := fmt.Sprintf("c%08d", c)
		l, p := lambda.Rand(), drop.Rand()
		spend := distuv.Gamma{Alpha: 6.25, Beta: nu.Rand(), Src: src}
		for now, k := rng.Float64()*weeks, 0; now < weeks; k++ {
			n := 1 + rng.IntN(3)
			each := event.Cents(max(1, math.Round(100*spend.Rand()/float64(n))))
			items := make([]event.Item, n)
			for i := range items {
				items[i] = event.Item{ProductID: "P" + strconv.Itoa(rng.IntN(5000)), Category: benchCategories[rng.IntN(len(benchCategories))],
					Quantity: 1, UnitPriceCents: each}
			}
			at := start.Add(time.Duration(now * week))
			txs = append(txs, store.Tx{TransactionID: id + "-" + strconv.Itoa(k), CustomerID: id, EventTime: at,
				TotalCents: int64(each) * int64(n), Currency: "USD", PaymentMethod: "card", Channel: "web", BillingCountry: "DE", ShippingCountry: "DE",
				ItemsJSON: event.AppendItemsJSON(nil, items), Offset: off + int64(len(txs)), Decision: "approve", ReasonsJSON: []byte("[]"), ProducedAt: at})
			if len(txs) == 10_000 {
				flush()
			}
			if k > 0 && rng.Float64() < p {
				break
			}
			now += rng.ExpFloat64() / l
		}
	}
	if len(txs) > 0 {
		flush()
	}
	return off
}

// BenchmarkRefreshStore is one whole refresh, store included, over
// SHOPSTREAM_BENCH_CUSTOMERS synthetic customers (drawn from the CDNOW
// model parameters), as the first run of a process does it: reading every
// stored purchase into the fold, fitting CLV, scoring, clustering, and
// writing every customer's row back in chunks. Then, untimed, it reports
// the runs that follow in the same process: with nothing stored since
// (models kept, nothing to write), after 1% of the customers bought again
// (read incrementally), and, for comparison, a run that reads every
// purchase grouped in the database, as every run did before the fold.
// Filling the store is not timed.
//
//	SHOPSTREAM_BENCH_CUSTOMERS=1000000 go test ./internal/jobs/ -run '^$' -bench RefreshStore -benchtime 1x -timeout 60m
func BenchmarkRefreshStore(b *testing.B) {
	customers := benchCustomers(b)
	for _, name := range []string{"SQLite", "PostgreSQL"} {
		b.Run(name, func(b *testing.B) {
			var s testStore
			if name == "SQLite" {
				s = openSQLite(b)
			} else {
				s = openPostgres(b, pgtest.URL(b))
			}
			fillStart := time.Now()
			n := fillSynthetic(b, s, 1, customers)
			b.Logf("%s: filled %d transactions of %d customers in %v", name, n, customers, time.Since(fillStart).Round(time.Second))
			logRep := func(what string, rep *RefreshReport) {
				b.Logf("%s: %s refresh %.2fs (read %s, %d transactions): read %.2fs, RFM %.2fs, CLV %.2fs, clusters %.2fs (k = %d), write %.2fs (%d rows, models kept %v)",
					name, what, rep.Seconds, rep.Read, rep.TransactionsRead, rep.ReadSeconds, rep.RFMSeconds, rep.CLVSeconds, rep.SegmentsSeconds, rep.K,
					rep.WriteSeconds, rep.RowsWritten, rep.ModelsKept)
			}
			var r *Refresh
			b.ResetTimer()
			for b.Loop() {
				// A new refresh each time, as in a new process: every run
				// reads every purchase, fits the models and writes every row.
				var err error
				if r, err = NewRefresh(RefreshConfig{Store: s, Logger: quiet, Now: farFuture, Seed: 1}); err != nil {
					b.Fatal(err)
				}
				rep, err := r.RunOnce(context.Background())
				if err != nil {
					b.Fatal(err)
				}
				if rep.Customers != customers || !rep.CLVFitted || rep.Read != "full" {
					b.Fatalf("report %+v", *rep)
				}
				logRep("first", rep)
			}
			b.ReportMetric(float64(customers)/(b.Elapsed().Seconds()/float64(b.N)), "customers/s")
			b.StopTimer()
			run := func(r *Refresh, what, read string, check func(*RefreshReport) bool) *RefreshReport {
				rep, err := r.RunOnce(context.Background())
				if err != nil {
					b.Fatal(err)
				}
				if rep.Read != read || !check(rep) {
					b.Fatalf("%s run: %+v", what, *rep)
				}
				logRep(what, rep)
				return rep
			}
			// The next run of the same refresh, on the same data: nothing
			// to read, the models of the day are kept and no row has
			// changed, so it scores but writes nothing.
			rep := run(r, "steady", "incremental", func(rep *RefreshReport) bool {
				return rep.ModelsKept && rep.RowsWritten == 0 && rep.TransactionsRead == 0
			})
			b.ReportMetric(rep.Seconds, "steady-s")
			// 1% of the customers buy again at the end of the history.
			added := appendSynthetic(b, s, customers, n)
			rep = run(r, "1% bought", "incremental", func(rep *RefreshReport) bool { return rep.TransactionsRead == added })
			b.ReportMetric(rep.Seconds, "incremental-s")
			// Every purchase read grouped in the database, as each run did
			// before the fold.
			g, err := NewRefresh(RefreshConfig{Store: plainStore{s}, Logger: quiet, Now: farFuture, Seed: 1})
			if err != nil {
				b.Fatal(err)
			}
			rep = run(g, "grouped-read", "store", func(*RefreshReport) bool { return true })
			b.ReportMetric(rep.Seconds, "grouped-s")
		})
	}
}

// appendSynthetic stores one more purchase of every hundredth customer,
// at the time of the latest stored one (so the refresh's as-of day stays
// the same), from offset off of its partition, and returns how many.
func appendSynthetic(b *testing.B, s testStore, customers int, off int64) int64 {
	at, err := s.LatestPurchase(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	var txs []store.Tx
	for c := 0; c < customers; c += 100 {
		id := fmt.Sprintf("c%08d", c)
		items := []event.Item{{ProductID: "P1", Category: benchCategories[c%len(benchCategories)], Quantity: 1, UnitPriceCents: 2500}}
		txs = append(txs, store.Tx{TransactionID: id + "-again", CustomerID: id, EventTime: at,
			TotalCents: 2500, Currency: "USD", PaymentMethod: "card", Channel: "web", BillingCountry: "DE", ShippingCountry: "DE",
			ItemsJSON: event.AppendItemsJSON(nil, items), Offset: off + int64(len(txs)), Decision: "approve", ReasonsJSON: []byte("[]"), ProducedAt: at})
	}
	err = s.WriteBatch(context.Background(), &store.Batch{Group: "bench", Topic: "transactions",
		Parts: []store.Part{{Partition: 0, From: off, To: off + int64(len(txs)), Txs: txs}}})
	if err != nil {
		b.Fatal(err)
	}
	return int64(len(txs))
}
