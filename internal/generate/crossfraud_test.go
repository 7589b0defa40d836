package generate

import (
	"fmt"
	"math"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/event"
)

// crossSample is a seeded stream with every cross-account scenario on,
// its fraud records grouped by what their accounts share.
type crossSample struct {
	fraud      int
	byScenario map[string]int
	end        time.Time
	// recs are the cross-account records, in order.
	recs []crossRec
	// seen holds the customers that placed a legit order.
	seen map[string]bool
}

type crossRec struct {
	scen, cust, device, ip, card string
	addr                         string // the shipping address's key
	at                           time.Time
	known                        bool // the customer ordered honestly before
}

var crossMix = map[string]float64{
	CardTesting: 0.3, FraudRing: 0.4, SpreadCardTesting: 0.2, FriendlyFraud: 0.1,
}

var (
	crossOnce sync.Once
	crossData crossSample
	crossErr  error
)

// gatherCross makes the shared sample once: 300,000 records (about 15,000
// fraud, 100 to 200 campaigns of each cross-account scenario).
func gatherCross(t *testing.T) crossSample {
	t.Helper()
	crossOnce.Do(func() { crossData, crossErr = makeCross(300_000) })
	if crossErr != nil {
		t.Fatal(crossErr)
	}
	return crossData
}

func makeCross(n int) (crossSample, error) {
	g, err := New(Config{Seed: 11, Customers: 5_000, FraudRate: 0.05, FraudMix: crossMix})
	if err != nil {
		return crossSample{}, err
	}
	s := crossSample{byScenario: map[string]int{}, seen: map[string]bool{}}
	var ev event.Transaction
	for range n {
		rec := g.Next()
		s.end = rec.EventTime
		if !rec.Fraud {
			s.seen[string(rec.Key)] = true
			continue
		}
		s.fraud++
		s.byScenario[rec.Scenario]++
		if scenarioIndex(rec.Scenario) < scRing {
			continue
		}
		if err := event.Decode(rec.Value, &ev); err != nil {
			return s, fmt.Errorf("%s record does not decode: %w", rec.Scenario, err)
		}
		s.recs = append(s.recs, crossRec{scen: rec.Scenario, cust: ev.CustomerID, device: ev.DeviceID, ip: ev.IPAddress,
			card: ev.Card.BIN + "-" + ev.Card.Last4, addr: event.AddressKey(nil, ev.ShippingAddress), at: ev.EventTime, known: s.seen[ev.CustomerID]})
	}
	return s, nil
}

// groups joins the records of scenario scen into connected components
// over shared devices, cards and shipping addresses: the campaigns as a
// detector would see them.
func groups(recs []crossRec, scen string) [][]crossRec {
	parent := map[string]string{}
	var find func(string) string
	find = func(x string) string {
		if p, ok := parent[x]; ok && p != x {
			r := find(p)
			parent[x] = r
			return r
		}
		parent[x] = x
		return x
	}
	union := func(a, b string) { parent[find(a)] = find(b) }
	for _, r := range recs {
		if r.scen == scen {
			union("c:"+r.cust, "d:"+r.device)
			union("c:"+r.cust, "k:"+r.card)
			if r.addr != "" {
				union("c:"+r.cust, "a:"+r.addr)
			}
		}
	}
	by := map[string][]crossRec{}
	for _, r := range recs {
		if r.scen == scen {
			root := find("c:" + r.cust)
			by[root] = append(by[root], r)
		}
	}
	out := make([][]crossRec, 0, len(by))
	for _, g := range by {
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0].at.Before(out[j][0].at) })
	return out
}

func accounts(g []crossRec) int {
	m := map[string]bool{}
	for _, r := range g {
		m[r.cust] = true
	}
	return len(m)
}

func TestCrossScenarioShares(t *testing.T) {
	t.Parallel()
	s := gatherCross(t)
	if s.fraud < 3000 {
		t.Fatalf("only %d fraud records", s.fraud)
	}
	for name, want := range crossMix {
		got := float64(s.byScenario[name]) / float64(s.fraud)
		if math.Abs(got-want) > 0.06 {
			t.Errorf("scenario %s has %.3f of fraud records, want %.2f ± 0.06", name, got, want)
		}
	}
	t.Logf("%d fraud records by scenario %v, up to %s", s.fraud, s.byScenario, s.end.Format(time.DateOnly))
}

func TestFraudRingSizesAndTiming(t *testing.T) {
	t.Parallel()
	s := gatherCross(t)
	cut := s.end.Add(-5 * 24 * time.Hour) // rings started later may be unfinished
	var sizes []int
	var spans []time.Duration
	for _, g := range groups(s.recs, FraudRing) {
		if g[0].at.After(cut) {
			continue
		}
		n := accounts(g)
		sizes = append(sizes, n)
		if n < ringMinAccounts || n > ringMaxAccounts {
			t.Errorf("ring of %d accounts (want %d to %d), starting %s", n, ringMinAccounts, ringMaxAccounts, g[0].at)
		}
		span := g[len(g)-1].at.Sub(g[0].at)
		spans = append(spans, span)
		if span > 4*24*time.Hour {
			t.Errorf("ring of %d accounts spans %s, want within days (at most 3 days of starts and the orders after)", n, span)
		}
		for _, r := range g {
			if r.known {
				t.Errorf("ring account %s ordered honestly before: ring accounts are new", r.cust)
			}
		}
	}
	if len(sizes) < 40 {
		t.Fatalf("only %d complete rings", len(sizes))
	}
	mean := 0.0
	for _, n := range sizes {
		mean += float64(n)
	}
	mean /= float64(len(sizes))
	// Uniform in 3..12: mean 7.5, sd 2.87; the mean of 40+ is within 1.
	if math.Abs(mean-7.5) > 1 {
		t.Errorf("mean ring size %.2f over %d rings, want 7.5 ± 1", mean, len(sizes))
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i] < spans[j] })
	med := spans[len(spans)/2]
	if med < time.Hour || med > 3*24*time.Hour {
		t.Errorf("median ring span %s, want hours to days", med)
	}
	t.Logf("%d rings, mean %.2f accounts, median span %s", len(sizes), mean, med)
}

func TestSpreadCardTesting(t *testing.T) {
	t.Parallel()
	s := gatherCross(t)
	cut := s.end.Add(-24 * time.Hour)
	n := 0
	for _, g := range groups(s.recs, SpreadCardTesting) {
		if g[0].at.After(cut) {
			continue
		}
		n++
		// Every try is a new card: the accounts are joined by the device.
		devices, ips, cards := map[string]bool{}, map[string]bool{}, map[string]bool{}
		for _, r := range g {
			devices[r.device], ips[r.ip], cards[r.card] = true, true, true
		}
		a := accounts(g)
		if a < spreadMinAccounts || a > spreadMaxAccts || len(devices) != 1 || len(ips) != 1 {
			t.Errorf("spread card testing: %d accounts, %d devices, %d addresses; want %d to %d accounts on one device and address",
				a, len(devices), len(ips), spreadMinAccounts, spreadMaxAccts)
		}
		if len(cards) < len(g)*9/10 {
			t.Errorf("spread card testing: %d cards for %d orders, want a new card on (nearly) every try", len(cards), len(g))
		}
		if span := g[len(g)-1].at.Sub(g[0].at); span > 2*time.Hour {
			t.Errorf("spread card testing spans %s, want within about half an hour", span)
		}
	}
	if n < 20 {
		t.Fatalf("only %d campaigns", n)
	}
}

func TestFriendlyFraudLooksKnown(t *testing.T) {
	t.Parallel()
	s := gatherCross(t)
	n, known := 0, 0
	for _, r := range s.recs {
		if r.scen != FriendlyFraud {
			continue
		}
		n++
		if r.known {
			known++
		}
	}
	// The victim is drawn among customers with orders; a few draws fall
	// on customers whose orders came before the sample's honest ones.
	if n < 100 || float64(known) < 0.9*float64(n) {
		t.Errorf("friendly fraud: %d of %d orders by customers seen ordering honestly before, want at least 90%%", known, n)
	}
}

func TestFraudMixUnknownNameNamesKnown(t *testing.T) {
	t.Parallel()
	_, err := New(Config{FraudMix: map[string]float64{"fraud_rings": 1}})
	if err == nil {
		t.Fatal("unknown scenario accepted")
	}
	for _, name := range AllScenarios {
		if !contains(err.Error(), name) {
			t.Errorf("error %q does not list %s", err, name)
		}
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
