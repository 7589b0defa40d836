package generate

// Fraud that a single-customer view cannot see: campaigns spread over
// several accounts that share a device, a card or a network, and fraud
// that looks honest from every angle the stream offers. Each account of
// such a campaign is a campaign of its own on the heap (so the accounts'
// orders interleave with everything else in event time); what ties them
// together is only the entities they share, which a processor keyed by
// customer sees one account at a time.

// The cross-account scenarios. They are off by default (Config.FraudMix
// gives them no share unless asked, e.g. --fraud-mix fraud_ring=0.1), so
// the default stream, and every figure measured on it, stays as it was.
const (
	// FraudRing is a group of 3 to 12 new accounts run by one fraudster,
	// shipping to one drop address (some to a flat each there) and
	// sharing a device, a card, both or neither (and often one network
	// address),
	// each placing 1 to 3 orders of resellable goods to one drop country,
	// the accounts starting within a few days of each other.
	FraudRing = "fraud_ring"
	// SpreadCardTesting is card testing spread across 3 to 8 new accounts
	// from one device and one network address, each account trying 2 to 6
	// cards with small orders within half an hour: every account alone
	// looks like a small burst, the device sees them all.
	SpreadCardTesting = "card_testing_spread"
	// FriendlyFraud is an existing customer's ordinary-looking order, on
	// their usual device, card and network, later disputed as "not
	// received" or "not me": nothing in the stream tells it from an
	// honest order (only a later label does).
	FriendlyFraud = "friendly_fraud"
)

// CrossScenarios lists the cross-account scenarios, after Scenarios in
// the scenario index.
var CrossScenarios = []string{FraudRing, SpreadCardTesting, FriendlyFraud}

// AllScenarios is Scenarios followed by CrossScenarios: every name
// Config.FraudMix accepts.
var AllScenarios = append(append([]string(nil), Scenarios...), CrossScenarios...)

// Ring sizes and timing (fixed, documented in docs/fraud.md).
const (
	ringMinAccounts, ringMaxAccounts   = 3, 12
	spreadMinAccounts, spreadMaxAccts  = 3, 8
	ringSpanMeanMs                     = 24 * 60 * 60_000 // accounts start within days:
	ringSpanMaxMs                      = 3 * ringSpanMeanMs
	spreadSpanMs                       = 30 * 60_000
	ringOrderGapMs, ringOrderGapMeanMs = 10 * 60_000, 2 * 60 * 60_000
)

const (
	scRing = iota + 5 // after scGeo
	scSpread
	scFriendly
)

// crossTable is in the order of CrossScenarios: orders per account, and
// accounts per campaign (meanLen counts records per campaign).
var crossTable = []scenarioSpec{
	{name: FraudRing, minLen: 1, maxLen: 3, minAcc: ringMinAccounts, maxAcc: ringMaxAccounts},
	{name: SpreadCardTesting, minLen: 2, maxLen: 6, minAcc: spreadMinAccounts, maxAcc: spreadMaxAccts},
	{name: FriendlyFraud, minLen: 1, maxLen: 1},
}

// scenarioName is scenario index sc's name.
func scenarioName(sc int) string { return AllScenarios[sc] }

// startCross sets up a cross-account campaign of scenario sc (scRing…)
// beginning shortly after ms: one campaign per account on the heap.
func (g *Generator) startCross(ms int64, sc int) {
	r := g.r
	spec := crossTable[sc-scRing]
	switch sc {
	case scFriendly:
		v := &g.cust[g.existingCustomer(ms)]
		dev := g.deviceOf(v.id, 0)
		c := campaign{
			scen: uint8(sc + 1), left: 1, cust: v.id, home: v.country, ship: v.country, ipc: v.country,
			device: dev, ip: residentialIP(v.country, mix64(dev^0x1b)), payment: payCard, channel: v.channel,
			bin: v.bin[0], last4: v.last4[0], addr: g.homeAddr(v.id),
			due: ms + 60_000 + int64(r.ExpFloat64()*30*60_000),
		}
		g.campaigns.push(c)
		return
	}
	n := spec.minAcc + r.IntN(spec.maxAcc-spec.minAcc+1)
	base := campaign{scen: uint8(sc + 1), payment: payCard, channel: chanWeb}
	base.ipc = g.fraudOrigin(r)
	base.home = g.randomMarket(r)
	base.ship = g.randomMarket(r) // the drop
	hosting := r.Float64() < 0.5
	ip := residentialIP(base.ipc, r.Uint64())
	if hosting {
		ip = hostingIP(base.ipc, r.Uint64())
	}
	// What the accounts share: a ring ships to one drop address and
	// shares a device (40%), a card (20%), both (20%) or neither (20%:
	// the drop alone joins it), and half the time a network address;
	// spread card testing shares the device and the network address.
	shareDev, shareCard, shareIP := true, false, true
	if sc == scRing {
		switch u := r.Float64(); {
		case u < 0.4:
			shareDev, shareCard = true, false
		case u < 0.6:
			shareDev, shareCard = false, true
		case u < 0.8:
			shareDev, shareCard = true, true
		default:
			shareDev, shareCard = false, false
		}
		shareIP = r.Float64() < 0.5
	}
	dev := r.Uint64()
	h := r.Uint64()
	bin, last4 := binOf(base.home, h), uint16(h>>48)%10000
	// A ring ships to its drop, each account to one flat there when the
	// ring varies them.
	var drop uint64
	rotate := false
	if sc == scRing {
		drop = building(g.addrHash(seedDrop, dev^h))
		// A ring with nothing else in common keeps to one flat: the
		// drop is what ties it.
		rotate = (shareDev || shareCard) && g.addrHash(seedDrop, dev^h^1)%ringFlatRotate == 0
	}
	span := int64(spreadSpanMs)
	if sc == scRing {
		span = min(int64(r.ExpFloat64()*ringSpanMeanMs), ringSpanMaxMs)
	}
	for range n {
		c := base
		g.nextID++
		c.cust = g.nextID
		c.left = uint8(spec.minLen + r.IntN(spec.maxLen-spec.minLen+1))
		c.device, c.ip = r.Uint64(), residentialIP(c.home, r.Uint64())
		if shareDev {
			c.device = dev
		}
		if shareIP {
			c.ip = ip
		}
		hh := r.Uint64()
		c.bin, c.last4 = binOf(c.home, hh), uint16(hh>>48)%10000
		if shareCard {
			c.bin, c.last4 = bin, last4
		}
		c.addr = drop
		if rotate {
			c.addr = drop&^0xff | uint64(1+c.cust%40)
		}
		c.due = ms + int64(r.Float64()*float64(span))
		g.campaigns.push(c)
	}
}

// buildCross fills g.tx's order lines (and what varies per order) for a
// cross-account campaign's order; buildFraud has set the shared fields.
func (g *Generator) buildCross(c *campaign, ms int64) {
	r := g.r
	t := &g.tx
	switch int(c.scen - 1) {
	case scRing:
		t.ship = countryTable[c.ship].code
		for i, n := 0, 1+r.IntN(2); i < n; i++ {
			g.addLine(g.cat.high[g.cat.highA.sample(r)], 1)
		}
	case scSpread:
		issuer := g.fraudOrigin(r)
		h := r.Uint64()
		t.bin, t.last4 = binOf(issuer, h), uint16(h>>48)%10000
		g.addLine(g.cat.cheap[r.IntN(len(g.cat.cheap))], 1)
	case scFriendly:
		for i, n := 0, 1+r.IntN(2); i < n; i++ {
			g.addLine(g.cat.high[g.cat.highA.sample(r)], 1)
		}
	}
}

// crossGap is the time to a cross-account campaign's account's next
// order, in ms.
func (g *Generator) crossGap(sc int) int64 {
	e := g.r.ExpFloat64()
	if sc == scSpread {
		return 1_000 + int64(e*20_000)
	}
	return ringOrderGapMs + int64(e*ringOrderGapMeanMs)
}
