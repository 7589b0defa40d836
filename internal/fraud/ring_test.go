package fraud

import (
	"fmt"
	"reflect"
	"testing"
	"time"
)

func TestDetectRings(t *testing.T) {
	t.Parallel()
	links := []Link{
		// A ring of four joined by a device, one of them also by a card
		// to a fifth account.
		{"c1", "device:d1"}, {"c2", "device:d1"}, {"c3", "device:d1"}, {"c4", "device:d1"},
		{"c4", "card:4111-0001"}, {"c5", "card:4111-0001"},
		// A household: two accounts, one device: not a ring of three.
		{"h1", "device:d9"}, {"h2", "device:d9"},
		// An account's own card, used by no one else, joins nothing.
		{"c1", "card:5500-0002"},
		// A second ring, chained: x1-x2 by a card, x2-x3 by a device.
		{"x1", "card:3400-0003"}, {"x2", "card:3400-0003"}, {"x2", "device:d7"}, {"x3", "device:d7"},
	}
	got := DetectRings(links, 3)
	want := []Ring{
		{Members: []string{"x1", "x2", "x3"}, Entities: []string{"card:3400-0003", "device:d7"}},
		{Members: []string{"c1", "c2", "c3", "c4", "c5"}, Entities: []string{"card:4111-0001", "device:d1"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("rings\n got %+v\nwant %+v", got, want)
	}
	if r := got[1].Reason(); r != "ring of 5 accounts sharing card 4111-0001 and device d1: c1, c2, c3, c4, c5" {
		t.Errorf("reason %q", r)
	}
	if g := DetectRings(links, 2); len(g) != 3 {
		t.Errorf("with two members a ring: %d rings, want 3 (the household too)", len(g))
	}
	if g := DetectRings(nil, 3); len(g) != 0 {
		t.Errorf("no links: %v", g)
	}
}

func TestRingReasonLong(t *testing.T) {
	t.Parallel()
	var r Ring
	for i := range 14 {
		r.Members = append(r.Members, fmt.Sprintf("c%02d", i))
	}
	r.Entities = []string{"card:1-1", "device:a", "device:b", "ip:x", "ip:y"}
	want := "ring of 14 accounts sharing card 1-1, device a, device b and 2 more: " +
		"c00, c01, c02, c03, c04, c05, c06, c07, c08, c09, c10, c11 and 2 more"
	if got := r.Reason(); got != want {
		t.Errorf("reason\n got %q\nwant %q", got, want)
	}
}

func TestEntityStateCountsAndWindow(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	s := NewEntityState(time.Hour)
	add := func(ent, tx, cust, card string, at time.Duration) (EntityFeatures, bool) {
		return s.Add(EntityEvent{Entity: ent, TransactionID: tx, CustomerID: cust, Card: card, At: t0.Add(at)})
	}
	add("device:d", "t1", "a", "k1", 0)
	add("device:d", "t2", "a", "k2", time.Minute)
	f, ok := add("device:d", "t3", "b", "k2", 2*time.Minute)
	if !ok || f != (EntityFeatures{Customers: 2, Transactions: 3, Cards: 2}) {
		t.Fatalf("features %+v (%v), want 2 customers, 3 transactions, 2 cards", f, ok)
	}
	// A repeat of t2 (outbox redelivery) changes nothing.
	if f, ok := add("device:d", "t2", "a", "k2", time.Minute); ok || f.Transactions != 3 {
		t.Errorf("repeat accepted: %+v %v", f, ok)
	}
	if !s.Shared("device:d") || len(s.Links()) != 2 {
		t.Errorf("device of two accounts: shared %v, links %v", s.Shared("device:d"), s.Links())
	}
	// An IP of two accounts joins nothing.
	add("ip:1.2.3.4", "t1", "a", "k1", 0)
	add("ip:1.2.3.4", "t3", "b", "k2", 2*time.Minute)
	if s.Shared("ip:1.2.3.4") {
		t.Error("an address links accounts")
	}
	// 90 minutes on, the first two events are out of the window.
	add("card:k9", "t4", "c", "card:k9", 90*time.Minute)
	s.Expire()
	if f := s.Features("device:d"); f != (EntityFeatures{}) {
		t.Errorf("after the window: %+v, want the device gone", f)
	}
	if s.Shared("device:d") || s.Entities() != 1 || s.Events() != 1 {
		t.Errorf("after expiry: shared %v, %d entities, %d events", s.Shared("device:d"), s.Entities(), s.Events())
	}
	// Older than the window behind the watermark: refused.
	if _, ok := add("device:z", "t5", "d", "", 0); ok {
		t.Error("an event older than the window accepted")
	}
}

func TestEntityStateManyTransactions(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	s := NewEntityState(24 * time.Hour)
	for i := range 100 {
		s.Add(EntityEvent{Entity: "ip:nat", TransactionID: fmt.Sprint("t", i), CustomerID: fmt.Sprint("c", i%40), At: t0.Add(time.Duration(i) * time.Second)})
	}
	for i := range 100 { // all repeats, past the scan limit
		if _, ok := s.Add(EntityEvent{Entity: "ip:nat", TransactionID: fmt.Sprint("t", i), CustomerID: "zz", At: t0}); ok {
			t.Fatalf("repeat t%d accepted", i)
		}
	}
	if f := s.Features("ip:nat"); f.Customers != 40 || f.Transactions != 100 {
		t.Errorf("%+v, want 40 customers and 100 transactions", f)
	}
}

func TestEntityKeys(t *testing.T) {
	t.Parallel()
	got := EntityKeys(nil, "d1", CardKey("411111", "1234"), "10.0.0.1", "6f1ed002ab5595f8")
	want := []string{"device:d1", "card:411111-1234", "ip:10.0.0.1", "address:6f1ed002ab5595f8"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%v, want %v", got, want)
	}
	if got := EntityKeys(nil, "", CardKey("", ""), "", ""); len(got) != 0 {
		t.Errorf("no entities: %v", got)
	}
	if EntityKind("card:1-2") != EntityCard || EntityKind("nokind") != "" {
		t.Error("EntityKind")
	}
}

func TestEntityStateMaxEvents(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	s := NewEntityState(24 * time.Hour)
	s.SetMaxEvents(1000)
	// 10 events a minute for 10 hours: 6,000 in the window, bounded to 1,000.
	for i := range 6000 {
		s.Add(EntityEvent{Entity: fmt.Sprint("device:", i%700), TransactionID: fmt.Sprint("t", i), CustomerID: fmt.Sprint("c", i%900),
			At: t0.Add(time.Duration(i) * 6 * time.Second)})
		if i%100 == 99 {
			s.Expire()
			if s.Events() > 1000 {
				t.Fatalf("after %d events: %d held, want at most 1,000", i+1, s.Events())
			}
		}
	}
	if c := s.Covered(); c >= 24*time.Hour || c < time.Hour {
		t.Errorf("covered %s, want shortened to about 1.5 h (1,000 events at 10 a minute)", c)
	}
	// A quiet spell: the window grows back.
	before := s.Covered()
	for i := range 50 {
		at := t0.Add(10*time.Hour + time.Duration(i)*time.Hour)
		s.Add(EntityEvent{Entity: "device:q", TransactionID: fmt.Sprint("q", i), CustomerID: "cq", At: at})
		s.Expire()
	}
	if s.Covered() <= before {
		t.Errorf("covered %s after a quiet spell, want longer than %s", s.Covered(), before)
	}
}

// TestRingByShippingAddress: accounts with their own devices, cards and
// network addresses that ship to one drop address form a ring through the
// state's links, named by the address; a household's two accounts at one
// address do not, nor do accounts that share only a network address.
func TestRingByShippingAddress(t *testing.T) {
	t.Parallel()
	s := NewEntityState(24 * time.Hour)
	at := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	add := func(tx, cust, device, ip, addr string) {
		t.Helper()
		for _, k := range EntityKeys(nil, device, CardKey("411111", tx), ip, addr) {
			if _, ok := s.Add(EntityEvent{Entity: k, TransactionID: tx, CustomerID: cust, Card: CardKey("411111", tx), At: at}); !ok {
				t.Fatalf("%s on %s not added", tx, k)
			}
		}
		at = at.Add(time.Minute)
	}
	add("t1", "r1", "dr1", "10.0.0.1", "drop")
	add("t2", "r2", "dr2", "10.0.0.2", "drop")
	add("t3", "r3", "dr3", "10.0.0.3", "drop")
	add("t4", "h1", "dh1", "10.0.1.1", "home")
	add("t5", "h2", "dh2", "10.0.1.1", "home")
	add("t6", "n1", "dn1", "10.0.9.9", "n1")
	add("t7", "n2", "dn2", "10.0.9.9", "n2")
	add("t8", "n3", "dn3", "10.0.9.9", "n3")
	if f := s.Features("address:drop"); f.Customers != 3 || f.Transactions != 3 || f.Cards != 3 {
		t.Errorf("drop address: %+v, want 3 accounts, transactions and cards", f)
	}
	if !s.Shared("address:home") || s.Shared("ip:10.0.9.9") {
		t.Error("a shipping address of two accounts links them; a network address does not")
	}
	got := DetectRings(s.Links(), 3)
	want := []Ring{{Members: []string{"r1", "r2", "r3"}, Entities: []string{"address:drop"}}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("rings\n got %+v\nwant %+v", got, want)
	}
	if r := got[0].Reason(); r != "ring of 3 accounts sharing shipping address drop: r1, r2, r3" {
		t.Errorf("reason %q", r)
	}
}
