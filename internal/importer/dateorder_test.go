package importer

import (
	"fmt"
	"strings"
	"testing"
)

func TestSniffDateOrder(t *testing.T) {
	t.Parallel()
	const head = "InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
	row := func(date string) string { return "1,A,1," + date + ",2.5,100,United Kingdom\n" }
	for _, c := range []struct {
		name, body                       string
		day, month, either, dayRow, rows int64
		mixed                            bool
	}{
		{"day first", row("01/02/2011 10:00") + row("13/02/2011 10:00") + row("05/03/2011"), 1, 0, 2, 2, 3, false},
		{"month first", row("12/1/2010 8:26") + row("12/13/2010 9:00"), 0, 1, 1, 0, 2, false},
		{"mixed", row("25/12/2011 10:00") + row("02/13/2011 10:00"), 1, 1, 0, 1, 2, true},
		{"either way only", row("01/02/2011 10:00") + row("3/4/2011"), 0, 0, 2, 0, 2, false},
		{"ISO dates", row("2011-02-13 10:00:00") + row("2011-12-25T10:00:00Z"), 0, 0, 0, 0, 2, false},
		{"not dates", row("13/13/2011") + row("0/5/2011") + row("tomorrow"), 0, 0, 0, 0, 3, false},
		// A sample cut inside its last line leaves that line out.
		{"cut", row("01/02/2011 10:00") + "2,A,1,13/0", 0, 0, 1, 0, 1, false},
	} {
		o, err := SniffDateOrder([]byte(head+c.body), Config{DefaultCurrency: "GBP"})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if o.DayFirst != c.day || o.MonthFirst != c.month || o.Either != c.either || o.DayFirstRow != c.dayRow || o.Rows != c.rows || o.Mixed() != c.mixed {
			t.Errorf("%s: %s (mixed %v); want %d only day first (row %d), %d only month first, %d either way in %d rows", c.name, o, o.Mixed(), c.day, c.dayRow, c.month, c.either, c.rows)
		}
	}
	// Day-first layouts read what the sniffer found day first.
	two := head + row("13/02/2011 10:00") + strings.Replace(row("01/02/2011 10:00"), "1,", "2,", 1)
	r, err := New(strings.NewReader(two), Config{DefaultCurrency: "GBP", TimeLayouts: DayFirstTimeLayouts})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"2011-02-13T10:00:00Z", "2011-02-01T10:00:00Z"} {
		tx, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		if got := tx.EventTime.UTC().Format("2006-01-02T15:04:05Z"); got != want {
			t.Errorf("read day first: %s, want %s", got, want)
		}
	}
}

// BenchmarkSniffDateOrder reads a 4 MiB sample of UCI-like rows, what an
// import reads ahead before its first row:
//
//	go test ./internal/importer -run '^$' -bench SniffDateOrder
func BenchmarkSniffDateOrder(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n")
	for i := 0; sb.Len() < 4<<20; i++ {
		fmt.Fprintf(&sb, "%d,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,12/%d/2010 8:26,2.55,%d,United Kingdom\n", 536365+i/4, 1+i/2000%28, 17850+i%3000)
	}
	sample := []byte(sb.String())
	b.SetBytes(int64(len(sample)))
	for b.Loop() {
		if _, err := SniffDateOrder(sample, Config{DefaultCurrency: "GBP"}); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzSniffDateOrder: any sample is read without a panic, and no more
// dates are counted than rows read.
func FuzzSniffDateOrder(f *testing.F) {
	f.Add([]byte("InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n1,A,1,13/02/2011 10:00,2.5,100,UK\n2,A,1,02/13/2011,2.5,101,UK\n"))
	f.Add([]byte("order_id;customer_id;timestamp;price\n1;2;1/1/11;3\n"))
	f.Add([]byte("timestamp,customer_id,amount\n\"12/\n13/2011\",c,1\n 7/8/99,c,2\n"))
	f.Fuzz(func(t *testing.T, sample []byte) {
		o, err := SniffDateOrder(sample, Config{DefaultCurrency: "GBP"})
		if err != nil {
			return
		}
		if o.DayFirst < 0 || o.MonthFirst < 0 || o.Either < 0 || o.DayFirst+o.MonthFirst+o.Either > o.Rows ||
			(o.DayFirst > 0) != (o.DayFirstRow > 0) || (o.MonthFirst > 0) != (o.MonthFirstRow > 0) {
			t.Fatalf("inconsistent %s", o)
		}
	})
}
