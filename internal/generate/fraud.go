package generate

import (
	"math"
	"time"
)

// Fraud comes in campaigns: a fraudster's session of one or more orders
// from one customer account, so the per-customer state a processor keeps
// (velocity, devices, cards, countries, usual spend) sees the whole pattern
// in its partition. Each scenario leaves the traces real fraud leaves, and
// honest traffic shows each trace now and then (see buildLegit), so a
// detector has to combine them.

// scenarioSpec is a scenario's campaign length, uniform in [minLen, maxLen].
type scenarioSpec struct {
	name           string
	minLen, maxLen int
	// minAcc and maxAcc are the accounts of a cross-account campaign,
	// uniform in [minAcc, maxAcc], each with its own minLen..maxLen
	// orders; 0 for a one-account campaign.
	minAcc, maxAcc int
}

// meanLen is the mean number of records a campaign makes.
func (s scenarioSpec) meanLen() float64 {
	n := float64(s.minLen+s.maxLen) / 2
	if s.maxAcc > 0 {
		n *= float64(s.minAcc+s.maxAcc) / 2
	}
	return n
}

// scenarioTable is in the order of Scenarios.
var scenarioTable = []scenarioSpec{
	{name: CardTesting, minLen: 6, maxLen: 30},
	{name: AccountTakeover, minLen: 1, maxLen: 4},
	{name: StolenCard, minLen: 1, maxLen: 3},
	{name: BotBurst, minLen: 10, maxLen: 40},
	{name: GeoMismatch, minLen: 1, maxLen: 2},
}

const (
	scCardTesting = iota
	scTakeover
	scStolen
	scBot
	scGeo
)

// campaign is a scheduled series of events from one account: a fraud
// campaign (scen > 0, scenario index + 1) or an honest follow-up order
// (scen == 0) by the customer in slot.
type campaign struct {
	due     int64
	device  uint64
	cust    uint32
	slot    int32
	bin     uint32
	ip      uint32
	product uint32
	last4   uint16
	scen    uint8
	left    uint8
	home    uint8 // the account's country: billing address
	ship    uint8
	ipc     uint8 // where the fraudster connects from
	payment uint8
	channel uint8
	addr    uint64 // shipping address (address.go); 0: the campaign's own
	hosting bool   // connects through datacenter addresses
	rotate  bool   // changes device (bots) on every order
	split   bool   // a follow-up seconds after the order (SplitOrder), not minutes (AddOn)
}

// eventHeap is a min-heap of campaigns by due time, bounded: when full a
// new campaign is dropped, which bounds memory at any live rate.
type eventHeap struct {
	h   []campaign
	max int
}

func (q *eventHeap) push(c campaign) {
	if len(q.h) >= q.max {
		return
	}
	q.h = append(q.h, c)
	h := q.h
	for i := len(h) - 1; i > 0; {
		p := (i - 1) / 2
		if h[p].due <= h[i].due {
			break
		}
		h[p], h[i] = h[i], h[p]
		i = p
	}
}

// fix restores the heap after the root's due time grew.
func (q *eventHeap) fix() {
	h := q.h
	for i := 0; ; {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		m := l
		if r := l + 1; r < len(h) && h[r].due < h[l].due {
			m = r
		}
		if h[i].due <= h[m].due {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

func (q *eventHeap) pop() {
	n := len(q.h) - 1
	q.h[0] = q.h[n]
	q.h = q.h[:n]
	q.fix()
}

// due is the due time of the earliest event, MaxInt64 when there is none.
func (q *eventHeap) due() int64 {
	if len(q.h) == 0 {
		return math.MaxInt64
	}
	return q.h[0].due
}

// nextPending is the heap holding the earliest scheduled event.
func (g *Generator) nextPending() *eventHeap {
	q := &g.campaigns
	if g.followUps.due() < q.due() {
		q = &g.followUps
	}
	if g.responses.due() < q.due() {
		q = &g.responses
	}
	return q
}

// emitPending emits the earliest scheduled event, with event time ms. It
// reports false when the event no longer applies (a follow-up by a
// customer who has churned since).
func (g *Generator) emitPending(ms int64) (Record, bool) {
	q := g.nextPending()
	c := &q.h[0]
	if ms > g.clock {
		g.clock = ms
	}
	if q == &g.responses {
		return g.emitResponse(ms)
	}
	if c.scen == 0 {
		s, split := int(c.slot), c.split
		ok := g.cust[s].id == c.cust
		q.pop() // c now points at the next event
		if !ok {
			return Record{}, false
		}
		g.buildLegit(s, ms, true)
		if split {
			g.tx.honest |= SplitOrder
		} else {
			g.tx.honest |= AddOn
		}
		rec := g.finish(ms, "", "")
		g.afterGood(rec, ms)
		return rec, true
	}
	sc := int(c.scen - 1)
	g.buildFraud(c, ms)
	rec := g.finish(ms, scenarioName(sc), "")
	c.left--
	if c.left == 0 {
		q.pop()
	} else {
		c.due = ms + g.gap(sc)
		q.fix()
	}
	return rec, true
}

// gap is the time to a campaign's next order, in ms.
func (g *Generator) gap(sc int) int64 {
	e := g.r.ExpFloat64()
	switch sc {
	case scCardTesting:
		return 1_000 + int64(e*20_000)
	case scBot:
		return 200 + int64(e*3_000)
	case scTakeover:
		return 60_000 + int64(e*10*60_000)
	case scStolen:
		return 30_000 + int64(e*8*60_000)
	case scRing, scSpread, scFriendly:
		return g.crossGap(sc)
	}
	return 60_000 + int64(e*15*60_000)
}

// LiveWarmup is how far back Run starts the live phase's fraud campaigns
// (primeLive): longer than the campaigns of the default mix take to play
// out (an account takeover's last order comes about 45 minutes after its
// start on average, a stolen card's over half an hour after), so that the
// live phase starts with the campaigns in flight it keeps from then on.
const LiveWarmup = 90 * time.Minute

// primeLive starts the fraud campaigns a live phase at rate records a
// second would have started between from and to (ms of event time): one
// for each good record with the chance campaignProb, as afterGood does,
// the good records being the rate less the shares of fraud and bad ones.
// Their orders due before to are skipped (they were placed before the
// stream began), the others come when due.
//
// Without it the live phase starts with no campaign in flight: campaigns
// begin with live's good records, thousands of times denser in event time
// than history's, but their orders come minutes apart in event time, so
// at 10 records a second the fraud share of the live stream was a few
// hundredths of a percent in its first five minutes and reached the
// configured rate only after half an hour (0.82% over the first 30
// minutes of `fraud-eval --live`, 0.13% over the first 10).
func (g *Generator) primeLive(from, to int64, rate float64) {
	good := rate * (1 - max(g.cfg.FraudRate, 0) - min(max(g.cfg.BadRate, 0), 1))
	if g.campaignProb <= 0 || !(good > 0) || to <= from {
		return
	}
	// Rings last days: with rings in the mix, their campaigns are started
	// from RingWarmup back (the others from from), and their orders of
	// the last RingReplay are kept to be sent before the live phase
	// (CatchUp), at their own event times.
	start, replayFrom := from, to
	if g.ringsOn() {
		start = min(from, to-RingWarmup.Milliseconds())
		replay := float64(RingReplay.Milliseconds())
		// At most about RingReplayMax ring orders: the day's at a high
		// rate and fraud rate would be hundreds of thousands, each three
		// repartition records for the stage.
		if perMs := good / 1000 * g.ringShare(); perMs*replay > RingReplayMax {
			replay = RingReplayMax / perMs
		}
		replayFrom = to - int64(replay)
		g.replayTo = to
	}
	// The new campaigns go to a heap of their own first, so that only
	// their orders are skipped.
	held := g.campaigns
	g.campaigns = eventHeap{max: held.max - len(held.h)}
	perMs := good * g.campaignProb / 1000
	for t := float64(start); ; {
		t += g.r.ExpFloat64() / perMs
		if t >= float64(to) {
			break
		}
		sc := pick(g.r, g.scenCum)
		if t < float64(from) && sc != scRing {
			continue // before the warm-up of the others: rings only
		}
		g.startCampaign(int64(t), sc)
	}
	primed := g.campaigns.h
	g.campaigns = held
	for _, c := range primed {
		for c.left > 0 && c.due < to {
			if int(c.scen-1) == scRing && c.due >= replayFrom {
				break // sent by CatchUp
			}
			if c.left--; c.left > 0 {
				c.due += g.gap(int(c.scen - 1))
			}
		}
		if c.left > 0 {
			g.campaigns.push(c)
		}
	}
}

// RingWarmup is how far back primeLive starts the rings a live phase's
// pace would have started, when the mix has rings: a ring's accounts
// start within up to 3 days of each other (about one on average), so a
// live phase primed for LiveWarmup alone held almost no ring orders in
// its first half hour (0 and 1 over 30 minutes of `fraud-eval --demo`,
// seeds 1 and 42), and those it held came from accounts whose earlier
// orders were never sent.
const RingWarmup = 4 * 24 * time.Hour

// RingReplay is how much of the primed rings' past CatchUp sends before
// the live phase: the entity stage's default window, so that the stage
// finds the rings in flight as it would after a day of live traffic
// (about 750 ring orders at run's defaults; shorter when that would be
// more than RingReplayMax, as from about --rate 130 at 1% fraud).
const RingReplay = 24 * time.Hour

// RingReplayMax bounds the ring orders CatchUp sends (in expectation):
// RingReplay is shortened to fit.
const RingReplayMax = 10_000

// ringsOn reports whether the mix gives fraud rings a share.
func (g *Generator) ringsOn() bool {
	return g.cfg.FraudMix[FraudRing] > 0 && g.campaignProb > 0
}

// ringShare is the ring orders per good record.
func (g *Generator) ringShare() float64 {
	total := 0.0
	for _, name := range AllScenarios {
		total += g.cfg.FraudMix[name]
	}
	if !(total > 0) || !(g.cfg.FraudRate > 0) || g.cfg.FraudRate >= 1 {
		return 0
	}
	return g.cfg.FraudRate / (1 - g.cfg.FraudRate) * g.cfg.FraudMix[FraudRing] / total
}

// CatchUp returns the next scheduled record due before the live phase
// that primeLive readied with rings in the mix, at its own event time
// (the primed rings' orders of the last RingReplay, and whatever else
// fell due while the history was sent), and false when none is left.
// Run sends them at the end of the history.
func (g *Generator) CatchUp() (Record, bool) {
	for g.replayTo > 0 {
		q := g.nextPending()
		ms := q.due()
		if ms >= g.replayTo {
			g.replayTo = 0
			break
		}
		if rec, ok := g.emitPending(ms); ok {
			return rec, true
		}
	}
	return Record{}, false
}

// existingCustomer draws a slot whose customer has ordered before, by
// activity, as an account-takeover victim (fraudsters target accounts with
// history and saved cards).
func (g *Generator) existingCustomer(ms int64) int {
	s := g.pickCustomer(ms)
	for i := 0; i < 16 && g.cust[s].purchases == 0; i++ {
		s = g.pickCustomer(ms)
	}
	return s
}

// startCampaign sets up a campaign of scenario sc beginning shortly after ms.
func (g *Generator) startCampaign(ms int64, sc int) {
	if sc >= scRing {
		g.startCross(ms, sc)
		return
	}
	r := g.r
	spec := scenarioTable[sc]
	c := campaign{
		scen:    uint8(sc + 1),
		left:    uint8(spec.minLen + r.IntN(spec.maxLen-spec.minLen+1)),
		device:  r.Uint64(),
		payment: payCard,
		channel: chanWeb,
	}
	newAccount := func() {
		g.nextID++
		c.cust = g.nextID
		c.home = g.randomMarket(r)
	}
	switch sc {
	case scCardTesting:
		newAccount()
		c.ipc = g.fraudOrigin(r)
		c.hosting = r.Float64() < 0.4
		c.due = ms + int64(r.ExpFloat64()*120_000)
		if r.Float64() < 0.3 {
			c.channel = chanMob
		}
	case scBot:
		c.rotate = r.Float64() < 0.7
		c.hosting = r.Float64() < 0.6
		c.product = g.cat.hype[r.IntN(len(g.cat.hype))]
		if r.Float64() < 0.4 {
			// a scalper's own, otherwise ordinary, account
			v := &g.cust[g.pickCustomer(ms)]
			c.cust, c.home = v.id, v.country
			c.bin, c.last4 = v.bin[0], v.last4[0]
		} else {
			newAccount()
			h := r.Uint64()
			c.bin, c.last4 = binOf(c.home, h), uint16(h>>48)%10000
		}
		c.ipc = c.home
		c.due = ms + int64(r.ExpFloat64()*60_000)
	case scTakeover:
		v := &g.cust[g.existingCustomer(ms)]
		c.cust, c.home = v.id, v.country
		c.bin, c.last4 = v.bin[0], v.last4[0]
		if !paymentHasCard[v.payment] && r.Float64() < 0.5 {
			c.payment = payPal
		}
		if r.Float64() < 0.6 {
			c.ipc = g.fraudOrigin(r)
		} else {
			c.ipc = g.otherMarket(r, c.home)
		}
		c.ship = g.otherMarket(r, c.home)
		if r.Float64() < 0.5 && c.ipc != c.home && countryTable[c.ipc].market > 0 {
			c.ship = c.ipc
		}
		c.hosting = r.Float64() < 0.3
		if r.Float64() < 0.3 {
			c.channel = chanMob
		}
		c.due = ms + 2*60_000 + int64(r.ExpFloat64()*10*60_000) // login, change address, shop
	case scStolen:
		newAccount() // the card holder's country is entered as the address
		h := r.Uint64()
		c.bin, c.last4 = binOf(c.home, h), uint16(h>>48)%10000
		c.ship = c.home
		if r.Float64() < 0.5 {
			c.ship = g.otherMarket(r, c.home)
		}
		c.ipc = c.home
		if r.Float64() < 0.6 {
			c.ipc = g.fraudOrigin(r)
		}
		c.hosting = r.Float64() < 0.3
		c.channel = uint8(pick(r, channelMix))
		c.due = ms + int64(r.ExpFloat64()*10*60_000)
	case scGeo:
		newAccount()
		binC := g.randomMarket(r)
		if r.Float64() < 0.4 {
			binC = geo.others[r.IntN(len(geo.others))]
		}
		h := r.Uint64()
		c.bin, c.last4 = binOf(binC, h), uint16(h>>48)%10000
		for c.ipc = g.fraudOrigin(r); c.ipc == binC; c.ipc = g.fraudOrigin(r) {
		}
		for c.ship = g.randomMarket(r); c.ship == binC || c.ship == c.ipc; c.ship = g.randomMarket(r) {
		}
		c.home = binC
		if r.Float64() < 0.4 {
			c.home = c.ship
		}
		c.channel = uint8(pick(r, channelMix))
		c.due = ms + int64(r.ExpFloat64()*10*60_000)
	}
	c.ip = residentialIP(c.ipc, r.Uint64())
	if c.hosting {
		c.ip = hostingIP(c.ipc, r.Uint64())
	}
	g.campaigns.push(c)
}

// buildFraud fills g.tx with campaign c's next order at ms.
func (g *Generator) buildFraud(c *campaign, ms int64) {
	r := g.r
	t := g.newTx(c.cust, ms)
	t.payment, t.channel, t.device, t.ip = c.payment, c.channel, c.device, c.ip
	t.hasCard, t.bin, t.last4 = c.payment == payCard, c.bin, c.last4
	t.bill = countryTable[c.home].code
	t.ship = t.bill
	t.addr = c.addr
	if t.addr == 0 {
		t.addr = g.campaignAddr(c)
	}
	switch int(c.scen - 1) {
	case scCardTesting:
		// a new card on every try, from anywhere
		issuer := c.home
		if r.Float64() < 0.6 {
			issuer = g.fraudOrigin(r)
		}
		h := r.Uint64()
		t.bin, t.last4 = binOf(issuer, h), uint16(h>>48)%10000
		g.addLine(g.cat.cheap[r.IntN(len(g.cat.cheap))], 1)
		if r.Float64() < 0.2 {
			t.ip = residentialIP(c.ipc, r.Uint64())
		}
	case scBot:
		g.addLine(c.product, 1+int32(r.IntN(2)))
		if c.rotate {
			t.device = r.Uint64()
		}
		if c.hosting {
			t.ip = hostingIP(g.randomMarket(r), r.Uint64())
		} else {
			t.ip = residentialIP(c.home, r.Uint64())
		}
	case scTakeover:
		t.ship = countryTable[c.ship].code
		t.hasCard = c.payment == payCard
		for i, n := 0, 1+r.IntN(3); i < n; i++ {
			g.addLine(g.cat.high[g.cat.highA.sample(r)], 1+int32(r.IntN(2)))
		}
	case scStolen:
		t.ship = countryTable[c.ship].code
		qty := int32(1)
		if u := r.Float64(); u > 0.9 {
			qty = 3
		} else if u > 0.6 {
			qty = 2
		}
		g.addLine(g.cat.high[g.cat.highA.sample(r)], qty)
		if r.Float64() < 0.3 {
			g.addLine(g.cat.high[g.cat.highA.sample(r)], 1)
		}
	case scGeo:
		t.ship = countryTable[c.ship].code
		for i, n := 0, 1+r.IntN(3); i < n; i++ {
			if r.Float64() < 0.5 {
				g.addLine(g.cat.high[g.cat.highA.sample(r)], 1)
			} else {
				g.addLine(g.cat.product(r, g.cat.catPick.sample(r)), 1)
			}
		}
	default:
		g.buildCross(c, ms)
	}
}
