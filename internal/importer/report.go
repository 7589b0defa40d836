package importer

import (
	"fmt"
	"strings"
)

// SkipReason says why a data row did not become part of a transaction.
type SkipReason string

// The reasons a row is skipped, checked in this order (a row is counted
// once, under the first that applies).
const (
	// MalformedRow: the CSV reader could not parse the line.
	MalformedRow SkipReason = "malformed_row"
	// UnclosedQuote: a line with a quote it does not close, re-read alone
	// (Report.UnclosedQuotes), that is no row with the quote taken as a
	// character either.
	UnclosedQuote SkipReason = "unclosed_quote"
	// ShortRow: the row has fewer fields than the header needs.
	ShortRow SkipReason = "short_row"
	// MissingOrderID, MissingCustomerID, MissingProductID: the field is
	// empty. Guest checkouts without a customer cannot feed per-customer
	// models.
	MissingOrderID    SkipReason = "missing_order_id"
	MissingCustomerID SkipReason = "missing_customer_id"
	MissingProductID  SkipReason = "missing_product_id"
	// ScientificID: an order, customer or product ID written in a
	// spreadsheet's scientific notation ("1.78502E+11"): the digits it
	// dropped made distinct IDs one, which would merge customers or
	// orders.
	ScientificID SkipReason = "scientific_id"
	// BadQuantity: not an integer. NonPositiveQuantity: zero or negative,
	// which is how exports record returns and cancellations.
	BadQuantity         SkipReason = "bad_quantity"
	NonPositiveQuantity SkipReason = "non_positive_quantity"
	// BadTimestamp: in none of the accepted layouts, or outside years
	// 1-9999 in UTC.
	BadTimestamp SkipReason = "bad_timestamp"
	// BadCurrency: a currency value that is not three letters.
	// MissingCurrency: an empty currency value and no Config.Currency.
	BadCurrency     SkipReason = "bad_currency"
	MissingCurrency SkipReason = "missing_currency"
	// BadPrice: not a plain decimal number. NegativePrice: below zero
	// (adjustments, bad debt). A price of zero (free items, samples) is
	// imported, and counted in Report.ZeroPriceItems.
	BadPrice      SkipReason = "bad_price"
	NegativePrice SkipReason = "negative_price"
	// AmountOutOfRange: the line, or the order with it, would exceed the
	// largest amount a transaction event carries (10¹³ in major units).
	AmountOutOfRange SkipReason = "amount_out_of_range"
)

// SkipReasons lists every reason, for reports and metrics.
var SkipReasons = []SkipReason{MalformedRow, UnclosedQuote, ShortRow, MissingOrderID, MissingCustomerID, MissingProductID, ScientificID,
	BadQuantity, NonPositiveQuantity, BadTimestamp, BadCurrency, MissingCurrency, BadPrice, NegativePrice, AmountOutOfRange}

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
	// Config.Countries could not map. Those rows are imported with the
	// value as it is (with an empty country when it is empty), not skipped
	// (see Reader).
	UnknownCountries map[string]int64
	// UnknownRegions counts the rows, by country value, mapped to a code
	// that is no ISO 3166 country: the unknown-region value (ZZ) of regions
	// such as "Channel Islands" or "European Community".
	UnknownRegions map[string]int64
	// ZeroPriceItems counts the items with a unit price of exactly 0 (free
	// items, samples): imported, since the schema allows them, and counted
	// because revenue models may want to leave them out.
	ZeroPriceItems int64
	// OrderLevel is true for a file without product and quantity columns:
	// each row is an order of one line worth its amount, of product
	// "unknown" and quantity 1, its ID made from the row when the file has
	// none. (A file without a country column, of either kind, has its
	// orders in the unknown region, ZZ, counted in UnknownRegions.)
	OrderLevel bool
	// FilledDown counts the rows that took their customer, time, country
	// or currency, left blank, from the row before of the same order, as
	// exports that write them on an order's first line only need.
	FilledDown int64
	// FirstSkipped is, per reason in Skipped, the first row skipped for
	// it: its number among the data rows and the field that failed, so a
	// report can show what the file holds (a price of "2,55" is a decimal
	// comma; a timestamp of "01.12.2010 08:26" needs its layout).
	FirstSkipped map[SkipReason]SkippedRow
	// SubMinorPrices counts the items whose unit price has more decimals
	// than the currency's minor unit (0.001 GBP), kept exact in
	// event.Item.UnitPriceExact.
	SubMinorPrices int64
	// CurrencySignPrices counts the items whose unit price was written
	// with a currency sign or code ("$2.50", "12,00 EUR") standing for the
	// row's currency, taken off; one standing for another currency skips
	// the row as BadCurrency.
	CurrencySignPrices int64
	// UnclosedQuotes counts the records that ran over several lines from
	// a quote not closed on its line, one or more of those lines being an
	// order line by itself; RereadLines counts their lines, each then read
	// alone as a row (see quotes.go). Without it the lines after such a
	// quote were one row, skipped, or imported with a description of
	// megabytes and the lines between lost.
	UnclosedQuotes, RereadLines int64
}

// SkippedRow is a skipped row, for the report: its number among the data
// rows (1 for the first after the header) and the field that failed ("" for
// a missing one; the row itself for a short one; the reader's error for a
// malformed one), at most 64 bytes of it.
type SkippedRow struct {
	Row   int64  `json:"row"`
	Value string `json:"value"`
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
	// OrderLevel is true when the header was read as an order-level log's
	// (no order, product or quantity column), which needs fewer columns.
	OrderLevel bool
	// Separator, when not 0, is the separator the header seems to be
	// written with instead of Config.Comma: it was read as one column
	// holding it (a European export separated by semicolons, say).
	Separator rune
}

// SeparatorHint is what HeaderError says of its Separator, or "".
func (e *HeaderError) SeparatorHint(flag string) string {
	if e.Separator == 0 {
		return ""
	}
	name := string(e.Separator)
	if e.Separator == '\t' {
		name = `\t`
	}
	return fmt.Sprintf("; the header was read as one column holding '%s': give the separator with %s '%s'", name, flag, name)
}

func (e *HeaderError) Error() string {
	note := ""
	if e.OrderLevel {
		note = " (read as an order-level log, one order per row, since it has no order, product or quantity column; a file of order lines needs those too)"
	}
	return fmt.Sprintf("importer: no column for %s in header %q%s%s; name the header of each in Config.Columns",
		strings.Join(e.Missing, ", "), e.Header, note, e.SeparatorHint("Config.Comma"))
}
