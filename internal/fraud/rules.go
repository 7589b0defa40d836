package fraud

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Rule is one known fraud pattern, as written in a rules file.
type Rule struct {
	// Name identifies the rule in alerts, metrics and errors: lower-case
	// letters, digits and underscores.
	Name string `json:"name"`
	// When is the condition, in the expression language of ParseExpr.
	When string `json:"when"`
	// Weight, in (0, 1], is how strongly a hit alone suggests fraud: read
	// it as the chance that a transaction the rule flags is fraud. See
	// Scorer for how weights combine.
	Weight float64 `json:"weight"`
	// Reason says, for the analyst and the customer-service agent, why a
	// transaction the rule flags looks like fraud.
	Reason string `json:"reason"`
}

// RuleSet is a parsed, compiled list of rules. It is immutable, so a
// running pipeline can swap in a new one with an atomic.Pointer while
// scorers read the old one, and it is safe for concurrent use.
type RuleSet struct {
	rules []Rule
	conds []*Expr
}

// RuleError is a problem with one rule of a rules file.
type RuleError struct {
	Index int    // position in the file, 0-based
	Name  string // the rule's name, if it has one
	Err   error
}

func (e *RuleError) Error() string {
	if e.Name != "" {
		return fmt.Sprintf("rule %q: %v", e.Name, e.Err)
	}
	return fmt.Sprintf("rule #%d: %v", e.Index+1, e.Err)
}

func (e *RuleError) Unwrap() error { return e.Err }

// ErrRules is wrapped by every error ParseRules returns.
var ErrRules = errors.New("invalid fraud rules")

// maxRules bounds a rules file; a few dozen is typical.
const maxRules = 1000

// ParseRules parses a rules file: a JSON array of objects with the fields
// of Rule, all required. Unknown fields are errors, so a misspelt "wieght"
// is caught rather than silently read as 0. So are duplicate names,
// weights outside (0, 1], and conditions that do not compile, such as ones
// naming a feature that does not exist; each error names the rule.
func ParseRules(b []byte) (*RuleSet, error) {
	rules, err := decodeRuleArray[Rule](b, "rules", "")
	if err != nil {
		return nil, err
	}
	return NewRuleSet(rules)
}

// decodeRuleArray decodes a rules file: one JSON array of T, no unknown
// fields, nothing after it. what names its items in errors ("rules"),
// prefix goes before a decoding error's own text.
func decodeRuleArray[T any](b []byte, what, prefix string) ([]T, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var items []T
	if err := dec.Decode(&items); err != nil {
		return nil, fmt.Errorf("%w: %s%v", ErrRules, prefix, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the array of %s", ErrRules, what)
	}
	if items == nil {
		return nil, fmt.Errorf("%w: want a JSON array of %s", ErrRules, what)
	}
	return items, nil
}

// NewRuleSet checks and compiles rules, as ParseRules does.
func NewRuleSet(rules []Rule) (*RuleSet, error) {
	if len(rules) > maxRules {
		return nil, fmt.Errorf("%w: %d rules, at most %d", ErrRules, len(rules), maxRules)
	}
	rs := &RuleSet{rules: append([]Rule(nil), rules...), conds: make([]*Expr, len(rules))}
	names := make(map[string]bool, len(rules))
	for i, r := range rs.rules {
		bad := func(format string, args ...any) error {
			return fmt.Errorf("%w: %w", ErrRules, &RuleError{Index: i, Name: r.Name, Err: fmt.Errorf(format, args...)})
		}
		switch {
		case r.Name == "":
			return nil, bad("name is missing")
		case !validName(r.Name):
			return nil, bad("name must be 1 to 64 lower-case letters, digits and underscores")
		case names[r.Name]:
			return nil, bad("name is used by an earlier rule")
		case strings.TrimSpace(r.When) == "":
			return nil, bad("when is missing")
		case !(r.Weight > 0 && r.Weight <= 1):
			return nil, bad("weight %v is outside (0, 1]", r.Weight)
		case strings.TrimSpace(r.Reason) == "":
			return nil, bad("reason is missing")
		}
		names[r.Name] = true
		e, err := ParseExpr(r.When)
		if err != nil {
			return nil, bad("when: %w", err)
		}
		rs.conds[i] = e
	}
	return rs, nil
}

func validName(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// Rules returns a copy of the rules, for display.
func (rs *RuleSet) Rules() []Rule { return append([]Rule(nil), rs.rules...) }

// Len is the number of rules.
func (rs *RuleSet) Len() int { return len(rs.rules) }

// Rule returns rule i.
func (rs *RuleSet) Rule(i int) Rule { return rs.rules[i] }

// Match appends to dst the indexes of the rules that hold on f.
func (rs *RuleSet) Match(f *Features, dst []int) []int {
	for i, c := range rs.conds {
		if truth(c.eval(&f.Values)) {
			dst = append(dst, i)
		}
	}
	return dst
}

//go:embed rules.default.json
var defaultRulesJSON []byte

// DefaultRulesJSON returns the embedded default rules file, a starting
// point for a site's own.
func DefaultRulesJSON() []byte { return bytes.Clone(defaultRulesJSON) }

var defaultRules = func() *RuleSet {
	rs, err := ParseRules(defaultRulesJSON)
	if err != nil {
		panic("fraud: embedded rules.default.json: " + err.Error())
	}
	return rs
}()

// DefaultRules returns the embedded default rules: one or more per fraud
// pattern the synthetic shop generates, tuned on its stream (docs/fraud.md).
func DefaultRules() *RuleSet { return defaultRules }
