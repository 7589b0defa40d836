package importer

import "time"

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

// requiredCols is how many of logicalNames, from the start, are required,
// but for the country (the unknown region without it) and, in an
// order-level log, the order, product and quantity (resolve).
const requiredCols = colCategory

// headerSynonyms are the header names recognised for each logical column
// when Config.Columns does not map it, compared after normalising
// (lower-cased, without spaces, underscores, hyphens and dots), so that
// "InvoiceNo", "invoice_no" and "Invoice No" are one name. Earlier
// synonyms win when a header has several candidates.
var headerSynonyms = [numCols][]string{
	colOrder:    {"orderid", "invoiceno", "invoice", "invoiceid", "ordernumber", "orderno", "transactionid"},
	colCustomer: {"customerid", "customerno", "customernumber", "clientid"},
	colProduct:  {"productid", "stockcode", "sku", "productcode", "itemid", "lineitemsku"},
	colQuantity: {"quantity", "qty", "lineitemquantity"},
	colPrice:    {"unitprice", "price", "itemprice", "lineitemprice"},
	colTime:     {"timestamp", "invoicedate", "orderdate", "datetime", "createdat", "date"},
	colCountry:  {"country", "countrycode", "billingcountry", "shippingcountry"},
	colCategory: {"category", "productcategory"},
	colCurrency: {"currency", "currencycode"},
}

// amountSynonyms are the headers read as the amount of an order-level log
// (one without product and quantity columns), after headerSynonyms'
// unit_price ones: there, the line's price is the order's amount.
var amountSynonyms = []string{"amount", "total", "totalamount", "ordertotal", "ordervalue", "orderamount", "revenue",
	"sales", "value", "monetaryvalue", "spend"}

// DefaultTimeLayouts are the timestamp formats tried, in order, when
// Config.TimeLayouts is empty. Slashed dates are month first, as in the UCI
// Online Retail data ("12/1/2010 8:26"); a file with day-first slashed
// dates needs its own layout ("2/1/2006 15:04"). Dotted dates are day
// first ("01.12.2010 08:26"), as every locale that writes them (German,
// Russian, ...) orders them. Fractional seconds after the seconds are
// accepted by every layout that has seconds.
var DefaultTimeLayouts = []string{
	time.RFC3339Nano, // also plain RFC 3339
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05",
	"2006-01-02 15:04:05 -0700", // Shopify's order export
	"2006-01-02 15:04",
	"2006-01-02",
	"1/2/2006 15:04",
	"1/2/2006 15:04:05",
	"01/02/2006 15:04",
	"1/2/2006",
	"2.1.2006 15:04:05",
	"2.1.2006 15:04",
	"2.1.2006",
}

// Config configures [New].
type Config struct {
	// Columns maps logical names (OrderID, CustomerID, ...) to header
	// names, compared case-insensitively. Logical names it leaves out are
	// recognised from common header names (see [New]). Defaults to empty:
	// recognise everything.
	Columns map[string]string
	// DefaultCurrency is the ISO 4217 code of rows without a currency
	// column or value. There is no default: a file without a currency
	// column and no DefaultCurrency is refused with ErrNoCurrency, since
	// guessing the currency of a whole history silently misstates every
	// amount in it; rows with an empty currency value are then skipped as
	// MissingCurrency.
	DefaultCurrency string
	// Location is the zone of timestamps that carry none. Defaults to UTC.
	// Event times are returned in UTC.
	Location *time.Location
	// TimeLayouts are the accepted timestamp formats, tried in order.
	// Defaults to DefaultTimeLayouts.
	TimeLayouts []string
	// Comma is the field separator. Defaults to ','.
	Comma rune
	// DecimalComma reads unit prices written with a decimal comma, as
	// exports in many European locales write them ("2,55", "1.234,50"),
	// with dots or spaces between thousands only. Defaults to false: a
	// decimal point, and no thousands separator.
	DecimalComma bool
	// Progress, if set, is called with the number of data rows read every
	// ProgressEvery rows and once at the end, for progress bars on large
	// files. It runs on the goroutine calling Next. Defaults to nil.
	Progress func(rows int64)
	// ProgressEvery is how many rows pass between Progress calls.
	// Defaults to 100,000.
	ProgressEvery int64
	// Countries maps a country value to the code stored, reporting false
	// when it cannot. Defaults to the default data-quality contract's
	// (quality.Default().Country); the import command passes its contract's.
	Countries func(string) (string, bool)
}
