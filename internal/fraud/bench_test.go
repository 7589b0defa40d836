package fraud

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/event"
	"github.com/shopstream/shopstream/internal/generate"
	"github.com/shopstream/shopstream/internal/quality"
)

// benchStream decodes n records of the synthetic shop's default mix.
func benchStream(b *testing.B, n int) []event.Transaction {
	b.Helper()
	gen, err := generate.New(generate.Config{Seed: 11})
	if err != nil {
		b.Fatal(err)
	}
	qc := quality.Config{}.WithDefaults()
	out := make([]event.Transaction, 0, n)
	for len(out) < n {
		rec := gen.Next()
		var t event.Transaction
		if qc.Decode(rec.Value, rec.EventTime, &t) == nil {
			out = append(out, t)
		}
	}
	return out
}

func benchState(b *testing.B) *State { return benchStateBounded(b, 0) }

// benchStateBounded is benchState with MaxCustomers and MaxEntities at max
// (0: their defaults).
func benchStateBounded(b *testing.B, max int) *State {
	s, err := NewState(StateConfig{CountryOfIP: generate.CountryOfIP, CountryOfBIN: generate.CountryOfBIN, IsHostingIP: generate.IsHostingIP,
		MaxCustomers: max, MaxEntities: max})
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkUpdate is State.Update of a warm state, with the tables
// unbounded, bounded above what the stream holds (the heap kept, nothing
// forgotten) and bounded below it (a key forgotten for most new ones).
func BenchmarkUpdate(b *testing.B) {
	txs := benchStream(b, 60_000)
	for _, bc := range []struct {
		name string
		max  int
	}{{"unbounded", -1}, {"bounded-above", 1_000_000}, {"bounded-below", 2_000}} {
		b.Run(bc.name, func(b *testing.B) {
			s := benchStateBounded(b, bc.max)
			var f Features
			for i := range txs[:50_000] {
				s.FeaturesInto(&txs[i], &f)
				s.Update(&txs[i], &f)
			}
			live := txs[50_000:]
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				s.Update(&live[i%len(live)], nil)
				i++
			}
		})
	}
}

// BenchmarkScore is the fraud work the pipeline does per transaction:
// features from a warm partition state, the default rules, the isolation
// forest and its calibration, reasons when held, and the state update.
func BenchmarkScore(b *testing.B) {
	txs := benchStream(b, 60_000)
	s := benchState(b)
	var train [][]float64
	var f Features
	for i := range txs[:50_000] {
		s.FeaturesInto(&txs[i], &f)
		s.Update(&txs[i], &f)
		if i < 20_000 {
			train = append(train, f.Vector(nil))
		}
	}
	model, err := TrainModel(train, 1)
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name  string
		model Model
	}{{"rules", nil}, {"rules+forest", model}} {
		b.Run(bc.name, func(b *testing.B) {
			sc, err := NewScorer(nil, bc.model, ScorerConfig{})
			if err != nil {
				b.Fatal(err)
			}
			live := txs[50_000:]
			var res Result
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				t := &live[i%len(live)]
				s.FeaturesInto(t, &f)
				sc.ScoreInto(&f, &res)
				s.Update(t, &f)
				i++
			}
		})
	}
}

// BenchmarkFeatures is State.Features alone.
func BenchmarkFeatures(b *testing.B) {
	txs := benchStream(b, 20_000)
	s := benchState(b)
	var f Features
	for i := range txs {
		s.FeaturesInto(&txs[i], &f)
		s.Update(&txs[i], &f)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		s.FeaturesInto(&txs[i%len(txs)], &f)
		i++
	}
}

// BenchmarkStateMemory1M measures a partition state holding a million
// customers, reported as heap bytes per customer:
//
//   - bytes/customer: each customer has just bought once (orders=1) or
//     twice (orders=2) within the day, with its own device, card and IP
//     address, so every per-key table is full; with two orders every
//     entity's ring is spilled to its pool: the worst case.
//   - bytes/customer-idle: the same a day later, after Expire has dropped
//     the day-scoped device, card and IP records: the steady state of a
//     large, mostly idle customer base.
func BenchmarkStateMemory1M(b *testing.B) {
	// orders: each customer's orders, all on the customer's own device,
	// card and IP address. With one, every device, card and address is
	// seen once (most of a day's in a large shop); with two, each has
	// two events, so its ring is spilled to the pool.
	for _, orders := range []int{1, 2} {
		b.Run(fmt.Sprintf("orders=%d", orders), func(b *testing.B) { benchStateMemory(b, orders) })
	}
}

func benchStateMemory(b *testing.B, orders int) {
	const customers = 1_000_000
	tx := txn{card: "411111/0000"}.event()
	for b.Loop() {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		s := benchStateBounded(b, customers)
		for i := range customers {
			id := fmt.Sprintf("c%07d", i)
			tx.CustomerID = id
			tx.DeviceID = "d" + id
			tx.IPAddress = fmt.Sprintf("24.%d.%d.%d", i>>16&0xff, i>>8&0xff, i&0xff)
			tx.Card.Last4 = id[4:]
			tx.Card.BIN = fmt.Sprintf("4147%02d", i%100)
			for k := range orders {
				tx.EventTime = t0.Add(time.Duration(i)*50*time.Millisecond + time.Duration(k)*time.Hour)
				s.Update(tx, nil)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/customers, "bytes/customer")
		s.Expire(t0.Add(50 * time.Hour))
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/customers, "bytes/customer-idle")
		if c, d, _, _ := s.Len(); c != customers || d != 0 {
			b.Fatalf("%d customers and %d devices after expiry", c, d)
		}
		runtime.KeepAlive(s)
	}
}

// BenchmarkExpireSome is the partition scorer's sweep (ExpireSome of
// 1,024 slots every 256 transactions) over a warm state of 500,000
// customers, devices, cards and IP addresses, none of them idle: walked
// slot by slot when unbounded, a look at each heap's top when bounded (the
// default). ns/tx is its cost per transaction scored.
func BenchmarkExpireSome(b *testing.B) {
	const keys = 500_000
	for _, bc := range []struct {
		name string
		max  int
	}{{"unbounded", -1}, {"bounded", keys}} {
		b.Run(bc.name, func(b *testing.B) {
			s := benchStateBounded(b, bc.max)
			tx := txn{}.event()
			for i := range keys {
				id := fmt.Sprintf("c%07d", i)
				tx.CustomerID, tx.DeviceID = id, "d"+id
				tx.IPAddress = fmt.Sprintf("24.%d.%d.%d", i>>16&0xff, i>>8&0xff, i&0xff)
				tx.Card.BIN, tx.Card.Last4 = fmt.Sprintf("4147%02d", i%100), id[3:]
				tx.EventTime = t0.Add(time.Duration(i) * 10 * time.Millisecond)
				s.Update(tx, nil)
			}
			now := tx.EventTime
			n := 0
			for b.Loop() {
				n += s.ExpireSome(now, 256*4)
			}
			if n != 0 {
				b.Fatalf("the sweep forgot %d keys of a state with none idle", n)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/256, "ns/tx")
		})
	}
}

func BenchmarkParseRules(b *testing.B) {
	src := DefaultRulesJSON()
	for b.Loop() {
		if _, err := ParseRules(src); err != nil {
			b.Fatal(err)
		}
	}
}
