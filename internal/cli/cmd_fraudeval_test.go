package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shopstream/shopstream/internal/testrace"
)

func TestFraudEvalJSON(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := runFraudEval(context.Background(), []string{"--count", "20000", "--seed", "3", "--fraud-rate", "0.03", "--json"}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("runFraudEval: %v (stderr %q)", err, stderr.String())
	}
	if n := strings.Count(stdout.String(), "\n"); n != 1 {
		t.Errorf("printed %d lines, want one JSON object: %q", n, stdout.String())
	}
	var rep struct {
		Precision       *float64           `json:"precision"`
		Recall          *float64           `json:"recall"`
		FPR             *float64           `json:"fpr"`
		PRAUC           *float64           `json:"pr_auc"`
		ROCAUC          *float64           `json:"roc_auc"`
		RecallAt1pctFPR *float64           `json:"recall_at_1pct_fpr"`
		PerScenario     map[string]float64 `json:"per_scenario"`
		Fraud           int                `json:"fraud"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("decoding %q: %v", stdout.String(), err)
	}
	if rep.Precision == nil || rep.Recall == nil || rep.FPR == nil || rep.PRAUC == nil || rep.ROCAUC == nil || rep.RecallAt1pctFPR == nil {
		t.Fatalf("missing figures in %s", stdout.String())
	}
	if rep.Fraud == 0 || *rep.RecallAt1pctFPR < 0.8 || *rep.FPR > 0.02 {
		t.Errorf("implausible figures: %s", stdout.String())
	}
	for _, s := range []string{"card_testing", "account_takeover", "stolen_card", "bot_burst", "geo_mismatch"} {
		if _, ok := rep.PerScenario[s]; !ok {
			t.Errorf("per_scenario lacks %s: %v", s, rep.PerScenario)
		}
	}
}

func TestFraudEvalText(t *testing.T) {
	dir := t.TempDir()
	rules := filepath.Join(dir, "rules.json")
	if err := os.WriteFile(rules, []byte(`[{"name": "velocity", "when": "cust_count_10m >= 3", "weight": 0.9, "reason": "three orders in ten minutes"}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SHOPSTREAM_NO_MODEL", "true")
	var stdout, stderr bytes.Buffer
	// Enough records that bursts fall in the measured part, whatever the
	// generator draws: the rule table lists rules with hits.
	err := runFraudEval(context.Background(), []string{"--count", "20000", "--seed", "1", "--rules", rules}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("runFraudEval: %v", err)
	}
	for _, want := range []string{"rules only, no forest", "PR-AUC", "recall at FPR <= 1%", "bot_burst", "velocity"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, stdout.String())
		}
	}
}

func TestFraudEvalUsage(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`[{"name": "x", "when": "nope > 1", "weight": 0.5, "reason": "r"}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args  []string
		usage bool
		want  string
	}{
		{[]string{"--count", "10"}, true, "-count"},
		{[]string{"--train-fraction", "1"}, true, "-train-fraction"},
		{[]string{"--fraud-rate", "0.9"}, true, "FraudRate"},
		{[]string{"--review-at", "0.95", "--decline-at", "0.5"}, true, "below ReviewAt"},
		{[]string{"--bogus"}, true, "bogus"},
		{[]string{"--demo", "-1m"}, true, "-demo"},
		{[]string{"--entity-model", "--count", "1000"}, true, "-entity-model needs -entity-rules"},
		{[]string{"--entity-rules", "default", "--entity-model", "--entity-model-weight", "1"}, true, "-entity-model-weight"},
		{[]string{"--rules", bad, "--count", "1000"}, false, `rule "x": when: at column 1: unknown feature "nope"`},
		{[]string{"--rules", filepath.Join(dir, "missing.json")}, false, "reading --rules"},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		err := runFraudEval(context.Background(), tt.args, &stdout, &stderr)
		if err == nil {
			t.Errorf("%v: no error", tt.args)
			continue
		}
		if IsUsage(err) != tt.usage || !strings.Contains(err.Error()+stderr.String(), tt.want) {
			t.Errorf("%v: error %q (usage %v), want %q (usage %v)", tt.args, err, IsUsage(err), tt.want, tt.usage)
		}
	}
}

// TestFraudEvalDemo evaluates run's shop: its history is not measured, its
// live phase at 10/s is, and the flagged transactions are counted per rule.
func TestFraudEvalDemo(t *testing.T) {
	testrace.SkipUnderRace(t)
	if testing.Short() {
		t.Skip("540 days of history")
	}
	var stdout, stderr bytes.Buffer
	err := runFraudEval(context.Background(), []string{"--demo", "5m", "--seed", "5", "--json"}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("runFraudEval: %v (stderr %q)", err, stderr.String())
	}
	var rep struct {
		Records     int                `json:"records"`
		Quarantined int                `json:"quarantined"`
		Trained     int                `json:"trained"`
		Scored      int                `json:"scored"`
		Fraud       int                `json:"fraud"`
		FlaggedBy   map[string]ruleHit `json:"flagged_by"`
		RuleHits    map[string]ruleHit `json:"rule_hits"`
		PerScenario map[string]float64 `json:"per_scenario"`
		Counts      map[string]int     `json:"scenario_counts"`
		Entity      *struct {
			Raised int `json:"raised"`
		} `json:"entity"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("decoding %q: %v", stdout.String(), err)
	}
	// 5 minutes at 10/s, less the bad records (run's 0.1%); the history
	// before them is scored but not measured.
	if rep.Scored < 2950 || rep.Scored > 3000 || rep.Records < 100_000 || rep.Quarantined == 0 || rep.Trained == 0 {
		t.Fatalf("not run's shop measured live: %s", stdout.String())
	}
	if rep.Fraud == 0 || len(rep.FlaggedBy) == 0 {
		t.Fatalf("no fraud or nothing flagged: %s", stdout.String())
	}
	for name, f := range rep.FlaggedBy {
		if h := rep.RuleHits[name]; f.Hits > h.Hits || f.Fraud > f.Hits || f.Fraud > h.Fraud {
			t.Errorf("rule %s: flagged %+v, fired %+v", name, f, h)
		}
	}
	// run's mix has rings, and its entity stage's second step.
	if _, ok := rep.PerScenario["fraud_ring"]; !ok || rep.Counts["fraud_ring"] == 0 || rep.Entity == nil {
		t.Errorf("no fraud_ring recall or no entity rules in run's shop: %s", stdout.String())
	}
}
