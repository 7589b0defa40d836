package fraudmetrics

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/fraud"
	"github.com/shopstream/shopstream/internal/store"
)

var base = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func outcome(min int, risk float64, decision string, labelled, isFraud bool, scenario string) store.Outcome {
	return store.Outcome{EventTime: base.Add(time.Duration(min) * time.Minute), Risk: risk, Decision: decision,
		Labelled: labelled, Fraud: isFraud, Scenario: scenario}
}

// Four labelled: a caught fraud, a missed fraud, a false alarm, a true
// negative; one unlabelled. Precision 1/2, recall 1/2, FPR 1/2.
// Risks 0.9 F, 0.3 F, 0.5 L, 0.1 L: ROC-AUC (2 + 1) / 4 = 0.75.
func fixture() *store.Outcomes {
	rows := []store.Outcome{
		outcome(0, 0.9, "decline", true, true, "card_testing"),
		outcome(1, 0.3, "approve", true, true, ""),
		outcome(2, 0.5, "review", true, false, ""),
		outcome(3, 0.1, "approve", true, false, ""),
		outcome(4, 0.2, "approve", false, false, ""),
	}
	rows[0].HasShadow, rows[0].ShadowRisk = true, 0.2
	rows[2].HasShadow, rows[2].ShadowRisk = true, 0.8
	return &store.Outcomes{Rows: rows, AsOf: base.Add(4 * time.Minute)}
}

func TestCompute(t *testing.T) {
	t.Parallel()
	r := Compute(fixture(), Inputs{Window: "all", Thresholds: fraud.ScorerConfig{ReviewAt: 0.4}, ShadowVersion: 3, Now: base})
	if r.Transactions != 5 || r.Labelled != 4 || r.Fraud != 2 || r.Flagged != 2 {
		t.Fatalf("counts = %+v", r)
	}
	for name, got := range map[string][2]float64{"precision": {r.Precision, 0.5}, "recall": {r.Recall, 0.5},
		"fpr": {r.FPR, 0.5}, "roc_auc": {r.ROCAUC, 0.75}} {
		if math.Abs(got[0]-got[1]) > 1e-9 {
			t.Errorf("%s = %v, want %v", name, got[0], got[1])
		}
	}
	if s := r.PerScenario["card_testing"]; s.Fraud != 1 || s.Caught != 1 || s.Recall != 1 {
		t.Errorf("card_testing = %+v", s)
	}
	if s := r.PerScenario["analyst"]; s.Fraud != 1 || s.Caught != 0 || s.Recall != 0 {
		t.Errorf("analyst = %+v", s)
	}
	// The shadow ranks the legitimate one above the fraud: PR-AUC 1/2.
	if r.Shadow == nil || r.Shadow.Version != 3 || r.Shadow.Rows != 2 || r.Shadow.Fraud != 1 || r.Shadow.PRAUC != 0.5 || r.Shadow.ActivePRAUC != 1 {
		t.Errorf("shadow = %+v", r.Shadow)
	}
	var labelled int
	for _, p := range r.Series {
		labelled += p.Labelled
	}
	if len(r.Series) != 4 || labelled != 4 || r.Series[0].Start != base {
		t.Errorf("series = %+v", r.Series)
	}
	if r.Thresholds.ReviewAt != 0.4 || !r.AsOf.Equal(base.Add(4*time.Minute)) {
		t.Errorf("inputs not carried: %+v", r)
	}
}

func TestComputeNothingLabelled(t *testing.T) {
	t.Parallel()
	r := Compute(&store.Outcomes{Rows: []store.Outcome{outcome(0, 0.5, "review", false, false, "")}}, Inputs{})
	if !math.IsNaN(r.Precision) || !math.IsNaN(r.Recall) || !math.IsNaN(r.PRAUC) || r.Shadow != nil || len(r.Series) != 0 {
		t.Errorf("undefined rates must be NaN and the series empty: %+v", r)
	}
}

// rollupsOf folds outcomes into the rollups a store would answer for
// everything, minute rows only.
func rollupsOf(out *store.Outcomes) *store.Rollups {
	var f store.RollupFold
	for i := range out.Rows {
		f.Add(&out.Rows[i], 1)
	}
	r := &store.Rollups{Histograms: map[string]*store.Histogram{}}
	for _, row := range f.Rows() {
		if row.Granularity != store.Minute {
			continue
		}
		if r.Oldest.IsZero() || row.Start.Before(r.Oldest) {
			r.Oldest = row.Start
		}
		if end := row.Start.Add(time.Minute); end.After(r.AsOf) {
			r.AsOf = end
		}
		if row.Series == store.SeriesOutcomes {
			r.Outcomes = append(r.Outcomes, row)
			continue
		}
		h := r.Histograms[row.Series]
		if h == nil {
			h = &store.Histogram{}
			r.Histograms[row.Series] = h
		}
		switch row.Truth {
		case store.TruthFraud:
			h.Fraud[row.Bucket] += row.N
		case store.TruthNone:
			h.None[row.Bucket] += row.N
		default:
			h.Legit[row.Bucket] += row.N
		}
	}
	r.Since, r.Until = r.Oldest, r.AsOf
	return r
}

// The rollups give the same figures as the outcomes they fold, where the
// risks lie in distinct buckets.
func TestComputeRollupsMatchesCompute(t *testing.T) {
	t.Parallel()
	in := Inputs{Window: "all", Thresholds: fraud.ScorerConfig{ReviewAt: 0.4}, ShadowVersion: 3, Now: base}
	want, got := Compute(fixture(), in), ComputeRollups(rollupsOf(fixture()), in)
	if got.Transactions != want.Transactions || got.Labelled != want.Labelled || got.Fraud != want.Fraud ||
		got.Flagged != want.Flagged || got.AnalystLabelled != want.AnalystLabelled || got.Sampled || got.RiskBuckets != store.RiskBuckets {
		t.Fatalf("counts from rollups = %+v, from outcomes %+v", got, want)
	}
	for name, v := range map[string][2]float64{"precision": {got.Precision, want.Precision}, "recall": {got.Recall, want.Recall},
		"fpr": {got.FPR, want.FPR}, "pr_auc": {got.PRAUC, want.PRAUC}, "roc_auc": {got.ROCAUC, want.ROCAUC},
		"shadow pr_auc": {got.Shadow.PRAUC, want.Shadow.PRAUC}, "active pr_auc": {got.Shadow.ActivePRAUC, want.Shadow.ActivePRAUC}} {
		if math.Abs(v[0]-v[1]) > 1e-9 {
			t.Errorf("%s = %v from rollups, %v from outcomes", name, v[0], v[1])
		}
	}
	if len(got.PerScenario) != len(want.PerScenario) || got.PerScenario["analyst"] != want.PerScenario["analyst"] ||
		got.PerScenario["card_testing"] != want.PerScenario["card_testing"] {
		t.Errorf("per scenario = %+v, want %+v", got.PerScenario, want.PerScenario)
	}
	if len(got.Series) != len(want.Series) || got.Series[0].Labelled != want.Series[0].Labelled || !got.Series[0].Start.Equal(want.Series[0].Start) {
		t.Errorf("series = %+v, want %+v", got.Series, want.Series)
	}
	if *got.Shadow != *want.Shadow {
		t.Errorf("shadow = %+v, want %+v", got.Shadow, want.Shadow)
	}
}

// Risks within one bucket count as tied: two frauds below two legitimate
// ones in exact risk, all in bucket 50, give ROC-AUC 1/2 instead of 0.
func TestComputeRollupsTiesWithinABucket(t *testing.T) {
	t.Parallel()
	out := &store.Outcomes{Rows: []store.Outcome{
		outcome(0, 0.501, "review", true, true, "x"), outcome(0, 0.502, "review", true, true, "x"),
		outcome(0, 0.503, "review", true, false, ""), outcome(0, 0.504, "review", true, false, ""),
	}}
	if exact := Compute(out, Inputs{}).ROCAUC; exact != 0 {
		t.Fatalf("exact ROC-AUC = %v, want 0", exact)
	}
	if got := ComputeRollups(rollupsOf(out), Inputs{}).ROCAUC; got != 0.5 {
		t.Fatalf("ROC-AUC from rollups = %v, want 0.5", got)
	}
}

// fakeStore answers FraudRollups from the fixture and counts the calls.
type fakeStore struct {
	store.Fraud
	calls int
	err   error
}

func (f *fakeStore) FraudRollups(_ context.Context, q store.RollupQuery) (*store.Rollups, error) {
	f.calls++
	if q.Span != time.Hour {
		return nil, errors.New("unexpected window")
	}
	return rollupsOf(fixture()), f.err
}

func TestServiceCachesAndRejectsUnknownWindows(t *testing.T) {
	t.Parallel()
	fs := &fakeStore{}
	s, err := New(Config{Store: fs, Thresholds: func() fraud.ScorerConfig { return fraud.ScorerConfig{} }, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.Report(context.Background(), "1h")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := s.Report(context.Background(), "1h")
	if fs.calls != 1 || a != b {
		t.Errorf("%d store reads for two reports within the TTL, want 1", fs.calls)
	}
	if a.Labelled != 4 || a.Window != "1h" {
		t.Errorf("report = %+v", a)
	}
	if _, err := s.Report(context.Background(), "8d"); !errors.Is(err, ErrUnknownWindow) {
		t.Errorf("window 8d: err = %v, want ErrUnknownWindow", err)
	}
	if _, err := New(Config{Store: fs}); err == nil {
		t.Error("New accepted a Config without Thresholds")
	}
	type noRollups struct{ store.Fraud }
	if _, err := New(Config{Store: noRollups{}, Thresholds: func() fraud.ScorerConfig { return fraud.ScorerConfig{} }}); err == nil {
		t.Error("New accepted a store that keeps no rollups")
	}
	fs2 := &fakeStore{err: errors.New("db down")}
	s2, _ := New(Config{Store: fs2, Thresholds: func() fraud.ScorerConfig { return fraud.ScorerConfig{} }})
	if _, err := s2.Report(context.Background(), "1h"); err == nil {
		t.Error("a store error was not returned")
	}
}

// TestComputeRollupsPendingAndPresumedLegit: unlabelled transactions past
// the label window count as legitimate, younger ones as pending by the
// decision taken.
func TestComputeRollupsPendingAndPresumedLegit(t *testing.T) {
	asOf := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	old, young := asOf.Add(-90*24*time.Hour), asOf.Add(-time.Hour)
	row := func(start time.Time, truth, decision string, n int64) store.FraudRollup {
		return store.FraudRollup{Granularity: store.Minute, Start: start, Bucket: -1, Truth: truth, Decision: decision, N: n}
	}
	r := &store.Rollups{AsOf: asOf, Outcomes: []store.FraudRollup{
		row(old, store.TruthNone, "approve", 90), row(old, store.TruthNone, "review", 6), row(old, store.TruthFraud, "review", 4),
		row(young, store.TruthNone, "review", 3), row(young, store.TruthNone, "approve", 50), row(young, store.TruthFraud, "approve", 1),
	}}
	m := ComputeRollups(r, Inputs{LabelWindow: 60 * 24 * time.Hour})
	if m.PresumedLegit != 96 || m.Pending != (Pending{Alerted: 3, Unalerted: 50}) || m.Labelled != 5 {
		t.Fatalf("presumed legit %d, pending %+v, labelled %d; want 96, {3 50}, 5", m.PresumedLegit, m.Pending, m.Labelled)
	}
	// Flagged: 6 presumed legit + 4 fraud; fraud: 4 caught + 1 missed.
	if m.Precision != 0.4 || m.Recall != 0.8 {
		t.Fatalf("precision %v recall %v, want 0.4 and 0.8", m.Precision, m.Recall)
	}
	if m := ComputeRollups(r, Inputs{}); m.PresumedLegit != 0 || m.Pending.Unalerted != 140 || m.Precision != 1 {
		t.Fatalf("without a label window: presumed %d, pending %+v, precision %v", m.PresumedLegit, m.Pending, m.Precision)
	}
}
