package importer

import (
	"strings"
	"testing"
)

func TestStripCurrencySign(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in, currency, out string
		found, ok         bool
	}{
		{"2.50", "GBP", "2.50", false, true},
		{"1,234.50", "USD", "1,234.50", false, true},
		{"", "GBP", "", false, true},
		{"£2.50", "GBP", "2.50", true, true},
		{"$2.50", "USD", "2.50", true, true},
		{"$2.50", "CAD", "2.50", true, true},
		{"$2.50", "GBP", "$2.50", true, false},
		{"US$2.50", "USD", "2.50", true, true},
		{"US$2.50", "CAD", "US$2.50", true, false},
		{"C$2.50", "CAD", "2.50", true, true},
		{"2,50 €", "EUR", "2,50", true, true},
		{"2,50\u00a0€", "EUR", "2,50", true, true},
		{"€ 2,50", "EUR", "2,50", true, true},
		{"-$2.50", "USD", "-2.50", true, true},
		{"$-2.50", "USD", "-2.50", true, true},
		{"GBP 12.00", "GBP", "12.00", true, true},
		{"12.00 gbp", "GBP", "12.00", true, true},
		{"12.00 EUR", "GBP", "12.00 EUR", true, false},
		{"12,00\u202fEUR", "EUR", "12,00", true, true},
		{"EUR\u00a012,00", "EUR", "12,00", true, true},
		{"¥1500", "JPY", "1500", true, true},
		{"¥1500", "CNY", "1500", true, true},
		{"¥1500", "USD", "¥1500", true, false},
		{"120 kr", "SEK", "120", true, true},
		{"abc", "GBP", "abc", false, true},
		{"abcd", "GBP", "abcd", false, true},
		{"Infinity", "GBP", "Infinity", false, true},
		{"2.50x", "GBP", "2.50x", false, true},
	} {
		out, found, ok := stripCurrencySign(c.in, c.currency)
		if out != c.out || found != c.found || ok != c.ok {
			t.Errorf("stripCurrencySign(%q, %s) = %q, %v, %v; want %q, %v, %v", c.in, c.currency, out, found, ok, c.out, c.found, c.ok)
		}
	}
}

func TestFromThousandsCommas(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"1,234.50": "1234.50", "12,345,678.9": "12345678.9", "-1,000.00": "-1000.00", "999.99": "999.99",
		// Refused: no point (a decimal comma?), groups not of three, a
		// first group over three digits.
		"1,234": "", "2,50": "", "1,23.4": "", "1234,567.8": "", ",123.4": "", "1,2,3.0": "", "1,234.5,6": "",
	} {
		if got := fromThousandsCommas(in); got != want {
			t.Errorf("fromThousandsCommas(%q) = %q, want %q", in, got, want)
		}
	}
}

// A file of an Excel export's formatted prices: a currency sign of the
// row's currency and thousands separators before a decimal point are read;
// a sign of another currency skips its row as a bad currency, a comma with
// no decimal point as a bad price.
func TestFormattedPrices(t *testing.T) {
	t.Parallel()
	in := "InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice,CustomerID,Country,Currency\n" +
		"1,A,1,12/13/2010 10:00,\"1,234.50\",100,United States,USD\n" +
		"2,A,2,12/13/2010 10:00,$2.50,101,United States,USD\n" +
		"3,A,2,12/13/2010 10:00,£2.50,102,United Kingdom,GBP\n" +
		"4,A,2,12/13/2010 10:00,$2.50,103,United Kingdom,GBP\n" +
		"5,A,2,12/13/2010 10:00,\"2,50\",104,United Kingdom,GBP\n"
	r, err := New(strings.NewReader(in), Config{})
	if err != nil {
		t.Fatal(err)
	}
	var totals []int64
	for {
		tx, err := r.Next()
		if err != nil {
			break
		}
		totals = append(totals, int64(tx.TotalCents))
	}
	rep := r.Report()
	if len(totals) != 3 || totals[0] != 123450 || totals[1] != 500 || totals[2] != 500 {
		t.Errorf("totals %v, want 123450, 500 and 500 cents", totals)
	}
	if rep.CurrencySignPrices != 2 || rep.Skipped[BadCurrency] != 1 || rep.Skipped[BadPrice] != 1 || rep.FirstSkipped[BadCurrency].Value != "$2.50" {
		t.Errorf("report: %d prices with a sign, skipped %v, first %v", rep.CurrencySignPrices, rep.Skipped, rep.FirstSkipped)
	}
}
