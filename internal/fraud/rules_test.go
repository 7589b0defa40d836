package fraud

import (
	"errors"
	"strings"
	"testing"
)

func TestParseRules(t *testing.T) {
	t.Parallel()
	rs, err := ParseRules([]byte(`[
		{"name": "card_testing_velocity", "when": "cards_per_device_1h >= 3 && amount < 5", "weight": 0.6, "reason": "many cards tried from one device in an hour"},
		{"name": "big", "when": "amount > 1000", "weight": 1, "reason": "big order"}
	]`))
	if err != nil {
		t.Fatal(err)
	}
	if rs.Len() != 2 || rs.Rule(0).Name != "card_testing_velocity" || rs.Rule(1).Weight != 1 {
		t.Fatalf("rules = %+v", rs.Rules())
	}
	tests := []struct {
		values map[Feature]float64
		want   []int
	}{
		{map[Feature]float64{CardsPerDevice1h: 3, Amount: 1}, []int{0}},
		{map[Feature]float64{CardsPerDevice1h: 3, Amount: 5000}, []int{1}},
		{map[Feature]float64{CardsPerDevice1h: 2, Amount: 1}, nil},
	}
	for _, tt := range tests {
		f := Features{Values: *vec(tt.values)}
		got := rs.Match(&f, nil)
		if len(got) != len(tt.want) || len(got) > 0 && got[0] != tt.want[0] {
			t.Errorf("Match(%v) = %v, want %v", tt.values, got, tt.want)
		}
	}
}

func TestParseRulesErrors(t *testing.T) {
	t.Parallel()
	ok := `{"name": "a", "when": "amount > 1", "weight": 0.5, "reason": "r"}`
	tests := []struct {
		name, json, want string
	}{
		{"not json", `[`, "invalid fraud rules: unexpected EOF"},
		{"not an array", `{"name": "a"}`, "invalid fraud rules: json: cannot unmarshal object"},
		{"null", `null`, "want a JSON array of rules"},
		{"trailing data", `[` + ok + `] []`, "data after the array"},
		{"unknown field", `[{"name": "a", "when": "amount > 1", "wieght": 0.5, "reason": "r"}]`, `unknown field "wieght"`},
		{"no name", `[{"when": "amount > 1", "weight": 0.5, "reason": "r"}]`, "rule #1: name is missing"},
		{"bad name", `[{"name": "Big Order", "when": "amount > 1", "weight": 0.5, "reason": "r"}]`, `rule "Big Order": name must be`},
		{"duplicate", `[` + ok + `,` + ok + `]`, `rule "a": name is used by an earlier rule`},
		{"no when", `[{"name": "a", "when": " ", "weight": 0.5, "reason": "r"}]`, `rule "a": when is missing`},
		{"zero weight", `[{"name": "a", "when": "amount > 1", "reason": "r"}]`, `rule "a": weight 0 is outside (0, 1]`},
		{"big weight", `[{"name": "a", "when": "amount > 1", "weight": 1.5, "reason": "r"}]`, `rule "a": weight 1.5 is outside (0, 1]`},
		{"no reason", `[{"name": "a", "when": "amount > 1", "weight": 0.5}]`, `rule "a": reason is missing`},
		{"unknown feature", `[` + ok + `, {"name": "card_testing", "when": "cards_per_devic_1h >= 3", "weight": 0.5, "reason": "r"}]`,
			`rule "card_testing": when: at column 1: unknown feature "cards_per_devic_1h" (did you mean "cards_per_device_1h"?)`},
		{"syntax", `[{"name": "a", "when": "amount > ", "weight": 0.5, "reason": "r"}]`, `rule "a": when: at column 10: condition ends`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseRules([]byte(tt.json))
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, ErrRules) {
				t.Errorf("error %v does not wrap ErrRules", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
	_, err := ParseRules([]byte(`[{"name": "a", "when": "nope", "weight": 0.5, "reason": "r"}]`))
	var re *RuleError
	var uf *UnknownFeatureError
	if !errors.As(err, &re) || re.Name != "a" || !errors.As(err, &uf) || uf.Name != "nope" {
		t.Errorf("error %v: want a RuleError for a wrapping an UnknownFeatureError for nope", err)
	}
}

func TestRuleSetIsImmutable(t *testing.T) {
	t.Parallel()
	in := []Rule{{Name: "a", When: "amount > 1", Weight: 0.5, Reason: "r"}}
	rs, err := NewRuleSet(in)
	if err != nil {
		t.Fatal(err)
	}
	in[0].Weight = 0.9
	out := rs.Rules()
	out[0].Name = "changed"
	if r := rs.Rule(0); r.Name != "a" || r.Weight != 0.5 {
		t.Errorf("rule set changed through its input or output: %+v", r)
	}
}

// TestDefaultRules checks the embedded file: it parses, and every rule
// has a reason a person can read and fires on a transaction of its kind.
func TestDefaultRules(t *testing.T) {
	t.Parallel()
	rs := DefaultRules()
	if rs.Len() < 5 {
		t.Fatalf("%d default rules, want one per fraud scenario at least", rs.Len())
	}
	for _, r := range rs.Rules() {
		if len(strings.Fields(r.Reason)) < 5 {
			t.Errorf("rule %s: reason %q is too terse for an analyst", r.Name, r.Reason)
		}
	}
	if _, err := ParseRules(DefaultRulesJSON()); err != nil {
		t.Fatal(err)
	}
	// One typical transaction per scenario, and the rule that must catch it.
	tests := []struct {
		rule   string
		values map[Feature]float64
	}{
		{"card_testing_many_cards", map[Feature]float64{Amount: 2, CardsPerCustomer1h: 4}},
		{"order_velocity", map[Feature]float64{Amount: 90, CustCount10m: 5}},
		{"order_velocity", map[Feature]float64{Amount: 5, CustCount10m: 3, MinutesSinceLast: 0.1}},
		{"account_takeover", map[Feature]float64{Amount: 1500, NewDevice: 1, NewShipCountry: 1, IPBillingMismatch: 1}},
		{"stolen_card_new_account", map[Feature]float64{Amount: 900, HighRiskShare: 1, HostingIP: 1, CardPayment: 1}},
		{"stolen_card_high_value", map[Feature]float64{Amount: 650, HighRiskShare: 1, IPBillingMismatch: 1, CardPayment: 1}},
		{"new_account_repeat_high_value", map[Feature]float64{Amount: 700, CustCount1h: 2, CustAmount1h: 1400, HighRiskShare: 1, CardPayment: 1}},
		{"new_account_repeat_high_value", map[Feature]float64{Amount: 200, CustCount1h: 2, CustAmount1h: 400, HighRiskShare: 1, CardPayment: 1, BillingShipMismatch: 1}},
		{"geo_mismatch_new_account", map[Feature]float64{Amount: 300, Countries: 3, IPBillingMismatch: 1}},
	}
	for _, tt := range tests {
		f := Features{Values: *vec(tt.values)}
		fired := false
		for _, i := range rs.Match(&f, nil) {
			fired = fired || rs.Rule(i).Name == tt.rule
		}
		if !fired {
			t.Errorf("rule %s does not fire on %v", tt.rule, tt.values)
		}
	}
	// Honest orders of new accounts that these rules once flagged: a
	// second order within the hour from home, resellable goods under
	// 1,000 (an add-on); resellable goods from abroad paid by another
	// means than a card; a traveller's gift, the network away from the
	// card's issuer and the parcel but in the billing country; a known
	// customer's third order in ten minutes, two minutes after the second
	// (an order, a split or an add-on, a recommended product).
	for name, values := range map[string]map[Feature]float64{
		"add-on from home":         {Amount: 200, CustCount1h: 2, CustAmount1h: 450, HighRiskShare: 1, CardPayment: 1, Countries: 1},
		"not paid by card":         {Amount: 900, HighRiskShare: 1, IPBillingMismatch: 1, Countries: 2},
		"gift from home, VPN":      {Amount: 80, Countries: 3, IPBINMismatch: 1, BINShipMismatch: 1, IPShipMismatch: 1, CardPayment: 1},
		"a third order in minutes": {Amount: 18, CustCount10m: 3, CustCount1h: 3, MinutesSinceLast: 2.2, CardPayment: 1, AccountAgeDays: 400, Countries: 1},
	} {
		f := Features{Values: *vec(values)}
		for _, i := range rs.Match(&f, nil) {
			if n := rs.Rule(i).Name; n == "stolen_card_new_account" || n == "new_account_repeat_high_value" || n == "geo_mismatch_new_account" || n == "order_velocity" {
				t.Errorf("%s: rule %s fires on %v", name, n, values)
			}
		}
	}
	// A traveller's first order of 600 in mixed goods is no
	// stolen_card_high_value.
	traveller := Features{Values: *vec(map[Feature]float64{Amount: 600, HighRiskShare: 0.7, IPBillingMismatch: 1, CardPayment: 1, Countries: 2})}
	for _, i := range rs.Match(&traveller, nil) {
		if rs.Rule(i).Name == "stolen_card_high_value" {
			t.Error("stolen_card_high_value fires on a first order of mixed goods")
		}
	}
	// An ordinary order from a known customer fires nothing.
	f := Features{Values: *vec(map[Feature]float64{Amount: 40, CustTxns: 8, AccountAgeDays: 200,
		MinutesSinceLast: 20000, CustCount10m: 1, CustCount1h: 1, CardsPerCustomer1h: 1, Countries: 1})}
	if hits := rs.Match(&f, nil); len(hits) > 0 {
		t.Errorf("an ordinary order fires %v", hits)
	}
}

func FuzzParseRules(f *testing.F) {
	f.Add(DefaultRulesJSON())
	f.Add([]byte(`[{"name": "a", "when": "amount > 1", "weight": 0.5, "reason": "r"}]`))
	f.Add([]byte(`[{"name": "a", "when": "(amount > 1", "weight": 2, "reason": ""}]`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`null`))
	var values Features
	values.Values[Amount] = 10
	f.Fuzz(func(t *testing.T, b []byte) {
		rs, err := ParseRules(b)
		if err != nil {
			if !errors.Is(err, ErrRules) {
				t.Fatalf("error %v does not wrap ErrRules", err)
			}
			return
		}
		for _, i := range rs.Match(&values, nil) {
			if i < 0 || i >= rs.Len() {
				t.Fatalf("Match returned rule %d of %d", i, rs.Len())
			}
		}
		for _, r := range rs.Rules() {
			if !validName(r.Name) || !(r.Weight > 0 && r.Weight <= 1) || r.Reason == "" {
				t.Fatalf("accepted an invalid rule %+v", r)
			}
		}
	})
}
