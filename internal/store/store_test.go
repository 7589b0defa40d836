package store

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

func TestFence(t *testing.T) {
	parts := []Part{{Partition: 0, From: 10, To: 20}, {Partition: 1, From: 5, To: 6}}
	at := func(n0, n1 int64, owner string, gen int32) map[int32]StoredOffset {
		return map[int32]StoredOffset{0: {n0, owner, gen}, 1: {n1, owner, gen}}
	}
	fenced := func(ps ...int32) error { return &FencedError{Partitions: ps} }
	tests := []struct {
		name   string
		owner  string
		gen    int32
		stored map[int32]StoredOffset
		want   error
	}{
		{"in place", "a", 3, at(10, 5, "a", 3), nil},
		{"newer generation takes over", "b", 4, at(10, 5, "a", 3), nil},
		{"zombie", "a", 2, at(10, 5, "b", 3), fenced(0, 1)},
		{"zombie on one partition", "a", 2, map[int32]StoredOffset{0: {10, "a", 2}, 1: {5, "b", 3}}, fenced(1)},
		{"own lost reply", "a", 3, at(20, 6, "a", 3), ErrAlreadyCommitted},
		{"another owner's commit", "b", 3, at(20, 6, "a", 3), fenced(0, 1)},
		{"moved", "a", 3, at(12, 5, "a", 3), fenced(0)},
		{"outside any group, done", "", -1, at(20, 6, "a", 7), ErrAlreadyCommitted},
		{"outside any group, in place", "", -1, at(10, 5, "a", 7), nil},
		{"outside any group, moved", "", -1, at(10, 4, "a", 7), fenced(1)},
	}
	for _, tc := range tests {
		err := Fence(&Batch{Owner: tc.owner, Generation: tc.gen, Parts: parts}, tc.stored)
		if !reflect.DeepEqual(err, tc.want) && !(errors.Is(err, ErrAlreadyCommitted) && errors.Is(tc.want, ErrAlreadyCommitted)) {
			t.Errorf("%s: Fence = %v, want %v", tc.name, err, tc.want)
		}
	}
}

// WindowDeltas' hours are the sums of its minutes: checked against each
// transaction added to its minute and its hour directly, over events in
// several minutes and hours, channels, methods and currencies, with and
// without alerts, in two parts.
func TestWindowDeltas(t *testing.T) {
	base := time.Date(2026, 3, 1, 10, 58, 30, 0, time.UTC)
	var parts [2]Part
	type key struct {
		g           Granularity
		start       time.Time
		ch, pm, cur string
	}
	want := map[key]WindowRow{}
	for i := range 500 {
		tx := Tx{EventTime: base.Add(time.Duration(i*i%7919) * time.Second), Channel: []string{"web", "app"}[i%2],
			PaymentMethod: []string{"card", "paypal", "klarna"}[i%3], Currency: []string{"EUR", "USD"}[i/250], TotalCents: int64(100 + i),
			Decision: []string{"approve", "review", "decline", ""}[i%4]}
		parts[i%2].Txs = append(parts[i%2].Txs, tx)
		for _, g := range []Granularity{Minute, Hour} {
			k := key{g, g.Truncate(tx.EventTime), tx.Channel, tx.PaymentMethod, tx.Currency}
			w := want[k]
			w.Granularity, w.Start, w.Channel, w.PaymentMethod, w.Currency = k.g, k.start, k.ch, k.pm, k.cur
			w.Count++
			w.RevenueCents += tx.TotalCents
			if tx.Decision == "review" || tx.Decision == "decline" {
				w.Alerts++
			}
			want[k] = w
		}
	}
	got := WindowDeltas(parts[:])
	if len(got) != len(want) {
		t.Fatalf("%d window rows, want %d", len(got), len(want))
	}
	hours := 0
	for i, w := range got {
		if w != want[key{w.Granularity, w.Start, w.Channel, w.PaymentMethod, w.Currency}] {
			t.Errorf("row %d: %+v, want %+v", i, w, want[key{w.Granularity, w.Start, w.Channel, w.PaymentMethod, w.Currency}])
		}
		if w.Granularity == Hour {
			hours++
		}
		if i > 0 && got[i-1].Granularity == w.Granularity && w.Start.Before(got[i-1].Start) {
			t.Errorf("row %d starts before row %d: not sorted", i, i-1)
		}
	}
	if hours < 3 {
		t.Errorf("%d hour rows: the test's events should span at least three hours", hours)
	}
}

// A batch's customer rows: one per customer in ID order (as bytes), each
// with its orders, revenue and earliest and latest event time over every
// part, whatever the order of its transactions.
func TestCustomerDeltas(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	ids := []string{"c1", "C1", "c10", "c2", "é", "", "c\x00", "zz"}
	type want struct {
		orders, revenue int64
		first, last     time.Time
	}
	wants := map[string]*want{}
	parts := make([]Part, 3)
	for range 500 {
		id := ids[rng.IntN(len(ids))]
		at := base.Add(time.Duration(rng.IntN(100000)) * time.Second)
		cents := int64(rng.IntN(10000))
		p := &parts[rng.IntN(len(parts))]
		p.Txs = append(p.Txs, Tx{CustomerID: id, EventTime: at, TotalCents: cents})
		w := wants[id]
		if w == nil {
			w = &want{first: at, last: at}
			wants[id] = w
		}
		w.orders++
		w.revenue += cents
		if at.Before(w.first) {
			w.first = at
		}
		if at.After(w.last) {
			w.last = at
		}
	}
	got := CustomerDeltas(parts)
	if len(got) != len(wants) {
		t.Fatalf("%d customers, want %d", len(got), len(wants))
	}
	for i, c := range got {
		if i > 0 && got[i-1].CustomerID >= c.CustomerID {
			t.Fatalf("customers %q then %q: not in ID order", got[i-1].CustomerID, c.CustomerID)
		}
		w := wants[c.CustomerID]
		if w == nil || c.Orders != w.orders || c.RevenueCents != w.revenue || !c.FirstSeen.Equal(w.first) || !c.LastSeen.Equal(w.last) {
			t.Fatalf("customer %q: %+v, want %+v", c.CustomerID, c, w)
		}
	}
	if got := CustomerDeltas(nil); len(got) != 0 {
		t.Fatalf("no parts gave %d customers", len(got))
	}
}
