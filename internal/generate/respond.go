package generate

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// Exposure is what the shop's site showed a customer: recommended
// products, chosen by a named recommender.
type Exposure struct {
	// CustomerID is the customer as the records name them ("c00000042").
	CustomerID string
	// At is when they were shown, on the generator's clock.
	At time.Time
	// Products are the product IDs shown ("p000123"); IDs the catalogue
	// does not hold are ignored.
	Products []string
	// Recommender names what chose them; Response.Better gets the uplift.
	Recommender string
}

// Exposures hands the generator what customers were shown. The caller
// fills it (in `shopstream run`, from the recommendation service's
// answers), so the generator itself stays free of I/O; it is drained at
// the start of every Next and NextAt, from the generator's goroutine.
type Exposures interface {
	// Drain appends the exposures made since the last call to buf and
	// returns it.
	Drain(buf []Exposure) []Exposure
}

// Response is how simulated customers respond to recommendations: an
// exposed customer comes back and buys one of the products shown (drawn
// uniformly) with probability Rate, or Rate × (1 + Uplift) when the
// Better recommender chose them, after a delay drawn from an exponential
// of mean Delay. The zero value (no Exposures) turns responses off.
type Response struct {
	// Exposures is the source of exposures; nil turns responses off.
	Exposures Exposures
	// Rate is the chance an exposed customer buys a product shown.
	// Defaults to 0.2.
	Rate float64
	// Better names the recommender whose exposures convert more, by
	// Uplift; "" for none.
	Better string
	// Uplift is the relative increase of Rate for Better, e.g. 0.1.
	Uplift float64
	// Delay is the mean time from exposure to the purchase. Defaults to
	// 5 minutes.
	Delay time.Duration
}

func (r Response) withDefaults() Response {
	if r.Rate == 0 {
		r.Rate = 0.2
	}
	if r.Delay == 0 {
		r.Delay = 5 * time.Minute
	}
	return r
}

func (r Response) validate() error {
	switch {
	case !(r.Rate > 0 && r.Rate <= 1):
		return fmt.Errorf("generate: Response.Rate must be in (0, 1], got %v", r.Rate)
	case !(r.Uplift >= 0) || r.Rate*(1+r.Uplift) > 1:
		return fmt.Errorf("generate: Response.Uplift must be at least 0 and keep Rate × (1 + Uplift) at most 1, got %v", r.Uplift)
	case r.Delay < 0:
		return fmt.Errorf("generate: Response.Delay must not be negative, got %v", r.Delay)
	}
	return nil
}

// maxResponses bounds the scheduled responses.
const maxResponses = 1 << 16

// streamResponses seeds the responses' own random stream, so a run
// without exposures makes the same records as before.
const streamResponses = 0x72657370 // "resp"

// takeExposures schedules the responses to the exposures made since the
// last call.
func (g *Generator) takeExposures() {
	src := g.cfg.Response.Exposures
	if src == nil {
		return
	}
	g.exposures = src.Drain(g.exposures[:0])
	if len(g.exposures) == 0 {
		return
	}
	if g.slotOf == nil {
		g.slotOf = make(map[uint32]int32, len(g.cust))
		for s := range g.cust {
			g.slotOf[g.cust[s].id] = int32(s)
		}
	}
	rc := &g.cfg.Response
	for i := range g.exposures {
		x := &g.exposures[i]
		id, ok := parseNumber(x.CustomerID, 'c')
		if !ok {
			continue
		}
		s, ok := g.slotOf[uint32(id)]
		if !ok {
			continue // churned since, or not one of ours
		}
		var shown []uint32
		for _, p := range x.Products {
			if n, ok := parseNumber(p, 'p'); ok && n >= 1 && n <= uint64(len(g.cat.price)) {
				shown = append(shown, uint32(n-1))
			}
		}
		if len(shown) == 0 {
			continue
		}
		p := rc.Rate
		if rc.Better != "" && x.Recommender == rc.Better {
			p *= 1 + rc.Uplift
		}
		if g.rr.Float64() >= p {
			continue
		}
		due := x.At.UnixMilli() + int64(g.rr.ExpFloat64()*float64(rc.Delay.Milliseconds()))
		g.responses.push(campaign{due: due, slot: s, cust: uint32(id), product: shown[g.rr.IntN(len(shown))]})
	}
}

// parseNumber reads an ID made of prefix and a decimal number.
func parseNumber(id string, prefix byte) (uint64, bool) {
	if len(id) < 2 || id[0] != prefix {
		return 0, false
	}
	n, err := strconv.ParseUint(id[1:], 10, 32)
	return n, err == nil && n < math.MaxUint32
}

// emitResponse emits the scheduled response at the top of g.responses:
// a one-line order of the product shown, by its customer if they are
// still a customer.
func (g *Generator) emitResponse(ms int64) (Record, bool) {
	c := g.responses.h[0]
	g.responses.pop()
	s := int(c.slot)
	if g.cust[s].id != c.cust {
		return Record{}, false
	}
	g.forced = c.product + 1
	g.buildLegit(s, ms, true)
	g.forced = 0
	rec := g.finish(ms, "", "")
	g.cust[s].lastAt = uint32(max(ms/1000, 1))
	g.afterGood(rec, ms)
	return rec, true
}
