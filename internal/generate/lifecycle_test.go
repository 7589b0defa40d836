package generate

import (
	"math"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/analytics"
	"github.com/shopstream/shopstream/internal/event"
)

// lifecycleHistory runs a Lifecycle shop through days of history on the
// simulated clock and returns the honest purchases, for the customer
// models; fraud and bad records are left out, as the models' data is.
func lifecycleHistory(t *testing.T, l Lifecycle, seed int64, days int) (*Generator, []analytics.Purchase, time.Time) {
	t.Helper()
	start := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	g := newGen(t, Config{Seed: seed, Customers: 1_000_000, Lifecycle: &l, Start: start, FraudRate: 0.01})
	end := start.AddDate(0, 0, days)
	var ps []analytics.Purchase
	for g.peekTime() < end.UnixMilli() {
		rec := g.Next()
		if rec.Bad != "" || rec.Fraud {
			continue
		}
		ps = append(ps, analytics.Purchase{CustomerID: string(rec.Key), Time: rec.EventTime, Amount: float64(rec.AmountCents) / 100})
	}
	return g, ps, end
}

// TestLifecycleRecoversBGNBD: the history is the BG/NBD's generative story,
// so a BG/NBD fit on it finds the parameters it was generated with (up to
// sampling error and the seasonality the model ignores), and every RFM
// segment has customers.
func TestLifecycleRecoversBGNBD(t *testing.T) {
	t.Parallel()
	l := DemoLifecycle
	l.NewPerDay = 60
	g, ps, end := lifecycleHistory(t, l, 7, 540)
	sums, err := analytics.Summarize(ps, end, analytics.Week)
	if err != nil {
		t.Fatal(err)
	}
	one := 0
	for _, s := range sums {
		if s.Frequency == 0 {
			one++
		}
	}
	if share := float64(one) / float64(len(sums)); share > 0.36 {
		t.Errorf("%.3f of customers bought on one day only; want under 0.36, so that the mid-rank F quintile has a 1", share)
	}
	if n := len(sums); int64(n) != g.acquired || n < 25_000 {
		t.Fatalf("%d customers in the history, %d acquired; want equal and at least 25,000", n, g.acquired)
	}
	fit, err := analytics.FitBGNBD(sums)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d customers, %d purchases; fitted r=%.3f α=%.3f a=%.3f b=%.3f (generated with r=%.2f α=%.2f a=%.2f b=%.2f)",
		len(sums), len(ps), fit.R, fit.Alpha, fit.A, fit.B, l.R, l.Alpha, l.A, l.B)
	for _, c := range []struct {
		name      string
		got, want float64
	}{{"r", fit.R, l.R}, {"alpha", fit.Alpha, l.Alpha}, {"a", fit.A, l.A}, {"b", fit.B, l.B}} {
		if rel := math.Abs(c.got-c.want) / c.want; rel > 0.15 {
			t.Errorf("fitted %s = %.4f, generated with %.4f: %.0f%% off, want within 15%%", c.name, c.got, c.want, 100*rel)
		}
	}
	vals := make([]analytics.RFMValues, len(sums))
	for i, s := range sums {
		vals[i] = s.RFMValues()
	}
	scores, err := analytics.ScoreRFM(vals)
	if err != nil {
		t.Fatal(err)
	}
	seg := map[analytics.Segment]int{}
	for _, s := range scores {
		seg[s.Segment]++
	}
	for _, name := range analytics.Segments {
		if seg[name] < len(sums)/200 {
			t.Errorf("segment %s has %d of %d customers; want every segment populated (at least 0.5%%): %v", name, seg[name], len(sums), seg)
		}
	}
	cohorts := analytics.BuildCohorts(ps)
	if n := len(cohorts.Months); n < 13 {
		t.Errorf("%d acquisition cohorts; want at least 13 months", n)
	}
}

// TestLifecycleLiveShare: live, a fifth to a quarter of orders are a new
// customer's first, as the history ended; over two hours at run's default
// pace (10/s) honest customers rarely order again within the hour (what
// the velocity and new-account rules look for): only the follow-ups,
// split and add-on orders, do, and that share does not grow as the run
// goes on; and under a third of the customers have bought on the day an
// hour in (past about 40% the mid-rank quintiles give no one R = 5, and
// the Champions and New segments empty).
func TestLifecycleLiveShare(t *testing.T) {
	t.Parallel()
	g, ps, end := lifecycleHistory(t, DemoLifecycle, 3, 540)
	share := g.firstTimeShare()
	if share < 0.18 || share > 0.28 {
		t.Fatalf("share of first orders at the end of the history %.3f; want 0.18 to 0.28", share)
	}
	last := make(map[string]time.Time, len(ps))
	for _, p := range ps {
		last[p.CustomerID] = p.Time
	}
	const rate = 10 // run's default
	var orders, firsts, again, today int
	bought := map[string]bool{}
	for i := range 2 * 3600 * rate {
		at := end.Add(time.Duration(i) * time.Second / rate)
		rec := g.NextAt(at)
		if rec.Bad != "" || rec.Fraud {
			continue
		}
		orders++
		k := string(rec.Key)
		prev, seen := last[k]
		if !seen {
			firsts++
		} else if at.Sub(prev) < time.Hour {
			again++
		}
		last[k] = at
		if !bought[k] {
			bought[k] = true
			today++
		}
		if i+1 == 3600*rate {
			if frac := float64(today) / float64(len(last)); frac > 1.0/3 {
				t.Errorf("an hour in, %d of %d customers (%.2f) have bought; want under a third", today, len(last), frac)
			}
		}
		if (i+1)%(1800*rate) == 0 {
			t.Logf("%3d min: %d orders, %.3f a customer's first, %.3f within the hour of their previous", (i+1)/(60*rate), orders,
				float64(firsts)/float64(orders), float64(again)/float64(orders))
			if f := float64(again) / float64(orders); f > 0.06 {
				t.Errorf("%d of %d live orders in this half hour followed the customer's previous within the hour (%.3f); want under 6%%", again, orders, f)
			}
			if got := float64(firsts) / float64(orders); math.Abs(got-share) > 0.02 {
				t.Errorf("live share of first orders %.3f; want the history's %.3f within 0.02", got, share)
			}
			orders, firsts, again = 0, 0, 0
		}
	}
}

// TestRestartKeepsCustomers: a generator restarted with the same seed and
// a sequence base beyond the first one's records (run on its stored
// data) warms up the same customers, who come back on the devices and to
// the countries the first one used, in transactions with new IDs.
func TestRestartKeepsCustomers(t *testing.T) {
	t.Parallel()
	l := DemoLifecycle
	l.NewPerDay = 40
	start := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	end := start.AddDate(0, 0, 120)
	first := newGen(t, Config{Seed: 5, Customers: 1_000_000, Lifecycle: &l, Start: start})
	ids := map[string]bool{}
	seen := map[string]map[string]bool{} // customer -> device_id|shipping country
	var n uint64
	for first.peekTime() < end.UnixMilli() {
		rec := first.Next()
		n++
		if rec.Bad != "" || rec.Fraud {
			continue
		}
		ids[rec.TransactionID] = true
		tx := decodeTx(t, rec)
		k := string(rec.Key)
		if seen[k] == nil {
			seen[k] = map[string]bool{}
		}
		seen[k][tx.DeviceID+"|"+tx.ShippingCountry] = true
	}
	again := newGen(t, Config{Seed: 5, Customers: 1_000_000, Lifecycle: &l, SeqBase: n << 32})
	again.Warm(start, end.Add(time.Hour))
	var returning, known int
	for i := range 5000 {
		rec := again.NextAt(end.Add(time.Hour + time.Duration(i)*time.Second))
		if rec.Bad != "" || rec.Fraud {
			continue
		}
		if ids[rec.TransactionID] {
			t.Fatalf("restarted: transaction id %s was the first generator's", rec.TransactionID)
		}
		tx := decodeTx(t, rec)
		if s := seen[string(rec.Key)]; s != nil {
			returning++
			if s[tx.DeviceID+"|"+tx.ShippingCountry] {
				known++
			}
		}
	}
	if returning < 1000 || float64(known) < 0.7*float64(returning) {
		t.Fatalf("restarted: %d orders by stored customers, %d of them on a device and to a country seen before; want most", returning, known)
	}
	t.Logf("%d orders by stored customers, %d on a known device and country", returning, known)
}

func decodeTx(t *testing.T, rec Record) event.Transaction {
	t.Helper()
	var tx event.Transaction
	if err := event.Decode(rec.Value, &tx); err != nil {
		t.Fatal(err)
	}
	return tx
}

// TestContinueCustomers: after ContinueCustomers, newcomers take numbers
// after the one given, never one at or below it; a lower one or another
// form changes nothing.
func TestContinueCustomers(t *testing.T) {
	t.Parallel()
	l := DemoLifecycle
	start := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	g := newGen(t, Config{Seed: 5, Customers: 1_000_000, Lifecycle: &l})
	g.Warm(start, start.AddDate(0, 0, 30))
	warmed := g.nextID
	g.ContinueCustomers("erased-0123456789abcdef")
	g.ContinueCustomers("c00000001")
	if g.nextID != warmed {
		t.Fatalf("last number %d after a pseudonym and a lower id, want %d", g.nextID, warmed)
	}
	g.ContinueCustomers("c00900000")
	seen := map[string]bool{}
	for i := range 20000 {
		rec := g.NextAt(start.AddDate(0, 0, 30).Add(time.Duration(i) * 100 * time.Millisecond))
		if rec.Bad != "" {
			continue
		}
		if n, ok := parseNumber(string(rec.Key), 'c'); ok && n > uint64(warmed) && n <= 900000 {
			t.Fatalf("a newcomer took %s, at or below c00900000", rec.Key)
		} else if ok && n > 900000 {
			seen[string(rec.Key)] = true
		}
	}
	if len(seen) < 100 {
		t.Fatalf("%d newcomers after c00900000, want many", len(seen))
	}
}
