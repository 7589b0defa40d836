package event

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	json "github.com/goccy/go-json"
)

// Label headers: the generator's truth about a record travels in these
// Kafka headers, never in the event, so scoring cannot see it; only
// evaluation reads them.
const (
	HeaderLabel    = "shopstream-label"    // "fraud", "legit" or "bad"
	HeaderScenario = "shopstream-scenario" // fraud scenario, "" when legit
	HeaderBad      = "shopstream-bad"      // quality reason of a bad record, "" when good
)

// SchemaVersion is the version of the transaction event this package reads
// and writes. A record with another version is rejected by Decode.
const SchemaVersion = 1

// Transaction is one purchase as it travels on the "transactions" topic,
// keyed by CustomerID. Money is carried as JSON numbers with the decimals of
// the currency's ISO 4217 minor unit and held here in minor units (cents,
// yen, fils) so that sums are exact.
type Transaction struct {
	SchemaVersion   int       `json:"schema_version"`
	TransactionID   string    `json:"transaction_id"`
	CustomerID      string    `json:"customer_id"`
	EventTime       time.Time `json:"event_time"`
	Items           []Item    `json:"items"`
	TotalCents      Cents     `json:"total_amount"`
	Currency        string    `json:"currency"`
	PaymentMethod   string    `json:"payment_method"`
	Card            Card      `json:"card"`
	DeviceID        string    `json:"device_id"`
	IPAddress       string    `json:"ip_address"`
	BillingCountry  string    `json:"billing_country"`
	ShippingCountry string    `json:"shipping_country"`
	Channel         string    `json:"channel"`
	// ShippingAddress is where the order goes, one line of free text as
	// the customer typed it ("12 High Street, London SW1A 1AA"); "" when
	// the record has none (records written before it was carried, real
	// order logs). Only AddressKey of it is stored and compared.
	ShippingAddress string `json:"shipping_address,omitempty"`
	// IPCountry and IPHosting are the geography of the address an
	// IPAddress hashed with a key (IsHashedIP) stands for, found before
	// it was hashed: the address itself can no longer be looked up. Not
	// part of the record on the wire.
	IPCountry string `json:"-"`
	IPHosting bool   `json:"-"`
}

// HashedIPPrefix starts an IP address replaced by its keyed hash
// (HMAC-SHA256, --ip-hash-key-file): "h:" and 32 hex digits.
const HashedIPPrefix = "h:"

// IsHashedIP reports whether ip is a keyed hash rather than an address.
func IsHashedIP(ip string) bool {
	return len(ip) > len(HashedIPPrefix) && ip[:len(HashedIPPrefix)] == HashedIPPrefix
}

// Item is one line of a transaction.
type Item struct {
	ProductID      string `json:"product_id"`
	Category       string `json:"category"`
	Quantity       int    `json:"quantity"`
	UnitPriceCents Cents  `json:"unit_price"`
	// UnitPriceExact is the unit price as given, a plain decimal in major
	// units, when it has more decimals than the currency's minor unit (a
	// wholesale price of 0.001 GBP), and empty otherwise. UnitPriceCents
	// then holds it rounded half away from zero, for display, and the line
	// is worth Quantity × UnitPriceExact rounded once (see LineCents), so
	// that no sub-cent price becomes 0 and totals stay exact.
	UnitPriceExact string `json:"unit_price_exact,omitempty"`
}

// LineCents is the item's amount, quantity × unit price, in minor units of
// a currency with digits decimals: exact from UnitPriceExact when it is
// set (rounded half away from zero once, for the line), else
// Quantity × UnitPriceCents.
func (it *Item) LineCents(digits int) Cents {
	if it.UnitPriceExact != "" {
		if c, ok := exactLine(it.Quantity, it.UnitPriceExact, digits); ok {
			return c
		}
	}
	return Cents(it.Quantity) * it.UnitPriceCents
}

// Card holds only what may be stored of a payment card: the issuer's BIN
// (first six digits) and the last four digits. A full card number never
// appears in an event.
type Card struct {
	BIN   string `json:"bin"`
	Last4 string `json:"last4"`
}

// Cents is an amount of money in minor units of its currency: cents for
// EUR, yen for JPY, fils (thousandths) for BHD; see CurrencyDigits. On its
// own (MarshalJSON, UnmarshalJSON, String) it is read and written with two
// decimals; an event's amounts are read and written with their currency's
// decimals by Decode and Marshal.
type Cents int64

// MarshalJSON writes c as a decimal number with two fraction digits.
func (c Cents) MarshalJSON() ([]byte, error) { return c.AppendJSON(nil), nil }

// AppendJSON appends c as a decimal number with two fraction digits.
func (c Cents) AppendJSON(b []byte) []byte { return c.AppendDecimal(b, 2) }

// UnmarshalJSON reads a JSON number with at most two decimals into minor
// units, exactly (no float64 on the way).
func (c *Cents) UnmarshalJSON(b []byte) error {
	var d decimal
	if err := d.UnmarshalJSON(b); err != nil {
		return err
	}
	v, err := d.minor(2)
	if err != nil {
		return err
	}
	*c = v
	return nil
}

// Float returns c in major units of a two-decimal currency, for models and
// display.
func (c Cents) Float() float64 { return float64(c) / 100 }

// String formats c like 12.34.
func (c Cents) String() string { return string(c.AppendJSON(nil)) }

// ItemsCents is the sum of the items' amounts (see Item.LineCents) in the
// transaction's currency.
func (t *Transaction) ItemsCents() Cents {
	digits, _ := CurrencyDigits(t.Currency)
	var s Cents
	for i := range t.Items {
		s += t.Items[i].LineCents(digits)
	}
	return s
}

// Marshal encodes t as version-1 JSON, its amounts with as many decimals
// as its currency has (two for a currency CurrencyDigits does not know).
func Marshal(t *Transaction) ([]byte, error) {
	digits, _ := CurrencyDigits(t.Currency)
	b := make([]byte, 0, 384+96*len(t.Items))
	b = append(b, `{"schema_version":`...)
	b = strconv.AppendInt(b, int64(t.SchemaVersion), 10)
	b = append(b, `,"transaction_id":`...)
	b = AppendJSONString(b, t.TransactionID)
	b = append(b, `,"customer_id":`...)
	b = AppendJSONString(b, t.CustomerID)
	b = append(b, `,"event_time":`...)
	tb, err := t.EventTime.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("encoding event_time of transaction %q: %w", t.TransactionID, err)
	}
	b = append(b, tb...)
	b = append(b, `,"items":`...)
	b = appendItems(b, t.Items, digits)
	b = append(b, `,"total_amount":`...)
	b = t.TotalCents.AppendDecimal(b, digits)
	for _, f := range [...]struct{ key, val string }{
		{`,"currency":`, t.Currency}, {`,"payment_method":`, t.PaymentMethod},
	} {
		b = append(b, f.key...)
		b = AppendJSONString(b, f.val)
	}
	b = append(b, `,"card":{"bin":`...)
	b = AppendJSONString(b, t.Card.BIN)
	b = append(b, `,"last4":`...)
	b = AppendJSONString(b, t.Card.Last4)
	b = append(b, '}')
	for _, f := range [...]struct{ key, val string }{
		{`,"device_id":`, t.DeviceID}, {`,"ip_address":`, t.IPAddress}, {`,"billing_country":`, t.BillingCountry},
		{`,"shipping_country":`, t.ShippingCountry}, {`,"channel":`, t.Channel},
	} {
		b = append(b, f.key...)
		b = AppendJSONString(b, f.val)
	}
	if t.ShippingAddress != "" {
		b = append(b, `,"shipping_address":`...)
		b = AppendJSONString(b, t.ShippingAddress)
	}
	return append(b, '}'), nil
}

// ErrMalformed wraps every error Decode returns for bytes that are not a
// well-formed version-1 transaction object.
var ErrMalformed = errors.New("malformed transaction")

// wireTx is the version-1 object as Decode reads it: the transaction with
// its amounts held as exact decimals until the currency is known. It lists
// the fields again rather than embedding Transaction, which the decoder
// reads a good deal slower; TestWireHasEveryField keeps the two in step.
type wireTx struct {
	SchemaVersion   int        `json:"schema_version"`
	TransactionID   string     `json:"transaction_id"`
	CustomerID      string     `json:"customer_id"`
	EventTime       time.Time  `json:"event_time"`
	Items           []wireItem `json:"items"`
	Total           decimal    `json:"total_amount"`
	Currency        string     `json:"currency"`
	PaymentMethod   string     `json:"payment_method"`
	Card            Card       `json:"card"`
	DeviceID        string     `json:"device_id"`
	IPAddress       string     `json:"ip_address"`
	BillingCountry  string     `json:"billing_country"`
	ShippingCountry string     `json:"shipping_country"`
	Channel         string     `json:"channel"`
	ShippingAddress string     `json:"shipping_address,omitempty"`
}

type wireItem struct {
	ProductID string  `json:"product_id"`
	Category  string  `json:"category"`
	Quantity  int     `json:"quantity"`
	UnitPrice decimal `json:"unit_price"`
	Exact     string  `json:"unit_price_exact,omitempty"`
}

// Decode parses a version-1 transaction. Amounts are read from their
// decimal literals exactly and converted to minor units of the record's
// currency (two decimals when the currency is missing or unknown); an
// amount with more decimals than that is an error wrapping ErrPrecision,
// and t then holds the rest of the record. It reports syntax and type
// errors wrapped in ErrMalformed; semantic checks (required fields, ranges,
// consistency) are the quality package's job.
func Decode(b []byte, t *Transaction) error {
	*t = Transaction{}
	w := wirePool.Get().(*wireTx)
	defer func() {
		// Keep no part of this record in the pool, and nothing big.
		items := w.Items[:cap(w.Items)]
		clear(items)
		if len(items) > 1024 {
			items = nil
		}
		*w = wireTx{Items: items[:0]}
		wirePool.Put(w)
	}()
	if err := json.Unmarshal(b, w); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	*t = Transaction{SchemaVersion: w.SchemaVersion, TransactionID: w.TransactionID, CustomerID: w.CustomerID,
		EventTime: w.EventTime, Currency: w.Currency, PaymentMethod: w.PaymentMethod, Card: w.Card, DeviceID: w.DeviceID,
		IPAddress: w.IPAddress, BillingCountry: w.BillingCountry, ShippingCountry: w.ShippingCountry, Channel: w.Channel,
		ShippingAddress: w.ShippingAddress}
	digits, _ := CurrencyDigits(t.Currency)
	var err error
	if t.TotalCents, err = amount(w.Total, digits, t.Currency, -1); err != nil {
		return err
	}
	if w.Items != nil {
		t.Items = make([]Item, len(w.Items))
		for i := range w.Items {
			wi := &w.Items[i]
			t.Items[i] = Item{ProductID: wi.ProductID, Category: wi.Category, Quantity: wi.Quantity, UnitPriceExact: wi.Exact}
			if t.Items[i].UnitPriceCents, err = amount(wi.UnitPrice, digits, t.Currency, i); err != nil {
				return err
			}
			if wi.Exact != "" {
				if _, err := parseDecimal([]byte(wi.Exact)); err != nil {
					return fmt.Errorf("%w: items[%d].unit_price_exact %q %v", ErrMalformed, i, wi.Exact, err)
				}
			}
		}
	}
	return nil
}

// wirePool recycles the decoding form and its items between records.
var wirePool = sync.Pool{New: func() any { return new(wireTx) }}

// amount converts a decoded amount to minor units of a currency with
// digits decimals; item is the line it belongs to, -1 for the total.
func amount(d decimal, digits int, currency string, item int) (Cents, error) {
	c, err := d.minor(digits)
	if err == nil {
		return c, nil
	}
	field := "total_amount"
	if item >= 0 {
		field = fmt.Sprintf("items[%d].unit_price", item)
	}
	if err == ErrPrecision {
		err = &PrecisionError{Field: field, Amount: d.String(), Decimals: -d.exp, Currency: currency, Digits: digits}
		return 0, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return 0, fmt.Errorf("%w: %s: %w", ErrMalformed, field, err)
}

// AppendItemsJSON appends the items as a JSON array, the form stored with a
// transaction, with prices in two decimals. AppendItemsJSONIn writes them
// in the transaction's currency.
func AppendItemsJSON(b []byte, items []Item) []byte { return appendItems(b, items, 2) }

// AppendItemsJSONIn appends the items as a JSON array with prices written
// with the decimals of currency (see CurrencyDigits).
func AppendItemsJSONIn(b []byte, items []Item, currency string) []byte {
	digits, _ := CurrencyDigits(currency)
	return appendItems(b, items, digits)
}

func appendItems(b []byte, items []Item, digits int) []byte {
	b = append(b, '[')
	for i := range items {
		it := &items[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"product_id":`...)
		b = AppendJSONString(b, it.ProductID)
		b = append(b, `,"category":`...)
		b = AppendJSONString(b, it.Category)
		b = append(b, `,"quantity":`...)
		b = strconv.AppendInt(b, int64(it.Quantity), 10)
		b = append(b, `,"unit_price":`...)
		b = it.UnitPriceCents.AppendDecimal(b, digits)
		if it.UnitPriceExact != "" {
			b = append(b, `,"unit_price_exact":`...)
			b = AppendJSONString(b, it.UnitPriceExact)
		}
		b = append(b, '}')
	}
	return append(b, ']')
}

// AppendJSONString appends s as a JSON string literal, escaping what JSON
// requires and replacing invalid UTF-8 with U+FFFD.
func AppendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b = append(b, '\\', byte(r))
		case r < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[r>>4], hex[r&0xf])
		default:
			b = utf8.AppendRune(b, r)
		}
	}
	return append(b, '"')
}
