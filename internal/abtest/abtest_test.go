package abtest_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/abtest"
	"github.com/shopstream/shopstream/internal/recommend"
	"github.com/shopstream/shopstream/internal/recsvc"
	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/sqlite"
	"github.com/shopstream/shopstream/internal/store/storetest"
)

var t0 = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func openStore(t *testing.T) store.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// clock is a settable clock.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newService(t *testing.T, st store.Store, c *clock) *abtest.Service {
	t.Helper()
	s, err := abtest.New(abtest.Config{Store: st.(store.Experiments), Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

func ab(name string, coverage float64) abtest.Definition {
	return abtest.Definition{Name: name, Coverage: coverage, Window: abtest.Duration(time.Hour), Start: t0, Variants: []abtest.Variant{
		{Name: "control", Weight: 0.5, Recommender: recsvc.MethodPopularity},
		{Name: "treatment", Weight: 0.5, Recommender: recsvc.MethodItemItem},
	}}
}

func TestDefinitions(t *testing.T) {
	t.Parallel()
	defs, err := abtest.ParseFile([]byte(`{"experiments":[{"name":"x","window":"30m","start":"2026-06-01T12:00:00Z",
		"variants":[{"name":"a","weight":0.5,"recommender":"popularity"},{"name":"b","weight":0.5,"recommender":"item-item"}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	d := defs[0].WithDefaults(t0)
	if d.Seed != "x" || d.HashVersion != 2 || d.Coverage != 1 || d.Metric != abtest.MetricConversion || time.Duration(d.Window) != 30*time.Minute {
		t.Fatalf("defaults: %+v", d)
	}
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	yamlFile := filepath.Join(t.TempDir(), "experiments.yaml")
	err = os.WriteFile(yamlFile, []byte(`experiments:
  - name: x
    window: 30m
    start: 2026-06-01T12:00:00Z
    variants:
      - {name: a, weight: 0.5, recommender: popularity}
      - {name: b, weight: 0.5, recommender: item-item}
`), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	fromYAML, err := abtest.ReadFile(yamlFile)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fromYAML, defs) {
		t.Fatalf("YAML gives %+v, JSON %+v", fromYAML, defs)
	}
	if _, err := abtest.ParseFile([]byte(`{"experiments":[{"name":"x","windw":"30m"}]}`)); err == nil {
		t.Fatal("a misspelt field was accepted")
	}
	for _, bad := range []func(*abtest.Definition){
		func(d *abtest.Definition) { d.Name = "" },
		func(d *abtest.Definition) { d.Variants = d.Variants[:1] },
		func(d *abtest.Definition) { d.Variants[1].Weight = 0.6 },
		func(d *abtest.Definition) { d.Variants[1].Recommender = "ease" },
		func(d *abtest.Definition) { d.Variants[1].Name = "control" },
		func(d *abtest.Definition) { d.HashVersion = 3 },
		func(d *abtest.Definition) { d.Coverage = 1.5 },
		func(d *abtest.Definition) { d.Metric = "clicks" },
		func(d *abtest.Definition) { d.Stop = d.Start },
	} {
		d := ab("x", 1).WithDefaults(t0)
		bad(&d)
		if err := d.Validate(); !errors.Is(err, abtest.ErrInvalid) {
			t.Errorf("%+v: Validate = %v, want ErrInvalid", d, err)
		}
	}
}

func TestAssignmentStickyAndExclusive(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	c := &clock{t0.Add(-time.Minute)}
	s := newService(t, st, c)
	ctx := context.Background()
	if _, err := s.Create(ctx, ab("ab", 0.5)); err != nil {
		t.Fatal(err)
	}
	aa := ab("aa", 1)
	aa.Variants[0].Recommender = recsvc.MethodItemItem
	aa.Start = t0.Add(time.Second) // after ab: gets the customers ab leaves
	if _, err := s.Create(ctx, aa); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(ctx, ab("ab", 1)); !errors.Is(err, store.ErrExperimentExists) {
		t.Fatalf("second ab: %v", err)
	}
	if _, ok := s.Assign("c1"); ok {
		t.Fatal("assigned before the start")
	}
	c.t = t0.Add(time.Hour)
	other := newService(t, st, c) // another instance, from the store
	count := map[string]int{}
	for i := range 10_000 {
		cust := fmt.Sprintf("c%d", i)
		a, ok := s.Assign(cust)
		if !ok {
			t.Fatalf("%s in no experiment", cust)
		}
		if b, _ := other.Assign(cust); b != a {
			t.Fatalf("%s: %+v here, %+v on another instance", cust, a, b)
		}
		count[a.Experiment+"/"+a.Variant]++
	}
	for k, n := range count {
		if n < 2300 || n > 2700 { // 2,500 expected, sd 43
			t.Errorf("%s: %d of 10,000 customers, want about 2,500 (%v)", k, n, count)
		}
	}
}

// exposures reads what the store holds of experiment name.
func exposures(t *testing.T, st store.Store, name string) []string {
	t.Helper()
	var out []string
	err := st.(store.Experiments).Exposures(context.Background(), name, func(x *store.Exposure) error {
		out = append(out, fmt.Sprintf("%s v%d %s %v", x.CustomerID, x.Variant, x.ExposedAt.Format(time.RFC3339), x.Items))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func shown(items ...string) []recommend.Scored {
	out := make([]recommend.Scored, len(items))
	for i, it := range items {
		out[i] = recommend.Scored{Item: it, Score: 1}
	}
	return out
}

// abService is a service over a fresh store with experiment "ab" (seed
// 1) created, on a clock at t0.
func abService(t *testing.T) (store.Store, *clock, *abtest.Service) {
	t.Helper()
	st := openStore(t)
	c := &clock{t0}
	s := newService(t, st, c)
	if _, err := s.Create(context.Background(), ab("ab", 1)); err != nil {
		t.Fatal(err)
	}
	return st, c, s
}

func TestExposureExactlyOnce(t *testing.T) {
	t.Parallel()
	st, c, s := abService(t)
	a, _ := s.Assign("c1")
	if err := s.Expose(a, "c1", shown("p1", "p2")); err != nil {
		t.Fatal(err)
	}
	want := []string{fmt.Sprintf("c1 v%d 2026-06-01T12:00:00Z [p1 p2]", map[string]int{"control": 0, "treatment": 1}[a.Variant])}
	// A repeat on this instance, a repeat on a restarted instance (which
	// remembers nothing) later with other items, and a retried write of
	// the first exposure itself: none changes what is stored.
	c.t = t0.Add(10 * time.Minute)
	if err := s.Expose(a, "c1", shown("p9")); err != nil {
		t.Fatal(err)
	}
	restarted := newService(t, st, c)
	if err := restarted.Expose(a, "c1", shown("p9")); err != nil {
		t.Fatal(err)
	}
	x := store.Exposure{Experiment: "ab", CustomerID: "c1", ExposedAt: t0, WindowEnd: t0.Add(time.Hour), Items: []string{"p1", "p2"}}
	if ok, err := st.(store.Experiments).RecordExposure(context.Background(), &x); ok || err != nil {
		t.Fatalf("retried write: recorded=%v, %v", ok, err)
	}
	if got := exposures(t, st, "ab"); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("stored %q, want %q", got, want)
	}
}

// TestResultsByHand stores exposures and purchases whose counts are worked
// out by hand.
func TestResultsByHand(t *testing.T) {
	t.Parallel()
	st, c, s := abService(t)
	e := st.(store.Experiments)
	// Control: a1..a4, shown p1; treatment: b1..b4, shown p2.
	for i := 1; i <= 4; i++ {
		for v, pre := range []string{"a", "b"} {
			x := store.Exposure{Experiment: "ab", CustomerID: fmt.Sprintf("%s%d", pre, i), Variant: v, ExposedAt: t0,
				WindowEnd: t0.Add(time.Hour), Items: []string{fmt.Sprintf("p%d", v+1)}}
			if _, err := e.RecordExposure(context.Background(), &x); err != nil {
				t.Fatal(err)
			}
		}
	}
	var txs []store.Tx
	buy := func(cust string, at time.Duration, cents int64, products ...string) {
		tx := storetest.Tx(fmt.Sprintf("t%d", len(txs)), cust, t0.Add(at), cents, 0, int64(len(txs)))
		var items []string
		for _, p := range products {
			items = append(items, fmt.Sprintf(`{"product_id":%q,"category":"c","quantity":1,"unit_price":1.00}`, p))
		}
		tx.ItemsJSON = []byte("[" + strings.Join(items, ",") + "]")
		txs = append(txs, tx)
	}
	buy("a1", 10*time.Minute, 1000, "p1")      // converts: 10.00
	buy("a2", 20*time.Minute, 500, "p1", "p7") // converts: 5.00
	buy("a3", 30*time.Minute, 300, "p7")       // no: not shown; 3.00 counts as revenue
	buy("a4", -time.Minute, 9900, "p1")        // before the exposure: nothing
	buy("b1", 5*time.Minute, 2000, "p2")       // converts: 20.00
	buy("b2", 59*time.Minute, 100, "p2")       // converts: 1.00
	buy("b3", 61*time.Minute, 700, "p2")       // after the window: nothing
	buy("b4", time.Minute, 400, "p2")          // converts: 4.00
	buy("b4", 2*time.Minute, 600, "p3")        // 6.00 more revenue for b4
	buy("zz", time.Minute, 100, "p1")          // not exposed
	if err := st.WriteBatch(context.Background(), &store.Batch{Group: "g", Topic: "transactions",
		Parts: []store.Part{{Partition: 0, From: 0, To: int64(len(txs)), Txs: txs}}}); err != nil {
		t.Fatal(err)
	}
	c.t = t0.Add(2 * time.Hour)
	res, err := s.Results(context.Background(), "ab")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range res.Variants {
		got = append(got, fmt.Sprintf("%s %s %g: %d exposed, %d converted (%g), revenue %g (%g per exposed)",
			v.Name, v.Recommender, v.Weight, v.Exposures, v.Conversions, v.ConversionRate, v.Revenue, v.RevenuePerExposed))
	}
	want := []string{
		"control popularity 0.5: 4 exposed, 2 converted (0.5), revenue 18 (4.5 per exposed)",
		"treatment item-item 0.5: 4 exposed, 3 converted (0.75), revenue 31 (7.75 per exposed)",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("variants:\n got %q\nwant %q", got, want)
	}
	cmp := res.Comparisons[0]
	// Pooled z: p = 5/8, se = sqrt(5/8 · 3/8 · (1/4 + 1/4)) = 0.342327,
	// z = 0.25 / se = 0.730297.
	if cmp.Conversion.Z == nil || math.Abs(cmp.Conversion.Z.Z-0.730297) > 1e-6 {
		t.Fatalf("z test %+v, want z = 0.730297", cmp.Conversion.Z)
	}
	// Absolute lift 0.25; relative (0.75 - 0.5) / 0.5 = 0.5.
	if a, r := cmp.Conversion.Absolute, cmp.Conversion.Relative; a == nil || r == nil || math.Abs(a.Lift-0.25) > 1e-12 || math.Abs(r.Lift-0.5) > 1e-12 {
		t.Fatalf("lifts %+v %+v", a, r)
	}
	// Revenue per customer: control 10, 5, 3, 0 (mean 4.5); treatment 20,
	// 1, 0, 10 (mean 7.75): relative lift 3.25 / 4.5.
	if r := cmp.Revenue.Relative; r == nil || math.Abs(r.Lift-3.25/4.5) > 1e-12 {
		t.Fatalf("revenue lift %+v, want %v", r, 3.25/4.5)
	}
	if cmp.Significant || res.SampleRatio.Mismatch || res.SampleRatio.ChiSquare != 0 || res.Status != "running" {
		t.Fatalf("8 customers found significant or mismatched: %+v %+v %s", cmp, res.SampleRatio, res.Status)
	}
	if _, err := s.Results(context.Background(), "nope"); !errors.Is(err, abtest.ErrUnknown) {
		t.Fatalf("unknown experiment: %v", err)
	}
}

// TestResultsInTheShopsCurrency: a yen shop's revenue per exposed
// customer is in yen (¥1,000 was 10).
func TestResultsInTheShopsCurrency(t *testing.T) {
	t.Parallel()
	st, c, s := abService(t)
	x := store.Exposure{Experiment: "ab", CustomerID: "a1", ExposedAt: t0, WindowEnd: t0.Add(time.Hour), Items: []string{"p1"}}
	if _, err := st.(store.Experiments).RecordExposure(context.Background(), &x); err != nil {
		t.Fatal(err)
	}
	tx := storetest.Tx("t0", "a1", t0.Add(time.Minute), 1000, 0, 0)
	tx.Currency = "JPY"
	if err := st.WriteBatch(context.Background(), &store.Batch{Group: "g", Topic: "transactions",
		Parts: []store.Part{{Partition: 0, From: 0, To: 1, Txs: []store.Tx{tx}}}}); err != nil {
		t.Fatal(err)
	}
	c.t = t0.Add(2 * time.Hour)
	res, err := s.Results(context.Background(), "ab")
	if err != nil {
		t.Fatal(err)
	}
	if v := res.Variants[0]; v.Exposures != 1 || v.Revenue != 1000 || v.RevenuePerExposed != 1000 {
		t.Errorf("control %+v, want ¥1,000 of one exposed customer", v)
	}
}
