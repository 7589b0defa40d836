package fraud

import (
	"math"
	"time"

	"github.com/shopstream/shopstream/internal/event"
)

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
// flat value: a customer takes 240 bytes however busy it is.
const (
	custRing  = 8
	knownKeys = 4 // devices, cards and shipping addresses remembered per customer
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

// customer is one customer's history: 240 bytes, no pointers.
type customer struct {
	first, last uint32 // event seconds of the earliest and latest purchase
	n           uint32 // purchases folded in, saturating
	meanLog     float32
	varLog      float32
	meanAmt     float32
	devices     [knownKeys]known // most recently used first
	cards       [knownKeys]known
	ships       [knownCCs]knownCC
	addrs       [knownKeys]known // shipping addresses, by their key
	ring        [custRing]custEvent
}

// known is a device, card or shipping address a customer used, and when
// first.
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

// device, card and network are an entity's record (see entity): 16, 20
// and 16 bytes, and a ring of 8 events in a pool once seen twice.
type (
	device  = entity[devEvent]
	card    = entity[cardEvent]
	network = entity[ipEvent]
)

type devEvent struct {
	sec  uint32
	card uint16
	cust uint16
}

type cardEvent struct {
	sec   uint32
	cents uint32
	cust  uint16
}

type ipEvent struct {
	sec  uint32
	cust uint16
}

// keys are the hashed keys and looked-up countries of one transaction.
type keys struct {
	cust, card, dev, ip uint64
	addr                uint64 // the shipping address's key, hashed
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
// size, Expire drops idle keys, and MaxCustomers and MaxEntities bound how
// many keys are kept however many are active (the least recently seen go
// first, as Update folds in a new one).
type State struct {
	cfg      StateConfig
	highRisk []string

	custs   table[customer]
	devices table[device]
	cards   table[card]
	ips     table[network]

	// The spilled rings of the devices, cards and IP addresses.
	devRings  ringPool[devEvent]
	cardRings ringPool[cardEvent]
	ipRings   ringPool[ipEvent]

	// The partition's amount statistics, the prior for new customers.
	gN       float64
	gMeanLog float64
	gVarLog  float64
	gMeanAmt float64

	// Each table's bytes per record in the last encoding
	// (AppendBinary), to cut the next one in halves and size their
	// buffers.
	recBytes [4]float64
}

// NewState returns an empty State.
func NewState(cfg StateConfig) (*State, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &State{cfg: cfg, highRisk: cfg.HighRiskCategories,
		// A typical order: about 40 with a log spread of 1, until the
		// partition has seen some orders of its own.
		gMeanLog: math.Log(40), gVarLog: 1, gMeanAmt: 60}
	s.hook()
	s.bound()
	return s, nil
}

// hook has the entity tables return the rings of what they forget to the
// state's pools.
func (s *State) hook() {
	s.devices.release = s.devRings.release
	s.cards.release = s.cardRings.release
	s.ips.release = s.ipRings.release
}

// bound bounds the tables by the configuration (see StateConfig), and
// returns how many keys that forgot.
func (s *State) bound() int {
	return s.custs.bound(s.cfg.MaxCustomers, func(c *customer) uint32 { return c.last }) +
		s.devices.bound(s.cfg.MaxEntities, func(d *device) uint32 { return d.last }) +
		s.cards.bound(s.cfg.MaxEntities, func(c *card) uint32 { return c.last }) +
		s.ips.bound(s.cfg.MaxEntities, func(n *network) uint32 { return n.last })
}

// Bounded reports how many customers and how many devices, cards and IP
// addresses (together) were forgotten so far because the state held
// MaxCustomers or MaxEntities of them.
func (s *State) Bounded() (customers, entities int) {
	return s.custs.capped, s.devices.capped + s.cards.capped + s.ips.capped
}

// Len reports how many customers, devices, cards and IP addresses the
// state holds.
func (s *State) Len() (customers, devices, cards, ips int) {
	return s.custs.len(), s.devices.len(), s.cards.len(), s.ips.len()
}

// Expire forgets customers idle for longer than CustomerIdle and devices,
// cards and IP addresses idle for more than 24 hours (their features only
// look back a day), as of now in event time, usually the partition's
// watermark. A bounded table (MaxCustomers, MaxEntities: the default)
// takes its stale keys from the top of its heap, least recently seen
// first, at a cost in the keys forgotten; an unbounded one is walked
// whole, in time linear in its keys, so call it rarely (every few minutes
// of event time), not per transaction. It returns the number of keys
// forgotten.
func (s *State) Expire(now time.Time) int {
	return s.expire(now, -1)
}

// ExpireSome is Expire spread over calls for the unbounded tables: it
// looks at the next slots records of each only (going round the tables
// call after call); a bounded table forgets all its stale keys from its
// heap as Expire does.
// Called every so many transactions with slots a small multiple of them,
// it keeps the state as bounded as Expire does at a cost per transaction
// that does not grow with the number of keys: a partition of a million
// customers no longer stops to walk them all. Features never see what
// is due to be forgotten but not yet visited: a customer idle for longer
// than CustomerIdle is new again either way (see liveCustomer), and the
// device, card and IP features only count events of the last 24 hours.
func (s *State) ExpireSome(now time.Time, slots int) int {
	return s.expire(now, slots)
}

func (s *State) expire(now time.Time, slots int) int {
	t := int64(epochSec(now))
	custBefore := t - int64(s.cfg.CustomerIdle/time.Second)
	dayBefore := t - window24h
	n := evictFrom(&s.custs, func(c *customer) bool { return int64(c.last) < custBefore }, slots)
	n += evictFrom(&s.devices, func(d *device) bool { return int64(d.last) < dayBefore }, slots)
	n += evictFrom(&s.cards, func(c *card) bool { return int64(c.last) < dayBefore }, slots)
	n += evictFrom(&s.ips, func(c *network) bool { return int64(c.last) < dayBefore }, slots)
	s.devRings.compact(&s.devices)
	s.cardRings.compact(&s.cards)
	s.ipRings.compact(&s.ips)
	return n
}

// evictFrom evicts from t what is stale: a bounded table, whose heap holds
// its records least recently seen first, all of it from the heap's top
// (stale is "last seen before", so the stale records are the heap's
// least); else all of it with slots < 0, or among the next slots records.
func evictFrom[T any](t *table[T], stale func(*T) bool, slots int) int {
	switch {
	case t.max > 0:
		return t.evictOldest(stale)
	case slots < 0:
		return t.evict(stale)
	}
	return t.evictSome(stale, slots)
}

// idleCustomer reports whether c, last seen at last, is forgotten at now:
// idle for longer than CustomerIdle, whether or not Expire has removed it
// yet.
func (s *State) idleCustomer(last, now uint32) bool {
	return int64(now)-int64(last) > int64(s.cfg.CustomerIdle/time.Second)
}

func (s *State) keysOf(t *event.Transaction) keys {
	k := keys{
		cust: hashString(t.CustomerID),
		card: hashCard(t.Card.BIN, t.Card.Last4),
	}
	if t.DeviceID != "" {
		k.dev = hashString(t.DeviceID)
	}
	if event.IsHashedIP(t.IPAddress) {
		// Hashed with a key before it came here: its geography came
		// with it.
		k.ip = hashString(t.IPAddress)
		k.ipCC = country(t.IPCountry)
		k.hosting = t.IPHosting
	} else if t.IPAddress != "" {
		k.ip = hashString(t.IPAddress)
		if s.cfg.CountryOfIP != nil {
			k.ipCC = country(s.cfg.CountryOfIP(t.IPAddress))
		}
		if s.cfg.IsHostingIP != nil {
			k.hosting = s.cfg.IsHostingIP(t.IPAddress)
		}
	}
	if a := t.ShippingAddress; a != "" {
		k.addr = s.cfg.addressID(a)
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
