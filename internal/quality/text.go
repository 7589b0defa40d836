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
	for i, v := range textFields(t) {
		if !plainText(v) {
			return textFailure(textFieldNames[i], v)
		}
	}
	for i := range t.Items {
		it := &t.Items[i]
		for j, v := range itemTextFields(it) {
			if !plainText(v) {
				f := textFailure(itemTextFieldNames[j], v)
				f.Detail = fmt.Sprintf("items[%d].%s", i, f.Detail)
				return f
			}
		}
	}
	return nil
}

// textFields are t's text fields, named by textFieldNames; the shipping
// address is the last.
func textFields(t *event.Transaction) [12]string {
	return [...]string{t.TransactionID, t.CustomerID, t.Currency, t.PaymentMethod, t.Card.BIN, t.Card.Last4,
		t.DeviceID, t.IPAddress, t.BillingCountry, t.ShippingCountry, t.Channel, t.ShippingAddress}
}

// itemTextFields are an item's text fields, named by itemTextFieldNames.
func itemTextFields(it *event.Item) [3]string {
	return [...]string{it.ProductID, it.Category, it.UnitPriceExact}
}

// The names of textFields and itemTextFields.
var (
	textFieldNames = [...]string{"transaction_id", "customer_id", "currency", "payment_method", "card.bin", "card.last4",
		"device_id", "ip_address", "billing_country", "shipping_country", "channel", "shipping_address"}
	itemTextFieldNames = [...]string{"product_id", "category", "unit_price_exact"}
)

// plainText reports whether s is valid UTF-8 without a NUL byte, looking
// at each byte of the ASCII text most fields are, and past the first byte
// that is not, with the library's scans.
func plainText(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == 0 || c >= utf8.RuneSelf {
			return strings.IndexByte(s[i:], 0) < 0 && utf8.ValidString(s[i:])
		}
	}
	return true
}

// textFailure says where in v, a field's value that is not plain text,
// its first NUL byte or invalid UTF-8 is.
func textFailure(name, v string) *Failure {
	for j := 0; j < len(v); {
		r, n := utf8.DecodeRuneInString(v[j:])
		switch {
		case v[j] == 0:
			return fail(InvalidText, "%s: NUL byte at byte %d", name, j)
		case r == utf8.RuneError && n <= 1:
			return fail(InvalidText, "%s: invalid UTF-8 at byte %d", name, j)
		}
		j += n
	}
	return fail(InvalidText, "%s: not valid text", name)
}
