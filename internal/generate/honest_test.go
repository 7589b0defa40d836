package generate

import (
	"math"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/event"
	"github.com/shopstream/shopstream/internal/testrace"
)

// TestHonestBehaviourShares: with a fixed seed, each honest behaviour that
// looks like fraud to a naive rule has the share of honest orders it is
// documented with, and looks the way it should: split orders seconds
// after the customer's previous order, add-ons minutes after, gifts
// shipped abroad, household devices used by two customers, office and
// carrier addresses shared by many.
func TestHonestBehaviourShares(t *testing.T) {
	testrace.SkipUnderRace(t)
	t.Parallel()
	g := newGen(t, Config{Seed: 7, Customers: 10_000})
	const n = 300_000
	count := map[string]int{}
	legit := 0
	last := map[string]time.Time{}
	var splitGaps, addOnGaps []time.Duration
	deviceUsers := map[string]map[string]bool{}
	sharedDevices := map[string]bool{}
	ipUsers := map[string]map[string]bool{}
	natIPs := map[string]map[string]bool{} // country -> addresses
	var tx event.Transaction
	mobile, web := 0, 0
	for range n {
		rec := g.Next()
		if rec.Bad != "" {
			continue
		}
		if err := event.Decode(rec.Value, &tx); err != nil {
			t.Fatal(err)
		}
		if rec.Fraud {
			if rec.Honest != 0 {
				t.Fatalf("fraud record %s labelled honest %s", rec.TransactionID, rec.Honest)
			}
			continue
		}
		legit++
		if tx.Channel == "web" {
			web++
		} else {
			mobile++
		}
		for _, k := range HonestKinds() {
			if rec.Honest.Has(k) {
				count[k]++
			}
		}
		prev, seen := last[tx.CustomerID]
		switch {
		case rec.Honest.Has("split_order"):
			if !seen {
				t.Fatalf("split order %s by a customer with no earlier order", rec.TransactionID)
			}
			splitGaps = append(splitGaps, rec.EventTime.Sub(prev))
		case rec.Honest.Has("add_on") && seen:
			addOnGaps = append(addOnGaps, rec.EventTime.Sub(prev))
		}
		last[tx.CustomerID] = rec.EventTime
		if rec.Honest.Has("gift_abroad") && tx.ShippingCountry == tx.BillingCountry {
			t.Fatalf("gift %s shipped home", rec.TransactionID)
		}
		add := func(m map[string]map[string]bool, k, v string) {
			if m[k] == nil {
				m[k] = map[string]bool{}
			}
			m[k][v] = true
		}
		add(deviceUsers, tx.DeviceID, tx.CustomerID)
		if rec.Honest.Has("shared_device") {
			sharedDevices[tx.DeviceID] = true
		}
		if rec.Honest.Has("corporate_ip") {
			add(ipUsers, tx.IPAddress, tx.CustomerID)
		}
		if rec.Honest.Has("carrier_nat") {
			add(natIPs, tx.BillingCountry, tx.IPAddress)
			add(ipUsers, tx.IPAddress, tx.CustomerID)
		}
	}
	share := func(k string, of int) float64 { return float64(count[k]) / float64(of) }
	for _, c := range []struct {
		kind   string
		of     int
		lo, hi float64
	}{
		{"split_order", legit, 0.010, 0.020},
		{"add_on", legit, 0.022, 0.035},
		{"gift_abroad", legit, 0.020, 0.030},
		{"traveller", legit, 0.025, 0.035},
		{"vpn", legit, 0.007, 0.013},
		{"new_device", legit, 0.012, 0.018},
		{"shared_device", legit, 0.016, 0.024},
		{"corporate_ip", web, 0.032, 0.048},
		{"carrier_nat", mobile, 0.22, 0.28},
	} {
		got := share(c.kind, c.of)
		t.Logf("%-13s %6d orders, %.4f", c.kind, count[c.kind], got)
		if got < c.lo || got > c.hi {
			t.Errorf("%s: share %.4f, want %.3f to %.3f", c.kind, got, c.lo, c.hi)
		}
	}
	for _, d := range splitGaps {
		if d < 5*time.Second || d > time.Minute {
			t.Fatalf("a split order %s after the customer's previous order; want 5 s to 1 min", d)
		}
	}
	under := 0
	for _, d := range addOnGaps {
		if d < time.Minute {
			under++
		}
	}
	if len(splitGaps) < 1000 || len(addOnGaps) < 1000 || under > len(addOnGaps)/100 {
		t.Errorf("%d split gaps, %d add-on gaps of which %d under a minute", len(splitGaps), len(addOnGaps), under)
	}
	// A household device is shared: its users are the pair 2k, 2k+1.
	shared := 0
	for d := range sharedDevices {
		if len(deviceUsers[d]) >= 2 {
			shared++
		}
	}
	if shared < 50 {
		t.Errorf("%d household devices seen with both members; want at least 50", shared)
	}
	// Office and carrier addresses are shared by many customers.
	most := 0
	for _, users := range ipUsers {
		most = max(most, len(users))
	}
	if most < 20 {
		t.Errorf("the busiest shared address has %d customers; want at least 20", most)
	}
	for country, ips := range natIPs {
		if len(ips) > natPerCountry {
			t.Errorf("%s: %d carrier NAT addresses, want at most %d", country, len(ips), natPerCountry)
		}
	}
	if math.IsNaN(share("add_on", legit)) {
		t.Fatal("no legit orders")
	}
}
