package jobs

import (
	"bytes"
	"hash/maphash"
)

// The fold's memory holds no pointers per customer, so that the garbage
// collector marks a few large objects in each cycle rather than millions
// of small ones. At a million customers the fold kept an ID string, a map
// entry by that string and two small slices per customer: about three
// million objects that a processor near its memory limit marked several
// times a second (a CPU profile of `process` in a paced minute after a
// million-record backlog had a third of its samples in the collector's
// marking). The customer IDs are now bytes back to back in one slice,
// found through a map from their hash; purchase days and category
// spend are runs of two shared slices.

// idTable holds the fold's customer IDs by slot, and finds an ID's slot.
// An ID is looked up by its 64-bit hash (seeded per process) in bySum; an
// ID whose hash another ID already holds there goes to clash instead,
// which is keyed by the ID itself and stays empty but for such a
// collision (among a million IDs, about one chance in 36 million).
type idTable struct {
	seed  maphash.Seed
	hash  func(maphash.Seed, string) uint64 // maphash.String; tests force collisions
	data  []byte                            // every slot's ID, back to back
	at    []idSpan                          // by slot
	bySum map[uint64]int32
	clash map[string]int32
	held  int
}

// idSpan is a slot's ID in idTable.data; off is -1 once the slot is
// dropped.
type idSpan struct {
	off int
	n   int32
}

func newIDTable() idTable {
	return idTable{seed: maphash.MakeSeed(), hash: maphash.String, bySum: map[uint64]int32{}, clash: map[string]int32{}}
}

// len is the IDs held; slots the slots, dropped ones included.
func (t *idTable) len() int   { return t.held }
func (t *idTable) slots() int { return len(t.at) }

// live reports whether slot i holds an ID.
func (t *idTable) live(i int32) bool { return t.at[i].off >= 0 }

// bytesOf is slot i's ID, to compare without a copy: not to be kept.
func (t *idTable) bytesOf(i int32) []byte {
	s := t.at[i]
	if s.off < 0 {
		return nil
	}
	return t.data[s.off : s.off+int(s.n)]
}

// name is slot i's ID ("" once dropped).
func (t *idTable) name(i int32) string { return string(t.bytesOf(i)) }

// compare orders slots i and j by their IDs' bytes.
func (t *idTable) compare(i, j int32) int { return bytes.Compare(t.bytesOf(i), t.bytesOf(j)) }

// get returns id's slot.
func (t *idTable) get(id string) (int32, bool) {
	if i, ok := t.bySum[t.hash(t.seed, id)]; ok && string(t.bytesOf(i)) == id {
		return i, true
	}
	if len(t.clash) > 0 {
		i, ok := t.clash[id]
		return i, ok
	}
	return 0, false
}

// add gives id, which the table must not hold, the next slot.
func (t *idTable) add(id string) int32 {
	i := int32(len(t.at))
	t.at = append(t.at, idSpan{off: len(t.data), n: int32(len(id))})
	t.data = append(t.data, id...)
	t.index(id, i)
	t.held++
	return i
}

// owns reports whether bySum files slot i under hash h.
func (t *idTable) owns(h uint64, i int32) bool {
	s, ok := t.bySum[h]
	return ok && s == i
}

// index files slot i under id's hash, or under id in clash when another
// ID holds that hash.
func (t *idTable) index(id string, i int32) {
	h := t.hash(t.seed, id)
	if _, taken := t.bySum[h]; taken {
		t.clash[id] = i
	} else {
		t.bySum[h] = i
	}
}

// drop forgets slot i's ID; its bytes stay until compact.
func (t *idTable) drop(i int32) {
	id := t.bytesOf(i)
	if h := t.hash(t.seed, string(id)); t.owns(h, i) {
		delete(t.bySum, h)
	} else {
		delete(t.clash, string(id))
	}
	t.at[i].off = -1
	t.held--
}

// compact renumbers the slots that hold an ID, in slot order, and copies
// their IDs into new storage; it returns each old slot's new one (-1 when
// dropped).
func (t *idTable) compact() []int32 {
	slot := make([]int32, len(t.at))
	data := make([]byte, 0, len(t.data))
	at := make([]idSpan, 0, t.held)
	t.bySum, t.clash = make(map[uint64]int32, t.held), map[string]int32{}
	for i, s := range t.at {
		if s.off < 0 {
			slot[i] = -1
			continue
		}
		id := t.data[s.off : s.off+int(s.n)]
		n := int32(len(at))
		slot[i] = n
		at = append(at, idSpan{off: len(data), n: s.n})
		data = append(data, id...)
		t.index(string(id), n)
	}
	t.data, t.at = data, at
	return slot
}

// idList is customer IDs in the order added, back to back in one byte
// slice: what a refresh keeps of its customers for the next run (the rows
// it wrote, the segments it recorded) without a string per customer.
type idList struct {
	data []byte
	end  []int // where each ID ends in data
}

func (l *idList) add(id string) {
	l.data = append(l.data, id...)
	l.end = append(l.end, len(l.data))
}

func (l *idList) len() int { return len(l.end) }

// at is the i-th ID, to compare without a copy: not to be kept.
func (l *idList) at(i int) []byte {
	start := 0
	if i > 0 {
		start = l.end[i-1]
	}
	return l.data[start:l.end[i]]
}

// strings returns the IDs as strings (nil when there are none).
func (l *idList) strings() []string {
	if l.len() == 0 {
		return nil
	}
	out := make([]string, l.len())
	for i := range out {
		out[i] = string(l.at(i))
	}
	return out
}

// run is one customer's items in a pool: items[off:off+n], room for cap.
type run struct{ off, n, cap uint32 }

// pool holds many customers' runs of items in one slice. A run that
// outgrows its room moves to the end with twice the room; the room left
// behind is dead until compact.
type pool[T any] struct {
	items []T
	dead  int
}

// of is the run's items.
func (p *pool[T]) of(r run) []T { return p.items[r.off : r.off+r.n : r.off+r.cap] }

// insert puts v at index k of the run, moving the items from k on.
func (p *pool[T]) insert(r *run, k int, v T) {
	if r.n == r.cap {
		room := max(1, 2*r.cap)
		off := len(p.items)
		p.items = append(p.items, p.items[r.off:r.off+r.n]...)
		var zero T
		for range room - r.n {
			p.items = append(p.items, zero)
		}
		p.dead += int(r.cap)
		r.off, r.cap = uint32(off), room
	}
	s := p.items[r.off : r.off+r.n+1]
	copy(s[k+1:], s[k:r.n])
	s[k] = v
	r.n++
}

// free gives the run's room up.
func (p *pool[T]) free(r *run) {
	p.dead += int(r.cap)
	*r = run{}
}

// compact copies the live runs (runs(i) for i below n) into new storage
// with no room to spare, once at least a quarter of the pool is dead (at a
// million customers, tens of megabytes copied in tens of milliseconds).
func (p *pool[T]) compact(n int, runs func(i int) *run) {
	if p.dead < 1024 || 4*p.dead < len(p.items) {
		return
	}
	items := make([]T, 0, len(p.items)-p.dead)
	for i := range n {
		r := runs(i)
		off := len(items)
		items = append(items, p.items[r.off:r.off+r.n]...)
		r.off, r.cap = uint32(off), r.n
	}
	p.items, p.dead = items, 0
}
