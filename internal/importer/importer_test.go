package importer

import (
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/event"
)

// readAll drains a Reader, failing the test on any error but io.EOF.
func readAll(t testing.TB, r *Reader) []event.Transaction {
	t.Helper()
	var out []event.Transaction
	for {
		tx, err := r.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		out = append(out, tx)
	}
}

func TestHeaderRecognition(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		header  string
		cfg     Config
		want    map[string]string // logical name → header field it must use
		wantErr []string          // substrings of the error, if one is expected
	}{
		{
			name:   "UCI Online Retail",
			header: "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country",
			cfg:    Config{DefaultCurrency: "GBP"},
			want: map[string]string{OrderID: "InvoiceNo", ProductID: "StockCode", Quantity: "Quantity", Timestamp: "InvoiceDate",
				UnitPrice: "UnitPrice", CustomerID: "CustomerID", Country: "Country"},
		},
		{
			name:   "UCI Online Retail II, with a byte-order mark",
			header: "\ufeffInvoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country",
			cfg:    Config{DefaultCurrency: "GBP"},
			want: map[string]string{OrderID: "Invoice", ProductID: "StockCode", Quantity: "Quantity", Timestamp: "InvoiceDate",
				UnitPrice: "Price", CustomerID: "Customer ID", Country: "Country"},
		},
		{
			name:   "snake case with the optional columns, any case",
			header: "ORDER_ID, Customer_Id ,sku,qty,unit_price,order_date,country_code,Category,currency",
			want: map[string]string{OrderID: "ORDER_ID", CustomerID: " Customer_Id ", ProductID: "sku", Quantity: "qty",
				UnitPrice: "unit_price", Timestamp: "order_date", Country: "country_code", Category: "Category", Currency: "currency"},
		},
		{
			name:   "a more specific synonym wins over date",
			header: "date,order_id,customer_id,product_id,quantity,price,timestamp,country",
			cfg:    Config{DefaultCurrency: "GBP"},
			want:   map[string]string{Timestamp: "timestamp", UnitPrice: "price"},
		},
		{
			name:   "explicit mapping, the rest recognised",
			header: "Bestellnummer,Kunde,Artikel,Menge,Preis,Zeit,Land,quantity",
			cfg: Config{DefaultCurrency: "EUR", Columns: map[string]string{OrderID: "bestellnummer", CustomerID: "Kunde", ProductID: "Artikel",
				Quantity: "Menge", UnitPrice: "Preis", Timestamp: "Zeit", Country: "Land"}},
			want: map[string]string{OrderID: "Bestellnummer", Quantity: "Menge", Country: "Land"},
		},
		{
			name:    "missing columns are named, with the header seen",
			header:  "InvoiceNo,StockCode,Quantity,CustomerID,Country",
			wantErr: []string{"no column for unit_price, timestamp", `header ["InvoiceNo" "StockCode" "Quantity" "CustomerID" "Country"]`},
		},
		{
			name:    "a mapped header that is absent",
			header:  "InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice,CustomerID,Country",
			cfg:     Config{DefaultCurrency: "EUR", Columns: map[string]string{Timestamp: "When"}},
			wantErr: []string{`timestamp (mapped to "When")`},
		},
		{
			name:    "an unknown logical name",
			header:  "InvoiceNo",
			cfg:     Config{DefaultCurrency: "EUR", Columns: map[string]string{"invoice": "InvoiceNo"}},
			wantErr: []string{`unknown column "invoice"`},
		},
		{name: "empty input", header: "", wantErr: []string{"input is empty"}},
		{
			name:    "no currency column and no currency: refused, not guessed",
			header:  "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country",
			wantErr: []string{"no currency column", "DefaultCurrency"},
		},
		{name: "bad default currency", header: "a", cfg: Config{DefaultCurrency: "euro"}, wantErr: []string{`DefaultCurrency "euro"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, err := New(strings.NewReader(tt.header), tt.cfg)
			if tt.wantErr != nil {
				if err == nil {
					t.Fatal("New succeeded, want an error")
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not contain %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for name, h := range tt.want {
				c := indexOf(logicalNames[:], name)
				if i := r.col[c]; i < 0 || strings.TrimPrefix(r.header[i], "\ufeff") != strings.TrimPrefix(h, "\ufeff") {
					t.Errorf("%s uses column %d, want %q", name, i, h)
				}
			}
		})
	}
	var he *HeaderError
	// No order, product or quantity column: read as an order-level log,
	// which needs a customer, a time and an amount, and says so.
	if _, err := New(strings.NewReader("a,b"), Config{DefaultCurrency: "EUR"}); !errors.As(err, &he) || len(he.Missing) != 3 || !he.OrderLevel ||
		!strings.Contains(err.Error(), "order-level log") {
		t.Errorf("error %v is not a *HeaderError of an order-level log with 3 missing columns", err)
	}
	// An order column: a file of order lines, which needs the rest but a
	// country.
	if _, err := New(strings.NewReader("order_id,b"), Config{DefaultCurrency: "EUR"}); !errors.As(err, &he) || len(he.Missing) != 5 || he.OrderLevel {
		t.Errorf("error %v is not a *HeaderError with 5 missing columns", err)
	}
	// A header of one column holding semicolons: written with another
	// separator, which the error names; with a comma in it, none.
	if _, err := New(strings.NewReader("order_id;customer_id;price\n1;2;3\n"), Config{DefaultCurrency: "EUR"}); !errors.As(err, &he) ||
		he.Separator != ';' || !strings.Contains(err.Error(), "give the separator with Config.Comma ';'") {
		t.Errorf("error %v is not a *HeaderError naming the separator ';'", err)
	}
	if _, err := New(strings.NewReader("order_id;customer_id,price\n"), Config{DefaultCurrency: "EUR"}); !errors.As(err, &he) || he.Separator != 0 {
		t.Errorf("error %v names a separator for a header of two columns", err)
	}
}

const snakeHeader = "order_id,customer_id,product_id,quantity,unit_price,timestamp,country\n"

func TestTimestampFormats(t *testing.T) {
	t.Parallel()
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		berlin = time.FixedZone("CET", 3600) // no tzdata: winter time is enough here
	}
	utc := func(y int, m time.Month, d, h, min, s, ns int) time.Time {
		return time.Date(y, m, d, h, min, s, ns, time.UTC)
	}
	tests := []struct {
		value string
		cfg   Config
		want  time.Time
	}{
		{"2010-12-01T08:26:00Z", Config{DefaultCurrency: "EUR"}, utc(2010, 12, 1, 8, 26, 0, 0)},
		{"2010-12-01T08:26:00.250+01:00", Config{DefaultCurrency: "EUR"}, utc(2010, 12, 1, 7, 26, 0, 250e6)},
		{"2010-12-01T08:26:00", Config{DefaultCurrency: "EUR"}, utc(2010, 12, 1, 8, 26, 0, 0)},
		{"2010-12-01 08:26:07", Config{DefaultCurrency: "EUR"}, utc(2010, 12, 1, 8, 26, 7, 0)},
		{"2010-12-01 08:26:07.5", Config{DefaultCurrency: "EUR"}, utc(2010, 12, 1, 8, 26, 7, 5e8)},
		{"2010-12-01 08:26", Config{DefaultCurrency: "EUR"}, utc(2010, 12, 1, 8, 26, 0, 0)},
		{"2010-12-01", Config{DefaultCurrency: "EUR"}, utc(2010, 12, 1, 0, 0, 0, 0)},
		{"12/1/2010 8:26", Config{DefaultCurrency: "EUR"}, utc(2010, 12, 1, 8, 26, 0, 0)}, // UCI Online Retail
		{"1/12/2011 17:05:59", Config{DefaultCurrency: "EUR"}, utc(2011, 1, 12, 17, 5, 59, 0)},
		{"01/02/2011 09:05", Config{DefaultCurrency: "EUR"}, utc(2011, 1, 2, 9, 5, 0, 0)},
		{"3/4/2011", Config{DefaultCurrency: "EUR"}, utc(2011, 3, 4, 0, 0, 0, 0)},
		{"2010-12-01 08:26", Config{DefaultCurrency: "EUR", Location: berlin}, utc(2010, 12, 1, 7, 26, 0, 0)},
		{"01/02/2011 09:05", Config{DefaultCurrency: "EUR", TimeLayouts: []string{"02/01/2006 15:04"}}, utc(2011, 2, 1, 9, 5, 0, 0)},
	}
	for _, tt := range tests {
		r, err := New(strings.NewReader(snakeHeader+"o1,c1,p1,1,1.00,"+tt.value+",GB\n"), tt.cfg)
		if err != nil {
			t.Fatal(err)
		}
		txs := readAll(t, r)
		if len(txs) != 1 {
			t.Errorf("%q: %d transactions, report %+v", tt.value, len(txs), r.Report())
			continue
		}
		if got := txs[0].EventTime; !got.Equal(tt.want) || got.Location() != time.UTC {
			t.Errorf("%q parsed as %v, want %v in UTC", tt.value, got, tt.want)
		}
	}
}

func TestSkipReasons(t *testing.T) {
	t.Parallel()
	header := snakeHeader[:len(snakeHeader)-1] + ",currency\n"
	tests := []struct {
		row  string
		want SkipReason
	}{
		{`o1,c1,p1,1,1.00,2024-01-01,GB,EUR,"extra"`, ""}, // extra fields are fine
		{`o1,c1,p1,1,1.00`, ShortRow},
		{`,c1,p1,1,1.00,2024-01-01,GB,`, MissingOrderID},
		{`o1,,p1,1,1.00,2024-01-01,GB,`, MissingCustomerID},
		{`o1,  ,p1,1,1.00,2024-01-01,GB,`, MissingCustomerID},
		{`o1,c1,,1,1.00,2024-01-01,GB,`, MissingProductID},
		{`o1,1.78502E+11,p1,1,1.00,2024-01-01,GB,`, ScientificID}, // an ID Excel cut
		{`5.36365e+5,c1,p1,1,1.00,2024-01-01,GB,`, ScientificID},
		{`o1,c1,8E+12,1,1.00,2024-01-01,GB,`, ScientificID},
		{`o1,c1,85123E,1,1.00,2024-01-01,GB,`, ""}, // a stock code, not a number
		{`o1,c1,1E+A,1,1.00,2024-01-01,GB,`, ""},
		{`o1,c1,p1,two,1.00,2024-01-01,GB,`, BadQuantity},
		{`o1,c1,p1,1.5,1.00,2024-01-01,GB,`, BadQuantity},
		{`o1,c1,p1,99999999999,1.00,2024-01-01,GB,`, BadQuantity},
		{`C536379,c1,D,-1,27.50,2024-01-01,GB,`, NonPositiveQuantity}, // a cancellation
		{`o1,c1,p1,0,1.00,2024-01-01,GB,`, NonPositiveQuantity},
		{`o1,c1,p1,1,1e3,2024-01-01,GB,`, BadPrice},
		{`o1,c1,p1,1,£1.00,2024-01-01,GB,`, BadCurrency}, // pounds in a row in euros
		{`o1,c1,p1,1,€1.00,2024-01-01,GB,`, ""},          // the row's own currency sign, taken off
		{`o1,c1,p1,1,NaN,2024-01-01,GB,`, BadPrice},
		{`o1,c1,p1,1,"1,000.00",2024-01-01,GB,`, ""},    // thousands before a decimal point
		{`o1,c1,p1,1,"1,000",2024-01-01,GB,`, BadPrice}, // a decimal comma? not guessed
		{`o1,c1,p1,1,0,2024-01-01,GB,`, ""},             // free items are imported
		{`o1,c1,p1,1,0.001,2024-01-01,GB,`, ""},         // kept exact, not rounded to 0
		{`o1,c1,p1,1,-11062.06,2024-01-01,GB,`, NegativePrice},
		{`o1,c1,p1,1,-0.001,2024-01-01,GB,`, NegativePrice},
		{`o1,c1,p1,1,1.00,yesterday,GB,`, BadTimestamp},
		{`o1,c1,p1,1,1.00,,GB,`, BadTimestamp},
		{`o1,c1,p1,1,1.00,2024-13-01,GB,`, BadTimestamp},
		{`o1,c1,p1,1,1.00,0001-01-01T00:00:00+01:00,GB,`, BadTimestamp}, // year 0 in UTC
		{`o1,c1,p1,1,1.00,2024-01-01,GB,euro`, BadCurrency},
		{`o1,c1,p1,1000000000,9999999999.99,2024-01-01,GB,`, AmountOutOfRange},
		{`o1,c1,p1,1,99999999999999.00,2024-01-01,GB,`, BadPrice},
	}
	for _, tt := range tests {
		r, err := New(strings.NewReader(header+tt.row+"\n"), Config{DefaultCurrency: "EUR"})
		if err != nil {
			t.Fatal(err)
		}
		txs := readAll(t, r)
		rep := r.Report()
		if rep.Rows != 1 || rep.Items+rep.SkippedRows() != 1 {
			t.Errorf("%s: report %+v does not account for one row", tt.row, rep)
		}
		if tt.want == "" {
			if len(txs) != 1 || rep.SkippedRows() != 0 {
				t.Errorf("%s: skipped %v, want imported", tt.row, rep.Skipped)
			}
			continue
		}
		if len(txs) != 0 || rep.Skipped[tt.want] != 1 {
			t.Errorf("%s: skipped %v, want one %s", tt.row, rep.Skipped, tt.want)
		}
	}
}

// An order whose total would overflow what an event carries loses the
// line that overflows, counted, and keeps the rest.
func TestOrderTotalOutOfRange(t *testing.T) {
	t.Parallel()
	in := snakeHeader +
		"o1,c1,p1,1000,9999999999.99,2024-01-01,GB\n" + // 10¹³ − 10: just fits
		"o1,c1,p2,1,100.00,2024-01-01,GB\n" +
		"o1,c1,p3,1,5.00,2024-01-01,GB\n"
	r, err := New(strings.NewReader(in), Config{DefaultCurrency: "EUR"})
	if err != nil {
		t.Fatal(err)
	}
	txs := readAll(t, r)
	if len(txs) != 1 || len(txs[0].Items) != 2 || r.Report().Skipped[AmountOutOfRange] != 1 {
		t.Fatalf("got %+v, report %+v", txs, r.Report())
	}
	if _, err := event.Marshal(&txs[0]); err != nil {
		t.Error(err)
	}
}

func TestGroupingIntoTransactions(t *testing.T) {
	t.Parallel()
	in := "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n" +
		"536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,12/1/2010 8:26,2.55,17850,United Kingdom\n" +
		"536365,71053,WHITE METAL LANTERN,6,12/1/2010 8:26,3.39,17850.0,United Kingdom\n" +
		"536366,22633,HAND WARMER UNION JACK,6,12/1/2010 8:28,1.85,17850,United Kingdom\n" +
		"C536379,D,Discount,-1,12/1/2010 9:41,27.5,14527,United Kingdom\n" +
		"536414,22139,,56,12/1/2010 11:52,0,,United Kingdom\n" +
		"536365,84406B,CREAM CUPID HEARTS COAT HANGER,8,12/1/2010 8:26,2.75,17850,United Kingdom\n" + // the order again
		"536370,22728,\"ALARM CLOCK BAKELIKE \"\"PINK\"\"\",24,12/1/2010 8:45,3.75,12583,France\n" +
		"536370,22727,ALARM CLOCK BAKELIKE RED ,24,12/1/2010 8:45,3.75,12583,France\n" +
		"536371,22086,PAPER CHAIN KIT,80,12/1/2010 9:00,2.55,13748,EIRE\n" +
		"536372,21,x,1,12/1/2010 9:01,1,13748,Unspecified\n" +
		"536373,21,x,1,12/1/2010 9:02,1,13749,ca\n" +
		"536373,22,y,2,12/1/2010 9:02,1,13750,ca\n" // same order, another customer
	r, err := New(strings.NewReader(in), Config{DefaultCurrency: "gbp"})
	if err != nil {
		t.Fatal(err)
	}
	txs := readAll(t, r)
	type got struct {
		id, customer, country string
		items                 int
		total                 event.Cents
	}
	var gotTx []got
	for _, tx := range txs {
		gotTx = append(gotTx, got{tx.TransactionID, tx.CustomerID, tx.BillingCountry, len(tx.Items), tx.TotalCents})
		if tx.ShippingCountry != tx.BillingCountry || tx.Currency != "GBP" || tx.Channel != "import" ||
			tx.PaymentMethod != "unknown" || tx.SchemaVersion != 1 || tx.TotalCents != tx.ItemsCents() {
			t.Errorf("transaction %s: %+v", tx.TransactionID, tx)
		}
		for _, it := range tx.Items {
			if it.Category != "unknown" {
				t.Errorf("item %+v: category %q, want unknown", it, it.Category)
			}
		}
	}
	want := []got{
		{"536365", "17850", "GB", 2, 6*255 + 6*339},
		{"536366", "17850", "GB", 1, 6 * 185},
		{"536365#2", "17850", "GB", 1, 8 * 275},
		{"536370", "12583", "FR", 2, 2 * 24 * 375},
		{"536371", "13748", "IE", 1, 80 * 255},
		{"536372", "13748", "ZZ", 1, 100},
		{"536373", "13749", "CA", 1, 100},
		{"536373#2", "13750", "CA", 1, 200},
	}
	if !reflect.DeepEqual(gotTx, want) {
		t.Errorf("transactions\n%+v\nwant\n%+v", gotTx, want)
	}
	if txs[0].EventTime != time.Date(2010, 12, 1, 8, 26, 0, 0, time.UTC) || txs[0].Items[1] != (event.Item{ProductID: "71053", Category: "unknown", Quantity: 6, UnitPriceCents: 339}) {
		t.Errorf("first transaction %+v", txs[0])
	}
	rep := r.Report()
	wantRep := Report{Rows: 12, Items: 10, Transactions: 8, SplitOrders: 2,
		Skipped: map[SkipReason]int64{NonPositiveQuantity: 1, MissingCustomerID: 1},
		// The first row skipped for each reason, with the field that failed.
		FirstSkipped:     map[SkipReason]SkippedRow{NonPositiveQuantity: {Row: 4, Value: "-1"}, MissingCustomerID: {Row: 5}},
		UnknownCountries: map[string]int64{}, UnknownRegions: map[string]int64{"Unspecified": 1}}
	if !reflect.DeepEqual(rep, wantRep) {
		t.Errorf("report %+v, want %+v", rep, wantRep)
	}
}

func TestOptionalColumns(t *testing.T) {
	t.Parallel()
	in := "order_id,customer_id,product_id,quantity,unit_price,timestamp,country,category,currency\n" +
		"o1,c1,p1,2,10.005,2024-01-01,de,Books,usd\n" +
		"o1,c1,p2,1,+3,2024-01-01,de,,USD\n" +
		"o1,c1,p3,1,4.5,2024-01-01,de,Toys,\n" + // the order's currency, from the row before
		"o2,c1,p3,1,4.5,2024-01-01,de,Toys,\n" // another order: the default currency
	r, err := New(strings.NewReader(in), Config{DefaultCurrency: "EUR"})
	if err != nil {
		t.Fatal(err)
	}
	txs := readAll(t, r)
	if len(txs) != 2 {
		t.Fatalf("%d transactions: %+v", len(txs), txs)
	}
	want0 := []event.Item{{ProductID: "p1", Category: "Books", Quantity: 2, UnitPriceCents: 1001, UnitPriceExact: "10.005"}, {ProductID: "p2", Category: "unknown", Quantity: 1, UnitPriceCents: 300},
		{ProductID: "p3", Category: "Toys", Quantity: 1, UnitPriceCents: 450}}
	if !reflect.DeepEqual(txs[0].Items, want0) || txs[0].Currency != "USD" || txs[0].TotalCents != 2751 || txs[0].BillingCountry != "DE" {
		t.Errorf("first transaction %+v", txs[0])
	}
	if txs[1].Currency != "EUR" || txs[1].TransactionID != "o2" {
		t.Errorf("second transaction %+v", txs[1])
	}
	if rep := r.Report(); rep.FilledDown != 1 {
		t.Errorf("%d rows filled down, want 1", rep.FilledDown)
	}
}

// TestOrderFieldsOnTheFirstLine reads an export that writes an order's
// own fields on its first line only, as Shopify's does: the lines after
// take the customer, time, country and currency from the line before of
// the same order, and are counted; a blank field of another order is not
// filled.
func TestOrderFieldsOnTheFirstLine(t *testing.T) {
	t.Parallel()
	in := "Name,Email,Created at,Lineitem quantity,Lineitem name,Lineitem price,Lineitem sku,Currency,Billing Country\n" +
		"#1001,ann@example.com,2023-01-05 10:01:02 -0500,2,Tee,19.99,TEE-1,USD,US\n" +
		"#1001,,,1,Cap,12.50,CAP-1,,\n" +
		"#1001,,,3,Socks,4.00,SOCK-1,,\n" +
		"#1002,,,1,Cap,12.50,CAP-1,,\n" // no first line of its own: skipped
	r, err := New(strings.NewReader(in), Config{Columns: map[string]string{OrderID: "Name", CustomerID: "Email"}})
	if err != nil {
		t.Fatal(err)
	}
	txs := readAll(t, r)
	if len(txs) != 1 || len(txs[0].Items) != 3 || txs[0].CustomerID != "ann@example.com" || txs[0].Currency != "USD" ||
		txs[0].BillingCountry != "US" || !txs[0].EventTime.Equal(time.Date(2023, 1, 5, 15, 1, 2, 0, time.UTC)) || txs[0].TotalCents != 2*1999+1250+3*400 {
		t.Fatalf("transactions %+v", txs)
	}
	if rep := r.Report(); rep.FilledDown != 2 || rep.Skipped[MissingCustomerID] != 1 {
		t.Errorf("report %+v: want 2 rows filled down and #1002 skipped for its customer", rep)
	}
}

func TestParsePrice(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in     string
		digits int
		want   event.Cents
		exact  string
		ok     bool
	}{
		{"2.55", 2, 255, "", true}, {"0.5", 2, 50, "", true}, {".5", 2, 50, "", true}, {"3.", 2, 300, "", true}, {"007", 2, 700, "", true},
		{"1.005", 2, 101, "1.005", true}, {"1.0049", 2, 100, "1.0049", true}, {"-1.005", 2, -101, "-1.005", true}, {"+2", 2, 200, "", true},
		{"0.001", 2, 0, "0.001", true}, {".0010", 2, 0, "0.001", true}, {"2.500", 2, 250, "", true},
		// Written otherwise than its literal: the literal is rebuilt.
		{"+0.0010", 2, 0, "0.001", true}, {"00.001", 2, 0, "0.001", true}, {"1.00500000000000000000", 2, 101, "1.005", true},
		{"0", 2, 0, "", true}, {"0.0", 2, 0, "", true}, {"-0.25", 2, -25, "", true},
		{"1.005", 3, 1005, "", true}, {"12.5", 0, 13, "12.5", true}, {"12", 0, 12, "", true},
		{"9999999999999.99", 2, 999999999999999, "", true},
		{"", 2, 0, "", false}, {".", 2, 0, "", false}, {"-", 2, 0, "", false}, {"1.2.3", 2, 0, "", false}, {"1e2", 2, 0, "", false},
		{"Inf", 2, 0, "", false}, {"0x10", 2, 0, "", false}, {"1 000", 2, 0, "", false}, {"10000000000000", 2, 0, "", false},
	} {
		got, exact, err := parsePrice(tt.in, tt.digits)
		if (err == nil) != tt.ok || got != tt.want || exact != tt.exact {
			t.Errorf("parsePrice(%q, %d) = %v, %q, %v; want %v, %q, ok %v", tt.in, tt.digits, got, exact, err, tt.want, tt.exact, tt.ok)
		}
	}
}

func TestProgress(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString(snakeHeader)
	for i := range 25 {
		b.WriteString("o" + string(rune('a'+i)) + ",c,p,1,1,2024-01-01,GB\n")
	}
	var calls []int64
	r, err := New(strings.NewReader(b.String()), Config{DefaultCurrency: "EUR", ProgressEvery: 10, Progress: func(n int64) { calls = append(calls, n) }})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(readAll(t, r)); n != 25 {
		t.Fatalf("%d transactions, want 25", n)
	}
	if want := []int64{10, 20, 25}; !reflect.DeepEqual(calls, want) {
		t.Errorf("progress calls %v, want %v", calls, want)
	}
}

type failingReader struct {
	data string
	err  error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.data == "" {
		return 0, f.err
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

// A read error is returned, wrapped, after the transaction in progress,
// and again on every later call.
func TestReadError(t *testing.T) {
	t.Parallel()
	boom := errors.New("disk on fire")
	r, err := New(&failingReader{data: snakeHeader + "o1,c1,p1,1,1,2024-01-01,GB\n", err: boom}, Config{DefaultCurrency: "EUR"})
	if err != nil {
		t.Fatal(err)
	}
	if tx, err := r.Next(); err != nil || tx.TransactionID != "o1" {
		t.Fatalf("first Next = %+v, %v", tx, err)
	}
	for range 2 {
		if _, err := r.Next(); !errors.Is(err, boom) || !strings.Contains(err.Error(), "reading row 2") {
			t.Errorf("Next error %v, want the read error naming row 2", err)
		}
	}
}

// BenchmarkImport reads a UCI-like export of 100,000 rows in orders of
// four lines, reporting rows per second.
func BenchmarkImport(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n")
	const rows = 100_000
	for i := range rows {
		fmt.Fprintf(&sb, "%d,%d,SOME PRODUCT DESCRIPTION,%d,12/%d/2010 %d:%02d,%d.%02d,%d,United Kingdom\n",
			536365+i/4, 20000+i%3000, 1+i%24, 1+i%28, i/4%24, i/4%60, i%20, 1+i%99, 12000+i/4%4000)
	}
	data := sb.String()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		r, err := New(strings.NewReader(data), Config{DefaultCurrency: "EUR"})
		if err != nil {
			b.Fatal(err)
		}
		if n := len(readAll(b, r)); n != rows/4 {
			b.Fatalf("%d transactions", n)
		}
	}
	b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "rows/s")
}

// TestZeroAndSubMinorPrices: free items are imported and counted, sub-cent
// unit prices stay exact in the line total, and a row without a currency
// value is skipped when no currency was given.
func TestZeroAndSubMinorPrices(t *testing.T) {
	t.Parallel()
	in := snakeHeader[:len(snakeHeader)-1] + ",currency\n" +
		"o1,c1,p1,1,0,2024-01-01,GB,GBP\n" +
		"o1,c1,p2,100,0.001,2024-01-01,GB,GBP\n" +
		"o1,c1,p3,3,0.0125,2024-01-01,GB,GBP\n" +
		"o2,c1,p1,1,1.00,2024-01-01,GB,\n"
	r, err := New(strings.NewReader(in), Config{})
	if err != nil {
		t.Fatal(err)
	}
	var txs []event.Transaction
	for {
		tx, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		txs = append(txs, tx)
	}
	rep := r.Report()
	if len(txs) != 1 || len(txs[0].Items) != 3 {
		t.Fatalf("got %+v, want one transaction of three items", txs)
	}
	// 0 + 100 × 0.001 + 3 × 0.0125 = 0.1375 → 0.14 (each line rounded once: 0 + 10 + 4)
	if txs[0].TotalCents != 14 || txs[0].ItemsCents() != txs[0].TotalCents {
		t.Errorf("total %d, items %d; want 14 both", txs[0].TotalCents, txs[0].ItemsCents())
	}
	if rep.ZeroPriceItems != 1 || rep.SubMinorPrices != 2 || rep.Skipped[MissingCurrency] != 1 {
		t.Errorf("report %+v: want 1 zero-price item, 2 sub-minor prices, 1 row missing its currency", rep)
	}
}

// TestDecimalComma reads prices written with a decimal comma, as exports
// in European locales write them, and refuses what is not one: a guess
// never decides an amount.
func TestDecimalComma(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"2,55", "2.55"}, {"1.234,50", "1234.50"}, {"1 234,50", "1234.50"}, {"1\u00a0234\u00a0567,5", "1234567.5"},
		{"1\u202f234,5", "1234.5"}, {"-3,5", "-3.5"}, {"+3,5", "+3.5"}, {"1.234", "1234"}, {"12", "12"}, {"0,001", "0.001"},
		{",5", ".5"}, {"12,", "12."},
		// Not a price with a decimal comma: refused (empty).
		{"2.55", ""}, {"1.23,4", ""}, {"1,2,3", ""}, {"1234.567,8", ""}, {".5", ""}, {"1..234,5", ""}, {"1.234 567,8", ""},
		{"1.234.", ""}, {"€2,55", ""}, {"2,55 €", ""}, {"", ""},
	} {
		if got := fromDecimalComma(c.in); got != c.want {
			t.Errorf("fromDecimalComma(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	in := "InvoiceNo;StockCode;Quantity;InvoiceDate;UnitPrice;CustomerID;Country\n" +
		"1;A;6;2010-12-01 08:26;2,55;17850;Germany\n" +
		"2;B;1;2010-12-01 08:27;1.234,50;17851;France\n" +
		"3;C;1;2010-12-01 08:28;2.55;17852;France\n"
	r, err := New(strings.NewReader(in), Config{DefaultCurrency: "EUR", Comma: ';', DecimalComma: true})
	if err != nil {
		t.Fatal(err)
	}
	txs := readAll(t, r)
	if len(txs) != 2 || txs[0].TotalCents != 6*255 || txs[1].TotalCents != 123450 {
		t.Fatalf("transactions %+v, want 15.30 and 1,234.50 EUR", txs)
	}
	rep := r.Report()
	if rep.Skipped[BadPrice] != 1 || rep.FirstSkipped[BadPrice] != (SkippedRow{Row: 3, Value: "2.55"}) {
		t.Errorf("skipped %v, first %v: want the price 2.55 of row 3 refused", rep.Skipped, rep.FirstSkipped)
	}
}

// TestDottedDatesDayFirst: a dotted date is day first by default, as the
// locales that write them order it.
func TestDottedDatesDayFirst(t *testing.T) {
	in := "InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n" +
		"1,A,1,01.12.2010 08:26,1,c1,DE\n2,A,1,2.3.2011 9:05:07,1,c2,DE\n3,A,1,31.12.2011,1,c3,DE\n"
	r, err := New(strings.NewReader(in), Config{DefaultCurrency: "EUR"})
	if err != nil {
		t.Fatal(err)
	}
	txs := readAll(t, r)
	want := []time.Time{time.Date(2010, 12, 1, 8, 26, 0, 0, time.UTC), time.Date(2011, 3, 2, 9, 5, 7, 0, time.UTC), time.Date(2011, 12, 31, 0, 0, 0, 0, time.UTC)}
	if len(txs) != len(want) {
		t.Fatalf("%d transactions, want %d: %+v", len(txs), len(want), r.Report())
	}
	for i, tx := range txs {
		if !tx.EventTime.Equal(want[i]) {
			t.Errorf("transaction %s at %v, want %v", tx.TransactionID, tx.EventTime, want[i])
		}
	}
}

// TestOrderLevelLog reads a transaction log as lifetimes takes one
// (customer, date, amount): each row an order of one line worth its
// amount, of product "unknown" and quantity 1, in the unknown region, its
// ID made from the row, the same on a second read and not another row's.
func TestOrderLevelLog(t *testing.T) {
	t.Parallel()
	in := "customer_id,date,amount\n" +
		"c1,1997-01-01,29.33\n" +
		"c1,1997-01-18,29.73\n" +
		"c2,1997-01-01,0\n" +
		"c1,1997-01-18,29.73\n" // the same purchase again, another row: another order
	read := func() ([]event.Transaction, Report) {
		r, err := New(strings.NewReader(in), Config{DefaultCurrency: "USD"})
		if err != nil {
			t.Fatal(err)
		}
		return readAll(t, r), r.Report()
	}
	txs, rep := read()
	if !rep.OrderLevel || len(txs) != 4 || rep.Items != 4 || rep.UnknownRegions["ZZ"] != 4 {
		t.Fatalf("report %+v, %d transactions", rep, len(txs))
	}
	ids := map[string]bool{}
	for i, tx := range txs {
		it := tx.Items[0]
		if len(tx.Items) != 1 || it.ProductID != "unknown" || it.Quantity != 1 || tx.TotalCents != it.UnitPriceCents || tx.BillingCountry != "ZZ" ||
			len(tx.TransactionID) != 17 || tx.TransactionID[0] != 'r' {
			t.Errorf("row %d: %+v", i+1, tx)
		}
		ids[tx.TransactionID] = true
	}
	if len(ids) != 4 || txs[0].TotalCents != 2933 || txs[2].TotalCents != 0 || txs[1].CustomerID != "c1" {
		t.Errorf("ids %v, transactions %+v", ids, txs)
	}
	again, _ := read()
	for i := range again {
		if again[i].TransactionID != txs[i].TransactionID {
			t.Errorf("row %d named %s, then %s", i+1, txs[i].TransactionID, again[i].TransactionID)
		}
	}
}

// TestNoCountryColumn: a file of order lines without a country column is
// read, its orders in the unknown region (ZZ), counted as such.
func TestNoCountryColumn(t *testing.T) {
	t.Parallel()
	in := "order_id,customer_id,product_id,quantity,unit_price,timestamp\n" +
		"o1,c1,p1,2,1.50,2024-01-01\no1,c1,p2,1,2,2024-01-01\no2,c2,p1,1,1.50,2024-01-02\n"
	r, err := New(strings.NewReader(in), Config{DefaultCurrency: "EUR"})
	if err != nil {
		t.Fatal(err)
	}
	txs := readAll(t, r)
	if len(txs) != 2 || txs[0].BillingCountry != "ZZ" || txs[1].ShippingCountry != "ZZ" || txs[0].TotalCents != 500 {
		t.Fatalf("transactions %+v", txs)
	}
	if rep := r.Report(); rep.UnknownRegions["ZZ"] != 2 || rep.OrderLevel {
		t.Errorf("report %+v: want the 2 orders in the unknown region", rep)
	}
}

// TestDuplicateColumn: a header with two columns of the name a field is
// read from is refused, naming both, rather than read from either.
func TestDuplicateColumn(t *testing.T) {
	t.Parallel()
	for _, header := range []string{
		"InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice,CustomerID,Country,Quantity\n",
		"InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice,CustomerID,Country, quantity \n",
		"InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice,CustomerID,Country,unit_price\n", // UnitPrice normalised
	} {
		_, err := New(strings.NewReader(header+"536398,1,2,12/1/2010 08:00,1.00,1575,United Kingdom,5\n"), Config{DefaultCurrency: "GBP"})
		if err == nil || !strings.Contains(err.Error(), "two columns") || !strings.Contains(err.Error(), "and 8") {
			t.Errorf("%q: %v, want the two columns refused", header, err)
		}
	}
	// Two columns of a name no field is read from are fine.
	if _, err := New(strings.NewReader("InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice,CustomerID,Country,Note,Note\n"), Config{DefaultCurrency: "GBP"}); err != nil {
		t.Errorf("two Note columns: %v", err)
	}
}
