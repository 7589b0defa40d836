package fraud

import (
	"fmt"
	"math"
	"strconv"

	"github.com/shopstream/shopstream/internal/event"
)

// Model is an anomaly detector over the feature vector (FeatureNames
// order). Score returns its evidence of fraud in [0, 1]: 0 for records like
// the ones it was trained on, rising towards 1 for the most unusual.
// ForestModel is the one this package provides.
type Model interface {
	Score(x []float64) float64
}

// Explainer is a Model that can also say which features of a record stand
// out; the Scorer uses it for the reasons of an alert.
type Explainer interface {
	Outliers(x []float64, k int, dst []Outlier) []Outlier
}

// Outlier is a feature whose value lies far from what the model was
// trained on.
type Outlier struct {
	Feature string  `json:"feature"`
	Value   float64 `json:"value"`
	// Z is the distance from the training population's mean in its
	// standard deviations (after the model's log transform); the sign says
	// in which direction.
	Z float64 `json:"z"`
}

// Decision is what the shop does with a transaction.
type Decision uint8

// The decisions, in increasing severity.
const (
	Approve Decision = iota
	Review
	Decline
)

var decisionNames = [...]string{Approve: "approve", Review: "review", Decline: "decline"}

func (d Decision) String() string {
	if int(d) < len(decisionNames) {
		return decisionNames[d]
	}
	return fmt.Sprintf("decision(%d)", d)
}

// MarshalText writes the decision's name, for JSON and logs.
func (d Decision) MarshalText() ([]byte, error) {
	if int(d) >= len(decisionNames) {
		return nil, fmt.Errorf("unknown decision %d", d)
	}
	return []byte(decisionNames[d]), nil
}

// UnmarshalText reads a decision's name.
func (d *Decision) UnmarshalText(b []byte) error {
	for i, n := range decisionNames {
		if string(b) == n {
			*d = Decision(i)
			return nil
		}
	}
	return fmt.Errorf("unknown decision %q", b)
}

// ScorerConfig sets how rule hits and the model become a decision.
type ScorerConfig struct {
	// ReviewAt is the risk at or above which a transaction is held for
	// review (and alerted on). Defaults to 0.4: at 1% fraud, a queue in
	// which two in five cases are fraud is worth an analyst's time, and on
	// the synthetic shop it keeps the false-positive rate near 0.5%.
	ReviewAt float64
	// DeclineAt is the risk at or above which a transaction is declined.
	// It must not be below ReviewAt. Defaults to 0.9.
	DeclineAt float64
	// ModelWeight is the most the model can add: its evidence in [0, 1]
	// counts like a rule of this weight. Defaults to 0.3, below ReviewAt's
	// default, so the model alone never raises an alert (on the synthetic
	// shop, 2 of about 170 transactions that only the model found unusual
	// were fraud) but it lifts a weak rule hit over the line and orders
	// transactions that fire the same rules. A negative value turns the
	// model off.
	ModelWeight float64
	// MaxOutliers is how many standing-out features are reported with a
	// transaction held for review or declined. Defaults to 3; negative
	// reports none.
	MaxOutliers int
}

// WithDefaults returns c with zero fields set to their defaults.
func (c ScorerConfig) WithDefaults() ScorerConfig {
	if c.ReviewAt == 0 {
		c.ReviewAt = 0.4
	}
	if c.DeclineAt == 0 {
		c.DeclineAt = 0.9
	}
	if c.ModelWeight == 0 {
		c.ModelWeight = 0.3
	}
	if c.MaxOutliers == 0 {
		c.MaxOutliers = 3
	}
	return c
}

// Validate reports a setting out of range, naming it.
func (c ScorerConfig) Validate() error {
	switch {
	case !(c.ReviewAt > 0 && c.ReviewAt <= 1):
		return fmt.Errorf("%w: ReviewAt %v is outside (0, 1]", ErrInvalidConfig, c.ReviewAt)
	case !(c.DeclineAt > 0 && c.DeclineAt <= 1):
		return fmt.Errorf("%w: DeclineAt %v is outside (0, 1]", ErrInvalidConfig, c.DeclineAt)
	case c.DeclineAt < c.ReviewAt:
		return fmt.Errorf("%w: DeclineAt %v is below ReviewAt %v", ErrInvalidConfig, c.DeclineAt, c.ReviewAt)
	case c.ModelWeight > 1 || math.IsNaN(c.ModelWeight):
		return fmt.Errorf("%w: ModelWeight %v is above 1", ErrInvalidConfig, c.ModelWeight)
	}
	return nil
}

// Scorer turns features into a risk, a decision and its reasons. It is
// immutable and safe for concurrent use; to change rules or model, build a
// new one and swap it in.
//
// The risk combines independent pieces of evidence by "noisy OR": each rule
// that fires, with weight w, and the model, with weight ModelWeight × m
// where m in [0, 1] is the model's evidence, is read as an independent
// chance that the transaction is fraud, and the risk is the chance that at
// least one of them is right:
//
//	risk = 1 − (1 − w_model·m) · Π over fired rules (1 − w_i)
//
// This keeps the risk in [0, 1], makes every added piece of evidence raise
// it without ever reaching 1, lets a strong rule decide alone while weak
// rules must agree (two rules of 0.3 give 0.51, three give 0.66), and keeps
// each weight readable as a precision a fraud analyst can check against
// the rule's alerts. The model's evidence is continuous, so it also orders
// transactions that fire the same rules, which is what makes the risk a
// useful ranking (ROC and PR curves) rather than a few discrete levels.
type Scorer struct {
	rules   *RuleSet
	model   Model
	explain Explainer
	cfg     ScorerConfig
}

// NewScorer builds a Scorer. rules nil means DefaultRules(); model nil
// means rules only.
func NewScorer(rules *RuleSet, model Model, cfg ScorerConfig) (*Scorer, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if rules == nil {
		rules = DefaultRules()
	}
	s := &Scorer{rules: rules, model: model, cfg: cfg}
	if cfg.ModelWeight < 0 {
		s.model = nil
	}
	if e, ok := s.model.(Explainer); ok && cfg.MaxOutliers > 0 {
		s.explain = e
	}
	return s, nil
}

// Rules returns the rules the scorer applies.
func (s *Scorer) Rules() *RuleSet { return s.rules }

// Config returns the scorer's settings, defaults filled in.
func (s *Scorer) Config() ScorerConfig { return s.cfg }

// Hit is a rule that fired.
type Hit struct {
	Rule   string  `json:"rule"`
	Reason string  `json:"reason"`
	Weight float64 `json:"weight"`
}

// Result is the verdict on one transaction.
type Result struct {
	// Risk is the combined risk in [0, 1].
	Risk float64 `json:"risk"`
	// Decision follows from Risk and the thresholds.
	Decision Decision `json:"decision"`
	// Model is the model's evidence in [0, 1] before weighting, or 0 when
	// there is no model.
	Model float64 `json:"model"`
	// Hits are the rules that fired, in rules-file order.
	Hits []Hit `json:"hits,omitempty"`
	// Outliers are the features that stood out most, for a transaction
	// held for review or declined.
	Outliers []Outlier `json:"outliers,omitempty"`
}

// Score scores one transaction's features.
func (s *Scorer) Score(f *Features) Result {
	var r Result
	s.ScoreInto(f, &r)
	return r
}

// ScoreInto is Score reusing r's slices, so that a caller that keeps one
// Result scores without allocating.
func (s *Scorer) ScoreInto(f *Features, r *Result) {
	r.Hits, r.Outliers = r.Hits[:0], r.Outliers[:0]
	var buf [16]int
	hits := s.rules.Match(f, buf[:0])
	keep := 1.0 // chance that every piece of evidence is wrong
	for _, i := range hits {
		rule := &s.rules.rules[i]
		keep *= 1 - rule.Weight
		r.Hits = append(r.Hits, Hit{Rule: rule.Name, Reason: rule.Reason, Weight: rule.Weight})
	}
	r.Model = 0
	if s.model != nil {
		m := s.model.Score(f.Values[:])
		if !(m >= 0) { // NaN too
			m = 0
		}
		r.Model = min(m, 1)
		keep *= 1 - s.cfg.ModelWeight*r.Model
	}
	r.Risk = 1 - keep
	switch {
	case r.Risk >= s.cfg.DeclineAt:
		r.Decision = Decline
	case r.Risk >= s.cfg.ReviewAt:
		r.Decision = Review
	default:
		r.Decision = Approve
	}
	if r.Decision != Approve && s.explain != nil {
		r.Outliers = s.explain.Outliers(f.Values[:], s.cfg.MaxOutliers, r.Outliers)
	}
}

// AppendReasonsJSON appends the reasons of r as one JSON array, rules first
// then standing-out features:
//
//	[{"rule":"account_takeover","reason":"...","weight":0.9},
//	 {"feature":"amount","value":1499.99,"z":4.1}]
//
// It is "[]" for a transaction with no reasons, and is written by hand
// because it runs for every stored transaction.
func (r *Result) AppendReasonsJSON(b []byte) []byte {
	b = append(b, '[')
	for i, h := range r.Hits {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"rule":`...)
		b = event.AppendJSONString(b, h.Rule)
		b = append(b, `,"reason":`...)
		b = event.AppendJSONString(b, h.Reason)
		b = append(b, `,"weight":`...)
		b = appendNum(b, h.Weight)
		b = append(b, '}')
	}
	for i, o := range r.Outliers {
		if i > 0 || len(r.Hits) > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"feature":`...)
		b = event.AppendJSONString(b, o.Feature)
		b = append(b, `,"value":`...)
		b = appendNum(b, o.Value)
		b = append(b, `,"z":`...)
		b = appendNum(b, math.Round(o.Z*100)/100)
		b = append(b, '}')
	}
	return append(b, ']')
}

// NoReasons is the reasons JSON of a result nothing was found against.
// Shared by every such stored row: read it, never write into it.
var NoReasons = []byte("[]")

// ReasonsJSON returns the reasons of r as AppendReasonsJSON writes them,
// or the shared NoReasons, without allocating, when there are none: most
// transactions have none.
func (r *Result) ReasonsJSON() []byte {
	if len(r.Hits) == 0 && len(r.Outliers) == 0 {
		return NoReasons
	}
	return r.AppendReasonsJSON(nil)
}

// appendNum writes a JSON number, or null for what JSON cannot hold.
func appendNum(b []byte, v float64) []byte {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return append(b, "null"...)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}
