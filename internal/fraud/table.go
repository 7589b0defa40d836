package fraud

import (
	"math"
	"time"
)

// table is a slab of per-key records: an index from a key's 64-bit hash to
// a slot, and the records themselves in one slice without pointers, so a
// million of them cost the garbage collector nothing to scan and an update
// is one map lookup followed by writes in place. Freed slots are reused.
// A *T returned by get or put is valid until the next put.
//
// Each slot also knows its key and whether it is in use, so that eviction
// walks the slab in slot order, a bounded number of slots at a time
// (evictSome), instead of iterating the map.
//
// A bounded table (bound) keeps at most max records: its slots in use are
// also in a min-heap by (last seen, key), and touched, called after each
// change of a record's last seen, forgets the records least recently seen
// while there are more than max. Each heap entry carries its record's last
// seen beside the slot, so sifting reads the heap alone, not a record of a
// few hundred bytes at a random place in the slab for every comparison.
// The order is the records' own, never the slots', so which record goes
// depends on the records folded in alone, not on when idle ones were
// expired (see State.Update).
type table[T any] struct {
	idx  map[uint64]uint32
	vals slab[T]
	keys []uint64 // the key of each slot in use
	live []bool   // whether each slot is in use
	free []uint32
	next int // the slot evictSome looks at next

	max    int             // most records kept; 0: no bound (and no heap)
	lastOf func(*T) uint32 // a record's last seen, the heap's order
	heap   []heapEntry     // slots in use, least recently seen first
	pos    []uint32        // each slot's index in heap
	cur    uint32          // the slot put returned last
	capped int             // records forgotten for max

	// release, if set, is called with a record the table forgets, before
	// its slot is cleared (an entity's spilled ring goes back to its
	// pool).
	release func(*T)
}

func (t *table[T]) get(k uint64) *T {
	i, ok := t.idx[k]
	if !ok {
		return nil
	}
	return t.vals.at(int(i))
}

// put returns k's record, adding a zero one if k has none.
func (t *table[T]) put(k uint64) *T {
	if i, ok := t.idx[k]; ok {
		t.cur = i
		return t.vals.at(int(i))
	}
	if t.idx == nil {
		t.idx = make(map[uint64]uint32)
	}
	var i uint32
	if n := len(t.free); n > 0 {
		i = t.free[n-1]
		t.free = t.free[:n-1]
		t.keys[i], t.live[i] = k, true
	} else {
		i = uint32(t.vals.add())
		t.keys = append(t.keys, k)
		t.live = append(t.live, true)
		if t.max > 0 {
			t.pos = append(t.pos, 0)
		}
	}
	t.idx[k] = i
	t.cur = i
	if t.max > 0 {
		t.pos[i] = uint32(len(t.heap))
		t.heap = append(t.heap, heapEntry{slot: i})
		// Placed by touched, once the record's last seen is set.
	}
	return t.vals.at(int(i))
}

// bound sets the table's bound (0: none) and the order of its records,
// and forgets the least recently seen beyond it. It returns how many it
// forgot.
func (t *table[T]) bound(max int, lastOf func(*T) uint32) int {
	t.max, t.lastOf = max, lastOf
	t.heap, t.pos = nil, nil
	if max <= 0 {
		return 0
	}
	t.buildHeap()
	return t.trim()
}

// touched restores the heap after the record of the slot put returned
// last has changed its last seen, and forgets the least recently seen
// records beyond the bound (which may be that one). It returns how many it
// forgot.
func (t *table[T]) touched() int {
	if t.max <= 0 {
		return 0
	}
	h := int(t.pos[t.cur])
	if last := t.lastOf(t.vals.at(int(t.cur))); last != t.heap[h].last || h == len(t.heap)-1 {
		// Unchanged, a record already in place stays there; one just
		// added (last in the heap) is placed whatever its last seen.
		t.heap[h].last = last
		t.fix(h)
	}
	return t.trim()
}

func (t *table[T]) trim() int {
	n := 0
	for len(t.idx) > t.max {
		t.remove(int(t.heap[0].slot))
		n++
	}
	t.capped += n
	return n
}

func (t *table[T]) buildHeap() {
	t.pos = make([]uint32, t.vals.len())
	t.heap = make([]heapEntry, 0, len(t.idx))
	for i, ok := range t.live {
		if ok {
			t.pos[i] = uint32(len(t.heap))
			t.heap = append(t.heap, heapEntry{last: t.lastOf(t.vals.at(i)), slot: uint32(i)})
		}
	}
	for h := len(t.heap)/2 - 1; h >= 0; h-- {
		t.down(h)
	}
}

// heapEntry is a slot in a bounded table's heap and its record's last
// seen as of the last touched.
type heapEntry struct {
	last, slot uint32
}

// less orders heap entries by their records' last seen, then key.
func (t *table[T]) less(a, b heapEntry) bool {
	if a.last != b.last {
		return a.last < b.last
	}
	return t.keys[a.slot] < t.keys[b.slot]
}

func (t *table[T]) swap(h, g int) {
	t.heap[h], t.heap[g] = t.heap[g], t.heap[h]
	t.pos[t.heap[h].slot], t.pos[t.heap[g].slot] = uint32(h), uint32(g)
}

func (t *table[T]) fix(h int) {
	if !t.up(h) {
		t.down(h)
	}
}

func (t *table[T]) up(h int) bool {
	moved := false
	for h > 0 {
		p := (h - 1) / 2
		if !t.less(t.heap[h], t.heap[p]) {
			break
		}
		t.swap(h, p)
		h, moved = p, true
	}
	return moved
}

func (t *table[T]) down(h int) {
	n := len(t.heap)
	for {
		c := 2*h + 1
		if c >= n {
			return
		}
		if r := c + 1; r < n && t.less(t.heap[r], t.heap[c]) {
			c = r
		}
		if !t.less(t.heap[c], t.heap[h]) {
			return
		}
		t.swap(h, c)
		h = c
	}
}

func (t *table[T]) len() int { return len(t.idx) }

// evict removes every record for which stale reports true and returns how
// many it removed.
func (t *table[T]) evict(stale func(*T) bool) int {
	n := 0
	for i := range t.vals.len() {
		n += t.drop(i, stale)
	}
	t.maybeCompact()
	return n
}

// evictOldest removes the records of a bounded table least recently seen
// first while stale reports true of them, which holds for all the stale
// ones when stale is "last seen before": it costs a look at the heap's top
// when nothing is stale, and O(log n) for each record removed, where a
// sweep of the slab reads every record. It returns how many it removed.
func (t *table[T]) evictOldest(stale func(*T) bool) int {
	n := 0
	for len(t.heap) > 0 && stale(t.vals.at(int(t.heap[0].slot))) {
		t.remove(int(t.heap[0].slot))
		n++
	}
	if n > 0 {
		t.maybeCompact()
	}
	return n
}

// evictSome looks at the next slots (at most slots of them, and at most
// the whole slab once), going round the slab call after call, removes the
// records among them for which stale reports true, and returns how many it
// removed. Called with slots in proportion to the records added meanwhile,
// it bounds the slab as evict does, at a cost per call that does not grow
// with the table.
func (t *table[T]) evictSome(stale func(*T) bool, slots int) int {
	n := 0
	for range min(slots, t.vals.len()) {
		if t.next >= t.vals.len() {
			t.next = 0
			if t.maybeCompact() {
				return n
			}
		}
		n += t.drop(t.next, stale)
		t.next++
	}
	return n
}

// drop frees slot i if it is in use and stale, and reports 1 if it did.
func (t *table[T]) drop(i int, stale func(*T) bool) int {
	if !t.live[i] || !stale(t.vals.at(i)) {
		return 0
	}
	t.remove(i)
	return 1
}

// remove frees slot i, which is in use.
func (t *table[T]) remove(i int) {
	if t.max > 0 {
		h, last := int(t.pos[i]), len(t.heap)-1
		if h != last {
			t.swap(h, last)
		}
		t.heap = t.heap[:last]
		if h != last {
			t.fix(h)
		}
	}
	if t.release != nil {
		t.release(t.vals.at(i))
	}
	var zero T
	delete(t.idx, t.keys[i])
	*t.vals.at(i), t.live[i] = zero, false
	t.free = append(t.free, uint32(i))
}

// maybeCompact compacts a slab at most half in use, and reports whether
// it did.
func (t *table[T]) maybeCompact() bool {
	if t.vals.len() >= 1024 && len(t.idx) <= t.vals.len()/2 {
		t.compact()
		return true
	}
	return false
}

// compact moves the live records into a new slab of their size and a new
// index (Go maps never shrink), so memory follows the live keys down after
// a busy day instead of staying at its high-water mark. Records keep their
// slot order.
func (t *table[T]) compact() {
	n := len(t.idx)
	idx := make(map[uint64]uint32, n)
	vals := makeSlab[T](n, n/4)
	keys := make([]uint64, 0, n+n/4)
	live := make([]bool, 0, n+n/4)
	for i := range t.vals.len() {
		if t.live[i] {
			idx[t.keys[i]] = uint32(len(keys))
			*vals.at(len(keys)) = *t.vals.at(i)
			keys, live = append(keys, t.keys[i]), append(live, true)
		}
	}
	t.idx, t.vals, t.keys, t.live, t.free, t.next = idx, vals, keys, live, nil, 0
	if t.max > 0 {
		t.buildHeap()
	}
}

// hashString is 64-bit FNV-1a followed by MurmurHash3's finaliser. It is
// fixed (unlike hash/maphash) so that fingerprints, and therefore features,
// are the same in every process that replays the same transactions. The
// finaliser matters: FNV-1a alone leaves the top bits, which fingerprints
// keep, nearly unchanged by the last byte, and IDs differ at the end.
func hashString(s string) uint64 {
	return mix(fnv(14695981039346656037, s))
}

func fnv(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

func mix(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// hashCard keys a card by BIN and last four digits, the most of a card an
// event carries; 0 means no card.
func hashCard(bin, last4 string) uint64 {
	if bin == "" && last4 == "" {
		return 0
	}
	h := mix(fnv(fnv(fnv(14695981039346656037, bin), "|"), last4))
	if h == 0 {
		h = 1
	}
	return h
}

// fp16 and fp32 are short fingerprints of a key for the rings and lists
// that only need to tell a handful of keys apart. fp16 is never 0, so 0
// can mean "none".
func fp16(h uint64) uint16 {
	f := uint16(h >> 48)
	if f == 0 {
		f = 1
	}
	return f
}

func fp32(h uint64) uint32 {
	f := uint32(h >> 32)
	if f == 0 {
		f = 1
	}
	return f
}

// epochSec is an event time in whole Unix seconds as stored in state:
// uint32, so valid until 2106; 0 means "empty", so times at or before the
// epoch become 1.
func epochSec(t time.Time) uint32 {
	s := t.Unix()
	switch {
	case s < 1:
		return 1
	case s > math.MaxUint32:
		return math.MaxUint32
	}
	return uint32(s)
}

// country packs a two-letter country code; 0 is unknown.
func country(cc string) uint16 {
	if len(cc) != 2 {
		return 0
	}
	return uint16(cc[0])<<8 | uint16(cc[1])
}
