package storetest

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/store"
)

// testSystemSamples: the dashboard's samples are stored per instance and
// tier, read back oldest first from a time on, of one instance or all, a
// second save of the same sample replaces it, and a save deletes its
// tier's rows older than keep (any instance's), not the other tiers': the
// fine tier's, saved every 15 s, are pruned as they are saved, and the
// newest of them is when the instance was last seen.
func testSystemSamples(t *testing.T, s store.Store) {
	ctx := context.Background()
	ss, ok := s.(store.SystemSamples)
	if !ok {
		t.Fatalf("%T does not implement store.SystemSamples", s)
	}
	at := func(m int) time.Time { return base.Add(time.Duration(m) * 5 * time.Minute) }
	save := func(inst string, step, m int, data string, keep time.Duration) {
		t.Helper()
		if err := ss.SaveSystemSample(ctx, store.SystemSample{Instance: inst, Step: step, At: at(m), Data: []byte(data)}, keep); err != nil {
			t.Fatal(err)
		}
	}
	read := func(inst string, step, from int) []store.SystemSample {
		t.Helper()
		out, err := ss.SystemSamples(ctx, inst, step, at(from))
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	same := func(got []store.SystemSample, want ...store.SystemSample) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%d samples %+v, want %d %+v", len(got), got, len(want), want)
		}
		for i := range got {
			if got[i].Instance != want[i].Instance || got[i].Step != want[i].Step || !got[i].At.Equal(want[i].At) ||
				got[i].At.Location() != time.UTC || !bytes.Equal(got[i].Data, want[i].Data) {
				t.Fatalf("sample %d = %+v, want %+v (in UTC)", i, got[i], want[i])
			}
		}
	}
	smp := func(inst string, step, m int, data string) store.SystemSample {
		return store.SystemSample{Instance: inst, Step: step, At: at(m), Data: []byte(data)}
	}
	day := 24 * time.Hour
	save("p1", 300, 0, "\x00a", day)
	save("p2", 300, 0, "b", day)
	save("p1", 300, 1, "c", day)
	save("p1", 3600, 0, "hour", 30*day)
	save("p1", 300, 1, "c2", day) // the same again: replaced
	same(read("p1", 300, 0), smp("p1", 300, 0, "\x00a"), smp("p1", 300, 1, "c2"))
	same(read("", 300, 0), smp("p1", 300, 0, "\x00a"), smp("p2", 300, 0, "b"), smp("p1", 300, 1, "c2"))
	same(read("", 300, 1), smp("p1", 300, 1, "c2"))
	same(read("p1", 3600, 0), smp("p1", 3600, 0, "hour"))
	same(read("p3", 300, 0))
	insts, err := ss.SystemSampleInstances(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []store.SystemSampleInstance{{Instance: "p1", Oldest: at(0), Newest: at(1), Samples: 3}, {Instance: "p2", Oldest: at(0), Newest: at(0), Samples: 1}}
	if len(insts) != len(want) {
		t.Fatalf("instances %+v, want %+v", insts, want)
	}
	for i, in := range insts {
		if in.Instance != want[i].Instance || !in.Oldest.Equal(want[i].Oldest) || !in.Newest.Equal(want[i].Newest) || in.Samples != want[i].Samples ||
			in.Newest.Location() != time.UTC {
			t.Errorf("instance %d = %+v, want %+v (in UTC)", i, in, want[i])
		}
	}

	// 25 hours on (300 five-minute steps): the rows of the 5-minute tier
	// more than a day before are gone, of both instances; the hour's
	// tier keeps its own.
	save("p2", 300, 300, "late", day)
	same(read("", 300, 0), smp("p2", 300, 300, "late"))
	same(read("p1", 3600, 0), smp("p1", 3600, 0, "hour"))
	// p1 is seen by its hourly row alone now.
	if insts, err = ss.SystemSampleInstances(ctx); err != nil || len(insts) != 2 || insts[0].Samples != 1 || !insts[0].Newest.Equal(at(0)) ||
		!insts[1].Newest.Equal(at(300)) {
		t.Errorf("instances after the retention: %+v, %v", insts, err)
	}

	// The fine tier: a row every 15 s after p2's 5-minute one, kept a
	// minute; each save drops the fine rows more than a minute older.
	fine := func(k int) time.Time { return at(300).Add(time.Duration(k) * 15 * time.Second) }
	for k := range 8 {
		if err := ss.SaveSystemSample(ctx, store.SystemSample{Instance: "p2", Step: 15, At: fine(k), Data: []byte{byte(k)}}, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	var want15 []store.SystemSample
	for k := 3; k < 8; k++ {
		want15 = append(want15, store.SystemSample{Instance: "p2", Step: 15, At: fine(k), Data: []byte{byte(k)}})
	}
	same(read("p2", 15, 0), want15...)
	same(read("", 300, 0), smp("p2", 300, 300, "late"))
	if insts, err = ss.SystemSampleInstances(ctx); err != nil || len(insts) != 2 || insts[1].Samples != 6 || !insts[1].Newest.Equal(fine(7)) {
		t.Errorf("instances with fine rows: %+v, %v; want p2 with 6 rows, last seen %v", insts, err, fine(7))
	}
}
