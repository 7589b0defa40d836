package storetest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/store"
)

// testEntityTrainingSample: the entity forest's training sample is the
// newest entity events of the partition whose transaction is stored
// approved, newest first: not the reviewed or declined ones, not those
// of another partition, not those whose transaction is not stored, and
// an event time that carries more digits than the stored microseconds
// still finds its transaction.
func testEntityTrainingSample(t *testing.T, s store.Store) {
	ctx := context.Background()
	es, ok := s.(store.Entities)
	tr, ok2 := s.(store.EntityTraining)
	if !ok || !ok2 {
		t.Skipf("%T keeps no entity state", s)
	}
	var txs []store.Tx
	var events []store.EntityEvent
	for i := range 1200 { // more than one chunk of lookups
		at := base.Add(time.Duration(i)*time.Minute + 789*time.Nanosecond)
		id := fmt.Sprintf("t%04d", i)
		tx := Tx(id, fmt.Sprintf("c%d", i%50), at, 100, 0, int64(i))
		switch {
		case i%10 == 3:
			tx.Decision, tx.Risk = "review", 0.5
		case i%10 == 7:
			tx.Decision, tx.Risk = "decline", 0.95
		}
		if i%100 != 99 { // the transaction of every hundredth is not stored
			txs = append(txs, tx)
		}
		p := int32(0)
		if i%10 == 5 {
			p = 1
		}
		for _, ent := range []string{"device:d" + fmt.Sprint(i%7), "card:411111-" + fmt.Sprint(i%9)} {
			events = append(events, store.EntityEvent{Partition: p, Entity: ent, TransactionID: id, CustomerID: tx.CustomerID,
				Card: "411111-1", EventTime: at, Customers: 1 + i%3, Transactions: 1 + i%5, Cards: 1})
		}
	}
	for from := 0; from < len(txs); from += 400 {
		write(t, s, part(0, int64(from), txs[from:min(from+400, len(txs))]...))
	}
	var p0, p1 []store.EntityEvent
	for _, e := range events {
		if e.Partition == 0 {
			p0 = append(p0, e)
		} else {
			p1 = append(p1, e)
		}
	}
	b := &store.EntityBatch{Group: "entities", Topic: "transactions.entities", Parts: []store.EntityPart{
		{Partition: 0, From: 0, To: int64(len(p0)), Events: p0}, {Partition: 1, From: 0, To: int64(len(p1)), Events: p1}}}
	if err := es.WriteEntityBatch(ctx, b); err != nil {
		t.Fatal(err)
	}
	want := func(n int) []string {
		var out []string
		for i := 1199; i >= 0 && len(out) < 2*n; i-- {
			if i%10 == 3 || i%10 == 7 || i%10 == 5 || i%100 == 99 {
				continue
			}
			out = append(out, fmt.Sprintf("t%04d", i), fmt.Sprintf("t%04d", i))
		}
		return out
	}
	for _, n := range []int{100, 5000} {
		got, err := tr.EntityTrainingSample(ctx, 0, n)
		if err != nil {
			t.Fatal(err)
		}
		ids := make([]string, len(got))
		for i, e := range got {
			ids[i] = e.TransactionID
			if e.Partition != 0 || e.Customers < 1 || e.Transactions < 1 || e.Cards != 1 {
				t.Fatalf("sample event %+v", e)
			}
		}
		// n is the events read: of the newest n, the approved ones.
		var w []string
		if n == 100 {
			read := 0
			for i := 1199; read < n; i-- {
				if i%10 == 5 {
					continue // partition 1
				}
				read += 2
				if i%10 == 3 || i%10 == 7 || i%100 == 99 {
					continue
				}
				w = append(w, fmt.Sprintf("t%04d", i), fmt.Sprintf("t%04d", i))
			}
		} else {
			w = want(5000)
		}
		if !slices.Equal(ids, w) {
			t.Fatalf("sample of %d: %d events %v…, want %d %v…", n, len(ids), ids[:min(6, len(ids))], len(w), w[:min(6, len(w))])
		}
	}
	if got, err := tr.EntityTrainingSample(ctx, 2, 100); err != nil || len(got) != 0 {
		t.Fatalf("sample of an empty partition: %v, %v", got, err)
	}
	first, last, err := tr.EntityEventSpan(ctx, 1)
	if err != nil || !first.Equal(base.Add(5*time.Minute).Truncate(time.Microsecond)) || !last.Equal(base.Add(1195*time.Minute).Truncate(time.Microsecond)) {
		t.Fatalf("span of partition 1: %v to %v, %v", first, last, err)
	}
	if first, last, err := tr.EntityEventSpan(ctx, 2); err != nil || !first.IsZero() || !last.IsZero() {
		t.Fatalf("span of an empty partition: %v to %v, %v", first, last, err)
	}
}
