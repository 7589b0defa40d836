package importer

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"maps"
	"strings"
	"time"

	"github.com/shopstream/shopstream/internal/event"
	"github.com/shopstream/shopstream/internal/quality"
)

// ErrNoCurrency is returned by New for a file without a currency column
// when Config.DefaultCurrency is empty: the amounts' currency must be
// stated, not guessed.
var ErrNoCurrency = errors.New("importer: the file has no currency column and no currency was given (Config.DefaultCurrency)")

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
// Countries are mapped to ISO 3166 alpha-2 codes by Config.Countries, the
// data-quality contract's country aliases: a two-letter value is taken as a
// code (upper-cased), and common full names and alpha-3 codes ("United
// Kingdom", "EIRE", "USA", "DEU") are translated; names of regions that are
// no country ("Unspecified", "European Community", "Channel Islands") map
// to the unknown-region value ZZ by default and are counted in
// Report.UnknownRegions. A value the contract cannot map keeps its row, as
// it is, and is counted in Report.UnknownCountries: the purchase and its
// revenue are real, and the contract's country check decides, visibly,
// rather than the importer guessing.
type Reader struct {
	cr       *csv.Reader
	tee      *tee     // the input, kept until its records are read
	queue    []queued // rows re-read from a record that spanned lines
	cfg      Config
	header   []string
	col      [numCols]int // field index per logical column, −1 if absent
	minWidth int          // fields a row needs

	report  Report
	pending *event.Transaction
	key     runKey
	runs    map[string]int // order ID → runs emitted
	// countries caches the contract's mapping of country values.
	countries map[string]countryMapping
	layout    int // index of the last layout that parsed
	// prev is the previous data row's fields (after its own fill-down).
	prev     [numCols]string
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
//	product_id   product_id, StockCode, sku, product_code, item_id, "Lineitem sku"
//	quantity     quantity, Quantity, qty, "Lineitem quantity"
//	unit_price   unit_price, UnitPrice, Price, item_price, "Lineitem price"
//	timestamp    timestamp, InvoiceDate, order_date, datetime, created_at, date
//	country      country, Country, country_code, billing_country, shipping_country (optional: ZZ)
//	category     category, product_category              (optional)
//	currency     currency, currency_code                 (optional)
func New(r io.Reader, cfg Config) (*Reader, error) {
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
	if cfg.Countries == nil {
		cfg.Countries = quality.Default().Country
	}
	if cfg.DefaultCurrency != "" {
		cur, ok := normCurrency(cfg.DefaultCurrency)
		if !ok {
			return nil, fmt.Errorf("importer: DefaultCurrency %q is not a three-letter ISO 4217 code", cfg.DefaultCurrency)
		}
		cfg.DefaultCurrency = cur
	}
	for name := range cfg.Columns {
		if indexOf(logicalNames[:], name) < 0 {
			return nil, fmt.Errorf("importer: Config.Columns maps unknown column %q; known: %s", name, strings.Join(logicalNames[:], ", "))
		}
	}

	t := &tee{r: r}
	cr := csv.NewReader(t)
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
		tee:    t,
		cfg:    cfg,
		header: header,
		runs:   make(map[string]int),
		// The mapping of each country value, kept.
		countries: map[string]countryMapping{},
		report:    Report{Skipped: make(map[SkipReason]int64), UnknownCountries: make(map[string]int64), UnknownRegions: make(map[string]int64)},
	}
	rd.nextTick = cfg.ProgressEvery
	if err := rd.resolve(); err != nil {
		return nil, err
	}
	if rd.col[colCurrency] < 0 && cfg.DefaultCurrency == "" {
		return nil, ErrNoCurrency
	}
	return rd, nil
}

// Next returns the next transaction, io.EOF after the last one, or an
// error reading the input (wrapped, and returned again by later calls).
// Malformed and skipped rows are never errors: they are counted in the
// Report and reading goes on.
func (r *Reader) Next() (event.Transaction, error) {
	for r.err == nil {
		rec, bad, value, err := r.read()
		if errors.Is(err, io.EOF) {
			r.err = io.EOF
			r.progress(true)
			break
		}
		if err != nil && !isParseError(err) {
			r.err = fmt.Errorf("importer: reading row %d: %w", r.report.Rows+1, err)
			break
		}
		r.report.Rows++
		r.progress(false)
		if bad != "" {
			r.skip(bad, value)
			continue
		}
		if err != nil {
			r.skip(MalformedRow, err.Error())
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

// isParseError reports whether err is a malformed row, which is skipped,
// rather than a failure to read. It is a function of its own so that the
// target of errors.As is not allocated for every row read.
func isParseError(err error) bool {
	var perr *csv.ParseError
	return errors.As(err, &perr)
}

// Report returns the accounting so far; after Next has returned io.EOF it
// covers the whole file.
func (r *Reader) Report() Report {
	rep := r.report
	rep.Skipped = maps.Clone(r.report.Skipped)
	rep.FirstSkipped = maps.Clone(r.report.FirstSkipped)
	rep.UnknownCountries = maps.Clone(r.report.UnknownCountries)
	rep.UnknownRegions = maps.Clone(r.report.UnknownRegions)
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

// skip counts the row under why, and keeps the first row skipped for it
// with value, the field that failed (clipped), for the report.
func (r *Reader) skip(why SkipReason, value string) {
	r.report.Skipped[why]++
	if r.report.Skipped[why] == 1 {
		if r.report.FirstSkipped == nil {
			r.report.FirstSkipped = map[SkipReason]SkippedRow{}
		}
		if len(value) > 64 {
			value = strings.ToValidUTF8(value[:64], "") + "…"
		}
		r.report.FirstSkipped[why] = SkippedRow{Row: r.report.Rows, Value: strings.ToValidUTF8(value, "\uFFFD")}
	}
}
