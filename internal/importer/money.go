package importer

import (
	"slices"
	"strings"
)

// currencySigns are the signs spreadsheets and shop exports write beside
// an amount ("$2.50", "2,50 €", "GBP 12.00"), each with the ISO 4217
// currencies it may stand for. A sign is taken off a price only when the
// row's currency is one of them; "$" is a dollar or a peso, "¥" a yen or
// a yuan, "kr" a Nordic krona or krone. Longer signs come first, so "US$"
// is not read as "$" after "US".
var currencySigns = []struct {
	sign       string
	currencies []string
}{
	{"US$", []string{"USD"}}, {"CA$", []string{"CAD"}}, {"AU$", []string{"AUD"}}, {"NZ$", []string{"NZD"}},
	{"HK$", []string{"HKD"}}, {"NT$", []string{"TWD"}}, {"MX$", []string{"MXN"}}, {"R$", []string{"BRL"}},
	{"C$", []string{"CAD"}}, {"A$", []string{"AUD"}}, {"S$", []string{"SGD"}},
	{"$", []string{"USD", "CAD", "AUD", "NZD", "SGD", "HKD", "TWD", "MXN", "ARS", "CLP", "COP"}},
	{"£", []string{"GBP"}}, {"€", []string{"EUR"}}, {"¥", []string{"JPY", "CNY"}}, {"₹", []string{"INR"}},
	{"₩", []string{"KRW"}}, {"₽", []string{"RUB"}}, {"₺", []string{"TRY"}}, {"₪", []string{"ILS"}},
	{"zł", []string{"PLN"}}, {"Kč", []string{"CZK"}}, {"kr", []string{"SEK", "NOK", "DKK", "ISK"}},
}

// stripCurrencySign takes a currency sign or the currency's own ISO code
// off the start or end of price (after or before a minus sign, with or
// without a space between), when it stands for currency. found reports a
// sign or code was there; ok is false when it stands for another
// currency ("$2.50" in a row in pounds), which no import may store as the
// row's.
func stripCurrencySign(price, currency string) (rest string, found, ok bool) {
	s, sign := price, ""
	if s != "" && (s[0] == '-' || s[0] == '+') {
		sign, s = s[:1], s[1:]
	}
	numeric := func(b byte) bool { return b >= '0' && b <= '9' || b == '.' || b == ',' }
	if s == "" || numeric(s[0]) && numeric(s[len(s)-1]) {
		return price, false, true // the common case: no sign at all
	}
	cut := func(s, sign string) (string, bool) {
		if r, ok := strings.CutPrefix(s, sign); ok {
			return strings.TrimLeft(r, " \u00a0\u202f"), true
		}
		if r, ok := strings.CutSuffix(s, sign); ok {
			return strings.TrimRight(r, " \u00a0\u202f"), true
		}
		return s, false
	}
	// The currency's own code ("GBP 12.00", "12,00 EUR"), then a sign.
	// A code is three letters apart from the number: followed (before
	// it) or preceded (after it) by a space, a digit or a sign.
	apart := func(b byte) bool {
		// A byte of a non-ASCII character: a no-break or narrow no-break
		// space, as locales write between an amount and its code.
		return b == ' ' || b >= '0' && b <= '9' || b == '-' || b == '+' || b == '.' || b >= 0x80
	}
	if len(s) > 3 {
		for i, c := range []string{s[:3], s[len(s)-3:]} {
			if i == 0 && !apart(s[3]) || i == 1 && !apart(s[len(s)-4]) {
				continue
			}
			if strings.Trim(c, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") == "" {
				r, _ := cut(s, c)
				if !strings.EqualFold(c, currency) {
					return price, true, false
				}
				return afterSign(sign, r), true, true
			}
		}
	}
	for _, cs := range currencySigns {
		if r, found := cut(s, cs.sign); found {
			if !slices.Contains(cs.currencies, currency) {
				return price, true, false
			}
			return afterSign(sign, r), true, true
		}
	}
	return price, false, true
}

// afterSign puts a minus or plus sign read before a currency sign back
// before the number ("-$2.50" → "-2.50"); a number with its own sign
// keeps it ("$-2.50" → "-2.50").
func afterSign(sign, s string) string {
	if sign == "" || s != "" && (s[0] == '-' || s[0] == '+') {
		return s
	}
	return sign + s
}

// fromThousandsCommas rewrites a price written with a decimal point and
// commas between its thousands ("1,234.50", "12,345,678.9") as parsePrice
// reads it ("1234.50"). Commas must part groups of three digits after a
// first group of one to three, and a decimal point must follow them: a
// price with commas and no point ("1,234", "2,50") could be written with
// a decimal comma and comes back empty, which parsePrice refuses, rather
// than a guess deciding the amount; --decimal-comma reads those.
func fromThousandsCommas(s string) string {
	sign := ""
	if s != "" && (s[0] == '-' || s[0] == '+') {
		sign, s = s[:1], s[1:]
	}
	whole, frac, dot := strings.Cut(s, ".")
	if !dot || strings.Trim(frac, "0123456789") != "" {
		return ""
	}
	groups := strings.Split(whole, ",")
	if n := len(groups[0]); n < 1 || n > 3 {
		return ""
	}
	for i, g := range groups {
		if strings.Trim(g, "0123456789") != "" || i > 0 && len(g) != 3 {
			return ""
		}
	}
	return sign + strings.Join(groups, "") + "." + frac
}
