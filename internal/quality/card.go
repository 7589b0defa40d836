package quality

import "github.com/shopstream/shopstream/internal/event"

// checkCard enforces what the event may carry of a payment card: the
// issuer BIN (6 to 8 digits) and the last four digits, or nothing at all
// when the payment used no card. Anything else may be a full card number
// sent in the wrong field, which must never be stored.
func checkCard(c *event.Card) *Failure {
	if c.BIN == "" && c.Last4 == "" {
		return nil
	}
	if n := len(c.BIN); n < 6 || n > 8 || !allDigits(c.BIN) {
		return fail(InvalidCard, "card.bin is %d characters, want 6 to 8 digits", len(c.BIN))
	}
	if len(c.Last4) != 4 || !allDigits(c.Last4) {
		return fail(InvalidCard, "card.last4 is %d characters, want exactly 4 digits", len(c.Last4))
	}
	return nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// PAN lengths: a primary account number has 13 to 19 digits.
const (
	minPAN = 13
	maxPAN = 19
	// keepHead and keepTail are the digits PCI DSS allows to be shown.
	keepHead = 6
	keepTail = 4
)

// MaskPANs returns raw with every card number it contains masked, so that
// it can be stored or sent on (quarantine table, dead-letter topic).
//
// A card number is a run of 13 to 19 digits that passes the Luhn check. A
// run is a maximal sequence of digits in which a single space or dash may
// separate two digits ("4111 1111 1111 1111", "4111-1111-1111-1111"); in
// each run, every stretch of whole groups of 13 to 19 digits is tried, so
// a number written next to another ("order 12345 4111 1111 1111 1111") is
// found too. All digits but the first 6 and the last 4 become '*'; the
// separators and the length stay. The masking repeats until nothing is
// left to mask.
//
// When there is nothing to mask, MaskPANs returns raw itself without
// allocating; otherwise it returns a masked copy and leaves raw unchanged.
func MaskPANs(raw []byte) []byte {
	out, copied := raw, false
	for {
		masked := false
		for i := 0; i < len(out); {
			if !isDigit(out[i]) {
				i++
				continue
			}
			end, n := digitRun(out, i)
			if n >= minPAN {
				if s, e, k, ok := findPAN(out, i, end); ok {
					if !copied {
						out, copied = append([]byte(nil), raw...), true
					}
					maskDigits(out[s:e], k)
					masked = true
				}
			}
			i = end
		}
		if !masked {
			return out
		}
	}
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isSep(c byte) bool { return c == ' ' || c == '-' }

// digitRun returns the end of the run starting at digit b[i] and its
// number of digits.
func digitRun(b []byte, i int) (end, n int) {
	for i < len(b) {
		switch {
		case isDigit(b[i]):
			n++
			i++
		case isSep(b[i]) && i+1 < len(b) && isDigit(b[i+1]):
			i++
		default:
			return i, n
		}
	}
	return i, n
}

// findPAN looks for a card number in the run b[start:end]: a stretch of
// whole groups (the whole run included) of 13 to 19 digits. It returns the
// stretch and its number of digits.
func findPAN(b []byte, start, end int) (s, e, k int, ok bool) {
	for s = start; s < end; {
		k = 0
		for e = s; e < end; {
			// take the group starting at e
			for e < end && isDigit(b[e]) {
				e++
				k++
			}
			if k > maxPAN {
				break
			}
			if k >= minPAN && luhn(b[s:e]) {
				return s, e, k, true
			}
			if e == end {
				break
			}
			e++ // the separator
		}
		// next group
		for s < end && isDigit(b[s]) {
			s++
		}
		if s < end {
			s++
		}
	}
	return 0, 0, 0, false
}

// luhn reports whether the digits of b (separators skipped) pass the Luhn
// check.
func luhn(b []byte) bool {
	sum, double := 0, false
	for i := len(b) - 1; i >= 0; i-- {
		if !isDigit(b[i]) {
			continue
		}
		d := int(b[i] - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

// maskDigits replaces the digits of b, which holds n, with '*' except the
// first keepHead and the last keepTail.
func maskDigits(b []byte, n int) {
	k := 0
	for i, c := range b {
		if !isDigit(c) {
			continue
		}
		if k >= keepHead && k < n-keepTail {
			b[i] = '*'
		}
		k++
	}
}
