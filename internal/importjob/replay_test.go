package importjob

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/event"
	"github.com/shopstream/shopstream/internal/quality"
	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/sqlite"
)

func withQuantity(t event.Transaction, q int) event.Transaction {
	for i := range t.Items {
		t.Items[i].Quantity = q
	}
	t.TotalCents = t.ItemsCents()
	return t
}

// TestReimportWithNewContract imports a file under strict checks (two of
// its three orders are quarantined), re-imports it under the same checks
// (nothing is stored, the rows count a failed replay), then under relaxed
// checks (the two are stored, once), then once more (nothing changes).
func TestReimportWithNewContract(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	file := func() *list {
		return &list{order("o1", 1), withQuantity(order("o2", 2), 5), withQuantity(order("o3", 1), 7)}
	}
	run := func(maxQuantity int) (Result, ReplayResult) {
		t.Helper()
		j, err := New(Config{Store: st, Source: "a.csv", Batch: 2, Quality: contractOf(t, quality.Config{MaxQuantity: maxQuantity}),
			Now: func() time.Time { return when.Add(time.Hour) }})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := j.Resume(ctx); err != nil {
			t.Fatal(err)
		}
		rep, err := j.ReplayQuarantined(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := j.Run(ctx, file()); err != nil {
			t.Fatal(err)
		}
		return j.Result(), rep
	}
	stored := func() int64 {
		t.Helper()
		sum, err := st.Summary(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return sum.TransactionsTotal
	}

	res, rep := run(2)
	if res.Stored != 1 || res.Quarantined != 2 || res.QuarantinedBy["out_of_range"] != 2 || rep.Replayed != 0 {
		t.Fatalf("first import: %+v, replayed %+v; want 1 stored, 2 quarantined as out_of_range, nothing to replay", res, rep)
	}
	rows, err := st.ListQuarantine(ctx, store.QuarantineFilter{})
	if err != nil || len(rows) != 2 || rows[0].Source != store.SourceImport || rows[0].Topic != "import:a.csv" {
		t.Fatalf("quarantine after the first import: %+v, %v", rows, err)
	}

	res, rep = run(2)
	want := ReplayResult{Replayed: 2, Quarantined: 2, QuarantinedBy: map[string]int64{"out_of_range": 2}}
	if res.Previously != 3 || res.Stored != 0 || !reflect.DeepEqual(rep, want) {
		t.Fatalf("re-import under the same checks: %+v, replayed %+v; want %+v", res, rep, want)
	}
	if n := stored(); n != 1 {
		t.Fatalf("%d transactions stored, want 1", n)
	}

	res, rep = run(10)
	want = ReplayResult{Replayed: 2, Stored: 2, QuarantinedBy: map[string]int64{}}
	if res.Stored != 0 || !reflect.DeepEqual(rep, want) {
		t.Fatalf("re-import under relaxed checks: %+v, replayed %+v; want %+v", res, rep, want)
	}
	if n := stored(); n != 3 {
		t.Fatalf("%d transactions stored, want 3", n)
	}
	before, _ := st.ListQuarantine(ctx, store.QuarantineFilter{})
	for _, r := range before {
		if r.ReplayOutcome != store.ReplayStored || r.ReplayAttempts != 2 || r.ReplayedAt == nil {
			t.Fatalf("row after the replay that stored it: %+v", r)
		}
	}

	res, rep = run(10)
	want = ReplayResult{QuarantinedBy: map[string]int64{}}
	if res.Stored != 0 || res.Quarantined != 0 || !reflect.DeepEqual(rep, want) {
		t.Fatalf("third re-import: %+v, replayed %+v; want nothing", res, rep)
	}
	after, _ := st.ListQuarantine(ctx, store.QuarantineFilter{})
	if n := stored(); n != 3 || !reflect.DeepEqual(after, before) {
		t.Fatalf("the third re-import changed something: %d stored, rows %+v, were %+v", n, after, before)
	}
}

// TestReplayDuplicates replays two quarantine rows of one transaction id,
// one of which is stored already under another source: both are marked
// duplicate, nothing is stored twice.
func TestReplayDuplicates(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	strict := Config{Store: st, Source: "a.csv", Quality: contractOf(t, quality.Config{MaxQuantity: 2}), Now: func() time.Time { return when }}
	j, _ := New(strict)
	if err := j.Run(ctx, &list{withQuantity(order("o1", 1), 5), withQuantity(order("o2", 1), 5), withQuantity(order("o2", 1), 6)}); err != nil {
		t.Fatal(err)
	}
	b, _ := New(Config{Store: st, Source: "b.csv", Now: func() time.Time { return when }})
	if err := b.Run(ctx, &list{withQuantity(order("o1", 1), 5)}); err != nil {
		t.Fatal(err)
	}
	rep, err := Replay(ctx, st, contractOf(t, quality.Config{MaxQuantity: 10}), when, store.QuarantineFilter{}, 0)
	want := ReplayResult{Replayed: 3, Stored: 1, Duplicate: 2, QuarantinedBy: map[string]int64{}}
	if err != nil || !reflect.DeepEqual(rep, want) {
		t.Fatalf("replay: %+v, %v; want %+v", rep, err, want)
	}
	sum, _ := st.Summary(ctx)
	counts, _ := st.QuarantineCounts(ctx, store.QuarantineFilter{})
	wantCounts := []store.QuarantineCount{{Reason: "out_of_range", Outcome: store.ReplayDuplicate, Count: 2}, {Reason: "out_of_range", Outcome: store.ReplayStored, Count: 1}}
	if sum.TransactionsTotal != 2 || !reflect.DeepEqual(counts, wantCounts) {
		t.Fatalf("after the replay: %d stored, rows %+v; want 2 stored and %+v", sum.TransactionsTotal, counts, wantCounts)
	}
	if rep, err := Replay(ctx, st, contractOf(t, quality.Config{MaxQuantity: 10}), when, store.QuarantineFilter{}, 0); err != nil || rep.Replayed != 0 {
		t.Fatalf("replaying again: %+v, %v; want nothing", rep, err)
	}
}

// contractOf is the default contract with c's thresholds.
func contractOf(t testing.TB, c quality.Config) *quality.Contract {
	t.Helper()
	q, err := c.Contract()
	if err != nil {
		t.Fatal(err)
	}
	return q
}
