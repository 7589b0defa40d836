package jobs

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"runtime"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shopstream/shopstream/internal/analytics"
	"github.com/shopstream/shopstream/internal/event"
	"github.com/shopstream/shopstream/internal/generate"
	"github.com/shopstream/shopstream/internal/pipeline"
	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/pgtest"
)

// plainStore hides the tail of the store it wraps, so that a refresh over
// it reads every purchase grouped in the database each run, as before the
// fold: the full recomputation the fold is checked against.
type plainStore struct{ testStore }

// foldTestStore is what the test does to the store besides refreshing.
type foldTestStore interface {
	testStore
	store.AnalyticsTail
	EraseCustomer(ctx context.Context, customerID, actor string) (*store.Erasure, error)
	PruneTransactions(ctx context.Context, before time.Time, batch int) (store.Pruned, error)
}

// appendTxs writes n generated transactions of seed's shop (customers
// drawn from the same base as other seeds') to partition part of the
// stream's topic from offset off, and returns the offset after them.
func appendTxs(t *testing.T, s store.Store, seed int64, customers, n int, part int32, off int64) int64 {
	return appendTopic(t, s, "test", "transactions", seed, customers, n, part, off)
}

// appendTopic is appendTxs for a consumer group and topic: an import's
// (group "import", partition -1, offsets from 0 per source).
func appendTopic(t *testing.T, s store.Store, group, topic string, seed int64, customers, n int, part int32, off int64) int64 {
	t.Helper()
	g, err := generate.New(generate.Config{Seed: seed, Customers: customers})
	if err != nil {
		t.Fatal(err)
	}
	var txs []store.Tx
	flush := func() {
		if len(txs) == 0 {
			return
		}
		err := s.WriteBatch(context.Background(), &store.Batch{Group: group, Topic: topic,
			Parts: []store.Part{{Partition: part, From: off, To: off + int64(len(txs)), Txs: txs}}})
		if err != nil {
			t.Fatal(err)
		}
		off += int64(len(txs))
		txs = txs[:0]
	}
	for range n {
		rec := g.Next()
		var ev event.Transaction
		if err := event.Decode(rec.Value, &ev); err != nil {
			t.Fatal(err)
		}
		ev.TransactionID = fmt.Sprintf("%s-s%d", ev.TransactionID, seed)
		txs = append(txs, pipeline.NewTx(&ev, part, off+int64(len(txs)), rec.EventTime, nil))
		if len(txs) == 500 {
			flush()
		}
	}
	flush()
	return off
}

// popView is a population in comparable form: category spend by name.
type popView struct {
	Sums  []string
	Cents []int64
	Days  int64
	Cats  []map[string]int64
	Cells []store.CohortCell
}

func viewOf(p *population, cells []store.CohortCell) popView {
	v := popView{Cents: slices.Clone(p.cents), Days: p.days, Cells: cells}
	for i, s := range p.sums {
		v.Sums = append(v.Sums, fmt.Sprintf("%+v", s))
		m := map[string]int64{}
		for e := p.catStart[i]; e < p.catStart[i+1]; e++ {
			m[p.catNames[p.catIdx[e]]] += p.catCents[e]
		}
		v.Cats = append(v.Cats, m)
	}
	return v
}

// TestRefreshFoldMatchesFull runs one refresh through a stream of stored
// purchases, an erasure and a retention pass, and after each step checks
// that the population it computed from its fold (reading only what was
// stored since) equals the one a new process computes, and the one read
// grouped from the store, over the same data, in both stores.
func TestRefreshFoldMatchesFull(t *testing.T) {
	t.Parallel()
	for name, open := range map[string]func(t *testing.T) testStore{
		"SQLite":     func(t *testing.T) testStore { return openSQLite(t) },
		"PostgreSQL": func(t *testing.T) testStore { return openPostgres(t, pgtest.URL(t)) },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testFoldMatchesFull(t, open(t).(foldTestStore))
		})
	}
}

func testFoldMatchesFull(t *testing.T, s foldTestStore) {
	ctx := context.Background()
	var got popView
	inc := newRefresh(t, RefreshConfig{Store: s, Seed: 3, K: 3})
	inc.testHookPopulation = func(p *population, c []store.CohortCell) { got = viewOf(p, c) }
	step := func(what, read string) *RefreshReport {
		t.Helper()
		rep, err := inc.RunOnce(ctx)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if rep.Read != read {
			t.Fatalf("%s: read %q, want %q", what, rep.Read, read)
		}
		for ref, st := range map[string]store.Analytics{"a new process": s, "the grouped read": plainStore{s}} {
			var want popView
			r := newRefresh(t, RefreshConfig{Store: st, Seed: 3, K: 3})
			r.testHookPopulation = func(p *population, c []store.CohortCell) { want = viewOf(p, c) }
			if _, err := r.RunOnce(ctx); err != nil {
				t.Fatalf("%s: %s: %v", what, ref, err)
			}
			if !reflect.DeepEqual(got, want) {
				for i := range min(len(got.Sums), len(want.Sums)) {
					if got.Sums[i] != want.Sums[i] || got.Cents[i] != want.Cents[i] || !reflect.DeepEqual(got.Cats[i], want.Cats[i]) {
						t.Errorf("%s: first difference from %s: customer %d: %s %d %v, want %s %d %v", what, ref, i,
							got.Sums[i], got.Cents[i], got.Cats[i], want.Sums[i], want.Cents[i], want.Cats[i])
						break
					}
				}
				t.Fatalf("%s: the fold's population (%d customers, %d days, %d cells) differs from %s's (%d, %d, %d)", what,
					len(got.Sums), got.Days, len(got.Cells), ref, len(want.Sums), want.Days, len(want.Cells))
			}
		}
		t.Logf("%s: %d customers, %d purchase days: read %s, %d transactions", what, rep.Customers, rep.PurchaseDays, rep.Read, rep.TransactionsRead)
		return rep
	}

	off0 := appendTxs(t, s, 1, 400, 3000, 0, 0)
	first := step("first run", "full")
	off0 = appendTxs(t, s, 2, 400, 1000, 0, off0)
	appendTxs(t, s, 3, 400, 1000, 3, 0)
	rep := step("after more purchases", "incremental")
	if rep.TransactionsRead != 2000 || rep.Customers <= first.Customers/2 {
		t.Fatalf("incremental run read %d transactions, want the 2000 stored since", rep.TransactionsRead)
	}
	step("with nothing new", "incremental")
	// Two imports: the second's rows sit behind the cursor of the first
	// (partition -1, offsets from 0 per source), so the fold reads all.
	appendTopic(t, s, "import", "import:a", 5, 400, 300, -1, 0)
	step("after an import", "incremental")
	appendTopic(t, s, "import", "import:b", 6, 400, 300, -1, 0)
	step("after a second import", "full")

	// Erase the customers with the most purchase days and one more.
	var ids []string
	for _, sv := range got.Sums[:3] {
		var id string
		fmt.Sscanf(sv, "{CustomerID:%s", &id)
		ids = append(ids, id)
	}
	for _, id := range ids {
		if _, err := s.EraseCustomer(ctx, id, "test"); err != nil {
			t.Fatal(err)
		}
	}
	appendTxs(t, s, 4, 400, 500, 0, off0)
	rep = step("after erasures", "incremental")
	if rep.Erased != len(ids) {
		t.Fatalf("%d erased, want %d", rep.Erased, len(ids))
	}
	for _, sv := range got.Sums {
		for _, id := range ids {
			if sv[:len("{CustomerID:")+len(id)+1] == "{CustomerID:"+id+" " {
				t.Fatalf("erased customer %s still in the population", id)
			}
		}
	}

	// Retention: delete the purchases before the median event time.
	var times []time.Time
	_, err := s.PurchaseTotals(ctx, nil, 0, func(p *store.PurchaseTotal) error { times = append(times, p.EventTime); return nil })
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	pruned, err := s.PruneTransactions(ctx, times[len(times)/2].Add(time.Minute), 100)
	if err != nil || pruned.Rows+pruned.PartitionRows == 0 {
		t.Fatalf("pruning: %+v, %v", pruned, err)
	}
	before := got
	step("after retention", "incremental")
	if got.Days >= before.Days {
		t.Fatalf("%d purchase days after retention, %d before", got.Days, before.Days)
	}
	step("after retention, nothing new", "incremental")
}

// BenchmarkFoldPopulation folds SHOPSTREAM_BENCH_CUSTOMERS customers'
// synthetic purchases (one to five purchase days each, one to three item
// lines of ten categories per purchase) without a store, reports the heap
// the fold holds (fold-MB, bytes-per-customer) and the time to fold them
// (fold-s), and times what every run does with the fold: rebuilding the
// population and the cohort matrix.
//
//	SHOPSTREAM_BENCH_CUSTOMERS=1000000 go test ./internal/jobs/ -run '^$' -bench FoldPopulation -benchtime 3x
func BenchmarkFoldPopulation(b *testing.B) {
	customers := benchCustomers(b)
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	t0, cpu0 := time.Now(), cpuSeconds(b)
	f := newFold(0)
	var t store.PurchaseTotal
	rng := rand.New(rand.NewPCG(1, 2))
	txs := 0
	for c := range customers {
		t.CustomerID = fmt.Sprintf("c%08d", c)
		at := start.Add(time.Duration(rng.IntN(500*24)) * time.Hour)
		for range 1 + rng.IntN(5) {
			t.EventTime, t.TotalCents = at, int64(1000+rng.IntN(10000))
			t.Lines = t.Lines[:0]
			for range 1 + rng.IntN(3) {
				t.Lines = append(t.Lines, store.CategoryCents{Category: benchCategories[rng.IntN(len(benchCategories))], Cents: t.TotalCents / 2})
			}
			f.add(&t)
			txs++
			at = at.Add(time.Duration(1+rng.IntN(60*24)) * time.Hour)
		}
	}
	f.compact() // as a run's catch-up ends
	foldSeconds, foldCPU := time.Since(t0).Seconds(), cpuSeconds(b)-cpu0
	runtime.GC()
	runtime.ReadMemStats(&after)
	held := float64(after.HeapAlloc) - float64(before.HeapAlloc)
	// What the fold costs the garbage collector: a whole cycle with the
	// fold live, most of it marking the fold.
	gcStart := time.Now()
	const cycles = 5
	for range cycles {
		runtime.GC()
	}
	gcMS := time.Since(gcStart).Seconds() * 1000 / cycles
	end := analytics.CivilDay(start.AddDate(3, 0, 0))
	b.ResetTimer()
	cpu0 = cpuSeconds(b)
	for b.Loop() {
		if _, _, err := f.population(end, 100); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric((cpuSeconds(b)-cpu0)/float64(b.N), "cpu-s/op")
	b.ReportMetric(foldCPU, "fold-cpu-s")
	b.ReportMetric(held/1e6, "fold-MB")
	b.ReportMetric(held/float64(customers), "bytes-per-customer")
	b.ReportMetric(foldSeconds, "fold-s")
	b.ReportMetric(gcMS, "gc-ms")
	b.ReportMetric(float64(txs), "transactions")
}

// cpuSeconds is the user and system CPU time of the process so far.
func cpuSeconds(b *testing.B) float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}

// TestRefreshFoldBound checks that a refresh whose fold would hold more
// customers than FoldMaxCustomers keeps none and reads the purchases
// grouped in the store instead, with the same population as a refresh
// without the bound, and that the gauge says how many the fold holds.
func TestRefreshFoldBound(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openSQLite(t).(foldTestStore)
	appendTxs(t, s, 1, 400, 2000, 0, 0)
	run := func(max int) (*RefreshReport, popView, float64) {
		t.Helper()
		reg := prometheus.NewRegistry()
		r := newRefresh(t, RefreshConfig{Store: s, Seed: 3, K: 3, FoldMaxCustomers: max, Registerer: reg})
		var v popView
		r.testHookPopulation = func(p *population, c []store.CohortCell) { v = viewOf(p, c) }
		rep, err := r.RunOnce(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if max > 0 && max < rep.Customers {
			// A second run, after more purchases, reads the store again.
			appendTxs(t, s, 2, 400, 100, 1, 0)
			if rep, err = r.RunOnce(ctx); err != nil {
				t.Fatal(err)
			}
		}
		return rep, v, gaugeValue(t, reg, "shopstream_analytics_fold_customers", nil)
	}
	bounded, got, gauge := run(50)
	if bounded.Read != "store" || gauge != 0 {
		t.Fatalf("bounded to 50 customers of %d: read %q, gauge %v; want \"store\", 0", bounded.Customers, bounded.Read, gauge)
	}
	unbounded, want, gauge := run(-1)
	if unbounded.Read != "full" || gauge != float64(unbounded.Customers) {
		t.Fatalf("unbounded: read %q, gauge %v; want \"full\", %d", unbounded.Read, gauge, unbounded.Customers)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("bounded refresh's population (%d customers, %d days) differs from the fold's (%d, %d)",
			len(got.Sums), got.Days, len(want.Sums), want.Days)
	}
}

// TestFoldCompact drops most of a fold's customers, as erasures and
// retention do, and checks that compacting frees their slots and leaves
// the same population as a fold of the customers kept.
func TestFoldCompact(t *testing.T) {
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	tx := func(c, k int) *store.PurchaseTotal {
		return &store.PurchaseTotal{CustomerID: fmt.Sprintf("c%05d", c), EventTime: start.Add(time.Duration(c%97+k*50) * time.Hour),
			TotalCents: int64(100 + c + k), Lines: []store.CategoryCents{{Category: benchCategories[(c+k)%len(benchCategories)], Cents: int64(50 + k)}}}
	}
	f, want := newFold(0), newFold(0)
	for c := range 5000 {
		f.add(tx(c, 0))
	}
	f.live() // as a run does: the order of these
	for c := range 5000 {
		if c%5 != 0 {
			f.drop(fmt.Sprintf("c%05d", c))
		}
	}
	for c := 0; c < 6000; c += 5 { // the kept ones again, as reread does, and new ones
		f.drop(fmt.Sprintf("c%05d", c))
		for k := range 2 {
			f.add(tx(c, k))
			want.add(tx(c, k))
		}
	}
	slots := f.ids.slots()
	f.compact()
	if f.ids.slots() != f.ids.len() || len(f.cust) != f.ids.slots() || f.ids.len() != 1200 {
		t.Fatalf("after compacting %d slots: %d slots, %d customers; want 1200 of each", slots, f.ids.slots(), f.ids.len())
	}
	for c := 0; c < 6000; c += 5 {
		id := fmt.Sprintf("c%05d", c)
		if i, ok := f.ids.get(id); !ok || f.ids.name(i) != id {
			t.Fatalf("customer %s at slot %d (found: %v), which holds %q", id, i, ok, f.ids.name(i))
		}
	}
	if live := len(f.days.items) - f.days.dead; f.days.dead != 0 || live != 2400 {
		t.Errorf("after compacting, the days pool holds %d days, %d of them dead; want 2400 and none", len(f.days.items), f.days.dead)
	}
	end := analytics.CivilDay(start.AddDate(2, 0, 0))
	gotPop, gotCells, err := f.population(end, 100)
	if err != nil {
		t.Fatal(err)
	}
	wantPop, wantCells, err := want.population(end, 100)
	if err != nil {
		t.Fatal(err)
	}
	if g, w := viewOf(gotPop, gotCells), viewOf(wantPop, wantCells); !reflect.DeepEqual(g, w) {
		t.Fatalf("compacted fold's population (%d customers, %d days) differs from a new fold's (%d, %d)",
			len(g.Sums), g.Days, len(w.Sums), w.Days)
	}
}
