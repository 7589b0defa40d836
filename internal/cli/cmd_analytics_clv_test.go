package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
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
	path := filepath.Join(t.TempDir(), "young.csv")
	var b strings.Builder
	b.WriteString("customer_id,x,t_x,T\n")
	for i := range 300 {
		x := i % 3
		tx := 0.0
		if x > 0 {
			tx = float64(1 + i%3)
		}
		fmt.Fprintf(&b, "c%d,%d,%g,4\n", i, x, tx)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
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
	in, err := os.Open(cdnowDir + "CDNOW_sample.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	csvPath := filepath.Join(dir, "cdnow.csv")
	var b strings.Builder
	b.WriteString("order_id,customer_id,product_id,quantity,unit_price,timestamp,country\n")
	sc := bufio.NewScanner(in)
	free := map[string]bool{}
	for n := 1; sc.Scan(); n++ {
		f := strings.Fields(sc.Text())
		if len(f) != 5 {
			t.Fatalf("CDNOW line %d: %q", n, sc.Text())
		}
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
