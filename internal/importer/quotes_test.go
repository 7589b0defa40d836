package importer

import (
	"fmt"
	"strings"
	"testing"
)

const uciHeader = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"

// uciLine is an order line of its own order.
func uciLine(i int) string {
	return fmt.Sprintf("%d,%d,ITEM %d,%d,12/1/2010 08:%02d,1.%02d,%d,United Kingdom\n", 536400+i, 20000+i, i, 1+i, i%60, i%100, 15000+i)
}

// TestUnclosedQuote: a quote opened and not closed on its line runs, in
// CSV, over the lines after it. Those lines are order lines, and each is
// imported as its own row, the line with the stray quote too when the
// quote taken as a character leaves it a row; a field that legitimately
// spans lines stays one.
func TestUnclosedQuote(t *testing.T) {
	t.Parallel()
	var ten strings.Builder
	for i := range 10 {
		ten.WriteString(uciLine(i))
	}
	tests := []struct {
		name, csv string
		comma     rune
		// want: the transactions' IDs and quantities in order; rows read,
		// records re-read, skipped as unclosed_quote.
		want                            string
		rows, unclosed, skipped, reread int64
	}{{
		// Before: one row, skipped short, the ten lines after it lost.
		name: "to the end of the file",
		csv:  uciHeader + `536365,85123A,"WHITE HANGING HEART,6,12/1/2010 08:26,2.55,17850,United Kingdom` + "\n" + ten.String(),
		want: "536365:6 536400:1 536401:2 536402:3 536403:4 536404:5 536405:6 536406:7 536407:8 536408:9 536409:10",
		rows: 11, unclosed: 1, reread: 11,
	}, {
		// Before: one row of eight fields, imported as order 536365 with
		// the quantity, price and customer of the line that closed the
		// quote, the lines between lost.
		name: "closed by a later line's quote",
		csv: uciHeader + `536365,85123A,"WHITE HANGING HEART,6,12/1/2010 08:26,2.55,17850,United Kingdom` + "\n" + ten.String() +
			`536370,22728,ALARM CLOCK PINK",24,12/1/2010 08:45,3.75,12583,France` + "\n" + uciLine(20),
		want: "536365:6 536400:1 536401:2 536402:3 536403:4 536404:5 536405:6 536406:7 536407:8 536408:9 536409:10 536370:24 536420:21",
		rows: 13, unclosed: 1, reread: 12, // the last line is read as usual
	}, {
		name: "the stray quote's line is no row",
		csv:  uciHeader + `536365,85123A,"WHITE HANGING HEART,6,12/1/2010 08:26` + "\n" + ten.String(),
		want: "536400:1 536401:2 536402:3 536403:4 536404:5 536405:6 536406:7 536407:8 536408:9 536409:10",
		rows: 11, unclosed: 1, skipped: 1, reread: 11,
	}, {
		name: "quoted fields before the stray quote, CRLF, semicolons",
		csv: strings.ReplaceAll(uciHeader, ",", ";") + `536365;"85123A";"WHITE; HANGING;6;12/1/2010 08:26;2.55;17850;United Kingdom` + "\r\n" +
			strings.ReplaceAll(strings.ReplaceAll(ten.String(), ",", ";"), "\n", "\r\n"),
		comma: ';',
		want:  "536400:1 536401:2 536402:3 536403:4 536404:5 536405:6 536406:7 536407:8 536408:9 536409:10",
		// "WHITE; HANGING" then splits in two: one field too many.
		rows: 11, unclosed: 1, skipped: 1, reread: 11,
	}, {
		name: "a quoted description with line breaks",
		csv:  uciHeader + "536365,85123A,\"WHITE HANGING HEART\nT-LIGHT HOLDER, large\",6,12/1/2010 08:26,2.55,17850,United Kingdom\n" + uciLine(0),
		want: "536365:6 536400:1",
		rows: 2,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, err := New(strings.NewReader(tt.csv), Config{DefaultCurrency: "GBP", Comma: tt.comma})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, tx := range readAll(t, r) {
				q := 0
				for _, it := range tx.Items {
					q += it.Quantity
				}
				got = append(got, fmt.Sprintf("%s:%d", strings.SplitN(tx.TransactionID, "#", 2)[0], q))
			}
			if g := strings.Join(got, " "); g != tt.want {
				t.Errorf("transactions\n got %s\nwant %s", g, tt.want)
			}
			rep := r.Report()
			if rep.Rows != tt.rows || rep.UnclosedQuotes != tt.unclosed || rep.Skipped[UnclosedQuote] != tt.skipped {
				t.Errorf("rows %d, unclosed quotes %d, skipped %v; want %d, %d, %d unclosed_quote", rep.Rows, rep.UnclosedQuotes, rep.Skipped, tt.rows, tt.unclosed, tt.skipped)
			}
			if rep.Rows != rep.Items+rep.SkippedRows() {
				t.Errorf("rows %d != items %d + skipped %d", rep.Rows, rep.Items, rep.SkippedRows())
			}
			if rep.RereadLines != tt.reread {
				t.Errorf("%d lines re-read, want %d", rep.RereadLines, tt.reread)
			}
			if tt.skipped > 0 && !strings.Contains(rep.FirstSkipped[UnclosedQuote].Value, `"WHITE`) {
				t.Errorf("first unclosed_quote row %+v, want the line with the quote", rep.FirstSkipped[UnclosedQuote])
			}
		})
	}
}

// TestManyUnclosedQuotes: a file whose every other line opens a quote
// that the next closes costs its rows' reading a bounded number of times,
// not once per quote over the rest of the file.
func TestManyUnclosedQuotes(t *testing.T) {
	t.Parallel()
	const n = 20_000
	var sb strings.Builder
	sb.WriteString(uciHeader)
	for i := range n {
		if i%2 == 0 {
			fmt.Fprintf(&sb, "%d,1,\"A,1,12/1/2010 08:00,1.00,15000,United Kingdom\n", 536000+i)
		} else {
			fmt.Fprintf(&sb, "%d,1,B\",1,12/1/2010 08:00,1.00,15000,United Kingdom\n", 536000+i)
		}
	}
	r, err := New(strings.NewReader(sb.String()), Config{DefaultCurrency: "GBP"})
	if err != nil {
		t.Fatal(err)
	}
	txs := readAll(t, r)
	rep := r.Report()
	if len(txs) != n || rep.Rows != n || rep.RereadLines != n {
		t.Errorf("%d transactions of %d rows, %d re-read; want %d of each", len(txs), rep.Rows, rep.RereadLines, n)
	}
}
