package jobs

import (
	"fmt"
	"hash/maphash"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestIDTableMatchesMap adds, looks up, drops and compacts IDs in an
// idTable whose hash has only three values, so nearly every ID collides
// with another, and checks each step against a map.
func TestIDTableMatchesMap(t *testing.T) {
	for _, name := range []string{"colliding", "maphash"} {
		t.Run(name, func(t *testing.T) {
			tab := newIDTable()
			if name == "colliding" {
				tab.hash = func(_ maphash.Seed, s string) uint64 { return uint64(len(s) % 3) }
			}
			model := map[string]int32{}
			rng := rand.New(rand.NewPCG(1, 2))
			check := func(step string) {
				t.Helper()
				if tab.len() != len(model) {
					t.Fatalf("%s: table holds %d IDs, want %d", step, tab.len(), len(model))
				}
				for id, slot := range model {
					got, ok := tab.get(id)
					if !ok || got != slot || tab.name(got) != id || !tab.live(got) {
						t.Fatalf("%s: get(%q) = %d, %v (name %q); want slot %d", step, id, got, ok, tab.name(got), slot)
					}
				}
			}
			for round := range 20 {
				for range 50 {
					id := fmt.Sprintf("c%d", rng.IntN(400))
					if _, ok := model[id]; !ok {
						model[id] = tab.add(id)
					}
				}
				for id, slot := range model {
					if rng.IntN(4) == 0 {
						tab.drop(slot)
						delete(model, id)
						if _, ok := tab.get(id); ok {
							t.Fatalf("round %d: %q found after it was dropped", round, id)
						}
					}
				}
				check(fmt.Sprintf("round %d", round))
				if round%5 == 4 {
					slot := tab.compact()
					for id, old := range model {
						model[id] = slot[old]
					}
					if tab.slots() != tab.len() {
						t.Fatalf("round %d: %d slots after compacting %d IDs", round, tab.slots(), tab.len())
					}
					check(fmt.Sprintf("round %d, compacted", round))
				}
			}
			if name == "colliding" && len(tab.clash) == 0 {
				t.Fatal("no ID went to clash although the hash has three values")
			}
		})
	}
}

// TestPoolRunsMatchSlices inserts into many runs of one pool at random
// places, frees some and compacts, checking every run against a slice.
func TestPoolRunsMatchSlices(t *testing.T) {
	var p pool[int]
	runs := make([]run, 300)
	model := make([][]int, len(runs))
	rng := rand.New(rand.NewPCG(3, 4))
	compacted := 0
	check := func(step string) {
		t.Helper()
		live := 0
		for i := range runs {
			if got := p.of(runs[i]); !slices.Equal(got, model[i]) {
				t.Fatalf("%s: run %d = %v, want %v", step, i, got, model[i])
			}
			live += int(runs[i].cap)
		}
		if live+p.dead != len(p.items) {
			t.Fatalf("%s: %d items of room in runs and %d dead, in a pool of %d", step, live, p.dead, len(p.items))
		}
	}
	for round := range 30 {
		for range 2000 {
			i := rng.IntN(len(runs))
			k := rng.IntN(len(model[i]) + 1)
			v := rng.IntN(1000)
			p.insert(&runs[i], k, v)
			model[i] = slices.Insert(model[i], k, v)
		}
		for i := range runs {
			if rng.IntN(10) == 0 {
				p.free(&runs[i])
				model[i] = nil
			}
		}
		check(fmt.Sprintf("round %d", round))
		before, dead := len(p.items), p.dead
		p.compact(len(runs), func(i int) *run { return &runs[i] })
		items := 0
		for _, m := range model {
			items += len(m)
		}
		// Compacted, the pool holds the runs' items and no spare room.
		if due := dead >= 1024 && 4*dead >= before; due && (p.dead != 0 || len(p.items) != items) || !due && len(p.items) != before {
			t.Fatalf("round %d: a pool of %d items, %d dead, compacted to %d, %d dead", round, before, dead, len(p.items), p.dead)
		}
		compacted += len(p.items) - before
		check(fmt.Sprintf("round %d, compacted", round))
	}
	if compacted == 0 {
		t.Fatal("the pool was never compacted")
	}
}

// TestIDListKeepsIDs: IDs of any bytes, the empty one included, come back
// as they were added, in order.
func TestIDListKeepsIDs(t *testing.T) {
	want := []string{"", "a", "B", "c\x00d", "\xff\xfe", "é", ""}
	var l idList
	for _, id := range want {
		l.add(id)
	}
	if l.len() != len(want) {
		t.Fatalf("len = %d, want %d", l.len(), len(want))
	}
	for i, id := range want {
		if string(l.at(i)) != id {
			t.Errorf("at(%d) = %q, want %q", i, l.at(i), id)
		}
	}
	if got := l.strings(); !slices.Equal(got, want) {
		t.Errorf("strings() = %q, want %q", got, want)
	}
	var empty idList
	if empty.strings() != nil {
		t.Error("an empty list's strings are not nil")
	}
}
