package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/shopstream/shopstream/internal/analyticsview"
	"github.com/shopstream/shopstream/internal/datadir"
	"github.com/shopstream/shopstream/internal/event"
	"github.com/shopstream/shopstream/internal/generate"
	"github.com/shopstream/shopstream/internal/jobs"
	"github.com/shopstream/shopstream/internal/store/sqlite"
	"github.com/shopstream/shopstream/internal/web"
)

// generatedOrdersCSV writes n generated transactions as an order-line
// export, the way a shop's history arrives.
func generatedOrdersCSV(t *testing.T, path string, customers, n int) {
	t.Helper()
	g, err := generate.New(generate.Config{Seed: 21, Customers: customers, FraudRate: -1, Start: time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("order_id,customer_id,product_id,quantity,unit_price,timestamp,country,category,currency\n")
	for range n {
		var ev event.Transaction
		if err := event.Decode(g.Next().Value, &ev); err != nil {
			t.Fatal(err)
		}
		for _, it := range ev.Items {
			fmt.Fprintf(&b, "%s,%s,%s,%d,%s,%s,%s,%s,%s\n", ev.TransactionID, ev.CustomerID, it.ProductID, it.Quantity,
				it.UnitPriceCents, ev.EventTime.Format(time.RFC3339Nano), ev.BillingCountry, it.Category, ev.Currency)
		}
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func runAnalyticsCmd(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := runAnalytics(context.Background(), args, &stdout, &stderr)
	return stdout.String(), stderr.String(), err
}

// Import a generated history, refresh, and show every view as text and
// JSON.
func TestAnalyticsCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	csv := filepath.Join(t.TempDir(), "history.csv")
	generatedOrdersCSV(t, csv, 200, 4000)
	// The command's own refresh is what is tested: the import's is off.
	rep, _ := importJSON(t, "--csv", csv, "--data-dir", dir, "--analytics-refresh=false")
	if rep.Stored != 4000 || rep.Quarantined != 0 {
		t.Fatalf("import: %+v", rep)
	}

	out, errOut, err := runAnalyticsCmd(t, "rfm", "--refresh", "--data-dir", dir, "--seed", "3")
	if err != nil {
		t.Fatalf("rfm --refresh: %v\n%s", err, errOut)
	}
	t.Logf("%s%s", errOut, out)
	if !strings.Contains(errOut, "CLV model 1 fitted") || !strings.Contains(out, "RFM segments of") || !strings.Contains(out, "Champions") {
		t.Fatalf("rfm --refresh printed:\n%s\n%s", errOut, out)
	}

	out, _, err = runAnalyticsCmd(t, "clv", "--data-dir", dir, "--json", "--top", "5")
	if err != nil {
		t.Fatal(err)
	}
	var clv struct {
		Model        *analyticsview.CLVModel  `json:"model"`
		TopCustomers []analyticsview.Customer `json:"top_customers"`
	}
	if err := json.Unmarshal([]byte(out), &clv); err != nil {
		t.Fatal(err)
	}
	if clv.Model == nil || clv.Model.Version != 1 || clv.Model.Params.BGNBD.R <= 0 || len(clv.TopCustomers) != 5 ||
		clv.TopCustomers[0].CLV.Value < clv.TopCustomers[4].CLV.Value {
		t.Fatalf("clv --json: %s", out)
	}

	for _, view := range []string{"clv", "cohorts", "segments"} {
		out, errOut, err := runAnalyticsCmd(t, view, "--data-dir", dir)
		if err != nil {
			t.Fatalf("%s: %v\n%s", view, err, errOut)
		}
		t.Logf("%s:\n%s", view, out)
		if len(strings.Split(out, "\n")) < 5 {
			t.Errorf("%s printed little:\n%s", view, out)
		}
	}

	out, _, err = runAnalyticsCmd(t, "cohorts", "--data-dir", dir, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var coh analyticsview.Cohorts
	if err := json.Unmarshal([]byte(out), &coh); err != nil || len(coh.Cohorts) == 0 || coh.Cohorts[0].Retention[0] != 1 {
		t.Fatalf("cohorts --json: %v\n%.500s", err, out)
	}
	out, _, err = runAnalyticsCmd(t, "segments", "--data-dir", dir, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var seg analyticsview.Clusters
	if err := json.Unmarshal([]byte(out), &seg); err != nil || seg.K < 2 || len(seg.Profiles) != seg.K {
		t.Fatalf("segments --json: %v\n%.500s", err, out)
	}

	// The first refresh found every customer new; a second over the same
	// purchases moves nobody.
	out, _, err = runAnalyticsCmd(t, "movement", "--data-dir", dir, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var mv analyticsview.SegmentMovements
	if err := json.Unmarshal([]byte(out), &mv); err != nil || len(mv.Movements) != 1 || mv.Movements[0].PreviousComputedAt != nil ||
		mv.Movements[0].Entered != mv.Movements[0].Customers || mv.Movements[0].Customers == 0 {
		t.Fatalf("movement --json after one refresh: %v\n%.500s", err, out)
	}
	out, errOut, err = runAnalyticsCmd(t, "movement", "--refresh", "--data-dir", dir, "--seed", "3")
	if err != nil {
		t.Fatalf("movement --refresh: %v\n%s", err, errOut)
	}
	t.Logf("%s%s", errOut, out)
	if !strings.Contains(errOut, "0 new, 0 moved segment, 0 left") || !strings.Contains(out, "0 moved, 0 new, 0 left") ||
		!strings.Contains(out, "since the refresh of") || !strings.Contains(out, "Champions") {
		t.Fatalf("movement --refresh over the same purchases printed:\n%s\n%s", errOut, out)
	}
}

func TestAnalyticsCommandEmptyStore(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, view := range []string{"rfm", "cohorts", "clv", "segments", "movement"} {
		out, _, err := runAnalyticsCmd(t, view, "--data-dir", dir)
		if err != nil || !strings.Contains(out, "--refresh") {
			t.Errorf("%s on an empty store: %v\n%s", view, err, out)
		}
	}
	out, errOut, err := runAnalyticsCmd(t, "clv", "--data-dir", dir, "--refresh")
	if err != nil || !strings.Contains(errOut, "no purchases stored yet") || !strings.Contains(out, "no CLV model") {
		t.Errorf("clv --refresh on an empty store: %v\n%s\n%s", err, errOut, out)
	}
}

func TestAnalyticsCommandUsage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "rfm, cohorts, clv, segments or movement"},
		{[]string{"--json"}, "rfm, cohorts, clv, segments or movement"},
		{[]string{"ltv"}, `unknown view "ltv"`},
		{[]string{"segments", "--k", "-1"}, "-k"},
		{[]string{"clv", "--discount-rate", "-2"}, "-discount-rate"},
		{[]string{"clv", "--clv-months", "0"}, "-clv-months"},
		{[]string{"cohorts", "--months", "0"}, "-months"},
		{[]string{"rfm", "extra"}, "unexpected argument"},
	} {
		_, _, err := runAnalyticsCmd(t, append(tc.args, "--data-dir", dir)...)
		if !IsUsage(err) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want a usage error mentioning %q", tc.args, err, tc.want)
		}
	}
}

// The periodic refresh as the long-running commands start it, and the API
// they serve.
func TestAnalyticsJobAndAPI(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	importJSON(t, "--csv", importCSV, "--data-dir", dir)
	st, err := sqlite.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	reg := prometheus.NewRegistry()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	g, gctx := errgroup.WithContext(ctx)
	fs := newFlagSet("run", &bytes.Buffer{})
	var af analyticsFlags
	af.register(fs, "analytics-")
	if err := parseFlags(fs, []string{"--analytics-interval", "50ms", "--analytics-k", "2"}); err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := startAnalyticsJob(gctx, g, st, logger, reg, &af); err != nil {
		t.Fatal(err)
	}
	srv, err := web.New(web.Config{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	if err := registerAnalyticsAPI(srv, st); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if ok := jobRuns(t, reg, "ok"); ok >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no two successful refreshes in 20 s (%v failed)", jobRuns(t, reg, "error"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/api/v1/customers/17850", nil)
	req.RemoteAddr, req.Host = "127.0.0.1:40000", "localhost:8050" // a local user of a store without tokens
	srv.ServeHTTP(rec, req)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"segment":`) || !strings.Contains(rec.Body.String(), `"cluster":`) {
		t.Fatalf("GET /api/v1/customers/17850: %d %s", rec.Code, rec.Body.String())
	}
	// Off when the interval is zero.
	af.interval = 0
	if err := startAnalyticsJob(ctx, g, st, logger, prometheus.NewRegistry(), &af); err != nil {
		t.Fatal(err)
	}
}

// jobRuns reads shopstream_job_runs_total{outcome} from reg.
func jobRuns(t *testing.T, reg *prometheus.Registry, outcome string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "shopstream_job_runs_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "outcome" && l.GetValue() == outcome {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// TestRefreshReportLine: the refresh's line says a degenerate CLV fit
// gives no CLV (it said "CLV model 1 fitted" beside the log's "no CLV this
// run" for the retail log's first half year), and a good fit, a kept model
// and none as before.
func TestRefreshReportLine(t *testing.T) {
	at := time.Date(2011, 6, 30, 20, 8, 0, 0, time.UTC)
	for _, c := range []struct {
		rep  jobs.RefreshReport
		want string
	}{
		{jobs.RefreshReport{Customers: 2960, AsOf: at, CLVFitted: true, CLVVersion: 1, CLVNote: "a = 4e-07 is at the edge", SegmentsVersion: 1, K: 2},
			"; CLV model 1 fitted but degenerate, no CLV (a = 4e-07 is at the edge);"},
		{jobs.RefreshReport{Customers: 2960, AsOf: at, CLVFitted: true, CLVVersion: 2, SegmentsVersion: 1, K: 2}, "; CLV model 2 fitted;"},
		{jobs.RefreshReport{Customers: 2960, AsOf: at, CLVVersion: 2, CLVNote: "model of the day kept", SegmentsVersion: 1, K: 2},
			"; CLV model 2 kept (model of the day kept);"},
		{jobs.RefreshReport{Customers: 4, AsOf: at, CLVNote: "too few repeat customers", SegmentsNote: "too few"}, "; no CLV (too few repeat customers);"},
	} {
		var b bytes.Buffer
		printRefreshReport(&b, &c.rep)
		if !strings.Contains(b.String(), c.want) {
			t.Errorf("report %+v: %q, want %q in it", c.rep, b.String(), c.want)
		}
	}
}

// TestAnalyticsBesideAHolder: with the embedded store's directory held by
// another process (a `serve` the analyst has open), the analytics views
// read it read-only beside it, and say so; a refresh, which writes, is
// refused, naming the holder.
func TestAnalyticsBesideAHolder(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	importJSON(t, "--csv", importCSV, "--data-dir", dir)
	lock, err := datadir.Acquire(dir, "shopstream serve")
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()
	out, errOut, err := runAnalyticsCmd(t, "rfm", "--data-dir", dir)
	if err != nil {
		t.Fatalf("rfm beside a holder: %v\n%s", err, errOut)
	}
	if !strings.Contains(errOut, "read-only") || !strings.Contains(errOut, "shopstream serve") || !strings.Contains(out, "RFM segments of 3 customers") {
		t.Errorf("rfm beside a holder printed:\n%s\n%s", errOut, out)
	}
	if _, errOut, err := runAnalyticsCmd(t, "rfm", "--refresh", "--data-dir", dir); err == nil || !strings.Contains(err.Error(), "in use by") {
		t.Errorf("rfm --refresh beside a holder: %v\n%s", err, errOut)
	}
}
