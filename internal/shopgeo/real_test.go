package shopgeo_test

import (
	"math"
	"testing"

	"github.com/shopstream/shopstream/internal/event"
	"github.com/shopstream/shopstream/internal/fraud"
	"github.com/shopstream/shopstream/internal/generate"
	"github.com/shopstream/shopstream/internal/geoip"
	"github.com/shopstream/shopstream/internal/geoip/geoiptest"
	"github.com/shopstream/shopstream/internal/quality"
	"github.com/shopstream/shopstream/internal/shopgeo"
)

func openReal(t *testing.T) *geoip.DB {
	t.Helper()
	country, asn := geoiptest.Files(t)
	db, err := geoip.Open(geoip.Config{CountryDB: country, ASNDB: asn, BINTable: "testdata/bins.csv"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// pair is one record drawn twice with the same seed: on the invented plan
// and on the real one.
type pair struct {
	syn, real event.Transaction
	fraud     bool
	scenario  string
}

func draw(t *testing.T, geo *generate.Geography, n int) []pair {
	t.Helper()
	cfg := generate.Config{Seed: 7, Customers: 20_000, FraudRate: 0.05}
	a, err := generate.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Geography = geo
	b, err := generate.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	qc := quality.Config{}.WithDefaults()
	out := make([]pair, 0, n)
	for len(out) < n {
		ra, rb := a.Next(), b.Next()
		if ra.TransactionID != rb.TransactionID || ra.Fraud != rb.Fraud {
			t.Fatalf("the streams part: %s (fraud %v) and %s (fraud %v)", ra.TransactionID, ra.Fraud, rb.TransactionID, rb.Fraud)
		}
		var p pair
		if qc.Decode(ra.Value, ra.EventTime, &p.syn) != nil || qc.Decode(rb.Value, rb.EventTime, &p.real) != nil {
			continue
		}
		p.fraud, p.scenario = ra.Fraud, ra.Scenario
		out = append(out, p)
	}
	return out
}

// TestGeneratorDrawsForRealLookups: with the real databases, the generator's
// addresses and BINs get from real lookups the answers its invented plan
// gives the invented ones (country, hosting, card country), over a large
// sample with a fixed seed; nothing else in the records changes.
func TestGeneratorDrawsForRealLookups(t *testing.T) {
	t.Parallel()
	db := openReal(t)
	geo, err := shopgeo.Geography(db)
	if err != nil {
		t.Fatal(err)
	}
	pairs := draw(t, geo, 40_000)
	var ipOK, hostOK, binOK, hosting, cards, same int
	realIPs := map[string]string{}
	for _, p := range pairs {
		s, r := p.syn, p.real
		if generate.CountryOfIP(s.IPAddress) == db.CountryOfIP(r.IPAddress) {
			ipOK++
		}
		if h := generate.IsHostingIP(s.IPAddress); h == db.IsHostingIP(r.IPAddress) {
			hostOK++
			if h {
				hosting++
			}
		}
		if s.Card.BIN != "" {
			cards++
			if generate.CountryOfBIN(s.Card.BIN) == db.CountryOfBIN(r.Card.BIN) {
				binOK++
			}
		}
		if prev, ok := realIPs[r.IPAddress]; ok && prev != s.IPAddress {
			t.Logf("two invented addresses, %s and %s, became the same real %s", prev, s.IPAddress, r.IPAddress)
		}
		realIPs[r.IPAddress] = s.IPAddress
		s.IPAddress, s.Card.BIN = r.IPAddress, r.Card.BIN
		if s.TransactionID == r.TransactionID && s.CustomerID == r.CustomerID && s.TotalCents == r.TotalCents &&
			s.ShippingCountry == r.ShippingCountry && s.BillingCountry == r.BillingCountry && s.DeviceID == r.DeviceID && s.Card.Last4 == r.Card.Last4 {
			same++
		}
	}
	n := len(pairs)
	t.Logf("%d records: IP country %d, hosting %d (%d hosting), card country %d of %d", n, ipOK, hostOK, hosting, binOK, cards)
	if ipOK != n || hostOK != n || binOK != cards || same != n {
		t.Errorf("of %d records, %d IP countries, %d hosting flags, %d of %d card countries and %d other fields agree; want all",
			n, ipOK, hostOK, binOK, cards, same)
	}
	if hosting < 50 || cards < n/2 {
		t.Errorf("too few hosting addresses (%d) or cards (%d) to tell", hosting, cards)
	}
}

// geoFeatures are the features that read an IP or BIN lookup.
var geoFeatures = map[fraud.Feature]bool{fraud.IPBINMismatch: true, fraud.IPShipMismatch: true, fraud.BINShipMismatch: true,
	fraud.IPBillingMismatch: true, fraud.Countries: true, fraud.HostingIP: true, fraud.UnknownIP: true}

func features(t *testing.T, cfg fraud.StateConfig, txs []event.Transaction) [][fraud.NumFeatures]float64 {
	t.Helper()
	s, err := fraud.NewState(cfg)
	if err != nil {
		t.Fatal(err)
	}
	out := make([][fraud.NumFeatures]float64, len(txs))
	var f fraud.Features
	for i := range txs {
		s.FeaturesInto(&txs[i], &f)
		copy(out[i][:], f.Vector(nil))
		s.Update(&txs[i], &f)
	}
	return out
}

// TestRealFeaturesEqualSynthetic: the detector's features on a stream drawn
// for the real databases, with the real lookups, equal those on the same
// stream drawn on the invented plan with the synthetic tables. The one
// way they can differ is two invented addresses (or cards) that became the
// same real one, which per-IP (per-card) counts would see: the test
// allows a handful and says how many.
func TestRealFeaturesEqualSynthetic(t *testing.T) {
	t.Parallel()
	db := openReal(t)
	geo, err := shopgeo.Geography(db)
	if err != nil {
		t.Fatal(err)
	}
	pairs := draw(t, geo, 30_000)
	syn, real := make([]event.Transaction, len(pairs)), make([]event.Transaction, len(pairs))
	for i, p := range pairs {
		syn[i], real[i] = p.syn, p.real
	}
	fs := features(t, shopgeo.Lookups(fraud.StateConfig{}), syn)
	fr := features(t, db.Lookups(fraud.StateConfig{}), real)
	differ := map[string]int{}
	rows := 0
	for i := range fs {
		d := false
		for j := range fs[i] {
			if fs[i][j] != fr[i][j] && !(math.IsNaN(fs[i][j]) && math.IsNaN(fr[i][j])) {
				differ[fraud.FeatureNames[j]]++
				d = true
			}
		}
		if d {
			rows++
		}
	}
	t.Logf("%d of %d transactions have a differing feature: %v", rows, len(fs), differ)
	if rows > len(fs)/1000 {
		t.Errorf("%d of %d transactions' features differ between real and synthetic geography (%v); want at most 0.1%%", rows, len(fs), differ)
	}
}

// TestGeographyOffChangesOnlyGeographicFeatures: with no lookups, the
// features that need none are those with the synthetic tables, and the
// geographic ones are 0.
func TestGeographyOffChangesOnlyGeographicFeatures(t *testing.T) {
	t.Parallel()
	gen, err := generate.New(generate.Config{Seed: 7, Customers: 20_000, FraudRate: 0.05})
	if err != nil {
		t.Fatal(err)
	}
	qc := quality.Config{}.WithDefaults()
	var txs []event.Transaction
	for len(txs) < 20_000 {
		r := gen.Next()
		var tx event.Transaction
		if qc.Decode(r.Value, r.EventTime, &tx) == nil {
			txs = append(txs, tx)
		}
	}
	off, err := geoip.Open(geoip.Config{})
	if err != nil {
		t.Fatal(err)
	}
	on := features(t, shopgeo.Lookups(fraud.StateConfig{}), txs)
	without := features(t, off.Lookups(fraud.StateConfig{}), txs)
	changed := map[string]int{}
	for i := range on {
		for j := range on[i] {
			if geoFeatures[fraud.Feature(j)] {
				if fraud.Feature(j) != fraud.Countries && without[i][j] != 0 {
					t.Fatalf("transaction %d: %s is %v with geography off", i, fraud.FeatureNames[j], without[i][j])
				}
				if on[i][j] != without[i][j] {
					changed[fraud.FeatureNames[j]]++
				}
				continue
			}
			if on[i][j] != without[i][j] {
				t.Fatalf("transaction %d: %s is %v with geography, %v without", i, fraud.FeatureNames[j], on[i][j], without[i][j])
			}
		}
	}
	t.Logf("geographic features changed: %v", changed)
	if changed["hosting_ip"] == 0 || changed["ip_bin_mismatch"] == 0 {
		t.Errorf("switching geography off changed no hosting_ip or ip_bin_mismatch: %v", changed)
	}
}
