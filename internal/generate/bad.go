package generate

import (
	"bytes"

	"github.com/shopstream/shopstream/internal/quality"
)

// Bad records are honest orders damaged the way real feeds damage them,
// one defect per record, each chosen to trip exactly one quality check.

var (
	badCurrencies = []string{"usd", "US$", "EURO", "XBT", "DOLLAR", "XXX"}
	badCountries  = []string{"UK", "EN", "XX", "USA", "GER", "EU"}
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
	g.buildLegit(g.pickBuyer(ms), ms, false)
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
