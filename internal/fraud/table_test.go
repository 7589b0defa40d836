package fraud

import (
	"math/rand/v2"
	"testing"
)

type testRec struct{ last uint32 }

// A bounded table, fed keys seen again and again with last-seen times that
// mostly rise but sometimes come late, forgets exactly the keys a plain
// model forgets (least recently seen first, then the least key), keeps its
// heap in order with each entry's last seen that of its record, and
// evictOldest takes exactly the stale ones.
func TestTableBoundMatchesModel(t *testing.T) {
	t.Parallel()
	const bound, keys = 50, 300
	rng := rand.New(rand.NewPCG(7, 11))
	var tb table[testRec]
	tb.bound(bound, func(r *testRec) uint32 { return r.last })
	model := map[uint64]uint32{}
	forgetOldest := func(stale func(uint32) bool, all bool) {
		for len(model) > 0 {
			var mk uint64
			var ml uint32
			first := true
			for k, l := range model {
				if first || l < ml || (l == ml && k < mk) {
					mk, ml, first = k, l, false
				}
			}
			if all && !stale(ml) || !all && len(model) <= bound {
				return
			}
			delete(model, mk)
		}
	}
	now := uint32(1000)
	forgotten := 0
	for step := range 20_000 {
		k := uint64(rng.IntN(keys)) + 1
		at := now
		if rng.IntN(5) == 0 {
			at -= uint32(rng.IntN(200)) // late
		}
		now += uint32(rng.IntN(3))
		r := tb.put(k)
		r.last = max(r.last, at)
		model[k] = max(model[k], at)
		forgotten += tb.touched()
		forgetOldest(nil, false)
		if step%997 == 0 {
			before := now - 150
			n := tb.evictOldest(func(r *testRec) bool { return r.last < before })
			m := len(model)
			forgetOldest(func(l uint32) bool { return l < before }, true)
			if n != m-len(model) {
				t.Fatalf("step %d: evictOldest forgot %d, the model %d", step, n, m-len(model))
			}
		}
		if tb.len() != len(model) {
			t.Fatalf("step %d: the table holds %d keys, the model %d", step, tb.len(), len(model))
		}
		for mk, ml := range model {
			r := tb.get(mk)
			if r == nil || r.last != ml {
				t.Fatalf("step %d: key %d: table %v, model last %d", step, mk, r, ml)
			}
		}
		for h, e := range tb.heap {
			if e.last != tb.vals.at(int(e.slot)).last || tb.pos[e.slot] != uint32(h) {
				t.Fatalf("step %d: heap entry %d (%+v) out of step with its slot (last %d, pos %d)", step, h, e, tb.vals.at(int(e.slot)).last, tb.pos[e.slot])
			}
			if h > 0 && tb.less(e, tb.heap[(h-1)/2]) {
				t.Fatalf("step %d: heap entry %d less than its parent", step, h)
			}
		}
	}
	if forgotten == 0 || tb.capped != forgotten {
		t.Fatalf("the bound forgot %d keys (capped %d): the test exercises nothing", forgotten, tb.capped)
	}
}
