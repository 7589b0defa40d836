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
		{ring("device:b", "bob", "cy_1"), ring("card:411111:1111", "dee", "eve")},
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
		{store.RingFilter{Member: "bob"}, "device:b device:a"},
		{store.RingFilter{Member: "bo"}, ""},
		{store.RingFilter{Member: "cy_1"}, "device:b"},
		{store.RingFilter{Member: "cy%1"}, "device:c"},
		{store.RingFilter{Entity: "card:411111:1111"}, "card:411111:1111"},
		{store.RingFilter{Since: updated["device:b"]}, "device:c card:411111:1111 device:b"},
		{store.RingFilter{Since: updated["device:b"], Until: updated["device:c"]}, "card:411111:1111 device:b"},
		{store.RingFilter{Member: "bob", Limit: 1, After: &store.RingCursor{UpdatedAt: updated["device:b"], Key: "device:b"}}, "device:a"},
	} {
		if got := keys(c.f); got != c.want {
			t.Errorf("rings of %+v: %q, want %q", c.f, got, c.want)
		}
	}
	// The counts are of the filters, whatever the page; the same accounts
	// stored again as a ring under another key (found on another
	// partition through another entity) count once.
	dup := &store.EntityBatch{Group: "entities", Topic: "transactions.entities", Parts: []store.EntityPart{{Partition: 1, From: 0, To: 1,
		Rings: []store.EntityRing{ring("card:411111:2222", "ann", "bob")}}}}
	if err := es.WriteEntityBatch(ctx, dup); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		f    store.RingFilter
		want store.RingCount
	}{
		{store.RingFilter{}, store.RingCount{Rings: 4, Accounts: 9}},
		{store.RingFilter{Limit: 1, After: &store.RingCursor{UpdatedAt: updated["device:c"], Key: "device:c"}}, store.RingCount{Rings: 4, Accounts: 9}},
		{store.RingFilter{Member: "bob"}, store.RingCount{Rings: 2, Accounts: 4}},
		{store.RingFilter{Member: "cy%1"}, store.RingCount{Rings: 1, Accounts: 3}},
		{store.RingFilter{Since: updated["device:b"]}, store.RingCount{Rings: 4, Accounts: 9}},
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
