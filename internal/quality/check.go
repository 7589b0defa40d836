package quality

import (
	"errors"
	"strings"
	"time"

	json "github.com/goccy/go-json"

	"github.com/shopstream/shopstream/internal/event"
)

// Decode parses raw into t and applies every check but duplicates, filling
// res: the first failure that quarantines, the warnings, the unknown
// fields. A record of a schema version the contract registers is mapped
// onto version 1 first.
func (c *Contract) Decode(raw []byte, now time.Time, t *event.Transaction, res *Result) {
	res.reset()
	if len(raw) == 0 {
		*t = event.Transaction{}
		if raw == nil {
			res.Failure = fail(EmptyRecord, "the record has no value (a tombstone)")
		} else {
			res.Failure = fail(EmptyRecord, "the record's value is empty")
		}
		return
	}
	if f := checkText(raw); f != nil {
		*t = event.Transaction{}
		res.Failure = f
		return
	}
	err := event.Decode(raw, t)
	if (err == nil || errors.Is(err, event.ErrPrecision)) && t.SchemaVersion != event.SchemaVersion {
		if v, ok := c.versions[t.SchemaVersion]; ok {
			mapped, merr := v.toV1(raw)
			if merr != nil {
				res.Failure = fail(MalformedJSON, "schema_version %d: mapping onto version 1: %s", t.SchemaVersion, trimErr(merr.Error()))
				return
			}
			raw = mapped
			err = event.Decode(raw, t)
		}
	}
	if err != nil {
		if errors.Is(err, event.ErrPrecision) {
			res.Failure = c.precision(t, err)
			return
		}
		msg := err.Error()
		if strings.Contains(msg, "cannot unmarshal") || strings.Contains(msg, "is not a number") ||
			strings.Contains(msg, "out of range") || strings.Contains(msg, "parsing time") {
			res.Failure = fail(WrongType, "%s", trimErr(msg))
		} else {
			res.Failure = fail(MalformedJSON, "%s", trimErr(msg))
		}
		return
	}
	if c.scanUnknown {
		res.UnknownFields = appendUnknownFields(res.UnknownFields, raw)
		if len(res.UnknownFields) > 0 {
			if c.strict {
				res.Failure = fail(UnknownField, "unknown fields %s (the contract is strict)", strings.Join(res.UnknownFields, ", "))
				return
			}
			res.warn(CheckUnknownField)
		}
	}
	c.validate(t, now, res)
}

// toV1 rewrites a record of version v.Version as version 1.
func (v VersionSpec) toV1(raw []byte) ([]byte, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	rename(m, v.Rename)
	if len(v.ItemRename) > 0 {
		if items, ok := m["items"]; ok {
			var its []map[string]json.RawMessage
			if err := json.Unmarshal(items, &its); err != nil {
				return nil, err
			}
			for _, it := range its {
				rename(it, v.ItemRename)
			}
			b, err := json.Marshal(its)
			if err != nil {
				return nil, err
			}
			m["items"] = b
		}
	}
	m["schema_version"] = json.RawMessage("1")
	return json.Marshal(m)
}

func rename(m map[string]json.RawMessage, names map[string]string) {
	moved := make(map[string]json.RawMessage, len(names))
	for from, to := range names {
		if val, ok := m[from]; ok {
			delete(m, from)
			moved[to] = val
		}
	}
	for to, val := range moved {
		m[to] = val
	}
}

// precision names an amount with more decimals than its currency has. A
// record whose currency is missing or unknown (read with two decimals) is
// named for that instead, as it would be had its amounts fitted.
func (c *Contract) precision(t *event.Transaction, err error) *Failure {
	switch {
	case t.SchemaVersion == 0:
		return fail(MissingField, "schema_version is missing")
	case t.SchemaVersion != event.SchemaVersion:
		return fail(UnsupportedVer, "schema_version %d, want %d", t.SchemaVersion, event.SchemaVersion)
	case t.Currency == "":
		return fail(MissingField, "currency is missing")
	}
	if _, ok := c.currencies[t.Currency]; !ok && c.act[CheckCurrency] == Quarantine {
		return fail(UnknownCurrency, "currency %q is not in the contract's allowed ISO 4217 codes", t.Currency)
	}
	var pe *event.PrecisionError
	if errors.As(err, &pe) {
		return fail(TooManyDecimals, "%s", trimErr(pe.Error()))
	}
	return fail(TooManyDecimals, "%s", trimErr(err.Error()))
}

// Validate applies the field, range and consistency checks to a decoded t,
// filling res (reset first). Checks with action warn may replace a value of
// t (channel, payment_method, a country) as the contract says. It is for a
// t that was not decoded from a record by Decode (an imported order line),
// so it applies the text check to its fields, as Decode does to the record.
func (c *Contract) Validate(t *event.Transaction, now time.Time, res *Result) {
	res.reset()
	if f := checkFieldsText(t); f != nil {
		res.Failure = f
		return
	}
	c.validate(t, now, res)
}

// failed applies check's action to a failure: true when it quarantines
// (res.Failure set), false when the record goes on (warned, or off).
func (c *Contract) failed(res *Result, check CheckName, f func() *Failure) bool {
	switch c.act[check] {
	case Quarantine:
		res.Failure = f()
		return true
	case Warn:
		res.warn(check)
	}
	return false
}

func (c *Contract) validate(t *event.Transaction, now time.Time, res *Result) {
	digits, _ := event.CurrencyDigits(t.Currency)
	money := func(v event.Cents) string { return string(v.AppendDecimal(nil, digits)) }
	var f *Failure
	switch {
	case t.SchemaVersion == 0:
		f = fail(MissingField, "schema_version is missing")
	case t.SchemaVersion != event.SchemaVersion:
		f = fail(UnsupportedVer, "schema_version %d, want %d (register it in the contract's schema_versions to read it)", t.SchemaVersion, event.SchemaVersion)
	case t.TransactionID == "":
		f = fail(MissingField, "transaction_id is missing")
	case t.CustomerID == "":
		f = fail(MissingField, "customer_id is missing")
	case t.EventTime.IsZero():
		f = fail(MissingField, "event_time is missing")
	case len(t.Items) == 0:
		f = fail(MissingField, "items is empty")
	case t.Currency == "":
		f = fail(MissingField, "currency is missing")
	case t.PaymentMethod == "":
		f = fail(MissingField, "payment_method is missing")
	case t.Channel == "":
		f = fail(MissingField, "channel is missing")
	case t.BillingCountry == "" || t.ShippingCountry == "":
		f = fail(MissingField, "billing_country or shipping_country is missing")
	}
	if f != nil {
		res.Failure = f
		return
	}
	if !c.txID.ok(t.TransactionID) && c.failed(res, CheckTransactionID, func() *Failure { return c.txID.fail("transaction_id", t.TransactionID) }) {
		return
	}
	if !c.custID.ok(t.CustomerID) && c.failed(res, CheckCustomerID, func() *Failure { return c.custID.fail("customer_id", t.CustomerID) }) {
		return
	}
	if f := fieldLengths(t); f != nil {
		res.Failure = f
		return
	}
	if t.EventTime.Before(MinEventTime) || !t.EventTime.Before(MaxEventTime) {
		res.Failure = fail(OutOfRange, "event_time %s is outside %s to %s, the times the store takes (event_time_range)",
			t.EventTime.UTC().Format(time.RFC3339), MinEventTime.Format(time.DateOnly), MaxEventTime.Add(-time.Nanosecond).Format(time.DateOnly))
		return
	}
	if len(t.Items) > c.maxItems && c.failed(res, CheckItemCount, func() *Failure {
		return fail(OutOfRange, "%d items, at most %d (checks.item_count.max)", len(t.Items), c.maxItems)
	}) {
		return
	}
	if t.TotalCents < 0 {
		res.Failure = fail(NegativeAmount, "total_amount %s is negative", money(t.TotalCents))
		return
	}
	for i := range t.Items {
		it := &t.Items[i]
		if it.ProductID == "" {
			res.Failure = fail(MissingField, "items[%d].product_id is missing", i)
			return
		}
		if it.UnitPriceCents < 0 {
			res.Failure = fail(NegativeAmount, "items[%d].unit_price %s is negative", i, money(it.UnitPriceCents))
			return
		}
		if it.UnitPriceCents > c.maxAmount && c.failed(res, CheckAmount, func() *Failure {
			return fail(OutOfRange, "items[%d].unit_price %s above %s (checks.amount.max)", i, money(it.UnitPriceCents), money(c.maxAmount))
		}) {
			return
		}
		if (it.Quantity <= 0 || it.Quantity > c.maxQuantity) && c.failed(res, CheckQuantity, func() *Failure {
			return fail(OutOfRange, "items[%d].quantity %d outside 1..%d (checks.quantity.max)", i, it.Quantity, c.maxQuantity)
		}) {
			return
		}
	}
	if t.TotalCents > c.maxAmount && c.failed(res, CheckAmount, func() *Failure {
		return fail(OutOfRange, "total_amount %s above %s (checks.amount.max)", money(t.TotalCents), money(c.maxAmount))
	}) {
		return
	}
	if s := t.ItemsCents(); s != t.TotalCents {
		res.Failure = fail(TotalMismatch, "total_amount %s, items sum to %s", money(t.TotalCents), money(s))
		return
	}
	if _, ok := c.currencies[t.Currency]; !ok && c.failed(res, CheckCurrency, func() *Failure {
		return fail(UnknownCurrency, "currency %q is not in the contract's allowed ISO 4217 codes", t.Currency)
	}) {
		return
	}
	if !c.country(&t.BillingCountry, res) || !c.country(&t.ShippingCountry, res) {
		return
	}
	if !c.value(&t.Channel, &c.channels, CheckChannel, UnknownChannel, res) ||
		!c.value(&t.PaymentMethod, &c.payments, CheckPaymentMethod, UnknownPaymentMethod, res) {
		return
	}
	if f := checkCard(&t.Card); f != nil {
		res.Failure = f
		return
	}
	if t.EventTime.After(now.Add(c.maxFuture)) && c.failed(res, CheckEventTimeFuture, func() *Failure {
		return fail(FutureTimestamp, "event_time %s is %s ahead of the clock (checks.event_time_future.max_skew %s)",
			t.EventTime.Format(time.RFC3339), t.EventTime.Sub(now).Round(time.Second), c.maxFuture)
	}) {
		return
	}
	if t.EventTime.Before(now.Add(-c.maxPast)) && c.failed(res, CheckEventTimePast, func() *Failure {
		return fail(StaleTimestamp, "event_time %s is %s behind the clock (checks.event_time_past.max_skew %s)",
			t.EventTime.Format(time.RFC3339), now.Sub(t.EventTime).Round(time.Second), c.maxPast)
	}) {
		return
	}
}

// country checks one country field: an allowed code passes; an alias is
// replaced by its code; anything else fails the country check, and with
// action warn is replaced by the unknown-region value when there is one.
// It reports whether checking goes on.
func (c *Contract) country(v *string, res *Result) bool {
	if c.countryOK(*v) {
		return true
	}
	code, ok := c.Country(*v)
	if ok {
		*v = code
		return true
	}
	old := *v
	if c.failed(res, CheckCountry, func() *Failure {
		if code != "" {
			return fail(UnknownCountry, "country %q (%s) is not in the contract's allowed countries", old, code)
		}
		return fail(UnknownCountry, "country %q is neither an allowed ISO 3166-1 alpha-2 code nor one of the contract's aliases", old)
	}) {
		return false
	}
	if c.act[CheckCountry] == Warn && c.unknownRegion != "" {
		*v = c.unknownRegion
	}
	return true
}

// value checks a field of a bounded set (channel, payment method).
func (c *Contract) value(v *string, r *valueRule, check CheckName, reason Reason, res *Result) bool {
	if _, ok := r.allowed[*v]; ok {
		return true
	}
	old := *v
	if c.failed(res, check, func() *Failure {
		return fail(reason, "%s %q is not in the contract's allowed values (checks.%s.allowed)", check, old, check)
	}) {
		return false
	}
	if c.act[check] == Warn && r.replace != "" {
		*v = r.replace
	}
	return true
}

func (r *idRule) ok(id string) bool {
	return len(id) <= r.maxLen && (r.pattern == nil || r.pattern.MatchString(id))
}

func (r *idRule) fail(field, id string) *Failure {
	if len(id) > r.maxLen {
		return fail(InvalidID, "%s is %d bytes, at most %d (checks.%s.max_length)", field, len(id), r.maxLen, field)
	}
	return fail(InvalidID, "%s %q does not match checks.%s.pattern %s", field, id, field, r.pattern.String())
}

// MinEventTime and MaxEventTime bound a record's event time (the
// event_time_range check), whatever the configurable event_time_past and
// event_time_future say: a typo's year 0211 or 9011 in an order log, or
// a hostile producer's, would otherwise stretch the monthly cohorts over
// thousands of months (2,000 such orders made a refresh of 70 s, 11 GB
// and a store of a gigabyte of cohort cells).
var (
	MinEventTime = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	MaxEventTime = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
)

// MaxFieldLength bounds every text field of a record but the shipping
// address (MaxAddressLength), in bytes: identifiers and codes, some of
// which key the stores' indexes (a product's windows, an entity's events,
// a customer), where PostgreSQL refuses an entry over 2,704 bytes, and
// with it the whole write, at every retry. The ID checks' max_length is
// at most this too.
const (
	MaxFieldLength   = 255
	MaxAddressLength = 1024
)

// fieldLengths is the field_length check.
func fieldLengths(t *event.Transaction) *Failure {
	fields := textFields(t)
	for i, v := range fields {
		most := MaxFieldLength
		if i == len(fields)-1 { // the shipping address
			most = MaxAddressLength
		}
		if len(v) > most {
			return fail(FieldTooLong, "%s is %d bytes, at most %d", textFieldNames[i], len(v), most)
		}
	}
	for i := range t.Items {
		it := &t.Items[i]
		for j, v := range itemTextFields(it) {
			if len(v) > MaxFieldLength {
				return fail(FieldTooLong, "items[%d].%s is %d bytes, at most %d", i, itemTextFieldNames[j], len(v), MaxFieldLength)
			}
		}
	}
	return nil
}
