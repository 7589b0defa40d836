package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"

	"github.com/shopstream/shopstream/internal/importer"
	"github.com/shopstream/shopstream/internal/importjob"
	"github.com/shopstream/shopstream/internal/jobs"
	"github.com/shopstream/shopstream/internal/qualityfile"
	"github.com/shopstream/shopstream/internal/store"
)

// importReport is the final report of an import (--json prints it).
type importReport struct {
	File   string `json:"file"`
	Source string `json:"source"`
	// Rows, Items and Transactions are the importer's accounting: every
	// row is an item or skipped.
	Rows         int64 `json:"rows"`
	Items        int64 `json:"items"`
	Transactions int64 `json:"transactions"`
	// SplitOrders counts orders whose rows were not contiguous, imported
	// as "<order>#2" and so on; LongOrders counts orders of more than 100
	// items, imported in parts "<order>", "<order>#p2", ...
	SplitOrders int64 `json:"split_orders"`
	// OrderLevel is true for a file read as an order-level log (no order,
	// product or quantity column): each row an order of one line.
	OrderLevel bool `json:"order_level"`
	// FilledDown counts the rows that took their order's customer, time,
	// country or currency, left blank, from the row before.
	FilledDown int64 `json:"filled_down"`
	// UnclosedQuotes counts the records that ran over the order lines
	// after a quote not closed on its line; RereadLines their lines, each
	// then read alone as a row.
	UnclosedQuotes int64 `json:"unclosed_quotes"`
	RereadLines    int64 `json:"reread_lines"`
	LongOrders     int64 `json:"long_orders"`
	// Records are transactions after splitting long orders: the unit of
	// the stored offsets. Previously is how many an earlier import of the
	// same source had stored already.
	Records     int64 `json:"records"`
	Previously  int64 `json:"previously_imported"`
	Stored      int64 `json:"stored"`
	Quarantined int64 `json:"quarantined"`
	// QuarantinedBy and Skipped count by reason.
	QuarantinedBy map[string]int64 `json:"quarantined_by_reason"`
	Skipped       map[string]int64 `json:"skipped_rows_by_reason"`
	// FirstSkipped is, per reason of Skipped, the first row skipped for
	// it and the field that failed.
	FirstSkipped map[string]importer.SkippedRow `json:"first_skipped_by_reason"`
	// ZeroPriceItems are items worth nothing (free items), imported;
	// SubMinorPrices are items whose unit price has more decimals than the
	// currency, kept exact.
	// Replayed accounts for the records earlier imports of the source had
	// quarantined, checked again before the file is read (a re-import
	// with a new contract stores those that pass now, once).
	Replayed importjob.ReplayResult `json:"replayed_from_quarantine"`
	// InQuarantine counts the source's records still in quarantine (those
	// a replay may still store), by reason, as stored.
	InQuarantine   map[string]int64 `json:"in_quarantine_by_reason"`
	ZeroPriceItems int64            `json:"zero_price_items"`
	SubMinorPrices int64            `json:"sub_minor_unit_prices"`
	// CurrencySignPrices are items whose unit price came with a currency
	// sign or code of the row's currency ("$2.50"), taken off.
	CurrencySignPrices int64            `json:"currency_sign_prices"`
	UnknownCountries   map[string]int64 `json:"unknown_countries"`
	// UnknownRegions counts rows by country value the contract maps to
	// its unknown-region value (ZZ); WarnedBy counts stored records by the
	// check with action warn they failed.
	UnknownRegions map[string]int64 `json:"unknown_regions"`
	WarnedBy       map[string]int64 `json:"warned_by_check"`
	Seconds        float64          `json:"seconds"`
	RowsPerSecond  float64          `json:"rows_per_second"`
}

// columnsFlag is --columns: logical=Header pairs.
type columnsFlag map[string]string

func (c columnsFlag) String() string {
	var parts []string
	for k, v := range c {
		parts = append(parts, k+"="+v)
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

func (c columnsFlag) Set(v string) error {
	known := []string{importer.OrderID, importer.CustomerID, importer.ProductID, importer.Quantity, importer.UnitPrice,
		importer.Timestamp, importer.Country, importer.Category, importer.Currency}
	for _, item := range strings.Split(v, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		k, h, ok := strings.Cut(item, "=")
		k = strings.TrimSpace(k)
		if !ok || h == "" {
			return fmt.Errorf("%q is not name=Header", item)
		}
		if !slices.Contains(known, k) {
			return fmt.Errorf("unknown column %q (known: %s)", k, strings.Join(known, ", "))
		}
		c[k] = h
	}
	return nil
}

func runImport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("import", stderr)
	var sf storeFlags
	sf.register(fs)
	path := fs.String("csv", "", "order-history CSV to import, one line per order line, gzip-compressed if its name ends in .gz (required)")
	cols := columnsFlag{}
	fs.Var(cols, "columns", "header of each column, as name=Header pairs separated by commas, e.g. order_id=InvoiceNo,customer_id=CustomerID\n"+
		"(names: order_id customer_id product_id quantity unit_price timestamp country category currency; unnamed ones are recognised from common headers)")
	currency := fs.String("currency", "", "ISO 4217 currency of the amounts when the file has no currency column, or of rows with an empty one (required then: there is no default)")
	zone := fs.String("timezone", "UTC", "time zone of timestamps that carry none (IANA name, e.g. Europe/London)")
	layout := fs.String("time-layout", "", "Go layout of the timestamps, e.g. '2/1/2006 15:04' for day-first dates (default: RFC 3339 and ISO forms, dotted dates day first, slashed dates month first unless a date in the first 4 MiB only reads day first)")
	sep := fs.String("separator", ",", `field separator, one character; \t or tab for a tab`)
	encoding := fs.String("encoding", "", "character encoding of the file when it is not UTF-8, by its WHATWG name: windows-1252 (Excel's in Western Europe; also for latin1 and iso-8859-1), iso-8859-15, windows-1250, shift_jis, gbk, ... (a file starting with a UTF-16 byte-order mark is read as UTF-16 whatever this says)")
	decimalComma := fs.Bool("decimal-comma", false, "unit prices are written with a decimal comma, as many European exports write them (2,55 and 1.234,50; dots or spaces between thousands only)")
	source := fs.String("source", "", "name the import is stored under, so a re-import resumes (default: the file's base name)")
	batch := fs.Int("batch", 50_000, "records per database transaction (a transaction also ends at this many order lines)")
	every := fs.Int64("progress-every", 100_000, "print progress to stderr every this many rows")
	asJSON := fs.Bool("json", false, "print the final report as JSON")
	qualityConfig := fs.String("quality-config", "", "data-quality contract file (YAML or JSON) the records are checked by, and whose country aliases map the country column (default: the built-in contract)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the import to this `file` (go tool pprof)")
	refreshAnalytics := fs.Bool("analytics-refresh", true, "after storing, run the customer-analytics refresh once (RFM, cohorts, CLV, clusters), so that the dashboard and `shopstream analytics` show the imported customers; false leaves it to a running process's periodic refresh")
	// The minute rows a processor's retention job would delete are not
	// written, as a processor with the same ages does not write them.
	retainRollups, retainMinuteWindows := defaultRetainRollups, dayDuration(0)
	fs.Var(&retainRollups, "retain-rollups", "write no per-minute fraud rollups for orders older than this (event time), only their hourly and daily rows, as a processor with the same --retain-rollups does; give your processors' value (0 writes every minute row)")
	fs.Var(&retainMinuteWindows, "retain-minute-windows", "write no per-minute window metrics for orders older than this (event time), only their hourly rows, as a processor with the same --retain-minute-windows does; give your processors' value (0, the default, writes every minute row)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case *path == "":
		return usageError{fmt.Errorf("flag -csv is required (or set %s)", EnvName("csv"))}
	case *batch < 1:
		return usageError{fmt.Errorf("invalid value %d for flag -batch: must be at least 1", *batch)}
	case *every < 1:
		return usageError{fmt.Errorf("invalid value %d for flag -progress-every: must be at least 1", *every)}
	case *sep == `\t` || strings.EqualFold(*sep, "tab"):
		*sep = "\t"
	case utf8.RuneCountInString(*sep) != 1:
		return usageError{fmt.Errorf("invalid value %q for flag -separator: want one character", *sep)}
	}
	loc, err := time.LoadLocation(*zone)
	if err != nil {
		return usageError{fmt.Errorf("invalid value %q for flag -timezone: %v", *zone, err)}
	}
	contract, err := qualityfile.Load(*qualityConfig)
	if err != nil {
		return usageError{fmt.Errorf("invalid value for flag -quality-config: %s: %w", *qualityConfig, err)}
	}
	cfg := importer.Config{Columns: cols, DefaultCurrency: strings.ToUpper(*currency), Location: loc, ProgressEvery: *every,
		Countries: contract.Country, DecimalComma: *decimalComma}
	cfg.Comma, _ = utf8.DecodeRuneInString(*sep)
	if *layout != "" {
		cfg.TimeLayouts = []string{*layout}
	}
	if *source == "" {
		*source = filepath.Base(*path)
	}
	if *cpuProfile != "" {
		stop, err := startCPUProfile(*cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
	}

	f, err := os.Open(*path)
	if err != nil {
		return fmt.Errorf("--csv: %w", err)
	}
	defer f.Close()
	var size int64
	if fi, err := f.Stat(); err == nil {
		size = fi.Size()
	}
	counted := &byteCounter{r: f}
	var in io.Reader = bufio.NewReaderSize(counted, 1<<20)
	// Read compressed files directly; progress is in compressed bytes.
	zin, zclose, err := gunzipByName(*path, in)
	if err != nil {
		return err
	}
	defer zclose()
	if zin != in {
		in = bufio.NewReaderSize(zin, 1<<20)
	}
	if in, err = decodedCSV(in.(*bufio.Reader), *encoding, stderr); err != nil {
		return err
	}
	if *layout == "" {
		if in, err = sniffDateOrder(in, &cfg, *path, stderr); err != nil {
			return err
		}
	}

	st, err := sf.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	if h, ok := st.(store.MinuteHorizon); ok {
		h.KeepMinutes(time.Duration(retainMinuteWindows), time.Duration(retainRollups))
	}

	job, err := importjob.New(importjob.Config{Store: st, Source: *source, Batch: *batch, Quality: contract})
	if err != nil {
		return err
	}
	start := time.Now()
	cfg.Progress = func(rows int64) {
		if rows == 0 {
			return
		}
		el := time.Since(start).Seconds()
		pct := ""
		if size > 0 {
			pct = fmt.Sprintf(" (%.0f%% of %s)", 100*float64(counted.n)/float64(size), byteSize(size))
		}
		res := job.Result()
		fmt.Fprintf(stderr, "import: %s rows read%s, %s transactions stored, %s quarantined, %.0f rows/s\n",
			withThousands(rows), pct, withThousands(res.Stored), withThousands(res.Quarantined), float64(rows)/max(el, 1e-9))
	}
	// The importer reports its last rows before the job stores its last
	// batch; the final line is printed after Run, so it says what is stored.
	progress, ticked := cfg.Progress, int64(0)
	cfg.Progress = func(rows int64) {
		if rows%*every == 0 && rows != ticked {
			ticked = rows
			progress(rows)
		}
	}
	rd, err := importer.New(in, cfg)
	if err != nil {
		var he *importer.HeaderError
		if errors.Is(err, importer.ErrNoCurrency) {
			return usageError{fmt.Errorf("--csv %s has no currency column: give the currency of its amounts with --currency (ISO 4217, e.g. --currency GBP), or set %s", *path, EnvName("currency"))}
		}
		if errors.As(err, &he) {
			note := ""
			if he.OrderLevel {
				note = " (read as an order-level log, one order per row, since it has no order, product or quantity column; a file of order lines needs those too)"
			}
			if hint := he.SeparatorHint("--separator"); hint != "" {
				return usageError{fmt.Errorf("--csv %s: no column for %s in header %q%s", *path, strings.Join(he.Missing, ", "), he.Header, hint)}
			}
			return fmt.Errorf("--csv %s: no column for %s in header %q%s; name them with --columns, e.g. --columns %s=<header>",
				*path, strings.Join(he.Missing, ", "), he.Header, note, strings.Fields(he.Missing[0])[0])
		}
		return fmt.Errorf("--csv %s: %w", *path, err)
	}

	resume, err := job.Resume(ctx)
	if err != nil {
		return err
	}
	if resume > 0 {
		fmt.Fprintf(stderr, "import: %s records of source %q are stored already; resuming after them\n", withThousands(resume), *source)
	}
	replayed, err := job.ReplayQuarantined(ctx)
	if err != nil {
		return fmt.Errorf("replaying the records earlier imports of source %q quarantined: %w", *source, err)
	}
	if err := job.Run(ctx, rd); err != nil {
		return err
	}
	inQuarantine, err := importQuarantine(ctx, st, *source)
	if err != nil {
		return err
	}
	res, rr := job.Result(), rd.Report()
	if rr.Rows > 0 {
		progress(rr.Rows)
	}
	rep := &importReport{File: *path, Source: *source, Rows: rr.Rows, Items: rr.Items, Transactions: rr.Transactions,
		SplitOrders: rr.SplitOrders, OrderLevel: rr.OrderLevel, FilledDown: rr.FilledDown, UnclosedQuotes: rr.UnclosedQuotes, RereadLines: rr.RereadLines, LongOrders: res.LongOrders, Records: res.Records, Previously: res.Previously,
		Stored: res.Stored, Quarantined: res.Quarantined, QuarantinedBy: res.QuarantinedBy,
		Replayed: replayed, InQuarantine: inQuarantine,
		Skipped: map[string]int64{}, FirstSkipped: map[string]importer.SkippedRow{}, UnknownCountries: rr.UnknownCountries, UnknownRegions: rr.UnknownRegions, WarnedBy: res.WarnedBy, ZeroPriceItems: rr.ZeroPriceItems, SubMinorPrices: rr.SubMinorPrices,
		CurrencySignPrices: rr.CurrencySignPrices}
	for k, v := range rr.Skipped {
		rep.Skipped[string(k)] = v
	}
	for k, v := range rr.FirstSkipped {
		rep.FirstSkipped[string(k)] = v
	}
	if rep.UnknownCountries == nil {
		rep.UnknownCountries = map[string]int64{}
	}
	if rep.UnknownRegions == nil {
		rep.UnknownRegions = map[string]int64{}
	}
	rep.Seconds = time.Since(start).Seconds()
	rep.RowsPerSecond = float64(rep.Rows) / max(rep.Seconds, 1e-9)

	if rep.Records < resume {
		return fmt.Errorf("the store holds %d records of source %q but %s has only %d: is it another file of the same name? "+
			"Import it with --source <another name>", resume, *source, *path, rep.Records)
	}
	if *asJSON {
		if err := json.NewEncoder(stdout).Encode(rep); err != nil {
			return err
		}
	} else {
		printImportReport(stdout, rep, sf.describe())
	}
	for _, h := range importHints(rep, *decimalComma, *layout) {
		fmt.Fprintln(stderr, "import: hint: "+h)
	}
	if rep.Rows > 0 && rep.Items == 0 {
		// Nothing of the file could be read as an order line: a script
		// must not take that for an import.
		return fmt.Errorf("none of the %s rows of %s could be imported: every one was skipped (skipped rows above, with the first of each reason)", withThousands(rep.Rows), *path)
	}
	if !*refreshAnalytics || rep.Stored+replayed.Stored == 0 {
		return nil
	}
	return importRefresh(ctx, st, stderr)
}

// importRefresh runs the customer-analytics refresh once after an import
// stored something: `serve` runs none, and on the embedded store no other
// command may open it while `serve` does, so without it the imported
// customers had no segments, cohorts or CLV until a `process` or `run`
// refreshed them.
func importRefresh(ctx context.Context, st store.Store, stderr io.Writer) error {
	a, err := analyticsOf(st)
	if err != nil {
		return err
	}
	// The refresh with `shopstream analytics`' defaults, as registered.
	var af analyticsFlags
	af.register(flag.NewFlagSet("import", flag.ContinueOnError), "")
	af.reported = true
	r, err := af.refresh(a, slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})), nil)
	if err != nil {
		return err
	}
	fmt.Fprintln(stderr, "import: refreshing the customer analytics (--analytics-refresh=false skips it)")
	rep, err := r.RunOnce(ctx)
	switch {
	case errors.Is(err, jobs.ErrSkipped):
		fmt.Fprintln(stderr, "import: analytics refresh skipped: another instance is refreshing; its next refresh includes the imported customers")
	case err != nil:
		return fmt.Errorf("the import is stored, but its analytics refresh failed (run shopstream analytics rfm --refresh): %w", err)
	default:
		printRefreshReport(stderr, rep)
	}
	return nil
}

func printImportReport(w io.Writer, r *importReport, where string) {
	fmt.Fprintf(w, "imported %s (source %q) into %s in %.1fs: %s rows/s\n", r.File, r.Source, where, r.Seconds, withThousands(int64(r.RowsPerSecond)))
	fmt.Fprintf(w, "  rows read        %12s\n", withThousands(r.Rows))
	fmt.Fprintf(w, "  items            %12s", withThousands(r.Items))
	if r.ZeroPriceItems > 0 || r.SubMinorPrices > 0 {
		fmt.Fprintf(w, "  (%s at a unit price of 0; %s with sub-minor-unit prices, kept exact)", withThousands(r.ZeroPriceItems), withThousands(r.SubMinorPrices))
	}
	if r.CurrencySignPrices > 0 {
		fmt.Fprintf(w, "  (%s with a currency sign, taken off)", withThousands(r.CurrencySignPrices))
	}
	fmt.Fprintln(w)
	if r.OrderLevel {
		fmt.Fprintln(w, "  (an order-level log: no order, product or quantity column, so each row is an order of one line of product \"unknown\", its ID made from the row, its country ZZ unless the file has one)")
	}
	fmt.Fprintf(w, "  transactions     %12s", withThousands(r.Transactions))
	if r.SplitOrders > 0 || r.LongOrders > 0 {
		fmt.Fprintf(w, "  (%s orders not contiguous, imported as <order>#2...; %s orders over 100 items, split into <order>#p2...)",
			withThousands(r.SplitOrders), withThousands(r.LongOrders))
	}
	fmt.Fprintln(w)
	if r.Records != r.Transactions {
		// The long orders' parts: what is stored or quarantined, and what
		// "stored now" counts, so that it can exceed the transactions.
		fmt.Fprintf(w, "  records          %12s  (the transactions with the long orders in their parts: each stored or quarantined)\n", withThousands(r.Records))
	}
	if r.Previously > 0 {
		fmt.Fprintf(w, "  stored before    %12s  (by an earlier import of this source; skipped)\n", withThousands(r.Previously))
	}
	fmt.Fprintf(w, "  stored now       %12s\n", withThousands(r.Stored))
	if r.FilledDown > 0 {
		fmt.Fprintf(w, "  filled down      %12s  (rows whose customer, time, country or currency was blank, taken from the row before of the same order)\n", withThousands(r.FilledDown))
	}
	if r.UnclosedQuotes > 0 {
		fmt.Fprintf(w, "  unclosed quotes  %12s  (quotes not closed on their line ran over the order lines after them: those %s lines were read again one by one, each a row)\n",
			withThousands(r.UnclosedQuotes), withThousands(r.RereadLines))
	}
	printReasonCounts(w, "skipped rows", r.Skipped)
	printFirstSkipped(w, r)
	printReasonCounts(w, "quarantined", r.QuarantinedBy)
	if rp := r.Replayed; rp.Replayed > 0 {
		fmt.Fprintf(w, "  replayed         %12s  (quarantined by earlier imports, checked again: %s stored, %s duplicates, %s still failing)\n",
			withThousands(rp.Replayed), withThousands(rp.Stored), withThousands(rp.Duplicate), withThousands(rp.Quarantined))
	}
	printReasonCounts(w, "in quarantine", r.InQuarantine)
	if len(r.WarnedBy) > 0 {
		printReasonCounts(w, "stored, warned", r.WarnedBy)
	}
	if len(r.UnknownRegions) > 0 {
		printReasonCounts(w, "unknown region", r.UnknownRegions)
		fmt.Fprintln(w, "    (regions that are no country, stored with the contract's unknown-region value)")
	}
	if len(r.UnknownCountries) > 0 {
		printReasonCounts(w, "unknown country", r.UnknownCountries)
		fmt.Fprintln(w, "    (values the contract maps to no country: their orders go to its country check, unknown_country by default; empty ones are missing_field)")
	}
	if r.Previously > 0 && r.Stored == 0 && r.Quarantined == 0 && r.Replayed.Stored == 0 {
		fmt.Fprintf(w, "already imported: all %s records of %s are stored; nothing to do\n", withThousands(r.Records), r.File)
	}
}

// importHints says what a flag would change about the rows skipped: a
// decimal comma the prices were written with, timestamps in a layout not
// tried.
func importHints(r *importReport, decimalComma bool, layout string) []string {
	var out []string
	if first, ok := r.FirstSkipped[string(importer.BadPrice)]; ok && !decimalComma && strings.Contains(first.Value, ",") && !strings.Contains(first.Value, ".") {
		out = append(out, fmt.Sprintf("%s rows skipped as bad_price, the first (row %d) with %q: a comma with no decimal point is read neither as a decimal comma nor as a thousands separator; if the prices have a decimal comma, import with --decimal-comma",
			withThousands(r.Skipped[string(importer.BadPrice)]), first.Row, first.Value))
	}
	if first, ok := r.FirstSkipped[string(importer.BadCurrency)]; ok && first.Value != "" && strings.Trim(first.Value, "0123456789.,+- ") != first.Value {
		out = append(out, fmt.Sprintf("%s rows skipped as bad_currency, the first (row %d) with %q: a price's currency sign or code must stand for its row's currency (the currency column, else --currency)",
			withThousands(r.Skipped[string(importer.BadCurrency)]), first.Row, first.Value))
	}
	if first, ok := r.FirstSkipped[string(importer.ScientificID)]; ok {
		out = append(out, fmt.Sprintf("%s rows skipped as scientific_id, the first (row %d) with %q: a spreadsheet saved long numeric IDs in scientific notation, dropping their last digits; export the file again from the shop, or format the ID columns as text before saving",
			withThousands(r.Skipped[string(importer.ScientificID)]), first.Row, first.Value))
	}
	if first, ok := r.FirstSkipped[string(importer.BadTimestamp)]; ok && first.Value != "" {
		tried := "in none of the layouts tried"
		if layout != "" {
			tried = fmt.Sprintf("which --time-layout %q does not read", layout)
		}
		out = append(out, fmt.Sprintf("%s rows skipped as bad_timestamp, the first (row %d) with %q, %s: give the file's with --time-layout, written as Go writes 2 January 2006 15:04:05 (e.g. '2/1/2006 15:04' for day-first slashes, '2006-01-02T15:04:05Z07:00' for RFC 3339)",
			withThousands(r.Skipped[string(importer.BadTimestamp)]), first.Row, first.Value, tried))
	}
	return out
}

func printReasonCounts(w io.Writer, title string, m map[string]int64) {
	var total int64
	keys := make([]string, 0, len(m))
	for k, v := range m {
		total += v
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	fmt.Fprintf(w, "  %-16s %12s\n", title, withThousands(total))
	for _, k := range keys {
		fmt.Fprintf(w, "    %-24s %10s\n", k, withThousands(m[k]))
	}
}

// withThousands formats n with comma separators.
func withThousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func byteSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// byteCounter counts the bytes read through it, for progress.
type byteCounter struct {
	r io.Reader
	n int64
}

func (c *byteCounter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// importQuarantine counts the records of an import source that are in
// quarantine and not yet stored by a replay, by reason.
func importQuarantine(ctx context.Context, st store.Quarantine, source string) (map[string]int64, error) {
	counts, err := st.QuarantineCounts(ctx, store.QuarantineFilter{Topic: "import:" + source, State: store.StateOpen})
	if err != nil {
		return nil, fmt.Errorf("counting the records of source %q in quarantine: %w", source, err)
	}
	out := map[string]int64{}
	for _, c := range counts {
		out[c.Reason] += c.Count
	}
	return out, nil
}

// printFirstSkipped shows the first row skipped for each reason, with the
// field that failed, so that the report says what the file holds.
func printFirstSkipped(w io.Writer, r *importReport) {
	keys := make([]string, 0, len(r.FirstSkipped))
	for k := range r.FirstSkipped {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		if i == 0 {
			fmt.Fprintln(w, "    first skipped, by reason:")
		}
		f := r.FirstSkipped[k]
		if f.Value == "" {
			fmt.Fprintf(w, "      %-22s row %d (empty)\n", k, f.Row)
			continue
		}
		fmt.Fprintf(w, "      %-22s row %d: %q\n", k, f.Row, f.Value)
	}
}

// decodedCSV returns the file's text as UTF-8, which the importer reads:
// decoded from UTF-16 when it starts with a UTF-16 byte-order mark (Excel's
// "Unicode text"), else from --encoding when given (htmlindex's WHATWG
// names and labels), else as it is. A file read as it is whose first 64 KiB
// are not UTF-8 gets a warning naming --encoding: its non-ASCII names and
// countries would be stored as they are, and fail the country check.
func decodedCSV(in *bufio.Reader, name string, stderr io.Writer) (io.Reader, error) {
	head, _ := in.Peek(64 << 10)
	if len(head) >= 2 && (head[0] == 0xFF && head[1] == 0xFE || head[0] == 0xFE && head[1] == 0xFF) {
		return transform.NewReader(in, unicode.UTF16(unicode.LittleEndian, unicode.ExpectBOM).NewDecoder()), nil
	}
	if name != "" {
		enc, err := htmlindex.Get(name)
		if err != nil {
			return nil, usageError{fmt.Errorf("invalid value %q for flag -encoding: %v (e.g. windows-1252, iso-8859-15, shift_jis)", name, err)}
		}
		if n, _ := htmlindex.Name(enc); n == "utf-8" {
			return in, nil
		}
		return bufio.NewReaderSize(transform.NewReader(in, enc.NewDecoder()), 1<<20), nil
	}
	// A rune cut at the end of the window is no error.
	for i := 0; i < len(head); {
		r, size := utf8.DecodeRune(head[i:])
		if r == utf8.RuneError && size == 1 && utf8.FullRune(head[i:]) {
			fmt.Fprintf(stderr, "import: warning: the file is not UTF-8 (byte 0x%02X at offset %d): if it was written in another encoding, give it with --encoding (Excel in Western Europe writes windows-1252)\n", head[i], i)
			break
		}
		i += size
	}
	return in, nil
}

// dateSample is how much of a file sniffDateOrder reads ahead: at the UCI
// log's 80 bytes a row, about 50,000 rows, two weeks of its orders.
const dateSample = 4 << 20

// sniffDateOrder reads ahead the first dateSample bytes of in (returning
// the reader to use instead, which still holds them) and sets cfg's time
// layouts by what its slashed dates say (importer.SniffDateOrder): read
// day first when one can only be read so, refused when some can only be
// read day first and others only month first, and month first, the
// default, with a warning, when every one reads either way. Before, a
// file of day-first dates had each of its dates up to the 12th stored
// with day and month swapped, and the others skipped as bad timestamps.
func sniffDateOrder(in io.Reader, cfg *importer.Config, path string, stderr io.Writer) (io.Reader, error) {
	br := bufio.NewReaderSize(in, dateSample)
	sample, _ := br.Peek(dateSample)
	o, err := importer.SniffDateOrder(sample, *cfg)
	if err != nil {
		return br, nil // the header's own error comes from the import's reader
	}
	switch {
	case o.Mixed():
		return nil, usageError{fmt.Errorf("--csv %s mixes slashed dates that only read day first (row %d: %q) with dates that only read month first (row %d: %q): give the layout of the file's timestamps with --time-layout, e.g. '2/1/2006 15:04' for day first",
			path, o.DayFirstRow, o.DayFirstValue, o.MonthFirstRow, o.MonthFirstValue)}
	case o.DayFirst > 0:
		cfg.TimeLayouts = importer.DayFirstTimeLayouts
		fmt.Fprintf(stderr, "import: slashed dates read day first: row %d has %q, which reads no other way (%s of the first %s rows only day first, none only month first); --time-layout sets the layout instead\n",
			o.DayFirstRow, o.DayFirstValue, withThousands(o.DayFirst), withThousands(o.Rows))
	case o.Either > 0 && o.MonthFirst == 0:
		fmt.Fprintf(stderr, "import: warning: in the first %s rows, each of the %s slashed dates reads either way (no day after the 12th of a month): read month first, the default; if the file writes the day first, give --time-layout '2/1/2006 15:04'\n",
			withThousands(o.Rows), withThousands(o.Either))
	}
	return br, nil
}
