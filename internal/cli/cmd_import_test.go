package cli

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"

	"github.com/shopstream/shopstream/internal/importer"
	"github.com/shopstream/shopstream/internal/importjob"
	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/pgtest"
	"github.com/shopstream/shopstream/internal/store/sqlite"
)

const importCSV = "testdata/import_orders.csv"

// importJSON runs `shopstream import --json` and decodes its report.
func importJSON(t *testing.T, args ...string) (importReport, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if !slices.Contains(args, "--currency") {
		args = append(args, "--currency", "GBP")
	}
	if err := runImport(context.Background(), append(args, "--json"), &stdout, &stderr); err != nil {
		t.Fatalf("import %v: %v\n%s", args, err, stderr.String())
	}
	var rep importReport
	dec := json.NewDecoder(&stdout)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rep); err != nil {
		t.Fatalf("decoding the report: %v", err)
	}
	return rep, stderr.String()
}

func storeSummary(t *testing.T, dir string) store.Summary {
	t.Helper()
	st, err := sqlite.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	sum, err := st.Summary(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

// The testdata file, counted by hand: 13 rows; 3 skipped (no customer, a
// cancellation, a price "abc"); 10 items in 8 orders; the "Atlantis"
// country and the quantity of 500,000 are quarantined by the default
// contract; 6 orders of 3 customers are stored.
func TestImportCSV(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	rep, _ := importJSON(t, "--csv", importCSV, "--data-dir", dir)
	want := importReport{File: importCSV, Source: "import_orders.csv", Rows: 13, Items: 10, Transactions: 8, Records: 8, Stored: 6, Quarantined: 2,
		QuarantinedBy: map[string]int64{"unknown_country": 1, "out_of_range": 1},
		Skipped:       map[string]int64{"missing_customer_id": 1, "non_positive_quantity": 1, "bad_price": 1},
		// Data rows 5, 6 and 13 (lines 6, 7 and 14 of the file).
		FirstSkipped: map[string]importer.SkippedRow{"missing_customer_id": {Row: 5}, "non_positive_quantity": {Row: 6, Value: "-1"},
			"bad_price": {Row: 13, Value: "abc"}},
		UnknownCountries: map[string]int64{"Atlantis": 1}, UnknownRegions: map[string]int64{}, WarnedBy: map[string]int64{},
		Replayed:     importjob.ReplayResult{QuarantinedBy: map[string]int64{}},
		InQuarantine: map[string]int64{"unknown_country": 1, "out_of_range": 1}}
	rep.Seconds, rep.RowsPerSecond = 0, 0
	if !reflect.DeepEqual(rep, want) {
		t.Fatalf("report\n%+v\nwant\n%+v", rep, want)
	}
	sum := storeSummary(t, dir)
	// 536365: 6 × 2.55 + 6 × 3.39 = 35.64; 536366: 11.10; 536367: 54.08;
	// 536370: 2 × 24 × 3.75 = 180.00; 537000: 10.20; 537001: 25.50.
	if sum.TransactionsTotal != 6 || sum.QuarantinedTotal != 2 || sum.CustomersTotal != 3 || sum.RevenueCents != 3564+1110+5408+18000+1020+2550 {
		t.Fatalf("store after import: %+v", sum)
	}

	// The same file again: nothing to do, and it says so.
	var stdout, stderr bytes.Buffer
	if err := runImport(context.Background(), []string{"--csv", importCSV, "--data-dir", dir, "--currency", "GBP"}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	// The two quarantined records are checked again, and fail again.
	if out := stdout.String(); !strings.Contains(out, "already imported: all 8 records") || !strings.Contains(stderr.String(), "8 records of source") ||
		!strings.Contains(out, "replayed                    2  (quarantined by earlier imports, checked again: 0 stored, 0 duplicates, 2 still failing)") {
		t.Fatalf("second import said:\n%s\n%s", out, stderr.String())
	}
	again := storeSummary(t, dir)
	sum.LastEventTime, again.LastEventTime = nil, nil
	if !reflect.DeepEqual(again, sum) {
		t.Fatalf("second import changed the store: %+v, was %+v", again, sum)
	}
}

// The import writes no minute rows that a processor's retention job would
// delete: by default (--retain-rollups 30d, as on process) the orders of
// 2010 get hourly and daily fraud rollups but no minute ones, and their
// minute windows (--retain-minute-windows 0) are written; with the ages
// set the other way round, the other way round. Hours and days hold every
// stored order either way.
func TestImportMinuteHorizon(t *testing.T) {
	t.Parallel()
	counts := func(dir string) map[string]int64 {
		t.Helper()
		st, err := sqlite.Open(context.Background(), dir)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		got := map[string]int64{}
		for _, q := range []struct{ name, sql string }{
			{"rollup minutes", "SELECT count(*) FROM fraud_rollups WHERE granularity = 'minute'"},
			{"rollup hour orders", "SELECT coalesce(sum(n), 0) FROM fraud_rollups WHERE granularity = 'hour' AND series = ''"},
			{"rollup day orders", "SELECT coalesce(sum(n), 0) FROM fraud_rollups WHERE granularity = 'day' AND series = ''"},
			{"window minutes", "SELECT count(*) FROM window_metrics WHERE granularity = 'minute'"},
			{"window hour orders", "SELECT coalesce(sum(tx_count), 0) FROM window_metrics WHERE granularity = 'hour'"},
		} {
			var n int64
			if err := st.DB().QueryRow(q.sql).Scan(&n); err != nil {
				t.Fatalf("%s: %v", q.name, err)
			}
			got[q.name] = n
		}
		return got
	}
	byDefault := t.TempDir()
	importJSON(t, "--csv", importCSV, "--data-dir", byDefault)
	got := counts(byDefault)
	if got["rollup minutes"] != 0 || got["window minutes"] == 0 || got["rollup hour orders"] != 6 || got["rollup day orders"] != 6 || got["window hour orders"] != 6 {
		t.Fatalf("default ages: %v; want no minute rollups, minute windows, and the 6 orders in the hours and days", got)
	}
	swapped := t.TempDir()
	importJSON(t, "--csv", importCSV, "--data-dir", swapped, "--retain-rollups", "0", "--retain-minute-windows", "30d")
	got = counts(swapped)
	if got["rollup minutes"] == 0 || got["window minutes"] != 0 || got["rollup hour orders"] != 6 || got["rollup day orders"] != 6 || got["window hour orders"] != 6 {
		t.Fatalf("--retain-rollups 0 --retain-minute-windows 30d: %v; want minute rollups, no minute windows, the 6 orders in the hours and days", got)
	}
}

// A .csv.gz file is read directly, with the same result as the plain file.
func TestImportGzip(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(importCSV)
	if err != nil {
		t.Fatal(err)
	}
	gz := filepath.Join(t.TempDir(), "import_orders.csv.gz")
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write(raw)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(gz, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	rep, _ := importJSON(t, "--csv", gz, "--data-dir", t.TempDir())
	if rep.Rows != 13 || rep.Stored != 6 || rep.Quarantined != 2 {
		t.Errorf("gzip import: %+v; want 13 rows, 6 stored, 2 quarantined as from the plain file", rep)
	}
	// The same bytes under a name without .gz: read as gzip by their
	// content, not as a header of binary bytes.
	plain := filepath.Join(t.TempDir(), "import_orders.csv")
	if err := os.WriteFile(plain, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if rep, _ := importJSON(t, "--csv", plain, "--data-dir", t.TempDir()); rep.Rows != 13 || rep.Stored != 6 || rep.Quarantined != 2 {
		t.Errorf("gzip import under a .csv name: %+v; want 13 rows, 6 stored, 2 quarantined as from the plain file", rep)
	}
}

// A file that is not CSV text (a workbook, an archive, a Parquet file,
// another compression) is refused as a usage error that says what it is
// and what to do, before any store is opened; so is a header written with
// another separator than --separator's, which then imports with it.
func TestImportNotCSV(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for name, c := range map[string]struct{ head, want string }{
		"orders.xlsx":    {"PK\x03\x04\x14\x00\x00\x00\x08\x00", "a ZIP archive (an Excel .xlsx workbook is one): save the sheet as CSV"},
		"orders.xls":     {"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\x00\x00", "an Excel 97-2003 workbook (.xls)"},
		"orders.parquet": {"PAR1\x15\x04\x15", "a Parquet file"},
		"orders.csv.zst": {"\x28\xb5\x2f\xfd\x04\x58", "zstd-compressed: decompress it first"},
		"orders.db":      {"SQLite format 3\x00\x10\x00", "an SQLite database"},
	} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(c.head+strings.Repeat("\x00binary", 50)), 0o644); err != nil {
			t.Fatal(err)
		}
		store := filepath.Join(dir, "store-"+name)
		_, _, err := runCLI(t, "import", "--csv", path, "--currency", "GBP", "--data-dir", store)
		if err == nil || !strings.Contains(err.Error(), "is not CSV text but "+c.want) || !IsUsage(err) {
			t.Errorf("import of %s: %v; want a usage error saying it is not CSV text but %s", name, err, c.want)
		}
		if _, serr := os.Stat(store); serr == nil {
			t.Errorf("import of %s opened a store before refusing the file", name)
		}
	}
	for sep, header := range map[string]string{";": "InvoiceNo;StockCode;Description;Quantity;InvoiceDate;UnitPrice;CustomerID;Country\n" +
		"536365;85123A;WHITE HANGING HEART;6;12/1/2010 8:26;2.55;17850;United Kingdom\n",
		"tab": "InvoiceNo\tStockCode\tDescription\tQuantity\tInvoiceDate\tUnitPrice\tCustomerID\tCountry\n" +
			"536365\t85123A\tWHITE HANGING HEART\t6\t12/1/2010 8:26\t2.55\t17850\tUnited Kingdom\n"} {
		path := filepath.Join(dir, "sep-"+sep+".csv")
		if err := os.WriteFile(path, []byte(header), 0o644); err != nil {
			t.Fatal(err)
		}
		shown := sep
		if sep == "tab" {
			shown = `\t`
		}
		_, _, err := runCLI(t, "import", "--csv", path, "--currency", "GBP", "--data-dir", filepath.Join(dir, "s-"+sep))
		if err == nil || !strings.Contains(err.Error(), "give the separator with --separator '"+shown+"'") || !IsUsage(err) {
			t.Errorf("import of a header separated by %q: %v; want a usage error naming --separator '%s'", sep, err, shown)
		}
		if rep, _ := importJSON(t, "--csv", path, "--separator", sep, "--data-dir", filepath.Join(dir, "ok-"+sep)); rep.Stored != 1 {
			t.Errorf("import with --separator %s: %+v; want its one order stored", sep, rep)
		}
	}
}

// --quality-config: the same file under a contract that allows the
// wholesale quantity, maps Atlantis to the unknown region and warns about
// the import's channel: every order is stored, the warnings counted.
func TestImportQualityConfig(t *testing.T) {
	t.Parallel()
	cfg := filepath.Join(t.TempDir(), "quality.yaml")
	doc := "checks:\n  quantity: {max: 1000000}\n  country: {aliases: {atlantis: ZZ}}\n" +
		"  channel: {action: warn, allowed: [web, other], replace_with: other}\n"
	if err := os.WriteFile(cfg, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	rep, _ := importJSON(t, "--csv", importCSV, "--data-dir", t.TempDir(), "--quality-config", cfg)
	if rep.Stored != 8 || rep.Quarantined != 0 || rep.UnknownRegions["Atlantis"] != 1 || len(rep.UnknownCountries) != 0 ||
		!reflect.DeepEqual(rep.WarnedBy, map[string]int64{"channel": 8}) {
		t.Fatalf("import under %s: %+v", doc, rep)
	}
	if err := os.WriteFile(cfg, []byte("checks: {quantity: {max: none}}"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := runImport(context.Background(), []string{"--csv", importCSV, "--data-dir", t.TempDir(), "--currency", "GBP", "--quality-config", cfg}, &bytes.Buffer{}, &bytes.Buffer{})
	if !IsUsage(err) || !strings.Contains(err.Error(), "-quality-config") || !strings.Contains(err.Error(), "checks.quantity") {
		t.Fatalf("a bad contract: %v, want a usage error naming the flag and the key", err)
	}
}

// A file without a currency column is refused without --currency, and the
// error names the flag; nothing is stored.
func TestImportNeedsCurrency(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	dir := t.TempDir()
	err := runImport(context.Background(), []string{"--csv", importCSV, "--data-dir", dir}, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "--currency") || !strings.Contains(err.Error(), "no currency column") {
		t.Fatalf("import without --currency: %v, want an error naming --currency", err)
	}
	if sum := storeSummary(t, dir); sum.TransactionsTotal != 0 {
		t.Errorf("store after the refused import: %+v", sum)
	}
}

// The text report names every reason.
func TestImportTextReport(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	err := runImport(context.Background(), []string{"--csv", importCSV, "--data-dir", t.TempDir(), "--progress-every", "5", "--currency", "GBP"}, &stdout, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"rows read", "13", "stored now", "missing_customer_id", "non_positive_quantity", "bad_price",
		"quarantined", "unknown_country", "out_of_range", "Atlantis"} {
		if !strings.Contains(stdout.String(), s) {
			t.Errorf("report lacks %q:\n%s", s, stdout.String())
		}
	}
	// Progress every 5 rows: at 5 and 10, and at the end.
	if n := strings.Count(stderr.String(), "rows read"); n != 3 {
		t.Errorf("%d progress lines, want 3:\n%s", n, stderr.String())
	}
	// The last progress line is printed after the last batch is stored,
	// and says so (the analytics refresh's lines follow it).
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		if strings.Contains(l, "rows read") {
			lines = append(lines, l)
		}
	}
	if last := lines[len(lines)-1]; !strings.Contains(last, "13 rows read") || !strings.Contains(last, "6 transactions stored, 2 quarantined") {
		t.Errorf("last progress line %q, want 13 rows read, 6 transactions stored, 2 quarantined", last)
	}
}

// writeOrdersCSV writes orders order-0 ... order-(n-1) of lines lines each,
// customer c<i%7>, one day apart.
func writeOrdersCSV(t *testing.T, path string, n, lines int) {
	t.Helper()
	var b strings.Builder
	b.WriteString("order_id,customer_id,product_id,quantity,unit_price,timestamp,country,category\n")
	for i := range n {
		for l := range lines {
			fmt.Fprintf(&b, "order-%d,c%d,P%d,%d,1.%02d,2025-01-%02dT10:00:00Z,DE,cat%d\n", i, i%7, l, 1+l%3, l%100, 1+i%28, l%4)
		}
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// An import cut short resumes after what was stored; batches are small so
// that several are written.
func TestImportResumes(t *testing.T) {
	t.Parallel()
	dir, data := t.TempDir(), t.TempDir()
	full, part := filepath.Join(data, "full.csv"), filepath.Join(data, "part.csv")
	writeOrdersCSV(t, full, 40, 3)
	writeOrdersCSV(t, part, 25, 3) // the first 25 orders, as if interrupted
	first, _ := importJSON(t, "--csv", part, "--source", "orders", "--data-dir", dir, "--batch", "4")
	if first.Stored != 25 {
		t.Fatalf("first import stored %d, want 25", first.Stored)
	}
	rep, stderr := importJSON(t, "--csv", full, "--source", "orders", "--data-dir", dir, "--batch", "4")
	if rep.Previously != 25 || rep.Stored != 15 || rep.Records != 40 || !strings.Contains(stderr, "resuming") {
		t.Fatalf("resumed import: %+v\n%s", rep, stderr)
	}
	if sum := storeSummary(t, dir); sum.TransactionsTotal != 40 {
		t.Fatalf("%d transactions stored, want 40", sum.TransactionsTotal)
	}
	// The same file under another source name: every order is stored
	// already, so each is quarantined as a duplicate, not lost or doubled.
	dup, _ := importJSON(t, "--csv", full, "--source", "copy", "--data-dir", dir, "--batch", "7")
	if dup.Stored != 0 || dup.Quarantined != 40 || dup.QuarantinedBy["duplicate_id"] != 40 {
		t.Fatalf("import under another name: %+v", dup)
	}
	// A shorter file under a name that has more records stored is refused.
	var stdout, stderrBuf bytes.Buffer
	err := runImport(context.Background(), []string{"--csv", part, "--source", "orders", "--data-dir", dir, "--currency", "GBP"}, &stdout, &stderrBuf)
	if err == nil || !strings.Contains(err.Error(), "--source") {
		t.Fatalf("shorter file under a used name: %v", err)
	}
}

// Orders of more than 100 lines are imported in parts of at most 100.
func TestImportSplitsLongOrders(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(t.TempDir(), "long.csv")
	writeOrdersCSV(t, path, 2, 250)
	rep, _ := importJSON(t, "--csv", path, "--data-dir", dir)
	if rep.Transactions != 2 || rep.LongOrders != 2 || rep.Records != 6 || rep.Stored != 6 || rep.Quarantined != 0 {
		t.Fatalf("report %+v: want 2 orders in 6 parts, all stored", rep)
	}
	// The text report says what the 6 stored are: without the records
	// line it read "transactions 2 ... stored now 6".
	var text bytes.Buffer
	if err := runImport(context.Background(), []string{"--csv", path, "--data-dir", t.TempDir(), "--currency", "GBP"}, &text, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^  records +6  \(`).MatchString(text.String()) {
		t.Errorf("text report without the 6 records:\n%s", text.String())
	}
	st, err := sqlite.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var ids []string
	var items []int
	rows, err := st.DB().Query(`SELECT transaction_id, json_array_length(items) FROM transactions ORDER BY kafka_offset`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			t.Fatal(err)
		}
		ids, items = append(ids, id), append(items, n)
	}
	if !reflect.DeepEqual(ids, []string{"order-0", "order-0#p2", "order-0#p3", "order-1", "order-1#p2", "order-1#p3"}) ||
		!reflect.DeepEqual(items, []int{100, 100, 50, 100, 100, 50}) {
		t.Fatalf("stored %v with %v items", ids, items)
	}
}

func TestImportUsage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, tc := range []struct {
		args  []string
		usage bool
		want  string
	}{
		{nil, true, "-csv is required"},
		{[]string{"--csv", importCSV, "--batch", "0"}, true, "-batch"},
		{[]string{"--csv", importCSV, "--columns", "order=InvoiceNo"}, true, `unknown column "order"`},
		{[]string{"--csv", importCSV, "--timezone", "Mars/Olympus"}, true, "-timezone"},
		{[]string{"--csv", importCSV, "--separator", ";;"}, true, "-separator"},
		{[]string{"--csv", "no/such.csv"}, false, "--csv"},
		// Mapping order_id to a header that is not there.
		{[]string{"--csv", importCSV, "--columns", "order_id=OrderNumber"}, false, "--columns"},
	} {
		err := runImport(context.Background(), append(tc.args, "--data-dir", dir), &bytes.Buffer{}, &bytes.Buffer{})
		if err == nil || IsUsage(err) != tc.usage || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v (usage %v), want usage=%v mentioning %q", tc.args, err, IsUsage(err), tc.usage, tc.want)
		}
	}
}

// writeRetailCSV writes rows order lines shaped like the UCI Online Retail
// (or, with oneLine, orders of one line each)
// export (541,909 rows, 25,900 invoices of 4,372 customers, 2010-12 to
// 2011-12): invoices of about 20 lines, a few of several hundred; a quarter
// of the rows without a customer; 2% cancellations; month-first dates.
func writeRetailCSV(tb testing.TB, path string, rows int, oneLine bool) {
	tb.Helper()
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	rng := rand.New(rand.NewPCG(1, 2))
	countries := []string{"United Kingdom", "United Kingdom", "United Kingdom", "United Kingdom", "United Kingdom", "Germany", "France", "EIRE", "Spain", "Netherlands"}
	start := time.Date(2010, 12, 1, 8, 0, 0, 0, time.UTC)
	fmt.Fprintln(w, "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country")
	for n, inv := 0, 536365; n < rows; inv++ {
		lines := 1 + int(rng.ExpFloat64()*20)
		if oneLine {
			lines = 1
		}
		customer := ""
		if rng.Float64() > 0.25 {
			customer = strconv.Itoa(12346 + rng.IntN(4372))
		}
		no, sign := strconv.Itoa(inv), 1
		if rng.Float64() < 0.02 {
			no, sign = "C"+no, -1
		}
		at := start.Add(time.Duration(float64(n) / float64(rows) * float64(373*24*time.Hour))).Format("1/2/2006 15:04")
		country := countries[rng.IntN(len(countries))]
		for l := 0; l < lines && n < rows; l++ {
			fmt.Fprintf(w, "%s,%d,ITEM %d,%d,%s,%.2f,%s,%s\n", no, 20000+rng.IntN(4000), l, sign*(1+rng.IntN(24)), at, 0.1+rng.Float64()*20, customer, country)
			n++
		}
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkImport imports a UCI-Online-Retail-sized export (override the
// rows with SHOPSTREAM_BENCH_ROWS) into a fresh SQLite store and a fresh
// database on a throwaway PostgreSQL cluster, and reports rows/s, stored
// transactions/s and the CPU time per row of this process and of the
// PostgreSQL server:
//
//	go test ./internal/cli/ -run '^$' -bench Import -benchtime 1x
func BenchmarkImport(b *testing.B) {
	rows := 541_909
	if v := os.Getenv("SHOPSTREAM_BENCH_ROWS"); v != "" {
		var err error
		if rows, err = strconv.Atoi(v); err != nil {
			b.Fatal(err)
		}
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, bc := range []struct {
		shape, name string
	}{{"multi-line", "SQLite"}, {"one-line", "SQLite"}, {"multi-line", "PostgreSQL"}, {"one-line", "PostgreSQL"}} {
		name := bc.name
		b.Run(bc.shape+"/"+name, func(b *testing.B) {
			csv := filepath.Join(b.TempDir(), "retail.csv")
			writeRetailCSV(b, csv, rows, bc.shape == "one-line")
			var pgURL string
			if name == "PostgreSQL" {
				url, stop, err := throwawayPostgres(context.Background(), quiet)
				if err != nil {
					b.Skip(err)
				}
				defer stop()
				pgURL = url
			}
			var server func() (time.Duration, error)
			if pgURL != "" {
				var err error
				if server, err = serverCPU(context.Background(), pgURL); err != nil {
					b.Fatal(err)
				}
			}
			var rep importReport
			var cpu, serverTime time.Duration
			var lastDir, lastURL string
			i := 0
			for b.Loop() {
				// The import alone: the analytics refresh after it is
				// the refresh's own benchmark (internal/jobs).
				args := []string{"--csv", csv, "--json", "--currency", "GBP", "--source", fmt.Sprintf("run%d", i), "--analytics-refresh=false"}
				if pgURL != "" {
					// A fresh database each run, so nothing is a duplicate.
					db := fmt.Sprintf("import%d", i)
					conn, err := pgx.Connect(context.Background(), pgURL)
					if err != nil {
						b.Fatal(err)
					}
					if _, err := conn.Exec(context.Background(), "CREATE DATABASE "+db); err != nil {
						b.Fatal(err)
					}
					conn.Close(context.Background())
					lastURL = strings.Replace(pgURL, "/postgres?", "/"+db+"?", 1)
					args = append(args, "--postgres", lastURL)
				} else {
					lastDir = b.TempDir()
					args = append(args, "--data-dir", lastDir)
				}
				var stdout bytes.Buffer
				cpu0 := processCPU()
				var srv0 time.Duration
				if server != nil {
					var err error
					if srv0, err = server(); err != nil {
						b.Fatal(err)
					}
				}
				if err := runImport(context.Background(), args, &stdout, io.Discard); err != nil {
					b.Fatal(err)
				}
				cpu += processCPU() - cpu0
				if server != nil {
					srv1, err := server()
					if err != nil {
						b.Fatal(err)
					}
					serverTime += srv1 - srv0
				}
				if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
					b.Fatal(err)
				}
				i++
			}
			sec := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(float64(rep.Rows)/sec, "rows/s")
			b.ReportMetric(float64(rep.Stored)/sec, "tx/s")
			// CPU per row read, of this process (reading, checking and
			// writing) and of the PostgreSQL server: the figures a loaded
			// host leaves about as they are.
			b.ReportMetric(float64(cpu.Microseconds())/float64(rep.Rows)/float64(b.N), "cpu-µs/row")
			if server != nil {
				b.ReportMetric(float64(serverTime.Microseconds())/float64(rep.Rows)/float64(b.N), "server-cpu-µs/row")
			}
			// The floor: the rows/s an import of this file would reach if
			// inserting its stored transactions into the table, keys and
			// indexes were all it did (importFloor), outside the timer.
			b.StopTimer()
			floors := importFloor(b, lastDir, lastURL)
			floor := floors[0].took
			b.ReportMetric(float64(rep.Rows)/floor.Seconds(), "floor-rows/s")
			b.Logf("%s: %d rows, %d transactions (%d long orders split), %d stored, %d quarantined %v, skipped %v; the stored transactions alone inserted in %v",
				name, rep.Rows, rep.Transactions, rep.LongOrders, rep.Stored, rep.Quarantined, rep.QuarantinedBy, rep.Skipped, floor.Round(time.Millisecond))
			for _, f := range floors[1:] {
				b.Logf("%s: the same copied into %s in %v, %.0f rows/s, the server's CPU %.2f µs a row",
					name, f.name, f.took.Round(time.Millisecond), float64(rep.Rows)/f.took.Seconds(), float64(f.serverCPU.Microseconds())/float64(rep.Rows))
			}
			if len(floors) > 1 {
				b.ReportMetric(float64(floors[0].serverCPU.Microseconds())/float64(rep.Rows), "floor-server-µs/row")
				b.ReportMetric(float64(rep.Rows)/floors[1].took.Seconds(), "floor2-rows/s")
				b.ReportMetric(float64(rep.Rows)/floors[2].took.Seconds(), "heap-rows/s")
				b.ReportMetric(float64(floors[2].serverCPU.Microseconds())/float64(rep.Rows), "heap-server-µs/row")
			}
		})
	}
}

// TestImportRefreshesAnalytics checks that an import ends with one
// analytics refresh, so that `serve` (which runs none) shows the imported
// customers' segments and cohorts, and that --analytics-refresh=false
// leaves them to a process's periodic refresh.
func TestImportRefreshesAnalytics(t *testing.T) {
	t.Parallel()
	scored := func(dir string) (customers int64, cohorts int) {
		t.Helper()
		st, err := sqlite.Open(context.Background(), dir)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		segs, err := st.SegmentStats(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range segs {
			customers += s.Customers
		}
		cells, _, err := st.Cohorts(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return customers, len(cells)
	}
	dir := t.TempDir()
	_, stderr := importJSON(t, "--csv", importCSV, "--data-dir", dir)
	if n, cells := scored(dir); n != 3 || cells == 0 {
		t.Errorf("after the import: %d customers scored in segments and %d cohort cells, want the 3 stored customers and their cohorts\n%s", n, cells, stderr)
	}
	if !strings.Contains(stderr, "refresh: 3 customers as of") {
		t.Errorf("the import's stderr does not report the refresh:\n%s", stderr)
	}
	off := t.TempDir()
	_, stderr = importJSON(t, "--csv", importCSV, "--data-dir", off, "--analytics-refresh=false")
	if n, cells := scored(off); n != 0 || cells != 0 || strings.Contains(stderr, "refresh:") {
		t.Errorf("with --analytics-refresh=false: %d customers scored, %d cohort cells, stderr:\n%s", n, cells, stderr)
	}
}

// TestImportEuropeanExport imports an order log as a spreadsheet in a
// European locale exports it: a byte-order mark, CRLF, semicolons,
// day-first dotted dates and decimal commas. Without the flags that read
// it, nothing is imported: the command fails (a script must not take it
// for an import), shows the first row skipped for each reason and hints at
// the flag; with them, every row is imported at its amount.
func TestImportEuropeanExport(t *testing.T) {
	t.Parallel()
	csv := filepath.Join(t.TempDir(), "export.csv")
	if err := os.WriteFile(csv, []byte("\xef\xbb\xbfInvoiceNo;StockCode;Description;Quantity;InvoiceDate;UnitPrice;CustomerID;Country\r\n"+
		"536365;85123A;WHITE HANGING HEART;6;01.12.2010 08:26;2,55;17850;Germany\r\n"+
		"536366;71053;WHITE METAL LANTERN;6;01.12.2010 08:28;3,39;17850;Germany\r\n"+
		"536367;84406B;CREAM CUPID;8;01.12.2010 08:34;1.234,50;13047;France\r\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, string, error) {
		var stdout, stderr bytes.Buffer
		err := runImport(context.Background(), append([]string{"--csv", csv, "--separator", ";", "--currency", "EUR", "--data-dir", t.TempDir(),
			"--analytics-refresh=false"}, args...), &stdout, &stderr)
		return stdout.String(), stderr.String(), err
	}
	// Its dotted dates are read as day first by default; its prices are
	// not read without the flag.
	out, errOut, err := run()
	if err == nil || !strings.Contains(err.Error(), "none of the 3 rows") || !strings.Contains(out, `bad_price              row 1: "2,55"`) ||
		!strings.Contains(errOut, "--decimal-comma") {
		t.Errorf("without --decimal-comma: %v\n%s\n%s", err, out, errOut)
	}
	// A layout the file does not have: every timestamp refused, and the
	// hint names --time-layout.
	out, errOut, err = run("--decimal-comma", "--time-layout", "2006-01-02 15:04")
	if err == nil || !strings.Contains(out, `bad_timestamp          row 1: "01.12.2010 08:26"`) || !strings.Contains(errOut, "hint") {
		t.Errorf("with a wrong --time-layout: %v\n%s\n%s", err, out, errOut)
	}
	dir := t.TempDir()
	rep, errOut := importJSON(t, "--csv", csv, "--separator", ";", "--currency", "EUR", "--data-dir", dir, "--analytics-refresh=false",
		"--decimal-comma")
	if rep.Stored != 3 || rep.Items != 3 || len(rep.Skipped) != 0 || strings.Contains(errOut, "hint") {
		t.Fatalf("with both: %+v\n%s", rep, errOut)
	}
	if sum := storeSummary(t, dir); sum.RevenueCents != 6*255+6*339+8*123450 {
		t.Errorf("revenue stored %d cents, want 15.30 + 20.34 + 9,876.00 EUR", sum.RevenueCents)
	}
}

// TestImportEncodings reads files that are not UTF-8, as spreadsheets
// write them: windows-1252 (Excel's CSV in Western Europe), read with
// --encoding, and a warning naming it without; UTF-16 with its byte-order
// mark (Excel's "Unicode text", tab-separated), read without a flag.
func TestImportEncodings(t *testing.T) {
	t.Parallel()
	const text = "InvoiceNo;StockCode;Quantity;InvoiceDate;UnitPrice;CustomerID;Country;Category\r\n" +
		"1;A1;2;01.12.2010 08:26;2,55;17850;Österreich;Küche\r\n" +
		"2;B2;1;01.12.2010 08:27;3,00;17851;Deutschland;Haus\r\n"
	cp1252, err := charmap.Windows1252.NewEncoder().String(text)
	if err != nil {
		t.Fatal(err)
	}
	utf16, err := unicode.UTF16(unicode.LittleEndian, unicode.UseBOM).NewEncoder().String(strings.ReplaceAll(text, ";", "\t"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	args := func(csv, sep string, more ...string) []string {
		return append([]string{"--csv", csv, "--separator", sep, "--currency", "EUR", "--decimal-comma", "--data-dir", t.TempDir(),
			"--analytics-refresh=false"}, more...)
	}
	latin := write("latin.csv", cp1252)

	// As it is: a warning, and the line whose country is not UTF-8 is
	// quarantined as invalid_text (PostgreSQL would refuse the text).
	rep, errOut := importJSON(t, args(latin, ";")...)
	if !strings.Contains(errOut, "not UTF-8 (byte 0xD6") || !strings.Contains(errOut, "--encoding") || rep.QuarantinedBy["invalid_text"] != 1 || rep.Stored != 1 {
		t.Errorf("windows-1252 read as it is: %+v\n%s", rep, errOut)
	}
	for _, c := range []struct {
		name string
		args []string
	}{
		{"windows-1252 with --encoding", args(latin, ";", "--encoding", "windows-1252")},
		{"latin1, a label of windows-1252", args(latin, ";", "--encoding", "latin1")},
		{"UTF-16 with its mark", args(write("unicode.txt", utf16), "\t")},
	} {
		rep, errOut := importJSON(t, c.args...)
		if rep.Stored != 2 || rep.Quarantined != 0 || len(rep.UnknownCountries) != 0 || strings.Contains(errOut, "warning") {
			t.Errorf("%s: %+v\n%s", c.name, rep, errOut)
		}
	}
	var stderr bytes.Buffer
	if err := runImport(context.Background(), args(latin, ";", "--encoding", "klingon"), io.Discard, &stderr); err == nil || !strings.Contains(err.Error(), "flag -encoding") {
		t.Errorf("--encoding klingon: %v", err)
	}
}

// TestImportOrderLevelLog imports a transaction log as lifetimes reads
// one (customer, date, amount) and fits the customer models on it: the
// customers' revenue is the log's, and a second import of it stores
// nothing twice.
func TestImportOrderLevelLog(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("customer_id,date,amount\n")
	var cents int64
	for c := range 40 {
		for k := range 1 + c%4 {
			amount := int64(1000 + 37*c + 11*k)
			cents += amount
			fmt.Fprintf(&b, "c%02d,1997-%02d-%02d,%d.%02d\n", c, 1+(c+3*k)%12, 1+k, amount/100, amount%100)
		}
	}
	csv := filepath.Join(t.TempDir(), "log.csv")
	if err := os.WriteFile(csv, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	rep, errOut := importJSON(t, "--csv", csv, "--currency", "USD", "--data-dir", dir)
	if !rep.OrderLevel || rep.Stored != rep.Rows || rep.Quarantined != 0 || !strings.Contains(errOut, "refresh: 40 customers") {
		t.Fatalf("import: %+v\n%s", rep, errOut)
	}
	if sum := storeSummary(t, dir); sum.RevenueCents != cents || sum.CustomersTotal != 40 {
		t.Errorf("stored %d cents of %d customers, want %d of 40", sum.RevenueCents, sum.CustomersTotal, cents)
	}
	again, _ := importJSON(t, "--csv", csv, "--currency", "USD", "--data-dir", dir, "--source", "log-again.csv")
	if again.Stored != 0 || again.Quarantined != again.Rows || again.QuarantinedBy["duplicate_id"] != again.Rows {
		t.Errorf("the same log under another source: %+v, want every order a duplicate", again)
	}
}

// TestImportUnclosedQuote imports an export one of whose descriptions
// opens a quote it never closes: every order line after it is stored, with
// its own quantity, and the report says which lines were read again.
func TestImportUnclosedQuote(t *testing.T) {
	t.Parallel()
	csv := filepath.Join(t.TempDir(), "export.csv")
	body := "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n" +
		"536365,85123A,\"WHITE HANGING HEART,6,12/1/2010 08:26,2.55,17850,United Kingdom\n" +
		"536366,71053,WHITE METAL LANTERN,2,12/1/2010 08:28,3.39,17851,United Kingdom\n" +
		"536367,84406B,CREAM CUPID,3,12/1/2010 08:34,2.75,13047,France\n" +
		"536368,22728,ALARM CLOCK PINK\",24,12/1/2010 08:45,3.75,12583,France\n"
	if err := os.WriteFile(csv, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	rep, _ := importJSON(t, "--csv", csv, "--currency", "GBP", "--data-dir", dir, "--analytics-refresh=false")
	if rep.Rows != 4 || rep.Stored != 4 || rep.UnclosedQuotes != 1 || rep.RereadLines != 4 || len(rep.Skipped) != 0 {
		t.Fatalf("report %+v, want 4 rows stored, 1 unclosed quote over 4 lines", rep)
	}
	if sum := storeSummary(t, dir); sum.RevenueCents != 6*255+2*339+3*275+24*375 {
		t.Errorf("revenue stored %d cents, want every line's", sum.RevenueCents)
	}
	var stdout, stderr bytes.Buffer
	if err := runImport(context.Background(), []string{"--csv", csv, "--currency", "GBP", "--data-dir", t.TempDir(), "--analytics-refresh=false"}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), "unclosed quotes             1  (quotes not closed on their line ran over the order lines after them: those 4 lines") {
		t.Errorf("the report does not say what was read again:\n%s", stdout.String())
	}
}

// TestImportNULAndInvalidUTF8 imports order lines with a NUL byte in a
// customer ID and bytes that are not UTF-8 in a country and a product ID
// (a windows-1252 export read without --encoding) into both stores: each
// such line is quarantined as invalid_text, naming its field, as the
// stream quarantines such records, and the lines around it are stored.
// Into PostgreSQL, which refuses a NUL in text, the batch failed before,
// and the import with it, at every attempt.
func TestImportNULAndInvalidUTF8(t *testing.T) {
	csv := filepath.Join(t.TempDir(), "export.csv")
	body := "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n" +
		"536398,1,x,1,12/1/2010 08:00,1.00,1575,United Kingdom\n" +
		"536399,1,x,1,12/1/2010 08:00,1.00,15\x0075,United Kingdom\n" +
		"536400,1,x,1,12/1/2010 08:00,1.00,1576,\xd6sterreich\n" +
		"536401,\xff1,x,1,12/1/2010 08:00,1.00,1577,United Kingdom\n" +
		"536402,1,x,1,12/1/2010 08:00,1.00,1578,United Kingdom\n"
	if err := os.WriteFile(csv, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, flags := range map[string]func(t *testing.T) []string{
		"sqlite":   func(t *testing.T) []string { return []string{"--data-dir", t.TempDir()} },
		"postgres": func(t *testing.T) []string { return []string{"--postgres", pgtest.URL(t)} },
	} {
		t.Run(name, func(t *testing.T) {
			storeArgs := flags(t)
			rep, _ := importJSON(t, append([]string{"--csv", csv, "--analytics-refresh=false"}, storeArgs...)...)
			if rep.Rows != 5 || rep.Stored != 2 || rep.Quarantined != 3 || rep.QuarantinedBy["invalid_text"] != 3 {
				t.Fatalf("report %+v, want 2 stored and 3 quarantined as invalid_text", rep)
			}
			var stdout, stderr bytes.Buffer
			if err := runQuarantine(context.Background(), append([]string{"list"}, storeArgs...), &stdout, &stderr); err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"customer_id: NUL byte at byte 2", "billing_country: invalid UTF-8 at byte 0", "items[0].product_id: invalid UTF-8 at byte 0"} {
				if !strings.Contains(stdout.String(), want) {
					t.Errorf("quarantine list lacks %q:\n%s", want, stdout.String())
				}
			}
		})
	}
}

// TestImportRefreshDegenerateCLVSaidOnce: an order history of a week gives
// a degenerate CLV fit; the import's refresh says so once, in its report
// line, with what the fit lacks, not also as a warning beside it.
func TestImportRefreshDegenerateCLVSaidOnce(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n")
	start := time.Date(2011, 3, 1, 9, 0, 0, 0, time.UTC)
	order := 0
	for c := range 400 {
		// Every customer buys on the first day, every third again within
		// the week.
		for k := range 1 + c%3/2 {
			order++
			at := start.Add(time.Duration(c%7*24+k*50) * time.Hour)
			fmt.Fprintf(&b, "%d,P%d,ITEM,%d,%s,%.2f,%d,United Kingdom\n", 500000+order, c%50, 1+c%4, at.Format("1/2/2006 15:04"), 1.5+float64(c%20), 12000+c)
		}
	}
	csv := filepath.Join(t.TempDir(), "week.csv")
	if err := os.WriteFile(csv, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr := importJSON(t, "--csv", csv, "--data-dir", t.TempDir())
	if !strings.Contains(stderr, "fitted but degenerate, no CLV (") || !strings.Contains(stderr, "needs at least 8 weeks") {
		t.Fatalf("the import's refresh does not say the CLV fit is degenerate and why:\n%s", stderr)
	}
	if n := strings.Count(stderr, "needs at least 8 weeks"); n != 1 {
		t.Errorf("the degenerate fit's problem is said %d times, want once (the report line):\n%s", n, stderr)
	}
}

// TestImportDayFirstDates: a file of day-first slashed dates, which the
// default layouts read month first, is read day first once a date in its
// first rows can only be read so: every order stored on its own day,
// none swapped and none skipped. A file mixing dates that only read day
// first with dates that only read month first is refused before a store
// is opened; one whose dates all read either way is read month first,
// with a warning naming --time-layout.
func TestImportDayFirstDates(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name string, dates ...string) string {
		t.Helper()
		var b strings.Builder
		b.WriteString("InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n")
		for i, d := range dates {
			fmt.Fprintf(&b, "%d,A,1,%s,2.50,%d,United Kingdom\n", 536000+i, d, 12000+i)
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	dmyStore := filepath.Join(dir, "dmy")
	rep, stderr := importJSON(t, "--csv", write("dmy.csv", "01/02/2011 10:00", "13/02/2011 11:00", "25/12/2011 12:00", "05/03/2011 13:00"),
		"--data-dir", dmyStore, "--analytics-refresh=false")
	if rep.Stored != 4 || rep.Skipped["bad_timestamp"] != 0 || !strings.Contains(stderr, `slashed dates read day first: row 2 has "13/02/2011 11:00"`) {
		t.Fatalf("day-first import: %+v\n%s", rep, stderr)
	}
	st, err := sqlite.Open(context.Background(), dmyStore)
	if err != nil {
		t.Fatal(err)
	}
	days := map[string]string{}
	want := map[string]string{"12000": "2011-02-01", "12001": "2011-02-13", "12002": "2011-12-25", "12003": "2011-03-05"}
	for c := range want {
		txs, err := st.CustomerTransactions(context.Background(), store.CustomerTxFilter{CustomerID: c})
		if err != nil {
			t.Fatal(err)
		}
		for _, tx := range txs {
			days[c] = tx.EventTime.UTC().Format("2006-01-02")
		}
	}
	st.Close()
	if !reflect.DeepEqual(days, want) {
		t.Errorf("stored days %v, want %v", days, want)
	}

	mixedStore := filepath.Join(dir, "mixed")
	_, _, err = runCLI(t, "import", "--csv", write("mixed.csv", "01/02/2011 10:00", "02/13/2011 10:00", "25/12/2011 10:00"), "--currency", "GBP", "--data-dir", mixedStore)
	if err == nil || !IsUsage(err) || !strings.Contains(err.Error(), `only read day first (row 3: "25/12/2011 10:00")`) || !strings.Contains(err.Error(), `only read month first (row 2: "02/13/2011 10:00")`) {
		t.Errorf("mixed dates: %v; want a usage error naming both rows", err)
	}
	if _, serr := os.Stat(mixedStore); serr == nil {
		t.Error("the import of mixed dates opened a store before refusing them")
	}

	rep, stderr = importJSON(t, "--csv", write("either.csv", "01/02/2011 10:00", "03/04/2011 10:00"), "--data-dir", filepath.Join(dir, "either"), "--analytics-refresh=false")
	if rep.Stored != 2 || !strings.Contains(stderr, "warning: in the first 2 rows, each of the 2 slashed dates reads either way") {
		t.Errorf("dates that read either way: %+v\n%s", rep, stderr)
	}
	// Month-first dates with one after the 12th draw no note.
	rep, stderr = importJSON(t, "--csv", write("mdy.csv", "12/1/2010 8:26", "12/13/2010 9:00"), "--data-dir", filepath.Join(dir, "mdy"), "--analytics-refresh=false")
	if rep.Stored != 2 || strings.Contains(stderr, "day first:") || strings.Contains(stderr, "either way") {
		t.Errorf("month-first dates: %+v\n%s", rep, stderr)
	}
}
