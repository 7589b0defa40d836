package importer

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"time"

	"github.com/shopstream/shopstream/internal/event"
	"github.com/shopstream/shopstream/internal/quality"
)

// maxCents is the largest amount an event carries: event.Cents decodes at
// most 10¹³ in major units.
const maxCents = 1e15

// row adds one data row to the pending transaction. When the row starts a
// new run it returns the finished previous transaction.
func (r *Reader) row(rec []string) (event.Transaction, bool) {
	if len(rec) < r.minWidth {
		r.skip(ShortRow, strings.Join(rec, string(r.cfg.Comma)))
		return event.Transaction{}, false
	}
	var vals [numCols]string
	for c := range vals {
		if r.col[c] >= 0 {
			vals[c] = strings.TrimSpace(rec[r.col[c]])
		}
	}
	if r.report.OrderLevel {
		r.orderLevelDefaults(&vals)
	}
	if r.col[colCountry] < 0 {
		vals[colCountry] = "ZZ" // no country column: the unknown region, counted as such
	}
	// Exports that write an order's own fields on its first line only
	// (Shopify's: the customer, time, currency and country blank on the
	// lines after) have them taken from the line before, of the same order.
	if vals[colOrder] != "" && vals[colOrder] == r.prev[colOrder] {
		filled := false
		for _, c := range [...]int{colCustomer, colTime, colCountry, colCurrency} {
			if vals[c] == "" && r.prev[c] != "" {
				vals[c], filled = r.prev[c], true
			}
		}
		if filled {
			r.report.FilledDown++
		}
	}
	r.prev = vals
	field := func(c int) string { return vals[c] }
	order, customer, product := field(colOrder), normCustomerID(field(colCustomer)), field(colProduct)
	switch {
	case order == "":
		r.skip(MissingOrderID, "")
		return event.Transaction{}, false
	case customer == "":
		r.skip(MissingCustomerID, "")
		return event.Transaction{}, false
	case product == "":
		r.skip(MissingProductID, "")
		return event.Transaction{}, false
	case scientific(order):
		r.skip(ScientificID, order)
		return event.Transaction{}, false
	case scientific(customer):
		r.skip(ScientificID, customer)
		return event.Transaction{}, false
	case scientific(product):
		r.skip(ScientificID, product)
		return event.Transaction{}, false
	}
	qty, err := parseQuantity(field(colQuantity))
	if err != nil {
		r.skip(BadQuantity, field(colQuantity))
		return event.Transaction{}, false
	}
	if qty <= 0 {
		r.skip(NonPositiveQuantity, field(colQuantity))
		return event.Transaction{}, false
	}
	at, ok := r.parseTime(field(colTime))
	if !ok {
		r.skip(BadTimestamp, field(colTime))
		return event.Transaction{}, false
	}
	currency := r.cfg.DefaultCurrency
	if c := field(colCurrency); c != "" {
		if currency, ok = normCurrency(c); !ok {
			r.skip(BadCurrency, field(colCurrency))
			return event.Transaction{}, false
		}
	}
	if currency == "" {
		r.skip(MissingCurrency, "")
		return event.Transaction{}, false
	}
	digits, _ := event.CurrencyDigits(currency)
	rawPrice, signed, ok := stripCurrencySign(field(colPrice), currency)
	if !ok {
		// "$2.50" in a row in pounds: the amount is not in the row's
		// currency, whatever its number.
		r.skip(BadCurrency, field(colPrice))
		return event.Transaction{}, false
	}
	if signed {
		r.report.CurrencySignPrices++
	}
	switch {
	case r.cfg.DecimalComma:
		rawPrice = fromDecimalComma(rawPrice)
	case strings.IndexByte(rawPrice, ',') >= 0:
		rawPrice = fromThousandsCommas(rawPrice)
	}
	price, exact, err := parsePrice(rawPrice, digits)
	if err != nil {
		r.skip(BadPrice, field(colPrice))
		return event.Transaction{}, false
	}
	if price < 0 || strings.HasPrefix(exact, "-") {
		r.skip(NegativePrice, field(colPrice))
		return event.Transaction{}, false
	}
	if price > maxCents/event.Cents(qty) {
		r.skip(AmountOutOfRange, field(colPrice))
		return event.Transaction{}, false
	}
	category := field(colCategory)
	if category == "" {
		category = "unknown"
	}
	item := event.Item{ProductID: product, Category: category, Quantity: qty, UnitPriceCents: price, UnitPriceExact: exact}
	line := item.LineCents(digits)
	if price == 0 && exact == "" {
		r.report.ZeroPriceItems++
	}
	if exact != "" {
		r.report.SubMinorPrices++
	}

	key := runKey{order, customer, currency}
	if r.pending != nil && key == r.key {
		if r.pending.TotalCents > maxCents-line {
			r.skip(AmountOutOfRange, field(colPrice))
			return event.Transaction{}, false
		}
		r.pending.Items = append(r.pending.Items, item)
		r.pending.TotalCents += line
		r.report.Items++
		return event.Transaction{}, false
	}

	country := r.country(field(colCountry))
	next := &event.Transaction{
		SchemaVersion:   event.SchemaVersion,
		TransactionID:   order,
		CustomerID:      customer,
		EventTime:       at,
		Items:           []event.Item{item},
		TotalCents:      line,
		Currency:        currency,
		PaymentMethod:   "unknown",
		BillingCountry:  country,
		ShippingCountry: country,
		Channel:         "import",
	}
	if n := r.runs[order]; n > 0 {
		next.TransactionID = order + "#" + strconv.Itoa(n+1)
		r.report.SplitOrders++
	}
	r.runs[order]++
	r.report.Items++
	r.key = key
	if r.pending == nil {
		r.pending = next
		return event.Transaction{}, false
	}
	return r.emit(next), true
}

// emit returns the pending transaction and makes next pending.
func (r *Reader) emit(next *event.Transaction) event.Transaction {
	out := *r.pending
	r.pending = next
	r.report.Transactions++
	return out
}

func (r *Reader) parseTime(s string) (time.Time, bool) {
	if s == "" {
		return time.Time{}, false
	}
	layouts := r.cfg.TimeLayouts
	// Files use one format throughout: try the last one that worked first.
	t, err := time.ParseInLocation(layouts[r.layout], s, r.cfg.Location)
	for i := 0; err != nil && i < len(layouts); i++ {
		if i != r.layout {
			if t, err = time.ParseInLocation(layouts[i], s, r.cfg.Location); err == nil {
				r.layout = i
			}
		}
	}
	if err != nil {
		return time.Time{}, false
	}
	// An event's time must encode as RFC 3339: a four-digit year in UTC.
	t = t.UTC()
	if y := t.Year(); y < 1 || y > 9999 {
		return time.Time{}, false
	}
	return t, true
}

// country maps a country value with Config.Countries (the data-quality
// contract's country aliases). A value mapped to the unknown-region value
// (ZZ) is counted in Report.UnknownRegions; one not mapped at all is kept
// as it is and counted in Report.UnknownCountries, so the contract's
// country check names it (unknown_country) rather than the importer
// guessing.
func (r *Reader) country(v string) string {
	if v == "" {
		r.report.UnknownCountries[""]++
		return ""
	}
	m, cached := r.countries[v]
	if !cached {
		m.code, m.ok = r.cfg.Countries(v)
		m.known = m.ok && quality.KnownCountry(m.code)
		if len(r.countries) < maxCachedCountries {
			// Mapping normalises the name, an allocation or two per
			// order; a file names a few countries over and over.
			r.countries[strings.Clone(v)] = m
		}
	}
	code, ok := m.code, m.ok
	if !ok {
		r.report.UnknownCountries[v]++
		return v
	}
	if !m.known {
		r.report.UnknownRegions[v]++
	}
	return code
}

// maxCachedCountries bounds the country values whose mapping a Reader
// keeps: a file of real orders has a few dozen.
const maxCachedCountries = 1024

// countryMapping is the contract's mapping of a country value.
type countryMapping struct {
	code      string
	ok, known bool // mapped; mapped to a known country
}

func isASCIILetter(b byte) bool { return b|0x20 >= 'a' && b|0x20 <= 'z' }

func normCurrency(s string) (string, bool) {
	if len(s) != 3 || !isASCIILetter(s[0]) || !isASCIILetter(s[1]) || !isASCIILetter(s[2]) {
		return "", false
	}
	return strings.ToUpper(s), true
}

// normCustomerID undoes the float formatting spreadsheet and pandas
// exports give numeric IDs ("17850.0" → "17850"), so that a customer has
// one ID whichever tool wrote the file.
func normCustomerID(s string) string {
	if base, ok := strings.CutSuffix(s, ".0"); ok && base != "" && strings.Trim(base, "0123456789") == "" {
		return base
	}
	return s
}

// parseQuantity reads an integer, also written with a zero fraction
// ("6.0"), within ±10⁹.
func parseQuantity(s string) (int, error) {
	if base, ok := strings.CutSuffix(s, ".0"); ok {
		s = base
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n > 1e9 || n < -1e9 {
		return 0, fmt.Errorf("quantity %q is not an integer within ±10⁹", s)
	}
	return int(n), nil
}

// parsePrice reads a plain decimal number ("2.55", "-1", ".5", "3.") into
// minor units of a currency with digits decimals, rounded half away from
// zero, and, when it has more decimals than that (a unit price of 0.001),
// its exact literal for event.Item.UnitPriceExact, so that the line total
// is computed from the price as given. Exponents, thousands separators,
// currency signs, NaN and infinities are rejected, so that no float
// rounding or locale guess decides an amount (row takes off first a
// currency sign of the row's currency, stripCurrencySign, and thousands
// separators whose grouping leaves no doubt, fromThousandsCommas or
// fromDecimalComma).
func parsePrice(s string, digits int) (event.Cents, string, error) {
	in := s
	sign := ""
	if s != "" && (s[0] == '-' || s[0] == '+') {
		if s[0] == '-' {
			sign = "-"
		}
		s = s[1:]
	}
	givenWhole, givenFrac, dot := strings.Cut(s, ".")
	whole, frac := givenWhole, givenFrac
	if whole == "" && frac == "" || strings.Trim(whole, "0123456789") != "" || strings.Trim(frac, "0123456789") != "" {
		return 0, "", fmt.Errorf("price %q is not a plain decimal number", in)
	}
	whole = strings.TrimLeft(whole, "0")
	if len(whole) > 13 {
		return 0, "", fmt.Errorf("price %q exceeds 10¹³", s)
	}
	if whole == "" {
		whole = "0"
	}
	frac = strings.TrimRight(frac, "0")
	if len(frac) > 17 {
		return 0, "", fmt.Errorf("price %q has more than 17 decimals", s)
	}
	// The literal is the price without a plus sign, leading or trailing
	// zeros; most prices are written so already, and are passed as they
	// are rather than copied (a copy per row was a tenth of the reader's
	// allocations).
	lit := in
	if in[0] == '+' || len(whole) != len(givenWhole) || len(frac) != len(givenFrac) || dot && frac == "" {
		lit = sign + whole
		if frac != "" {
			lit += "." + frac
		}
	}
	return event.ExactMinor(lit, digits)
}

// fromDecimalComma rewrites a price written with a decimal comma
// ("2,55", "1.234,50", "1 234,50") as parsePrice reads it ("2.55",
// "1234.50"). A thousands separator (a dot, a space, a no-break or a
// narrow no-break space, one kind in a price) must part groups of three
// digits after a first group of one to three; a price that breaks that
// ("2.55", "1.23,4", "1,2,3") comes back empty, which parsePrice refuses,
// rather than a guess deciding the amount: "2.55" with a decimal comma is
// neither 2.55 nor 255.
func fromDecimalComma(s string) string {
	sign := ""
	if s != "" && (s[0] == '-' || s[0] == '+') {
		sign, s = s[:1], s[1:]
	}
	whole, frac, comma := strings.Cut(s, ",")
	if strings.Trim(frac, "0123456789") != "" {
		return ""
	}
	var b strings.Builder
	first, group := 0, -1 // digits before the first separator; since the last one (-1: none yet)
	var sep rune
	for _, c := range whole {
		switch {
		case c >= '0' && c <= '9':
			b.WriteRune(c)
			if group < 0 {
				first++
			} else {
				group++
			}
		case c == '.' || c == ' ' || c == '\u00a0' || c == '\u202f':
			if group < 0 && (first == 0 || first > 3) || group >= 0 && group != 3 || sep != 0 && c != sep {
				return ""
			}
			sep, group = c, 0
		default:
			return ""
		}
	}
	if group >= 0 && group != 3 {
		return ""
	}
	if !comma {
		return sign + b.String()
	}
	return sign + b.String() + "." + frac
}

// orderLevelDefaults fills the columns an order-level log has not: the
// product ("unknown") and quantity (1) of its one line and the order ID, made from the row (its customer,
// time, amount and number, hashed: "r" and 16 hex digits), so that the same
// file imported again names the same orders, and another file's orders
// are not taken for them.
func (r *Reader) orderLevelDefaults(vals *[numCols]string) {
	vals[colProduct], vals[colQuantity] = "unknown", "1"
	if r.col[colOrder] < 0 {
		h := fnv.New64a()
		for _, v := range [...]string{vals[colCustomer], vals[colTime], vals[colPrice], strconv.FormatInt(r.report.Rows, 10)} {
			h.Write([]byte(v))
			h.Write([]byte{0})
		}
		vals[colOrder] = fmt.Sprintf("r%016x", h.Sum64())
	}
}

// scientific reports whether id is a number in a spreadsheet's scientific
// notation ("1.78502E+11", "1.2E+4", "3E+15"): a digit, optionally a point
// and more digits, then E+ or e+ and the exponent. A long numeric ID that
// Excel showed so was saved with its last digits gone.
func scientific(id string) bool {
	i := 0
	if i >= len(id) || id[i] < '0' || id[i] > '9' {
		return false
	}
	i++
	if i < len(id) && id[i] == '.' {
		i++
		for i < len(id) && id[i] >= '0' && id[i] <= '9' {
			i++
		}
	}
	if i+2 > len(id) || id[i] != 'E' && id[i] != 'e' || id[i+1] != '+' {
		return false
	}
	i += 2
	if i == len(id) {
		return false
	}
	for ; i < len(id); i++ {
		if id[i] < '0' || id[i] > '9' {
			return false
		}
	}
	return true
}
