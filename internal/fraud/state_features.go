package fraud

import (
	"math"

	"github.com/shopstream/shopstream/internal/event"
)

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// inWindow reports whether an event at sec lies in the trailing window of
// length w ending at now.
func inWindow(sec, now uint32, w uint32) bool {
	return sec != 0 && sec <= now && now-sec < w
}

// distinct counts the distinct non-zero values among fps[:n], plus cur if
// non-zero. n is at most a ring's size, so quadratic is fastest.
func distinct(fps []uint16, cur uint16) int {
	c := 0
	for i, f := range fps {
		if f == 0 || f == cur {
			continue
		}
		dup := false
		for _, g := range fps[:i] {
			if g == f {
				dup = true
				break
			}
		}
		if !dup {
			c++
		}
	}
	if cur != 0 {
		c++
	}
	return c
}

// Features computes the features of t from the state, without changing it.
// Call Update afterwards to fold t in.
func (s *State) Features(t *event.Transaction) Features {
	var f Features
	s.FeaturesInto(t, &f)
	return f
}

// FeaturesInto is Features writing into f, for callers that reuse one.
func (s *State) FeaturesInto(t *event.Transaction, f *Features) {
	k := s.keysOf(t)
	f.keys = k
	v := &f.Values
	*v = [NumFeatures]float64{}
	now := epochSec(t.EventTime)
	amount := t.TotalCents.Float()
	curCard, curDev, curCust := uint16(0), fp16(k.dev), fp16(k.cust)
	if k.card != 0 {
		curCard = fp16(k.card)
	}
	if k.dev == 0 {
		curDev = 0
	}

	// The basket.
	v[Amount] = amount
	v[Lines] = float64(len(t.Items))
	var risky, total float64
	for i := range t.Items {
		it := &t.Items[i]
		v[Items] += float64(it.Quantity)
		line := float64(it.Quantity) * it.UnitPriceCents.Float()
		total += line
		for _, c := range s.highRisk {
			if it.Category == c {
				risky += line
				break
			}
		}
	}
	if total > 0 {
		v[HighRiskShare] = risky / total
	}
	v[CardPayment] = b2f(k.card != 0)

	// Geography.
	binCC, shipCC, billCC := k.binCC, country(t.ShippingCountry), country(t.BillingCountry)
	ipCC := k.ipCC
	v[UnknownIP] = b2f(t.IPAddress != "" && s.cfg.CountryOfIP != nil && ipCC == 0)
	v[HostingIP] = b2f(k.hosting)
	differ := func(a, b uint16) float64 { return b2f(a != 0 && b != 0 && a != b) }
	v[IPBINMismatch] = differ(ipCC, binCC)
	v[IPShipMismatch] = differ(ipCC, shipCC)
	v[BINShipMismatch] = differ(binCC, shipCC)
	v[BillingShipMismatch] = differ(billCC, shipCC)
	v[IPBillingMismatch] = differ(ipCC, billCC)
	ccs := [4]uint16{ipCC, binCC, billCC, shipCC}
	nc := 0
	for i, c := range ccs {
		if c == 0 {
			continue
		}
		dup := false
		for _, d := range ccs[:i] {
			if d == c {
				dup = true
			}
		}
		if !dup {
			nc++
		}
	}
	v[Countries] = float64(nc)

	// The customer.
	s.customerFeatures(v, k, now, amount, curCard, curDev, shipCC)

	// The device, the card and the IP address, as far as this partition
	// sees them.
	if k.dev != 0 {
		v[DeviceCount10m], v[DeviceCount1h], v[DeviceCount24h] = 1, 1, 1
		v[CardsPerDevice1h], v[CardsPerDevice24h], v[CustomersPerDevice24h] = b2f(curCard != 0), b2f(curCard != 0), 1
	}
	if d := s.devices.get(k.dev); d != nil && k.dev != 0 {
		var cards1h, cards24h, custs [entRing]uint16
		for i, e := range s.devRings.view(d) {
			if inWindow(e.sec, now, window24h) {
				v[DeviceCount24h]++
				cards24h[i], custs[i] = e.card, e.cust
				if inWindow(e.sec, now, window1h) {
					v[DeviceCount1h]++
					cards1h[i] = e.card
					if inWindow(e.sec, now, window10m) {
						v[DeviceCount10m]++
					}
				}
			}
		}
		v[CardsPerDevice1h] = float64(distinct(cards1h[:], curCard))
		v[CardsPerDevice24h] = float64(distinct(cards24h[:], curCard))
		v[CustomersPerDevice24h] = float64(distinct(custs[:], curCust))
	}
	if k.card != 0 {
		v[CardCount1h], v[CardCount24h], v[CardAmount24h], v[CustomersPerCard24h] = 1, 1, amount, 1
		if c := s.cards.get(k.card); c != nil {
			var custs [entRing]uint16
			// Summed in whole cents, so the ring's slot order (which
			// differs between a card record kept since long ago and one
			// forgotten and made anew) cannot change the sum.
			var cents int64
			for i, e := range s.cardRings.view(c) {
				if inWindow(e.sec, now, window24h) {
					v[CardCount24h]++
					cents += int64(e.cents)
					custs[i] = e.cust
					if inWindow(e.sec, now, window1h) {
						v[CardCount1h]++
					}
				}
			}
			v[CardAmount24h] += float64(cents) / 100
			v[CustomersPerCard24h] = float64(distinct(custs[:], curCust))
		}
	}
	if k.ip != 0 {
		v[IPCount1h], v[CustomersPerIP24h] = 1, 1
		if n := s.ips.get(k.ip); n != nil {
			var custs [entRing]uint16
			for i, e := range s.ipRings.view(n) {
				if inWindow(e.sec, now, window24h) {
					custs[i] = e.cust
					if inWindow(e.sec, now, window1h) {
						v[IPCount1h]++
					}
				}
			}
			v[CustomersPerIP24h] = float64(distinct(custs[:], curCust))
		}
	}
}

func (s *State) customerFeatures(v *[NumFeatures]float64, k keys, now uint32, amount float64, curCard, curDev, shipCC uint16) {
	v[CustCount10m], v[CustCount1h], v[CustCount24h] = 1, 1, 1
	v[CustAmount10m], v[CustAmount1h], v[CustAmount24h] = amount, amount, amount
	v[CardsPerCustomer1h], v[CardsPerCustomer24h] = b2f(curCard != 0), b2f(curCard != 0)
	v[DevicesPerCustomer24h] = b2f(curDev != 0)
	v[MinutesSinceLast] = maxMinutes

	c := s.custs.get(k.cust)
	if c != nil && s.idleCustomer(c.last, now) {
		c = nil // forgotten, though not yet expired
	}
	var n float64
	var meanLog, varLog, meanAmt float64
	if c != nil {
		n = float64(c.n)
		meanLog, varLog, meanAmt = float64(c.meanLog), float64(c.varLog), float64(c.meanAmt)
	}
	v[CustTxns] = math.Min(n, math.MaxUint16)
	v[FirstPurchase] = b2f(n == 0)
	// Shrink the customer's statistics towards the partition's.
	w := n + priorWeight
	mLog := (n*meanLog + priorWeight*s.gMeanLog) / w
	vLog := (n*varLog+priorWeight*s.gVarLog)/w + minLogVar
	mAmt := (n*meanAmt + priorWeight*s.gMeanAmt) / w
	if mAmt > 0 {
		v[AmountRatio] = amount / mAmt
	}
	v[AmountZ] = (math.Log(math.Max(amount, 0.01)) - mLog) / math.Sqrt(vLog)
	if c == nil {
		return
	}

	if now > c.first {
		v[AccountAgeDays] = float64(now-c.first) / window24h
	}
	var prev uint32
	var cards1h, cards24h, devs [custRing]uint16
	for i, e := range c.ring {
		if e.sec != 0 && e.sec <= now && e.sec > prev {
			prev = e.sec
		}
		if !inWindow(e.sec, now, window24h) {
			continue
		}
		a := float64(e.cents) / 100
		v[CustCount24h]++
		v[CustAmount24h] += a
		cards24h[i], devs[i] = e.card, e.dev
		if inWindow(e.sec, now, window1h) {
			v[CustCount1h]++
			v[CustAmount1h] += a
			cards1h[i] = e.card
			if inWindow(e.sec, now, window10m) {
				v[CustCount10m]++
				v[CustAmount10m] += a
			}
		}
	}
	if prev != 0 {
		v[MinutesSinceLast] = math.Min(float64(now-prev)/60, maxMinutes)
	}
	v[CardsPerCustomer1h] = float64(distinct(cards1h[:], curCard))
	v[CardsPerCustomer24h] = float64(distinct(cards24h[:], curCard))
	v[DevicesPerCustomer24h] = float64(distinct(devs[:], curDev))

	// New to an established customer: first seen in the last 24 hours,
	// after the customer's first purchase (everything is new on a first
	// purchase, which says nothing).
	recent := func(first uint32) bool {
		return first > c.first && (first > now || now-first < window24h)
	}
	isNew := func(list []known, fp uint32) float64 {
		for _, kn := range list {
			if kn.fp == fp {
				return b2f(recent(kn.first))
			}
		}
		return b2f(n > 0 && now > c.first)
	}
	if k.dev != 0 {
		v[NewDevice] = isNew(c.devices[:], fp32(k.dev))
	}
	if k.card != 0 {
		v[NewCard] = isNew(c.cards[:], fp32(k.card))
	}
	if k.addr != 0 {
		v[NewShipAddress] = isNew(c.addrs[:], fp32(k.addr))
	}
	if shipCC != 0 {
		v[NewShipCountry] = b2f(n > 0 && now > c.first)
		for _, kc := range c.ships {
			if kc.cc == shipCC {
				v[NewShipCountry] = b2f(recent(kc.first))
				break
			}
		}
	}
}
