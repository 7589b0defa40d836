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
	// base is the mix the pairs are laid over; nil: the generator's
	// default (run and fraud-eval --demo set runFraudMix).
	base map[string]float64
}

// runFraudMix is run's default mix: the generator's, with the
// cross-account scenarios the entity stage, on in run's live phase,
// is there to find. Their weights are relative to the default mix's
// total of 1: rings 0.1 of 1.15 (about 9% of fraud records) and spread
// card testing 0.05 (about 4%); friendly fraud, which nothing in the
// stream can tell from an honest order, stays off (docs/fraud.md).
var runFraudMix = func() map[string]float64 {
	m := maps.Clone(generate.DefaultFraudMix)
	m[generate.FraudRing] = 0.1
	m[generate.SpreadCardTesting] = 0.05
	return m
}()

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
		return maps.Clone(f.base)
	}
	m := maps.Clone(generate.DefaultFraudMix)
	if f.base != nil {
		m = maps.Clone(f.base)
	}
	maps.Copy(m, f.set)
	return m
}

const fraudMixUsage = "fraud scenarios' relative weights as scenario=weight,… over the default mix (card_testing=0.25, account_takeover=0.2, stolen_card=0.2, bot_burst=0.2, geo_mismatch=0.15); the cross-account scenarios fraud_ring, card_testing_spread and friendly_fraud are off unless given (docs/fraud.md)"

// runFraudMixUsage is --fraud-mix's usage on run and fraud-eval --demo.
const runFraudMixUsage = "fraud scenarios' relative weights as scenario=weight,… over run's default mix (card_testing=0.25, account_takeover=0.2, stolen_card=0.2, bot_burst=0.2, geo_mismatch=0.15, fraud_ring=0.1, card_testing_spread=0.05: the cross-account scenarios the entity stage finds); friendly_fraud is off unless given; a scenario given 0 is off (docs/fraud.md)"
