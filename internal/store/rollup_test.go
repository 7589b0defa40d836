package store_test

import (
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/storetest"
)

func TestRiskBucket(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		risk float64
		want int
	}{{0, 0}, {-1, 0}, {math.NaN(), 0}, {0.005, 0}, {0.0101, 1}, {0.5, 50}, {0.999, 99}, {1, 99}, {7, 99},
		// As PostgreSQL stores them: 0.95 and 0.01 as 32-bit floats are
		// 0.94999999 and 0.0099999998.
		{0.01, 0},
		{0.95, 94}} {
		if got := store.RiskBucket(tc.risk); got != tc.want {
			t.Errorf("RiskBucket(%v) = %d, want %d", tc.risk, got, tc.want)
		}
	}
}

// A batch's rows: each key once, counts adding up to the batch at each
// granularity, and a label moved out and back leaves nothing.
func TestRollupDeltas(t *testing.T) {
	t.Parallel()
	base := time.Date(2026, 4, 1, 12, 0, 0, 0, time.UTC)
	p := storetest.LabelledPart(base, 0, 5000)
	rows := store.RollupDeltas([]store.Part{p})
	seen := map[store.FraudRollup]bool{}
	var outcomes, active [3]int64
	for _, r := range rows {
		k := r
		k.N = 0
		if seen[k] {
			t.Fatalf("key twice: %+v", r)
		}
		seen[k] = true
		g := map[store.Granularity]int{store.Minute: 0, store.Hour: 1, store.Day: 2}[r.Granularity]
		switch r.Series {
		case store.SeriesOutcomes:
			outcomes[g] += r.N
		case store.SeriesActive:
			active[g] += r.N
		default:
			t.Fatalf("unexpected series in %+v", r)
		}
	}
	if outcomes != [3]int64{5000, 5000, 5000} || active != [3]int64{5000, 5000, 5000} {
		t.Fatalf("counts by granularity: outcomes %v, active %v; want 5000 each", outcomes, active)
	}
	var f store.RollupFold
	o := store.Outcome{EventTime: base, Risk: 0.7, Decision: "review", Labelled: true, Fraud: true, Scenario: "x", HasShadow: true, ShadowRisk: 0.2}
	moved := o
	store.ApplyAnalystLabel(&moved, store.AlertFalsePositive)
	f.Add(&o, -1)
	f.Add(&moved, 1)
	f.Add(&moved, -1)
	f.Add(&o, 1)
	if rows := f.Rows(); len(rows) != 0 {
		t.Fatalf("a label moved out and back left %d rows: %+v", len(rows), rows)
	}
}

// BenchmarkRollupDeltas folds a batch of 5,000 labelled transactions into
// its rollup rows, the Go side of what the rollups add to a batch's write.
func BenchmarkRollupDeltas(b *testing.B) {
	p := storetest.LabelledPart(time.Now(), 0, 5000)
	parts := []store.Part{p}
	var rows int
	for b.Loop() {
		rows = len(store.RollupDeltas(parts))
	}
	b.ReportMetric(float64(rows), "rows/batch")
}

// Labels in another order than their transactions are found all the same.
func TestRollupDeltasLabelsOutOfOrder(t *testing.T) {
	t.Parallel()
	p := storetest.LabelledPart(time.Date(2026, 4, 1, 12, 0, 0, 0, time.UTC), 0, 300)
	want := store.RollupDeltas([]store.Part{p})
	// Reverse the labels and drop one transaction's: it counts unlabelled.
	for i, j := 0, len(p.Labels)-1; i < j; i, j = i+1, j-1 {
		p.Labels[i], p.Labels[j] = p.Labels[j], p.Labels[i]
	}
	got := store.RollupDeltas([]store.Part{p})
	if len(got) != len(want) {
		t.Fatalf("%d rows with reversed labels, %d in order", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("row %d: %+v reversed, %+v in order", i, got[i], want[i])
		}
	}
	p.Labels = p.Labels[1:]
	var none int64
	for _, r := range store.RollupDeltas([]store.Part{p}) {
		if r.Granularity == store.Minute && r.Series == store.SeriesOutcomes && r.Truth == store.TruthNone {
			none += r.N
		}
	}
	if none != 1 {
		t.Fatalf("%d unlabelled after dropping one label, want 1", none)
	}
}

func TestRollupRanges(t *testing.T) {
	t.Parallel()
	at := func(d, h, m int) time.Time { return time.Date(2026, 4, d, h, m, 0, 0, time.UTC) }
	oldest, asOf := at(1, 1, 10), at(4, 9, 31)
	type r = store.RollupRange
	for _, tc := range []struct {
		name         string
		since, until time.Time
		by           store.Granularity
		want         []r
	}{
		// Everything: the first and last day rows hold nothing outside.
		{"all", oldest, asOf, "", []r{{store.Day, at(1, 0, 0), at(5, 0, 0)}}},
		{"all by hours", oldest, asOf, store.Hour, []r{{store.Hour, at(1, 1, 0), at(4, 10, 0)}}},
		{"all by minutes", oldest, asOf, store.Minute, []r{{store.Minute, oldest, asOf}}},
		// Within one hour: minutes only.
		{"inside an hour", at(4, 9, 7), asOf, "", []r{{store.Minute, at(4, 9, 7), asOf}}},
		// Edges inside the data: days, then hours, then minutes.
		{"middle", at(1, 2, 30), at(3, 5, 15), "", []r{{store.Day, at(2, 0, 0), at(3, 0, 0)},
			{store.Hour, at(1, 3, 0), at(2, 0, 0)}, {store.Minute, at(1, 2, 30), at(1, 3, 0)},
			{store.Hour, at(3, 0, 0), at(3, 5, 0)}, {store.Minute, at(3, 5, 0), at(3, 5, 15)}}},
		// The last 24 hours: the newest day row is read whole.
		{"last day", at(3, 9, 31), asOf, "", []r{{store.Day, at(4, 0, 0), at(5, 0, 0)},
			{store.Hour, at(3, 10, 0), at(4, 0, 0)}, {store.Minute, at(3, 9, 31), at(3, 10, 0)}}},
		{"empty", at(2, 0, 0), at(2, 0, 0), "", nil},
	} {
		got := store.RollupRanges(tc.since, tc.until, oldest, asOf, tc.by)
		if len(got) != len(tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
				break
			}
		}
	}
}

// importPart is a batch of an import of one-line orders: 50,000
// transactions (the import's batch), each in a minute of its own over
// about a month, unscored, over 4,000 customers.
func importPart() store.Part {
	base := time.Date(2011, 1, 4, 8, 0, 0, 0, time.UTC)
	var p store.Part
	for i := range 50_000 {
		p.Txs = append(p.Txs, store.Tx{
			TransactionID: fmt.Sprintf("import-%06d", i), CustomerID: fmt.Sprintf("%05d", 12000+i*7919%4000),
			EventTime: base.Add(time.Duration(i) * 53 * time.Second), TotalCents: int64(100 + i%5000),
			Currency: "GBP", Channel: "web", PaymentMethod: "unknown",
		})
	}
	return p
}

// BenchmarkDeriveOfImport derives the customer, window and rollup rows of
// an import's batch of one-line orders, which the import's reader does
// for every batch beside reading the file.
func BenchmarkDeriveOfImport(b *testing.B) {
	parts := []store.Part{importPart()}
	var d *store.Derived
	for b.Loop() {
		d = store.DeriveOf(parts, store.MinuteCutoffs{})
	}
	b.ReportMetric(float64(len(d.Rollups)), "rollups/batch")
	b.ReportMetric(float64(len(d.Windows)), "windows/batch")
}

// BenchmarkCustomerDeltas folds a stream's batch of 5,000 labelled
// transactions into its customers' rows, which the writer does inside
// every batch's database transaction.
func BenchmarkCustomerDeltas(b *testing.B) {
	parts := []store.Part{storetest.LabelledPart(time.Date(2026, 4, 1, 12, 0, 0, 0, time.UTC), 0, 5000)}
	var n int
	for b.Loop() {
		n = len(store.CustomerDeltas(parts))
	}
	b.ReportMetric(float64(n), "customers/batch")
}

// Deriving a batch with minute cutoffs gives the rows the store's own
// filter (MinuteRollupsSince, MinuteWindowsSince) leaves of the whole
// derivation: the same minute rows, and hour and day rows that still
// count the minutes left out.
func TestDeriveOfCutoffsAsFilter(t *testing.T) {
	t.Parallel()
	base := time.Date(2026, 4, 1, 12, 0, 0, 0, time.UTC)
	labelled := storetest.LabelledPartEvery(base, 0, 3000, time.Second) // 50 minutes
	imported := importPart()
	for _, parts := range [][]store.Part{{labelled}, {imported}, {labelled, imported}} {
		for _, cut := range []time.Time{{}, base.Add(-time.Hour), base.Add(2 * time.Minute), base.Add(17*time.Minute + 30*time.Second), base.AddDate(0, -1, 0).Add(-90 * time.Second), base.AddDate(1, 0, 0)} {
			got := store.DeriveOf(parts, store.MinuteCutoffs{Windows: cut, Rollups: cut})
			wantRollups := store.RollupDeltas(parts)
			wantWindows := store.WindowDeltas(parts)
			if !cut.IsZero() {
				wantRollups = store.MinuteRollupsSince(wantRollups, cut)
				wantWindows = store.MinuteWindowsSince(wantWindows, cut)
			}
			if !slices.Equal(got.Rollups, wantRollups) {
				t.Fatalf("cut at %v: %d rollup rows, want the %d the filter leaves", cut, len(got.Rollups), len(wantRollups))
			}
			if !slices.Equal(got.Windows, wantWindows) {
				t.Fatalf("cut at %v: %d window rows, want the %d the filter leaves", cut, len(got.Windows), len(wantWindows))
			}
			if len(got.Customers) == 0 {
				t.Fatalf("cut at %v: no customer rows", cut)
			}
		}
	}
}
