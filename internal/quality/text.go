package quality

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/shopstream/shopstream/internal/event"
)

// nulEscape is how JSON writes the NUL character inside a string.
var nulEscape = []byte(`\u0000`)

// checkText rejects a record whose text neither store can hold the same
// way: PostgreSQL refuses a NUL character and invalid UTF-8 in a text
// column (SQLSTATE 22021) while SQLite keeps them, and the JSON decoder
// silently turns invalid UTF-8 into U+FFFD. It looks at the raw bytes, so
// it costs one pass of three vectorised scans on a clean record.
func checkText(raw []byte) *Failure {
	if utf8.Valid(raw) && bytes.IndexByte(raw, 0) < 0 && !bytes.Contains(raw, nulEscape) {
		return nil
	}
	for i := 0; i < len(raw); {
		c := raw[i]
		switch {
		case c == 0:
			return fail(InvalidText, "%s: NUL byte at byte %d", fieldAt(raw, i), i)
		case c == '\\':
			if bytes.HasPrefix(raw[i:], nulEscape) {
				return fail(InvalidText, `%s: NUL character (\u0000) at byte %d`, fieldAt(raw, i), i)
			}
			i += 2 // skip the escaped character, so `\\u0000` is not a NUL
			continue
		case c >= utf8.RuneSelf:
			r, n := utf8.DecodeRune(raw[i:])
			if r == utf8.RuneError && n <= 1 {
				return fail(InvalidText, "%s: invalid UTF-8 at byte %d", fieldAt(raw, i), i)
			}
			i += n
			continue
		}
		i++
	}
	return nil
}

// TextOK reports whether raw, a JSON document, holds only text both stores
// keep alike: valid UTF-8 without a NUL byte or the escape \u0000 (see
// the invalid_text check).
func TextOK(raw []byte) bool { return checkText(raw) == nil }

// fieldAt names the JSON member whose value holds byte i of raw: the last
// complete "key": before it. It is a best effort for the failure's detail,
// not a parser; it returns "record" when it finds none.
func fieldAt(raw []byte, i int) string {
	for j := min(i, len(raw)) - 1; j > 0; j-- {
		if raw[j] != ':' {
			continue
		}
		k := j - 1
		for k >= 0 && (raw[k] == ' ' || raw[k] == '\t' || raw[k] == '\n' || raw[k] == '\r') {
			k--
		}
		if k < 1 || raw[k] != '"' {
			continue
		}
		start := bytes.LastIndexByte(raw[:k], '"')
		if start < 0 {
			return "record"
		}
		name := raw[start+1 : k]
		if len(name) > 64 || !utf8.Valid(name) || bytes.IndexByte(name, 0) >= 0 || bytes.IndexByte(name, '\\') >= 0 {
			return "record"
		}
		return fmt.Sprintf("field %q", name)
	}
	return "record"
}

// checkFieldsText is checkText for a transaction not decoded from a record
// (an imported order line): a NUL character or invalid UTF-8 in any of its
// text fields, which PostgreSQL refuses (a whole batch with it) and SQLite
// keeps, fails it as InvalidText, naming the field.
func checkFieldsText(t *event.Transaction) *Failure {
	if f := textFields(
		"transaction_id", t.TransactionID, "customer_id", t.CustomerID, "currency", t.Currency,
		"payment_method", t.PaymentMethod, "card.bin", t.Card.BIN, "card.last4", t.Card.Last4,
		"device_id", t.DeviceID, "ip_address", t.IPAddress, "billing_country", t.BillingCountry,
		"shipping_country", t.ShippingCountry, "channel", t.Channel, "shipping_address", t.ShippingAddress,
	); f != nil {
		return f
	}
	for i := range t.Items {
		it := &t.Items[i]
		if f := textFields("product_id", it.ProductID, "category", it.Category, "unit_price_exact", it.UnitPriceExact); f != nil {
			f.Detail = fmt.Sprintf("items[%d].%s", i, f.Detail)
			return f
		}
	}
	return nil
}

// textFields checks name, value pairs.
func textFields(kv ...string) *Failure {
	for i := 0; i+1 < len(kv); i += 2 {
		v := kv[i+1]
		if j := strings.IndexByte(v, 0); j >= 0 {
			return fail(InvalidText, "%s: NUL byte at byte %d", kv[i], j)
		}
		if !utf8.ValidString(v) {
			j := 0
			for j < len(v) {
				r, n := utf8.DecodeRuneInString(v[j:])
				if r == utf8.RuneError && n <= 1 {
					break
				}
				j += n
			}
			return fail(InvalidText, "%s: invalid UTF-8 at byte %d", kv[i], j)
		}
	}
	return nil
}
