package generate

import (
	"math"
	"math/rand/v2"
)

// Payment methods and channels as they appear in events. Wallets carry the
// tokenised card's BIN and last four digits; PayPal and Klarna carry none.
var (
	paymentMethods = []string{"card", "paypal", "apple_pay", "google_pay", "klarna"}
	paymentHasCard = []bool{true, false, true, true, false}
	paymentMix     = cumulative([]float64{0.50, 0.20, 0.12, 0.10, 0.08})
	channels       = []string{"web", "mobile_web", "app"}
	channelMix     = cumulative([]float64{0.45, 0.25, 0.30})
)

const (
	payCard = 0
	payPal  = 1
	chanWeb = 0
	chanMob = 1
)

// persona is a kind of shopper. Individual customers draw their own rate,
// churn chance, favourite departments and preferences around it.
type persona struct {
	name      string
	share     float64
	rateMult  float64 // multiplies the base purchase rate
	churnMult float64 // multiplies the drawn churn chance
	basket    float64 // mean number of distinct products per order, >= 1
	priceSens float64 // chance of trading down to a cheaper alternative
	affinity  []string
	payment   int // preferred payment method
	channel   int // preferred channel
}

var personas = []persona{
	{name: "bargain_hunter", share: 0.22, rateMult: 1.1, churnMult: 1.2, basket: 2.2, priceSens: 0.85, affinity: []string{"fashion", "home_kitchen", "beauty", "grocery"}, payment: 1, channel: 2},
	{name: "loyal_regular", share: 0.18, rateMult: 1.6, churnMult: 0.5, basket: 1.8, priceSens: 0.4, affinity: []string{"grocery", "pet", "health", "books", "beauty"}, payment: 0, channel: 2},
	{name: "big_spender", share: 0.08, rateMult: 0.9, churnMult: 0.8, basket: 2.6, priceSens: 0.05, affinity: []string{"electronics", "jewelry", "fashion", "computers", "phones"}, payment: 0, channel: 0},
	{name: "occasional", share: 0.30, rateMult: 0.5, churnMult: 1.3, basket: 1.4, priceSens: 0.5, affinity: []string{"books", "toys", "gift_cards", "home_kitchen"}, payment: 0, channel: 0},
	{name: "techie", share: 0.12, rateMult: 1.0, churnMult: 1.0, basket: 1.6, priceSens: 0.25, affinity: []string{"electronics", "tech_accessories", "video_games", "computers", "digital"}, payment: 3, channel: 1},
	{name: "family", share: 0.10, rateMult: 1.2, churnMult: 0.7, basket: 3.6, priceSens: 0.55, affinity: []string{"toys", "baby", "grocery", "home_kitchen", "sports"}, payment: 2, channel: 2},
}

// The buy-till-you-die process (Fader, Hardie and Lee's BG/NBD): while
// alive a customer buys as a Poisson process with rate lambda drawn from a
// gamma distribution, and after each purchase drops out with probability p
// drawn from a beta distribution. Rates are heterogeneous enough that the
// purchase counts are over-dispersed, as in real shops. The constants give
// the make-up of the customer base at any moment; newly acquired customers
// are drawn size-biased from it (see acquiredMix), which keeps it so.
const (
	rateShape           = 0.9      // gamma shape r of lambda
	rateMean            = 1.0 / 30 // purchases per day, before persona and season
	rateMax             = 2.0      // per day: no human buys much more often
	rateUnit            = 1e6      // fixed point: rate is stored in micro-purchases per day
	churnA              = 1.5      // beta a of p
	churnB              = 6.0      // beta b of p
	followUp            = 0.03     // chance of a quick second order ("forgot the charger")
	splitProb           = 0.015    // chance of a second order seconds later (a split cart)
	sharedProb          = 0.02     // legit order from a household member's device
	workProb            = 0.04     // legit web order from the office's shared address
	natProb             = 0.25     // legit mobile order behind the carrier's NAT
	companiesPerCountry = 2000
	natPerCountry       = 32    // carrier NAT addresses per country
	partnerProb         = 0.3   // chance that an item pulls its partner into the basket
	travelProb          = 0.03  // legit order from an IP abroad
	vpnProb             = 0.01  // legit order through a datacenter IP
	giftProb            = 0.025 // legit order shipped abroad
	newDevProb          = 0.015 // legit order from a device never seen before
	foreignCard         = 0.06  // card issued outside the holder's home country
	maxLines            = 16    // lines per order
	dupRing             = 64    // recent records a duplicate may repeat
	// Bounds on scheduled events. Live at high rates many campaigns run at
	// once (an account takeover spans half an hour of wall clock: at 50,000
	// records/s some 200,000 campaigns are open); 2^20 of 48 bytes is 48 MiB
	// at most. Follow-ups are honest noise and are shed first.
	maxCampaigns = 1 << 20
	maxFollowUps = 1 << 16
	maxAffinity  = 3    // favourite departments per customer
	affinityUse  = 0.55 // chance an item comes from a favourite department
)

// customer is one slot of the customer base, kept small (40 bytes) so a
// million of them fit in 40 MB. A churned customer's slot is reused for a
// newly acquired customer with a fresh ID, which keeps memory bounded while
// cohorts keep arriving.
type customer struct {
	id        uint32 // customer number; "c%08d"
	rate      uint32 // purchase rate in micro-purchases per day
	last      uint32 // last product bought + 1, 0 before the first order
	bin       [2]uint32
	last4     [2]uint16
	churn     uint16 // chance of dropping out after a purchase, × 65535
	purchases uint16 // orders so far, saturating
	group     uint8  // time zone × daily profile; fixed per slot
	persona   uint8
	country   uint8
	aff       [maxAffinity]uint8
	payment   uint8
	channel   uint8
	devices   uint8
	cards     uint8
	lastAt    uint32 // Unix seconds of the last order, 0 before the first
}

// group is the customers sharing a time zone and a daily profile, stored
// in one contiguous range of slots with its own Fenwick tree of rates.
type group struct {
	off, n  int
	weight  int64 // sum of rates, micro-purchases per day
	acq     int64 // Lifecycle: arrivals of new customers, micro-customers per day
	free    []int32
	tz      int
	profile int
	season  [168]float64
	// countries of the time zone that customers of the group live in.
	countries []uint8
	countryW  []float64
}

// personaMix draws the persona of a customer in the base.
var personaMix = func() []float64 {
	w := make([]float64, len(personas))
	for i, p := range personas {
		w[i] = p.share
	}
	return cumulative(w)
}()

// acquiredMix draws the persona of a newly acquired customer. A customer
// stays in the base for about 1/(lambda*p) (1/p purchases, 1/lambda apart),
// so the base over-represents slow, loyal customers relative to the stream
// of new ones. Drawing newcomers size-biased by lambda*p (persona weight
// times its mean rate and churn; lambda ~ Gamma(r+1), p ~ Beta(a+1, b))
// makes the base's make-up, and so the shop's total purchase rate,
// stationary: without it slow customers pile up and the shop dwindles.
var acquiredMix = func() []float64 {
	w := make([]float64, len(personas))
	for i, p := range personas {
		w[i] = p.share * p.rateMult * p.churnMult
	}
	return cumulative(w)
}()

// newCustomer fills slot c with a customer of group gr: one already in the
// base at the start when initial, otherwise a newly acquired one.
func (g *Generator) newCustomer(c *customer, gr *group, r *rand.Rand, initial bool) {
	g.nextID++
	mix, shape, betaA := acquiredMix, rateShape+1, churnA+1
	if initial {
		mix, shape, betaA = personaMix, rateShape, churnA
	}
	if g.cfg.Lifecycle != nil {
		mix = personaMix
	}
	pi := pick(r, mix)
	p := personas[pi]
	ci := gr.countries[pick(r, gr.countryW)]
	var lambda, churn float64
	if l := g.cfg.Lifecycle; l != nil {
		lambda, churn = lifecycleDraw(l, r)
	} else {
		lambda = gammaRand(r, shape) * rateMean / rateShape * p.rateMult
		lambda = math.Min(lambda, rateMax)
		churn = math.Min(math.Max(betaRand(r, betaA, churnB)*p.churnMult, 0.01), 0.95)
	}
	*c = customer{
		id:      g.nextID,
		rate:    uint32(math.Max(1, math.Round(lambda*rateUnit))),
		churn:   uint16(churn * 65535),
		group:   c.group,
		persona: uint8(pi),
		country: ci,
		devices: 1,
		cards:   1,
	}
	// two favourites from the persona, one from the whole shop
	a := r.IntN(len(p.affinity))
	b := (a + 1 + r.IntN(len(p.affinity)-1)) % len(p.affinity)
	c.aff[0] = uint8(categoryIndex(p.affinity[a]))
	c.aff[1] = uint8(categoryIndex(p.affinity[b]))
	c.aff[2] = uint8(g.cat.catPick.sample(r))
	c.payment = uint8(p.payment)
	if r.Float64() < 0.3 {
		c.payment = uint8(pick(r, paymentMix))
	}
	c.channel = uint8(p.channel)
	if r.Float64() < 0.3 {
		c.channel = uint8(pick(r, channelMix))
	}
	if r.Float64() < 0.45 {
		c.devices++
		if r.Float64() < 0.3 {
			c.devices++
		}
	}
	if r.Float64() < 0.3 {
		c.cards = 2
	}
	for k := 0; k < int(c.cards); k++ {
		issuer := ci
		if r.Float64() < foreignCard {
			issuer = g.randomMarket(r)
		}
		h := r.Uint64()
		c.bin[k] = binOf(issuer, h)
		c.last4[k] = uint16(h>>48) % 10000
	}
}

// randomMarket draws a country customers live in, by market size.
func (g *Generator) randomMarket(r *rand.Rand) uint8 {
	return geo.markets[pick(r, g.marketCum)]
}

// otherMarket draws a market other than ci.
func (g *Generator) otherMarket(r *rand.Rand, ci uint8) uint8 {
	for {
		if m := g.randomMarket(r); m != ci {
			return m
		}
	}
}

// fraudOrigin draws where fraud traffic comes from: half the time a
// country known for it, half the time a market (through proxies), so that
// no single country gives fraud away.
func (g *Generator) fraudOrigin(r *rand.Rand) uint8 {
	if r.Float64() < 0.5 {
		return geo.others[r.IntN(len(geo.others))]
	}
	return g.randomMarket(r)
}

// buildCustomers lays out the base: each slot gets a home time zone and a
// daily profile, slots are grouped by both, and each group gets a Fenwick
// tree over its customers' rates.
func (g *Generator) buildCustomers(n int, r *rand.Rand) {
	var tzs []int
	tzOf := map[int]int{}
	for _, ci := range geo.markets {
		tz := countryTable[ci].tz
		if _, ok := tzOf[tz]; !ok {
			tzOf[tz] = len(tzs)
			tzs = append(tzs, tz)
		}
	}
	np := len(profiles)
	g.groups = make([]group, len(tzs)*np)
	tzW := make([]float64, len(tzs))
	for i, ci := range geo.markets {
		tzW[tzOf[countryTable[ci].tz]] += geo.marketW[i]
	}
	pw := make([]float64, np)
	for i, p := range profiles {
		pw[i] = p.share
	}
	tzCum, pCum := cumulative(tzW), cumulative(pw)
	for gi := range g.groups {
		gr := &g.groups[gi]
		gr.tz, gr.profile = tzs[gi/np], gi%np
		gr.season = weekTable(profiles[gr.profile], gr.tz)
		var cw []float64
		for i, ci := range geo.markets {
			if countryTable[ci].tz == gr.tz {
				gr.countries = append(gr.countries, ci)
				cw = append(cw, geo.marketW[i])
			}
		}
		gr.countryW = cumulative(cw)
	}
	// Draw each slot's group, then lay the groups out contiguously.
	of := make([]uint8, n)
	for i := range of {
		gi := pick(r, tzCum)*np + pick(r, pCum)
		of[i] = uint8(gi)
		g.groups[gi].n++
	}
	off := 0
	for gi := range g.groups {
		g.groups[gi].off = off
		off += g.groups[gi].n
	}
	g.cust = make([]customer, n)
	fill := make([]int, len(g.groups))
	for _, gi := range of {
		slot := g.groups[gi].off + fill[gi]
		fill[gi]++
		g.cust[slot].group = gi
	}
	if g.cfg.Lifecycle != nil {
		g.emptyBase(n)
		return
	}
	for i := range g.cust {
		c := &g.cust[i]
		g.newCustomer(c, &g.groups[c.group], r, true)
	}
	// Customer numbers in random order, so IDs do not reveal the layout.
	perm := r.Perm(n)
	for i := range g.cust {
		g.cust[i].id = uint32(perm[i] + 1)
	}
	w := make([]int64, n)
	for i := range g.cust {
		w[i] = int64(g.cust[i].rate)
		g.groups[g.cust[i].group].weight += w[i]
	}
	g.fen = make(fenwick, n)
	for gi := range g.groups {
		gr := &g.groups[gi]
		copy(g.fen[gr.off:gr.off+gr.n], newFenwick(w[gr.off:gr.off+gr.n]))
	}
}

// groupTree is the Fenwick tree of group gi.
func (g *Generator) groupTree(gi int) fenwick {
	gr := &g.groups[gi]
	return g.fen[gr.off : gr.off+gr.n]
}

// replace puts a newly acquired customer into slot s after its occupant
// churned, and updates the rate sums.
func (g *Generator) replace(s int) {
	c := &g.cust[s]
	gi := int(c.group)
	old := int64(c.rate)
	if g.slotOf != nil {
		delete(g.slotOf, c.id)
	}
	g.newCustomer(c, &g.groups[gi], g.r, false)
	if g.slotOf != nil {
		g.slotOf[c.id] = int32(s)
	}
	d := int64(c.rate) - old
	g.groups[gi].weight += d
	g.groupTree(gi).add(s-g.groups[gi].off, d)
	g.seasonDirty = true
}
