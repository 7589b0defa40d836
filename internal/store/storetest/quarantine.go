package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/store"
)

func quarantined(reason string, partition int32, offset int64) store.Quarantined {
	return store.Quarantined{Reason: reason, Detail: "detail of " + reason, Raw: fmt.Appendf(nil, `{"offset":%d}`, offset),
		Partition: partition, Offset: offset}
}

// quarantinePart is a part of quarantined records only, at offsets from on.
func quarantinePart(p int32, from int64, qs ...store.Quarantined) store.Part {
	return store.Part{Partition: p, From: from, To: from + int64(len(qs)), Quarantined: qs}
}

func ids(rows []store.QuarantineRow) []int64 {
	out := []int64{}
	for _, r := range rows {
		out = append(out, r.ID)
	}
	return out
}

func list(t *testing.T, s store.Store, f store.QuarantineFilter) []store.QuarantineRow {
	t.Helper()
	rows, err := s.ListQuarantine(context.Background(), f)
	if err != nil {
		t.Fatalf("ListQuarantine(%+v): %v", f, err)
	}
	return rows
}

// offsetsOf lists the rows' offsets, in the order listed.
func offsetsOf(rows []store.QuarantineRow) []int64 {
	out := []int64{}
	for _, r := range rows {
		out = append(out, r.Offset)
	}
	return out
}

// Quarantined records are listed newest first, by every filter, a page at
// a time; each records where it came from.
func testQuarantineList(t *testing.T, s store.Store) {
	ctx := context.Background()
	advance := fakeClock(s, t)
	t0 := time.Now()
	write(t, s, quarantinePart(0, 0, quarantined("malformed_json", 0, 0), quarantined("out_of_range", 0, 1)),
		quarantinePart(1, 0, quarantined("out_of_range", 1, 0)))
	advance(time.Hour)
	write(t, s, quarantinePart(0, 2, quarantined("out_of_range", 0, 2)))
	imp := quarantinePart(0, 0, quarantined("missing_field", -1, 7))
	if err := s.WriteBatch(ctx, &store.Batch{Group: "import", Topic: "import:orders.csv", Parts: []store.Part{imp}}); err != nil {
		t.Fatal(err)
	}

	all := list(t, s, store.QuarantineFilter{})
	if got := offsetsOf(all); !reflect.DeepEqual(got, []int64{7, 2, 0, 1, 0}) {
		t.Fatalf("offsets listed = %v, want newest first [7 2 0 1 0]", got)
	}
	first := all[len(all)-1]
	if first.Reason != "malformed_json" || first.Detail != "detail of malformed_json" || string(first.Raw) != `{"offset":0}` ||
		first.Source != store.SourceStream || first.Topic != "transactions" || first.ReplayOutcome != "" || first.ReplayedAt != nil ||
		first.ReplayAttempts != 0 || !first.Open() {
		t.Fatalf("oldest row = %+v", first)
	}
	if d := first.QuarantinedAt.Sub(t0); d < -time.Second || d > time.Second {
		t.Fatalf("quarantined_at = %v, want about %v", first.QuarantinedAt, t0)
	}
	if all[0].Source != store.SourceImport || all[0].Topic != "import:orders.csv" || all[0].Partition != -1 {
		t.Fatalf("imported row = %+v, want source import, topic import:orders.csv, partition -1", all[0])
	}
	p1, minus1 := int32(1), int32(-1)
	for _, c := range []struct {
		f    store.QuarantineFilter
		want []int64
	}{
		{store.QuarantineFilter{Reason: "out_of_range"}, []int64{2, 0, 1}},
		{store.QuarantineFilter{Partition: &p1}, []int64{0}},
		{store.QuarantineFilter{Partition: &minus1}, []int64{7}},
		{store.QuarantineFilter{Source: store.SourceImport}, []int64{7}},
		{store.QuarantineFilter{Source: store.SourceStream, Topic: "transactions"}, []int64{2, 0, 1, 0}},
		{store.QuarantineFilter{Until: t0.Add(30 * time.Minute)}, []int64{0, 1, 0}},
		{store.QuarantineFilter{Since: t0.Add(30 * time.Minute), Reason: "out_of_range"}, []int64{2}},
		{store.QuarantineFilter{IDs: []int64{first.ID, all[0].ID}}, []int64{7, 0}},
		{store.QuarantineFilter{State: store.StateOpen}, []int64{7, 2, 0, 1, 0}},
		{store.QuarantineFilter{State: store.StateReplayed}, []int64{}},
	} {
		if got := offsetsOf(list(t, s, c.f)); !reflect.DeepEqual(got, c.want) {
			t.Errorf("filter %+v: offsets %v, want %v", c.f, got, c.want)
		}
	}
	if _, err := s.ListQuarantine(ctx, store.QuarantineFilter{State: "bogus"}); err == nil {
		t.Error("an unknown state was accepted")
	}

	// Pages of two, each after the last row of the one before.
	var paged []int64
	f := store.QuarantineFilter{Limit: 2}
	for range 10 {
		page := list(t, s, f)
		paged = append(paged, ids(page)...)
		if len(page) < f.Limit {
			break
		}
		f.Before = page[len(page)-1].ID
	}
	if !reflect.DeepEqual(paged, ids(all)) {
		t.Fatalf("paged ids = %v, want %v", paged, ids(all))
	}

	got, err := s.QuarantineRecord(ctx, first.ID)
	if err != nil || !reflect.DeepEqual(got, first) {
		t.Fatalf("QuarantineRecord(%d) = %+v, %v; want %+v", first.ID, got, err, first)
	}
	if _, err := s.QuarantineRecord(ctx, all[0].ID+100); !errors.Is(err, store.ErrQuarantineNotFound) {
		t.Fatalf("QuarantineRecord of an unknown id: %v, want ErrQuarantineNotFound", err)
	}
	counts, err := s.QuarantineCounts(ctx, store.QuarantineFilter{Source: store.SourceStream, Limit: 1, Before: 1})
	want := []store.QuarantineCount{{Reason: "out_of_range", Count: 3}, {Reason: "malformed_json", Count: 1}}
	if err != nil || !reflect.DeepEqual(counts, want) {
		t.Fatalf("QuarantineCounts = %+v, %v; want %+v", counts, err, want)
	}
}

// A replayed record marks its row in the batch's transaction instead of
// adding one; stored and duplicate are final, so a replay arriving twice
// changes nothing the second time.
func testQuarantineReplayMarks(t *testing.T, s store.Store) {
	ctx := context.Background()
	write(t, s, quarantinePart(0, 0, quarantined("out_of_range", 0, 0), quarantined("out_of_range", 0, 1)))
	rows := list(t, s, store.QuarantineFilter{})
	b, a := rows[0].ID, rows[1].ID

	// A fails again, B is stored.
	again := quarantined("total_mismatch", 0, 2)
	again.ReplayOf = a
	txB := Tx("b", "c1", base, 100, 0, 3)
	txB.ReplayOf = b
	p := quarantinePart(0, 2, again)
	p.Txs, p.To = []store.Tx{txB}, 4
	write(t, s, p)
	row := func(id int64) store.QuarantineRow {
		t.Helper()
		r, err := s.QuarantineRecord(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := row(a); r.ReplayOutcome != store.ReplayQuarantined || r.ReplayReason != "total_mismatch" || r.ReplayDetail != "detail of total_mismatch" ||
		r.ReplayAttempts != 1 || r.ReplayedAt == nil || !r.Open() || r.Reason != "out_of_range" {
		t.Fatalf("row failing again = %+v", r)
	}
	if r := row(b); r.ReplayOutcome != store.ReplayStored || r.ReplayAttempts != 1 || r.ReplayReason != "" || r.Open() {
		t.Fatalf("row stored = %+v", r)
	}
	if n := len(list(t, s, store.QuarantineFilter{})); n != 2 {
		t.Fatalf("%d quarantine rows after the replay, want still 2", n)
	}

	// A is stored now; B's replay arrives a second time and is a duplicate.
	txA := Tx("a", "c1", base, 100, 0, 4)
	txA.ReplayOf = a
	dupB := quarantined(store.ReplayDuplicateReason, 0, 5)
	dupB.ReplayOf = b
	p = quarantinePart(0, 4, dupB)
	p.Txs, p.From, p.To = []store.Tx{txA}, 4, 6
	write(t, s, p)
	before := row(b)
	if r := row(a); r.ReplayOutcome != store.ReplayStored || r.ReplayAttempts != 2 || r.ReplayReason != "" {
		t.Fatalf("row stored on its second replay = %+v", r)
	}
	// A third replay of each: a duplicate of the stored transaction.
	dupA := quarantined(store.ReplayDuplicateReason, 0, 6)
	dupA.ReplayOf = a
	write(t, s, quarantinePart(0, 6, dupA))
	if r := row(a); r.ReplayOutcome != store.ReplayStored || r.ReplayAttempts != 2 {
		t.Fatalf("a stored row changed by a later replay: %+v", r)
	}
	if r := row(b); !reflect.DeepEqual(r, before) {
		t.Fatalf("a stored row changed by a later replay: %+v, was %+v", r, before)
	}
	sum, err := s.Summary(ctx)
	if err != nil || sum.TransactionsTotal != 2 || sum.QuarantinedTotal != 2 {
		t.Fatalf("summary = %+v, %v; want 2 transactions and the 2 quarantine rows", sum, err)
	}
	if got := offsetsOf(list(t, s, store.QuarantineFilter{State: store.ReplayStored})); len(got) != 2 {
		t.Fatalf("rows stored by replay: %v, want both", got)
	}
	if got := list(t, s, store.QuarantineFilter{State: store.StateOpen}); len(got) != 0 {
		t.Fatalf("open rows after both were stored: %+v", got)
	}

	// A duplicate outcome is final too, and a replay of a purged row is
	// no error.
	write(t, s, quarantinePart(0, 7, quarantined("malformed_json", 0, 7)))
	c := list(t, s, store.QuarantineFilter{Reason: "malformed_json"})[0].ID
	dupC := quarantined(store.ReplayDuplicateReason, 0, 8)
	dupC.ReplayOf = c
	gone := quarantined("malformed_json", 0, 9)
	gone.ReplayOf = c + 1000
	write(t, s, quarantinePart(0, 8, dupC, gone))
	failC := quarantined("malformed_json", 0, 10)
	failC.ReplayOf = c
	write(t, s, quarantinePart(0, 10, failC))
	if r := row(c); r.ReplayOutcome != store.ReplayDuplicate || r.ReplayAttempts != 1 || r.ReplayReason != store.ReplayDuplicateReason || r.Open() {
		t.Fatalf("row found a duplicate = %+v", r)
	}
	counts, err := s.QuarantineCounts(ctx, store.QuarantineFilter{})
	want := []store.QuarantineCount{{Reason: "out_of_range", Outcome: store.ReplayStored, Count: 2}, {Reason: "malformed_json", Outcome: store.ReplayDuplicate, Count: 1}}
	if err != nil || !reflect.DeepEqual(counts, want) {
		t.Fatalf("QuarantineCounts = %+v, %v; want %+v", counts, err, want)
	}
}

// PurgeQuarantine deletes by age only, in bounded batches.
func testQuarantinePurge(t *testing.T, s store.Store) {
	ctx := context.Background()
	advance := fakeClock(s, t)
	write(t, s, quarantinePart(0, 0, quarantined("a", 0, 0), quarantined("a", 0, 1), quarantined("a", 0, 2)))
	advance(2 * time.Hour)
	write(t, s, quarantinePart(0, 3, quarantined("b", 0, 3)))
	cutoff := time.Now().Add(time.Hour)
	if n, err := s.PurgeQuarantine(ctx, cutoff, 2); n != 3 || err != nil {
		t.Fatalf("purging before the cutoff = %d, %v; want 3", n, err)
	}
	if n, err := s.PurgeQuarantine(ctx, cutoff, 2); n != 0 || err != nil {
		t.Fatalf("purging again = %d, %v; want 0", n, err)
	}
	if got := offsetsOf(list(t, s, store.QuarantineFilter{})); !reflect.DeepEqual(got, []int64{3}) {
		t.Fatalf("left after purging: %v, want [3]", got)
	}
}
