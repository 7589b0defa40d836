package jobs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/shopstream/shopstream/internal/analytics"
	"github.com/shopstream/shopstream/internal/event"
	"github.com/shopstream/shopstream/internal/generate"
	"github.com/shopstream/shopstream/internal/modeldoc"
	"github.com/shopstream/shopstream/internal/pipeline"
	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/pgtest"
	"github.com/shopstream/shopstream/internal/store/postgres"
	"github.com/shopstream/shopstream/internal/store/sqlite"
	"github.com/shopstream/shopstream/internal/store/storetest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

type testStore interface {
	store.Store
	store.Analytics
}

func openSQLite(t testing.TB) testStore {
	t.Helper()
	s, err := sqlite.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func openPostgres(t testing.TB, url string) testStore {
	t.Helper()
	s, err := postgres.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// farFuture is the clock of refresh tests: later than any generated
// purchase, so customers are scored as of the latest one.
func farFuture() time.Time { return time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC) }

// fill writes n generated transactions of a shop with the given active
// customer base, the way the processor stores them, and returns how many
// distinct customers bought.
func fill(t *testing.T, s store.Store, seed int64, customers, n int) int {
	t.Helper()
	g, err := generate.New(generate.Config{Seed: seed, Customers: customers})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var txs []store.Tx
	off := int64(0)
	flush := func() {
		if len(txs) == 0 {
			return
		}
		err := s.WriteBatch(context.Background(), &store.Batch{Group: "test", Topic: "transactions",
			Parts: []store.Part{{Partition: 0, From: off, To: off + int64(len(txs)), Txs: txs}}})
		if err != nil {
			t.Fatal(err)
		}
		off += int64(len(txs))
		txs = txs[:0]
	}
	for range n {
		rec := g.Next()
		var ev event.Transaction
		if err := event.Decode(rec.Value, &ev); err != nil {
			t.Fatalf("generated record does not decode: %v", err)
		}
		seen[ev.CustomerID] = true
		txs = append(txs, pipeline.NewTx(&ev, 0, off+int64(len(txs)), rec.EventTime, nil))
		if len(txs) == 2000 {
			flush()
		}
	}
	flush()
	return len(seen)
}

func newRefresh(t *testing.T, cfg RefreshConfig) *Refresh {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quiet
	}
	if cfg.Now == nil {
		cfg.Now = farFuture
	}
	r, err := NewRefresh(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestRefresh runs the refresh on the same generated shop in both stores,
// checks what it wrote, and that both stores led to the same models.
func TestRefresh(t *testing.T) {
	t.Parallel()
	stores := map[string]testStore{"SQLite": openSQLite(t), "PostgreSQL": openPostgres(t, pgtest.URL(t))}
	models := map[string][2][]byte{}
	for name, s := range stores {
		t.Run(name, func(t *testing.T) {
			testRefresh(t, s)
			clv, err1 := s.LatestModelVersion(context.Background(), store.ModelCLV)
			seg, err2 := s.LatestModelVersion(context.Background(), store.ModelSegments)
			if err := errors.Join(err1, err2); err != nil {
				t.Fatal(err)
			}
			models[name] = [2][]byte{clv.Params, seg.Params}
		})
	}
	if a, b := models["SQLite"], models["PostgreSQL"]; !bytes.Equal(a[0], b[0]) || !bytes.Equal(a[1], b[1]) {
		t.Fatalf("the stores led to different models:\nSQLite     %s\n           %s\nPostgreSQL %s\n           %s", a[0], a[1], b[0], b[1])
	}
}

// testRefresh runs the refresh on a generated shop and checks what it
// wrote.
func testRefresh(t *testing.T, s testStore) {
	ctx := context.Background()
	customers := fill(t, s, 11, 300, 5_000)
	r := newRefresh(t, RefreshConfig{Store: s, Seed: 5})
	rep, err := r.RunOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("report: %+v", *rep)
	if rep.Customers != customers || !rep.CLVFitted || rep.CLVVersion != 1 || rep.SegmentsVersion != 1 || rep.K < 2 || rep.K > 8 {
		t.Fatalf("report %+v for %d customers: want all customers, CLV and segments version 1, k in 2..8", *rep, customers)
	}

	// Every customer has a row with a CLV that is a finite non-negative
	// figure, and a cluster.
	all, err := s.TopCustomers(ctx, customers+10)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != customers {
		t.Fatalf("%d customers with CLV, want all %d", len(all), customers)
	}
	var total float64
	for _, a := range all {
		c := a.CLV
		for _, v := range []float64{c.ProbAlive, c.ExpectedPurchases, c.ExpectedAOV, c.Value} {
			if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
				t.Fatalf("customer %s: CLV figures %+v", a.CustomerID, *c)
			}
		}
		if c.ProbAlive > 1 || c.ModelVersion != 1 || a.Cluster == nil || *a.Cluster < 0 || *a.Cluster >= rep.K {
			t.Fatalf("customer %s: %+v, CLV %+v", a.CustomerID, a, *c)
		}
		if a.R < 1 || a.R > 5 || a.F < 1 || a.F > 5 || a.M < 1 || a.M > 5 || a.FrequencyDays < 1 || a.MonetaryCents <= 0 {
			t.Fatalf("customer %s: RFM %+v", a.CustomerID, a)
		}
		total += c.Value
	}
	if total <= 0 {
		t.Fatal("total CLV is zero")
	}

	// Segments cover every customer, with the conventional names.
	stats, err := s.SegmentStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, st := range stats {
		if !slices.Contains(analytics.Segments, analytics.Segment(st.Segment)) {
			t.Errorf("unknown segment %q", st.Segment)
		}
		n += st.Customers
	}
	if n != int64(customers) || len(stats) < 4 {
		t.Fatalf("segments cover %d customers in %d segments, want %d in several", n, len(stats), customers)
	}

	// Cohort sizes add up to the customers; month 0 has everyone active.
	cells, _, err := s.Cohorts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var acquired int64
	for _, c := range cells {
		if c.MonthOffset == 0 {
			acquired += c.Size
			if c.Active != c.Size {
				t.Fatalf("cohort %v: %d active in its first month of %d", c.Month, c.Active, c.Size)
			}
		}
	}
	if acquired != int64(customers) {
		t.Fatalf("cohorts hold %d customers, want %d", acquired, customers)
	}

	// The models are stored with their statistics.
	m, err := s.LatestModelVersion(ctx, store.ModelCLV)
	if err != nil {
		t.Fatal(err)
	}
	var p modeldoc.CLVParams
	var met modeldoc.CLVMetrics
	if err := json.Unmarshal(m.Params, &p); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(m.Metrics, &met); err != nil {
		t.Fatal(err)
	}
	if p.BGNBD.R <= 0 || p.GammaGamma.Q <= 1 || met.Customers != customers || met.BGNBDLogLikelihood >= 0 || met.HorizonMonths != 12 || met.DiscountRate != 0.10 {
		t.Fatalf("CLV model %s, metrics %s", m.Params, m.Metrics)
	}
	if met.MeanCLV == nil || *met.MeanCLV <= 0 || met.TotalCLV == nil || *met.TotalCLV < *met.MeanCLV ||
		met.MeanProbAlive == nil || *met.MeanProbAlive <= 0 || *met.MeanProbAlive > 1 {
		t.Fatalf("CLV metrics %s; want a positive mean and total CLV and a mean P(alive) in (0, 1]", m.Metrics)
	}
	seg1, err := s.LatestModelVersion(ctx, store.ModelSegments)
	if err != nil {
		t.Fatal(err)
	}
	var sm modeldoc.SegmentsMetrics
	if err := json.Unmarshal(seg1.Metrics, &sm); err != nil {
		t.Fatal(err)
	}
	size := 0
	for _, c := range sm.Clusters {
		size += c.Size
		if len(c.TopCategories) == 0 {
			t.Errorf("cluster %d has no top categories", c.Cluster)
		}
	}
	if size != customers || len(sm.Clusters) != rep.K || sm.Silhouette == nil {
		t.Fatalf("segments metrics %s", seg1.Metrics)
	}

	// A second run on the same data and seed, in another process (this
	// one would keep the models of the day), fits the same models.
	rep2, err := newRefresh(t, RefreshConfig{Store: s, Seed: 5}).RunOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	seg2, err := s.LatestModelVersion(ctx, store.ModelSegments)
	if err != nil {
		t.Fatal(err)
	}
	if rep2.CLVVersion != 2 || seg2.Version != 2 || !bytes.Equal(seg1.Params, seg2.Params) || !bytes.Equal(seg1.Metrics, seg2.Metrics) {
		t.Fatalf("second run: report %+v; segments model %s, want %s", *rep2, seg2.Params, seg1.Params)
	}

	// Too few customers to refit: the previous model is kept and used.
	keep := newRefresh(t, RefreshConfig{Store: s, Seed: 5, MinCustomers: 1_000_000})
	rep3, err := keep.RunOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep3.CLVFitted || rep3.CLVVersion != 2 || rep3.CLVNote == "" {
		t.Fatalf("refresh without refit: %+v, want CLV model 2 kept with a note", *rep3)
	}
	top, err := s.TopCustomers(ctx, 1)
	if err != nil || len(top) != 1 || top[0].CLV.ModelVersion != 2 {
		t.Fatalf("top customer after keeping the model: %+v, %v", top, err)
	}
}

// The cohort matrix of a hand-checked example goes through the store and
// the refresh unchanged; four customers are too few for CLV.
func TestRefreshHandCheckedCohorts(t *testing.T) {
	t.Parallel()
	s := openSQLite(t)
	ctx := context.Background()
	var txs []store.Tx
	for _, days := range handCohortDays {
		for _, d := range days {
			txs = append(txs, storetest.Tx(fmt.Sprintf("t%d", len(txs)), d.CustomerID, d.Day.Add(10*time.Hour), d.AmountCents, 0, int64(len(txs))))
		}
	}
	if err := s.WriteBatch(ctx, &store.Batch{Group: "test", Topic: "t", Parts: []store.Part{{From: 0, To: int64(len(txs)), Txs: txs}}}); err != nil {
		t.Fatal(err)
	}
	rep, err := newRefresh(t, RefreshConfig{Store: s}).RunOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Customers != 4 || rep.CLVVersion != 0 || rep.CLVNote == "" || !rep.AsOf.Equal(day(2026, 3, 15).Add(10*time.Hour)) {
		t.Fatalf("report %+v", *rep)
	}
	cells, _, err := s.Cohorts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.EqualFunc(cells, handCohorts, func(a, b store.CohortCell) bool {
		return a.Month.Equal(b.Month) && a.MonthOffset == b.MonthOffset && a.Size == b.Size && a.Active == b.Active && a.RevenueCents == b.RevenueCents
	}) {
		t.Fatalf("stored cohorts =\n%s\nwant\n%s", fmtCells(cells), fmtCells(handCohorts))
	}
	// Without a CLV model the customer still has RFM scores and a cluster.
	p, err := s.CustomerProfile(ctx, "A")
	if err != nil {
		t.Fatal(err)
	}
	a := p.Analytics
	// A: last purchase 3 March, as of 15 March: 12 days; 3 purchase days;
	// 180.00 spent, third of 35, 40, 180, 200: mid-rank 2.5 of 4, so
	// M = 1 + ⌊5 · 2.5/4⌋ = 4.
	if a == nil || a.CLV != nil || a.Cluster == nil || a.RecencyDays != 12 || a.FrequencyDays != 3 || a.MonetaryCents != 18000 || a.M != 4 {
		t.Fatalf("analytics of A = %+v", a)
	}
}

// A second instance on PostgreSQL does not refresh while the first leads.
func TestRefreshLeaderPostgres(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	a, b := openPostgres(t, url), openPostgres(t, url)
	fill(t, a, 3, 100, 2_000)
	ctx := context.Background()

	leading, proceed := make(chan struct{}), make(chan struct{})
	ra := newRefresh(t, RefreshConfig{Store: a})
	ra.testHookLeading = func() {
		close(leading)
		<-proceed
	}
	done := make(chan error)
	go func() { _, err := ra.RunOnce(ctx); done <- err }()
	<-leading

	rb := newRefresh(t, RefreshConfig{Store: b})
	if _, err := rb.RunOnce(ctx); !errors.Is(err, ErrSkipped) {
		t.Fatalf("second instance while the first leads: %v, want ErrSkipped", err)
	}
	// Through a runner, the skip is counted as such.
	runner, err := NewRunner(Config{Logger: quiet}, rb.Job(time.Hour, 0))
	if err != nil {
		t.Fatal(err)
	}
	runner.once(ctx, runner.jobs[0])
	if got := testutilCount(runner, "skipped"); got != 1 {
		t.Fatalf("skipped runs = %v, want 1", got)
	}
	close(proceed)
	if err := <-done; err != nil {
		t.Fatalf("leader: %v", err)
	}
	// The lead is free again.
	rep, err := rb.RunOnce(ctx)
	if err != nil || rep.CLVVersion != 2 {
		t.Fatalf("second instance after the first finished: %+v, %v; want CLV model version 2", rep, err)
	}
}

func testutilCount(r *Runner, outcome string) float64 {
	return testutil.ToFloat64(r.runs.WithLabelValues(r.jobs[0].Name, outcome))
}

// Again asks for a catch-up run while the figures lag a growing
// population, and not once they are complete and the population steady,
// or when nothing was added since the last run.
func TestRefreshAgain(t *testing.T) {
	t.Parallel()
	s := openSQLite(t)
	g, err := generate.New(generate.Config{Seed: 3, Customers: 400})
	if err != nil {
		t.Fatal(err)
	}
	off := int64(0)
	add := func(n int) {
		t.Helper()
		txs := make([]store.Tx, 0, n)
		for range n {
			rec := g.Next()
			var ev event.Transaction
			if err := event.Decode(rec.Value, &ev); err != nil {
				t.Fatal(err)
			}
			txs = append(txs, pipeline.NewTx(&ev, 0, off+int64(len(txs)), rec.EventTime, nil))
		}
		err := s.WriteBatch(context.Background(), &store.Batch{Group: "test", Topic: "transactions",
			Parts: []store.Part{{Partition: 0, From: off, To: off + int64(n), Txs: txs}}})
		if err != nil {
			t.Fatal(err)
		}
		off += int64(n)
	}
	r := newRefresh(t, RefreshConfig{Store: s, Seed: 1, K: 2, CatchUp: 7 * time.Second})
	run := func(want time.Duration, why string) {
		t.Helper()
		rep, err := r.RunOnce(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if got := r.Again(); got != want {
			t.Fatalf("after a run that %s (%d customers, CLV model %d, clustering %d): Again() = %v, want %v",
				why, rep.Customers, rep.CLVVersion, rep.SegmentsVersion, got, want)
		}
	}
	if got := r.Again(); got != 0 {
		t.Fatalf("before any run: Again() = %v, want 0", got)
	}
	// With the catch-up off (process), a run that found nothing stored
	// asks for no sooner run.
	noCatchUp := newRefresh(t, RefreshConfig{Store: s, Seed: 1, K: 2, CatchUp: -1})
	if _, err := noCatchUp.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := noCatchUp.Again(); got != 0 {
		t.Fatalf("catch-up off, after a run that found nothing stored: Again() = %v, want 0", got)
	}
	run(7*time.Second, "found nothing stored")
	add(30)
	run(7*time.Second, "had too few customers for CLV")
	run(0, "found nothing new")
	add(6_000)
	run(7*time.Second, "saw the population grow more than 10%")
	add(20)
	run(0, "saw it complete and steady")
}

// A run as of the same day over a population changed by less than 1%
// keeps the models and writes only the rows whose values changed, and
// what is stored is then exactly what writing every row would store.
func TestRefreshKeepsModelsOfTheDay(t *testing.T) {
	t.Parallel()
	for name, s := range map[string]testStore{"SQLite": openSQLite(t), "PostgreSQL": openPostgres(t, pgtest.URL(t))} {
		t.Run(name, func(t *testing.T) { testKeepsModels(t, s) })
	}
}

func testKeepsModels(t *testing.T, s testStore) {
	ctx := context.Background()
	fill(t, s, 13, 300, 5_000)
	r := newRefresh(t, RefreshConfig{Store: s, Seed: 2, K: 3})
	run := func() *RefreshReport {
		t.Helper()
		rep, err := r.RunOnce(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	stored := func() map[string]store.CustomerAnalytics {
		t.Helper()
		rows, err := s.TopCustomers(ctx, 1_000_000)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]store.CustomerAnalytics{}
		for _, a := range rows {
			a.UpdatedAt = time.Time{}
			out[a.CustomerID] = a
		}
		return out
	}
	first := run()
	if first.ModelsKept || !first.CLVFitted || first.SegmentsVersion == 0 || first.RowsWritten != first.Customers {
		t.Fatalf("first run: %+v; want models fitted and every row written", first)
	}
	again := run()
	if !again.ModelsKept || again.CLVFitted || again.CLVVersion != first.CLVVersion || again.SegmentsVersion != first.SegmentsVersion || again.RowsWritten != 0 {
		t.Fatalf("run on the same data: %+v; want the models kept and nothing written", again)
	}

	// Two customers buy again, at the latest stored instant, so the as-of
	// day stays.
	latest, err := s.LatestPurchase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	before := stored()
	var buyers []string
	for id := range before {
		if len(buyers) < 2 {
			buyers = append(buyers, id)
		}
	}
	offs, err := s.Offsets(ctx, "test", "transactions")
	if err != nil {
		t.Fatal(err)
	}
	off := offs[0]
	var txs []store.Tx
	for i, id := range buyers {
		txs = append(txs, store.Tx{TransactionID: fmt.Sprintf("again-%d", i), CustomerID: id, EventTime: latest, TotalCents: 12_345,
			Currency: "EUR", PaymentMethod: "card", Channel: "web", BillingCountry: "DE", ShippingCountry: "DE",
			ItemsJSON: []byte(`[{"product_id":"P1","category":"books","quantity":1,"unit_price":123.45}]`),
			Offset:    off + int64(i), Decision: "approve", ReasonsJSON: []byte("[]"), ProducedAt: latest})
	}
	if err := s.WriteBatch(ctx, &store.Batch{Group: "test", Topic: "transactions",
		Parts: []store.Part{{Partition: 0, From: off, To: off + int64(len(txs)), Txs: txs}}}); err != nil {
		t.Fatal(err)
	}
	third := run()
	if !third.ModelsKept || third.RowsWritten < len(buyers) || third.RowsWritten >= third.Customers {
		t.Fatalf("run after %d purchases: %+v; want the models kept and a few rows written", len(buyers), third)
	}
	after := stored()
	for _, id := range buyers {
		if after[id].MonetaryCents != before[id].MonetaryCents+12_345 {
			t.Errorf("customer %s: monetary %d after buying for 12345 more than %d", id, after[id].MonetaryCents, before[id].MonetaryCents)
		}
	}
	// Writing every row (as if this process had written none) stores
	// nothing different.
	r.wrote, r.wroteFP = idList{}, nil
	all := run()
	if !all.ModelsKept || all.RowsWritten != all.Customers {
		t.Fatalf("run without the written rows' record: %+v; want the models kept and every row written", all)
	}
	if full := stored(); !reflect.DeepEqual(full, after) {
		t.Fatalf("the rows written selectively differ from those of a full write (%d and %d rows)", len(after), len(full))
	}
	// Another instance refreshes (and writes every row with its models):
	// this one then fits anew and writes every row too.
	if _, err := newRefresh(t, RefreshConfig{Store: s, Seed: 2, K: 3}).RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if rep := run(); rep.ModelsKept || !rep.CLVFitted || rep.RowsWritten != rep.Customers {
		t.Fatalf("run after another instance's: %+v; want models fitted and every row written", rep)
	}
}

// TestRefreshDegenerateCLV: a week of history (what `shopstream run` used
// to backfill) gives a degenerate BG/NBD fit; the refresh stores it as
// such, with what is missing, and gives no customer a CLV from it.
func TestRefreshDegenerateCLV(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openSQLite(t)
	fill(t, s, 3, 20_000, 4_000)
	r := newRefresh(t, RefreshConfig{Store: s, Seed: 1})
	rep, err := r.RunOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(rep.CLVNote, "needs at least 8 weeks of repeat purchases") || rep.CLVVersion == 0 {
		t.Fatalf("refresh report %+v; want a stored degenerate model and a note saying what is missing", rep)
	}
	mv, err := s.LatestModelVersion(ctx, store.ModelCLV)
	if err != nil {
		t.Fatal(err)
	}
	var m modeldoc.CLVMetrics
	if err := json.Unmarshal(mv.Metrics, &m); err != nil {
		t.Fatal(err)
	}
	if m.FitCheck == nil || !m.FitCheck.Degenerate || m.FitCheck.HistoryWeeks > 1.2 {
		t.Fatalf("stored metrics %s; want fit_check degenerate over about a week of history", mv.Metrics)
	}
	// It predicted nobody: no mean or total CLV to read as zero.
	if m.MeanCLV != nil || m.TotalCLV != nil || m.MeanProbAlive != nil || !strings.Contains(string(mv.Metrics), `"mean_clv":null`) {
		t.Fatalf("stored metrics %s; want mean_clv, total_clv and mean_p_alive null for a degenerate model", mv.Metrics)
	}
	stats, err := s.SegmentStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	scored := int64(0)
	for _, st := range stats {
		scored += st.Customers
		if st.MeanCLV != nil {
			t.Fatalf("segment %s has a mean CLV %v from a degenerate model", st.Segment, *st.MeanCLV)
		}
	}
	if scored == 0 {
		t.Fatal("no customers scored")
	}
	// The same process's next run, nothing stored since, keeps the day's
	// models, the degenerate fit among them: no new version, no row
	// written again.
	again, err := r.RunOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !again.ModelsKept || again.CLVFitted || again.CLVVersion != 0 || again.RowsWritten != 0 || !strings.Contains(again.CLVNote, "is degenerate") {
		t.Fatalf("next run: %+v; want the day's models kept, no CLV, no row written", again)
	}
	if mv2, err := s.LatestModelVersion(ctx, store.ModelCLV); err != nil || mv2.Version != mv.Version {
		t.Fatalf("latest CLV model after the next run: %+v, %v; want version %d still", mv2, err, mv.Version)
	}
	// The next refresh without a refit (too few customers for it) keeps
	// saying so instead of using the degenerate model.
	rep, err = newRefresh(t, RefreshConfig{Store: s, Seed: 1, MinCustomers: 1_000_000}).RunOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.CLVVersion != 0 || !strings.Contains(rep.CLVNote, "is degenerate") {
		t.Fatalf("refresh without a refit: %+v; want no CLV, saying the latest model is degenerate", rep)
	}
}

// timedWrites records when each chunk of customer rows was written.
type timedWrites struct {
	testStore
	mu    sync.Mutex
	spans [][2]time.Time
}

func (s *timedWrites) WriteCustomerAnalytics(ctx context.Context, rows []store.CustomerAnalytics) error {
	began := time.Now()
	err := s.testStore.WriteCustomerAnalytics(ctx, rows)
	s.mu.Lock()
	s.spans = append(s.spans, [2]time.Time{began, time.Now()})
	s.mu.Unlock()
	return err
}

// While the processor is behind, the refresh waits after each chunk of
// customer rows as long again as the chunk took (busy share 0.5).
func TestRefreshPacesWritesWhileBusy(t *testing.T) {
	s := &timedWrites{testStore: openSQLite(t)}
	if n := fill(t, s, 3, 8000, 20_000); n <= store.AnalyticsChunk {
		t.Fatalf("%d customers, want more than one chunk of %d", n, store.AnalyticsChunk)
	}
	r := newRefresh(t, RefreshConfig{Store: s, K: 2, Busy: func() bool { return true }, BusyShare: 0.5})
	if _, err := r.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(s.spans) < 2 {
		t.Fatalf("%d chunks written, want at least 2", len(s.spans))
	}
	for i := 1; i < len(s.spans); i++ {
		took, gap := s.spans[i-1][1].Sub(s.spans[i-1][0]), s.spans[i][0].Sub(s.spans[i-1][1])
		if gap < took {
			t.Errorf("chunk %d began %v after chunk %d ended, which took %v: want a wait at least as long", i, gap, i-1, took)
		}
	}
}

// timedTail records when each page of the purchase tail was read.
type timedTail struct {
	*sqlite.Store
	mu    sync.Mutex
	spans [][2]time.Time
}

func (s *timedTail) PurchaseTotals(ctx context.Context, after store.PurchaseCursor, limit int, fn func(*store.PurchaseTotal) error) (store.PurchaseCursor, error) {
	began := time.Now()
	c, err := s.Store.PurchaseTotals(ctx, after, limit, fn)
	s.mu.Lock()
	s.spans = append(s.spans, [2]time.Time{began, time.Now()})
	s.mu.Unlock()
	return c, err
}

// While the processor is behind, the refresh also waits after each page
// of purchases it reads into its fold as long again as the page took
// (busy share 0.5).
func TestRefreshPacesReadsWhileBusy(t *testing.T) {
	s := &timedTail{Store: openSQLite(t).(*sqlite.Store)}
	fill(t, s, 5, 3000, 2*tailPage+500) // one partition: three pages, then an empty read
	r := newRefresh(t, RefreshConfig{Store: s, K: 2, Busy: func() bool { return true }, BusyShare: 0.5})
	rep, err := r.RunOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Read != "full" || len(s.spans) < 4 {
		t.Fatalf("read %q in %d pages, want the fold's full read in at least 4", rep.Read, len(s.spans))
	}
	for i := 1; i < 4; i++ {
		took, gap := s.spans[i-1][1].Sub(s.spans[i-1][0]), s.spans[i][0].Sub(s.spans[i-1][1])
		if gap < took {
			t.Errorf("page %d read %v after page %d ended, which took %v: want a wait at least as long", i, gap, i-1, took)
		}
	}
}

// TestRefreshWarnsOfCurrencies: a refresh over a store holding EUR and
// USD says that it adds their amounts as one; over one currency it does
// not.
func TestRefreshWarnsOfCurrencies(t *testing.T) {
	t.Parallel()
	for _, curs := range [][]string{{"EUR", "EUR"}, {"EUR", "USD"}} {
		s := openSQLite(t)
		ctx := context.Background()
		var txs []store.Tx
		for i, c := range curs {
			tx := storetest.Tx(fmt.Sprintf("t%d", i), fmt.Sprintf("c%d", i), day(2026, 3, 1+i).Add(10*time.Hour), 1000, 0, int64(i))
			tx.Currency = c
			txs = append(txs, tx)
		}
		if err := s.WriteBatch(ctx, &store.Batch{Group: "test", Topic: "t", Parts: []store.Part{{From: 0, To: int64(len(txs)), Txs: txs}}}); err != nil {
			t.Fatal(err)
		}
		var logs bytes.Buffer
		if _, err := newRefresh(t, RefreshConfig{Store: s, Logger: slog.New(slog.NewTextHandler(&logs, nil))}).RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		warned := strings.Contains(logs.String(), "several currencies as one") && strings.Contains(logs.String(), "currencies=EUR,USD")
		if warned != (curs[1] == "USD") {
			t.Errorf("currencies %v: warned %v\n%s", curs, warned, logs.String())
		}
	}
}

// TestRefreshInTheShopsCurrency: the CLV models' spend is in major units
// of the store's one currency: a repeat purchase of ¥3,000 (3,000 minor
// units) is 3000, where €30.00 (3,000 minor units) is 30; read from the
// store and from the fold alike.
func TestRefreshInTheShopsCurrency(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		currency string
		want     float64
	}{{"JPY", 3000}, {"EUR", 30}} {
		s := openSQLite(t)
		ctx := context.Background()
		var txs []store.Tx
		for i, cents := range []int64{1000, 3000} {
			tx := storetest.Tx(fmt.Sprintf("t%d", i), "c0", day(2026, 3, 1+7*i).Add(10*time.Hour), cents, 0, int64(i))
			tx.Currency = c.currency
			txs = append(txs, tx)
		}
		if err := s.WriteBatch(ctx, &store.Batch{Group: "test", Topic: "t", Parts: []store.Part{{From: 0, To: int64(len(txs)), Txs: txs}}}); err != nil {
			t.Fatal(err)
		}
		r := newRefresh(t, RefreshConfig{Store: s})
		var got []float64
		r.testHookPopulation = func(p *population, _ []store.CohortCell) {
			for _, s := range p.sums {
				got = append(got, s.MonetaryMean)
			}
		}
		for range 2 { // from the store, then from the fold
			if _, err := r.RunOnce(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if len(got) != 2 || got[0] != c.want || got[1] != c.want {
			t.Errorf("%s: repeat spend %v, want %v (read, then folded)", c.currency, got, c.want)
		}
	}
}
