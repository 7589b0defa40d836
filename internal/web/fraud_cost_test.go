package web_test

import (
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/web"
)

// testCostAPI checks the cost view worked out by hand from the fixture
// after the analyst labels (see testMetricsAPI): in the hour, ten
// transactions, known fraud f2 f3 f4 f7; reviewed f2 f5 f7, declined f3
// f8; f4 (risk 0.30) approved.
func testCostAPI(t *testing.T, e *fraudEnv) {
	var c web.FraudCost
	e.call(t, "GET", "/api/v1/fraud/cost?window=1h&target_review_rate=0.3&loss_per_fraud=100&cost_per_review=10", "", 200, &c)
	if c.Window != "1h" || c.Transactions != 10 || c.KnownFraud != 4 || c.TargetReviewRate != 0.3 || c.AsOf == nil {
		t.Fatalf("cost = %+v", c)
	}
	cur := c.Current
	if cur.ReviewAt != 0.4 || cur.DeclineAt != 0.9 || cur.Reviewed != 3 || cur.Declined != 2 || cur.FraudCaught != 3 || cur.FraudMissed != 1 ||
		!near(cur.ReviewRate, 0.3) || !near(cur.CaughtShare, 0.75) || !near(cur.Net, 3*100-3*10) {
		t.Fatalf("current = %+v", cur)
	}
	// At most 3 reviews: from 0.31 (f2 0.50, f5 0.45, f7 0.60); at 0.30 f4 would make four.
	tg := c.Target
	if tg.ReviewAt != 0.31 || tg.Reviewed != 3 || tg.FraudCaught != 3 || tg.FraudMissed != 1 {
		t.Fatalf("target = %+v", tg)
	}
	if len(c.Curve) != 90 {
		t.Fatalf("curve of %d points, want 90 (0.01 to 0.90)", len(c.Curve))
	}
	// The default target (0.5% of ten: no review at all) and no money.
	e.call(t, "GET", "/api/v1/fraud/cost?window=1h", "", 200, &c)
	if c.Target.ReviewAt != 0.61 || c.Target.Reviewed != 0 || c.Target.FraudCaught != 1 || c.Current.Net != nil || c.LossPerFraud != nil {
		t.Fatalf("default target = %+v, net %v", c.Target, c.Current.Net)
	}
	// The dashboard's other ranges: 7 days hold the hour's ten and the
	// one two days older, a time range what it covers.
	e.call(t, "GET", "/api/v1/fraud/cost?window=7d", "", 200, &c)
	if c.Window != "7d" || c.Transactions != 11 {
		t.Fatalf("7d: window %q, %d transactions, want 11", c.Window, c.Transactions)
	}
	q := "/api/v1/fraud/cost?since=" + fraudBase.Add(-time.Hour).Format(time.RFC3339) + "&until=" + fraudBase.Add(time.Hour).Format(time.RFC3339)
	e.call(t, "GET", q, "", 200, &c)
	if c.Window != "range" || c.Transactions != 10 || c.Current.Reviewed != 3 {
		t.Fatalf("range around the fixture: %+v", c)
	}
	e.call(t, "GET", "/api/v1/fraud/cost?since="+fraudBase.Add(-2*time.Hour).Format(time.RFC3339)+"&until="+fraudBase.Add(-time.Hour).Format(time.RFC3339), "", 200, &c)
	if c.Window != "range" || c.Transactions != 0 {
		t.Fatalf("range before the fixture: window %q, %d transactions, want none", c.Window, c.Transactions)
	}
	e.call(t, "GET", "/api/v1/fraud/cost?window=1h&since="+fraudBase.Format(time.RFC3339), "", 400, nil)
	e.call(t, "GET", "/api/v1/fraud/cost?window=8d", "", 400, nil)
	e.call(t, "GET", "/api/v1/fraud/cost?target_review_rate=0", "", 400, nil)
	e.call(t, "GET", "/api/v1/fraud/cost?loss_per_fraud=lots", "", 400, nil)
}
