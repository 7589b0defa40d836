// Package quality decides whether a raw transaction record may enter the
// pipeline. Every record that may not is given exactly one Reason, so it can
// be quarantined (dead-letter topic and table) and counted, never dropped.
// The checks are pure; the duplicate check takes the set of IDs already seen
// from its caller.
package quality

import (
	"errors"
	"fmt"
	"hash/maphash"
	"strings"
	"time"

	"github.com/shopstream/shopstream/internal/event"
)

// Reason names the check a record failed. The set is closed: generators of
// bad records and dashboards use these names.
type Reason string

// The quality checks, in the order they are applied.
const (
	OK              Reason = ""
	EmptyRecord     Reason = "empty_record"
	InvalidText     Reason = "invalid_text"
	MalformedJSON   Reason = "malformed_json"
	WrongType       Reason = "wrong_type"
	MissingField    Reason = "missing_field"
	UnsupportedVer  Reason = "unsupported_version"
	TooManyDecimals Reason = "too_many_decimals"
	NegativeAmount  Reason = "negative_amount"
	OutOfRange      Reason = "out_of_range"
	TotalMismatch   Reason = "total_mismatch"
	UnknownCurrency Reason = "unknown_currency"
	UnknownCountry  Reason = "unknown_country"
	InvalidCard     Reason = "invalid_card"
	FutureTimestamp Reason = "future_timestamp"
	DuplicateID     Reason = "duplicate_id"
	FieldTooLong    Reason = "field_too_long"
)

// Reasons lists every failure reason, for metrics and documentation.
var Reasons = []Reason{EmptyRecord, InvalidText, MalformedJSON, WrongType, MissingField, UnsupportedVer, TooManyDecimals,
	NegativeAmount, OutOfRange, TotalMismatch, UnknownCurrency, UnknownCountry, InvalidCard, FutureTimestamp, DuplicateID,
	InvalidID, UnknownChannel, UnknownPaymentMethod, StaleTimestamp, UnknownField, FieldTooLong}

// Config holds the thresholds the checks had before the contract (see
// Contract), for callers that need only those: it is the default contract
// with these four thresholds, every other check as the default has it.
// Warnings are not reported through it; use a Contract for them.
type Config struct {
	// MaxFutureSkew is checks.event_time_future.max_skew. Defaults to 5 minutes.
	MaxFutureSkew time.Duration
	// MaxItems is checks.item_count.max. Defaults to 100.
	MaxItems int
	// MaxQuantity is checks.quantity.max. Defaults to 100,000.
	MaxQuantity int
	// MaxTotalCents is checks.amount.max, in minor units of the record's
	// currency. Defaults to 100,000,000 (1,000,000.00 in a two-decimal
	// currency).
	MaxTotalCents event.Cents

	contract *Contract // built by WithDefaults
}

// WithDefaults returns c with zero fields set to their defaults and its
// contract built.
func (c Config) WithDefaults() Config {
	c = c.filled()
	c.contract = nil
	c.contract, _ = c.Contract()
	return c
}

// filled returns c with zero fields set to the default contract's values.
func (c Config) filled() Config {
	d := DefaultSpec().Checks
	if c.MaxFutureSkew == 0 {
		c.MaxFutureSkew = time.Duration(d.EventTimeFuture.MaxSkew)
	}
	if c.MaxItems == 0 {
		c.MaxItems = int(d.ItemCount.Max)
	}
	if c.MaxQuantity == 0 {
		c.MaxQuantity = int(d.Quantity.Max)
	}
	if c.MaxTotalCents == 0 {
		c.MaxTotalCents = event.Cents(d.Amount.Max)
	}
	return c
}

// Contract is the default contract with c's thresholds (the default
// contract's where c leaves them zero).
func (c Config) Contract() (*Contract, error) {
	if c.contract != nil {
		return c.contract, nil
	}
	c = c.filled()
	s := DefaultSpec()
	s.Checks.EventTimeFuture.MaxSkew = Duration(c.MaxFutureSkew)
	s.Checks.ItemCount.Max = int64(c.MaxItems)
	s.Checks.Quantity.Max = int64(c.MaxQuantity)
	s.Checks.Amount.Max = int64(c.MaxTotalCents)
	return s.Compile()
}

func (c Config) compiled() *Contract {
	if c.contract != nil {
		return c.contract
	}
	ct, err := c.WithDefaults().Contract()
	if err != nil {
		return Default()
	}
	return ct
}

// Failure is a record that failed a check, with a human-readable detail.
type Failure struct {
	Reason Reason
	Detail string
}

func (f *Failure) Error() string { return string(f.Reason) + ": " + f.Detail }

// fail makes a Failure. The detail may quote the record (a currency, an
// id), so a card number in it is masked: the detail is stored and sent on
// with the record.
func fail(r Reason, format string, args ...any) *Failure {
	return &Failure{Reason: r, Detail: string(MaskPANs([]byte(fmt.Sprintf(format, args...))))}
}

// Decode parses raw into t and applies every check except duplicates. It
// returns nil when the record is accepted, or the first failed check.
func (c Config) Decode(raw []byte, now time.Time, t *event.Transaction) *Failure {
	var res Result
	c.compiled().Decode(raw, now, t, &res)
	return res.Failure
}

// trimErr shortens a decoder's message for a failure's detail, which is
// stored as text: it stays valid UTF-8 without NUL however it is cut.
func trimErr(s string) string {
	s = strings.TrimPrefix(s, event.ErrMalformed.Error()+": ")
	if len(s) > 200 {
		s = s[:200]
	}
	s = strings.ToValidUTF8(s, "\ufffd")
	return strings.ReplaceAll(s, "\x00", `\u0000`)
}

// Validate applies the field, range and consistency checks to a decoded t.
func (c Config) Validate(t *event.Transaction, now time.Time) *Failure {
	var res Result
	c.compiled().Validate(t, now, &res)
	return res.Failure
}

// Dedup is the duplicate check: it remembers the transaction IDs seen in a
// bounded ring and rejects a repeat. The store's unique key on
// transaction_id is the final guard for repeats older than the ring.
//
// The ring holds the IDs; the index maps a 64-bit hash of an ID to its
// slot, so a check reads one small fixed-size entry (and the ring's ID
// only on a hash match, to confirm), where a map keyed by the strings
// compared keys through their pointers: 182 ns a check in a window of
// 100,000 against 109 (BenchmarkDedup). Two IDs of one hash (fewer than
// one pair in 10^9 windows of 100,000) are told apart by a map of the
// later ones' strings.
//
// Nothing in it points at an ID: each slot keeps its ID's bytes in place,
// up to dedupWidth of them (longer IDs, rare, in a map by slot), so that a
// processor's windows (100,000 IDs a partition) are a few large objects
// for the garbage collector to mark, not a string each.
type Dedup struct {
	seen map[uint64]int32    // hash of an ID → its slot in the ring
	coll map[string]struct{} // IDs whose hash another ID in the ring held
	ids  []byte              // slot i's ID at ids[i*dedupWidth:], lens[i] bytes of it
	lens []uint8             // 0: empty; longID: in long
	long map[int32]string    // IDs longer than dedupWidth, by slot
	hs   []uint64            // each slot's ID's hash, so forgetting one reads no ID
	next int
	seed maphash.Seed
	hash func(maphash.Seed, string) uint64 // maphash.String; tests collide it
}

// dedupWidth is the bytes of an ID a Dedup slot holds in place: a UUID
// (36) and shorter; longID marks a slot whose ID is longer.
const (
	dedupWidth = 36
	longID     = 255
)

// NewDedup remembers the last size IDs.
func NewDedup(size int) *Dedup {
	return &Dedup{seen: make(map[uint64]int32, size), ids: make([]byte, size*dedupWidth), lens: make([]uint8, size),
		hs: make([]uint64, size), seed: maphash.MakeSeed(), hash: maphash.String}
}

// at is the ID in slot i ("" when empty), to compare or copy: not to be kept.
func (d *Dedup) at(i int) []byte {
	switch n := d.lens[i]; n {
	case 0:
		return nil
	case longID:
		return []byte(d.long[int32(i)])
	default:
		return d.ids[i*dedupWidth : i*dedupWidth+int(n)]
	}
}

// is reports whether slot i holds id.
func (d *Dedup) is(i int32, id string) bool {
	n := d.lens[i]
	if n == longID {
		return d.long[i] == id
	}
	return int(n) == len(id) && string(d.ids[int(i)*dedupWidth:int(i)*dedupWidth+int(n)]) == id
}

// put writes id into slot i.
func (d *Dedup) put(i int, id string) {
	if d.lens[i] == longID {
		delete(d.long, int32(i))
	}
	if len(id) > dedupWidth {
		if d.long == nil {
			d.long = map[int32]string{}
		}
		d.long[int32(i)] = strings.Clone(id)
		d.lens[i] = longID
		return
	}
	copy(d.ids[i*dedupWidth:], id)
	d.lens[i] = uint8(len(id))
}

// slotOf is the slot seen holds for hash h, or -1.
func (d *Dedup) slotOf(h uint64) int32 {
	if s, ok := d.seen[h]; ok {
		return s
	}
	return -1
}

// Check records id and reports a Failure if it was already seen.
func (d *Dedup) Check(id string) *Failure {
	h := d.hash(d.seed, id)
	slot, taken := d.seen[h]
	if taken && d.is(slot, id) {
		return fail(DuplicateID, "transaction_id %s seen before", id)
	}
	if len(d.coll) > 0 {
		if _, ok := d.coll[id]; ok {
			return fail(DuplicateID, "transaction_id %s seen before", id)
		}
	}
	if d.lens[d.next] != 0 {
		if oh := d.hs[d.next]; d.slotOf(oh) == int32(d.next) {
			delete(d.seen, oh)
			taken = taken && oh != h // h's entry was the one going
		} else {
			delete(d.coll, string(d.at(d.next)))
		}
	}
	d.put(d.next, id)
	d.hs[d.next] = h
	if taken {
		if d.coll == nil {
			d.coll = map[string]struct{}{}
		}
		d.coll[id] = struct{}{}
	} else {
		d.seen[h] = int32(d.next)
	}
	d.next = (d.next + 1) % len(d.lens)
	return nil
}

// IsFailure reports whether err is a quality Failure and returns it.
func IsFailure(err error) (*Failure, bool) {
	var f *Failure
	ok := errors.As(err, &f)
	return f, ok
}
