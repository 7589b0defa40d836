package generate

import (
	"math"
	"time"
)

func timeOfMs(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// consumable departments are bought by the several.
var consumable = func() []bool {
	c := make([]bool, len(categoryTable))
	for _, n := range []string{"grocery", "pet", "beauty", "health", "baby", "office"} {
		c[categoryIndex(n)] = true
	}
	return c
}()

// Precomputed exp(-mean) of the Poisson draws on the hot path.
var (
	extraUnitsExp = math.Exp(-0.7) // extra units of a consumable
	basketExp     = func() []float64 {
		e := make([]float64, len(personas))
		for i, p := range personas {
			e[i] = math.Exp(-(p.basket - 1))
		}
		return e
	}()
)

// newTx starts a fresh transaction for customer number cust at ms.
func (g *Generator) newTx(cust uint32, ms int64) *txn {
	g.seq++
	t := &g.tx
	*t = txn{seq: g.seq, cust: cust, ms: ms, currency: g.cfg.Currency}
	return t
}

// addLine adds qty of product p, merging with an existing line.
func (g *Generator) addLine(p uint32, qty int32) {
	t := &g.tx
	price := g.cat.price[p]
	t.total += int64(qty) * price
	for i := 0; i < t.n; i++ {
		if t.lines[i].product == p {
			t.lines[i].qty += qty
			return
		}
	}
	if t.n == maxLines {
		t.total -= int64(qty) * price
		return
	}
	t.lines[t.n] = line{product: p, qty: qty, price: price}
	t.n++
}

// quantity draws how many of p a shopper takes.
func (g *Generator) quantity(p uint32) int32 {
	if consumable[g.cat.cat[p]] {
		return 1 + int32(poissonExp(g.r, extraUnitsExp))
	}
	switch u := g.r.Float64(); {
	case u < 0.9:
		return 1
	case u < 0.98:
		return 2
	}
	return 3
}

// addItem puts p in the basket and, often, the product bought with it.
func (g *Generator) addItem(p uint32) {
	g.addLine(p, g.quantity(p))
	if g.r.Float64() < partnerProb {
		g.addLine(g.cat.partner[p], 1)
	}
}

// pickFor draws a product for customer c: from a favourite department or
// the whole shop, by popularity, and for the price-sensitive the cheaper of
// two candidates.
func (g *Generator) pickFor(c *customer) uint32 {
	r := g.r
	var k int
	if u := r.Float64(); u < affinityUse {
		switch {
		case u < affinityUse*0.5:
			k = int(c.aff[0])
		case u < affinityUse*0.8:
			k = int(c.aff[1])
		default:
			k = int(c.aff[2])
		}
	} else {
		k = g.cat.catPick.sample(r)
	}
	p := g.cat.product(r, k)
	if r.Float64() < personas[c.persona].priceSens {
		if q := g.cat.product(r, k); g.cat.price[q] < g.cat.price[p] {
			p = q
		}
	}
	return p
}

// deviceOf is the ID of customer id's k-th own device.
func (g *Generator) deviceOf(id uint32, k int) uint64 {
	return mix64(g.idKey ^ uint64(id)<<8 ^ uint64(k) ^ 0xd1ce)
}

// buildLegit fills g.tx with an honest order by slot s's customer at ms: a
// basket shaped by persona, favourites and co-purchases, paid and shipped
// the way the customer usually does, with the small irregularities honest
// customers show (travel, gifts, new phones, VPNs) so that no single field
// separates them from fraud. small makes a one-item follow-up order.
func (g *Generator) buildLegit(s int, ms int64, small bool) {
	c := &g.cust[s]
	r := g.r
	p := &personas[c.persona]
	t := g.newTx(c.id, ms)

	n := 1
	if !small && p.basket > 1 {
		n = min(1+poissonExp(r, basketExp[c.persona]), 8)
	}
	var first uint32
	switch u := r.Float64(); {
	case g.forced != 0:
		first = g.forced - 1 // a product recommended to them
	case c.last != 0 && (small || u < 0.05):
		first = g.cat.partner[c.last-1] // the charger for yesterday's phone
	case c.last != 0 && u < 0.15:
		first = c.last - 1 // replenishment
	default:
		first = g.pickFor(c)
	}
	g.addItem(first)
	for i := 1; i < n; i++ {
		g.addItem(g.pickFor(c))
	}
	c.last = first + 1

	pm := int(c.payment)
	if r.Float64() < 0.2 {
		pm = pick(r, paymentMix)
	}
	t.payment = uint8(pm)
	if paymentHasCard[pm] {
		k := 0
		if c.cards > 1 && r.Float64() < 0.3 {
			k = 1
		}
		t.hasCard, t.bin, t.last4 = true, c.bin[k], c.last4[k]
	}

	t.channel = c.channel
	if r.Float64() < 0.25 {
		t.channel = uint8(pick(r, channelMix))
	}
	k := 0
	if c.devices > 1 && r.Float64() < 0.3 {
		k = r.IntN(int(c.devices))
	}
	t.device = g.deviceOf(c.id, k)
	switch u := r.Float64(); {
	case u < newDevProb:
		t.device = r.Uint64()
		t.honest |= NewDevice
	case u < newDevProb+sharedProb:
		// The household's other member: customer numbers paired 2k, 2k+1.
		t.device = g.deviceOf(c.id^1, 0)
		t.honest |= SharedDevice
	}
	// Home connections keep their address; mobile ones change weekly.
	h := mix64(t.device ^ 0x1b)
	if t.channel != chanWeb {
		h = mix64(t.device ^ uint64(ms/(7*msPerDay)))
	}
	t.ip = residentialIP(c.country, h)
	switch u := r.Float64(); {
	case u < travelProb:
		t.ip = residentialIP(g.otherMarket(r, c.country), r.Uint64())
		t.honest |= Traveller
	case u < travelProb+vpnProb:
		t.ip = hostingIP(g.randomMarket(r), r.Uint64())
		t.honest |= VPN
	case t.channel == chanWeb && u < travelProb+vpnProb+workProb:
		t.ip = residentialIP(c.country, mix64(uint64(c.country)<<32^companyOf(c.id)^0xc0))
		t.honest |= CorporateIP
	case t.channel != chanWeb && u < travelProb+vpnProb+natProb:
		t.ip = residentialIP(c.country, mix64(uint64(c.country)<<32^uint64(r.IntN(natPerCountry))^0xca))
		t.honest |= CarrierNAT
	}
	home := countryTable[c.country].code
	t.bill, t.ship = home, home
	if r.Float64() < giftProb {
		t.ship = countryTable[g.otherMarket(r, c.country)].code
		t.honest |= GiftAbroad
	}
	t.addr = g.legitAddr(c, t.seq, t.honest&GiftAbroad != 0)
}
