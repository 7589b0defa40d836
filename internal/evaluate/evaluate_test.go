package evaluate

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/fraud"
	"github.com/shopstream/shopstream/internal/generate"
	"github.com/shopstream/shopstream/internal/testrace"
)

// heldOutSeed is the generator seed the figures are reported on. Rules,
// features and thresholds were tuned on seeds 1 to 3 only.
const heldOutSeed = 42

// TestEvaluateDefaultMix holds the scoring chain to the design's target on
// a seed it was not tuned on: recall of at least 0.90 at a false-positive
// rate of at most 1%, on the generator's default fraud mix, with every
// scenario caught. 100,000 records, the first 20% training the forest.
func TestEvaluateDefaultMix(t *testing.T) {
	testrace.SkipUnderRace(t)
	t.Parallel()
	rep, err := Fraud(context.Background(), Config{Records: 100_000, Seed: heldOutSeed})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("held-out seed %d: %d scored, %d fraud; at review: precision %.3f recall %.3f FPR %.4f; "+
		"recall %.3f at FPR <= 1%% (rules alone %.3f, forest alone %.3f); PR-AUC %.3f ROC-AUC %.3f",
		heldOutSeed, rep.Scored, rep.Fraud, rep.Precision, rep.Recall, rep.FPR,
		rep.RecallAtFPR, rep.RulesRecallAtFPR, rep.ModelRecallAtFPR, rep.PRAUC, rep.ROCAUC)
	for _, s := range generate.Scenarios {
		sr := rep.Scenarios[s]
		t.Logf("  %-17s %4d records, recall %.3f at review, %.3f at FPR <= 1%%", s, sr.Count, sr.Recall, sr.RecallAtFPR)
	}
	if rep.Fraud < 500 || rep.Trained < 10_000 || rep.Scored < 75_000 {
		t.Fatalf("too small a run to judge: %+v", rep)
	}
	if rep.RecallAtFPR < 0.90 {
		t.Errorf("recall at FPR <= 1%% = %.3f, want >= 0.90", rep.RecallAtFPR)
	}
	// The default thresholds meet the target by themselves.
	if rep.Recall < 0.90 || rep.FPR > 0.01 {
		t.Errorf("at the review threshold: recall %.3f, FPR %.4f; want >= 0.90 and <= 0.01", rep.Recall, rep.FPR)
	}
	for _, s := range generate.Scenarios {
		sr := rep.Scenarios[s]
		if sr.Count == 0 {
			t.Errorf("scenario %s has no records", s)
		} else if sr.RecallAtFPR < 0.80 {
			t.Errorf("scenario %s: recall %.3f at FPR <= 1%%, want >= 0.80", s, sr.RecallAtFPR)
		}
	}
	if rep.ROCAUC < 0.95 || rep.PRAUC < 0.85 {
		t.Errorf("ROC-AUC %.3f, PR-AUC %.3f: ranking worse than expected", rep.ROCAUC, rep.PRAUC)
	}
}

func TestEvaluateSmallRuns(t *testing.T) {
	t.Parallel()
	// Without a model, and with bad records that quality quarantines.
	rep, err := Fraud(context.Background(), Config{Records: 5000, Seed: 5, NoModel: true, BadRate: 0.05})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Quarantined == 0 || rep.Trained != 0 || !math.IsNaN(rep.ModelRecallAtFPR) {
		t.Errorf("no-model run with bad records: %+v", rep)
	}
	if rep.Scored+rep.Quarantined > rep.Records {
		t.Errorf("%d scored + %d quarantined > %d records", rep.Scored, rep.Quarantined, rep.Records)
	}
	// No fraud at all: the rates that need positives are NaN, not made up.
	rep, err = Fraud(context.Background(), Config{Records: 2000, Seed: 5, FraudRate: -1})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Fraud != 0 || !math.IsNaN(rep.Recall) || !math.IsNaN(rep.ROCAUC) {
		t.Errorf("fraud-free run: %+v", rep)
	}
}

func TestEvaluateErrors(t *testing.T) {
	t.Parallel()
	for _, cfg := range []Config{
		{Records: 10},
		{TrainFraction: 1.5},
		{MaxFPR: 2},
		{Scorer: fraud.ScorerConfig{ReviewAt: 2}},
		{Demo: &Demo{Lifecycle: generate.DemoLifecycle, History: time.Hour, Live: time.Minute}},
		{Demo: &Demo{Lifecycle: generate.DemoLifecycle, Rate: 10, Live: time.Minute}},
	} {
		if _, err := Fraud(context.Background(), cfg); !errors.Is(err, fraud.ErrInvalidConfig) {
			t.Errorf("Fraud(%+v) = %v, want fraud.ErrInvalidConfig", cfg, err)
		}
	}
	if _, err := Fraud(context.Background(), Config{FraudRate: 0.9}); err == nil {
		t.Error("accepted a fraud rate the generator rejects")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Fraud(ctx, Config{Records: 100_000}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Fraud = %v", err)
	}
	if _, err := Fraud(ctx, Config{Demo: DemoDefaults()}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Fraud of the demo shop = %v", err)
	}
}

// TestEvaluateDemoShop holds the scoring chain to the live target on
// `shopstream run`'s shop (Demo: 540 days of history warm the state and
// train the forest, then 30 minutes of its live phase at 10 records a
// second are measured): precision of at least 0.5 at recall of at least
// 0.9 for review-or-decline decisions, on a seed the rules were not tuned
// on (they were tuned on demo seeds 1 to 3).
func TestEvaluateDemoShop(t *testing.T) {
	testrace.SkipUnderRace(t)
	if testing.Short() {
		t.Skip("540 days of history: about 400,000 records")
	}
	t.Parallel()
	rep, err := Fraud(context.Background(), Config{Seed: heldOutSeed, Customers: 1_000_000, BadRate: 0.001, Demo: DemoDefaults()})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("demo shop, seed %d: %d records, %d scored live, %d fraud, forest trained on %d; at review: precision %.3f recall %.3f FPR %.4f",
		heldOutSeed, rep.Records, rep.Scored, rep.Fraud, rep.Trained, rep.Precision, rep.Recall, rep.FPR)
	for _, s := range generate.Scenarios {
		sr := rep.Scenarios[s]
		t.Logf("  %-17s %4d records, recall %.3f at review", s, sr.Count, sr.Recall)
	}
	// 30 minutes at 10/s; the history is some 400,000 records before them.
	if rep.Scored < 17_900 || rep.Scored > 18_000 || rep.Records < 300_000 || rep.Trained != fraud.ModelSampleLimit {
		t.Fatalf("not the demo's stream: %d records, %d scored, forest trained on %d", rep.Records, rep.Scored, rep.Trained)
	}
	if rep.Fraud < 90 {
		t.Fatalf("%d fraud among %d live transactions: too few to judge (the configured rate is 1%%)", rep.Fraud, rep.Scored)
	}
	if rep.Precision < 0.5 || rep.Recall < 0.9 {
		t.Errorf("precision %.3f at recall %.3f, want >= 0.5 at >= 0.9", rep.Precision, rep.Recall)
	}
	if rep.FPR > 0.01 {
		t.Errorf("FPR %.4f, want <= 1%%", rep.FPR)
	}
}

// TestEvaluateDemoSmall measures only the live phase of a small demo shop:
// a week of history, then two minutes at 10/s.
func TestEvaluateDemoSmall(t *testing.T) {
	t.Parallel()
	lc := generate.DemoLifecycle
	lc.NewPerDay = 2_000
	d := &Demo{Lifecycle: lc, History: 7 * 24 * time.Hour, Rate: 10, Live: 2 * time.Minute}
	rep, err := Fraud(context.Background(), Config{Seed: 3, Customers: 50_000, BadRate: 0.01, Demo: d})
	if err != nil {
		t.Fatal(err)
	}
	live := int(d.Rate * d.Live.Seconds())
	if rep.Records <= live || rep.Scored+rep.Quarantined < live*9/10 || rep.Scored > live || rep.Trained == 0 {
		t.Fatalf("%d records, %d quarantined, %d scored live (want about %d), forest trained on %d",
			rep.Records, rep.Quarantined, rep.Scored, live, rep.Trained)
	}
	if rep.Fraud == 0 || math.IsNaN(rep.Recall) {
		t.Fatalf("no fraud measured in the live phase: %+v", rep)
	}
}

// TestEvaluateEntityRules: on a mix with rings and spread card testing,
// the second step (the default entity rules) catches ring orders the
// first step approves, and changes nothing without them. Of the
// approvals it raises, one or at most one in fifty is legit: honest
// accounts share a shipping address too (a gift sent to a friend who
// lives as a household of two makes three accounts at one address: one
// legit approval of 78 raised on this seed, of 37 since the first step
// holds more ring orders itself with stolen_card_high_value; none before
// addresses were carried), and the FPR rises by at most 0.05 points.
func TestEvaluateEntityRules(t *testing.T) {
	testrace.SkipUnderRace(t)
	t.Parallel()
	mix := map[string]float64{generate.FraudRing: 0.3, generate.SpreadCardTesting: 0.1}
	for _, s := range generate.Scenarios {
		mix[s] = 0.1
	}
	cfg := Config{Records: 40_000, Seed: heldOutSeed, FraudRate: 0.02, FraudMix: mix, NoModel: true}
	without, err := Fraud(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg.EntityRules = fraud.DefaultEntityRules()
	with, err := Fraud(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if without.Entity != nil || with.Entity == nil {
		t.Fatalf("entity reports: without %+v, with %+v", without.Entity, with.Entity)
	}
	e := with.Entity
	rw, rn := with.Scenarios[generate.FraudRing], without.Scenarios[generate.FraudRing]
	t.Logf("fraud_ring recall %.3f -> %.3f (%d records); card_testing_spread %.3f -> %.3f; raised %d (%d fraud), escalated %d; legit raised %v",
		rn.Recall, rw.Recall, rw.Count, without.Scenarios[generate.SpreadCardTesting].Recall, with.Scenarios[generate.SpreadCardTesting].Recall,
		e.Raised, e.RaisedFraud, e.Escalated, e.RaisedLegitByHonest)
	if rw.Count < 50 || rw.Recall <= rn.Recall || e.RaisedByScenario[generate.FraudRing] == 0 {
		t.Errorf("fraud_ring recall %.3f without, %.3f with the entity rules over %d records; raised %v", rn.Recall, rw.Recall, rw.Count, e.RaisedByScenario)
	}
	if e.Raised != e.RaisedFraud+sum(e.RaisedLegitByHonest) || e.Raised == 0 || e.Raised-e.RaisedFraud > max(1, e.Raised/50) {
		t.Errorf("legit approvals raised: %v (%d raised, %d fraud)", e.RaisedLegitByHonest, e.Raised, e.RaisedFraud)
	}
	if with.FPR > without.FPR+0.0005 {
		t.Errorf("FPR %.4f with the entity rules, %.4f without", with.FPR, without.FPR)
	}
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// TestEvaluateEntityModel: the entity forest is trained on the training
// part's entity events, every kind of entity, and its hits fall on fraud
// far more often than fraud occurs, though it raises few decisions the
// entity rules left (docs/fraud.md).
func TestEvaluateEntityModel(t *testing.T) {
	testrace.SkipUnderRace(t)
	t.Parallel()
	mix := map[string]float64{generate.FraudRing: 0.3, generate.SpreadCardTesting: 0.1}
	for _, s := range generate.Scenarios {
		mix[s] = 0.1
	}
	cfg := Config{Records: 40_000, Seed: heldOutSeed, FraudRate: 0.02, FraudMix: mix, NoModel: true,
		EntityRules: fraud.DefaultEntityRules(), EntityModel: true}
	rep, err := Fraud(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	e := rep.Entity
	if len(e.ModelTrained) != len(fraud.EntityKinds) {
		t.Fatalf("entity forest trained on %v", e.ModelTrained)
	}
	for k, n := range e.ModelTrained {
		if n < 1000 {
			t.Errorf("entity forest of %s trained on %d events", k, n)
		}
	}
	h := e.RuleHits[fraud.EntityModelRule]
	base := float64(rep.Fraud) / float64(rep.Scored)
	t.Logf("trained on %v; %d hits, %d fraud (fraud is %.3f of the records); %d raised only with its hit (%d fraud); raised %d (%d fraud)",
		e.ModelTrained, h.Hits, h.Fraud, base, e.ModelOnly, e.ModelOnlyFraud, e.Raised, e.RaisedFraud)
	if h.Hits == 0 || float64(h.Fraud)/float64(h.Hits) < 5*base {
		t.Errorf("entity forest hits %+v, fraud share %.3f", h, base)
	}
	if e.ModelOnly > e.Raised+e.Escalated || e.ModelOnlyFraud > e.ModelOnly {
		t.Errorf("raised only with the forest %d (%d fraud) of %d raised and %d escalated", e.ModelOnly, e.ModelOnlyFraud, e.Raised, e.Escalated)
	}
	cfg.EntityRules = nil
	if _, err := Fraud(context.Background(), cfg); !errors.Is(err, fraud.ErrInvalidConfig) {
		t.Errorf("entity forest without the second step: %v", err)
	}
}
