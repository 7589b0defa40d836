package fraud

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/event"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// Lookup tables for tests: IPs 1.x are in the US, 2.x in Germany, 3.x in
// Nigeria, 9.x a US datacenter; BINs 4111xx are American, 5222xx German.
func testIPCountry(ip string) string {
	switch {
	case strings.HasPrefix(ip, "1."), strings.HasPrefix(ip, "9."):
		return "US"
	case strings.HasPrefix(ip, "2."):
		return "DE"
	case strings.HasPrefix(ip, "3."):
		return "NG"
	}
	return ""
}

func testBINCountry(bin string) string {
	switch {
	case strings.HasPrefix(bin, "4111"):
		return "US"
	case strings.HasPrefix(bin, "5222"):
		return "DE"
	}
	return ""
}

func testState(t testing.TB) *State {
	s, err := NewState(StateConfig{
		CountryOfIP:  testIPCountry,
		CountryOfBIN: testBINCountry,
		IsHostingIP:  func(ip string) bool { return strings.HasPrefix(ip, "9.") },
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// txn is a transaction builder: defaults are an American customer at home.
type txn struct {
	cust     string
	at       time.Duration // after t0
	cents    event.Cents
	card     string // "BIN/last4", "" for PayPal
	device   string
	ip       string
	ship     string
	category string
	qty      int
}

func (x txn) event() *event.Transaction {
	t := &event.Transaction{
		SchemaVersion: 1, TransactionID: fmt.Sprintf("t-%s-%d", x.cust, x.at), CustomerID: x.cust,
		EventTime: t0.Add(x.at), Currency: "USD", PaymentMethod: "card",
		DeviceID: x.device, IPAddress: x.ip, BillingCountry: "US", ShippingCountry: x.ship, Channel: "web",
	}
	if t.CustomerID == "" {
		t.CustomerID = "c1"
	}
	if x.cents == 0 {
		x.cents = 2000
	}
	if x.card == "" {
		t.PaymentMethod = "paypal"
	} else {
		t.Card.BIN, t.Card.Last4, _ = strings.Cut(x.card, "/")
	}
	if t.DeviceID == "" {
		t.DeviceID = "d-" + t.CustomerID
	}
	if t.IPAddress == "" {
		t.IPAddress = "1.2.3.4"
	}
	if t.ShippingCountry == "" {
		t.ShippingCountry = "US"
	}
	if x.category == "" {
		x.category = "books"
	}
	if x.qty == 0 {
		x.qty = 1
	}
	t.Items = []event.Item{{ProductID: "p1", Category: x.category, Quantity: x.qty, UnitPriceCents: x.cents / event.Cents(x.qty)}}
	t.TotalCents = t.ItemsCents()
	return t
}

// feed scores and folds in each transaction, returning the features of
// the last.
func feed(s *State, txs ...txn) Features {
	var f Features
	for _, x := range txs {
		t := x.event()
		f = s.Features(t)
		s.Update(t, &f)
	}
	return f
}

func checkFeatures(t *testing.T, f Features, want map[Feature]float64) {
	t.Helper()
	for k, w := range want {
		if got := f.Values[k]; math.Abs(got-w) > 1e-9 {
			t.Errorf("%s = %v, want %v", k, got, w)
		}
	}
}

func TestVelocityWindows(t *testing.T) {
	t.Parallel()
	s := testState(t)
	card := "411111/0001"
	f := feed(s,
		txn{at: -30 * time.Hour, cents: 1000, card: card}, // outside every window
		txn{at: -5 * time.Hour, cents: 2000, card: card},
		txn{at: -30 * time.Minute, cents: 3000, card: "411111/0002"},
		txn{at: -5 * time.Minute, cents: 4000, card: card},
		txn{at: 0, cents: 5000, card: card},
	)
	checkFeatures(t, f, map[Feature]float64{
		Amount:              50,
		CustTxns:            4,
		FirstPurchase:       0,
		AccountAgeDays:      30.0 / 24,
		MinutesSinceLast:    5,
		CustCount10m:        2,
		CustCount1h:         3,
		CustCount24h:        4,
		CustAmount10m:       90,
		CustAmount1h:        120,
		CustAmount24h:       140,
		CardsPerCustomer1h:  2,
		CardsPerCustomer24h: 2,
		CardCount1h:         2,
		CardCount24h:        3,
		CardAmount24h:       110,
		DeviceCount10m:      2,
		DeviceCount1h:       3,
		DeviceCount24h:      4,
		CardsPerDevice1h:    2,
		IPCount1h:           3,
	})
}

func TestFirstPurchase(t *testing.T) {
	t.Parallel()
	s := testState(t)
	f := feed(s, txn{cents: 2500, card: "411111/0001"})
	checkFeatures(t, f, map[Feature]float64{
		Amount: 25, CustTxns: 0, FirstPurchase: 1, AccountAgeDays: 0, MinutesSinceLast: maxMinutes,
		CustCount10m: 1, CustCount24h: 1, CustAmount24h: 25, CardsPerCustomer1h: 1, DevicesPerCustomer24h: 1,
		NewDevice: 0, NewCard: 0, NewShipCountry: 0, // everything is new on a first purchase
		CardCount24h: 1, CustomersPerCard24h: 1, DeviceCount24h: 1, CustomersPerDevice24h: 1,
		IPCount1h: 1, CustomersPerIP24h: 1, CardPayment: 1, Countries: 1,
	})
}

func TestRingsSaturate(t *testing.T) {
	t.Parallel()
	s := testState(t)
	var txs []txn
	for i := range 20 {
		txs = append(txs, txn{at: time.Duration(i) * time.Second, card: fmt.Sprintf("411111/%04d", i)})
	}
	f := feed(s, txs...)
	checkFeatures(t, f, map[Feature]float64{
		CustTxns: 19, CustCount10m: custRing + 1, CardsPerCustomer1h: custRing + 1,
		DeviceCount10m: entRing + 1, CardsPerDevice1h: entRing + 1, IPCount1h: entRing + 1,
	})
}

func TestNewDeviceCardAndCountry(t *testing.T) {
	t.Parallel()
	s := testState(t)
	history := txn{at: -40 * 24 * time.Hour, card: "411111/0001", device: "home"}
	feed(s, history)
	tests := []struct {
		name string
		x    txn
		want map[Feature]float64
	}{
		{"known", txn{at: -20 * 24 * time.Hour, card: "411111/0001", device: "home"},
			map[Feature]float64{NewDevice: 0, NewCard: 0, NewShipCountry: 0}},
		{"new device", txn{at: -2 * time.Hour, card: "411111/0001", device: "phone"},
			map[Feature]float64{NewDevice: 1, NewCard: 0, NewShipCountry: 0}},
		{"still new within a day", txn{at: -1 * time.Hour, card: "522222/0009", device: "phone", ship: "DE"},
			map[Feature]float64{NewDevice: 1, NewCard: 1, NewShipCountry: 1, BillingShipMismatch: 1, BINShipMismatch: 0}},
		{"known a day later", txn{at: 23 * time.Hour, card: "522222/0009", device: "phone", ship: "DE"},
			map[Feature]float64{NewDevice: 0, NewCard: 0, NewShipCountry: 0}},
	}
	for _, tt := range tests {
		f := feed(s, tt.x)
		t.Run(tt.name, func(t *testing.T) { checkFeatures(t, f, tt.want) })
	}
}

func TestKnownListsAreMostRecentlyUsed(t *testing.T) {
	t.Parallel()
	s := testState(t)
	var txs []txn
	// Five devices in turn: the list holds four, so the first is forgotten.
	for i := range 5 {
		txs = append(txs, txn{at: time.Duration(i) * 48 * time.Hour, device: fmt.Sprintf("d%d", i)})
	}
	feed(s, txs...)
	f := feed(s, txn{at: 20 * 24 * time.Hour, device: "d4"})
	checkFeatures(t, f, map[Feature]float64{NewDevice: 0})
	f = feed(s, txn{at: 21 * 24 * time.Hour, device: "d0"})
	checkFeatures(t, f, map[Feature]float64{NewDevice: 1})
}

func TestGeography(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		x    txn
		want map[Feature]float64
	}{
		{"at home", txn{card: "411111/0001"}, map[Feature]float64{Countries: 1, IPBINMismatch: 0, IPShipMismatch: 0, HostingIP: 0, UnknownIP: 0}},
		{"travelling", txn{card: "411111/0001", ip: "2.1.1.1"}, map[Feature]float64{
			Countries: 2, IPBINMismatch: 1, IPShipMismatch: 1, IPBillingMismatch: 1, BINShipMismatch: 0}},
		{"three countries", txn{card: "522222/0001", ip: "3.1.1.1"}, map[Feature]float64{
			Countries: 3, IPBINMismatch: 1, IPShipMismatch: 1, BINShipMismatch: 1, IPBillingMismatch: 1, BillingShipMismatch: 0}},
		{"four countries", txn{card: "522222/0001", ip: "3.1.1.1", ship: "FR"}, map[Feature]float64{Countries: 4, BillingShipMismatch: 1}},
		{"datacenter", txn{ip: "9.9.9.9"}, map[Feature]float64{HostingIP: 1, Countries: 1, CardPayment: 0}},
		{"unknown IP and BIN", txn{ip: "8.8.8.8", card: "999999/0001"}, map[Feature]float64{UnknownIP: 1, Countries: 1, IPBINMismatch: 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			checkFeatures(t, feed(testState(t), tt.x), tt.want)
		})
	}
	// Without lookups there is no geography to compare.
	s, err := NewState(StateConfig{})
	if err != nil {
		t.Fatal(err)
	}
	checkFeatures(t, feed(s, txn{card: "522222/0001", ip: "3.1.1.1", ship: "FR"}),
		map[Feature]float64{Countries: 2, UnknownIP: 0, IPBINMismatch: 0, BillingShipMismatch: 1})
}

func TestBasket(t *testing.T) {
	t.Parallel()
	s := testState(t)
	tx := txn{}.event()
	tx.Items = []event.Item{
		{ProductID: "p1", Category: "phones", Quantity: 2, UnitPriceCents: 30000},
		{ProductID: "p2", Category: "books", Quantity: 1, UnitPriceCents: 15000},
		{ProductID: "p3", Category: "gift_cards", Quantity: 3, UnitPriceCents: 5000},
	}
	tx.TotalCents = tx.ItemsCents()
	f := s.Features(tx)
	checkFeatures(t, f, map[Feature]float64{Amount: 900, Items: 6, Lines: 3, HighRiskShare: 750.0 / 900})
}

func TestSharedKeysWithinPartition(t *testing.T) {
	t.Parallel()
	s := testState(t)
	f := feed(s,
		txn{cust: "a", at: 0, device: "shared", ip: "1.1.1.1", card: "411111/0001"},
		txn{cust: "b", at: time.Minute, device: "shared", ip: "1.1.1.1", card: "411111/0002"},
		txn{cust: "c", at: 2 * time.Minute, device: "shared", ip: "1.1.1.1", card: "411111/0001"},
	)
	checkFeatures(t, f, map[Feature]float64{
		CustomersPerDevice24h: 3, CardsPerDevice1h: 2, DeviceCount10m: 3,
		CustomersPerIP24h: 3, IPCount1h: 3, CustomersPerCard24h: 2, CardCount1h: 2,
		CustCount10m: 1, FirstPurchase: 1,
	})
}

func TestAmountHistory(t *testing.T) {
	t.Parallel()
	s := testState(t)
	var txs []txn
	for i := range 20 {
		txs = append(txs, txn{at: time.Duration(i) * 24 * time.Hour, cents: 2000})
	}
	feed(s, txs...)
	usual := s.Features(txn{at: 30 * 24 * time.Hour, cents: 2000}.event())
	big := s.Features(txn{at: 30 * 24 * time.Hour, cents: 50000}.event())
	if r := usual.Values[AmountRatio]; r < 0.8 || r > 1.2 {
		t.Errorf("amount_ratio of a usual order = %v, want about 1", r)
	}
	if z := usual.Values[AmountZ]; math.Abs(z) > 1 {
		t.Errorf("amount_z of a usual order = %v, want about 0", z)
	}
	if r := big.Values[AmountRatio]; r < 15 {
		t.Errorf("amount_ratio of a 25× order = %v, want well above 15", r)
	}
	if z := big.Values[AmountZ]; z < 4 {
		t.Errorf("amount_z of a 25× order = %v, want above 4", z)
	}
	// A new customer is compared with the partition's customers.
	fresh := s.Features(txn{cust: "new", at: 30 * 24 * time.Hour, cents: 2000}.event())
	if z := fresh.Values[AmountZ]; math.Abs(z) > 1 {
		t.Errorf("amount_z of a new customer's usual order = %v, want about 0", z)
	}
}

func TestFeaturesDoesNotChangeState(t *testing.T) {
	t.Parallel()
	s := testState(t)
	feed(s, txn{at: 0}, txn{at: time.Minute})
	tx := txn{at: 2 * time.Minute, device: "other", card: "411111/0003"}.event()
	a := s.Features(tx)
	b := s.Features(tx)
	if a != b {
		t.Errorf("Features differs on a second call:\n%v\n%v", a.Values, b.Values)
	}
	if c, d, _, _ := s.Len(); c != 1 || d != 1 {
		t.Errorf("Features added keys: %d customers, %d devices", c, d)
	}
}

// TestReplay rebuilds a partition's state from its stored transactions, as
// after a rebalance, and checks that the next transaction scores the same.
func TestReplay(t *testing.T) {
	t.Parallel()
	var stream []*event.Transaction
	for i := range 300 {
		stream = append(stream, txn{
			cust:   fmt.Sprintf("c%d", i%17),
			at:     time.Duration(i) * 7 * time.Minute,
			cents:  event.Cents(500 + 37*i%9000),
			card:   fmt.Sprintf("411111/%04d", i%23),
			device: fmt.Sprintf("d%d", i%11),
			ip:     fmt.Sprintf("%d.0.0.%d", 1+i%3, i%5),
			ship:   []string{"US", "DE", "US", "FR"}[i%4],
		}.event())
	}
	live := testState(t)
	for _, tx := range stream[:250] {
		f := live.Features(tx)
		live.Update(tx, &f)
	}
	replayed := testState(t)
	for _, tx := range stream[:250] {
		replayed.Update(tx, nil)
	}
	for _, tx := range stream[250:] {
		a, b := live.Features(tx), replayed.Features(tx)
		if a.Values != b.Values {
			t.Fatalf("replayed state scores %s differently:\nlive     %v\nreplayed %v", tx.TransactionID, a.Values, b.Values)
		}
		live.Update(tx, &a)
		replayed.Update(tx, nil)
	}
}

// TestOutOfOrder checks that windows are in event time: a late
// transaction counts where it belongs, and rings keep the latest events
// whatever order they arrive in.
func TestOutOfOrder(t *testing.T) {
	t.Parallel()
	s := testState(t)
	f := feed(s, txn{at: 0}, txn{at: 50 * time.Minute}, txn{at: 5 * time.Minute})
	// The late one at 5m sees only the one at 0 before it.
	checkFeatures(t, f, map[Feature]float64{CustCount10m: 2, CustCount1h: 2, MinutesSinceLast: 5})
	f = s.Features(txn{at: 55 * time.Minute}.event())
	checkFeatures(t, f, map[Feature]float64{CustCount10m: 2, CustCount1h: 4, MinutesSinceLast: 5})

	full := testState(t)
	var txs []txn
	for i := range custRing {
		txs = append(txs, txn{at: time.Duration(10+i) * time.Minute})
	}
	feed(full, txs...)
	feed(full, txn{at: time.Minute}) // older than all: dropped from the ring
	f = full.Features(txn{at: 30 * time.Minute}.event())
	checkFeatures(t, f, map[Feature]float64{CustCount1h: custRing + 1, CustTxns: custRing + 1})
}

func TestExpire(t *testing.T) {
	t.Parallel()
	s := testState(t)
	feed(s,
		txn{cust: "old", at: -400 * 24 * time.Hour, card: "411111/0001", device: "d-old", ip: "1.0.0.1"},
		txn{cust: "recent", at: -30 * time.Hour, card: "411111/0002", device: "d-recent", ip: "1.0.0.2"},
		txn{cust: "now", at: 0, card: "411111/0003", device: "d-now", ip: "1.0.0.3"},
	)
	if n := s.Expire(t0); n != 1+2*3 {
		t.Errorf("Expire forgot %d keys, want 7 (one customer, two devices, cards and IPs)", n)
	}
	c, d, k, i := s.Len()
	if c != 2 || d != 1 || k != 1 || i != 1 {
		t.Errorf("after Expire: %d customers, %d devices, %d cards, %d IPs; want 2, 1, 1, 1", c, d, k, i)
	}
	// Freed slots are reused.
	before := s.custs.vals.len()
	feed(s, txn{cust: "another", at: time.Minute})
	if s.custs.vals.len() != before {
		t.Errorf("a new customer grew the slab from %d to %d despite a free slot", before, s.custs.vals.len())
	}
	f := s.Features(txn{cust: "old", at: time.Hour}.event())
	checkFeatures(t, f, map[Feature]float64{FirstPurchase: 1})
}

func TestStateConfig(t *testing.T) {
	t.Parallel()
	if _, err := NewState(StateConfig{CustomerIdle: time.Hour}); !errors.Is(err, ErrInvalidConfig) ||
		!strings.Contains(err.Error(), "CustomerIdle") {
		t.Errorf("NewState with CustomerIdle 1h: %v", err)
	}
	if _, err := NewState(StateConfig{MaxCustomers: -2}); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("NewState with MaxCustomers -2: %v", err)
	}
	c := StateConfig{}.WithDefaults()
	if c.CustomerIdle != 365*24*time.Hour || len(c.HighRiskCategories) == 0 || c.MaxCustomers != 500_000 || c.MaxEntities != 500_000 {
		t.Errorf("defaults: %+v", c)
	}
}

func TestFeaturesAndUpdateDoNotAllocate(t *testing.T) {
	s := testState(t)
	tx := txn{card: "411111/0001"}.event()
	tx.ShippingAddress = "Flat 2, 14 Mill Lane, Otley 40213"
	var f Features
	s.FeaturesInto(tx, &f)
	s.Update(tx, &f)
	n := testing.AllocsPerRun(100, func() {
		tx.EventTime = tx.EventTime.Add(time.Minute)
		s.FeaturesInto(tx, &f)
		s.Update(tx, &f)
	})
	if n != 0 {
		t.Errorf("Features + Update of a known customer allocate %v times", n)
	}
}

func TestFeatureNames(t *testing.T) {
	t.Parallel()
	if len(FeatureNames) != NumFeatures {
		t.Fatalf("%d names for %d features", len(FeatureNames), NumFeatures)
	}
	for i, n := range FeatureNames {
		f, ok := FeatureByName(n)
		if !ok || int(f) != i || f.String() != n {
			t.Errorf("feature %d %q does not round-trip", i, n)
		}
	}
	var f Features
	f.Values[CardPayment] = 1
	v := f.Vector(nil)
	if len(v) != NumFeatures || v[CardPayment] != 1 {
		t.Errorf("Vector = %v", v)
	}
}

func TestExpireCompacts(t *testing.T) {
	t.Parallel()
	s := testState(t)
	for i := range 3000 {
		at := -48 * time.Hour
		if i < 10 {
			at = 0
		}
		feed(s, txn{cust: fmt.Sprintf("c%d", i), at: at})
	}
	s.cfg.CustomerIdle = 24 * time.Hour
	s.Expire(t0)
	if c, _, _, _ := s.Len(); c != 10 || s.custs.vals.cap() > 20 || len(s.custs.free) != 0 {
		t.Errorf("after expiring all but 10 of 3000: %d customers in a slab of %d", c, s.custs.vals.cap())
	}
	f := s.Features(txn{cust: "c3", at: time.Minute}.event())
	checkFeatures(t, f, map[Feature]float64{CustTxns: 1, MinutesSinceLast: 1})
}

// Features do not depend on when idle keys are expired: a stream with
// customers returning after more than CustomerIdle scores the same whether
// the state is swept fully after every transaction, a few records at a
// time, or never; and so it does with the state bounded to fewer
// customers, devices, cards and addresses than the stream has, where the
// bound forgets some that are not idle.
func TestFeaturesIndependentOfExpiry(t *testing.T) {
	t.Parallel()
	stream := checkpointStream(3000)
	// A second long gap, longer than a customer's idle time, so customers
	// come back forgotten.
	for _, tx := range stream[2000:] {
		tx.EventTime = tx.EventTime.Add(30 * 24 * time.Hour)
	}
	type regime struct {
		name  string
		sweep func(s *State, i int, now time.Time)
	}
	regimes := []regime{
		{"never", func(*State, int, time.Time) {}},
		{"fully, every transaction", func(s *State, _ int, now time.Time) { s.Expire(now) }},
		{"a few records every 7", func(s *State, i int, now time.Time) {
			if i%7 == 6 {
				s.ExpireSome(now, 3)
			}
		}},
	}
	// The stream has 40 customers, 25 devices, 60 cards and 27 addresses.
	firsts := map[bool]int{}
	for _, bounded := range []bool{false, true} {
		var want []Features
		forgotten := 0
		for ri, r := range regimes {
			s := testState(t)
			s.cfg.CustomerIdle = 20 * 24 * time.Hour
			if bounded {
				s.cfg.MaxCustomers, s.cfg.MaxEntities = 25, 12
				s.bound()
			}
			for i, tx := range stream {
				f := s.Features(tx)
				if ri == 0 {
					want = append(want, f)
					if f.Values[FirstPurchase] == 1 {
						firsts[bounded]++
						if i >= 2000 {
							forgotten++
						}
					}
				} else if f.Values != want[i].Values {
					t.Fatalf("bounded %v, %s: transaction %d scored\n%v\nwant (never swept)\n%v", bounded, r.name, i, f.Values, want[i].Values)
				}
				s.Update(tx, &f)
				r.sweep(s, i, tx.EventTime)
				if c, d, k, n := s.Len(); bounded && (c > 25 || d > 12 || k > 12 || n > 12) {
					t.Fatalf("bounded, %s: after transaction %d the state holds %d customers, %d devices, %d cards, %d addresses", r.name, i, c, d, k, n)
				}
			}
			if c, e := s.Bounded(); bounded && (c == 0 || e == 0) {
				t.Fatalf("bounded, %s: the bound forgot %d customers and %d entities: the test exercises nothing", r.name, c, e)
			}
		}
		if forgotten == 0 {
			t.Fatal("no customer came back forgotten after the gap: the test exercises nothing")
		}
	}
	if firsts[true] <= firsts[false] {
		t.Errorf("bounded, %d first purchases; unbounded %d: the bound forgot no customer that was not idle", firsts[true], firsts[false])
	}
}

// A checkpoint of a state restored into a state with a tighter bound keeps
// the customers most recently seen.
func TestCheckpointRestoredUnderBound(t *testing.T) {
	t.Parallel()
	s := testState(t)
	for i := range 100 {
		feed(s, txn{cust: fmt.Sprintf("c%d", i), device: fmt.Sprintf("d%d", i), at: time.Duration(i) * time.Minute})
	}
	b, err := s.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	small := testState(t)
	small.cfg.MaxCustomers, small.cfg.MaxEntities = 10, 5
	small.bound()
	if err := small.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if c, d, _, _ := small.Len(); c != 10 || d != 5 {
		t.Fatalf("restored under a bound of 10 customers and 5 devices: %d and %d", c, d)
	}
	for _, tc := range []struct {
		cust  string
		first float64
	}{{"c99", 0}, {"c90", 0}, {"c89", 1}, {"c0", 1}} {
		f := small.Features(txn{cust: tc.cust, at: 2 * time.Hour}.event())
		if f.Values[FirstPurchase] != tc.first {
			t.Errorf("%s after the restore: first purchase %v, want %v", tc.cust, f.Values[FirstPurchase], tc.first)
		}
	}
	// New customers keep the bound.
	for i := range 50 {
		feed(small, txn{cust: fmt.Sprintf("n%d", i), at: 3 * time.Hour})
	}
	if c, _, _, _ := small.Len(); c != 10 {
		t.Errorf("after 50 new customers: %d kept, bound 10", c)
	}
}

// expireFixture is a state of 3000 customers and devices, two thirds of
// them seen 48 hours before t0, with customers idle after 24 hours.
func expireFixture(t *testing.T, bounded bool) *State {
	s := testState(t)
	if !bounded {
		s.cfg.MaxCustomers, s.cfg.MaxEntities = -1, -1
		s.bound()
	}
	for i := range 3000 {
		at := -48 * time.Hour
		if i%3 == 0 {
			at = 0
		}
		feed(s, txn{cust: fmt.Sprintf("c%d", i), device: fmt.Sprintf("d%d", i), at: at})
	}
	s.cfg.CustomerIdle = 24 * time.Hour
	return s
}

// On a bounded state (the default), one ExpireSome forgets every stale key
// from the tables' heaps, whatever slots it is given, and exactly those an
// unbounded state's full sweep forgets.
func TestExpireSomeBounded(t *testing.T) {
	t.Parallel()
	s, all := expireFixture(t, true), expireFixture(t, false)
	if s.custs.max <= 0 || all.custs.max > 0 {
		t.Fatalf("bounds %d and %d: the fixture is not one bounded and one unbounded state", s.custs.max, all.custs.max)
	}
	want := all.Expire(t0)
	if want != 2*2000 {
		t.Fatalf("the unbounded sweep forgot %d keys, want 4000", want)
	}
	if n := s.ExpireSome(t0, 10); n != want {
		t.Fatalf("one ExpireSome over 10 slots of a bounded state forgot %d keys, want %d", n, want)
	}
	for i := range 3000 {
		k := hashString(fmt.Sprintf("c%d", i))
		if (s.custs.get(k) != nil) != (all.custs.get(k) != nil) {
			t.Fatalf("customer c%d: kept %v bounded, %v unbounded", i, s.custs.get(k) != nil, all.custs.get(k) != nil)
		}
	}
	if n := s.ExpireSome(t0, 10); n != 0 {
		t.Fatalf("a second ExpireSome forgot %d keys more", n)
	}
	if s.custs.vals.len() > 2000 || len(s.custs.heap) != 1000 {
		t.Fatalf("the customer slab kept %d slots and its heap %d for 1000 customers", s.custs.vals.len(), len(s.custs.heap))
	}
	f := s.Features(txn{cust: "c3", device: "d3", at: time.Minute}.event())
	checkFeatures(t, f, map[Feature]float64{CustTxns: 1, MinutesSinceLast: 1})
	if f := s.Features(txn{cust: "c4", at: time.Minute}.event()); f.Values[FirstPurchase] != 1 {
		t.Errorf("c4, forgotten: first purchase %v, want 1", f.Values[FirstPurchase])
	}
}

// On an unbounded state ExpireSome visits at most the slots it is given,
// goes round the table call after call, and in one round forgets what
// Expire forgets.
func TestExpireSome(t *testing.T) {
	t.Parallel()
	s := expireFixture(t, false)
	if s.custs.max > 0 {
		t.Fatal("the fixture is bounded")
	}
	if n := s.ExpireSome(t0, 10); n > 4*10 {
		t.Fatalf("ExpireSome over 10 slots of each table forgot %d keys", n)
	}
	total := 0
	for range 3000 / 100 {
		total += s.ExpireSome(t0, 100)
	}
	c, d, _, _ := s.Len()
	if c != 1000 || d != 1000 {
		t.Fatalf("after a round of ExpireSome: %d customers and %d devices, want 1000 of each", c, d)
	}
	if n := s.Expire(t0); n != 0 {
		t.Fatalf("Expire after a full round of ExpireSome still forgot %d keys", n)
	}
	if s.custs.vals.len() > 2000 {
		t.Fatalf("the customer slab kept %d slots for 1000 customers: not compacted", s.custs.vals.len())
	}
	f := s.Features(txn{cust: "c3", device: "d3", at: time.Minute}.event())
	checkFeatures(t, f, map[Feature]float64{CustTxns: 1, MinutesSinceLast: 1})
}
