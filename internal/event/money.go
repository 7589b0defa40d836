package event

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
)

// ErrPrecision is wrapped by the error Decode returns when an amount has
// more decimals than its currency's minor unit (12.345 EUR, 1.5 JPY); the
// error is a *PrecisionError.
var ErrPrecision = errors.New("amount has more decimals than its currency")

// PrecisionError tells which amount has too many decimals for its currency.
type PrecisionError struct {
	Field    string // "total_amount" or "items[i].unit_price"
	Amount   string // the amount as written, without exponent
	Decimals int    // the decimals it has
	Currency string // the record's currency, "" when missing
	Digits   int    // the decimals the currency has
}

func (e *PrecisionError) Error() string {
	return fmt.Sprintf("%s %s has %d decimals, %s has %d", e.Field, e.Amount, e.Decimals, strconv.Quote(e.Currency), e.Digits)
}

// Is makes errors.Is(err, ErrPrecision) true.
func (e *PrecisionError) Is(target error) bool { return target == ErrPrecision }

// maxMajor bounds the amounts Decode accepts, in major units, so that any
// amount fits an int64 of minor units with room for sums.
const maxMajor = 1e13

// CurrencyDigits returns the ISO 4217 minor unit of code: the number of
// decimals its amounts have (2 for EUR, 0 for JPY, 3 for BHD). For a code
// it does not know it returns 2 and false.
//
// It is called several times for every record a processor decodes and
// checks, so it looks the code up in a table indexed by its three letters
// rather than hashing it into the maps below (two map lookups were 1.5%
// of `process`'s CPU).
func CurrencyDigits(code string) (int, bool) {
	if len(code) == 3 && isUpper(code[0]) && isUpper(code[1]) && isUpper(code[2]) {
		if d := currencyTable[currencyIndex(code)]; d != 0 {
			return int(d - 1), true
		}
	}
	return 2, false
}

// currencyIndex is the place of a code of three letters A to Z in
// currencyTable.
func currencyIndex(code string) int {
	return (int(code[0]-'A')*26+int(code[1]-'A'))*26 + int(code[2]-'A')
}

// currencyTable holds, per code of three letters, its minor unit plus one
// (0 for a code ISO 4217 does not list), made from minorUnits and
// twoDigits.
var currencyTable = func() *[26 * 26 * 26]uint8 {
	var t [26 * 26 * 26]uint8
	for c := range twoDigits {
		t[currencyIndex(c)] = 3
	}
	for c, d := range minorUnits {
		t[currencyIndex(c)] = d + 1
	}
	return &t
}()

func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }

// CurrenciesWithDigits lists, sorted, the ISO 4217 currencies whose minor
// unit is digits decimals; nil for 2, which is every other code's.
func CurrenciesWithDigits(digits int) []string {
	if digits == 2 {
		return nil
	}
	var out []string
	for c, d := range minorUnits {
		if int(d) == digits {
			out = append(out, c)
		}
	}
	slices.Sort(out)
	return out
}

// minorUnits holds the ISO 4217 currencies whose minor unit is not 2
// (ISO 4217 list one, as published in 2024).
var minorUnits = map[string]uint8{
	"BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0,
	"RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
	"BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
	"CLF": 4, "UYW": 4,
}

// twoDigits holds the ISO 4217 currencies with two decimals.
var twoDigits = func() map[string]struct{} {
	codes := []string{"AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD",
		"BDT", "BGN", "BMD", "BND", "BOB", "BOV", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF",
		"CHE", "CHF", "CHW", "CNY", "COP", "COU", "CRC", "CUP", "CVE", "CZK", "DKK", "DOP", "DZD", "EGP",
		"ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GTQ", "GYD", "HKD", "HNL",
		"HTG", "HUF", "IDR", "ILS", "INR", "IRR", "JMD", "KES", "KGS", "KHR", "KPW", "KYD", "KZT", "LAK",
		"LBP", "LKR", "LRD", "LSL", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR",
		"MWK", "MXN", "MXV", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "PAB", "PEN", "PGK",
		"PHP", "PKR", "PLN", "QAR", "RON", "RSD", "RUB", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP",
		"SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB", "TJS", "TMT", "TOP", "TRY", "TTD",
		"TWD", "TZS", "UAH", "USD", "USN", "UYU", "UZS", "VED", "VES", "WST", "XCD", "YER", "ZAR", "ZMW",
		"ZWG"}
	m := make(map[string]struct{}, len(codes))
	for _, c := range codes {
		m[c] = struct{}{}
	}
	return m
}()

// decimal is a JSON number read exactly: ±mant × 10^exp, with mant free of
// trailing zeros so that exp tells how many decimals the value truly has.
type decimal struct {
	mant uint64
	exp  int
	neg  bool
}

// UnmarshalJSON reads a JSON number literal without going through float64.
// null leaves d zero, as an absent field does.
func (d *decimal) UnmarshalJSON(b []byte) error {
	*d = decimal{}
	if string(b) == "null" {
		return nil
	}
	v, err := parseDecimal(b)
	if err != nil {
		if len(b) > 40 {
			b = append(b[:40:40], "..."...)
		}
		return fmt.Errorf("amount %s %w", b, err)
	}
	*d = v
	return nil
}

var (
	errNotNumber = errors.New("is not a number")
	errTooLong   = errors.New("is out of range: more than 18 significant digits")
)

// parseDecimal parses the JSON number grammar
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? exactly. It fails on
// anything else and on more than 18 significant digits, which no amount has.
func parseDecimal(b []byte) (decimal, error) {
	var d decimal
	i := 0
	if i < len(b) && b[i] == '-' {
		d.neg = true
		i++
	}
	intStart := i
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	intEnd := i
	if intEnd == intStart || (b[intStart] == '0' && intEnd-intStart > 1) {
		return d, errNotNumber
	}
	fracStart, fracEnd := i, i
	if i < len(b) && b[i] == '.' {
		i++
		fracStart = i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		fracEnd = i
		if fracEnd == fracStart {
			return d, errNotNumber
		}
	}
	exp := 0
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		eneg := false
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			eneg = b[i] == '-'
			i++
		}
		es := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			if exp < 100_000 {
				exp = exp*10 + int(b[i]-'0')
			}
			i++
		}
		if i == es {
			return d, errNotNumber
		}
		if eneg {
			exp = -exp
		}
	}
	if i != len(b) {
		return d, errNotNumber
	}
	// The digits are int ++ frac; value = digits × 10^(exp - len(frac)).
	digit := func(k int) byte {
		if k < intEnd-intStart {
			return b[intStart+k]
		}
		return b[fracStart+k-(intEnd-intStart)]
	}
	n := intEnd - intStart + fracEnd - fracStart
	d.exp = exp - (fracEnd - fracStart)
	first, last := 0, n-1
	for first < n && digit(first) == '0' {
		first++
	}
	if first == n {
		return decimal{}, nil // zero, whatever its exponent or sign
	}
	for digit(last) == '0' {
		last--
		d.exp++
	}
	if last-first+1 > 18 {
		return decimal{}, errTooLong
	}
	for k := first; k <= last; k++ {
		d.mant = d.mant*10 + uint64(digit(k)-'0')
	}
	return d, nil
}

var pow10 = [...]uint64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18}

// minor converts d to minor units of a currency with digits decimals. It
// returns ErrPrecision itself when d has more decimals.
func (d decimal) minor(digits int) (Cents, error) {
	if d.mant == 0 {
		return 0, nil
	}
	s := d.exp + digits
	if s < 0 {
		return 0, ErrPrecision
	}
	limit := uint64(maxMajor) * pow10[digits]
	if s >= len(pow10) || d.mant > limit/pow10[s] {
		return 0, fmt.Errorf("amount %s is out of range", d)
	}
	v := int64(d.mant * pow10[s])
	if d.neg {
		v = -v
	}
	return Cents(v), nil
}

// String writes d as a plain decimal literal.
func (d decimal) String() string {
	var b []byte
	if d.neg {
		b = append(b, '-')
	}
	m := strconv.AppendUint(nil, d.mant, 10)
	switch {
	case d.exp >= 0:
		b = append(b, m...)
		for range d.exp {
			b = append(b, '0')
		}
	case -d.exp < len(m):
		k := len(m) + d.exp
		b = append(b, m[:k]...)
		b = append(b, '.')
		b = append(b, m[k:]...)
	default:
		b = append(b, "0."...)
		for range -d.exp - len(m) {
			b = append(b, '0')
		}
		b = append(b, m...)
	}
	return string(b)
}

// Decimal is c, an amount in minor units of currency, as a JSON number
// with that currency's decimals (two for a code CurrencyDigits does not
// know): 15050 is 15050 in JPY, 150.50 in EUR, 15.050 in BHD.
func (c Cents) Decimal(currency string) json.Number {
	digits, _ := CurrencyDigits(currency)
	return json.Number(c.AppendDecimal(nil, digits))
}

// AppendDecimal appends c, an amount in minor units of a currency with
// digits decimals (see CurrencyDigits), as a JSON number with exactly that
// many decimals: 1234 is 12.34 with 2, 1234 with 0, 1.234 with 3.
func (c Cents) AppendDecimal(b []byte, digits int) []byte {
	v := int64(c)
	if v < 0 {
		b = append(b, '-')
	}
	u := uint64(v)
	if v < 0 {
		u = -u
	}
	if digits <= 0 || digits >= len(pow10) {
		return strconv.AppendUint(b, u, 10)
	}
	p := pow10[digits]
	b = strconv.AppendUint(b, u/p, 10)
	b = append(b, '.')
	var buf [20]byte
	f := strconv.AppendUint(buf[:0], u%p, 10)
	for range digits - len(f) {
		b = append(b, '0')
	}
	return append(b, f...)
}

// exactLine is qty × price (a decimal literal in major units) in minor
// units of a currency with digits decimals, rounded half away from zero;
// false when price is not a decimal literal or the line is out of range.
func exactLine(qty int, price string, digits int) (Cents, bool) {
	d, err := parseDecimal([]byte(price))
	if err != nil {
		return 0, false
	}
	// Bound the arithmetic for hostile exponents: above 10^18 minor units
	// no line fits an int64; below 10^-40 of one, mant × qty (< 10^28)
	// rounds to 0.
	switch s := d.exp + digits; {
	case d.mant == 0 || s < -40:
		return 0, true
	case s > 18:
		return 0, false
	}
	v := new(big.Int).SetUint64(d.mant)
	v.Mul(v, big.NewInt(int64(qty)))
	if s := d.exp + digits; s >= 0 {
		v.Mul(v, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(s)), nil))
	} else {
		p := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(-s)), nil)
		neg := v.Sign() < 0
		v.Abs(v)
		r := new(big.Int)
		v.QuoRem(v, p, r)
		if r.Lsh(r, 1).Cmp(p) >= 0 {
			v.Add(v, big.NewInt(1))
		}
		if neg {
			v.Neg(v)
		}
	}
	if d.neg {
		v.Neg(v)
	}
	if !v.IsInt64() {
		return 0, false
	}
	return Cents(v.Int64()), true
}

// ExactMinor converts price, a plain decimal literal in major units
// ("0.001", "-2.5"), to minor units of a currency with digits decimals:
// rounded half away from zero, and, when price has more decimals than
// that, the canonical literal to keep in Item.UnitPriceExact (empty
// otherwise). It fails on anything but the JSON number grammar.
func ExactMinor(price string, digits int) (Cents, string, error) {
	d, err := parseDecimal([]byte(price))
	if err != nil {
		return 0, "", fmt.Errorf("price %q %w", price, err)
	}
	if c, err := d.minor(digits); err == nil {
		return c, "", nil
	} else if err != ErrPrecision {
		return 0, "", err
	}
	c, ok := exactLine(1, d.String(), digits)
	if !ok {
		return 0, "", fmt.Errorf("price %q is out of range", price)
	}
	return c, d.String(), nil
}

// MinorPerMajor is how many minor units make a major unit of the one
// currency of byCurrency (amounts by currency, as a store's summary has
// them): 100 for EUR, 1 for JPY, 1,000 for BHD. With several currencies,
// none, or a code ISO 4217 does not list, 100. The customer analytics
// (revenue, RFM monetary, CLV) assume the shop's one settlement currency
// and show its minor units in major units by it.
func MinorPerMajor(byCurrency map[string]int64) float64 {
	if len(byCurrency) == 1 {
		for c := range byCurrency {
			return MinorPer(c)
		}
	}
	return 100
}

// MinorPer is how many minor units make a major unit of currency: 100
// for EUR, 1 for JPY, 1,000 for BHD; 100 for a code ISO 4217 does not
// list (CurrencyDigits).
func MinorPer(currency string) float64 {
	d, _ := CurrencyDigits(currency)
	return math.Pow10(d)
}
