package cli

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/shopstream/shopstream/internal/analytics"
	"github.com/shopstream/shopstream/internal/analyticsview"
	"github.com/shopstream/shopstream/internal/store"
)

// clvFitFlags are the flags of `analytics clv` that fit on demand instead
// of showing the stored model.
type clvFitFlags struct {
	summary     *string
	summaryUnit *string
	asOf        *string
	predictions *string
	horizon     *float64
	validate    *bool
	holdoutEnd  *string
	groups      *int
}

func (f *clvFitFlags) register(fs interface {
	String(name, value, usage string) *string
	Float64(name string, value float64, usage string) *float64
	Bool(name string, value bool, usage string) *bool
	Int(name string, value int, usage string) *int
}) {
	f.summary = fs.String("summary", "", "clv: fit BG/NBD (and Gamma-Gamma, given a monetary column) on a per-customer summary CSV like lifetimes': "+
		"a header with frequency (or x), recency (or t_x), T, optionally monetary_value (or zbar) and an ID column, in --summary-unit; nothing is read from the store")
	f.summaryUnit = fs.String("summary-unit", "weeks", "clv --summary: the unit of the file's recency and T, weeks or days (lifetimes' summary_data_from_transaction_data writes days unless given freq='W'); "+
		"the parameters are then in it, and --horizon (weeks) is converted to it")
	f.asOf = fs.String("as-of", "", "clv: fit on the stored purchases of the calibration period ending on this day (YYYY-MM-DD, inclusive), in weeks, instead of showing the stored model")
	f.predictions = fs.String("predictions", "", "clv with --summary or --as-of: write each customer's P(alive), expected purchases over --horizon and expected spend to this CSV")
	f.horizon = fs.Float64("horizon", 39, "clv with --predictions: the horizon of the expected purchases, in weeks")
	f.validate = fs.Bool("validate", false, "clv with --as-of: the calibration/holdout check (Fader, Hardie and Lee 2005): fit on the purchases up to --as-of, "+
		"compare predicted and actual repeat purchases after it, up to --holdout-end, per calibration frequency")
	f.holdoutEnd = fs.String("holdout-end", "", "clv --validate: the last day of the holdout period (YYYY-MM-DD, inclusive); defaults to the day of the last stored purchase")
	f.groups = fs.Int("groups", 8, "clv --validate: frequency groups of the table, 0 to groups-2 repeat purchases and groups-1 or more")
}

func (f *clvFitFlags) active() bool { return *f.summary != "" || *f.asOf != "" || *f.validate }

// clvFitReport is what `analytics clv --summary|--as-of --json` prints.
type clvFitReport struct {
	Source string `json:"source"`
	AsOf   string `json:"as_of,omitempty"`
	// TimeUnit is the unit of recency, T and the BG/NBD parameters:
	// "weeks", or "days" for a --summary in days.
	TimeUnit        string `json:"time_unit"`
	Customers       int    `json:"customers"`
	RepeatCustomers int    `json:"repeat_customers"`
	BGNBD           struct {
		R             float64 `json:"r"`
		Alpha         float64 `json:"alpha"`
		A             float64 `json:"a"`
		B             float64 `json:"b"`
		LogLikelihood float64 `json:"log_likelihood"`
		Seconds       float64 `json:"seconds"`
	} `json:"bgnbd"`
	// FitCheck is the BG/NBD fit's check, as the refresh makes it
	// (analytics.CheckBGNBD): a degenerate fit's predictions are
	// artefacts of the optimiser.
	FitCheck   analytics.FitCheck `json:"fit_check"`
	GammaGamma *clvGGReport       `json:"gamma_gamma,omitempty"`
	// GammaGammaNote says why there is no Gamma-Gamma fit.
	GammaGammaNote string  `json:"gamma_gamma_note,omitempty"`
	ReadSeconds    float64 `json:"read_seconds"`
}

type clvGGReport struct {
	P                   float64 `json:"p"`
	Q                   float64 `json:"q"`
	Gamma               float64 `json:"gamma"`
	LogLikelihood       float64 `json:"log_likelihood"`
	Customers           int     `json:"customers"`
	FreeRepeatCustomers int     `json:"free_repeat_customers"`
	Seconds             float64 `json:"seconds"`
}

// runCLVFit fits the CLV models on a summary file or on the stored
// purchases up to --as-of, prints the parameters and optionally writes
// per-customer predictions. a is nil with --summary.
func runCLVFit(ctx context.Context, f *clvFitFlags, a store.Analytics, w io.Writer, asJSON bool) error {
	if *f.summary != "" && *f.asOf != "" {
		return usageError{errors.New("analytics clv: give --summary or --as-of, not both")}
	}
	if *f.validate {
		return runCLVValidate(ctx, f, a, w, asJSON)
	}
	if !(*f.horizon >= 0) {
		return usageError{fmt.Errorf("invalid value %v for flag -horizon: want a non-negative number of weeks", *f.horizon)}
	}
	unit, unitName := analytics.Week, "weeks"
	if *f.summary != "" {
		switch *f.summaryUnit {
		case "weeks":
		case "days":
			unit, unitName = analytics.Day, "days"
		default:
			return usageError{fmt.Errorf("invalid value %q for flag -summary-unit: want weeks or days", *f.summaryUnit)}
		}
	} else if *f.summaryUnit != "weeks" {
		return usageError{errors.New("flag -summary-unit goes with --summary (--as-of summarises the stored purchases in weeks)")}
	}
	start := time.Now()
	rep := &clvFitReport{TimeUnit: unitName}
	var sums []analytics.Summary
	hasMoney := true
	if *f.summary != "" {
		rep.Source = *f.summary
		var err error
		if sums, hasMoney, err = readCLVSummary(*f.summary); err != nil {
			return err
		}
	} else {
		day, err := time.Parse("2006-01-02", *f.asOf)
		if err != nil {
			return usageError{fmt.Errorf("invalid value %q for flag -as-of: want a day YYYY-MM-DD", *f.asOf)}
		}
		rep.Source, rep.AsOf = "store", day.Format("2006-01-02")
		minorPer, err := analyticsview.MinorPer(ctx, a)
		if err != nil {
			return err
		}
		var purchases []analytics.Purchase
		err = a.PurchaseDays(ctx, day.AddDate(0, 0, 1), func(d *store.PurchaseDay) error {
			purchases = append(purchases, analytics.Purchase{CustomerID: d.CustomerID, Time: d.Day, Amount: float64(d.AmountCents) / minorPer})
			return nil
		})
		if err != nil {
			return fmt.Errorf("reading the purchases up to %s: %w", rep.AsOf, err)
		}
		if sums, err = analytics.Summarize(purchases, day, analytics.Week); err != nil {
			return err
		}
		if len(sums) == 0 {
			return fmt.Errorf("no purchases stored on or before %s", rep.AsOf)
		}
	}
	rep.ReadSeconds = time.Since(start).Seconds()
	rep.Customers = len(sums)
	for _, s := range sums {
		if s.Frequency > 0 {
			rep.RepeatCustomers++
		}
	}

	t0 := time.Now()
	bg, err := analytics.FitBGNBD(sums)
	if err != nil {
		return err
	}
	rep.BGNBD.Seconds = time.Since(t0).Seconds()
	rep.BGNBD.R, rep.BGNBD.Alpha, rep.BGNBD.A, rep.BGNBD.B, rep.BGNBD.LogLikelihood = bg.R, bg.Alpha, bg.A, bg.B, bg.LogLikelihood
	// Checked as the refresh checks its fits: before, a fit with a at its
	// bound (the retail log's seven months: nobody ever drops out) was
	// printed, and its predictions written, as any other.
	rep.FitCheck = analytics.CheckBGNBD(bg.BGNBD, sums, unit)

	var gg *analytics.GammaGammaFit
	if hasMoney {
		t0 = time.Now()
		fit, err := analytics.FitGammaGamma(sums)
		if err != nil {
			rep.GammaGammaNote = err.Error()
		} else {
			gg = &fit
			rep.GammaGamma = &clvGGReport{P: fit.P, Q: fit.Q, Gamma: fit.Gamma, LogLikelihood: fit.LogLikelihood, Customers: fit.Customers,
				FreeRepeatCustomers: fit.FreeRepeatCustomers, Seconds: time.Since(t0).Seconds()}
		}
	} else {
		rep.GammaGammaNote = "the summary has no monetary_value (zbar) column"
	}

	if *f.predictions != "" {
		if err := writeCLVPredictions(*f.predictions, sums, bg.BGNBD, gg, *f.horizon*float64(analytics.Week)/float64(unit)); err != nil {
			return err
		}
	}
	if asJSON {
		return writeJSONTo(w, rep)
	}
	src := rep.Source
	if rep.AsOf != "" {
		src = "the stored purchases up to " + rep.AsOf
	}
	fmt.Fprintf(w, "CLV fitted on %s: %s customers, %s with a repeat purchase\n", src, withThousands(int64(rep.Customers)), withThousands(int64(rep.RepeatCustomers)))
	fmt.Fprintf(w, "  BG/NBD        r = %.6g, α = %.6g, a = %.6g, b = %.6g (%s); log-likelihood %.2f; %.3fs\n",
		bg.R, bg.Alpha, bg.A, bg.B, unitName, bg.LogLikelihood, rep.BGNBD.Seconds)
	if rep.FitCheck.Degenerate {
		fmt.Fprintln(w, "  DEGENERATE FIT: its predictions are artefacts of the optimiser, not of the customers")
		for _, p := range rep.FitCheck.Problems {
			fmt.Fprintf(w, "    - %s\n", p)
		}
	}
	if g := rep.GammaGamma; g != nil {
		fmt.Fprintf(w, "  Gamma-Gamma   p = %.6g, q = %.6g, γ = %.6g on %s repeat customers", g.P, g.Q, g.Gamma, withThousands(int64(g.Customers)))
		if g.FreeRepeatCustomers > 0 {
			fmt.Fprintf(w, " (%d left out: all repeat purchases free)", g.FreeRepeatCustomers)
		}
		fmt.Fprintf(w, "; %.3fs\n", g.Seconds)
	} else {
		fmt.Fprintf(w, "  Gamma-Gamma   not fitted: %s\n", rep.GammaGammaNote)
	}
	if *f.predictions != "" {
		fmt.Fprintf(w, "  predictions over %g weeks", *f.horizon)
		if unit == analytics.Day {
			fmt.Fprintf(w, " (%g days)", *f.horizon*7)
		}
		fmt.Fprintf(w, " written to %s", *f.predictions)
		if rep.FitCheck.Degenerate {
			fmt.Fprint(w, " (of the degenerate fit above)")
		}
		fmt.Fprintln(w)
	}
	return nil
}

// readCLVSummary reads a lifetimes-style summary CSV. The columns are found
// by header name; hasMoney tells whether it has a monetary column.
func readCLVSummary(path string) ([]analytics.Summary, bool, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, false, fmt.Errorf("opening --summary: %w", err)
	}
	defer fh.Close()
	cr := csv.NewReader(bufio.NewReaderSize(fh, 1<<20))
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		return nil, false, fmt.Errorf("--summary %s: reading the header: %w", path, err)
	}
	col := map[string]int{"id": -1, "x": -1, "tx": -1, "T": -1, "m": -1}
	names := map[string]string{"id": "id", "customer_id": "id", "customerid": "id", "cust": "id",
		"frequency": "x", "x": "x", "recency": "tx", "t_x": "tx", "tx": "tx", "t": "T", "age": "T",
		"monetary_value": "m", "zbar": "m", "monetary": "m"}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		if k, ok := names[h]; ok && col[k] < 0 {
			col[k] = i
		} else if h == "" && col["id"] < 0 {
			col["id"] = i // pandas writes its index without a name
		}
	}
	for _, k := range []string{"x", "tx", "T"} {
		if col[k] < 0 {
			return nil, false, fmt.Errorf("--summary %s: header %q has no %s column (want frequency or x, recency or t_x, and T)", path, header,
				map[string]string{"x": "frequency", "tx": "recency", "T": "T"}[k])
		}
	}
	var out []analytics.Summary
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, false, fmt.Errorf("--summary %s: %w", path, err)
		}
		line, _ := cr.FieldPos(0)
		num := func(k string) (float64, error) {
			v, err := strconv.ParseFloat(strings.TrimSpace(rec[col[k]]), 64)
			if err != nil {
				return 0, fmt.Errorf("--summary %s: line %d, column %q: %q is not a number", path, line, header[col[k]], rec[col[k]])
			}
			return v, nil
		}
		var s analytics.Summary
		if col["id"] >= 0 {
			s.CustomerID = rec[col["id"]]
		} else {
			s.CustomerID = strconv.Itoa(len(out) + 1)
		}
		x, err := num("x")
		if err != nil {
			return nil, false, err
		}
		if x != float64(int(x)) || x < 0 {
			return nil, false, fmt.Errorf("--summary %s: line %d: frequency %v is not a whole number of repeat purchases", path, line, x)
		}
		s.Frequency = int(x)
		if s.Recency, err = num("tx"); err != nil {
			return nil, false, err
		}
		if s.Age, err = num("T"); err != nil {
			return nil, false, err
		}
		if col["m"] >= 0 {
			if s.MonetaryMean, err = num("m"); err != nil {
				return nil, false, err
			}
			if s.Frequency == 0 {
				s.MonetaryMean = 0 // lifetimes writes 0; the model ignores it
			}
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, false, fmt.Errorf("--summary %s: no customers", path)
	}
	return out, col["m"] >= 0, nil
}

// writeCLVPredictions writes one line per customer: P(alive), expected
// purchases in the next horizon periods (the summaries' unit), and, with a Gamma-Gamma fit, the
// expected spend per purchase.
func writeCLVPredictions(path string, sums []analytics.Summary, bg analytics.BGNBD, gg *analytics.GammaGammaFit, horizon float64) error {
	fh, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("creating --predictions: %w", err)
	}
	bw := bufio.NewWriterSize(fh, 1<<16)
	bw.WriteString("customer_id,frequency,recency,T,prob_alive,expected_purchases")
	if gg != nil {
		bw.WriteString(",expected_spend")
	}
	bw.WriteByte('\n')
	var b []byte
	for _, s := range sums {
		x, tx, T := float64(s.Frequency), s.Recency, s.Age
		b = append(b[:0], s.CustomerID...)
		for _, v := range []float64{x, tx, T, bg.ProbAlive(x, tx, T), bg.ExpectedPurchases(horizon, x, tx, T)} {
			b = append(b, ',')
			b = strconv.AppendFloat(b, v, 'g', -1, 64)
		}
		if gg != nil {
			b = append(b, ',')
			b = strconv.AppendFloat(b, gg.ExpectedSpend(x, s.MonetaryMean), 'g', -1, 64)
		}
		b = append(b, '\n')
		bw.Write(b)
	}
	if err := bw.Flush(); err != nil {
		fh.Close()
		return fmt.Errorf("writing --predictions: %w", err)
	}
	if err := fh.Close(); err != nil {
		return fmt.Errorf("writing --predictions: %w", err)
	}
	return nil
}

// writeRFMCustomers computes every customer's RFM values, quintile scores
// and segment as of a day (the last stored purchase's by default), with
// the refresh's own functions (analytics.Summarize, ScoreRFM), and writes
// them to path as CSV: for checking against another tool, customer by
// customer. Monetary is the exact total in minor units.
func writeRFMCustomers(ctx context.Context, a store.Analytics, asOf, path string, w io.Writer) error {
	var day time.Time
	if asOf != "" {
		var err error
		if day, err = time.Parse("2006-01-02", asOf); err != nil {
			return usageError{fmt.Errorf("invalid value %q for flag -as-of: want a day YYYY-MM-DD", asOf)}
		}
	} else {
		latest, err := a.LatestPurchase(ctx)
		if err != nil {
			return fmt.Errorf("reading the last purchase: %w", err)
		}
		if latest.IsZero() {
			return errors.New("no purchases stored")
		}
		y, m, d := latest.UTC().Date()
		day = time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	}
	minorPer, err := analyticsview.MinorPer(ctx, a)
	if err != nil {
		return err
	}
	var purchases []analytics.Purchase
	cents := map[string]int64{}
	err = a.PurchaseDays(ctx, day.AddDate(0, 0, 1), func(d *store.PurchaseDay) error {
		purchases = append(purchases, analytics.Purchase{CustomerID: d.CustomerID, Time: d.Day, Amount: float64(d.AmountCents) / minorPer})
		cents[d.CustomerID] += d.AmountCents
		return nil
	})
	if err != nil {
		return fmt.Errorf("reading the purchases up to %s: %w", day.Format("2006-01-02"), err)
	}
	sums, err := analytics.Summarize(purchases, day, analytics.Day)
	if err != nil {
		return err
	}
	vals := make([]analytics.RFMValues, len(sums))
	for i, s := range sums {
		vals[i] = s.RFMValues()
	}
	scores, err := analytics.ScoreRFM(vals)
	if err != nil {
		return err
	}
	fh, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("creating --customers: %w", err)
	}
	bw := bufio.NewWriterSize(fh, 1<<16)
	bw.WriteString("customer_id,recency_days,frequency,monetary_cents,r,f,m,segment\n")
	for i, s := range sums {
		fmt.Fprintf(bw, "%s,%d,%d,%d,%d,%d,%d,%s\n", s.CustomerID, s.DaysSinceLast, s.Frequency+1, cents[s.CustomerID],
			scores[i].R, scores[i].F, scores[i].M, scores[i].Segment)
	}
	if err := bw.Flush(); err != nil {
		fh.Close()
		return fmt.Errorf("writing --customers: %w", err)
	}
	if err := fh.Close(); err != nil {
		return fmt.Errorf("writing --customers: %w", err)
	}
	fmt.Fprintf(w, "RFM of %s customers as of %s written to %s\n", withThousands(int64(len(sums))), day.Format("2006-01-02"), path)
	return nil
}

// clvValidateReport is what `analytics clv --validate --json` prints.
type clvValidateReport struct {
	analytics.Holdout
	CalibrationWeeks float64 `json:"calibration_weeks"`
	ReadSeconds      float64 `json:"read_seconds"`
}

// runCLVValidate runs the calibration/holdout check on the stored
// purchases and prints its table.
func runCLVValidate(ctx context.Context, f *clvFitFlags, a store.Analytics, w io.Writer, asJSON bool) error {
	if a == nil || *f.summary != "" {
		return usageError{errors.New("analytics clv --validate needs the purchases themselves (a store and --as-of), not a --summary")}
	}
	if *f.asOf == "" {
		return usageError{errors.New("analytics clv --validate: give the end of the calibration period with --as-of YYYY-MM-DD")}
	}
	if *f.groups < 2 || *f.groups > 100 {
		return usageError{fmt.Errorf("invalid value %d for flag -groups: want 2..100", *f.groups)}
	}
	cal, err := time.Parse("2006-01-02", *f.asOf)
	if err != nil {
		return usageError{fmt.Errorf("invalid value %q for flag -as-of: want a day YYYY-MM-DD", *f.asOf)}
	}
	var hold time.Time
	if *f.holdoutEnd != "" {
		if hold, err = time.Parse("2006-01-02", *f.holdoutEnd); err != nil {
			return usageError{fmt.Errorf("invalid value %q for flag -holdout-end: want a day YYYY-MM-DD", *f.holdoutEnd)}
		}
	} else {
		latest, err := a.LatestPurchase(ctx)
		if err != nil {
			return fmt.Errorf("reading the last purchase: %w", err)
		}
		y, m, d := latest.UTC().Date()
		hold = time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	}
	if !hold.After(cal) {
		return usageError{fmt.Errorf("analytics clv --validate: the holdout must end after --as-of %s (it ends %s)", cal.Format(time.DateOnly), hold.Format(time.DateOnly))}
	}
	start := time.Now()
	minorPer, err := analyticsview.MinorPer(ctx, a)
	if err != nil {
		return err
	}
	var purchases []analytics.Purchase
	err = a.PurchaseDays(ctx, hold.AddDate(0, 0, 1), func(d *store.PurchaseDay) error {
		purchases = append(purchases, analytics.Purchase{CustomerID: d.CustomerID, Time: d.Day, Amount: float64(d.AmountCents) / minorPer})
		return nil
	})
	if err != nil {
		return fmt.Errorf("reading the purchases up to %s: %w", hold.Format(time.DateOnly), err)
	}
	rep := clvValidateReport{ReadSeconds: time.Since(start).Seconds()}
	if rep.Holdout, err = analytics.ValidateBGNBD(purchases, cal, hold, analytics.Week, *f.groups); err != nil {
		return err
	}
	rep.CalibrationWeeks = rep.Check.HistoryWeeks
	if asJSON {
		return writeJSONTo(w, rep)
	}
	printHoldout(w, &rep)
	return nil
}

// printHoldout prints the calibration/holdout table.
func printHoldout(w io.Writer, rep *clvValidateReport) {
	h := &rep.Holdout
	fmt.Fprintf(w, "Calibration/holdout check (Fader, Hardie and Lee 2005)\n")
	fmt.Fprintf(w, "  calibration: %s customers' purchase days up to %s (%.1f weeks)\n", withThousands(int64(h.Customers)),
		h.CalibrationEnd.Format(time.DateOnly), rep.CalibrationWeeks)
	fmt.Fprintf(w, "  holdout:     their purchase days after it, up to %s (%.1f weeks)\n", h.HoldoutEnd.Format(time.DateOnly), h.HoldoutPeriods)
	fmt.Fprintf(w, "  BG/NBD fitted on the calibration: r = %.4g, α = %.4g, a = %.4g, b = %.4g (weeks); log-likelihood %.1f\n",
		h.Fit.R, h.Fit.Alpha, h.Fit.A, h.Fit.B, h.Fit.LogLikelihood)
	if h.Check.Degenerate {
		fmt.Fprintf(w, "  DEGENERATE FIT: the predictions below are not to be used\n")
		for _, p := range h.Check.Problems {
			fmt.Fprintf(w, "    - %s\n", p)
		}
	} else if len(h.Check.LogSE) == 4 {
		fmt.Fprintf(w, "  fit check: sound; standard errors of ln r, ln α, ln a, ln b: %.2f, %.2f, %.2f, %.2f\n",
			h.Check.LogSE[0], h.Check.LogSE[1], h.Check.LogSE[2], h.Check.LogSE[3])
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "repeat purchases in calibration\tcustomers\tholdout purchases per customer: actual\tpredicted\tpredicted / actual\t")
	for _, g := range h.Groups {
		label := strconv.Itoa(g.Frequency)
		if g.OrMore {
			label += "+"
		}
		fmt.Fprintf(tw, "%s\t%s\t%.3f\t%.3f\t%s\t\n", label, withThousands(int64(g.Customers)), g.Actual, g.Predicted, ratio(g.Predicted, g.Actual))
	}
	fmt.Fprintf(tw, "all (total)\t%s\t%.0f\t%.1f\t%s\t\n", withThousands(int64(h.Customers)), h.ActualTotal, h.PredictedTotal, ratio(h.PredictedTotal, h.ActualTotal))
	tw.Flush()
}

func ratio(a, b float64) string {
	if b == 0 {
		return "-"
	}
	return strconv.FormatFloat(a/b, 'f', 2, 64)
}
