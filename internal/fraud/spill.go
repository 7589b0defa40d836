package fraud

import "encoding/binary"

// A device, card or IP address keeps up to entRing of its latest events.
// Most are seen once within the 24 hours their features look back (a
// million-customer shop's stream brings a new device, card and address
// with nearly every order), so a fixed ring of entRing in every record
// held entRing-1 empty slots for most of them: 68 to 100 bytes a record,
// about two thirds of the fraud state once a day's entities were in it.
// An entity record therefore holds its first event inline, and the ring
// moves to a shared pool (spills) with the second: 16 to 20 bytes for an
// entity seen once, and the same ring as before for the rest. The events
// and their slots are exactly those of a fixed ring (the inline event is
// slot 0, the first a fixed ring fills), so features, the checkpoint's
// bytes and what a bound forgets are unchanged.

// entRing is the ring size of a device, card and IP address.
const entRing = 8

// entity is a device's, card's or IP address's record: when it was last
// seen, and its events: ev alone while over is 0, else the pool's ring
// over-1.
type entity[E comparable] struct {
	last uint32
	over uint32
	ev   [1]E
}

// ringPool holds the spilled rings of one kind of entity.
type ringPool[E comparable] struct {
	rings slab[[entRing]E]
	free  []uint32
}

// view returns r's events: its inline slot or its ring.
func (p *ringPool[E]) view(r *entity[E]) []E {
	if r.over == 0 {
		return r.ev[:]
	}
	return p.rings.at(int(r.over - 1))[:]
}

// room returns the events an event of r goes into: the inline slot while
// it is empty, else r's ring, spilling the inline event into a ring of
// the pool first (as slot 0, where a fixed ring holds its first event).
func (p *ringPool[E]) room(r *entity[E]) []E {
	var zero E
	if r.over == 0 && r.ev[0] != zero {
		i, ring := p.take()
		ring[0], r.ev[0] = r.ev[0], zero
		r.over = i + 1
	}
	return p.view(r)
}

// take returns an empty ring of the pool, reused or added, and its index.
func (p *ringPool[E]) take() (uint32, *[entRing]E) {
	var i uint32
	if n := len(p.free); n > 0 {
		i = p.free[n-1]
		p.free = p.free[:n-1]
	} else {
		i = uint32(p.rings.add())
	}
	return i, p.rings.at(int(i))
}

// release returns r's ring, if it has one, to the pool; the table calls
// it when it forgets r.
func (p *ringPool[E]) release(r *entity[E]) {
	if r.over == 0 {
		return
	}
	*p.rings.at(int(r.over - 1)) = [entRing]E{}
	p.free = append(p.free, r.over-1)
	r.over = 0
}

// load sets r's events to those of a fixed ring, as a checkpoint lists
// them: inline when it is one event in slot 0 (as every ring holding one
// event has it), else in a ring of the pool.
func (p *ringPool[E]) load(r *entity[E], ring *[entRing]E) {
	var zero E
	n := 0
	for _, e := range ring {
		if e != zero {
			n++
		}
	}
	if n == 0 || n == 1 && ring[0] != zero {
		r.ev[0] = ring[0]
		return
	}
	i, into := p.take()
	*into = *ring
	r.over = i + 1
}

// compact moves the rings of t's records into a new pool of their number
// when at most half the pool is in use, so memory follows the busy
// entities down after a busy day as the tables' own compaction does.
func (p *ringPool[E]) compact(t *table[entity[E]]) {
	if p.rings.len() < 1024 || len(p.free) < p.rings.len()/2 {
		return
	}
	n := p.rings.len() - len(p.free)
	rings := makeSlab[[entRing]E](n, n/4)
	k := 0
	for i := range t.vals.len() {
		r := t.vals.at(i)
		if !t.live[i] || r.over == 0 {
			continue
		}
		*rings.at(k) = *p.rings.at(int(r.over - 1))
		k++
		r.over = uint32(k)
	}
	p.rings, p.free = rings, nil
}

// appendEntity writes r as a checkpoint lists an entity: its last seen,
// then the fixed ring of entRing slots, an empty one as a 0 byte, an
// event as its time (appendSec) and the fields c writes.
func (p *ringPool[E]) appendEntity(b []byte, r *entity[E], c *eventCodec[E]) []byte {
	b = binary.AppendUvarint(b, uint64(r.last))
	var zero E
	events := p.view(r)
	for i := range entRing {
		if i >= len(events) || events[i] == zero {
			b = append(b, 0)
			continue
		}
		b = appendSec(b, r.last, *c.sec(&events[i]))
		b = c.put(b, &events[i])
	}
	return b
}

// readEntity reads into r what appendEntity wrote.
func (p *ringPool[E]) readEntity(rd *reader, r *entity[E], c *eventCodec[E]) {
	r.last = rd.u32()
	var ring [entRing]E
	for i := range ring {
		if rd.sec(r.last, c.sec(&ring[i])) {
			c.read(rd, &ring[i])
		}
	}
	p.load(r, &ring)
}
