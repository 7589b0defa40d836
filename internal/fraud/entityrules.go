package fraud

import (
	"bytes"
	_ "embed"
	"fmt"
	"strings"
	"time"

	"github.com/shopstream/shopstream/internal/event"
)

// EntityRule flags a transaction on an entity (a device, a card, a
// network address, a shipping address) that many accounts share within the entity stage's
// window: the second step of scoring, on the global counts the entity
// stage keeps (EntityState), which the first step, partitioned by
// customer, cannot see.
type EntityRule struct {
	// Name identifies the rule, as Rule.Name.
	Name string `json:"name"`
	// Entity is the kind of entity the rule looks at: EntityDevice,
	// EntityCard, EntityIP or EntityAddress.
	Entity string `json:"entity"`
	// MinAccounts is the fewest distinct accounts on the entity, the
	// transaction's own included, for the rule to fire. At least 2.
	MinAccounts int `json:"min_accounts"`
	// MinCards, when set, is also the fewest distinct cards on it.
	MinCards int `json:"min_cards,omitempty"`
	// MinCardsPerAccount, when set, is also the fewest distinct cards
	// per account on the entity: card testing tries several cards per
	// account, honest accounts behind one address use about one each.
	MinCardsPerAccount float64 `json:"min_cards_per_account,omitempty"`
	// MaxAccounts, when set, is the most accounts for the rule to fire:
	// beyond, the entity is a carrier NAT or office address rather than
	// a fraudster's.
	MaxAccounts int `json:"max_accounts,omitempty"`
	// Weight is read as Rule.Weight, combined with the first step's risk
	// by noisy OR (RaiseRisk).
	Weight float64 `json:"weight"`
	// Reason says why such sharing looks like fraud.
	Reason string `json:"reason"`
}

// EntityRuleSet is a checked list of entity rules; immutable.
type EntityRuleSet struct {
	rules []EntityRule
}

// ParseEntityRules parses an entity rules file: a JSON array of objects
// with the fields of EntityRule. Unknown fields, duplicate or invalid
// names, unknown entity kinds, thresholds below 2 accounts and weights
// outside (0, 1] are errors naming the rule.
func ParseEntityRules(b []byte) (*EntityRuleSet, error) {
	rules, err := decodeRuleArray[EntityRule](b, "entity rules", "entity rules: ")
	if err != nil {
		return nil, err
	}
	return NewEntityRuleSet(rules)
}

// NewEntityRuleSet checks rules, as ParseEntityRules does.
func NewEntityRuleSet(rules []EntityRule) (*EntityRuleSet, error) {
	if len(rules) > maxRules {
		return nil, fmt.Errorf("%w: %d entity rules, at most %d", ErrRules, len(rules), maxRules)
	}
	rs := &EntityRuleSet{rules: append([]EntityRule(nil), rules...)}
	names := map[string]bool{}
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
		case r.Entity != EntityDevice && r.Entity != EntityCard && r.Entity != EntityIP && r.Entity != EntityAddress:
			return nil, bad("entity %q is none of %s, %s, %s, %s", r.Entity, EntityDevice, EntityCard, EntityIP, EntityAddress)
		case r.MinAccounts < 2:
			return nil, bad("min_accounts %d is below 2 (one account is not sharing)", r.MinAccounts)
		case r.MinCards < 0:
			return nil, bad("min_cards %d is negative", r.MinCards)
		case !(r.MinCardsPerAccount >= 0 && r.MinCardsPerAccount <= 1000):
			return nil, bad("min_cards_per_account %v is outside [0, 1000]", r.MinCardsPerAccount)
		case r.MaxAccounts != 0 && r.MaxAccounts < r.MinAccounts:
			return nil, bad("max_accounts %d is below min_accounts %d", r.MaxAccounts, r.MinAccounts)
		case !(r.Weight > 0 && r.Weight <= 1):
			return nil, bad("weight %v is outside (0, 1]", r.Weight)
		case strings.TrimSpace(r.Reason) == "":
			return nil, bad("reason is missing")
		}
		names[r.Name] = true
	}
	return rs, nil
}

// Rules returns a copy of the rules.
func (rs *EntityRuleSet) Rules() []EntityRule { return append([]EntityRule(nil), rs.rules...) }

//go:embed entity_rules.default.json
var defaultEntityRulesJSON []byte

var defaultEntityRules = func() *EntityRuleSet {
	rs, err := ParseEntityRules(defaultEntityRulesJSON)
	if err != nil {
		panic("fraud: embedded entity_rules.default.json: " + err.Error())
	}
	return rs
}()

// DefaultEntityRules returns the embedded default entity rules
// (entity_rules.default.json), tuned on the synthetic shop's
// cross-account scenarios (docs/fraud.md).
func DefaultEntityRules() *EntityRuleSet { return defaultEntityRules }

// DefaultEntityRulesJSON returns the embedded default entity rules file.
func DefaultEntityRulesJSON() []byte { return bytes.Clone(defaultEntityRulesJSON) }

// EntityHit is an entity rule that fired on a transaction.
type EntityHit struct {
	Rule string `json:"rule"`
	// Reason names the entity and its counts, then the rule's reason:
	// "device d-123 used by 5 accounts in 24h: …".
	Reason string  `json:"reason"`
	Weight float64 `json:"weight"`
	// Entity is the entity key ("device:d-123").
	Entity string `json:"entity"`
}

// Match appends the rules that fire on a transaction seen on entity,
// whose features as of it are f, within a window of window.
func (rs *EntityRuleSet) Match(entity string, f EntityFeatures, window time.Duration, dst []EntityHit) []EntityHit {
	if rs == nil {
		return dst
	}
	kind := EntityKind(entity)
	for _, r := range rs.rules {
		if r.Entity != kind || f.Customers < r.MinAccounts || f.Cards < r.MinCards || r.MaxAccounts > 0 && f.Customers > r.MaxAccounts ||
			float64(f.Cards) < r.MinCardsPerAccount*float64(f.Customers) {
			continue
		}
		id := strings.TrimPrefix(entity, kind+":")
		label := kind
		if kind == EntityAddress {
			label = "shipping address"
		}
		var b strings.Builder
		fmt.Fprintf(&b, "%s %s used by %d accounts", label, id, f.Customers)
		if kind != EntityCard && (r.MinCards > 0 || r.MinCardsPerAccount > 0) {
			fmt.Fprintf(&b, " with %d cards", f.Cards)
		}
		fmt.Fprintf(&b, " in %s: %s", formatWindow(window), r.Reason)
		dst = append(dst, EntityHit{Rule: r.Name, Reason: b.String(), Weight: r.Weight, Entity: entity})
	}
	return dst
}

// formatWindow writes a window as people do: "24 h", "90 min".
func formatWindow(d time.Duration) string {
	switch {
	case d >= time.Hour && d%time.Hour == 0:
		return fmt.Sprintf("%d h", d/time.Hour)
	case d >= time.Minute && d%time.Minute == 0:
		return fmt.Sprintf("%d min", d/time.Minute)
	}
	return d.String()
}

// RaiseRisk is the second step's verdict: the first step's risk combined
// by noisy OR with the weights of the entity hits, as Scorer combines
// rules, and the decision the thresholds of cfg (defaults filled in)
// give it, never below the first step's decision.
func RaiseRisk(risk float64, first Decision, hits []EntityHit, cfg ScorerConfig) (float64, Decision) {
	cfg = cfg.WithDefaults()
	keep := 1 - min(max(risk, 0), 1)
	for _, h := range hits {
		keep *= 1 - h.Weight
	}
	r := 1 - keep
	d := Approve
	switch {
	case r >= cfg.DeclineAt:
		d = Decline
	case r >= cfg.ReviewAt:
		d = Review
	}
	return r, max(d, first)
}

// AppendEntityHitsJSON appends hits as reasons objects, in the form of
// Result.AppendReasonsJSON's (so a search by rule finds them), with the
// entity and "step":2:
//
//	{"rule":"device_shared_accounts","reason":"…","weight":0.6,"entity":"device:d-1","step":2}
//
// without brackets, separated by commas.
func AppendEntityHitsJSON(b []byte, hits []EntityHit) []byte {
	for i, h := range hits {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"rule":`...)
		b = event.AppendJSONString(b, h.Rule)
		b = append(b, `,"reason":`...)
		b = event.AppendJSONString(b, h.Reason)
		b = append(b, `,"weight":`...)
		b = appendNum(b, h.Weight)
		b = append(b, `,"entity":`...)
		b = event.AppendJSONString(b, h.Entity)
		b = append(b, `,"step":2}`...)
	}
	return b
}
