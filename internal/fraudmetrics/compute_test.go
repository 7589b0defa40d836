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

// fakeStore answers FraudOutcomes and counts the calls.
type fakeStore struct {
	store.Fraud
	calls int
	err   error
}

func (f *fakeStore) FraudOutcomes(_ context.Context, q store.OutcomeQuery) (*store.Outcomes, error) {
	f.calls++
	if q.Window != time.Hour {
		return nil, errors.New("unexpected window")
	}
	return fixture(), f.err
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
	if _, err := s.Report(context.Background(), "7d"); !errors.Is(err, ErrUnknownWindow) {
		t.Errorf("window 7d: err = %v, want ErrUnknownWindow", err)
	}
	if _, err := New(Config{Store: fs}); err == nil {
		t.Error("New accepted a Config without Thresholds")
	}
	fs2 := &fakeStore{err: errors.New("db down")}
	s2, _ := New(Config{Store: fs2, Thresholds: func() fraud.ScorerConfig { return fraud.ScorerConfig{} }})
	if _, err := s2.Report(context.Background(), "1h"); err == nil {
		t.Error("a store error was not returned")
	}
}
