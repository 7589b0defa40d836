package generate

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Lifecycle makes the customer base follow the generative story of the
// BG/NBD model (Fader, Hardie and Lee 2005) with acquisition: new customers
// arrive as a Poisson process of NewPerDay a day (times seasonality), each
// makes a first purchase on arrival, then buys as a Poisson process with
// rate λ ~ Gamma(shape R, rate Alpha) per week while alive, and drops out
// right after each repeat purchase with probability p ~ Beta(A, B). Every
// customer draws λ and p from the same distributions, so a BG/NBD fit on
// the generated history recovers R, Alpha, A and B (tested).
//
// The shop starts empty and grows; Config.Customers bounds how many
// customers are kept. A newcomer takes the slot of one who dropped out, or,
// with none free, the slot of a random customer, who falls silent: a
// dropout that comes without a purchase, which only happens once the base
// is full.
//
// Without a Lifecycle the base is the older stationary one: Customers
// customers from the start, none with history, each churning after any
// purchase and replaced by a newcomer.
type Lifecycle struct {
	// NewPerDay is how many new customers arrive per simulated day on
	// average, before seasonality.
	NewPerDay float64
	// R and Alpha are the shape and rate (per week) of the gamma
	// distribution of purchase rates.
	R, Alpha float64
	// A and B are the parameters of the beta distribution of the dropout
	// probability.
	A, B float64
}

// DemoLifecycle is the customer base `shopstream run` starts with: dropout
// as in CDNOW's published BG/NBD fit (a = 0.793, b = 2.43), purchase rates
// a little higher and less spread (CDNOW: r = 0.243, α = 4.41 weeks), so
// that a year and a half of history leaves under 40% of customers with a
// single purchase day (with more, the mid-rank quintiles give no one F = 1,
// and the New and Promising segments are empty), and about a fifth of
// orders are a new customer's first. 200 new customers a day make about
// 108,000 customers (65,000 alive) in the 540 days `run` backfills: enough
// for its live pace to keep each honest customer to one order a day for
// hours (see liveCooldown). See docs/analytics.md.
var DemoLifecycle = Lifecycle{NewPerDay: 200, R: 0.6, Alpha: 4, A: 0.8, B: 2.4}

func (l Lifecycle) validate() error {
	for _, f := range []struct {
		name string
		v    float64
	}{{"NewPerDay", l.NewPerDay}, {"R", l.R}, {"Alpha", l.Alpha}, {"A", l.A}, {"B", l.B}} {
		if !(f.v > 0) || math.IsInf(f.v, 0) {
			return fmt.Errorf("generate: Lifecycle.%s must be a positive number, got %v", f.name, f.v)
		}
	}
	if l.NewPerDay > 1e9 {
		return fmt.Errorf("generate: Lifecycle.NewPerDay must be at most 1e9, got %v", l.NewPerDay)
	}
	return nil
}

// emptyBase lays the slots of a Lifecycle shop out empty, every one free,
// and gives each group its share of the arrivals.
func (g *Generator) emptyBase(n int) {
	l := g.cfg.Lifecycle
	for gi := range g.groups {
		gr := &g.groups[gi]
		gr.free = make([]int32, gr.n)
		for i := range gr.free {
			gr.free[i] = int32(gr.off + gr.n - 1 - i) // pop the lowest slot first
		}
		gr.acq = int64(math.Round(l.NewPerDay * rateUnit * float64(gr.n) / float64(n)))
	}
	g.fen = make(fenwick, n)
}

// acquire puts a newly arrived customer into a slot of group gi and
// returns the slot.
func (g *Generator) acquire(gi int) int {
	gr := &g.groups[gi]
	var s int
	if k := len(gr.free); k > 0 {
		s = int(gr.free[k-1])
		gr.free = gr.free[:k-1]
	} else {
		s = gr.off + g.r.IntN(gr.n) // the base is full: its occupant falls silent
	}
	c := &g.cust[s]
	old := int64(c.rate)
	if g.slotOf != nil && c.id != 0 {
		delete(g.slotOf, c.id)
	}
	g.newCustomer(c, gr, g.r, false)
	if g.slotOf != nil {
		g.slotOf[c.id] = int32(s)
	}
	g.setRate(s, old)
	g.acquired++
	return s
}

// dropOut ends the customer in slot s: no more regular purchases, and the
// slot is free for a newcomer. The ID stays until then, so a follow-up
// order already scheduled still happens.
func (g *Generator) dropOut(s int) {
	c := &g.cust[s]
	old := int64(c.rate)
	c.rate = 0
	g.setRate(s, old)
	gr := &g.groups[c.group]
	gr.free = append(gr.free, int32(s))
}

// setRate brings the rate sums up to date after slot s's rate changed
// from old.
func (g *Generator) setRate(s int, old int64) {
	c := &g.cust[s]
	gi := int(c.group)
	d := int64(c.rate) - old
	if d == 0 {
		return
	}
	g.groups[gi].weight += d
	g.groupTree(gi).add(s-g.groups[gi].off, d)
	g.seasonDirty = true
}

// lifecycleDraw draws a newcomer's purchase rate (per day) and dropout
// probability from the Lifecycle's distributions.
func lifecycleDraw(l *Lifecycle, r *rand.Rand) (perDay, p float64) {
	perWeek := gammaRand(r, l.R) / l.Alpha
	return math.Min(perWeek/7, rateMax), betaRand(r, l.A, l.B)
}

// firstTimeShare is the share of regular purchases that are a new
// customer's first, as the rates stand: arrivals over arrivals plus the
// alive customers' purchase rates (seasonality aside). Live mode draws the
// next buyer from the same weights, so it keeps this share apart from the
// cooldown's redraws. 0 without a Lifecycle.
func (g *Generator) firstTimeShare() float64 {
	var acq, w int64
	for i := range g.groups {
		acq += g.groups[i].acq
		w += g.groups[i].weight
	}
	if acq == 0 {
		return 0
	}
	return float64(acq) / float64(acq+w)
}

// pickLive draws the buyer of a live regular purchase with a Lifecycle.
// Live, the shop's clock runs thousands of times faster than its customers'
// (a base of some 70,000 customers taking 100 orders a second), so letting
// arrivals and purchases compete as in history would grow the base by a
// third an hour and drive the share of first orders down; instead the
// share the history ended with is kept: a newcomer with that probability,
// otherwise an existing customer by rate.
func (g *Generator) pickLive(ms int64) int {
	if g.liveFirst == 0 {
		g.liveFirst = max(g.firstTimeShare(), 1e-9)
	}
	var w int64
	for i := range g.groups {
		w += g.groups[i].weight
	}
	if w == 0 || g.r.Float64() < g.liveFirst {
		for {
			if gi, u := g.pickGroup(ms); u < g.groups[gi].acq {
				return g.acquire(gi)
			}
		}
	}
	return g.pickCustomer(ms)
}

// ContinueCustomers makes the customers and fraud accounts made from now
// on take numbers after the customer ID last (as the records name them,
// "c00012345"), when it is higher than the last number handed out. A shop
// restarted on stored data warms up the customers its history made, but
// not those its earlier run acquired live, whose numbers a newcomer must
// not take (the store knows them, so a newcomer's first order looked like
// a young account's second). IDs of another form are ignored.
func (g *Generator) ContinueCustomers(last string) {
	if n, ok := parseNumber(last, 'c'); ok && uint32(n) > g.nextID {
		g.nextID = uint32(n)
	}
}

// Warm runs the simulated shop from from to to without emitting anything,
// so that a shop restarted on stored data (which must not backfill its
// history again) still has a customer base with its history to draw live
// buyers from. It does nothing once records have been made.
func (g *Generator) Warm(from, to time.Time) {
	if g.started {
		return
	}
	g.setStart(from)
	end := to.UnixMilli()
	for g.peekTime() < end {
		g.Next()
	}
}
