package fraud

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/shopstream/shopstream/internal/event"
)

// DefaultHighRiskCategories are the departments whose goods resell easily
// and are what stolen cards and hijacked accounts are spent on.
var DefaultHighRiskCategories = []string{"electronics", "phones", "computers", "jewelry", "gift_cards"}

// StateConfig configures a State. The lookups stand in for a GeoIP and a
// card BIN database; they are functions so that this package carries no
// such data and tests can pass tables.
type StateConfig struct {
	// CountryOfIP returns the ISO 3166 alpha-2 country of an IP address,
	// or "" when unknown. Defaults to nil: no IP geography (the IP
	// mismatch features are 0).
	CountryOfIP func(ip string) string
	// CountryOfBIN returns the issuing country of a card BIN, or "".
	// Defaults to nil: no card geography.
	CountryOfBIN func(bin string) string
	// IsHostingIP reports whether an IP address belongs to a datacenter or
	// VPN range. Defaults to nil: hosting_ip is always 0.
	IsHostingIP func(ip string) bool
	// HighRiskCategories lists the categories counted by high_risk_share.
	// Defaults to DefaultHighRiskCategories.
	HighRiskCategories []string
	// CustomerIdle is how long a customer's history is kept after their
	// last purchase before Expire forgets it. It must be at least 24h, the
	// longest window. Defaults to 90 days.
	CustomerIdle time.Duration
}

// WithDefaults returns c with zero fields set to their defaults.
func (c StateConfig) WithDefaults() StateConfig {
	if c.HighRiskCategories == nil {
		c.HighRiskCategories = DefaultHighRiskCategories
	}
	if c.CustomerIdle == 0 {
		c.CustomerIdle = 90 * 24 * time.Hour
	}
	return c
}

// ErrInvalidConfig is wrapped by every error about a configuration value.
var ErrInvalidConfig = errors.New("invalid fraud configuration")

func (c StateConfig) validate() error {
	if c.CustomerIdle < window24h*time.Second {
		return fmt.Errorf("%w: CustomerIdle %s is shorter than the 24h window", ErrInvalidConfig, c.CustomerIdle)
	}
	return nil
}

// Window lengths in seconds.
const (
	window10m = 10 * 60
	window1h  = 60 * 60
	window24h = 24 * 60 * 60
)

// Sizes of the per-key rings and lists. A ring keeps a key's latest events
// in event time, so counts over a window saturate at ring size + 1 (the
// scored transaction): far above every rule's threshold, and a burst big
// enough to saturate is flagged either way. Fixed sizes keep each record a
// flat value: a customer takes 208 bytes however busy it is.
const (
	custRing  = 8
	devRing   = 8
	cardRing  = 8
	ipRing    = 8
	knownKeys = 4 // devices and cards remembered per customer
	knownCCs  = 3 // shipping countries remembered per customer
)

// maxMinutes caps MinutesSinceLast at 30 days.
const maxMinutes = 30 * 24 * 60

// histHorizon is the number of orders after which a customer's amount
// statistics become an exponentially weighted average, so they follow a
// customer whose habits change; globalHorizon is the same for the
// partition's.
const (
	histHorizon   = 50
	globalHorizon = 100_000
)

// priorWeight is how many orders' worth of weight the partition's amount
// statistics carry in a customer's: a first order is compared with what
// customers in general spend, a tenth mostly with the customer's own.
const priorWeight = 3

// minLogVar floors the variance of log amounts (a customer who always
// spends exactly 20.00 would otherwise make 20.01 a huge deviation).
const minLogVar = 0.05

// customer is one customer's history: 208 bytes, no pointers.
type customer struct {
	first, last uint32 // event seconds of the earliest and latest purchase
	n           uint32 // purchases folded in, saturating
	meanLog     float32
	varLog      float32
	meanAmt     float32
	devices     [knownKeys]known // most recently used first
	cards       [knownKeys]known
	ships       [knownCCs]knownCC
	ring        [custRing]custEvent
}

// known is a device or card a customer used, and when first.
type known struct{ fp, first uint32 }

// knownCC is a shipping country a customer used, and when first.
type knownCC struct {
	cc    uint16
	first uint32
}

type custEvent struct {
	sec   uint32
	cents uint32
	card  uint16 // fingerprint, 0 = no card
	dev   uint16
}

type device struct {
	last uint32
	ring [devRing]devEvent
}

type devEvent struct {
	sec  uint32
	card uint16
	cust uint16
}

type card struct {
	last uint32
	ring [cardRing]cardEvent
}

type cardEvent struct {
	sec   uint32
	cents uint32
	cust  uint16
}

type network struct {
	last uint32
	ring [ipRing]ipEvent
}

type ipEvent struct {
	sec  uint32
	cust uint16
}

// keys are the hashed keys and looked-up countries of one transaction.
type keys struct {
	cust, card, dev, ip uint64
	ipCC, binCC         uint16
	hosting             bool
}

// State is the fraud state of one Kafka partition: per customer, card,
// device and IP address, what the features need from the past. The topic is
// keyed by customer, so a customer's history is complete here; a device,
// card or IP address shared by customers of other partitions is seen only
// through this partition's customers, so the device, card and IP counts are
// partial (a lower bound) by design: exact counts would need a second topic
// keyed by device and a join, which costs more than the signal is worth when
// the customer-keyed counts catch the same patterns.
//
// A State is not safe for concurrent use: the partition's goroutine owns
// it, which is what lets the hot path run without locks.
//
// Update depends only on the transactions folded in, so after a rebalance a
// partition's State is rebuilt by replaying its stored transactions (at
// least the last 24 hours, the longest window; longer gives better history
// features) through Update. Memory is bounded: every record has a fixed
// size and Expire drops idle keys.
type State struct {
	cfg      StateConfig
	highRisk []string

	custs   table[customer]
	devices table[device]
	cards   table[card]
	ips     table[network]

	// The partition's amount statistics, the prior for new customers.
	gN       float64
	gMeanLog float64
	gVarLog  float64
	gMeanAmt float64
}

// NewState returns an empty State.
func NewState(cfg StateConfig) (*State, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &State{cfg: cfg, highRisk: cfg.HighRiskCategories,
		// A typical order: about 40 with a log spread of 1, until the
		// partition has seen some orders of its own.
		gMeanLog: math.Log(40), gVarLog: 1, gMeanAmt: 60}, nil
}

// Len reports how many customers, devices, cards and IP addresses the
// state holds.
func (s *State) Len() (customers, devices, cards, ips int) {
	return s.custs.len(), s.devices.len(), s.cards.len(), s.ips.len()
}

// Expire forgets customers idle for longer than CustomerIdle and devices,
// cards and IP addresses idle for more than 24 hours (their features only
// look back a day), as of now in event time, usually the partition's
// watermark. It takes time linear in the number of keys, so call it
// rarely (every few minutes of event time), not per transaction. It
// returns the number of keys forgotten.
func (s *State) Expire(now time.Time) int {
	t := int64(epochSec(now))
	custBefore := t - int64(s.cfg.CustomerIdle/time.Second)
	dayBefore := t - window24h
	n := s.custs.evict(func(c *customer) bool { return int64(c.last) < custBefore })
	n += s.devices.evict(func(d *device) bool { return int64(d.last) < dayBefore })
	n += s.cards.evict(func(c *card) bool { return int64(c.last) < dayBefore })
	n += s.ips.evict(func(c *network) bool { return int64(c.last) < dayBefore })
	return n
}

func (s *State) keysOf(t *event.Transaction) keys {
	k := keys{
		cust: hashString(t.CustomerID),
		card: hashCard(t.Card.BIN, t.Card.Last4),
	}
	if t.DeviceID != "" {
		k.dev = hashString(t.DeviceID)
	}
	if t.IPAddress != "" {
		k.ip = hashString(t.IPAddress)
		if s.cfg.CountryOfIP != nil {
			k.ipCC = country(s.cfg.CountryOfIP(t.IPAddress))
		}
		if s.cfg.IsHostingIP != nil {
			k.hosting = s.cfg.IsHostingIP(t.IPAddress)
		}
	}
	if t.Card.BIN != "" && s.cfg.CountryOfBIN != nil {
		k.binCC = country(s.cfg.CountryOfBIN(t.Card.BIN))
	}
	return k
}

func clampCents(c event.Cents) uint32 {
	switch {
	case c < 0:
		return 0
	case c > math.MaxUint32:
		return math.MaxUint32
	}
	return uint32(c)
}

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
		var cards1h, cards24h, custs [devRing]uint16
		for i, e := range d.ring {
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
			var custs [cardRing]uint16
			for i, e := range c.ring {
				if inWindow(e.sec, now, window24h) {
					v[CardCount24h]++
					v[CardAmount24h] += float64(e.cents) / 100
					custs[i] = e.cust
					if inWindow(e.sec, now, window1h) {
						v[CardCount1h]++
					}
				}
			}
			v[CustomersPerCard24h] = float64(distinct(custs[:], curCust))
		}
	}
	if k.ip != 0 {
		v[IPCount1h], v[CustomersPerIP24h] = 1, 1
		if n := s.ips.get(k.ip); n != nil {
			var custs [ipRing]uint16
			for i, e := range n.ring {
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
	if i := oldest(c.ring[:], now, func(e *custEvent) uint32 { return e.sec }); i >= 0 {
		c.ring[i] = custEvent{sec: now, cents: cents, card: curCard, dev: curDev}
	}

	if k.dev != 0 {
		d := s.devices.put(k.dev)
		d.last = max(d.last, now)
		if i := oldest(d.ring[:], now, func(e *devEvent) uint32 { return e.sec }); i >= 0 {
			d.ring[i] = devEvent{sec: now, card: curCard, cust: curCust}
		}
	}
	if k.card != 0 {
		c := s.cards.put(k.card)
		c.last = max(c.last, now)
		if i := oldest(c.ring[:], now, func(e *cardEvent) uint32 { return e.sec }); i >= 0 {
			c.ring[i] = cardEvent{sec: now, cents: cents, cust: curCust}
		}
	}
	if k.ip != 0 {
		n := s.ips.put(k.ip)
		n.last = max(n.last, now)
		if i := oldest(n.ring[:], now, func(e *ipEvent) uint32 { return e.sec }); i >= 0 {
			n.ring[i] = ipEvent{sec: now, cust: curCust}
		}
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
