package cli

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/shopstream/shopstream/internal/generate"
)

// fraudMixFlag is --fraud-mix: scenario=weight pairs, comma-separated,
// laid over the generator's default mix (generate.DefaultFraudMix). A
// scenario given 0 is turned off; the cross-account scenarios
// (generate.CrossScenarios) are off unless named. Weights are relative:
// each scenario's share of fraud records is its weight over the sum.
type fraudMixFlag struct {
	set map[string]float64
}

func (f *fraudMixFlag) String() string {
	if f == nil || len(f.set) == 0 {
		return ""
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(f.set)) {
		parts = append(parts, k+"="+strconv.FormatFloat(f.set[k], 'g', -1, 64))
	}
	return strings.Join(parts, ",")
}

func (f *fraudMixFlag) Set(s string) error {
	set := map[string]float64{}
	for _, kv := range strings.Split(s, ",") {
		kv = strings.TrimSpace(kv)
		if kv == "" {
			continue
		}
		name, v, ok := strings.Cut(kv, "=")
		if !ok {
			return fmt.Errorf("want scenario=weight, got %q", kv)
		}
		name = strings.TrimSpace(name)
		if !slices.Contains(generate.AllScenarios, name) {
			return fmt.Errorf("unknown scenario %q (known: %s)", name, strings.Join(generate.AllScenarios, ", "))
		}
		w, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || !(w >= 0) || w > 1e6 {
			return fmt.Errorf("weight of %s must be a non-negative number, got %q", name, v)
		}
		set[name] = w
	}
	f.set = set
	return nil
}

// mix is the generator's FraudMix: the defaults with the flag's pairs
// laid over them; nil (the generator's default) when the flag is unset.
func (f *fraudMixFlag) mix() map[string]float64 {
	if len(f.set) == 0 {
		return nil
	}
	m := maps.Clone(generate.DefaultFraudMix)
	maps.Copy(m, f.set)
	return m
}

const fraudMixUsage = "fraud scenarios' relative weights as scenario=weight,… over the default mix (card_testing=0.25, account_takeover=0.2, stolen_card=0.2, bot_burst=0.2, geo_mismatch=0.15); the cross-account scenarios fraud_ring, card_testing_spread and friendly_fraud are off unless given (docs/fraud.md)"
