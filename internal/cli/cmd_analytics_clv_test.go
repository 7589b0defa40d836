package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const cdnowDir = "../../testdata/datasets/cdnow/"

// The published BG/NBD parameters of CDNOW (Fader, Hardie and Lee 2005),
// as lifetimes reproduces them, to the 1e-4 relative tolerance of the
// parity suite.
var cdnowBGNBD = map[string]float64{"r": 0.242593, "alpha": 4.413532, "a": 0.792886, "b": 2.425752}

func checkCDNOW(t *testing.T, rep clvFitReport) {
	t.Helper()
	got := map[string]float64{"r": rep.BGNBD.R, "alpha": rep.BGNBD.Alpha, "a": rep.BGNBD.A, "b": rep.BGNBD.B}
	for k, want := range cdnowBGNBD {
		if math.Abs(got[k]-want) > 1e-4*want {
			t.Errorf("%s = %.6f, want %.6f (lifetimes)", k, got[k], want)
		}
	}
	if rep.Customers != 2357 || math.Abs(rep.BGNBD.LogLikelihood-(-9582.43)) > 0.01 {
		t.Errorf("%d customers, log-likelihood %.2f; want 2,357 and -9582.43", rep.Customers, rep.BGNBD.LogLikelihood)
	}
	if rep.FitCheck.Degenerate || len(rep.FitCheck.LogSE) != 4 {
		t.Errorf("CDNOW's fit checked as %+v, want sound with its four standard errors", rep.FitCheck)
	}
}

// A fit the refresh would call degenerate is called so by --summary and
// --as-of too (they printed it, and wrote its predictions, as any other):
// 300 customers seen over 4 weeks.
func TestCLVFitDegenerate(t *testing.T) {
	t.Parallel()
	path := writeYoungSummary(t, 1)
	rep := clvJSON(t, "--summary", path)
	if !rep.FitCheck.Degenerate || len(rep.FitCheck.Problems) == 0 || !strings.Contains(rep.FitCheck.Problems[0], "weeks of history") {
		t.Fatalf("4 weeks of history: fit check %+v, want degenerate for want of history", rep.FitCheck)
	}
	var stdout, stderr bytes.Buffer
	pred := filepath.Join(t.TempDir(), "pred.csv")
	if err := runAnalytics(context.Background(), []string{"clv", "--summary", path, "--predictions", pred}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if out := stdout.String(); !strings.Contains(out, "DEGENERATE FIT") || !strings.Contains(out, "weeks of history") || !strings.Contains(out, "(of the degenerate fit above)") {
		t.Errorf("text output does not say the fit is degenerate:\n%s", out)
	}
}

// writeYoungSummary writes the summary of 300 customers seen over 4
// weeks, in periods of perWeek a week (1: weeks, 7: days), and returns
// its path.
func writeYoungSummary(t *testing.T, perWeek float64) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "young.csv")
	var b strings.Builder
	b.WriteString("customer_id,x,t_x,T\n")
	for i := range 300 {
		x := i % 3
		tx := 0.0
		if x > 0 {
			tx = float64(1 + i%3)
		}
		fmt.Fprintf(&b, "c%d,%d,%g,%g\n", i, x, tx*perWeek, 4*perWeek)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func clvJSON(t *testing.T, args ...string) clvFitReport {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if err := runAnalytics(context.Background(), append([]string{"clv", "--json"}, args...), &stdout, &stderr); err != nil {
		t.Fatalf("analytics clv %v: %v\n%s", args, err, stderr.String())
	}
	var rep clvFitReport
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("decoding %s: %v", stdout.String(), err)
	}
	return rep
}

// --summary fits on a lifetimes-style summary, with predictions per
// customer matching the published ones.
func TestCLVSummary(t *testing.T) {
	t.Parallel()
	pred := filepath.Join(t.TempDir(), "pred.csv")
	rep := clvJSON(t, "--summary", cdnowDir+"cdnow_customers_summary_with_transactions.csv", "--predictions", pred)
	checkCDNOW(t, rep)
	g := rep.GammaGamma
	if g == nil || math.Abs(g.P-6.25) > 0.01 || math.Abs(g.Q-3.74) > 0.01 || math.Abs(g.Gamma-15.44) > 0.01 || g.Customers != 946 {
		t.Errorf("Gamma-Gamma %+v, want p 6.25, q 3.74, γ 15.44 on 946 customers", g)
	}
	b, err := os.ReadFile(pred)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 2358 {
		t.Fatalf("%d prediction lines, want a header and 2,357", len(lines))
	}
	var id string
	var x, tx, T, alive, purchases, spend float64
	if _, err := fmt.Sscanf(strings.ReplaceAll(lines[1], ",", " "), "%s %g %g %g %g %g %g", &id, &x, &tx, &T, &alive, &purchases, &spend); err != nil {
		t.Fatalf("%q: %v", lines[1], err)
	}
	// Customer 1: 1.226 expected purchases in 39 weeks, 24.65 a purchase.
	if id != "1" || math.Abs(purchases-1.226) > 1e-3 || math.Abs(spend-24.65) > 0.01 {
		t.Errorf("customer 1: %q", lines[1])
	}
}

// --as-of fits on what `import` stored, over the calibration period ending
// that day: the CDNOW log, imported with its eight customers whose first
// purchase was free, gives the published parameters.
func TestCLVAsOfImportedCDNOW(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	csvPath := filepath.Join(dir, "cdnow.csv")
	var b strings.Builder
	b.WriteString("order_id,customer_id,product_id,quantity,unit_price,timestamp,country\n")
	free := map[string]bool{}
	for i, f := range cdnowLines(t) {
		n := i + 1
		day := f[2][:4] + "-" + f[2][4:6] + "-" + f[2][6:]
		fmt.Fprintf(&b, "o%d,%s,cds,1,%s,%s,US\n", n, f[0], f[4], day)
		if f[4] == "0.00" || f[4] == "0" {
			free[f[0]] = true
		}
	}
	if len(free) == 0 {
		t.Fatal("no free purchase in the CDNOW sample; the test checks nothing")
	}
	if err := os.WriteFile(csvPath, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	rep, _ := importJSON(t, "--csv", csvPath, "--data-dir", data, "--currency", "USD")
	if rep.Quarantined != 0 || len(rep.Skipped) != 0 || rep.ZeroPriceItems == 0 {
		t.Fatalf("import: %+v; want every row stored, free ones counted", rep)
	}
	checkCDNOW(t, clvJSON(t, "--data-dir", data, "--as-of", "1997-09-30"))

	// The calibration/holdout check of Fader, Hardie and Lee (2005): 39
	// weeks each; the calibration fit is the published one.
	var vout, verr bytes.Buffer
	if err := runAnalytics(context.Background(), []string{"clv", "--validate", "--data-dir", data, "--as-of", "1997-09-30",
		"--holdout-end", "1998-06-30", "--json"}, &vout, &verr); err != nil {
		t.Fatalf("analytics clv --validate: %v\n%s", err, verr.String())
	}
	var val clvValidateReport
	if err := json.Unmarshal(vout.Bytes(), &val); err != nil {
		t.Fatalf("clv --validate --json: %v\n%s", err, vout.String())
	}
	var fr clvFitReport
	fr.Customers = val.Customers
	fr.BGNBD.R, fr.BGNBD.Alpha, fr.BGNBD.A, fr.BGNBD.B, fr.BGNBD.LogLikelihood = val.Fit.R, val.Fit.Alpha, val.Fit.A, val.Fit.B, val.Fit.LogLikelihood
	fr.FitCheck = val.Check
	checkCDNOW(t, fr)
	n := 0
	for _, g := range val.Groups {
		n += g.Customers
	}
	if len(val.Groups) != 8 || n != 2357 || val.HoldoutPeriods != 39 || val.Check.Degenerate || val.ActualTotal == 0 {
		t.Fatalf("clv --validate: %+v; want 8 groups of CDNOW's 2,357 customers over a 39-week holdout, a sound fit", val)
	}
	vout.Reset()
	if err := runAnalytics(context.Background(), []string{"clv", "--validate", "--data-dir", data, "--as-of", "1997-09-30",
		"--holdout-end", "1998-06-30"}, &vout, &verr); err != nil {
		t.Fatalf("analytics clv --validate: %v\n%s", err, verr.String())
	}
	if !strings.Contains(vout.String(), "predicted / actual") || !strings.Contains(vout.String(), "7+") {
		t.Fatalf("clv --validate prints no table:\n%s", vout.String())
	}
	t.Logf("\n%s", vout.String())

	// Every customer's RFM, as of the end of the log: one line each, and
	// equal recencies score alike.
	out := filepath.Join(dir, "rfm.csv")
	var stdout, stderr bytes.Buffer
	if err := runAnalytics(context.Background(), []string{"rfm", "--data-dir", data, "--as-of", "1998-06-30", "--customers", out}, &stdout, &stderr); err != nil {
		t.Fatalf("analytics rfm --customers: %v\n%s", err, stderr.String())
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	if len(lines) != 2358 || lines[0] != "customer_id,recency_days,frequency,monetary_cents,r,f,m,segment" {
		t.Fatalf("%d lines starting %q; want a header and 2,357 customers", len(lines), lines[0])
	}
	rByRecency := map[string]string{}
	for _, l := range lines[1:] {
		f := strings.Split(l, ",")
		if r, ok := rByRecency[f[1]]; ok && r != f[4] {
			t.Errorf("recency %s days scored R%s and R%s", f[1], r, f[4])
		}
		rByRecency[f[1]] = f[4]
	}
}

// --summary-unit days reads a summary in days, as lifetimes writes it by
// default: CDNOW's weekly summary in days fits the same model (α seven
// times the weekly one, the rest alike), predicts the same purchases over
// the same 39 weeks, and its history is checked in weeks (four weeks
// written as 28 days is still too young a history, not 28 weeks).
func TestCLVSummaryInDays(t *testing.T) {
	t.Parallel()
	in, err := os.ReadFile(cdnowDir + "cdnow_customers_summary_with_transactions.csv")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(in)), "\n")
	header := strings.Split(lines[0], ",")
	col := map[string]int{}
	for i, h := range header {
		col[strings.Trim(h, `"`)] = i
	}
	var b strings.Builder
	b.WriteString(lines[0] + "\n")
	for _, l := range lines[1:] {
		f := strings.Split(l, ",")
		for _, c := range []string{"t_x", "T"} {
			v, err := strconv.ParseFloat(f[col[c]], 64)
			if err != nil {
				t.Fatalf("%q: %v", l, err)
			}
			f[col[c]] = strconv.FormatFloat(v*7, 'g', -1, 64)
		}
		b.WriteString(strings.Join(f, ",") + "\n")
	}
	dir := t.TempDir()
	days := filepath.Join(dir, "days.csv")
	if err := os.WriteFile(days, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	pred := filepath.Join(dir, "pred.csv")
	rep := clvJSON(t, "--summary", days, "--summary-unit", "days", "--predictions", pred)
	if rep.TimeUnit != "days" || rep.FitCheck.Degenerate || math.Abs(rep.BGNBD.Alpha-7*cdnowBGNBD["alpha"]) > 1e-3*7*cdnowBGNBD["alpha"] ||
		math.Abs(rep.BGNBD.R-cdnowBGNBD["r"]) > 1e-3*cdnowBGNBD["r"] || math.Abs(rep.BGNBD.A-cdnowBGNBD["a"]) > 1e-3*cdnowBGNBD["a"] ||
		math.Abs(rep.BGNBD.B-cdnowBGNBD["b"]) > 1e-3*cdnowBGNBD["b"] {
		t.Errorf("in days: %s r %.6f α %.6f a %.6f b %.6f, fit check %+v; want α %.4f and r, a, b as in weeks", rep.TimeUnit,
			rep.BGNBD.R, rep.BGNBD.Alpha, rep.BGNBD.A, rep.BGNBD.B, rep.FitCheck, 7*cdnowBGNBD["alpha"])
	}
	p, err := os.ReadFile(pred)
	if err != nil {
		t.Fatal(err)
	}
	first := strings.Split(strings.Split(string(p), "\n")[1], ",")
	if got, _ := strconv.ParseFloat(first[5], 64); first[0] != "1" || math.Abs(got-1.226) > 2e-3 {
		t.Errorf("customer 1 over 39 weeks (273 days): %q, want 1.226 expected purchases", first)
	}

	young := writeYoungSummary(t, 7)
	if rep := clvJSON(t, "--summary", young, "--summary-unit", "days"); !rep.FitCheck.Degenerate || rep.FitCheck.HistoryWeeks != 4 {
		t.Errorf("28 days of history: fit check %+v, want degenerate, 4 weeks of history", rep.FitCheck)
	}
	var stdout, stderr bytes.Buffer
	for _, args := range [][]string{{"--summary", young, "--summary-unit", "months"}, {"--as-of", "2026-01-01", "--summary-unit", "days", "--data-dir", t.TempDir()}} {
		err := runAnalytics(context.Background(), append([]string{"clv"}, args...), &stdout, &stderr)
		if err == nil || !strings.Contains(err.Error(), "summary-unit") {
			t.Errorf("clv %v: %v, want an error naming -summary-unit", args, err)
		}
	}
}

// TestCDNOWInYen: CDNOW's log with its prices written in yen (¥1,234 for
// $12.34, so the same minor units), imported with --currency JPY: the
// BG/NBD fit is the published one, Gamma-Gamma's γ is a hundred times
// the published 15.44 (its spend in yen), and the refresh's segment
// revenue adds up to the log's yen. Divided by 100 as if yen had cents,
// they read a hundredth.
func TestCDNOWInYen(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("order_id,customer_id,product_id,quantity,unit_price,timestamp,country\n")
	var total int64
	for n, f := range cdnowLines(t) {
		whole, frac, _ := strings.Cut(f[4], ".")
		yen, err := strconv.ParseInt(whole+(frac + "00")[:2], 10, 64)
		if err != nil {
			t.Fatalf("CDNOW line %d: price %q", n+1, f[4])
		}
		total += yen
		fmt.Fprintf(&b, "o%d,%s,cds,1,%d,%s-%s-%s,JP\n", n+1, f[0], yen, f[2][:4], f[2][4:6], f[2][6:])
	}
	csvPath := filepath.Join(dir, "cdnow-yen.csv")
	if err := os.WriteFile(csvPath, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	if rep, _ := importJSON(t, "--csv", csvPath, "--data-dir", data, "--currency", "JPY"); rep.Quarantined != 0 || len(rep.Skipped) != 0 {
		t.Fatalf("import: %+v; want every row stored", rep)
	}
	rep := clvJSON(t, "--data-dir", data, "--as-of", "1997-09-30")
	checkCDNOW(t, rep)
	if g := rep.GammaGamma; g == nil || math.Abs(g.Gamma-1544) > 1 || math.Abs(g.P-6.25) > 0.01 || math.Abs(g.Q-3.74) > 0.01 {
		t.Errorf("Gamma-Gamma in yen %+v, want p 6.25, q 3.74 and γ 1,544 (100 × 15.44)", g)
	}
	var stdout, stderr bytes.Buffer
	if err := runAnalytics(context.Background(), []string{"rfm", "--refresh", "--json", "--data-dir", data}, &stdout, &stderr); err != nil {
		t.Fatalf("analytics rfm --refresh: %v\n%s", err, stderr.String())
	}
	var seg struct {
		RFM []struct{ Revenue float64 }
	}
	if err := json.Unmarshal(stdout.Bytes(), &seg); err != nil {
		t.Fatalf("%v: %s", err, stdout.String())
	}
	var sum float64
	for _, s := range seg.RFM {
		sum += s.Revenue
	}
	if math.Abs(sum-float64(total)) > 0.5 {
		t.Errorf("segment revenue adds up to %.2f, want the log's ¥%d", sum, total)
	}
	// As text, the amounts are yen: whole, with thousands separators (they
	// were written with two decimals, 3081640.00).
	out, errOut, err := runAnalyticsCmd(t, "rfm", "--data-dir", data)
	if err != nil {
		t.Fatalf("analytics rfm: %v\n%s", err, errOut)
	}
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) >= 4 && strings.HasSuffix(f[len(f)-3], "%") {
			if rev := f[len(f)-2]; strings.Contains(rev, ".") || len(rev) > 3 && !strings.Contains(rev, ",") {
				t.Errorf("a segment's revenue in yen reads %q: %s", rev, line)
			}
		}
	}
}

func TestAmountText(t *testing.T) {
	for _, c := range []struct {
		v, per float64
		want   string
	}{
		{1744238.4, 100, "1,744,238.40"}, {15050, 1, "15,050"}, {15.05, 1000, "15.050"}, {0, 100, "0.00"}, {-1234.5, 100, "-1,234.50"},
		{999.999, 100, "1,000.00"}, {-0.001, 100, "0.00"}, {12, 1, "12"},
	} {
		if got := amountText(c.v, c.per); got != c.want {
			t.Errorf("amountText(%v, %v) = %q, want %q", c.v, c.per, got, c.want)
		}
	}
}

// TestCDNOWAsATransactionLog imports CDNOW's log as lifetimes users hold
// it, customer, date and amount and nothing else (an order-level log,
// CDNOW_sample.txt's fields 1, 3 and 5), and fits the published BG/NBD
// and Gamma-Gamma parameters on it (checkCDNOW).
func TestCDNOWAsATransactionLog(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("customer_id,date,amount\n")
	lines := cdnowLines(t)
	for _, f := range lines {
		fmt.Fprintf(&b, "%s,%s,%s\n", f[0], f[2], f[4])
	}
	csvPath := filepath.Join(dir, "cdnow-log.csv")
	if err := os.WriteFile(csvPath, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	rep, _ := importJSON(t, "--csv", csvPath, "--data-dir", data, "--currency", "USD", "--time-layout", "20060102", "--analytics-refresh=false")
	if !rep.OrderLevel || rep.Stored != int64(len(lines)) || rep.Quarantined != 0 || len(rep.Skipped) != 0 {
		t.Fatalf("import: %+v; want every one of the %d rows an order, stored", rep, len(lines))
	}
	got := clvJSON(t, "--data-dir", data, "--as-of", "1997-09-30")
	checkCDNOW(t, got)
	if g := got.GammaGamma; g == nil || math.Abs(g.Gamma-15.44) > 0.01 || math.Abs(g.P-6.25) > 0.01 || math.Abs(g.Q-3.74) > 0.01 {
		t.Errorf("Gamma-Gamma %+v, want p 6.25, q 3.74 and γ 15.44", g)
	}
}

// cdnowLines reads CDNOW_sample.txt's lines as their five fields: the
// customer, the order's number, its day (yyyymmdd), its quantity and its
// amount.
func cdnowLines(t *testing.T) [][]string {
	t.Helper()
	raw, err := os.ReadFile(cdnowDir + "CDNOW_sample.txt")
	if err != nil {
		t.Fatal(err)
	}
	var out [][]string
	for n, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		f := strings.Fields(line)
		if len(f) != 5 {
			t.Fatalf("CDNOW line %d: %q", n+1, line)
		}
		out = append(out, f)
	}
	return out
}
