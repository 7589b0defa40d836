package generate

import (
	"bytes"
	"fmt"

	"github.com/shopstream/shopstream/internal/event"
	"github.com/shopstream/shopstream/internal/quality"
)

// Bad records are honest orders damaged the way real feeds damage them,
// one defect per record, each chosen to trip exactly one quality check.

var (
	badCurrencies = []string{"usd", "US$", "EURO", "XBT", "DOLLAR", "XXX"}
	badCountries  = []string{"EN", "XX", "GER", "SUI", "ENG", "QQ"} // none an alias of the default quality contract (which maps UK, USA, EU)
)

// emitBad makes a bad record of a random configured kind at ms. It reports
// false when it cannot (a duplicate before any good record exists).
func (g *Generator) emitBad(ms int64) (Record, bool) {
	r := g.r
	kind := g.badKinds[r.IntN(len(g.badKinds))]
	if kind == quality.DuplicateID {
		if g.ringN == 0 {
			return Record{}, false
		}
		// a producer retry re-sends an earlier record's exact bytes
		rec := g.ring[(g.ringI-1-r.IntN(g.ringN)+2*dupRing)%dupRing]
		rec.EventTime = timeOfMs(ms)
		rec.Fraud, rec.Scenario, rec.AmountCents = false, "", 0
		rec.Bad = quality.DuplicateID
		return rec, true
	}
	g.buildLegit(g.pickCustomer(ms), ms, false)
	t := &g.tx
	switch kind {
	case quality.WrongType:
		t.wrong = wrongKind(1 + r.IntN(int(nWrong)-1))
	case quality.MissingField:
		t.omit = field(1 + r.IntN(int(nFields)-1))
	case quality.NegativeAmount:
		if r.Float64() < 0.5 {
			// a refund sent down the sales feed
			for i := 0; i < t.n; i++ {
				t.lines[i].price = -t.lines[i].price
			}
			t.total = -t.total
		} else {
			// a discount booked as a product with a negative price
			l := &t.lines[r.IntN(t.n)]
			t.total -= 2 * int64(l.qty) * l.price
			l.price = -l.price
		}
	case quality.TotalMismatch:
		switch {
		case r.Float64() < 0.4:
			t.total++ // rounding each line instead of the sum
		case t.n > 1 && r.Float64() < 0.5:
			l := t.lines[t.n-1] // a line lost on the way
			t.total -= int64(l.qty) * l.price
		default:
			t.total += 499 // shipping added to the total, not as a line
		}
	case quality.UnknownCurrency:
		t.currency = badCurrencies[r.IntN(len(badCurrencies))]
	case quality.UnknownCountry:
		if r.Float64() < 0.5 {
			t.ship = badCountries[r.IntN(len(badCountries))]
		} else {
			t.bill = badCountries[r.IntN(len(badCountries))]
		}
	case quality.FutureTimestamp:
		// a device clock set wrong, an hour to a month ahead
		t.ms += msPerHour + r.Int64N(30*msPerDay)
	}
	return g.finish(ms, "", kind), true
}

// corrupt damages an encoded record so that it is no longer JSON, never
// adding a newline so JSON-lines files stay line-aligned.
func (g *Generator) corrupt(b []byte) []byte {
	r := g.r
	switch r.IntN(5) {
	case 0: // cut off in flight
		return b[:1+r.IntN(len(b)-2)]
	case 1: // the closing brace lost
		return b[:len(b)-1]
	case 2: // two writes run together without a separator
		return append(b, b[:2+r.IntN(len(b)/2)]...)
	case 3: // keys quoted by a hand-rolled encoder
		if i := bytes.Index(b, []byte(`"transaction_id"`)); i >= 0 {
			b[i] = '\''
			b[i+len(`"transaction_id"`)-1] = '\''
			return b
		}
		return b[:len(b)-1]
	default: // a division by zero upstream
		key := []byte(`"total_amount":`)
		i := bytes.Index(b, key)
		if i < 0 {
			return b[:len(b)-1]
		}
		i += len(key)
		j := i
		for j < len(b) && b[j] != ',' {
			j++
		}
		out := make([]byte, 0, len(b))
		out = append(out, b[:i]...)
		out = append(out, "NaN"...)
		return append(out, b[j:]...)
	}
}

// damage applies the defects made on the encoded bytes, after encoding:
// it returns the damaged record and true for those kinds, b and false for
// the others. A nil result is a tombstone (a record without a value).
func (g *Generator) damage(b []byte, kind quality.Reason) ([]byte, bool) {
	switch kind {
	case quality.MalformedJSON:
		return g.corrupt(b), true
	case quality.EmptyRecord:
		if g.r.IntN(2) == 0 {
			return nil, true // a delete marker on a compacted topic
		}
		return b[:0], true // a producer that sent an empty body
	case quality.InvalidText:
		return g.badText(b), true
	case quality.InvalidCard:
		return g.badCard(b), true
	case quality.TooManyDecimals:
		return g.badDecimals(b), true
	}
	return b, false
}

// insert returns a new slice of b with ins inserted at i.
func insert(b []byte, i int, ins []byte) []byte {
	out := make([]byte, 0, len(b)+len(ins))
	out = append(out, b[:i]...)
	out = append(out, ins...)
	return append(out, b[i:]...)
}

// textFields are string fields a text defect may land in.
var textFields = []string{`"category":"`, `"product_id":"`, `"device_id":"`, `"payment_method":"`, `"channel":"`}

// badText puts text into a string field that a PostgreSQL text column
// cannot hold.
func (g *Generator) badText(b []byte) []byte {
	r := g.r
	key := []byte(textFields[r.IntN(len(textFields))])
	i := bytes.Index(b, key)
	if i < 0 {
		key = []byte(`"device_id":"`)
		i = bytes.Index(b, key)
	}
	i += len(key)
	j := i + bytes.IndexByte(b[i:], '"') // the closing quote
	var ins []byte
	switch r.IntN(4) {
	case 0: // a C string's terminator copied along, escaped by the encoder
		ins = []byte(`\u0000`)
	case 1: // the same terminator written raw
		ins = []byte{0}
	case 2: // text in Latin-1, not UTF-8 ("café" as 63 61 66 e9)
		ins = []byte{'c', 'a', 'f', 0xe9}
	default: // a multi-byte character cut in half by a byte-length limit
		ins = []byte{0xe2, 0x82}
	}
	return insert(b, i+r.IntN(j-i+1), ins)
}

// badCard writes card data that is not a BIN and last four digits.
func (g *Generator) badCard(b []byte) []byte {
	r := g.r
	i := bytes.Index(b, []byte(`"card":{`))
	if i < 0 {
		return b
	}
	j := i + bytes.IndexByte(b[i:], '}') + 1
	var card []byte
	switch r.IntN(4) {
	case 0: // the full card number typed into the BIN field
		p := g.pan()
		card = fmt.Appendf(nil, `"card":{"bin":"%s","last4":"%s"}`, p, p[len(p)-4:])
	case 1: // the full card number as last4
		p := g.pan()
		card = fmt.Appendf(nil, `"card":{"bin":"%s","last4":"%s"}`, p[:6], p)
	case 2: // a BIN cut to five digits by a numeric column dropping a leading zero
		card = fmt.Appendf(nil, `"card":{"bin":"%05d","last4":"%04d"}`, 10000+r.IntN(90000), r.IntN(10000))
	default: // a masked last4 ("**12") from a payment page
		card = fmt.Appendf(nil, `"card":{"bin":"%06d","last4":"**%02d"}`, 400000+r.IntN(100000), r.IntN(100))
	}
	out := make([]byte, 0, len(b)+len(card))
	out = append(out, b[:i]...)
	out = append(out, card...)
	return append(out, b[j:]...)
}

// pan makes a 16-digit card number that passes the Luhn check.
func (g *Generator) pan() []byte {
	d := make([]byte, 16)
	d[0] = '4'
	for k := 1; k < 15; k++ {
		d[k] = byte('0' + g.r.IntN(10))
	}
	sum := 0
	for k := 14; k >= 0; k-- {
		v := int(d[k] - '0')
		if (14-k)%2 == 0 { // doubled: every second digit counting from the check digit
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
	}
	d[15] = byte('0' + (10-sum%10)%10)
	return d
}

// badDecimals gives an amount more decimals than its currency has: a
// price computed with VAT and never rounded.
func (g *Generator) badDecimals(b []byte) []byte {
	r := g.r
	key := []byte(`"unit_price":`)
	if r.IntN(3) == 0 {
		key = []byte(`"total_amount":`)
	}
	i := bytes.Index(b, key)
	if i < 0 {
		return b
	}
	i += len(key)
	j := i
	for j < len(b) && (b[j] == '-' || b[j] == '.' || (b[j] >= '0' && b[j] <= '9')) {
		j++
	}
	digits, _ := event.CurrencyDigits(g.cfg.Currency)
	have := 0 // decimals written
	var ins []byte
	if k := bytes.IndexByte(b[i:j], '.'); k >= 0 {
		have = j - i - k - 1
	} else {
		ins = append(ins, '.')
	}
	// up to the currency's decimals, then one to three more, the last not zero
	for n := digits - have + r.IntN(3); n > 0; n-- {
		ins = append(ins, byte('0'+r.IntN(10)))
	}
	ins = append(ins, byte('1'+r.IntN(9)))
	return insert(b, j, ins)
}
