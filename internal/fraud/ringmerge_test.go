package fraud

import (
	"fmt"
	hfnv "hash/fnv"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestMergeRings(t *testing.T) {
	t.Parallel()
	rings := []Ring{
		// Found on partition 0 by a device, on partition 1 by a card:
		// the same accounts twice.
		{Members: []string{"a", "b", "c"}, Entities: []string{"device:d1"}},
		{Members: []string{"x", "y"}, Entities: []string{"card:4111-0001"}},
		{Members: []string{"a", "b", "c"}, Entities: []string{"card:5500-0002"}},
		// Joined to the first only through c, by an address owned by
		// another partition.
		{Members: []string{"c", "d"}, Entities: []string{"address:3f9c"}},
		// Joined to x through y, and to nothing else.
		{Members: []string{"y", "z"}, Entities: []string{"device:d2"}},
		{Members: []string{"p", "q", "r"}, Entities: []string{"device:d3"}},
	}
	merged, from := MergeRings(rings)
	want := []Ring{
		{Members: []string{"a", "b", "c", "d"}, Entities: []string{"address:3f9c", "card:5500-0002", "device:d1"}},
		{Members: []string{"x", "y", "z"}, Entities: []string{"card:4111-0001", "device:d2"}},
		{Members: []string{"p", "q", "r"}, Entities: []string{"device:d3"}},
	}
	if !reflect.DeepEqual(merged, want) {
		t.Fatalf("merged\n got %+v\nwant %+v", merged, want)
	}
	if want := [][]int{{0, 2, 3}, {1, 4}, {5}}; !reflect.DeepEqual(from, want) {
		t.Fatalf("from %v, want %v", from, want)
	}
	if r := merged[0].Reason(); r != "ring of 4 accounts sharing shipping address 3f9c, card 5500-0002 and device d1: a, b, c, d" {
		t.Errorf("reason %q", r)
	}
	// A chain whose later rings join earlier components together.
	chain := []Ring{{Members: []string{"a"}}, {Members: []string{"b"}}, {Members: []string{"c"}}, {Members: []string{"c", "b", "a"}}}
	if m, f := MergeRings(chain); len(m) != 1 || !reflect.DeepEqual(f, [][]int{{0, 1, 2, 3}}) || strings.Join(m[0].Members, "") != "abc" {
		t.Errorf("chain: %+v from %v", m, f)
	}
	if m, f := MergeRings(nil); len(m) != 0 || len(f) != 0 {
		t.Errorf("no rings: %v %v", m, f)
	}
}

// TestMergeRingsOfPartitions: the rings found per partition of the
// repartition topic (each entity's links on the partition that owns it),
// merged, are the rings found over all links at once.
func TestMergeRingsOfPartitions(t *testing.T) {
	t.Parallel()
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 7))
		var links []Link
		for range 300 {
			links = append(links, Link{Customer: fmt.Sprintf("c%d", rng.IntN(200)), Entity: fmt.Sprintf("e%d", rng.IntN(150))})
		}
		const parts = 4
		byPart := make([][]Link, parts)
		for _, l := range links {
			h := hfnv.New32a()
			h.Write([]byte(l.Entity))
			p := h.Sum32() % parts
			byPart[p] = append(byPart[p], l)
		}
		var found []Ring
		for _, ls := range byPart {
			found = append(found, DetectRings(ls, 2)...)
		}
		merged, _ := MergeRings(found)
		want := DetectRings(links, 2)
		slices.SortFunc(merged, func(a, b Ring) int { return strings.Compare(a.Key(), b.Key()) })
		if !reflect.DeepEqual(merged, want) {
			t.Fatalf("seed %d: %d rings merged from %d found per partition, want the %d found over all links", seed, len(merged), len(found), len(want))
		}
		if len(found) == len(want) {
			t.Fatalf("seed %d: the partitions split no ring: the test tests nothing", seed)
		}
	}
}
