package recommend

import (
	"fmt"
	"math"
	"reflect"
	"testing"
)

func TestCountsFoldsCustomerPairs(t *testing.T) {
	c := NewCounts(0)
	// Alice buys a, b, a again, c; Bob buys b, c; Carol buys a.
	for _, p := range [][2]string{{"alice", "a"}, {"alice", "b"}, {"bob", "b"}, {"alice", "a"}, {"bob", "c"}, {"alice", "c"}, {"carol", "a"}} {
		c.Add(p[0], p[1])
	}
	for _, tc := range []struct {
		a, b string
		want int
	}{{"a", "b", 1}, {"b", "a", 1}, {"b", "c", 2}, {"a", "c", 1}, {"a", "a", 0}, {"a", "zzz", 0}} {
		if got := c.CoCount(tc.a, tc.b); got != tc.want {
			t.Errorf("CoCount(%s, %s) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
	if c.Customers() != 3 || c.Items() != 3 || c.Pairs() != 3 {
		t.Errorf("customers %d items %d pairs %d, want 3, 3, 3", c.Customers(), c.Items(), c.Pairs())
	}
	// The repeat purchase of a moved it to the newest place.
	if got := c.History("alice"); !reflect.DeepEqual(got, []string{"b", "a", "c"}) {
		t.Errorf("alice's history %v, want [b a c]", got)
	}
}

func TestCountsBoundedHistory(t *testing.T) {
	c := NewCounts(2)
	for _, it := range []string{"a", "b", "c", "d"} {
		c.Add("x", it)
	}
	// d was paired with b and c only: a had left the two-item history.
	if c.CoCount("a", "d") != 0 || c.CoCount("b", "d") != 1 || c.CoCount("c", "d") != 1 || c.CoCount("a", "c") != 1 {
		t.Errorf("pairs a-d %d b-d %d c-d %d a-c %d, want 0, 1, 1, 1", c.CoCount("a", "d"), c.CoCount("b", "d"), c.CoCount("c", "d"), c.CoCount("a", "c"))
	}
}

func TestItemItemRanksNeighbours(t *testing.T) {
	c := NewCounts(0)
	// Five customers buy tent+stove; three buy tent+lamp; everyone buys
	// bread (the popular item); one buys only stove.
	for i := range 5 {
		id := "tsc" + string(rune('0'+i))
		c.Add(id, "tent")
		c.Add(id, "stove")
		c.Add(id, "bread")
	}
	for i := range 3 {
		id := "tlc" + string(rune('0'+i))
		c.Add(id, "tent")
		c.Add(id, "lamp")
		c.Add(id, "bread")
	}
	c.Add("solo", "stove")
	c.Add("solo", "bread")
	m := c.ItemItem(ItemConfig{Similarity: Cosine, Shrink: 1, MinSupport: 2, Neighbours: 5})
	sim := m.Similar("tent", 3)
	if len(sim) == 0 || sim[0].Item != "bread" && sim[0].Item != "stove" {
		t.Fatalf("Similar(tent) = %v", sim)
	}
	// A customer who bought a stove is recommended the tent before the lamp,
	// and never the stove again.
	got := m.Rank([]string{"stove"}, 3, false)
	pos := map[string]int{}
	for i, s := range got {
		pos[s.Item] = i + 1
	}
	if pos["stove"] != 0 {
		t.Errorf("Rank recommended what the customer has: %v", got)
	}
	if pos["tent"] == 0 || (pos["lamp"] != 0 && pos["lamp"] < pos["tent"]) {
		t.Errorf("Rank([stove]) = %v, want tent before lamp", got)
	}
	if again := m.Rank([]string{"stove"}, 3, true); len(again) == 0 {
		t.Error("buy-again ranking is empty")
	}
	// A new customer gets the most popular items.
	if got := m.Rank(nil, 1, false); len(got) != 1 || got[0].Item != "bread" {
		t.Errorf("Rank(new customer) = %v, want [bread]", got)
	}
	if got := m.Popularity().Rank([]string{"bread"}, 1, false); len(got) != 1 || got[0].Item != "tent" {
		t.Errorf("Popularity without bread = %v, want [tent]", got)
	}
}

func TestEvaluateHandComputed(t *testing.T) {
	c := NewCounts(0)
	for _, p := range [][2]string{{"u", "a"}, {"v", "a"}, {"v", "b"}, {"w", "c"}} {
		c.Add(p[0], p[1])
	}
	pop := c.ItemItem(ItemConfig{}).Popularity()
	// u has a; popularity without a ranks b then c (ties by first seen).
	cases := []Case{{Customer: "u", History: []string{"a"}, Relevant: []string{"c"}}}
	m := Evaluate("pop", pop, cases, 2, 3, 0, 1)
	// c at rank 2: precision 1/2, recall 1, NDCG (1/log2 3)/1, hit 1.
	if m.Precision != 0.5 || m.Recall != 1 || math.Abs(m.NDCG-1/math.Log2(3)) > 1e-12 || m.HitRate != 1 {
		t.Errorf("metrics %+v", m)
	}
	if math.Abs(m.Coverage-2.0/3) > 1e-12 {
		t.Errorf("coverage %v, want 2/3", m.Coverage)
	}
}

func TestEASEOnSmallData(t *testing.T) {
	c := NewCounts(0)
	for i := range 20 {
		id := string(rune('A' + i))
		c.Add(id, "x")
		c.Add(id, "y")
		if i%2 == 0 {
			c.Add(id, "z")
		}
	}
	e, err := c.EASE(EASEConfig{Lambda: 1})
	if err != nil {
		t.Fatal(err)
	}
	if got := e.Rank([]string{"x", "y"}, 1, false); len(got) != 1 || got[0].Item != "z" {
		t.Errorf("EASE Rank([x y]) = %v, want [z]", got)
	}
	if _, err := NewCounts(0).EASE(EASEConfig{}); err == nil {
		t.Error("EASE on no data succeeded")
	}
}

// The pairs stay under MaxPairs however many distinct pairs are bought,
// and pruning drops the rarest: a pair bought by many customers keeps its
// full count.
func TestCountsMaxPairs(t *testing.T) {
	const maxPairs = 1000
	c := NewBoundedCounts(CountsConfig{MaxPairs: maxPairs})
	for i := range 5000 {
		cust := fmt.Sprintf("c%d", i)
		c.Add(cust, "tent")
		c.Add(cust, "stove")
		// Three items of a catalogue of 2,000: about 15,000 distinct
		// pairs in all, far more than the bound.
		for k := range 3 {
			c.Add(cust, fmt.Sprintf("item%d", (i*7+k*311)%2000))
		}
		if c.Pairs() > maxPairs {
			t.Fatalf("after customer %d: %d pairs, bound %d", i, c.Pairs(), maxPairs)
		}
	}
	if _, pruned := c.Dropped(); pruned == 0 {
		t.Fatal("nothing pruned: the test exercises nothing")
	}
	if got := c.CoCount("tent", "stove"); got != 5000 {
		t.Errorf("tent-stove counted %d times, want all 5000", got)
	}
	unbounded := NewCounts(0)
	for i := range 5000 {
		unbounded.Add(fmt.Sprintf("c%d", i), "x")
		unbounded.Add(fmt.Sprintf("c%d", i), fmt.Sprintf("item%d", i))
	}
	if unbounded.Pairs() != 5000 {
		t.Errorf("unbounded counts hold %d pairs, want 5000", unbounded.Pairs())
	}
}

// The customers kept stay under MaxCustomers; those longest without a
// purchase are forgotten first, and one who comes back starts afresh.
func TestCountsMaxCustomers(t *testing.T) {
	const maxCustomers = 100
	c := NewBoundedCounts(CountsConfig{MaxCustomers: maxCustomers})
	c.Add("regular", "a")
	for i := range 10_000 {
		c.Add(fmt.Sprintf("c%d", i), "a")
		c.Add(fmt.Sprintf("c%d", i), "b")
		if i%50 == 0 {
			c.Add("regular", "b") // a purchase now and then keeps them
		}
		if c.Kept() > maxCustomers {
			t.Fatalf("after customer %d: %d customers kept, bound %d", i, c.Kept(), maxCustomers)
		}
	}
	if got := c.History("regular"); !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Errorf("the regular's history is %v, want [a b]", got)
	}
	if got := c.History("c0"); len(got) != 0 {
		t.Errorf("c0, idle since the start, still has %v", got)
	}
	if got := c.History("c9999"); !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Errorf("the latest customer's history is %v, want [a b]", got)
	}
	if forgotten, _ := c.Dropped(); forgotten < 10_000-maxCustomers {
		t.Errorf("%d customers forgotten, want at least %d", forgotten, 10_000-maxCustomers)
	}
	if c.Customers() != 10_001 || c.CoCount("a", "b") != 10_001 {
		t.Errorf("customers %d, a-b %d; want 10,001 each", c.Customers(), c.CoCount("a", "b"))
	}
	// c0 comes back: a new history, paired with nothing it had.
	c.Add("c0", "c")
	if got := c.History("c0"); !reflect.DeepEqual(got, []string{"c"}) || c.CoCount("a", "c") != 0 {
		t.Errorf("c0 back: history %v, a-c %d; want [c], 0", got, c.CoCount("a", "c"))
	}
}
