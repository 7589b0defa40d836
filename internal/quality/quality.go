// Package quality decides whether a raw transaction record may enter the
// pipeline. Every record that may not is given exactly one Reason, so it can
// be quarantined (dead-letter topic and table) and counted, never dropped.
// The checks are pure; the duplicate check takes the set of IDs already seen
// from its caller.
package quality

import (
	"errors"
	"fmt"
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
)

// Reasons lists every failure reason, for metrics and documentation.
var Reasons = []Reason{EmptyRecord, InvalidText, MalformedJSON, WrongType, MissingField, UnsupportedVer, TooManyDecimals,
	NegativeAmount, OutOfRange, TotalMismatch, UnknownCurrency, UnknownCountry, InvalidCard, FutureTimestamp, DuplicateID}

// Config holds the tolerances of the checks.
type Config struct {
	// MaxFutureSkew is how far past the processing clock an event time may
	// lie before it is rejected. Defaults to 5 minutes.
	MaxFutureSkew time.Duration
	// MaxItems is the most lines one transaction may have. Defaults to 100.
	MaxItems int
	// MaxQuantity is the most units of one line. Defaults to 1000.
	MaxQuantity int
	// MaxTotalCents is the largest total or unit price accepted, in minor
	// units of the record's currency. Defaults to 100,000,000 (1,000,000.00
	// in a two-decimal currency).
	MaxTotalCents event.Cents
}

// WithDefaults returns c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	if c.MaxFutureSkew == 0 {
		c.MaxFutureSkew = 5 * time.Minute
	}
	if c.MaxItems == 0 {
		c.MaxItems = 100
	}
	if c.MaxQuantity == 0 {
		c.MaxQuantity = 1000
	}
	if c.MaxTotalCents == 0 {
		c.MaxTotalCents = 100_000_000
	}
	return c
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
// returns nil when the record is clean, or the first failed check.
func (c Config) Decode(raw []byte, now time.Time, t *event.Transaction) *Failure {
	if len(raw) == 0 {
		*t = event.Transaction{}
		if raw == nil {
			return fail(EmptyRecord, "the record has no value (a tombstone)")
		}
		return fail(EmptyRecord, "the record's value is empty")
	}
	if f := checkText(raw); f != nil {
		*t = event.Transaction{}
		return f
	}
	if err := event.Decode(raw, t); err != nil {
		if errors.Is(err, event.ErrPrecision) {
			return c.precision(t, err)
		}
		msg := err.Error()
		if strings.Contains(msg, "cannot unmarshal") || strings.Contains(msg, "is not a number") ||
			strings.Contains(msg, "out of range") || strings.Contains(msg, "parsing time") {
			return fail(WrongType, "%s", trimErr(msg))
		}
		return fail(MalformedJSON, "%s", trimErr(msg))
	}
	return c.Validate(t, now)
}

// precision names an amount with more decimals than its currency has. A
// record whose currency is missing or unknown (read with two decimals) is
// named for that instead, as it would be had its amounts fitted.
func (c Config) precision(t *event.Transaction, err error) *Failure {
	switch {
	case t.SchemaVersion == 0:
		return fail(MissingField, "schema_version is missing")
	case t.SchemaVersion != event.SchemaVersion:
		return fail(UnsupportedVer, "schema_version %d, want %d", t.SchemaVersion, event.SchemaVersion)
	case t.Currency == "":
		return fail(MissingField, "currency is missing")
	case !KnownCurrency(t.Currency):
		return fail(UnknownCurrency, "currency %q is not a known ISO 4217 code", t.Currency)
	}
	var pe *event.PrecisionError
	if errors.As(err, &pe) {
		return fail(TooManyDecimals, "%s", trimErr(pe.Error()))
	}
	return fail(TooManyDecimals, "%s", trimErr(err.Error()))
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
	digits, _ := event.CurrencyDigits(t.Currency)
	money := func(v event.Cents) string { return string(v.AppendDecimal(nil, digits)) }
	switch {
	case t.SchemaVersion == 0:
		return fail(MissingField, "schema_version is missing")
	case t.SchemaVersion != event.SchemaVersion:
		return fail(UnsupportedVer, "schema_version %d, want %d", t.SchemaVersion, event.SchemaVersion)
	case t.TransactionID == "":
		return fail(MissingField, "transaction_id is missing")
	case t.CustomerID == "":
		return fail(MissingField, "customer_id is missing")
	case t.EventTime.IsZero():
		return fail(MissingField, "event_time is missing")
	case len(t.Items) == 0:
		return fail(MissingField, "items is empty")
	case t.Currency == "":
		return fail(MissingField, "currency is missing")
	case t.PaymentMethod == "":
		return fail(MissingField, "payment_method is missing")
	case t.Channel == "":
		return fail(MissingField, "channel is missing")
	case t.BillingCountry == "" || t.ShippingCountry == "":
		return fail(MissingField, "billing_country or shipping_country is missing")
	case len(t.TransactionID) > 64 || len(t.CustomerID) > 64:
		return fail(OutOfRange, "identifier longer than 64 bytes")
	case len(t.Items) > c.MaxItems:
		return fail(OutOfRange, "%d items, at most %d", len(t.Items), c.MaxItems)
	}
	if t.TotalCents < 0 {
		return fail(NegativeAmount, "total_amount %s is negative", money(t.TotalCents))
	}
	for i := range t.Items {
		it := &t.Items[i]
		if it.ProductID == "" {
			return fail(MissingField, "items[%d].product_id is missing", i)
		}
		if it.UnitPriceCents < 0 {
			return fail(NegativeAmount, "items[%d].unit_price %s is negative", i, money(it.UnitPriceCents))
		}
		if it.UnitPriceCents > c.MaxTotalCents {
			return fail(OutOfRange, "items[%d].unit_price %s above %s", i, money(it.UnitPriceCents), money(c.MaxTotalCents))
		}
		if it.Quantity <= 0 || it.Quantity > c.MaxQuantity {
			return fail(OutOfRange, "items[%d].quantity %d outside 1..%d", i, it.Quantity, c.MaxQuantity)
		}
	}
	if t.TotalCents > c.MaxTotalCents {
		return fail(OutOfRange, "total_amount %s above %s", money(t.TotalCents), money(c.MaxTotalCents))
	}
	if s := t.ItemsCents(); s != t.TotalCents {
		return fail(TotalMismatch, "total_amount %s, items sum to %s", money(t.TotalCents), money(s))
	}
	if !KnownCurrency(t.Currency) {
		return fail(UnknownCurrency, "currency %q is not a known ISO 4217 code", t.Currency)
	}
	for _, cc := range []string{t.BillingCountry, t.ShippingCountry} {
		if !KnownCountry(cc) {
			return fail(UnknownCountry, "country %q is not a known ISO 3166 alpha-2 code", cc)
		}
	}
	if f := checkCard(&t.Card); f != nil {
		return f
	}
	if t.EventTime.After(now.Add(c.MaxFutureSkew)) {
		return fail(FutureTimestamp, "event_time %s is %s ahead of the clock", t.EventTime.Format(time.RFC3339), t.EventTime.Sub(now).Round(time.Second))
	}
	return nil
}

// Dedup is the duplicate check: it remembers the transaction IDs seen in a
// bounded ring and rejects a repeat. The store's unique key on
// transaction_id is the final guard for repeats older than the ring.
type Dedup struct {
	seen map[string]struct{}
	ring []string
	next int
}

// NewDedup remembers the last size IDs.
func NewDedup(size int) *Dedup {
	return &Dedup{seen: make(map[string]struct{}, size), ring: make([]string, size)}
}

// Check records id and reports a Failure if it was already seen.
func (d *Dedup) Check(id string) *Failure {
	if _, ok := d.seen[id]; ok {
		return fail(DuplicateID, "transaction_id %s seen before", id)
	}
	if old := d.ring[d.next]; old != "" {
		delete(d.seen, old)
	}
	d.ring[d.next] = id
	d.seen[id] = struct{}{}
	d.next = (d.next + 1) % len(d.ring)
	return nil
}

// IsFailure reports whether err is a quality Failure and returns it.
func IsFailure(err error) (*Failure, bool) {
	var f *Failure
	ok := errors.As(err, &f)
	return f, ok
}
