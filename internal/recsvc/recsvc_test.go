package recsvc_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shopstream/shopstream/internal/recommend"
	"github.com/shopstream/shopstream/internal/recsvc"
	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/sqlite"
	"github.com/shopstream/shopstream/internal/store/storetest"
)

var t0 = time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)

// shop is a store the test writes purchases to, one partition, offsets in
// order.
type shop struct {
	t   *testing.T
	st  store.Store
	off int64
}

func newShop(t *testing.T) *shop {
	t.Helper()
	st, err := sqlite.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &shop{t: t, st: st}
}

// buy stores one transaction per (customer, product) pair given as
// "customer:product".
func (s *shop) buy(pairs ...string) {
	s.t.Helper()
	var txs []store.Tx
	for _, p := range pairs {
		var cust, prod string
		for i := range p {
			if p[i] == ':' {
				cust, prod = p[:i], p[i+1:]
			}
		}
		tx := storetest.Tx(fmt.Sprintf("t%d", s.off), cust, t0.Add(time.Duration(s.off)*time.Minute), 100, 0, s.off)
		tx.ItemsJSON = []byte(fmt.Sprintf(`[{"product_id":%q,"category":"c","quantity":1,"unit_price":1.00}]`, prod))
		txs = append(txs, tx)
		s.off++
	}
	from := s.off - int64(len(txs))
	err := s.st.WriteBatch(context.Background(), &store.Batch{Group: "g", Topic: "transactions",
		Parts: []store.Part{{Partition: 0, From: from, To: s.off, Txs: txs}}})
	if err != nil {
		s.t.Fatalf("WriteBatch: %v", err)
	}
}

func newService(t *testing.T, st store.Store, now func() time.Time) *recsvc.Service {
	t.Helper()
	svc, err := recsvc.New(recsvc.Config{Store: st.(store.Purchases), ReadBatch: 2, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func items(r recsvc.Result) []string {
	out := []string{}
	for _, s := range r.Items {
		out = append(out, s.Item)
	}
	return out
}

func TestServiceFoldsRebuildsAndAnswers(t *testing.T) {
	t.Parallel()
	sh := newShop(t)
	now := t0
	svc := newService(t, sh.st, func() time.Time { return now })
	ctx := context.Background()

	if _, err := svc.Recommend("c1", 3, false); !errors.Is(err, recsvc.ErrNotReady) {
		t.Fatalf("Recommend before a model: %v, want ErrNotReady", err)
	}
	// A is bought by four customers, B by two of them (with A), C by one.
	// With the default support of 2 customers, A and B are neighbours; A
	// and C are not.
	sh.buy("c1:A", "c1:B", "c2:A", "c2:B", "c3:A", "c3:C", "c5:A")
	n, err := svc.Fold(ctx)
	if err != nil || n != 7 {
		t.Fatalf("Fold = %d, %v; want 7 lines", n, err)
	}
	if !svc.Rebuild() {
		t.Fatal("Rebuild built nothing after a fold")
	}
	if svc.Rebuild() {
		t.Fatal("Rebuild built again with nothing new folded")
	}

	sim, err := svc.Similar("A", 10)
	if err != nil {
		t.Fatal(err)
	}
	// Jaccard 2/(4+2-2), damped by 2/(2+10).
	if got := items(sim); !reflect.DeepEqual(got, []string{"B"}) || math.Abs(sim.Items[0].Score-0.5*2.0/12) > 1e-6 {
		t.Fatalf("Similar(A) = %+v, want B scored %.4f", sim.Items, 0.5*2.0/12)
	}
	if !sim.BuiltAt.Equal(t0) || sim.Method != recsvc.MethodItemItem {
		t.Fatalf("Similar(A): built at %v by %q", sim.BuiltAt, sim.Method)
	}
	if _, err := svc.Similar("Z", 10); !errors.Is(err, recsvc.ErrUnknownProduct) {
		t.Fatalf("Similar(Z) = %v, want ErrUnknownProduct", err)
	}

	// c5 bought A: B from item-item, then C, the most popular product left.
	rec, err := svc.Recommend("c5", 3, false)
	if err != nil || rec.Method != recsvc.MethodItemItem || !reflect.DeepEqual(items(rec), []string{"B", "C"}) {
		t.Fatalf("Recommend(c5) = %v by %q, %v; want [B C] by item-item", items(rec), rec.Method, err)
	}
	// A customer never seen gets the most popular products.
	rec, _ = svc.Recommend("new", 2, false)
	if rec.Method != recsvc.MethodPopularity || !reflect.DeepEqual(items(rec), []string{"A", "B"}) || rec.Items[0].Score != 4 {
		t.Fatalf("Recommend(new) = %+v by %q; want A (4 customers), B by popularity", rec.Items, rec.Method)
	}
	// c3 bought A and C: A's neighbour B; C has none.
	rec, _ = svc.Recommend("c3", 1, false)
	if rec.Method != recsvc.MethodItemItem || !reflect.DeepEqual(items(rec), []string{"B"}) {
		t.Fatalf("Recommend(c3) = %v by %q", items(rec), rec.Method)
	}
	// Buying again, c1's own products come back.
	rec, _ = svc.Recommend("c1", 3, true)
	if !reflect.DeepEqual(items(rec), []string{"A", "B", "C"}) {
		t.Fatalf("Recommend(c1, buy again) = %v, want [A B C]", items(rec))
	}
	rec, _ = svc.Recommend("c1", 3, false)
	if rec.Method != recsvc.MethodPopularity || !reflect.DeepEqual(items(rec), []string{"C"}) {
		t.Fatalf("Recommend(c1) = %v by %q, want [C] by popularity", items(rec), rec.Method)
	}

	// New purchases are tailed: C becomes B's neighbour only once the
	// model is rebuilt.
	sh.buy("c1:C", "c2:C")
	if n, err := svc.Fold(ctx); err != nil || n != 2 {
		t.Fatalf("second Fold = %d, %v; want 2 lines", n, err)
	}
	if sim, _ := svc.Similar("B", 10); !reflect.DeepEqual(items(sim), []string{"A"}) {
		t.Fatalf("Similar(B) before the rebuild = %v, want the old model's [A]", items(sim))
	}
	now = t0.Add(time.Minute)
	svc.Rebuild()
	sim, _ = svc.Similar("B", 10)
	if len(sim.Items) != 2 || !sim.BuiltAt.Equal(now) {
		t.Fatalf("Similar(B) after the rebuild = %v built %v, want A and C built %v", items(sim), sim.BuiltAt, now)
	}
	st := svc.Stats()
	if !st.Built || st.Lines != 9 || st.Products != 3 || st.Customers != 4 || st.ModelBytes <= 0 || st.CountBytes <= 0 {
		t.Fatalf("Stats = %+v", st)
	}
}

// Lookups run while folds and rebuilds change the counts; run with -race.
func TestServiceLookupsDuringFolds(t *testing.T) {
	t.Parallel()
	sh := newShop(t)
	svc := newService(t, sh.st, time.Now)
	sh.buy("c0:P0", "c0:P1")
	if _, err := svc.Fold(context.Background()); err != nil {
		t.Fatal(err)
	}
	svc.Rebuild()
	var wg sync.WaitGroup
	done := make(chan struct{})
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				if _, err := svc.Recommend(fmt.Sprintf("c%d", (i+w)%20), 5, i%2 == 0); err != nil {
					t.Error(err)
					return
				}
				if _, err := svc.Similar("P0", 5); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	for round := range 20 {
		var ps []string
		for c := range 20 {
			ps = append(ps, fmt.Sprintf("c%d:P%d", c, (c+round)%15))
		}
		sh.buy(ps...)
		if _, err := svc.Fold(context.Background()); err != nil {
			t.Fatal(err)
		}
		svc.Rebuild()
	}
	close(done)
	wg.Wait()
	if st := svc.Stats(); st.Lines != 402 {
		t.Fatalf("folded %d lines, want 402", st.Lines)
	}
}

// Run builds a model from what is stored before it tails, and stops when
// its context ends.
func TestServiceRun(t *testing.T) {
	t.Parallel()
	sh := newShop(t)
	sh.buy("c1:A", "c1:B", "c2:A", "c2:B")
	svc, err := recsvc.New(recsvc.Config{Store: sh.st.(store.Purchases), FoldEvery: time.Millisecond, RebuildEvery: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- svc.Run(ctx) }()
	sh.buy("c3:A", "c3:C")
	// Wait until the tail has picked up the second batch.
	deadline := time.After(10 * time.Second)
	for svc.Stats().Lines != 6 {
		select {
		case <-deadline:
			t.Fatalf("after 10 s the model holds %d lines, want 6", svc.Stats().Lines)
		case <-time.After(time.Millisecond):
		}
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("Run = %v", err)
	}
}

// Run, behind the store on a busy host, rests between reads to keep
// within its CPU share, and still folds everything; on a host with cores
// to spare it does not rest.
func TestServiceRunPacesItselfWhenBehind(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name      string
		idleCores float64
		rests     bool
	}{{"busy host", 0.1, true}, {"idle host", 1.5, false}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			sh := newShop(t)
			reg := prometheus.NewRegistry()
			svc, err := recsvc.New(recsvc.Config{Store: sh.st.(store.Purchases), ReadBatch: 2, CPUShare: 0.5,
				FoldEvery: time.Millisecond, RebuildEvery: time.Hour, Registerer: reg,
				HostIdle: func() (float64, bool) { return c.idleCores, true }})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			errc := make(chan error, 1)
			go func() { errc <- svc.Run(ctx) }()
			// The fold at start-up is not paced: wait until it is over.
			for start := time.Now(); !svc.Stats().Built; time.Sleep(time.Millisecond) {
				if time.Since(start) > 10*time.Second {
					t.Fatal("no model 10 s after start")
				}
			}
			// Ten lines behind: five reads of two, each followed by a rest on a busy host.
			sh.buy("c1:A", "c1:B", "c2:A", "c2:B", "c3:A", "c3:C", "c4:A", "c4:D", "c5:B", "c5:E")
			deadline := time.After(10 * time.Second)
			for svc.Folded() != 10 {
				select {
				case <-deadline:
					t.Fatalf("after 10 s the service folded %d lines, want 10", svc.Folded())
				case <-time.After(time.Millisecond):
				}
			}
			cancel()
			if err := <-errc; err != nil {
				t.Fatalf("Run = %v", err)
			}
			got := metricValue(t, reg, "shopstream_recommendations_paced_seconds_total")
			if rested := got > 0; rested != c.rests {
				t.Fatalf("paced seconds = %v after folding ten lines two at a time at share 0.5; want rest: %v", got, c.rests)
			}
		})
	}
}

func TestConfigRejectsNegatives(t *testing.T) {
	t.Parallel()
	sh := newShop(t)
	for _, cfg := range []recsvc.Config{
		{},
		{Store: sh.st.(store.Purchases), FoldEvery: -1},
		{Store: sh.st.(store.Purchases), MaxHistory: -1},
		{Store: sh.st.(store.Purchases), MaxCustomers: -2},
		{Store: sh.st.(store.Purchases), MaxPairs: -2},
		{Store: sh.st.(store.Purchases), Item: recommend.ItemConfig{Neighbours: -1}},
		{Store: sh.st.(store.Purchases), CPUShare: -0.1},
		{Store: sh.st.(store.Purchases), CPUShare: 1.5},
	} {
		if _, err := recsvc.New(cfg); err == nil {
			t.Errorf("New(%+v) accepted it", cfg)
		}
	}
}

// A service's counts stay within its bounds however many customers and
// pairs the store holds, and the metrics say so.
func TestServiceBoundsCounts(t *testing.T) {
	t.Parallel()
	sh := newShop(t)
	reg := prometheus.NewRegistry()
	svc, err := recsvc.New(recsvc.Config{Store: sh.st.(store.Purchases), MaxCustomers: 20, MaxPairs: 50, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	// 200 customers, each buying A, B and 4 of 40 products: hundreds of
	// pairs.
	var lines []string
	for c := range 200 {
		lines = append(lines, fmt.Sprintf("c%d:A", c), fmt.Sprintf("c%d:B", c))
		for k := range 4 {
			lines = append(lines, fmt.Sprintf("c%d:P%d", c, (c*3+k*7)%40))
		}
	}
	sh.buy(lines...)
	if _, err := svc.Fold(context.Background()); err != nil {
		t.Fatal(err)
	}
	svc.Rebuild()
	st := svc.Stats()
	if st.CustomersKept == 0 || st.CustomersKept > 20 || st.Pairs == 0 || st.Pairs > 50 || st.Customers != 200 {
		t.Errorf("stats %+v: want 1 to 20 customers kept of 200, 1 to 50 pairs", st)
	}
	if got := metricValue(t, reg, "shopstream_recommendations_counts_customers"); got != float64(st.CustomersKept) {
		t.Errorf("counts_customers = %v, want %d", got, st.CustomersKept)
	}
	if got := metricValue(t, reg, "shopstream_recommendations_counts_pairs"); got != float64(st.Pairs) {
		t.Errorf("counts_pairs = %v, want %d", got, st.Pairs)
	}
	// The pair every customer bought survives the pruning.
	if res, err := svc.Similar("A", 1); err != nil || !reflect.DeepEqual(items(res), []string{"B"}) {
		t.Errorf("Similar(A) = %v, %v; want [B]", items(res), err)
	}
}

func TestServiceMetrics(t *testing.T) {
	t.Parallel()
	sh := newShop(t)
	reg := prometheus.NewRegistry()
	svc, err := recsvc.New(recsvc.Config{Store: sh.st.(store.Purchases), Registerer: reg, Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	if got := metricValue(t, reg, "shopstream_recommendations_model_built_timestamp_seconds"); got != 0 {
		t.Fatalf("build time before a build = %v, want 0", got)
	}
	sh.buy("c1:A", "c1:B", "c2:A", "c2:B", "c3:C")
	if _, err := svc.Fold(context.Background()); err != nil {
		t.Fatal(err)
	}
	svc.Rebuild()
	want := map[string]float64{
		"shopstream_recommendations_lines_folded_total":            5,
		"shopstream_recommendations_model_products":                3,
		"shopstream_recommendations_model_built_timestamp_seconds": float64(t0.Unix()),
	}
	for name, w := range want {
		if got := metricValue(t, reg, name); got != w {
			t.Errorf("%s = %v, want %v", name, got, w)
		}
	}
	if got := metricValue(t, reg, "shopstream_recommendations_model_bytes"); got <= 0 {
		t.Errorf("model bytes = %v, want positive", got)
	}
}

// metricValue gathers reg and returns the value of the gauge or counter
// name.
func metricValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		m := mf.GetMetric()[0]
		if c := m.GetCounter(); c != nil {
			return c.GetValue()
		}
		return m.GetGauge().GetValue()
	}
	t.Fatalf("metric %s not registered", name)
	return 0
}

// TestServiceFollowsErasures: a customer erased after their purchases
// were folded has no history under their id any more (their
// recommendations are a stranger's, by popularity), and their pseudonym
// has it, as in the store; the co-purchase counts stay. Erasures recorded
// before the service started are the store's already.
func TestServiceFollowsErasures(t *testing.T) {
	t.Parallel()
	sh := newShop(t)
	ctx := context.Background()
	sh.buy("c0:A", "c0:C")
	if _, err := sh.st.(store.Privacy).EraseCustomer(ctx, "c0", "test"); err != nil {
		t.Fatal(err)
	}
	svc := newService(t, sh.st, time.Now)
	if err := svc.FollowErasures(ctx); err != nil {
		t.Fatal(err)
	}
	sh.buy("c1:A", "c1:B", "c2:A", "c2:B", "c3:A")
	if _, err := svc.Fold(ctx); err != nil {
		t.Fatal(err)
	}
	svc.Rebuild()
	before, err := svc.Recommend("c1", 3, true)
	if err != nil {
		t.Fatal(err)
	}
	if before.Method != recsvc.MethodItemItem {
		t.Fatalf("c1 before the erasure: method %q, want item-item from their history", before.Method)
	}
	e, err := sh.st.(store.Privacy).EraseCustomer(ctx, "c1", "test")
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.FollowErasures(ctx); err != nil {
		t.Fatal(err)
	}
	after, err := svc.Recommend("c1", 3, true)
	if err != nil {
		t.Fatal(err)
	}
	if after.Method != recsvc.MethodPopularity {
		t.Errorf("c1 after the erasure: method %q, want popularity (no history kept under the erased id)", after.Method)
	}
	if got := items(before); !reflect.DeepEqual(got, items(mustRecommend(t, svc, e.Pseudonym))) {
		t.Errorf("the pseudonym %s gets %v, want c1's earlier %v", e.Pseudonym, items(mustRecommend(t, svc, e.Pseudonym)), got)
	}
	sim, err := svc.Similar("A", 10)
	if err != nil || len(sim.Items) == 0 || sim.Items[0].Item != "B" {
		t.Errorf("Similar(A) after the erasure = %+v, %v; want B still (the counts stay)", sim.Items, err)
	}
	// c0, erased before the start, was never in the counts under its id.
	if r := mustRecommend(t, svc, "c0"); r.Method != recsvc.MethodPopularity {
		t.Errorf("c0, erased before the start: method %q, want popularity", r.Method)
	}
}

func mustRecommend(t *testing.T, svc *recsvc.Service, c string) recsvc.Result {
	t.Helper()
	r, err := svc.Recommend(c, 3, true)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
