package fraud

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
)

// constModel returns a fixed evidence and says amount stands out.
type constModel float64

func (m constModel) Score([]float64) float64 { return float64(m) }

func (m constModel) Outliers(x []float64, k int, dst []Outlier) []Outlier {
	return append(dst, Outlier{Feature: "amount", Value: x[Amount], Z: 5})
}

func testRules(t *testing.T) *RuleSet {
	t.Helper()
	rs, err := NewRuleSet([]Rule{
		{Name: "strong", When: "amount > 1000", Weight: 0.9, Reason: "very large order"},
		{Name: "weak_a", When: "new_device", Weight: 0.3, Reason: "new device"},
		{Name: "weak_b", When: "hosting_ip", Weight: 0.3, Reason: "datacenter address"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func TestScore(t *testing.T) {
	t.Parallel()
	rules := testRules(t)
	tests := []struct {
		name     string
		model    Model
		values   map[Feature]float64
		risk     float64
		decision Decision
		hits     []string
		outliers bool
	}{
		{"nothing", nil, map[Feature]float64{Amount: 10}, 0, Approve, nil, false},
		{"one weak rule", nil, map[Feature]float64{NewDevice: 1}, 0.3, Approve, []string{"weak_a"}, false},
		{"two weak rules agree", nil, map[Feature]float64{NewDevice: 1, HostingIP: 1}, 1 - 0.7*0.7, Review, []string{"weak_a", "weak_b"}, false},
		{"strong rule", nil, map[Feature]float64{Amount: 2000}, 0.9, Decline, []string{"strong"}, false},
		{"all", nil, map[Feature]float64{Amount: 2000, NewDevice: 1, HostingIP: 1}, 1 - 0.1*0.7*0.7, Decline, []string{"strong", "weak_a", "weak_b"}, false},
		{"model alone stays below review", constModel(1), map[Feature]float64{}, 0.3, Approve, nil, false},
		{"model lifts a weak rule", constModel(1), map[Feature]float64{NewDevice: 1}, 1 - 0.7*0.7, Review, []string{"weak_a"}, true},
		{"half the model's evidence", constModel(0.5), map[Feature]float64{}, 0.15, Approve, nil, false},
		{"model out of range is clamped", constModel(7), map[Feature]float64{}, 0.3, Approve, nil, false},
		{"model NaN counts as nothing", constModel(math.NaN()), map[Feature]float64{}, 0, Approve, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := NewScorer(rules, tt.model, ScorerConfig{})
			if err != nil {
				t.Fatal(err)
			}
			f := Features{Values: *vec(tt.values)}
			r := s.Score(&f)
			if math.Abs(r.Risk-tt.risk) > 1e-12 {
				t.Errorf("risk = %v, want %v", r.Risk, tt.risk)
			}
			if r.Decision != tt.decision {
				t.Errorf("decision = %v, want %v", r.Decision, tt.decision)
			}
			var names []string
			for _, h := range r.Hits {
				names = append(names, h.Rule)
				if h.Reason == "" || h.Weight == 0 {
					t.Errorf("hit %+v lacks its reason or weight", h)
				}
			}
			if strings.Join(names, ",") != strings.Join(tt.hits, ",") {
				t.Errorf("hits = %v, want %v", names, tt.hits)
			}
			if (len(r.Outliers) > 0) != tt.outliers {
				t.Errorf("outliers = %v, want some: %v", r.Outliers, tt.outliers)
			}
		})
	}
}

func TestScorerConfig(t *testing.T) {
	t.Parallel()
	d := ScorerConfig{}.WithDefaults()
	if d.ReviewAt != 0.4 || d.DeclineAt != 0.9 || d.ModelWeight != 0.3 || d.MaxOutliers != 3 {
		t.Errorf("defaults = %+v", d)
	}
	if d.ModelWeight >= d.ReviewAt {
		t.Error("by default the model alone can raise an alert")
	}
	tests := []struct {
		cfg  ScorerConfig
		want string
	}{
		{ScorerConfig{ReviewAt: 1.5}, "ReviewAt 1.5"},
		{ScorerConfig{ReviewAt: -0.1}, "ReviewAt -0.1"},
		{ScorerConfig{DeclineAt: 2}, "DeclineAt 2"},
		{ScorerConfig{ReviewAt: 0.8, DeclineAt: 0.7}, "DeclineAt 0.7 is below ReviewAt 0.8"},
		{ScorerConfig{ModelWeight: 1.2}, "ModelWeight 1.2"},
		{ScorerConfig{ReviewAt: math.NaN()}, "ReviewAt NaN"},
	}
	for _, tt := range tests {
		_, err := NewScorer(nil, nil, tt.cfg)
		if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("NewScorer(%+v) = %v, want an error about %s", tt.cfg, err, tt.want)
		}
	}
	// A negative weight turns the model off.
	s, err := NewScorer(testRules(t), constModel(1), ScorerConfig{ModelWeight: -1})
	if err != nil {
		t.Fatal(err)
	}
	var f Features
	if r := s.Score(&f); r.Risk != 0 || r.Model != 0 {
		t.Errorf("model off: %+v", r)
	}
	if s.Rules() != s.rules || s.Config().ReviewAt != 0.4 {
		t.Error("accessors")
	}
}

func TestDecisionText(t *testing.T) {
	t.Parallel()
	for _, d := range []Decision{Approve, Review, Decline} {
		b, err := d.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back Decision
		if err := back.UnmarshalText(b); err != nil || back != d || d.String() != string(b) {
			t.Errorf("%v does not round-trip: %q %v %v", d, b, back, err)
		}
	}
	if _, err := Decision(9).MarshalText(); err == nil {
		t.Error("marshalled an unknown decision")
	}
	var d Decision
	if err := d.UnmarshalText([]byte("maybe")); err == nil {
		t.Error("read an unknown decision")
	}
	b, _ := json.Marshal(Result{Decision: Review, Risk: 0.5})
	if !strings.Contains(string(b), `"decision":"review"`) {
		t.Errorf("Result JSON = %s", b)
	}
}

func TestScoreIntoReusesSlices(t *testing.T) {
	s, err := NewScorer(testRules(t), constModel(1), ScorerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	f := Features{Values: *vec(map[Feature]float64{Amount: 2000, NewDevice: 1})}
	var r Result
	s.ScoreInto(&f, &r)
	if n := testing.AllocsPerRun(100, func() { s.ScoreInto(&f, &r) }); n != 0 {
		t.Errorf("ScoreInto with a reused Result allocates %v times", n)
	}
	var quiet Features
	s.ScoreInto(&quiet, &r)
	if len(r.Hits) != 0 || len(r.Outliers) != 0 {
		t.Errorf("stale reasons kept: %+v", r)
	}
}

func TestAppendReasonsJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		r    Result
		want string
	}{
		{Result{}, `[]`},
		{Result{Hits: []Hit{{Rule: "a", Reason: `say "why"`, Weight: 0.9}}}, `[{"rule":"a","reason":"say \"why\"","weight":0.9}]`},
		{Result{Outliers: []Outlier{{Feature: "amount", Value: 1499.99, Z: 4.123}}}, `[{"feature":"amount","value":1499.99,"z":4.12}]`},
		{Result{Hits: []Hit{{Rule: "a", Reason: "r", Weight: 0.5}, {Rule: "b", Reason: "s", Weight: 0.25}},
			Outliers: []Outlier{{Feature: "x", Value: math.Inf(1), Z: -3}}},
			`[{"rule":"a","reason":"r","weight":0.5},{"rule":"b","reason":"s","weight":0.25},{"feature":"x","value":null,"z":-3}]`},
	}
	for _, tt := range tests {
		got := string(tt.r.AppendReasonsJSON(nil))
		if got != tt.want {
			t.Errorf("got  %s\nwant %s", got, tt.want)
		}
		if !json.Valid([]byte(got)) {
			t.Errorf("invalid JSON %s", got)
		}
	}
}

func TestReasonsJSON(t *testing.T) {
	t.Parallel()
	var none Result
	if got := none.ReasonsJSON(); &got[0] != &NoReasons[0] || string(got) != "[]" {
		t.Errorf("no reasons: got %q, want the shared NoReasons", got)
	}
	hit := Result{Hits: []Hit{{Rule: "r", Reason: "why", Weight: 0.5}}}
	if got, want := string(hit.ReasonsJSON()), string(hit.AppendReasonsJSON(nil)); got != want {
		t.Errorf("ReasonsJSON = %s, want %s", got, want)
	}
}
