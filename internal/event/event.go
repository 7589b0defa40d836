package event

import (
	"errors"
	"fmt"
	"math"
	"strconv"
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
// keyed by CustomerID. Money is carried as JSON numbers with two decimals and
// held here in minor units (cents) so that sums are exact.
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
}

// Item is one line of a transaction.
type Item struct {
	ProductID      string `json:"product_id"`
	Category       string `json:"category"`
	Quantity       int    `json:"quantity"`
	UnitPriceCents Cents  `json:"unit_price"`
}

// Card holds only what may be stored of a payment card: the issuer's BIN
// (first six digits) and the last four digits. A full card number never
// appears in an event.
type Card struct {
	BIN   string `json:"bin"`
	Last4 string `json:"last4"`
}

// Cents is an amount of money in minor units. It marshals to and from a JSON
// number with two decimals (12.34), rounding half away from zero.
type Cents int64

// MarshalJSON writes c as a decimal number with two fraction digits.
func (c Cents) MarshalJSON() ([]byte, error) { return c.AppendJSON(nil), nil }

// AppendJSON appends c as a decimal number with two fraction digits.
func (c Cents) AppendJSON(b []byte) []byte {
	v := int64(c)
	if v < 0 {
		b = append(b, '-')
		v = -v
	}
	b = strconv.AppendInt(b, v/100, 10)
	b = append(b, '.')
	f := v % 100
	if f < 10 {
		b = append(b, '0')
	}
	return strconv.AppendInt(b, f, 10)
}

// UnmarshalJSON reads a JSON number into minor units.
func (c *Cents) UnmarshalJSON(b []byte) error {
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("amount %s is not a number", b)
	}
	if math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > 1e13 {
		return fmt.Errorf("amount %s is out of range", b)
	}
	*c = Cents(math.Round(f * 100))
	return nil
}

// Float returns c in major units, for models and display.
func (c Cents) Float() float64 { return float64(c) / 100 }

// String formats c like 12.34.
func (c Cents) String() string { return string(c.AppendJSON(nil)) }

// ItemsCents is the sum of quantity × unit price over the items.
func (t *Transaction) ItemsCents() Cents {
	var s Cents
	for _, it := range t.Items {
		s += Cents(it.Quantity) * it.UnitPriceCents
	}
	return s
}

// Marshal encodes t as version-1 JSON.
func Marshal(t *Transaction) ([]byte, error) {
	return json.Marshal(t)
}

// ErrMalformed wraps every error Decode returns for bytes that are not a
// well-formed version-1 transaction object.
var ErrMalformed = errors.New("malformed transaction")

// Decode parses a version-1 transaction. It reports syntax and type errors
// wrapped in ErrMalformed; semantic checks (required fields, ranges,
// consistency) are the quality package's job.
func Decode(b []byte, t *Transaction) error {
	*t = Transaction{}
	if err := json.Unmarshal(b, t); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return nil
}

// AppendItemsJSON appends the items as a JSON array, the form stored with a
// transaction.
func AppendItemsJSON(b []byte, items []Item) []byte {
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
		b = it.UnitPriceCents.AppendJSON(b)
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
