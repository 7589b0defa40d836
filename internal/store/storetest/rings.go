package storetest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/store"
)

// testRingsPages: the rings come updated most recently first, then by
// key, in pages whose cursor is the last ring's place, and the filters
// (member, entity, time) select within that order.
func testRingsPages(t *testing.T, s store.Store) {
	ctx := context.Background()
	es, ok := s.(store.Entities)
	if !ok {
		t.Skipf("%T keeps no entity state", s)
	}
	ring := func(key string, members ...string) store.EntityRing {
		return store.EntityRing{Key: key, Members: members, Entities: []string{key}, Reason: "ring of " + key,
			TransactionID: "t-" + key, ProducedAt: base, FirstEventTime: base, LastEventTime: base}
	}
	// The store stamps a ring's update with its clock: three batches, the
	// second with two rings, which share their update time, so the key
	// orders them.
	for i, rs := range [][]store.EntityRing{
		{ring("device:a", "ann", "bob")},
		{ring("device:b", "bo", "cy_1"), ring("card:411111:1111", "dee", "eve")},
		{ring("device:c", "cy%1", "fay", "gus")},
	} {
		b := &store.EntityBatch{Group: "entities", Topic: "transactions.entities", Parts: []store.EntityPart{{Partition: 0, From: int64(i), To: int64(i + 1), Rings: rs}}}
		if err := es.WriteEntityBatch(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	stored, err := es.EntityRings(ctx, store.RingFilter{})
	if err != nil {
		t.Fatal(err)
	}
	updated := map[string]time.Time{}
	for _, r := range stored {
		updated[r.Key] = r.UpdatedAt
	}
	if !updated["device:b"].Equal(updated["card:411111:1111"]) || !updated["device:b"].After(updated["device:a"]) || !updated["device:c"].After(updated["device:b"]) {
		t.Fatalf("update times %v: want one per batch", updated)
	}
	keys := func(f store.RingFilter) string {
		t.Helper()
		rs, err := es.EntityRings(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		var k []string
		for _, r := range rs {
			k = append(k, r.Key)
		}
		return strings.Join(k, " ")
	}
	all := "device:c card:411111:1111 device:b device:a"
	if got := keys(store.RingFilter{}); got != all {
		t.Fatalf("rings %q, want %q", got, all)
	}
	// Pages of one, each after the last: the same order, the tie too.
	var paged []string
	var after *store.RingCursor
	for range 10 {
		rs, err := es.EntityRings(ctx, store.RingFilter{Limit: 1, After: after})
		if err != nil {
			t.Fatal(err)
		}
		if len(rs) == 0 {
			break
		}
		paged = append(paged, rs[0].Key)
		after = &store.RingCursor{UpdatedAt: rs[0].UpdatedAt, Key: rs[0].Key}
	}
	if got := strings.Join(paged, " "); got != all {
		t.Fatalf("rings paged one by one %q, want %q", got, all)
	}
	for _, c := range []struct {
		f    store.RingFilter
		want string
	}{
		{store.RingFilter{Member: "bob"}, "device:a"},
		{store.RingFilter{Member: "bo"}, "device:b"},
		{store.RingFilter{Member: "b"}, ""},
		{store.RingFilter{Member: "cy_1"}, "device:b"},
		{store.RingFilter{Member: "cy%1"}, "device:c"},
		{store.RingFilter{Entity: "card:411111:1111"}, "card:411111:1111"},
		{store.RingFilter{Since: updated["device:b"]}, "device:c card:411111:1111 device:b"},
		{store.RingFilter{Since: updated["device:b"], Until: updated["device:c"]}, "card:411111:1111 device:b"},
		{store.RingFilter{Member: "bob", Limit: 1, After: &store.RingCursor{UpdatedAt: updated["device:b"], Key: "device:b"}}, "device:a"},
		{store.RingFilter{Member: "bob", Limit: 1, After: &store.RingCursor{UpdatedAt: updated["device:a"], Key: "device:a"}}, ""},
	} {
		if got := keys(c.f); got != c.want {
			t.Errorf("rings of %+v: %q, want %q", c.f, got, c.want)
		}
	}
	// The counts are of the filters, whatever the page.
	for _, c := range []struct {
		f    store.RingFilter
		want store.RingCount
	}{
		{store.RingFilter{}, store.RingCount{Rings: 4, Accounts: 9}},
		{store.RingFilter{Limit: 1, After: &store.RingCursor{UpdatedAt: updated["device:c"], Key: "device:c"}}, store.RingCount{Rings: 4, Accounts: 9}},
		{store.RingFilter{Member: "bob"}, store.RingCount{Rings: 1, Accounts: 2}},
		{store.RingFilter{Member: "cy%1"}, store.RingCount{Rings: 1, Accounts: 3}},
		{store.RingFilter{Since: updated["device:b"]}, store.RingCount{Rings: 3, Accounts: 7}},
		{store.RingFilter{Since: updated["device:b"], Until: updated["device:c"]}, store.RingCount{Rings: 2, Accounts: 4}},
		{store.RingFilter{Entity: "device:z"}, store.RingCount{}},
	} {
		got, err := es.CountEntityRings(ctx, c.f)
		if err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("counts of %+v: %+v, want %+v", c.f, got, c.want)
		}
	}
}

// testRingsAcrossPartitions: the entity stage finds rings per partition of
// the repartition topic, so the same accounts found on two partitions are
// stored under two keys, and accounts joined through entities of two
// partitions as two rings; the list and its counts take stored rings that
// share a member as one ring, with the union of their members and
// entities, over all pages.
func testRingsAcrossPartitions(t *testing.T, s store.Store) {
	ctx := context.Background()
	es, ok := s.(store.Entities)
	if !ok {
		t.Skipf("%T keeps no entity state", s)
	}
	at := func(h int) time.Time { return base.Add(time.Duration(h) * time.Hour) }
	ring := func(key string, tx string, first, last int, members ...string) store.EntityRing {
		return store.EntityRing{Key: key, Members: members, Entities: []string{key}, Reason: "ring of " + key,
			TransactionID: tx, ProducedAt: at(last), FirstEventTime: at(first), LastEventTime: at(last)}
	}
	write := func(partition int32, from int64, rs ...store.EntityRing) {
		t.Helper()
		b := &store.EntityBatch{Group: "entities", Topic: "transactions.entities",
			Parts: []store.EntityPart{{Partition: partition, From: from, To: from + 1, Rings: rs}}}
		if err := es.WriteEntityBatch(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	// Partition 0 owns a device joining ann, bob and cy; partition 1 a
	// shipping address joining cy and dee: one ring of four across them.
	write(0, 0, ring("device:d1", "t1", 1, 3, "ann", "bob", "cy"))
	write(1, 0, ring("address:3f9c2d0e5b7a1c44", "t2", 2, 5, "cy", "dee"))
	// The same three accounts found on partition 2 by a card and on
	// partition 3 by a device: one ring, listed and counted once.
	write(2, 0, ring("card:411111:1111", "t3", 0, 1, "eve", "fay", "gus"))
	write(3, 0, ring("device:d2", "t4", 1, 2, "eve", "fay", "gus"))
	// A ring on its own.
	write(0, 1, ring("device:d3", "t5", 4, 4, "hal", "ivy", "jon"))

	all, c, err := es.EntityRingPage(ctx, store.RingFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if c != (store.RingCount{Rings: 3, Accounts: 10}) || len(all) != 3 {
		t.Fatalf("%d rings counted %+v: %+v; want 3 rings of 10 accounts", len(all), c, all)
	}
	byKey := map[string]store.EntityRing{}
	for _, g := range all {
		byKey[g.Key] = g
	}
	across, ok := byKey["address:3f9c2d0e5b7a1c44"]
	if !ok {
		t.Fatalf("no ring keyed by the address (the smallest key of the two): %+v", all)
	}
	if got := strings.Join(across.Members, ","); got != "ann,bob,cy,dee" {
		t.Errorf("members across partitions %s, want ann,bob,cy,dee", got)
	}
	if got := strings.Join(across.Entities, ","); got != "address:3f9c2d0e5b7a1c44,device:d1" {
		t.Errorf("entities across partitions %s", got)
	}
	if want := "ring of 4 accounts sharing shipping address 3f9c2d0e5b7a1c44 and device d1: ann, bob, cy, dee"; across.Reason != want {
		t.Errorf("reason %q, want %q", across.Reason, want)
	}
	if !across.FirstEventTime.Equal(at(1)) || !across.LastEventTime.Equal(at(5)) || across.TransactionID != "t2" || across.Partition != 1 {
		t.Errorf("ring across partitions: events %v to %v, transaction %s on %d; want %v to %v, t2 (the later update) on 1",
			across.FirstEventTime, across.LastEventTime, across.TransactionID, across.Partition, at(1), at(5))
	}
	twice, ok := byKey["card:411111:1111"]
	if !ok || strings.Join(twice.Members, ",") != "eve,fay,gus" || strings.Join(twice.Entities, ",") != "card:411111:1111,device:d2" ||
		!twice.FirstEventTime.Equal(at(0)) || !twice.LastEventTime.Equal(at(2)) {
		t.Errorf("the ring found twice: %+v", twice)
	}
	if alone := byKey["device:d3"]; alone.Reason != "ring of device:d3" || alone.TransactionID != "t5" {
		t.Errorf("a ring alone keeps its stored reason: %+v", alone)
	}
	// Each merged ring is updated when its last ring was: the order is of
	// those, and pages of one walk it with the same counts on each page.
	want := "device:d3 card:411111:1111 address:3f9c2d0e5b7a1c44"
	var keys []string
	for _, g := range all {
		keys = append(keys, g.Key)
	}
	if got := strings.Join(keys, " "); got != want {
		t.Fatalf("order %q, want %q", got, want)
	}
	var paged []string
	var after *store.RingCursor
	for range 5 {
		rs, pc, err := es.EntityRingPage(ctx, store.RingFilter{Limit: 1, After: after})
		if err != nil {
			t.Fatal(err)
		}
		if pc != c {
			t.Errorf("page after %v counted %+v, want %+v", after, pc, c)
		}
		if len(rs) == 0 {
			break
		}
		paged = append(paged, rs[0].Key)
		after = &store.RingCursor{UpdatedAt: rs[0].UpdatedAt, Key: rs[0].Key}
	}
	if got := strings.Join(paged, " "); got != want {
		t.Fatalf("paged %q, want %q", got, want)
	}
	// A member's or an entity's filter selects the whole merged ring.
	for _, f := range []store.RingFilter{{Member: "ann"}, {Member: "dee"}, {Entity: "device:d1"}} {
		rs, fc, err := es.EntityRingPage(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		if len(rs) != 1 || rs[0].Key != across.Key || len(rs[0].Members) != 4 || fc != (store.RingCount{Rings: 1, Accounts: 4}) {
			t.Errorf("rings of %+v: %+v counted %+v; want the ring of four", f, rs, fc)
		}
	}
	// EntityRings and CountEntityRings answer as the page does.
	rs, err := es.EntityRings(ctx, store.RingFilter{Member: "fay"})
	if err != nil {
		t.Fatal(err)
	}
	n, err := es.CountEntityRings(ctx, store.RingFilter{Member: "fay"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 || rs[0].Key != "card:411111:1111" || n != (store.RingCount{Rings: 1, Accounts: 3}) {
		t.Errorf("fay's rings %+v counted %+v; want the ring found twice, once", rs, n)
	}
}
