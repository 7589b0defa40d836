package generate

import (
	"testing"

	"github.com/shopstream/shopstream/internal/event"
	"github.com/shopstream/shopstream/internal/testrace"
)

// TestShippingAddressShares checks, on a fixed seed, the shares the
// address model promises (address.go): honest customers ship mostly to
// one stable address and a few to a second; a fifth of the orders spell
// it differently, and those spellings normalise to one key; a quarter of
// households put both accounts at one home and no home has three; gifts
// abroad and at home go elsewhere; a fraud_ring's accounts share a drop
// that no honest order uses (except the rings that vary the flat);
// account takeovers ship to an address the account never used before.
func TestShippingAddressShares(t *testing.T) {
	testrace.SkipUnderRace(t)
	g, err := New(Config{Seed: 7, Customers: 4_000, FraudRate: 0.04,
		FraudMix: map[string]float64{FraudRing: 0.5, AccountTakeover: 0.3, StolenCard: 0.2}})
	if err != nil {
		t.Fatal(err)
	}
	type use struct {
		orders   int
		spelling map[string]int
	}
	legit := map[string]map[string]*use{} // customer → key → orders
	var legitOrders, missing int
	var abroad [][2]string // customer, key
	legitKeys := map[string]bool{}
	ringAccounts := map[string]map[string]bool{} // key → ring accounts
	var takeovers, takeoverNew int
	var ev event.Transaction
	for range 250_000 {
		rec := g.Next()
		if rec.Bad != "" {
			continue
		}
		if err := event.Decode(rec.Value, &ev); err != nil {
			t.Fatalf("%s", rec.Value)
		}
		key := event.AddressKey(nil, ev.ShippingAddress)
		if key == "" {
			missing++
			continue
		}
		switch rec.Scenario {
		case "":
			legitOrders++
			legitKeys[key] = true
			m := legit[ev.CustomerID]
			if m == nil {
				m = map[string]*use{}
				legit[ev.CustomerID] = m
			}
			u := m[key]
			if u == nil {
				u = &use{spelling: map[string]int{}}
				m[key] = u
			}
			u.orders++
			u.spelling[ev.ShippingAddress]++
			if rec.Honest&GiftAbroad != 0 {
				abroad = append(abroad, [2]string{ev.CustomerID, key})
			}
		case FraudRing:
			if ringAccounts[key] == nil {
				ringAccounts[key] = map[string]bool{}
			}
			ringAccounts[key][ev.CustomerID] = true
		case AccountTakeover:
			takeovers++
			if legit[ev.CustomerID][key] == nil {
				takeoverNew++
			}
		}
	}
	if missing > 0 {
		t.Errorf("%d good records without a shipping address", missing)
	}

	// Per customer with at least 8 honest orders: the share of orders to
	// the most used address and to the two most used; how often the
	// most used is spelt other than its usual way.
	var orders, top1, top2, spelt, homeOrders int
	home := map[string][]string{} // top address → customers
	topOf := map[string]string{}  // customer → top address
	for cust, m := range legit {
		n, a, b := 0, 0, 0
		var topKey string
		for k, u := range m {
			n += u.orders
			switch {
			case u.orders > a:
				a, b, topKey = u.orders, a, k
			case u.orders > b:
				b = u.orders
			}
		}
		if n < 8 {
			continue
		}
		orders, top1, top2 = orders+n, top1+a, top2+a+b
		home[topKey] = append(home[topKey], cust)
		topOf[cust] = topKey
		most := 0
		for _, c := range m[topKey].spelling {
			most = max(most, c)
		}
		spelt += a - most
		homeOrders += a
	}
	share := func(a, b int) float64 { return float64(a) / float64(max(b, 1)) }
	t.Logf("%d honest orders of customers with 8+: %.3f to the top address, %.3f to the top two; %.3f of the top's spelt another way",
		orders, share(top1, orders), share(top2, orders), share(spelt, homeOrders))
	if s := share(top1, orders); s < 0.80 || s > 0.95 {
		t.Errorf("%.3f of honest orders to the customer's main address, want 0.80-0.95 (home, but for gifts and a second address)", s)
	}
	if s := share(top2, orders); s < 0.90 || s > 0.99 {
		t.Errorf("%.3f of honest orders to the two main addresses, want 0.90-0.99", s)
	}
	if s := share(spelt, homeOrders); s < 0.15 || s > 0.25 {
		t.Errorf("%.3f of orders to the main address spelt differently yet one key, want 0.15-0.25 (variantPerMille)", s)
	}

	// Households: homes of two accounts are pairs 2k, 2k+1; none has three.
	var shared, homes int
	for _, cs := range home {
		homes++
		switch {
		case len(cs) > 2:
			t.Errorf("home of %d customers: %v", len(cs), cs)
		case len(cs) == 2:
			shared++
			if !pairOf(cs[0], cs[1]) {
				t.Errorf("customers %s and %s share a home but are no household", cs[0], cs[1])
			}
		}
	}
	t.Logf("%d homes, %d of two accounts", homes, shared)
	if shared == 0 || share(shared, homes) > 0.2 {
		t.Errorf("%d of %d homes shared by a household, want some and at most a fifth", shared, homes)
	}

	// Gifts abroad go to an address other than the customer's main one.
	var gifts, elsewhere int
	for _, a := range abroad {
		if top, ok := topOf[a[0]]; ok {
			gifts++
			if a[1] != top {
				elsewhere++
			}
		}
	}
	t.Logf("%d gifts abroad (%.3f of honest orders), %d to another address than the main", len(abroad), share(len(abroad), legitOrders), elsewhere)
	if gifts < 100 || elsewhere != gifts {
		t.Errorf("%d of %d gifts abroad to another address than the customer's main one, want all (and 100 or more)", elsewhere, gifts)
	}

	// Rings: accounts on drops shared by three or more of them, and none
	// of those drops used by an honest order.
	var ringAccts, onDrop, drops int
	for key, accts := range ringAccounts {
		ringAccts += len(accts)
		if len(accts) >= 3 {
			drops++
			onDrop += len(accts)
			if legitKeys[key] {
				t.Errorf("a ring's drop %s is used by honest orders", key)
			}
		}
	}
	t.Logf("%d fraud_ring accounts, %.3f of them on %d drops of 3+ accounts", ringAccts, share(onDrop, ringAccts), drops)
	if s := share(onDrop, ringAccts); s < 0.65 || s > 0.95 {
		t.Errorf("%.3f of ring accounts on a shared drop, want 0.65-0.95 (a fifth of rings vary the flat)", s)
	}
	t.Logf("%d takeover orders, %.3f to an address the account had not used", takeovers, share(takeoverNew, takeovers))
	if takeovers < 50 || share(takeoverNew, takeovers) < 0.99 {
		t.Errorf("%d of %d takeover orders to a new address, want all", takeoverNew, takeovers)
	}
}

// pairOf reports whether customer IDs a and b are a household: numbers
// 2k and 2k+1.
func pairOf(a, b string) bool {
	na, ok1 := parseNumber(a, 'c')
	nb, ok2 := parseNumber(b, 'c')
	return ok1 && ok2 && na^1 == nb
}

// TestShippingAddressesOfAGrowingBase: in the demo shop, whose customer
// base grows into slots left empty at first, honest accounts still rarely
// meet at one address within a day (a household and a friend's gift make
// three, now and then), and never many of them: a gift to an empty slot's
// "customer" once sent every such gift to one address.
func TestShippingAddressesOfAGrowingBase(t *testing.T) {
	testrace.SkipUnderRace(t)
	lc := DemoLifecycle
	g, err := New(Config{Seed: 1, Customers: 1_000_000, FraudRate: 0.01, Lifecycle: &lc})
	if err != nil {
		t.Fatal(err)
	}
	type dayAddr struct {
		day int64
		key string
	}
	accounts := map[dayAddr]map[string]bool{}
	var ev event.Transaction
	for range 200_000 {
		rec := g.Next()
		if rec.Bad != "" || rec.Fraud {
			continue
		}
		if err := event.Decode(rec.Value, &ev); err != nil {
			t.Fatal(err)
		}
		k := dayAddr{ev.EventTime.Unix() / 86400, event.AddressKey(nil, ev.ShippingAddress)}
		if accounts[k] == nil {
			accounts[k] = map[string]bool{}
		}
		accounts[k][ev.CustomerID] = true
	}
	var three, most int
	for _, m := range accounts {
		most = max(most, len(m))
		if len(m) >= 3 {
			three++
		}
	}
	t.Logf("%d addresses a day, %d of them of 3 or more honest accounts, at most %d", len(accounts), three, most)
	if most > 4 || three > len(accounts)/10_000 {
		t.Errorf("%d addresses a day of 3 or more honest accounts (of %d), up to %d: want at most one in 10,000, none above 4", three, len(accounts), most)
	}
}
