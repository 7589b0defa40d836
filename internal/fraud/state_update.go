package fraud

import (
	"math"

	"github.com/shopstream/shopstream/internal/event"
)

// Update folds t into the state. f must be the Features the State computed
// for t, or nil (as when replaying stored transactions after a rebalance);
// it only saves hashing t's keys again. What Update does depends on t
// alone, never on the clock or on scores, so replaying the same
// transactions rebuilds the same state.
func (s *State) Update(t *event.Transaction, f *Features) {
	var k keys
	if f != nil {
		k = f.keys
	} else {
		k = s.keysOf(t)
	}
	now := epochSec(t.EventTime)
	cents := clampCents(t.TotalCents)
	amount := float64(cents) / 100
	logAmt := math.Log(math.Max(amount, 0.01))
	curCust := fp16(k.cust)
	var curCard, curDev uint16
	if k.card != 0 {
		curCard = fp16(k.card)
	}
	if k.dev != 0 {
		curDev = fp16(k.dev)
	}

	// The partition's statistics.
	s.gN = math.Min(s.gN+1, globalHorizon)
	a := 1 / s.gN
	d := logAmt - s.gMeanLog
	s.gMeanLog += a * d
	s.gVarLog = (1 - a) * (s.gVarLog + a*d*d)
	s.gMeanAmt += a * (amount - s.gMeanAmt)

	c := s.custs.put(k.cust)
	if c.n > 0 && s.idleCustomer(c.last, now) {
		*c = customer{} // forgotten, though not yet expired: start afresh
	}
	if c.first == 0 || now < c.first {
		c.first = now
	}
	c.last = max(c.last, now)
	if c.n < math.MaxUint32 {
		c.n++
	}
	a = 1 / math.Min(float64(c.n), histHorizon)
	d = logAmt - float64(c.meanLog)
	c.meanLog += float32(a * d)
	c.varLog = float32((1 - a) * (float64(c.varLog) + a*d*d))
	c.meanAmt += float32(a * (amount - float64(c.meanAmt)))
	if k.dev != 0 {
		remember(c.devices[:], fp32(k.dev), now)
	}
	if k.card != 0 {
		remember(c.cards[:], fp32(k.card), now)
	}
	if cc := country(t.ShippingCountry); cc != 0 {
		rememberCC(&c.ships, cc, now)
	}
	if k.addr != 0 {
		remember(c.addrs[:], fp32(k.addr), now)
	}
	if i := oldest(c.ring[:], now, func(e *custEvent) uint32 { return e.sec }); i >= 0 {
		c.ring[i] = custEvent{sec: now, cents: cents, card: curCard, dev: curDev}
	}
	// Beyond MaxCustomers, the customer least recently seen is forgotten
	// here, whether or not idle ones were expired: the one forgotten is
	// the same either way (an idle one, if any is left, is seen less
	// recently than every customer that is not), so features never depend
	// on when Expire runs.
	s.custs.touched()

	if k.dev != 0 {
		d := s.devices.put(k.dev)
		d.last = max(d.last, now)
		ring := s.devRings.room(d)
		if i := oldest(ring, now, func(e *devEvent) uint32 { return e.sec }); i >= 0 {
			ring[i] = devEvent{sec: now, card: curCard, cust: curCust}
		}
		s.devices.touched()
	}
	if k.card != 0 {
		c := s.cards.put(k.card)
		c.last = max(c.last, now)
		ring := s.cardRings.room(c)
		if i := oldest(ring, now, func(e *cardEvent) uint32 { return e.sec }); i >= 0 {
			ring[i] = cardEvent{sec: now, cents: cents, cust: curCust}
		}
		s.cards.touched()
	}
	if k.ip != 0 {
		n := s.ips.put(k.ip)
		n.last = max(n.last, now)
		ring := s.ipRings.room(n)
		if i := oldest(ring, now, func(e *ipEvent) uint32 { return e.sec }); i >= 0 {
			ring[i] = ipEvent{sec: now, cust: curCust}
		}
		s.ips.touched()
	}
}

// oldest returns the ring slot an event at now replaces: an empty one, or
// the one with the earliest event time, or -1 when the ring is full of
// later events. Rings thus hold the latest events in event time whatever
// order they arrive in, so a replay in another order gives the same ring.
func oldest[E any](ring []E, now uint32, sec func(*E) uint32) int {
	j, min := -1, uint32(math.MaxUint32)
	for i := range ring {
		s := sec(&ring[i])
		if s == 0 {
			return i
		}
		if s < min {
			j, min = i, s
		}
	}
	if now < min {
		return -1
	}
	return j
}

// remember moves fp to the front of a most-recently-used list, adding it
// (and dropping the least recently used) if absent.
func remember(list []known, fp, now uint32) {
	i := 0
	for ; i < len(list)-1; i++ {
		if list[i].fp == fp || list[i].fp == 0 {
			break
		}
	}
	e := list[i]
	if e.fp != fp {
		e = known{fp: fp, first: now}
	} else if now < e.first {
		e.first = now
	}
	copy(list[1:i+1], list[:i])
	list[0] = e
}

func rememberCC(list *[knownCCs]knownCC, cc uint16, now uint32) {
	i := 0
	for ; i < len(list)-1; i++ {
		if list[i].cc == cc || list[i].cc == 0 {
			break
		}
	}
	e := list[i]
	if e.cc != cc {
		e = knownCC{cc: cc, first: now}
	} else if now < e.first {
		e.first = now
	}
	copy(list[1:i+1], list[:i])
	list[0] = e
}
