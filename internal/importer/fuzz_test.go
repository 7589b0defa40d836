package importer

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/shopstream/shopstream/internal/event"
)

// FuzzImport feeds arbitrary bytes, alone and after a valid header, and
// checks that the importer never panics, never fails on in-memory input
// past the header, and accounts for every row: rows read = rows imported
// + rows skipped, with the rows counted independently by encoding/csv (a
// record re-read line by line after an unclosed quote counting as its
// lines).
func FuzzImport(f *testing.F) {
	for _, seed := range []string{
		"536365,85123A,WHITE HANGING HEART,6,12/1/2010 8:26,2.55,17850,United Kingdom\n536365,71053,LANTERN,6,12/1/2010 8:26,3.39,17850,United Kingdom\n",
		"C536379,D,Discount,-1,12/1/2010 9:41,27.5,14527,United Kingdom\n",
		"536414,22139,,56,12/1/2010 11:52,0,,United Kingdom\n",
		"1,2,3\n\"unterminated,4,5\n",
		"a,b,c,d,12/1/2010 8:26,1e309,x,GB\r\n\r\n,,,,,,,\n",
		"order_id,customer_id,product_id,quantity,unit_price,timestamp,country\no,c,p,1,1,2024-01-01,GB\n",
		"1,2,3,1,0001-01-01T00:30:00+01:00,1,7,GB\n",
		"536365,85123A,X,1000000000,9999999999.99,12/1/2010 8:26,17850.0,EIRE\n536365,85123A,X,1,1,12/1/2010 8:26,17850,EIRE\n",
		"1,A,X,6,12/1/2010 8:26,\"1.234,50\",17850,Germany\n2,B,Y,1,12/1/2010 8:27,\"1\u00a0234,5\",17851,France\n",
		"536365,85123A,\"WHITE,6,12/1/2010 8:26,2.55,17850,United Kingdom\n536366,1,X,1,12/1/2010 8:27,1,17851,France\n536367,2,Y\",2,12/1/2010 8:28,1,17852,France\n",
	} {
		f.Add([]byte(seed))
	}
	const header = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
	f.Fuzz(func(t *testing.T, data []byte) {
		for i, in := range [][]byte{data, append([]byte(header), data...), append([]byte(header), data...)} {
			// The last with prices read with a decimal comma.
			r, err := New(bytes.NewReader(in), Config{DefaultCurrency: "EUR", DecimalComma: i == 2})
			if err != nil {
				continue // no usable header: nothing to account for
			}
			var items int64
			var txs int64
			for {
				tx, err := r.Next()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatalf("Next on in-memory input: %v", err)
				}
				txs++
				items += int64(len(tx.Items))
				checkTransaction(t, &tx)
			}
			rep := r.Report()
			if rep.Rows != rep.Items+rep.SkippedRows() {
				t.Fatalf("report %+v: %d rows but %d imported + %d skipped", rep, rep.Rows, rep.Items, rep.SkippedRows())
			}
			if items != rep.Items || txs != rep.Transactions {
				t.Fatalf("returned %d items in %d transactions, report says %d in %d", items, txs, rep.Items, rep.Transactions)
			}
			if want := countRecords(in) - rep.UnclosedQuotes + rep.RereadLines; rep.Rows != want {
				t.Fatalf("read %d rows, encoding/csv counts %d (%d records of %d lines re-read)", rep.Rows, want, rep.UnclosedQuotes, rep.RereadLines)
			}
		}
	})
}

// checkTransaction asserts what every imported transaction must satisfy,
// including that it survives the event codec.
func checkTransaction(t *testing.T, tx *event.Transaction) {
	t.Helper()
	if tx.TransactionID == "" || tx.CustomerID == "" || len(tx.Items) == 0 || tx.SchemaVersion != 1 || len(tx.Currency) != 3 {
		t.Fatalf("incomplete transaction %+v", tx)
	}
	// Zero-price lines are imported, so a total of 0 is possible.
	if tx.TotalCents != tx.ItemsCents() || tx.TotalCents < 0 || tx.TotalCents > maxCents {
		t.Fatalf("transaction %s: total %v, items sum to %v", tx.TransactionID, tx.TotalCents, tx.ItemsCents())
	}
	for _, it := range tx.Items {
		if it.Quantity <= 0 || it.UnitPriceCents < 0 || strings.HasPrefix(it.UnitPriceExact, "-") || it.ProductID == "" || it.Category == "" {
			t.Fatalf("transaction %s: bad item %+v", tx.TransactionID, it)
		}
	}
	b, err := event.Marshal(tx)
	if err != nil {
		t.Fatalf("marshalling %+v: %v", tx, err)
	}
	var back event.Transaction
	if err := event.Decode(b, &back); err != nil || back.TotalCents != tx.TotalCents || !back.EventTime.Equal(tx.EventTime) ||
		back.ItemsCents() != tx.TotalCents {
		t.Fatalf("transaction %s does not survive the codec: %v", tx.TransactionID, err)
	}
	for i := range tx.Items {
		if back.Items[i].UnitPriceExact != tx.Items[i].UnitPriceExact {
			t.Fatalf("transaction %s: item %d exact price %q came back as %q", tx.TransactionID, i, tx.Items[i].UnitPriceExact, back.Items[i].UnitPriceExact)
		}
	}
}

// countRecords counts the data records encoding/csv sees in in, read the
// way the importer reads (lazy quotes, any field count), parse errors
// included, header excluded.
func countRecords(in []byte) int64 {
	cr := csv.NewReader(bytes.NewReader(in))
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	var n int64
	for {
		_, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return max(n-1, 0)
		}
		var perr *csv.ParseError
		if err != nil && !errors.As(err, &perr) {
			return -1
		}
		n++
	}
}
