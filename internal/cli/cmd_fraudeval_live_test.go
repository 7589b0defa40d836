package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
)

// TestFraudEvalLive runs run's pipeline for 20 s after a 3-day backfill,
// with more fraud and bad records than run's defaults so that both are
// present in so short a window, and checks that every live record is
// accounted for and that the figures come from the stored decisions.
func TestFraudEvalLive(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the pipeline for 20 s")
	}
	var stdout, stderr bytes.Buffer
	// --history-ramp=false: at 100/s the history's live-paced tail would
	// be 60,000 records, thirty times the 3 days'.
	err := runFraudEval(context.Background(), []string{"--live", "20s", "--history", "3d", "--history-ramp=false", "--rate", "100", "--fraud-rate", "0.5",
		"--bad-rate", "0.02", "--offline-records", "1000", "--data-dir", t.TempDir(), "--json",
		// The shutdown waits for the processor and the entity stage to
		// commit what was produced, at most this long: under -race on a
		// loaded host 10 s was too short.
		"--shutdown-grace", "3m"}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("fraud-eval --live: %v\nstderr:\n%s", err, stderr.String())
	}
	if n := strings.Count(stdout.String(), "\n"); n != 1 {
		t.Fatalf("printed %d lines, want one JSON object: %q", n, stdout.String())
	}
	var rep struct {
		Seed              int64               `json:"seed"`
		Generated         int                 `json:"generated"`
		Good              int                 `json:"good"`
		Bad               int                 `json:"bad"`
		Fraud             int                 `json:"fraud"`
		Stored            int                 `json:"stored"`
		Quarantined       int                 `json:"quarantined"`
		Unaccounted       int                 `json:"unaccounted"`
		QuarantineReasons map[string]int      `json:"quarantine_reasons"`
		GoodNotStored     int                 `json:"good_not_stored"`
		UnknownStored     int                 `json:"unknown_stored"`
		Scored            int                 `json:"scored"`
		ScoredFraud       int                 `json:"scored_fraud"`
		Decisions         map[string]int      `json:"decisions"`
		Flagged           int                 `json:"flagged"`
		TruePos           int                 `json:"true_positives"`
		FalsePos          int                 `json:"false_positives"`
		Precision         *float64            `json:"precision"`
		Recall            *float64            `json:"recall"`
		FPR               *float64            `json:"fpr"`
		PerScenario       map[string]*float64 `json:"per_scenario"`
		ScenarioCounts    map[string]int      `json:"scenario_counts"`
		FlaggedBy         map[string]ruleHit  `json:"flagged_by"`
		Alerted           int                 `json:"alerted"`
		Entities          *struct {
			Raised           int            `json:"raised"`
			RaisedFraud      int            `json:"raised_fraud"`
			RaisedByScenario map[string]int `json:"raised_by_scenario"`
			Rings            int            `json:"rings"`
			RingAccounts     int            `json:"ring_accounts"`
		} `json:"entities"`
		Offline *struct {
			Seed    int64    `json:"seed"`
			Records int      `json:"records"`
			Recall  *float64 `json:"recall"`
		} `json:"offline"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("decoding %q: %v", stdout.String(), err)
	}
	out := stdout.String()
	t.Logf("report: %s", out)

	// Every live record is accounted for.
	if rep.Generated == 0 || rep.Good+rep.Bad != rep.Generated {
		t.Errorf("generated %d = %d good + %d bad? %s", rep.Generated, rep.Good, rep.Bad, out)
	}
	if rep.Unaccounted != 0 || rep.Stored+rep.Quarantined != rep.Generated {
		t.Errorf("generated %d, stored %d, quarantined %d, unaccounted %d: %s", rep.Generated, rep.Stored, rep.Quarantined, rep.Unaccounted, out)
	}
	if rep.GoodNotStored != 0 || rep.UnknownStored != 0 || rep.Scored != rep.Good || rep.Stored != rep.Good {
		t.Errorf("good records and stored transactions do not match: %s", out)
	}
	if rep.Bad == 0 || rep.Quarantined != rep.Bad || sum(rep.QuarantineReasons) != rep.Quarantined {
		t.Errorf("bad records and quarantined records do not match: %s", out)
	}

	// The figures are the stored decisions'.
	if sum(rep.Decisions) != rep.Scored || rep.Decisions["review"]+rep.Decisions["decline"] != rep.Flagged || rep.TruePos+rep.FalsePos != rep.Flagged {
		t.Errorf("decisions do not add up: %s", out)
	}
	if rep.Fraud == 0 || rep.ScoredFraud != rep.Fraud || sum(rep.ScenarioCounts) != rep.ScoredFraud {
		t.Fatalf("want fraud in the window, counted per scenario: %s", out)
	}
	if rep.Precision == nil || rep.Recall == nil || rep.FPR == nil {
		t.Fatalf("missing figures: %s", out)
	}
	for name, v := range map[string]float64{"precision": *rep.Precision, "recall": *rep.Recall, "fpr": *rep.FPR} {
		if v < 0 || v > 1 {
			t.Errorf("%s %v outside [0, 1]", name, v)
		}
	}
	if r := float64(rep.TruePos) / float64(rep.ScoredFraud); *rep.Recall == 0 || *rep.Recall < r-1e-6 || *rep.Recall > r+1e-6 {
		t.Errorf("recall %v, want %d of %d fraudulent transactions flagged, above 0: %s", *rep.Recall, rep.TruePos, rep.ScoredFraud, out)
	}
	if p := float64(rep.TruePos) / float64(rep.Flagged); *rep.Precision < p-1e-6 || *rep.Precision > p+1e-6 {
		t.Errorf("precision %v, want %v", *rep.Precision, p)
	}
	for s, n := range rep.ScenarioCounts {
		if v := rep.PerScenario[s]; n > 0 && (v == nil || *v < 0 || *v > 1) {
			t.Errorf("scenario %s: recall %v", s, v)
		}
	}
	if rep.Alerted != rep.Flagged || len(rep.FlaggedBy) == 0 {
		t.Errorf("%d flagged, %d of them with an alert, flagged by %v", rep.Flagged, rep.Alerted, rep.FlaggedBy)
	}
	for n, h := range rep.FlaggedBy {
		if h.Hits == 0 || h.Hits > rep.Flagged || h.Fraud > h.Hits || h.Fraud > rep.TruePos {
			t.Errorf("flagged by %s: %+v of %d flagged, %d fraud", n, h, rep.Flagged, rep.TruePos)
		}
	}
	// run's defaults: rings in the mix, the entity stage on; its
	// second step's raises are among the flagged.
	if rep.ScenarioCounts["fraud_ring"] == 0 || rep.PerScenario["fraud_ring"] == nil {
		t.Errorf("no fraud_ring in the per-scenario report: %s", out)
	}
	if e := rep.Entities; e == nil {
		t.Errorf("no entity stage report: %s", out)
	} else if e.Raised > rep.Flagged || e.RaisedFraud > e.Raised || sum(e.RaisedByScenario) != e.RaisedFraud || e.RaisedFraud > rep.TruePos ||
		e.Rings == 0 || e.RingAccounts < 3 {
		t.Errorf("entity stage report %+v, with %d flagged, %d of them fraud", *e, rep.Flagged, rep.TruePos)
	}
	if rep.Offline == nil || rep.Offline.Records != 1000 || rep.Offline.Seed != rep.Seed || rep.Offline.Recall == nil {
		t.Errorf("want the offline figures of the same seed: %s", out)
	}
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func TestFraudEvalLiveUsage(t *testing.T) {
	for _, args := range [][]string{
		{"--live", "0s"},
		{"--live=-1m"},
		{"--live", "1s", "--offline-records", "10"},
		{"--live", "1s", "--count", "1000"}, // offline only
		{"--live", "1s", "--rate", "0"},     // run's own check
	} {
		var stdout, stderr bytes.Buffer
		err := runFraudEval(context.Background(), append(args, "--data-dir", t.TempDir()), &stdout, &stderr)
		if err == nil || !IsUsage(err) {
			t.Errorf("%v: error %v, want a usage error", args, err)
		}
	}
}

func TestLiveRequested(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want bool
	}{
		{[]string{"--live", "30m"}, true},
		{[]string{"-live=30m", "--json"}, true},
		{[]string{"--json", "--live", "1m"}, true},
		{[]string{"--count", "1000"}, false},
		{[]string{"--liveness"}, false},
		{[]string{"--", "--live"}, false},
	} {
		if got := liveRequested(tt.args); got != tt.want {
			t.Errorf("liveRequested(%q) = %v, want %v", tt.args, got, tt.want)
		}
	}
}
