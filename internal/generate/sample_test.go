package generate

import (
	"math"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/event"
	"github.com/shopstream/shopstream/internal/quality"
)

// The statistical tests share one large seeded sample, gathered in a
// single streaming pass so memory stays small even under -race.

const (
	sampleSize      = 200_000
	sampleFraudRate = 0.05
	sampleBadRate   = 0.02
)

var sampleConfig = Config{Seed: 7, FraudRate: sampleFraudRate, BadRate: sampleBadRate}

// scenarioSignals counts, per label, how often each trace of fraud shows.
type scenarioSignals struct {
	n            int
	newDevice    int // device first used on this customer in the last day, after older orders
	shipAbroad   int // shipping country differs from billing
	ipForeign    int // IP country differs from billing
	binForeign   int // card issued outside the billing country
	threeWay     int // IP, BIN and shipping countries all differ
	hosting      int // datacenter IP
	amount       []float64
	burst        int // another order by the same customer within 10 minutes before
	newCustomer  int // customer's first order in the sample less than a day ago
	cardsOnDev   int // records whose device has carried 3+ distinct cards
	highVsBefore int // amount above 3x the customer's previous mean
}

type sampleStats struct {
	gen        *Generator
	n          int
	good       int
	fraud      int
	bad        int
	byScenario map[string]int
	byBad      map[quality.Reason]int
	// quality checks
	goodRejected []string
	badWrong     []string
	dupMissed    int
	outOfOrder   int
	keyMismatch  int
	// behaviour of legit records
	perCustomer map[string]int
	productN    []int
	categoryN   map[string]int
	baskets     int
	inBaskets   []int // baskets containing each product
	pairObs     int   // baskets with a product and its planted partner
	pairExp     float64
	ctrlObs     int
	ctrlExp     float64
	pairLifts   []float64
	byHour      [24]int
	byWeekday   [7]int
	gapsCV      float64
	// fraud traces by label: "legit" or a scenario
	signals map[string]*scenarioSignals
	first   time.Time
	last    time.Time
}

var (
	sampleOnce sync.Once
	sampleRes  *sampleStats
	sampleErr  error
)

func getSample(t *testing.T) *sampleStats {
	t.Helper()
	sampleOnce.Do(func() { sampleRes, sampleErr = gatherSample() })
	if sampleErr != nil {
		t.Fatal(sampleErr)
	}
	return sampleRes
}

type custState struct {
	devices map[string]int64 // first use
	firstMs int64
	lastMs  int64
	orders  int
	spent   float64
	gaps    []float64
}

func gatherSample() (*sampleStats, error) {
	g, err := New(sampleConfig)
	if err != nil {
		return nil, err
	}
	s := &sampleStats{
		gen:         g,
		byScenario:  map[string]int{},
		byBad:       map[quality.Reason]int{},
		perCustomer: map[string]int{},
		productN:    make([]int, len(g.cat.price)),
		inBaskets:   make([]int, len(g.cat.price)),
		categoryN:   map[string]int{},
		signals:     map[string]*scenarioSignals{},
	}
	qc := quality.Config{}.WithDefaults()
	dedup := quality.NewDedup(4096)
	custs := map[string]*custState{}
	devCards := map[string]map[string]bool{}
	// control pairs: each product with an unrelated product of similar
	// popularity (the next one in the same popularity order), to show the
	// lift test does not fire on independence.
	ctrl := make([]uint32, len(g.cat.price))
	order := make([]int, len(ctrl))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(i, j int) bool { return g.cat.pop[order[i]] > g.cat.pop[order[j]] })
	for k, p := range order {
		q := order[(k+1)%len(order)]
		if uint32(q) == g.cat.partner[p] {
			q = order[(k+2)%len(order)]
		}
		ctrl[p] = uint32(q)
	}
	type pairKey struct{ a, b uint32 }
	pairBaskets := map[pairKey]int{}
	ctrlBaskets := map[pairKey]int{}

	var tx event.Transaction
	var prev time.Time
	inBasket := map[uint32]bool{}
	for i := 0; i < sampleSize; i++ {
		r := g.Next()
		s.n++
		if i == 0 {
			s.first = r.EventTime
		}
		s.last = r.EventTime
		if r.EventTime.Before(prev) {
			s.outOfOrder++
		}
		prev = r.EventTime
		f := qc.Decode(r.Value, r.EventTime, &tx)
		if f == nil {
			if d := dedup.Check(tx.TransactionID); d != nil {
				f = d
			}
		}
		if r.Bad != "" {
			s.bad++
			s.byBad[r.Bad]++
			if f == nil {
				if r.Bad == quality.DuplicateID {
					s.dupMissed++
				}
				s.badWrong = append(s.badWrong, string(r.Bad)+" accepted: "+string(r.Value))
			} else if f.Reason != r.Bad {
				s.badWrong = append(s.badWrong, string(r.Bad)+" rejected as "+f.Error())
			}
			continue
		}
		s.good++
		if f != nil {
			s.goodRejected = append(s.goodRejected, f.Error()+": "+string(r.Value))
			continue
		}
		if string(r.Key) != tx.CustomerID || r.TransactionID != tx.TransactionID || r.AmountCents != tx.TotalCents {
			s.keyMismatch++
		}
		label := "legit"
		if r.Fraud {
			s.fraud++
			s.byScenario[r.Scenario]++
			label = r.Scenario
		}

		// fraud traces, for legit and fraud alike
		sig := s.signals[label]
		if sig == nil {
			sig = &scenarioSignals{}
			s.signals[label] = sig
		}
		ms := tx.EventTime.UnixMilli()
		cs := custs[tx.CustomerID]
		if cs == nil {
			cs = &custState{devices: map[string]int64{}, firstMs: ms}
			custs[tx.CustomerID] = cs
		}
		const day = 24 * 3600 * 1000
		if ms-cs.firstMs < day {
			sig.newCustomer++
		}
		amount := tx.TotalCents.Float()
		sig.n++
		sig.amount = append(sig.amount, amount)
		first, seen := cs.devices[tx.DeviceID]
		if !seen {
			first = ms
			cs.devices[tx.DeviceID] = ms
		}
		if first > cs.firstMs && ms-first < day {
			sig.newDevice++
		}
		if cs.orders > 0 && ms-cs.lastMs < 10*60_000 {
			sig.burst++
		}
		if cs.orders > 0 && amount > 3*cs.spent/float64(cs.orders) {
			sig.highVsBefore++
		}
		ipC, binC := CountryOfIP(tx.IPAddress), CountryOfBIN(tx.Card.BIN)
		if tx.ShippingCountry != tx.BillingCountry {
			sig.shipAbroad++
		}
		if ipC != tx.BillingCountry {
			sig.ipForeign++
		}
		if binC != "" && binC != tx.BillingCountry {
			sig.binForeign++
		}
		if binC != "" && ipC != binC && ipC != tx.ShippingCountry && binC != tx.ShippingCountry {
			sig.threeWay++
		}
		if IsHostingIP(tx.IPAddress) {
			sig.hosting++
		}
		if tx.Card.BIN != "" {
			dc := devCards[tx.DeviceID]
			if dc == nil {
				dc = map[string]bool{}
				devCards[tx.DeviceID] = dc
			}
			dc[tx.Card.BIN+tx.Card.Last4] = true
			if len(dc) >= 3 {
				sig.cardsOnDev++
			}
		}
		if cs.orders > 0 && label == "legit" {
			cs.gaps = append(cs.gaps, float64(ms-cs.lastMs))
		}
		cs.lastMs = ms
		cs.orders++
		cs.spent += amount

		if r.Fraud {
			continue
		}
		s.perCustomer[tx.CustomerID]++
		s.byHour[tx.EventTime.Hour()]++
		s.byWeekday[tx.EventTime.Weekday()]++
		s.baskets++
		clear(inBasket)
		for _, it := range tx.Items {
			p, err := strconv.Atoi(it.ProductID[1:])
			if err != nil {
				return nil, err
			}
			pi := uint32(p - 1)
			s.productN[pi] += it.Quantity
			s.categoryN[it.Category] += it.Quantity
			inBasket[pi] = true
		}
		for p := range inBasket {
			s.inBaskets[p]++
			if q := g.cat.partner[p]; q != p && inBasket[q] {
				pairBaskets[pairKey{p, q}]++
			}
			if inBasket[ctrl[p]] {
				ctrlBaskets[pairKey{p, ctrl[p]}]++
			}
		}
	}
	// Co-purchase: observed baskets holding both products of a pair against
	// the number expected if products were chosen independently.
	nb := float64(s.baskets)
	for p := range g.cat.partner {
		q := g.cat.partner[p]
		if uint32(p) == q {
			continue
		}
		e := float64(s.inBaskets[p]) * float64(s.inBaskets[q]) / nb
		o := pairBaskets[pairKey{uint32(p), q}]
		s.pairObs += o
		s.pairExp += e
		if e >= 1 {
			s.pairLifts = append(s.pairLifts, float64(o)/e)
		}
		c := ctrl[p]
		s.ctrlObs += ctrlBaskets[pairKey{uint32(p), c}]
		s.ctrlExp += float64(s.inBaskets[p]) * float64(s.inBaskets[c]) / nb
	}
	// Inter-purchase gaps of repeat customers, each scaled by the
	// customer's own mean gap, pooled.
	var sum, sum2, k float64
	for _, cs := range custs {
		if len(cs.gaps) < 4 {
			continue
		}
		m := 0.0
		for _, x := range cs.gaps {
			m += x
		}
		m /= float64(len(cs.gaps))
		for _, x := range cs.gaps {
			sum += x / m
			sum2 += (x / m) * (x / m)
			k++
		}
	}
	mean := sum / k
	s.gapsCV = math.Sqrt(sum2/k-mean*mean) / mean
	return s, nil
}

func within(got, want, relTol float64) bool { return math.Abs(got-want) <= relTol*want }

func TestSampleGoodRecordsPassQuality(t *testing.T) {
	s := getSample(t)
	if len(s.goodRejected) > 0 {
		t.Errorf("%d of %d good records rejected; first: %s", len(s.goodRejected), s.good, s.goodRejected[0])
	}
	if s.keyMismatch > 0 {
		t.Errorf("%d records whose Key, TransactionID or AmountCents disagree with the event", s.keyMismatch)
	}
	if s.outOfOrder > 0 {
		t.Errorf("Next returned %d records out of event-time order", s.outOfOrder)
	}
}

func TestSampleBadRecordsRejectedForTheirReason(t *testing.T) {
	s := getSample(t)
	for _, k := range DefaultBadKinds {
		if s.byBad[k] == 0 {
			t.Errorf("no %s records in %d", k, s.n)
		}
	}
	if len(s.badWrong) > 0 {
		t.Errorf("%d of %d bad records not rejected for their own reason; first: %s", len(s.badWrong), s.bad, s.badWrong[0])
	}
	if got := float64(s.bad) / float64(s.n); !within(got, sampleBadRate, 0.15) {
		t.Errorf("bad share %.4f, want %.4f ± 15%%", got, sampleBadRate)
	}
}

func TestSampleFraudRateAndMix(t *testing.T) {
	s := getSample(t)
	got := float64(s.fraud) / float64(s.good)
	if !within(got, sampleFraudRate, 0.15) {
		t.Errorf("fraud share of good records %.4f, want %.4f ± 15%%", got, sampleFraudRate)
	}
	for _, name := range Scenarios {
		share := float64(s.byScenario[name]) / float64(s.fraud)
		if want := DefaultFraudMix[name]; math.Abs(share-want) > 0.06 {
			t.Errorf("scenario %s has %.3f of fraud records, want %.2f ± 0.06", name, share, want)
		}
	}
	t.Logf("fraud %d of %d good (%.4f); by scenario %v", s.fraud, s.good, got, s.byScenario)
}

func TestSamplePurchaseCountsOverDispersed(t *testing.T) {
	s := getSample(t)
	var sum, sum2 float64
	for _, c := range s.perCustomer {
		sum += float64(c)
		sum2 += float64(c * c)
	}
	n := float64(len(s.perCustomer))
	mean := sum / n
	ratio := (sum2/n - mean*mean) / mean
	t.Logf("%d customers, mean %.2f purchases, variance/mean %.1f", len(s.perCustomer), mean, ratio)
	if ratio < 2 {
		t.Errorf("purchase counts variance/mean = %.2f, want > 2 (over-dispersed)", ratio)
	}
	// Customers keep arriving: far more IDs than slots in the base.
	if int(n) < 2*sampleConfig.WithDefaults().Customers {
		t.Errorf("%d distinct customers bought, want more than twice the base of %d (churn and acquisition)", int(n), sampleConfig.WithDefaults().Customers)
	}
}

func TestSampleInterPurchaseGapsLookExponential(t *testing.T) {
	s := getSample(t)
	// A Poisson buyer's gaps are exponential (CV 1); seasonality and quick
	// follow-up orders push it somewhat above.
	t.Logf("pooled CV of scaled inter-purchase gaps: %.2f", s.gapsCV)
	if s.gapsCV < 0.8 || s.gapsCV > 1.8 {
		t.Errorf("inter-purchase gap CV = %.2f, want 0.8..1.8 (roughly exponential)", s.gapsCV)
	}
}

func TestSamplePopularityLongTailed(t *testing.T) {
	s := getSample(t)
	counts := append([]int(nil), s.productN...)
	sort.Sort(sort.Reverse(sort.IntSlice(counts)))
	total, top := 0, 0
	for i, c := range counts {
		total += c
		if i < len(counts)/10 {
			top += c
		}
	}
	share := float64(top) / float64(total)
	// Rank-frequency slope on log-log axes over ranks 10..300: a power law
	// is a straight line with slope near -1.
	var xs, ys []float64
	for rank := 10; rank <= 300; rank++ {
		xs = append(xs, math.Log(float64(rank)))
		ys = append(ys, math.Log(float64(counts[rank-1])))
	}
	slope, r2 := fitLine(xs, ys)
	t.Logf("top 10%% of products: %.1f%% of units; log-log slope %.2f (R² %.3f)", 100*share, slope, r2)
	if share < 0.4 {
		t.Errorf("top 10%% of products take %.1f%% of units, want > 40%%", 100*share)
	}
	if slope > -0.5 || slope < -2 || r2 < 0.9 {
		t.Errorf("rank-frequency slope %.2f (R² %.2f), want a power law with slope in -2..-0.5 and R² > 0.9", slope, r2)
	}

	cats := make([]int, 0, len(s.categoryN))
	for _, c := range s.categoryN {
		cats = append(cats, c)
	}
	sort.Sort(sort.Reverse(sort.IntSlice(cats)))
	top5 := 0
	for _, c := range cats[:5] {
		top5 += c
	}
	if share := float64(top5) / float64(total); share < 0.45 {
		t.Errorf("top 5 of %d departments take %.1f%% of units, want > 45%%", len(cats), 100*share)
	}
	if len(cats) != len(categoryTable) {
		t.Errorf("%d departments sold, want all %d", len(cats), len(categoryTable))
	}
}

func fitLine(xs, ys []float64) (slope, r2 float64) {
	n := float64(len(xs))
	var sx, sy, sxx, sxy, syy float64
	for i := range xs {
		sx += xs[i]
		sy += ys[i]
		sxx += xs[i] * xs[i]
		sxy += xs[i] * ys[i]
		syy += ys[i] * ys[i]
	}
	cov := sxy - sx*sy/n
	vx := sxx - sx*sx/n
	vy := syy - sy*sy/n
	return cov / vx, cov * cov / (vx * vy)
}

func TestSampleCoPurchasePairs(t *testing.T) {
	s := getSample(t)
	lift := float64(s.pairObs) / s.pairExp
	z := (float64(s.pairObs) - s.pairExp) / math.Sqrt(s.pairExp)
	ctrlLift := float64(s.ctrlObs) / s.ctrlExp
	sort.Float64s(s.pairLifts)
	median := s.pairLifts[len(s.pairLifts)/2]
	t.Logf("planted pairs: %d baskets vs %.0f expected (lift %.1f, z %.0f, median pair lift %.1f over %d pairs); control pairs lift %.2f",
		s.pairObs, s.pairExp, lift, z, median, len(s.pairLifts), ctrlLift)
	if lift < 2 || z < 10 {
		t.Errorf("planted pairs lift %.2f (z %.1f), want lift > 2 and z > 10", lift, z)
	}
	if median < 2 {
		t.Errorf("median lift of planted pairs %.2f, want > 2", median)
	}
	if ctrlLift > 1.5 {
		t.Errorf("control pairs lift %.2f, want about 1: co-purchase structure must come from the planted pairs", ctrlLift)
	}
}

func TestSampleSeasonality(t *testing.T) {
	s := getSample(t)
	lo, hi := math.MaxInt, 0
	for _, c := range s.byHour {
		lo, hi = min(lo, c), max(hi, c)
	}
	t.Logf("orders by UTC hour: %v; by weekday (Sunday first): %v", s.byHour, s.byWeekday)
	if float64(hi) < 2*float64(lo) {
		t.Errorf("busiest UTC hour has %d orders, quietest %d: want a daily cycle (ratio > 2)", hi, lo)
	}
	if s.byWeekday[0] == s.byWeekday[3] {
		t.Error("Sunday and Wednesday have the same number of orders; want a weekly cycle")
	}
}

func TestSampleFraudLeavesSignals(t *testing.T) {
	s := getSample(t)
	legit := s.signals["legit"]
	rate := func(sig *scenarioSignals, n int) float64 { return float64(n) / float64(sig.n) }
	for name, sig := range s.signals {
		t.Logf("%-17s n=%6d newCust=%.2f newDev=%.2f burst=%.2f shipAbroad=%.2f ipForeign=%.2f binForeign=%.2f threeWay=%.3f hosting=%.2f cards>=3/dev=%.2f 3x-usual=%.2f medianAmount=%.2f",
			name, sig.n, rate(sig, sig.newCustomer), rate(sig, sig.newDevice), rate(sig, sig.burst), rate(sig, sig.shipAbroad),
			rate(sig, sig.ipForeign), rate(sig, sig.binForeign), rate(sig, sig.threeWay), rate(sig, sig.hosting),
			rate(sig, sig.cardsOnDev), rate(sig, sig.highVsBefore), median(sig.amount))
	}
	check := func(name, what string, got, atLeast float64) {
		t.Helper()
		if got < atLeast {
			t.Errorf("%s: %s in %.3f of records, want at least %.2f", name, what, got, atLeast)
		}
	}
	ct, ato, sc, bot, geo := s.signals[CardTesting], s.signals[AccountTakeover], s.signals[StolenCard], s.signals[BotBurst], s.signals[GeoMismatch]
	check(CardTesting, "3+ cards on the device", rate(ct, ct.cardsOnDev), 0.7)
	check(CardTesting, "another order within 10 minutes", rate(ct, ct.burst), 0.7)
	check(BotBurst, "another order within 10 minutes", rate(bot, bot.burst), 0.85)
	check(AccountTakeover, "a device new to the customer", rate(ato, ato.newDevice), 0.9)
	check(AccountTakeover, "shipping abroad", rate(ato, ato.shipAbroad), 0.99)
	check(StolenCard, "an account younger than a day", rate(sc, sc.newCustomer), 0.9)
	check(CardTesting, "an account younger than a day", rate(ct, ct.newCustomer), 0.9)
	check(GeoMismatch, "IP, BIN and shipping countries all different", rate(geo, geo.threeWay), 0.99)
	if m := median(ato.amount); m < 3*median(legit.amount) {
		t.Errorf("account takeover median amount %.2f, want above 3x the legit median %.2f", m, median(legit.amount))
	}
	if m := median(ct.amount); m > median(legit.amount)/5 {
		t.Errorf("card testing median amount %.2f, want well below the legit median %.2f", m, median(legit.amount))
	}
	// Honest customers show every trace now and then, so no single field
	// gives fraud away.
	for what, n := range map[string]int{
		"new device": legit.newDevice, "shipping abroad": legit.shipAbroad, "foreign IP": legit.ipForeign,
		"foreign card": legit.binForeign, "three-way mismatch": legit.threeWay, "datacenter IP": legit.hosting,
		"order within 10 minutes": legit.burst, "young account": legit.newCustomer, "3x usual amount": legit.highVsBefore,
	} {
		if n == 0 {
			t.Errorf("no legit record shows %s; fraud would be separable by it alone", what)
		}
	}
	if rate(legit, legit.threeWay) > 0.01 {
		t.Errorf("legit three-way mismatch rate %.3f, want rare (< 1%%)", rate(legit, legit.threeWay))
	}
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	c := append([]float64(nil), xs...)
	sort.Float64s(c)
	return c[len(c)/2]
}
