package fraud

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestEntityRulesMatch(t *testing.T) {
	rs := DefaultEntityRules()
	day := 24 * time.Hour
	cases := []struct {
		entity string
		f      EntityFeatures
		want   []string
	}{
		{"device:d-1", EntityFeatures{Customers: 2, Transactions: 9, Cards: 2}, nil}, // a household
		{"device:d-1", EntityFeatures{Customers: 3, Transactions: 3, Cards: 3}, []string{"device_shared_accounts"}},
		{"card:411111-1234", EntityFeatures{Customers: 1, Transactions: 5, Cards: 1}, nil},
		{"card:411111-1234", EntityFeatures{Customers: 2, Transactions: 2, Cards: 1}, []string{"card_shared_pair"}},
		{"card:411111-1234", EntityFeatures{Customers: 3, Transactions: 3, Cards: 1}, []string{"card_shared_accounts"}},
		{"ip:1.2.3.4", EntityFeatures{Customers: 3, Transactions: 9, Cards: 5}, nil},
		{"ip:1.2.3.4", EntityFeatures{Customers: 4, Transactions: 9, Cards: 7}, nil}, // under two cards an account
		{"ip:1.2.3.4", EntityFeatures{Customers: 3, Transactions: 9, Cards: 6}, []string{"ip_card_testing_spread"}},
		{"ip:1.2.3.4", EntityFeatures{Customers: 25, Transactions: 40, Cards: 27}, nil},             // an office or carrier NAT
		{"ip:1.2.3.4", EntityFeatures{Customers: 300, Transactions: 400, Cards: 800}, nil},          // beyond max_accounts
		{"address:6f1ed002ab5595f8", EntityFeatures{Customers: 2, Transactions: 14, Cards: 3}, nil}, // a household
		{"address:6f1ed002ab5595f8", EntityFeatures{Customers: 3, Transactions: 3, Cards: 3}, []string{"address_shared_accounts"}},
	}
	for _, c := range cases {
		hits := rs.Match(c.entity, c.f, day, nil)
		var got []string
		for _, h := range hits {
			got = append(got, h.Rule)
			if h.Entity != c.entity || h.Weight <= 0 {
				t.Errorf("%s %+v: hit %+v", c.entity, c.f, h)
			}
		}
		if strings.Join(got, ",") != strings.Join(c.want, ",") {
			t.Errorf("%s %+v: fired %v, want %v", c.entity, c.f, got, c.want)
		}
	}
	h := rs.Match("device:d-123", EntityFeatures{Customers: 5, Transactions: 6, Cards: 2}, day, nil)
	if len(h) != 1 || !strings.HasPrefix(h[0].Reason, "device d-123 used by 5 accounts in 24 h: ") {
		t.Fatalf("reason: %+v", h)
	}
	h = rs.Match("address:6f1ed002ab5595f8", EntityFeatures{Customers: 4, Transactions: 6, Cards: 4}, day, nil)
	if len(h) != 1 || !strings.HasPrefix(h[0].Reason, "shipping address 6f1ed002ab5595f8 used by 4 accounts in 24 h: ") {
		t.Fatalf("reason: %+v", h)
	}
}

func TestRaiseRisk(t *testing.T) {
	cfg := ScorerConfig{ReviewAt: 0.4, DeclineAt: 0.9}
	dev := EntityHit{Rule: "device_shared_accounts", Weight: 0.6}
	ip := EntityHit{Rule: "card_shared_pair", Weight: 0.3}
	r, d := RaiseRisk(0.1, Approve, []EntityHit{dev}, cfg)
	if d != Review || r < 0.63 || r > 0.65 { // 1 - 0.9*0.4 = 0.64
		t.Errorf("approve 0.1 + device 0.6: %v %v, want review 0.64", r, d)
	}
	if r, d := RaiseRisk(0.05, Approve, []EntityHit{ip}, cfg); d != Approve || r < 0.33 || r > 0.34 {
		t.Errorf("a weak hit alone: %v %v, want approve 0.335", r, d)
	}
	if _, d := RaiseRisk(0.8, Review, []EntityHit{dev}, cfg); d != Decline { // 1 - 0.2*0.4 = 0.92
		t.Errorf("review 0.8 + device: %v, want decline", d)
	}
	if _, d := RaiseRisk(0.95, Decline, nil, ScorerConfig{ReviewAt: 0.99, DeclineAt: 0.99}); d != Decline {
		t.Errorf("the second step lowered a decline to %v", d)
	}
}

func TestParseEntityRules(t *testing.T) {
	var rules []EntityRule
	if err := json.Unmarshal(DefaultEntityRulesJSON(), &rules); err != nil || len(rules) == 0 {
		t.Fatalf("default entity rules: %v", err)
	}
	for _, bad := range []string{
		`[{"name":"x","entity":"shoe","min_accounts":3,"weight":0.5,"reason":"r"}]`,
		`[{"name":"x","entity":"device","min_accounts":1,"weight":0.5,"reason":"r"}]`,
		`[{"name":"x","entity":"device","min_accounts":3,"weight":1.5,"reason":"r"}]`,
		`[{"name":"x","entity":"device","min_accounts":3,"weight":0.5,"reason":""}]`,
		`[{"name":"x","entity":"device","min_accounts":3,"weight":0.5,"reason":"r","wieght":1}]`,
		`[{"name":"x","entity":"ip","min_accounts":5,"max_accounts":4,"weight":0.5,"reason":"r"}]`,
		`[{"name":"x","entity":"device","min_accounts":3,"weight":0.5,"reason":"r"},{"name":"x","entity":"card","min_accounts":2,"weight":0.5,"reason":"r"}]`,
	} {
		if _, err := ParseEntityRules([]byte(bad)); !errors.Is(err, ErrRules) {
			t.Errorf("%s: err %v, want ErrRules", bad, err)
		}
	}
	rs, err := ParseEntityRules([]byte(`[{"name":"dev5","entity":"device","min_accounts":5,"weight":0.5,"reason":"r"}]`))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(rs.Match("device:a", EntityFeatures{Customers: 4}, time.Hour, nil)); n != 0 {
		t.Errorf("4 accounts fired a rule of 5")
	}
	if n := len(rs.Match("device:a", EntityFeatures{Customers: 5}, time.Hour, nil)); n != 1 {
		t.Errorf("5 accounts did not fire a rule of 5")
	}
}

func TestAppendEntityHitsJSON(t *testing.T) {
	b := append([]byte("["), AppendEntityHitsJSON(nil, []EntityHit{{Rule: "a", Reason: `q"`, Weight: 0.5, Entity: "device:x"}, {Rule: "b", Weight: 1, Entity: "card:y"}})...)
	b = append(b, ']')
	var got []map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	if len(got) != 2 || got[0]["rule"] != "a" || got[0]["reason"] != `q"` || got[1]["entity"] != "card:y" || got[1]["step"] != 2.0 {
		t.Errorf("%s", b)
	}
	if !strings.Contains(string(b), `{"rule":"a",`) {
		t.Errorf("%s: not searchable by rule", b)
	}
}
