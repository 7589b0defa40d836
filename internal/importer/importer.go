package importer

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/shopstream/shopstream/internal/event"
)

// Logical column names, the keys of Config.Columns. Category and Currency
// are optional; the others are required.
const (
	OrderID    = "order_id"
	CustomerID = "customer_id"
	ProductID  = "product_id"
	Quantity   = "quantity"
	UnitPrice  = "unit_price"
	Timestamp  = "timestamp"
	Country    = "country"
	Category   = "category"
	Currency   = "currency"
)

// Column indexes into Reader.col, in the order of logicalNames.
const (
	colOrder = iota
	colCustomer
	colProduct
	colQuantity
	colPrice
	colTime
	colCountry
	colCategory
	colCurrency
	numCols
)

var logicalNames = [numCols]string{OrderID, CustomerID, ProductID, Quantity, UnitPrice, Timestamp, Country, Category, Currency}

// requiredCols is how many of logicalNames, from the start, are required.
const requiredCols = colCategory

// headerSynonyms are the header names recognised for each logical column
// when Config.Columns does not map it, compared after normalising
// (lower-cased, without spaces, underscores, hyphens and dots), so that
// "InvoiceNo", "invoice_no" and "Invoice No" are one name. Earlier
// synonyms win when a header has several candidates.
var headerSynonyms = [numCols][]string{
	colOrder:    {"orderid", "invoiceno", "invoice", "invoiceid", "ordernumber", "orderno", "transactionid"},
	colCustomer: {"customerid", "customerno", "customernumber", "clientid"},
	colProduct:  {"productid", "stockcode", "sku", "productcode", "itemid"},
	colQuantity: {"quantity", "qty"},
	colPrice:    {"unitprice", "price", "itemprice"},
	colTime:     {"timestamp", "invoicedate", "orderdate", "datetime", "createdat", "date"},
	colCountry:  {"country", "countrycode", "billingcountry", "shippingcountry"},
	colCategory: {"category", "productcategory"},
	colCurrency: {"currency", "currencycode"},
}

// DefaultTimeLayouts are the timestamp formats tried, in order, when
// Config.TimeLayouts is empty. Slashed dates are month first, as in the UCI
// Online Retail data ("12/1/2010 8:26"); a file with day-first dates needs
// its own layout ("2/1/2006 15:04"). Fractional seconds after the seconds
// are accepted by every layout that has seconds.
var DefaultTimeLayouts = []string{
	time.RFC3339Nano, // also plain RFC 3339
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05",
	"2006-01-02 15:04",
	"2006-01-02",
	"1/2/2006 15:04",
	"1/2/2006 15:04:05",
	"01/02/2006 15:04",
	"1/2/2006",
}

// Config configures [New].
type Config struct {
	// Columns maps logical names (OrderID, CustomerID, ...) to header
	// names, compared case-insensitively. Logical names it leaves out are
	// recognised from common header names (see [New]). Defaults to empty:
	// recognise everything.
	Columns map[string]string
	// DefaultCurrency is the ISO 4217 code of rows without a currency
	// column or value. Defaults to "EUR".
	DefaultCurrency string
	// Location is the zone of timestamps that carry none. Defaults to UTC.
	// Event times are returned in UTC.
	Location *time.Location
	// TimeLayouts are the accepted timestamp formats, tried in order.
	// Defaults to DefaultTimeLayouts.
	TimeLayouts []string
	// Comma is the field separator. Defaults to ','.
	Comma rune
	// Progress, if set, is called with the number of data rows read every
	// ProgressEvery rows and once at the end, for progress bars on large
	// files. It runs on the goroutine calling Next. Defaults to nil.
	Progress func(rows int64)
	// ProgressEvery is how many rows pass between Progress calls.
	// Defaults to 100,000.
	ProgressEvery int64
}

// SkipReason says why a data row did not become part of a transaction.
type SkipReason string

// The reasons a row is skipped, checked in this order (a row is counted
// once, under the first that applies).
const (
	// MalformedRow: the CSV reader could not parse the line.
	MalformedRow SkipReason = "malformed_row"
	// ShortRow: the row has fewer fields than the header needs.
	ShortRow SkipReason = "short_row"
	// MissingOrderID, MissingCustomerID, MissingProductID: the field is
	// empty. Guest checkouts without a customer cannot feed per-customer
	// models.
	MissingOrderID    SkipReason = "missing_order_id"
	MissingCustomerID SkipReason = "missing_customer_id"
	MissingProductID  SkipReason = "missing_product_id"
	// BadQuantity: not an integer. NonPositiveQuantity: zero or negative,
	// which is how exports record returns and cancellations.
	BadQuantity         SkipReason = "bad_quantity"
	NonPositiveQuantity SkipReason = "non_positive_quantity"
	// BadPrice: not a plain decimal number. NonPositivePrice: zero or
	// negative after rounding to cents (adjustments, free items, prices
	// below half a cent).
	BadPrice         SkipReason = "bad_price"
	NonPositivePrice SkipReason = "non_positive_price"
	// BadTimestamp: in none of the accepted layouts, or outside years
	// 1-9999 in UTC.
	BadTimestamp SkipReason = "bad_timestamp"
	// BadCurrency: a currency value that is not three letters.
	BadCurrency SkipReason = "bad_currency"
	// AmountOutOfRange: the line, or the order with it, would exceed the
	// largest amount a transaction event carries (10¹³ in major units).
	AmountOutOfRange SkipReason = "amount_out_of_range"
)

// SkipReasons lists every reason, for reports and metrics.
var SkipReasons = []SkipReason{MalformedRow, ShortRow, MissingOrderID, MissingCustomerID, MissingProductID,
	BadQuantity, NonPositiveQuantity, BadPrice, NonPositivePrice, BadTimestamp, BadCurrency, AmountOutOfRange}

// Report accounts for every data row read so far: Rows = Items + the sum
// of Skipped.
type Report struct {
	// Rows is the number of data rows (CSV records after the header;
	// blank lines are not records).
	Rows int64
	// Items is the number of rows that became transaction items.
	Items int64
	// Transactions is the number of transactions returned by Next.
	Transactions int64
	// Skipped counts skipped rows by reason.
	Skipped map[SkipReason]int64
	// SplitOrders counts transactions emitted for an order ID that had
	// already been emitted earlier in the file (see Reader).
	SplitOrders int64
	// UnknownCountries counts the rows, by country value, whose country
	// could not be mapped to an ISO 3166 alpha-2 code. Those rows are
	// imported with an empty country, not skipped (see Reader).
	UnknownCountries map[string]int64
}

// SkippedRows is the total of Skipped.
func (r Report) SkippedRows() int64 {
	var n int64
	for _, v := range r.Skipped {
		n += v
	}
	return n
}

// HeaderError is returned by New when the header lacks required columns.
type HeaderError struct {
	// Missing names the logical columns not found, with the header name
	// they were mapped to if Config.Columns mapped them.
	Missing []string
	// Header is the header line as read.
	Header []string
}

func (e *HeaderError) Error() string {
	return fmt.Sprintf("importer: no column for %s in header %q; name the header of each in Config.Columns",
		strings.Join(e.Missing, ", "), e.Header)
}

// Reader streams transactions out of an order CSV. It is not safe for
// concurrent use.
//
// Rows are grouped into one transaction while consecutive rows share the
// order ID, customer ID and currency; the transaction takes its time and
// country from its first row. Exports normally list an order's rows
// together. When an order ID comes back after other orders (or changes
// customer or currency mid-order), each contiguous run becomes its own
// transaction, and runs after the first get the transaction ID
// "<order id>#<n>" (n = 2, 3, ...), so transaction IDs stay unique and the
// pipeline's duplicate check cannot drop them; they are counted in
// Report.SplitOrders. Remembering which orders were seen costs memory per
// distinct order ID.
//
// Countries are mapped to ISO 3166 alpha-2 codes: a two-letter value is
// taken as a code (upper-cased), and common full names and alpha-3 codes
// ("United Kingdom", "EIRE", "USA", "DEU") are translated. A value that
// cannot be mapped ("Unspecified", "European Community", "Channel
// Islands") keeps its row, with an empty country, and is counted in
// Report.UnknownCountries: the purchase and its revenue are real, and the
// pipeline's quality checks quarantine a missing country visibly rather
// than the importer guessing one.
type Reader struct {
	cr       *csv.Reader
	cfg      Config
	header   []string
	col      [numCols]int // field index per logical column, −1 if absent
	minWidth int          // fields a row needs

	report   Report
	pending  *event.Transaction
	key      runKey
	runs     map[string]int // order ID → runs emitted
	layout   int            // index of the last layout that parsed
	nextTick int64
	err      error // sticky: io.EOF or a read error
}

type runKey struct {
	order, customer, currency string
}

// New reads the header from r and returns a Reader positioned at the
// first data row.
//
// Columns not mapped by cfg.Columns are recognised by header name,
// case-insensitively and ignoring spaces, underscores, hyphens and dots:
//
//	order_id     order_id, InvoiceNo, Invoice, order_number, transaction_id
//	customer_id  customer_id, CustomerID, "Customer ID", client_id
//	product_id   product_id, StockCode, sku, product_code, item_id
//	quantity     quantity, Quantity, qty
//	unit_price   unit_price, UnitPrice, Price, item_price
//	timestamp    timestamp, InvoiceDate, order_date, datetime, created_at, date
//	country      country, Country, country_code, billing_country, shipping_country
//	category     category, product_category              (optional)
//	currency     currency, currency_code                 (optional)
func New(r io.Reader, cfg Config) (*Reader, error) {
	if cfg.DefaultCurrency == "" {
		cfg.DefaultCurrency = "EUR"
	}
	if cfg.Location == nil {
		cfg.Location = time.UTC
	}
	if len(cfg.TimeLayouts) == 0 {
		cfg.TimeLayouts = DefaultTimeLayouts
	}
	if cfg.Comma == 0 {
		cfg.Comma = ','
	}
	if cfg.ProgressEvery <= 0 {
		cfg.ProgressEvery = 100_000
	}
	cur, ok := normCurrency(cfg.DefaultCurrency)
	if !ok {
		return nil, fmt.Errorf("importer: DefaultCurrency %q is not a three-letter ISO 4217 code", cfg.DefaultCurrency)
	}
	cfg.DefaultCurrency = cur
	for name := range cfg.Columns {
		if indexOf(logicalNames[:], name) < 0 {
			return nil, fmt.Errorf("importer: Config.Columns maps unknown column %q; known: %s", name, strings.Join(logicalNames[:], ", "))
		}
	}

	cr := csv.NewReader(r)
	cr.Comma = cfg.Comma
	cr.FieldsPerRecord = -1 // short rows are counted, not fatal
	cr.LazyQuotes = true    // exports put bare quotes in descriptions
	cr.ReuseRecord = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("importer: the input is empty; want a header line")
	}
	if err != nil {
		return nil, fmt.Errorf("importer: reading the header: %w", err)
	}
	header = append([]string(nil), header...)
	if len(header) > 0 {
		header[0] = strings.TrimPrefix(header[0], "\ufeff") // byte-order mark
	}
	rd := &Reader{
		cr:     cr,
		cfg:    cfg,
		header: header,
		runs:   make(map[string]int),
		report: Report{Skipped: make(map[SkipReason]int64), UnknownCountries: make(map[string]int64)},
	}
	rd.nextTick = cfg.ProgressEvery
	if err := rd.resolve(); err != nil {
		return nil, err
	}
	return rd, nil
}

// resolve finds the field index of every logical column.
func (r *Reader) resolve() error {
	claimed := make([]bool, len(r.header))
	var missing []string
	for c := range numCols {
		r.col[c] = -1
		want, mapped := r.cfg.Columns[logicalNames[c]]
		if !mapped {
			continue
		}
		for i, h := range r.header {
			if !claimed[i] && strings.EqualFold(strings.TrimSpace(h), strings.TrimSpace(want)) {
				r.col[c], claimed[i] = i, true
				break
			}
		}
		if r.col[c] < 0 {
			missing = append(missing, fmt.Sprintf("%s (mapped to %q)", logicalNames[c], want))
		}
	}
	norm := make([]string, len(r.header))
	for i, h := range r.header {
		norm[i] = normHeader(h)
	}
	for c := range numCols {
		if _, mapped := r.cfg.Columns[logicalNames[c]]; mapped {
			continue
		}
	synonyms:
		for _, syn := range headerSynonyms[c] {
			for i, h := range norm {
				if !claimed[i] && h == syn {
					r.col[c], claimed[i] = i, true
					break synonyms
				}
			}
		}
		if r.col[c] < 0 && c < requiredCols {
			missing = append(missing, logicalNames[c])
		}
	}
	if len(missing) > 0 {
		return &HeaderError{Missing: missing, Header: r.header}
	}
	for _, i := range r.col {
		r.minWidth = max(r.minWidth, i+1)
	}
	return nil
}

func normHeader(h string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '_', '-', '.', '\t':
			return -1
		}
		return r
	}, strings.ToLower(strings.TrimSpace(h)))
}

func indexOf(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

// Next returns the next transaction, io.EOF after the last one, or an
// error reading the input (wrapped, and returned again by later calls).
// Malformed and skipped rows are never errors: they are counted in the
// Report and reading goes on.
func (r *Reader) Next() (event.Transaction, error) {
	for r.err == nil {
		rec, err := r.cr.Read()
		if errors.Is(err, io.EOF) {
			r.err = io.EOF
			r.progress(true)
			break
		}
		var perr *csv.ParseError
		if err != nil && !errors.As(err, &perr) {
			r.err = fmt.Errorf("importer: reading row %d: %w", r.report.Rows+1, err)
			break
		}
		r.report.Rows++
		r.progress(false)
		if err != nil {
			r.skip(MalformedRow)
			continue
		}
		if out, ok := r.row(rec); ok {
			return out, nil
		}
	}
	if r.pending != nil {
		return r.emit(nil), nil
	}
	return event.Transaction{}, r.err
}

// Report returns the accounting so far; after Next has returned io.EOF it
// covers the whole file.
func (r *Reader) Report() Report {
	rep := r.report
	rep.Skipped = maps.Clone(r.report.Skipped)
	rep.UnknownCountries = maps.Clone(r.report.UnknownCountries)
	return rep
}

func (r *Reader) progress(final bool) {
	if r.cfg.Progress == nil {
		return
	}
	if final || r.report.Rows >= r.nextTick {
		r.cfg.Progress(r.report.Rows)
		r.nextTick = r.report.Rows + r.cfg.ProgressEvery
	}
}

func (r *Reader) skip(why SkipReason) { r.report.Skipped[why]++ }

// maxCents is the largest amount an event carries: event.Cents decodes at
// most 10¹³ in major units.
const maxCents = 1e15

// row adds one data row to the pending transaction. When the row starts a
// new run it returns the finished previous transaction.
func (r *Reader) row(rec []string) (event.Transaction, bool) {
	if len(rec) < r.minWidth {
		r.skip(ShortRow)
		return event.Transaction{}, false
	}
	field := func(c int) string {
		if r.col[c] < 0 {
			return ""
		}
		return strings.TrimSpace(rec[r.col[c]])
	}
	order, customer, product := field(colOrder), normCustomerID(field(colCustomer)), field(colProduct)
	switch {
	case order == "":
		r.skip(MissingOrderID)
		return event.Transaction{}, false
	case customer == "":
		r.skip(MissingCustomerID)
		return event.Transaction{}, false
	case product == "":
		r.skip(MissingProductID)
		return event.Transaction{}, false
	}
	qty, err := parseQuantity(field(colQuantity))
	if err != nil {
		r.skip(BadQuantity)
		return event.Transaction{}, false
	}
	if qty <= 0 {
		r.skip(NonPositiveQuantity)
		return event.Transaction{}, false
	}
	price, err := parseCents(field(colPrice))
	if err != nil {
		r.skip(BadPrice)
		return event.Transaction{}, false
	}
	if price <= 0 {
		r.skip(NonPositivePrice)
		return event.Transaction{}, false
	}
	at, ok := r.parseTime(field(colTime))
	if !ok {
		r.skip(BadTimestamp)
		return event.Transaction{}, false
	}
	currency := r.cfg.DefaultCurrency
	if c := field(colCurrency); c != "" {
		if currency, ok = normCurrency(c); !ok {
			r.skip(BadCurrency)
			return event.Transaction{}, false
		}
	}
	if price > maxCents/event.Cents(qty) {
		r.skip(AmountOutOfRange)
		return event.Transaction{}, false
	}
	line := event.Cents(qty) * price
	category := field(colCategory)
	if category == "" {
		category = "unknown"
	}
	item := event.Item{ProductID: product, Category: category, Quantity: qty, UnitPriceCents: price}

	key := runKey{order, customer, currency}
	if r.pending != nil && key == r.key {
		if r.pending.TotalCents > maxCents-line {
			r.skip(AmountOutOfRange)
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

func (r *Reader) country(v string) string {
	if v == "" {
		r.report.UnknownCountries[""]++
		return ""
	}
	if len(v) == 2 && isASCIILetter(v[0]) && isASCIILetter(v[1]) && !strings.EqualFold(v, "uk") {
		return strings.ToUpper(v)
	}
	if code, ok := countryCodes[strings.ToLower(strings.Join(strings.Fields(v), " "))]; ok {
		return code
	}
	r.report.UnknownCountries[v]++
	return ""
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

// parseCents reads a plain decimal number ("2.55", "-1", ".5", "3.")
// into cents, exactly, rounding half away from zero beyond two decimals.
// Exponents, thousands separators, currency signs, NaN and infinities are
// rejected, so that no float rounding or locale guess decides an amount.
func parseCents(s string) (event.Cents, error) {
	bad := fmt.Errorf("price %q is not a plain decimal number", s)
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" && frac == "" || strings.Trim(whole, "0123456789") != "" || strings.Trim(frac, "0123456789") != "" {
		return 0, bad
	}
	whole = strings.TrimLeft(whole, "0")
	if len(whole) > 13 {
		return 0, fmt.Errorf("price %q exceeds 10¹³", s)
	}
	var c int64
	for i := 0; i < len(whole); i++ {
		c = c*10 + int64(whole[i]-'0')
	}
	for i := range 2 {
		c *= 10
		if i < len(frac) {
			c += int64(frac[i] - '0')
		}
	}
	if len(frac) > 2 && frac[2] >= '5' {
		c++
	}
	if neg {
		c = -c
	}
	return event.Cents(c), nil
}

// countryCodes maps lower-cased country names (and alpha-3 codes) seen in
// order exports to ISO 3166 alpha-2. It covers every country of the UCI
// Online Retail data and the common spellings of other frequent ones.
var countryCodes = map[string]string{
	"united kingdom": "GB", "uk": "GB", "great britain": "GB", "england": "GB", "scotland": "GB", "wales": "GB", "northern ireland": "GB", "gbr": "GB",
	"eire": "IE", "ireland": "IE", "irl": "IE",
	"united states": "US", "united states of america": "US", "usa": "US", "u.s.a.": "US", "america": "US",
	"germany": "DE", "deu": "DE", "france": "FR", "fra": "FR", "netherlands": "NL", "the netherlands": "NL", "holland": "NL", "nld": "NL",
	"belgium": "BE", "bel": "BE", "spain": "ES", "esp": "ES", "portugal": "PT", "prt": "PT", "italy": "IT", "ita": "IT",
	"switzerland": "CH", "che": "CH", "austria": "AT", "aut": "AT", "norway": "NO", "nor": "NO", "sweden": "SE", "swe": "SE",
	"finland": "FI", "fin": "FI", "denmark": "DK", "dnk": "DK", "iceland": "IS", "isl": "IS", "poland": "PL", "pol": "PL",
	"lithuania": "LT", "latvia": "LV", "estonia": "EE", "czech republic": "CZ", "czechia": "CZ", "slovakia": "SK",
	"hungary": "HU", "greece": "GR", "grc": "GR", "cyprus": "CY", "malta": "MT", "luxembourg": "LU", "romania": "RO",
	"bulgaria": "BG", "croatia": "HR", "slovenia": "SI", "serbia": "RS", "turkey": "TR", "türkiye": "TR", "russia": "RU",
	"ukraine": "UA", "israel": "IL", "lebanon": "LB", "bahrain": "BH", "saudi arabia": "SA", "united arab emirates": "AE",
	"uae": "AE", "qatar": "QA", "kuwait": "KW", "japan": "JP", "jpn": "JP", "china": "CN", "chn": "CN", "hong kong": "HK",
	"singapore": "SG", "korea": "KR", "south korea": "KR", "republic of korea": "KR", "thailand": "TH", "india": "IN",
	"australia": "AU", "aus": "AU", "new zealand": "NZ", "canada": "CA", "can": "CA", "brazil": "BR", "bra": "BR",
	"mexico": "MX", "argentina": "AR", "chile": "CL", "rsa": "ZA", "south africa": "ZA", "nigeria": "NG", "egypt": "EG",
	"bermuda": "BM",
}
