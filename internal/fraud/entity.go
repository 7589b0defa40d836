package fraud

import (
	"strings"
	"time"
)

// Cross-customer features. The transactions topic is keyed by customer,
// so a partition's State sees a device, card or address only through its
// own customers: its counts are lower bounds. The entity stage
// (internal/entitystage) re-keys every stored transaction by entity
// through a repartition topic, so that one partition owns all of an
// entity's transactions, and keeps an EntityState per partition: the
// global counts per entity over a sliding window of event time, and the
// links between accounts that DetectRings joins into rings.

// The kinds of entity, the prefix of an entity key.
const (
	EntityDevice = "device"
	EntityCard   = "card"
	EntityIP     = "ip"
	// EntityAddress is a shipping address, by its key
	// (event.AddressKey).
	EntityAddress = "address"
)

// RingKinds are the entities that join accounts into a ring: a device, a
// card or a shipping address shared by several accounts (a household's
// two accounts share an address and a device; MinRing keeps them out).
// Network addresses are counted but do not link accounts: carrier NAT and
// office addresses are shared by many honest customers.
var RingKinds = []string{EntityDevice, EntityCard, EntityAddress}

// CardKey is a card's identity across accounts: BIN and last 4 digits
// (and the expiry month, when the event carries one), "" when there is no
// card.
func CardKey(bin, last4 string) string {
	if bin == "" && last4 == "" {
		return ""
	}
	return bin + "-" + last4
}

// EntityKeys appends the entity keys of a transaction ("device:…",
// "card:…", "ip:…", "address:…", in that order), skipping the ones it
// lacks; address is the shipping address's key (event.AddressKey).
func EntityKeys(dst []string, device, card, ip, address string) []string {
	if device != "" {
		dst = append(dst, EntityDevice+":"+device)
	}
	if card != "" {
		dst = append(dst, EntityCard+":"+card)
	}
	if ip != "" {
		dst = append(dst, EntityIP+":"+ip)
	}
	if address != "" {
		dst = append(dst, EntityAddress+":"+address)
	}
	return dst
}

// EntityKind is the kind of an entity key ("" when it has none).
func EntityKind(key string) string {
	k, _, ok := strings.Cut(key, ":")
	if !ok {
		return ""
	}
	return k
}

// EntityEvent is one transaction seen on one entity.
type EntityEvent struct {
	Entity        string
	TransactionID string
	CustomerID    string
	// Card is the transaction's CardKey, counted per device, network
	// address and shipping address.
	Card string
	At   time.Time
}

// EntityFeatures are an entity's global counts within the window, as of
// a transaction (that transaction included).
type EntityFeatures struct {
	// Customers is the distinct accounts seen on the entity.
	Customers int
	// Transactions is the transactions seen on it.
	Transactions int
	// Cards is the distinct cards seen on it (for a card: 1).
	Cards int
}

type entityLog struct {
	events    []EntityEvent // in arrival order
	customers map[string]int
	cards     map[string]int
	txs       map[string]struct{} // once the log is long; else events are scanned
}

// EntityState holds the entities of one partition of the repartition
// topic over a sliding window of event time. It is owned by that
// partition's goroutine: not safe for concurrent use.
type EntityState struct {
	window time.Duration
	// span is the window in force: window, or less while the state holds
	// more than maxEvents (SetMaxEvents).
	span      time.Duration
	maxEvents int
	watermark time.Time
	ents      map[string]*entityLog
	// multi holds the entities of RingKinds with at least two accounts:
	// the only ones that can join accounts.
	multi  map[string]struct{}
	events int
}

// NewEntityState returns an empty state keeping window of event time
// behind the latest event (24 hours when window <= 0).
func NewEntityState(window time.Duration) *EntityState {
	if window <= 0 {
		window = 24 * time.Hour
	}
	return &EntityState{window: window, span: window, ents: map[string]*entityLog{}, multi: map[string]struct{}{}}
}

// SetMaxEvents bounds the events held (0: no bound). When Expire finds
// more, it shortens the window in force by tenths until at most 90% of n
// remain, and lengthens it again by tenths, up to the window, while fewer
// than half remain: memory stays bounded at any rate, the counts then
// covering less than the window (Covered says how much).
func (s *EntityState) SetMaxEvents(n int) { s.maxEvents = n }

// Covered is the window the counts cover now: the state's window, or
// less while SetMaxEvents bounds it.
func (s *EntityState) Covered() time.Duration { return s.span }

// Window is the state's sliding window.
func (s *EntityState) Window() time.Duration { return s.window }

// Events is the number of events held.
func (s *EntityState) Events() int { return s.events }

// Entities is the number of entities held.
func (s *EntityState) Entities() int { return len(s.ents) }

// Watermark is the latest event time seen.
func (s *EntityState) Watermark() time.Time { return s.watermark }

const scanLimit = 16

// Add folds e in and returns the entity's features with it. It reports
// false, changing nothing, when e is a repeat (the same transaction on the
// same entity: outbox redelivery, a replay) or older than the window
// behind the watermark.
func (s *EntityState) Add(e EntityEvent) (EntityFeatures, bool) {
	if !s.watermark.IsZero() && e.At.Before(s.watermark.Add(-s.span)) {
		return EntityFeatures{}, false
	}
	l := s.ents[e.Entity]
	if l == nil {
		l = &entityLog{customers: map[string]int{}, cards: map[string]int{}}
		s.ents[e.Entity] = l
	}
	if l.has(e.TransactionID) {
		return s.features(l, e.Entity), false
	}
	l.events = append(l.events, e)
	if l.txs != nil {
		l.txs[e.TransactionID] = struct{}{}
	} else if len(l.events) > scanLimit {
		l.txs = make(map[string]struct{}, 2*len(l.events))
		for _, x := range l.events {
			l.txs[x.TransactionID] = struct{}{}
		}
	}
	l.customers[e.CustomerID]++
	if e.Card != "" {
		l.cards[e.Card]++
	}
	s.events++
	if len(l.customers) == 2 && isRingKind(e.Entity) {
		s.multi[e.Entity] = struct{}{}
	}
	if e.At.After(s.watermark) {
		s.watermark = e.At
	}
	return s.features(l, e.Entity), true
}

func (l *entityLog) has(tx string) bool {
	if l.txs != nil {
		_, ok := l.txs[tx]
		return ok
	}
	for i := range l.events {
		if l.events[i].TransactionID == tx {
			return true
		}
	}
	return false
}

func (s *EntityState) features(l *entityLog, entity string) EntityFeatures {
	f := EntityFeatures{Customers: len(l.customers), Transactions: len(l.events), Cards: len(l.cards)}
	if EntityKind(entity) == EntityCard {
		f.Cards = 1
	}
	return f
}

// Features returns entity's features now (zero when unknown).
func (s *EntityState) Features(entity string) EntityFeatures {
	l := s.ents[entity]
	if l == nil {
		return EntityFeatures{}
	}
	return s.features(l, entity)
}

// Customers returns the accounts seen on entity, in no order.
func (s *EntityState) Customers(entity string) []string {
	l := s.ents[entity]
	if l == nil {
		return nil
	}
	out := make([]string, 0, len(l.customers))
	for c := range l.customers {
		out = append(out, c)
	}
	return out
}

// Expire drops the events older than the window behind the watermark
// (see SetMaxEvents).
// Events arrive nearly in event-time order, so each entity's log is cut
// from its front.
func (s *EntityState) Expire() {
	if s.watermark.IsZero() {
		return
	}
	if s.maxEvents > 0 && s.events < s.maxEvents/2 && s.span < s.window {
		s.span = min(s.window, s.span+s.span/10+1)
	}
	s.expire()
	for s.maxEvents > 0 && s.events > s.maxEvents*9/10 && s.span > time.Minute {
		s.span -= s.span / 10
		s.expire()
	}
}

func (s *EntityState) expire() {
	cut := s.watermark.Add(-s.span)
	for k, l := range s.ents {
		i := 0
		for i < len(l.events) && l.events[i].At.Before(cut) {
			e := &l.events[i]
			if n := l.customers[e.CustomerID] - 1; n > 0 {
				l.customers[e.CustomerID] = n
			} else {
				delete(l.customers, e.CustomerID)
			}
			if e.Card != "" {
				if n := l.cards[e.Card] - 1; n > 0 {
					l.cards[e.Card] = n
				} else {
					delete(l.cards, e.Card)
				}
			}
			if l.txs != nil {
				delete(l.txs, e.TransactionID)
			}
			i++
		}
		if i == 0 {
			continue
		}
		s.events -= i
		l.events = append(l.events[:0], l.events[i:]...)
		if len(l.customers) < 2 {
			delete(s.multi, k)
		}
		if len(l.events) == 0 {
			delete(s.ents, k)
		}
	}
}

// Links returns the account–entity links of every entity of RingKinds
// that at least two accounts share: the edges DetectRings joins.
func (s *EntityState) Links() []Link {
	var out []Link
	for k := range s.multi {
		for c := range s.ents[k].customers {
			out = append(out, Link{Customer: c, Entity: k})
		}
	}
	return out
}

// Shared reports whether entity is one of RingKinds shared by at least
// two accounts.
func (s *EntityState) Shared(entity string) bool {
	_, ok := s.multi[entity]
	return ok
}

func isRingKind(entity string) bool {
	k := EntityKind(entity)
	for _, r := range RingKinds {
		if k == r {
			return true
		}
	}
	return false
}

// Span returns the earliest and latest event time held for entity (zero
// when unknown).
func (s *EntityState) Span(entity string) (first, last time.Time) {
	l := s.ents[entity]
	if l == nil {
		return
	}
	for i := range l.events {
		at := l.events[i].At
		if first.IsZero() || at.Before(first) {
			first = at
		}
		if at.After(last) {
			last = at
		}
	}
	return first, last
}
