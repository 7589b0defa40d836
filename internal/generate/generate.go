package generate

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"time"
	"unsafe"

	"github.com/shopstream/shopstream/internal/event"
	"github.com/shopstream/shopstream/internal/quality"
)

// DefaultStart is where the simulated clock starts when Config.Start is
// zero. It is a fixed instant rather than "now" so that the same seed and
// flags give byte-identical output.
var DefaultStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// The fraud scenarios. The name travels out of band (Record.Scenario, the
// shopstream-scenario header, the labels file), never inside the event.
const (
	// CardTesting is a burst of small charges from one new account and one
	// device, each with a different card, checking which stolen cards work.
	CardTesting = "card_testing"
	// AccountTakeover is an existing customer's account used from a new
	// device and network abroad, shipping to a new country, for a few
	// orders of expensive goods on the saved card.
	AccountTakeover = "account_takeover"
	// StolenCard is a new account buying resellable electronics with a card
	// whose holder's address is entered as billing, often shipped elsewhere.
	StolenCard = "stolen_card"
	// BotBurst is a bot hammering one hyped product from one account, tens
	// of orders a minute from rotating devices and datacenter addresses.
	BotBurst = "bot_burst"
	// GeoMismatch is an order whose network, card issuer and destination are
	// in three different countries.
	GeoMismatch = "geo_mismatch"
)

// Scenarios lists the fraud scenarios in a fixed order.
var Scenarios = []string{CardTesting, AccountTakeover, StolenCard, BotBurst, GeoMismatch}

// DefaultFraudMix is each scenario's default share of fraudulent records.
var DefaultFraudMix = map[string]float64{
	CardTesting:     0.25,
	AccountTakeover: 0.20,
	StolenCard:      0.20,
	BotBurst:        0.20,
	GeoMismatch:     0.15,
}

// BadKinds lists the kinds of bad record the generator can make: one per
// data-quality check it can trip, named by the check's Reason.
var BadKinds = []quality.Reason{
	quality.MalformedJSON, quality.WrongType, quality.MissingField, quality.NegativeAmount,
	quality.TotalMismatch, quality.UnknownCurrency, quality.UnknownCountry,
	quality.FutureTimestamp, quality.DuplicateID, quality.InvalidText, quality.InvalidCard,
	quality.TooManyDecimals, quality.EmptyRecord,
}

// DefaultBadKinds are the kinds made when Config.BadKinds is not set: all
// but empty_record, which a JSON-lines file cannot tell from a blank line
// (ask for it by name when writing to Kafka).
var DefaultBadKinds = BadKinds[: len(BadKinds)-1 : len(BadKinds)-1]

// Config describes the synthetic shop. The zero value, after WithDefaults,
// is a valid shop.
type Config struct {
	// Seed seeds every random choice: the same Config gives the same records.
	// Zero is a valid seed.
	Seed int64
	// Customers is the size of the active customer base. A customer who
	// churns is replaced by a newly acquired one (with a new ID), so the base
	// stays this size while cohorts keep arriving; memory is about 50 bytes
	// per customer. Defaults to 10,000.
	Customers int
	// Products is the size of the catalogue, at least 50. Defaults to 2,000.
	Products int
	// SeqBase is where the transactions' sequence numbers start, which
	// with the seed make their IDs. A generator restarted over the
	// records of an earlier one with the same seed (`shopstream run` on
	// its stored data) starts beyond them: its transaction IDs are new,
	// while its customers, their devices, cards and countries are the
	// ones stored. 0 for a fresh stream.
	SeqBase uint64
	// FraudRate is the share of good records that are fraud. Defaults to
	// 0.01 when zero; set it below zero for no fraud. At most 0.5.
	FraudRate float64
	// FraudMix weights the scenarios by their share of fraudulent records;
	// names not listed get none. Defaults to DefaultFraudMix.
	FraudMix map[string]float64
	// BadRate is the share of all records that are bad. Defaults to 0.
	BadRate float64
	// BadKinds are the kinds of bad record to make, drawn uniformly.
	// Defaults to DefaultBadKinds.
	BadKinds []quality.Reason
	// Start is the event time of the first record of the simulated clock
	// (Next). Defaults to DefaultStart. Run moves an unset Start to
	// now − History.
	Start time.Time
	// Currency is the shop's one settlement currency: every amount is in it,
	// so amounts compare across customers. Defaults to "USD".
	Currency string
	// Response makes customers respond to the recommendations they were
	// shown; off unless Response.Exposures is set.
	Response Response
	// Lifecycle, when set, makes the customer base grow by acquisition and
	// follow the BG/NBD story (see Lifecycle); Customers then bounds the
	// base. Defaults to nil: a stationary base of Customers customers.
	Lifecycle *Lifecycle
	// Geography, when set, writes every address and BIN as a real one
	// that real lookups place where the invented plan does (geo.go).
	// Defaults to nil: the invented plan, which only the synthetic tables
	// (CountryOfIP, IsHostingIP, CountryOfBIN) understand.
	Geography *Geography
}

// WithDefaults returns c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	if c.Customers == 0 {
		c.Customers = 10_000
	}
	if c.Products == 0 {
		c.Products = 2_000
	}
	if c.FraudRate == 0 {
		c.FraudRate = 0.01
	}
	if c.FraudMix == nil {
		c.FraudMix = DefaultFraudMix
	}
	if c.BadKinds == nil {
		c.BadKinds = DefaultBadKinds
	}
	if c.Start.IsZero() {
		c.Start = DefaultStart
	}
	if c.Currency == "" {
		c.Currency = "USD"
	}
	if c.Response.Exposures != nil {
		c.Response = c.Response.withDefaults()
	}
	return c
}

func twoDecimals(currency string) bool {
	d, _ := event.CurrencyDigits(currency)
	return d == 2
}

// Validate reports the first invalid field of c, by name.
func (c Config) Validate() error {
	switch {
	case c.Customers < 1 || c.Customers > 50_000_000:
		return fmt.Errorf("generate: Customers must be between 1 and 50,000,000, got %d", c.Customers)
	case c.Products < 50 || c.Products > 10_000_000:
		return fmt.Errorf("generate: Products must be between 50 and 10,000,000, got %d", c.Products)
	case math.IsNaN(c.FraudRate) || c.FraudRate > 0.5:
		return fmt.Errorf("generate: FraudRate must be at most 0.5, got %v", c.FraudRate)
	case math.IsNaN(c.BadRate) || c.BadRate < 0 || c.BadRate > 1:
		return fmt.Errorf("generate: BadRate must be between 0 and 1, got %v", c.BadRate)
	case !quality.KnownCurrency(c.Currency):
		return fmt.Errorf("generate: Currency %q is not a currency the quality checks accept", c.Currency)
	case !twoDecimals(c.Currency):
		return fmt.Errorf("generate: Currency %q does not have two decimals, the only amounts the generator writes", c.Currency)
	}
	total := 0.0
	names := make([]string, 0, len(c.FraudMix))
	for name := range c.FraudMix {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		w := c.FraudMix[name]
		if scenarioIndex(name) < 0 {
			return fmt.Errorf("generate: FraudMix names unknown scenario %q (known: %v)", name, AllScenarios)
		}
		if !(w >= 0) || math.IsInf(w, 0) {
			return fmt.Errorf("generate: FraudMix weight of %s must be a non-negative number, got %v", name, w)
		}
		total += w
	}
	if c.FraudRate > 0 && total == 0 {
		return errors.New("generate: FraudMix gives every scenario zero weight but FraudRate is positive")
	}
	if c.BadRate > 0 && len(c.BadKinds) == 0 {
		return errors.New("generate: BadKinds is empty but BadRate is positive")
	}
	for _, k := range c.BadKinds {
		if badIndex(k) < 0 {
			return fmt.Errorf("generate: BadKinds names %q, which the generator cannot make (known: %v)", k, BadKinds)
		}
	}
	if c.Lifecycle != nil {
		if err := c.Lifecycle.validate(); err != nil {
			return err
		}
	}
	if c.Response.Exposures != nil {
		return c.Response.validate()
	}
	return nil
}

func scenarioIndex(name string) int {
	for i, s := range AllScenarios {
		if s == name {
			return i
		}
	}
	return -1
}

func badIndex(k quality.Reason) int {
	for i, b := range BadKinds {
		if b == k {
			return i
		}
	}
	return -1
}

// Record is one generated record: the Kafka key and value, and the labels
// that travel out of band so the scorer never sees them.
//
// Key and TransactionID share memory with Value, which the generator never
// touches again; sinks must treat all three as read-only.
type Record struct {
	Key   []byte // customer ID, the Kafka key
	Value []byte // the encoded event, or the bad bytes
	// EventTime is when the record was made, in event time (millisecond
	// precision), the order Next keeps. It equals the event's event_time
	// except in a future_timestamp record (which claims a later time) and a
	// duplicate_id record (which repeats an earlier one).
	EventTime     time.Time
	TransactionID string
	// AmountCents is the total of a good record; zero for a bad one.
	AmountCents event.Cents
	// Fraud and Scenario label fraudulent records; Scenario is "" when legit.
	Fraud    bool
	Scenario string
	// Honest names what makes an honest (legit) record look odd: a split
	// order seconds after another, a gift shipped abroad, a shared device;
	// 0 for a plain one and for fraud and bad records.
	Honest Honest
	// Bad is the check a bad record was made to fail, "" when good. A
	// duplicate_id record repeats the exact bytes, and so the
	// TransactionID, of one of the last 64 good records.
	Bad quality.Reason
}

// Label is "bad", "fraud" or "legit".
func (r Record) Label() string {
	switch {
	case r.Bad != "":
		return "bad"
	case r.Fraud:
		return "fraud"
	}
	return "legit"
}

// Generator is the synthetic shop. It owns a simulated clock and is not
// safe for concurrent use.
type Generator struct {
	cfg        Config
	r          *rand.Rand
	cat        *catalogue
	cust       []customer
	groups     []group
	fen        fenwick
	marketCum  []float64
	nextID     uint32  // last customer number handed out
	acquired   int64   // Lifecycle: customers acquired so far
	liveFirst  float64 // Lifecycle: share of live orders by newcomers, set when live begins
	seq        uint64  // transactions made
	idKey      uint64  // keys transaction and device IDs to the seed
	startMs    int64
	startGiven bool
	started    bool
	clock      int64     // event time of the last record, ms
	legitNext  int64     // simulated time of the next regular purchase
	legitStale bool      // legitNext must be redrawn from clock
	live       bool      // the caller sets event times (NextAt): see liveCooldown
	campaigns  eventHeap // fraud campaigns
	followUps  eventHeap // honest quick second orders
	responses  eventHeap // purchases of recommended products (Config.Response)

	rr        *rand.Rand       // the responses' own stream
	exposures []Exposure       // drained from Config.Response.Exposures
	slotOf    map[uint32]int32 // customer number to slot, once exposures come
	forced    uint32           // product + 1 that buildLegit must start with

	// duplicates repeat one of the last dupRing good records
	ring  [dupRing]Record
	ringN int
	ringI int

	buf []byte
	tx  txn

	plan *realPlan // Config.Geography compiled; nil: the invented plan

	campaignProb float64   // chance a good legit record starts a campaign
	replayTo     int64     // CatchUp sends what is due before this (ms); 0: nothing
	scenCum      []float64 // cumulative campaign weights by scenario
	badProb      float64   // chance a regular slot becomes a bad record
	badKinds     []quality.Reason
	hasDup       bool

	// seasonality cache, valid for one UTC hour
	seasonHour  int64
	seasonDirty bool
	annualDay   int64
	annual      float64
	gw          []float64 // per group: rate sum × season
	gwSum       float64
	ratePerMs   float64
}

// New builds the shop described by cfg (after WithDefaults): the
// catalogue, the customer base and the fraud and bad-record rates.
func New(cfg Config) (*Generator, error) {
	startGiven := !cfg.Start.IsZero()
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	g := &Generator{
		cfg:         cfg,
		r:           newRand(cfg.Seed, streamEvents),
		startGiven:  startGiven,
		idKey:       mix64(uint64(cfg.Seed) ^ 0x5bd1e995),
		seq:         cfg.SeqBase,
		buf:         make([]byte, 0, 4096),
		marketCum:   cumulative(geo.marketW),
		seasonHour:  math.MinInt64,
		annualDay:   math.MinInt64,
		seasonDirty: true,
		campaigns:   eventHeap{max: maxCampaigns},
		followUps:   eventHeap{max: maxFollowUps},
		responses:   eventHeap{max: maxResponses},
		rr:          newRand(cfg.Seed, streamResponses),
	}
	if cfg.Geography != nil {
		p, err := compileGeography(cfg.Geography)
		if err != nil {
			return nil, err
		}
		g.plan = p
	}
	g.setStart(cfg.Start)
	g.cat = newCatalogue(newRand(cfg.Seed, streamCatalogue), cfg.Products)
	g.buildCustomers(cfg.Customers, newRand(cfg.Seed, streamCustomers))
	g.gw = make([]float64, len(g.groups))

	if cfg.FraudRate > 0 {
		rho := cfg.FraudRate / (1 - cfg.FraudRate)
		specs := append(append([]scenarioSpec(nil), scenarioTable...), crossTable...)
		w := make([]float64, len(specs))
		total := 0.0
		for _, s := range specs { // in a fixed order: runs must not depend on map order
			total += cfg.FraudMix[s.name]
		}
		for i, s := range specs {
			w[i] = rho * cfg.FraudMix[s.name] / total / s.meanLen()
			g.campaignProb += w[i]
		}
		g.scenCum = cumulative(w)
	}
	if cfg.BadRate > 0 {
		g.badKinds = cfg.BadKinds
		if cfg.BadRate >= 1 {
			g.badProb = 1
		} else {
			rho := 0.0
			if cfg.FraudRate > 0 {
				rho = cfg.FraudRate / (1 - cfg.FraudRate)
			}
			x := cfg.BadRate / (1 - cfg.BadRate) * (1 + followUp) * (1 + rho)
			g.badProb = x / (1 + x)
		}
		for _, k := range g.badKinds {
			g.hasDup = g.hasDup || k == quality.DuplicateID
		}
	}
	return g, nil
}

// setStart moves the simulated clock's origin; only before the first record.
func (g *Generator) setStart(t time.Time) {
	g.startMs = t.UnixMilli()
	g.clock = g.startMs
	g.cfg.Start = time.UnixMilli(g.startMs).UTC()
}

// Next returns the next record in event-time order on the simulated clock.
// Regular purchases arrive as the customers' buy-till-you-die processes,
// modulated by seasonality, dictate; fraud campaigns and quick follow-up
// orders are interleaved at their own times. The first record falls at
// Config.Start.
func (g *Generator) Next() Record {
	g.live = false
	g.takeExposures()
	if !g.started {
		g.started = true
		g.legitNext = g.startMs
	} else if g.legitStale {
		g.legitNext = g.drawAfter(g.clock)
	}
	g.legitStale = false
	for g.nextPending().due() <= g.legitNext {
		due := g.nextPending().due()
		if due < g.clock {
			due = g.clock
		}
		if rec, ok := g.emitPending(due); ok {
			return rec
		}
	}
	t := g.legitNext
	if t < g.clock {
		t = g.clock
	}
	g.clock = t
	rec := g.emitSlot(t)
	g.legitNext = g.drawAfter(t)
	return rec
}

// NextAt returns the next record with event time t (truncated to the
// millisecond), for live mode: the caller sets the pace and passes the wall
// clock. Due fraud and follow-up events go first; otherwise the buyer is
// drawn in proportion to the customers' seasonal purchase rates at t.
func (g *Generator) NextAt(t time.Time) Record {
	ms := t.UnixMilli()
	g.live = true
	g.takeExposures()
	g.started = true
	g.legitStale = true
	g.clock = ms
	for g.nextPending().due() <= ms {
		if rec, ok := g.emitPending(ms); ok {
			return rec
		}
	}
	return g.emitSlot(ms)
}

// peekTime is the event time Next would give next.
func (g *Generator) peekTime() int64 {
	t := g.startMs
	if g.started {
		if g.legitStale {
			g.legitNext = g.drawAfter(g.clock)
			g.legitStale = false
		}
		t = g.legitNext
	}
	if d := g.nextPending().due(); d < t {
		t = d
	}
	if t < g.clock {
		t = g.clock
	}
	return t
}

// refresh brings the seasonal group weights up to date for time ms.
func (g *Generator) refresh(ms int64) {
	h := floorDiv(ms, msPerHour)
	if h == g.seasonHour && !g.seasonDirty {
		return
	}
	if day := floorDiv(h, 24); day != g.annualDay {
		g.annualDay = day
		g.annual = annualFactor(day)
	}
	how := hourOfWeek(ms)
	sum := 0.0
	for i := range g.groups {
		w := float64(g.groups[i].weight+g.groups[i].acq) * g.groups[i].season[how]
		g.gw[i] = w
		sum += w
	}
	g.gwSum = sum
	g.seasonHour = h
	g.seasonDirty = false
	g.ratePerMs = sum * g.annual / rateUnit / float64(msPerDay)
}

// drawAfter draws the time of the next regular purchase after t from the
// superposition of all customers' Poisson processes. The intensity is
// constant within an hour, so the draw is exact: spend an Exp(1) budget of
// integrated intensity hour by hour.
func (g *Generator) drawAfter(t int64) int64 {
	e := g.r.ExpFloat64()
	for {
		g.refresh(t)
		end := (floorDiv(t, msPerHour) + 1) * msPerHour
		if g.ratePerMs > 0 {
			need := e / g.ratePerMs
			if need < float64(end-t) {
				return t + int64(need)
			}
			e -= g.ratePerMs * float64(end-t)
		}
		t = end
	}
}

// pickBuyer draws the customer slot of the next regular purchase at ms, in
// proportion to each customer's rate times their profile's seasonal factor.
// With a Lifecycle, arrivals compete with the customers' purchases: the
// draw may be a newcomer, acquired into a slot for a first purchase.
func (g *Generator) pickBuyer(ms int64) int {
	gi, u := g.pickGroup(ms)
	gr := &g.groups[gi]
	if u < gr.acq {
		return g.acquire(gi)
	}
	return gr.off + g.groupTree(gi).find(u-gr.acq)
}

// pickCustomer draws an existing customer as pickBuyer does, for the
// orders that are not a regular purchase (fraud victims, bad records):
// these do not acquire anyone unless the shop is still empty.
func (g *Generator) pickCustomer(ms int64) int {
	for range 64 {
		gi, u := g.pickGroup(ms)
		if gr := &g.groups[gi]; u >= gr.acq {
			return gr.off + g.groupTree(gi).find(u-gr.acq)
		}
	}
	return g.pickBuyer(ms)
}

// pickGroup draws a group in proportion to its seasonal weight, and a
// point u in [0, arrivals + rates) of it.
func (g *Generator) pickGroup(ms int64) (int, int64) {
	g.refresh(ms)
	u := g.r.Float64() * g.gwSum
	gi := -1
	for i, w := range g.gw {
		if w > 0 {
			gi = i
			if u < w {
				break
			}
			u -= w
		}
	}
	gr := &g.groups[gi]
	return gi, g.r.Int64N(gr.weight + gr.acq)
}

// liveCooldown is how long, in seconds, an honest customer waits before
// ordering again in live mode (NextAt): a day, as real customers rarely
// order twice in one (split and add-on orders, and responses to
// recommendations, are follow-ups and come on their own). With a shorter
// one the heaviest buyers came back as soon as it ended, and at 30
// minutes a third of live orders followed the customer's previous one
// within the hour after 50 minutes, which the velocity and new-account
// rules flag. When the whole base is cooling down, the buyer is the one
// whose last order is the oldest among the redraws.
const liveCooldown = 24 * 60 * 60

// liveRedraws bounds the redraws of a buyer still in the cooldown, with a
// Lifecycle.
const liveRedraws = 512

// cooling reports whether slot s's customer ordered within liveCooldown
// of ms.
func (g *Generator) cooling(s int, ms int64) bool {
	c := &g.cust[s]
	return c.lastAt != 0 && int64(c.lastAt)+liveCooldown > ms/1000
}

// emitSlot fills a regular purchase slot: a bad record or a legit order.
func (g *Generator) emitSlot(ms int64) Record {
	if g.badProb > 0 && g.r.Float64() < g.badProb {
		if rec, ok := g.emitBad(ms); ok {
			return rec
		}
	}
	var s int
	if g.live && g.cfg.Lifecycle != nil {
		s = g.pickLive(ms)
	} else {
		s = g.pickBuyer(ms)
	}
	if g.live && g.cooling(s, ms) {
		// At a forced rate the buyers' own cadence is compressed (a live
		// stream of 1,000/s over a million customers is one order every
		// 17 minutes each, where real customers order monthly). Keep
		// honest customers from ordering again within liveCooldown, as
		// real ones don't, by drawing another buyer a few times.
		if g.cfg.Lifecycle == nil {
			for try := 0; try < 8 && g.cooling(s, ms); try++ {
				s = g.pickBuyer(ms)
			}
		} else {
			// Whether the order is a newcomer's first was settled by the
			// first draw, so the share of first orders stays the shop's;
			// the redraws are among the customers buying now, uniformly,
			// since the heaviest buyers are the ones still cooling down.
			// When the rate is too high for the base to keep the cooldown,
			// the one who ordered longest ago buys.
			for try := 0; try < liveRedraws; try++ {
				o := g.r.IntN(len(g.cust))
				if g.cust[o].rate == 0 || g.cust[o].lastAt >= g.cust[s].lastAt {
					continue
				}
				s = o
				if !g.cooling(s, ms) {
					break
				}
			}
		}
	}
	g.buildLegit(s, ms, false)
	rec := g.finish(ms, "", "")
	g.afterPurchase(s, ms)
	g.afterGood(rec, ms)
	return rec
}

// afterGood runs after every good legit record: it may start a fraud
// campaign, and it remembers the record for duplicates.
func (g *Generator) afterGood(rec Record, ms int64) {
	if g.hasDup {
		g.ring[g.ringI] = rec
		g.ringI = (g.ringI + 1) % dupRing
		g.ringN = min(g.ringN+1, dupRing)
	}
	if g.campaignProb > 0 && g.r.Float64() < g.campaignProb {
		g.startCampaign(ms, pick(g.r, g.scenCum))
	}
}

// afterPurchase advances the buyer's life: a possible quick follow-up
// order, and the chance to churn, which hands the slot to a new customer.
func (g *Generator) afterPurchase(s int, ms int64) {
	c := &g.cust[s]
	c.lastAt = uint32(max(ms/1000, 1))
	if c.purchases < math.MaxUint16 {
		c.purchases++
	}
	switch u := g.r.Float64(); {
	case u < followUp:
		g.followUps.push(campaign{
			due:  ms + 60_000 + int64(g.r.ExpFloat64()*480_000),
			slot: int32(s),
			cust: c.id,
		})
	case u < followUp+splitProb:
		g.followUps.push(campaign{
			due:   ms + 5_000 + min(int64(g.r.ExpFloat64()*15_000), 55_000),
			slot:  int32(s),
			cust:  c.id,
			split: true,
		})
	}
	if g.cfg.Lifecycle != nil {
		// BG/NBD: dropout comes only right after a repeat purchase.
		if c.purchases > 1 && uint16(g.r.Uint32()) < c.churn {
			g.dropOut(s)
		}
		return
	}
	if uint16(g.r.Uint32()) < c.churn {
		g.replace(s)
	}
}

// finish encodes g.tx and wraps it in a Record with its labels.
func (g *Generator) finish(ms int64, scenario string, bad quality.Reason) Record {
	b, ks, ke, is, ie := g.encode(g.buf[:0], &g.tx)
	g.buf = b
	var v []byte
	if d, ok := g.damage(b, bad); ok {
		b, ks, ke, is, ie = d, 0, 0, 0, 0
	}
	if b != nil {
		v = make([]byte, len(b))
		copy(v, b)
	}
	rec := Record{
		Value:     v,
		EventTime: time.UnixMilli(ms).UTC(),
		Fraud:     scenario != "",
		Scenario:  scenario,
		Bad:       bad,
	}
	if ke > ks {
		rec.Key = v[ks:ke:ke]
	} else {
		rec.Key = appendCustomerID(nil, g.tx.cust)
	}
	if ie > is {
		// v is never written again, so the ID may share its bytes.
		rec.TransactionID = unsafe.String(&v[is], ie-is)
	} else {
		rec.TransactionID = string(g.appendTxID(nil, g.tx.seq))
	}
	if bad == "" {
		rec.AmountCents = event.Cents(g.tx.total)
		if scenario == "" {
			rec.Honest = g.tx.honest
		}
	}
	return rec
}
