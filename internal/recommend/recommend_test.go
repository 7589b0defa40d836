package recommend

import (
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
