package generate

import (
	"math"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/analytics"
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
// customer's first, as the history ended, and at the default pace honest
// customers rarely order a third time within ten minutes (what the order
// velocity rule looks for).
func TestLifecycleLiveShare(t *testing.T) {
	t.Parallel()
	g, ps, _ := lifecycleHistory(t, DemoLifecycle, 3, 540)
	share := g.firstTimeShare()
	if share < 0.18 || share > 0.28 {
		t.Fatalf("share of first orders at the end of the history %.3f; want 0.18 to 0.28", share)
	}
	seen := make(map[string]bool, len(ps))
	for _, p := range ps {
		seen[p.CustomerID] = true
	}
	live := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	recent := map[string][]time.Time{}
	var orders, firsts, fast int
	for i := range 100_000 {
		rec := g.NextAt(live.Add(time.Duration(i) * 20 * time.Millisecond)) // 50/s, the default
		if rec.Bad != "" || rec.Fraud {
			continue
		}
		orders++
		k := string(rec.Key)
		if !seen[k] {
			seen[k] = true
			firsts++
		}
		keep := recent[k][:0]
		for _, at := range recent[k] {
			if rec.EventTime.Sub(at) < 10*time.Minute {
				keep = append(keep, at)
			}
		}
		if len(keep) >= 2 {
			fast++
		}
		recent[k] = append(keep, rec.EventTime)
	}
	got := float64(firsts) / float64(orders)
	t.Logf("history ended with %.3f first orders; live %d of %d (%.3f); third order within 10 min: %d", share, firsts, orders, got, fast)
	if math.Abs(got-share) > 0.02 {
		t.Errorf("live share of first orders %.3f; want the history's %.3f within 0.02", got, share)
	}
	if float64(fast) > 0.01*float64(orders) {
		t.Errorf("%d of %d live orders were a customer's third within ten minutes; want under 1%%", fast, orders)
	}
}
