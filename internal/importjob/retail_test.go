package importjob

import (
	"compress/gzip"
	"context"
	"encoding/csv"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/importer"
	"github.com/shopstream/shopstream/internal/quality"
	"github.com/shopstream/shopstream/internal/store/sqlite"
)

const retailLog = "../../testdata/datasets/retail/online_retail_2010-12_2011-06.csv.gz"

func openRetail(t *testing.T) io.Reader {
	t.Helper()
	f, err := os.Open(filepath.FromSlash(retailLog))
	if err != nil {
		t.Skipf("the retail log is not here: %v", err)
	}
	t.Cleanup(func() { f.Close() })
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	return zr
}

// TestRetailLogUnderTheDefaultContract imports the UCI Online Retail log
// with the default contract: every order line with a customer, a positive
// quantity and a price of at least 0 is stored (none quarantined: wholesale
// quantities up to 100,000 and the non-ISO regions are within the
// contract), and the lines that are not are counted by reason, as an
// independent reading of the file counts them.
func TestRetailLogUnderTheDefaultContract(t *testing.T) {
	if testing.Short() {
		t.Skip("imports 245,903 rows")
	}
	t.Parallel()
	// The file, read on its own: order lines by what they hold.
	cr := csv.NewReader(openRetail(t))
	cr.LazyQuotes = true
	header, err := cr.Read()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.TrimPrefix(h, "\ufeff")] = i
	}
	var rows, noCustomer, nonPositiveQty, positive, free int64
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		rows++
		qty, _ := strconv.Atoi(rec[col["Quantity"]])
		price, _ := strconv.ParseFloat(rec[col["UnitPrice"]], 64)
		switch {
		case strings.TrimSpace(rec[col["CustomerID"]]) == "":
			noCustomer++
		case qty <= 0:
			nonPositiveQty++
		case price > 0:
			positive++
		case price == 0:
			free++
		}
	}

	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	rd, err := importer.New(openRetail(t), importer.Config{DefaultCurrency: "GBP", Countries: quality.Default().Country})
	if err != nil {
		t.Fatal(err)
	}
	j, err := New(Config{Store: st, Source: "retail", Quality: quality.Default(), Now: func() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Run(ctx, rd); err != nil {
		t.Fatal(err)
	}
	res, rep := j.Result(), rd.Report()
	t.Logf("rows %d, items %d (%d free), records %d: stored %d, quarantined %v, warned %v; skipped %v; unknown regions %v",
		rep.Rows, rep.Items, rep.ZeroPriceItems, res.Records, res.Stored, res.QuarantinedBy, res.WarnedBy, rep.Skipped, rep.UnknownRegions)
	if rep.Rows != rows {
		t.Fatalf("the importer read %d rows, the file has %d", rep.Rows, rows)
	}
	if rep.Items != positive+free || rep.ZeroPriceItems != free {
		t.Errorf("items %d (%d free), want every line with a customer and a positive quantity: %d priced + %d free", rep.Items, rep.ZeroPriceItems, positive, free)
	}
	if rep.Skipped[importer.MissingCustomerID] != noCustomer || rep.Skipped[importer.NonPositiveQuantity] != nonPositiveQty {
		t.Errorf("skipped %v, want %d without a customer and %d cancellations", rep.Skipped, noCustomer, nonPositiveQty)
	}
	if res.Quarantined != 0 || res.Stored != res.Records {
		t.Errorf("stored %d of %d records, quarantined %v: want every record stored", res.Stored, res.Records, res.QuarantinedBy)
	}
	if len(res.WarnedBy) != 0 {
		t.Errorf("warnings %v, want none", res.WarnedBy)
	}
	// Rows, stored with the country ZZ.
	if want := map[string]int64{"Channel Islands": 10, "European Community": 3, "Unspecified": 3}; !reflect.DeepEqual(rep.UnknownRegions, want) || len(rep.UnknownCountries) != 0 {
		t.Errorf("unknown regions %v, unknown countries %v; want %v and no unknown country", rep.UnknownRegions, rep.UnknownCountries, want)
	}
	sum, err := st.Summary(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if sum.TransactionsTotal != res.Stored || sum.QuarantinedTotal != 0 {
		t.Errorf("the store holds %d transactions and %d quarantined, want %d and 0", sum.TransactionsTotal, sum.QuarantinedTotal, res.Stored)
	}
}
