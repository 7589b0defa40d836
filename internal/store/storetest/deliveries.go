package storetest

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/alertroute"
	"github.com/shopstream/shopstream/internal/store"
)

// RunDeliveries runs the alert-deliveries cases; open returns a fresh,
// empty store that implements store.AlertDeliveries.
func RunDeliveries(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.AlertDeliveries)
	}{
		{"RouteOnce", testRouteOnce},
		{"RouteDedupGroupDigest", testRouteDedupGroupDigest},
		{"DeliverGroupsWhenDue", testDeliverGroups},
		{"DeliveryOutcomes", testDeliveryOutcomes},
		{"DeliveriesFilterAndPages", testDeliveriesPages},
		{"ConcurrentRoutersShareTheLimit", testConcurrentRouters},
		{"PruneDeliveries", testPruneDeliveries},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, ok := open(t).(store.AlertDeliveries)
			if !ok {
				t.Skip("the store keeps no alert deliveries")
			}
			tc.fn(t, s)
		})
	}
}

const deliveryRoutes = `{
  "destinations": [
    {"name": "ops", "type": "dashboard", "rate_limit": {"count": 2, "per": "1m"}},
    {"name": "bus", "type": "kafka", "topic": "alerts.routed"}
  ],
  "rules": [
    {"name": "declines", "match": {"labels": {"decision": ["decline"]}}, "destinations": ["ops"], "dedup_window": "10m", "dedup_by": ["customer_id"]},
    {"name": "reviews", "match": {"labels": {"decision": ["review"]}}, "destinations": ["ops"]},
    {"name": "quality", "match": {"kind": ["quality"]}, "destinations": ["bus"], "group_window": "30s"}
  ]
}`

func deliveryAlert(t *testing.T, tx, customer, decision string) *alertroute.Alert {
	t.Helper()
	a, err := alertroute.FromPayload(fmt.Appendf(nil, `{"transaction_id":%q,"customer_id":%q,"risk":0.9,"decision":%q}`, tx, customer, decision))
	if err != nil {
		t.Fatal(err)
	}
	return &a
}

func qualityAlert(t *testing.T, check string) *alertroute.Alert {
	t.Helper()
	a, err := alertroute.FromPayload(fmt.Appendf(nil, `{"kind":"quality","labels":{"check":%q}}`, check))
	if err != nil {
		t.Fatal(err)
	}
	return &a
}

// route routes a as outbox message id at now and returns the statuses.
func route(t *testing.T, s store.AlertDeliveries, r *alertroute.Routes, id int64, a *alertroute.Alert, now time.Time) string {
	t.Helper()
	var recs []alertroute.Record
	routed, err := s.RouteAlert(context.Background(), id, func(st alertroute.State) error {
		var err error
		recs, err = r.Route(st, a, now)
		return err
	})
	if err != nil {
		t.Fatalf("RouteAlert(%d): %v", id, err)
	}
	if !routed {
		return "routed before"
	}
	var out []string
	for _, rec := range recs {
		out = append(out, rec.Destination+":"+string(rec.Status))
	}
	return strings.Join(out, " ")
}

func mustRoutes(t *testing.T) *alertroute.Routes {
	t.Helper()
	r, err := alertroute.Parse([]byte(deliveryRoutes))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func deliveries(t *testing.T, s store.AlertDeliveries, f store.DeliveryFilter) []store.Delivery {
	t.Helper()
	if f.Limit == 0 {
		f.Limit = 1000
	}
	ds, err := s.Deliveries(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

// An alert routed again (its outbox message handed out again after a
// deliverer died) is not routed twice.
func testRouteOnce(t *testing.T, s store.AlertDeliveries) {
	r := mustRoutes(t)
	a := deliveryAlert(t, "t1", "c1", "review")
	if got := route(t, s, r, 7, a, base); got != "ops:pending" {
		t.Fatalf("first routing: %s", got)
	}
	if got := route(t, s, r, 7, a, base); got != "routed before" {
		t.Fatalf("second routing: %s", got)
	}
	ds := deliveries(t, s, store.DeliveryFilter{})
	if len(ds) != 1 || ds[0].OutboxID != 7 || ds[0].Status != alertroute.Pending || ds[0].Kind != "fraud" || ds[0].Category != "review" ||
		ds[0].Rule != "reviews" || !ds[0].CreatedAt.Equal(base) || string(ds[0].Payload) != string(a.Payload) {
		t.Fatalf("deliveries %+v", ds)
	}
	// A route that fails rolls back what it recorded.
	boom := errors.New("boom")
	_, err := s.RouteAlert(context.Background(), 8, func(st alertroute.State) error {
		if _, err := r.Route(st, a, base); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) || len(deliveries(t, s, store.DeliveryFilter{})) != 1 {
		t.Fatalf("a failed routing: %v, and its rows stayed", err)
	}
}

// The store answers State as the rules expect: repeats within the dedup
// window, a rate limit of two a minute with a digest, a group.
func testRouteDedupGroupDigest(t *testing.T, s store.AlertDeliveries) {
	r := mustRoutes(t)
	var got []string
	id := int64(0)
	step := func(a *alertroute.Alert, at time.Duration) {
		id++
		got = append(got, route(t, s, r, id, a, base.Add(at)))
	}
	step(deliveryAlert(t, "t1", "c1", "decline"), 0)
	step(deliveryAlert(t, "t2", "c1", "decline"), time.Second) // same customer
	step(deliveryAlert(t, "t3", "c2", "review"), 2*time.Second)
	step(deliveryAlert(t, "t4", "c3", "review"), 3*time.Second) // over the limit of 2
	step(deliveryAlert(t, "t5", "c4", "review"), 4*time.Second)
	step(qualityAlert(t, "schema"), 5*time.Second)
	step(qualityAlert(t, "schema"), 6*time.Second)
	step(deliveryAlert(t, "t6", "c5", "review"), 61*time.Second) // the window moved on
	want := "ops:pending ops:deduplicated ops:pending ops:rate_limited ops:rate_limited bus:grouped bus:grouped ops:pending"
	if strings.Join(got, " ") != want {
		t.Fatalf("routed\n%s\nwant\n%s", strings.Join(got, " "), want)
	}
	ds := deliveries(t, s, store.DeliveryFilter{})
	bundles := map[alertroute.Bundle][]store.Delivery{}
	for _, d := range ds {
		if d.Bundle != alertroute.Single {
			bundles[d.Bundle] = append(bundles[d.Bundle], d)
		}
	}
	if len(bundles[alertroute.Digest]) != 1 || len(bundles[alertroute.Group]) != 1 {
		t.Fatalf("bundles %+v, want one digest and one group", bundles)
	}
	dg, gr := bundles[alertroute.Digest][0], bundles[alertroute.Group][0]
	if dg.OutboxID != 0 || !dg.DueAt.Equal(base.Add(3*time.Second+time.Minute)) || dg.Status != alertroute.Pending {
		t.Fatalf("digest %+v", dg)
	}
	if !gr.DueAt.Equal(base.Add(35 * time.Second)) {
		t.Fatalf("group %+v", gr)
	}
	members := map[int64]int{}
	for _, d := range ds {
		if d.BundleID != 0 {
			members[d.BundleID]++
		}
	}
	if members[dg.ID] != 2 || members[gr.ID] != 2 {
		t.Fatalf("members %v, want 2 in the digest %d and 2 in the group %d", members, dg.ID, gr.ID)
	}
}

// A group is handed out only when its window ends, with its members, and
// collects nothing once taken.
func testDeliverGroups(t *testing.T, s store.AlertDeliveries) {
	ctx := context.Background()
	r := mustRoutes(t)
	route(t, s, r, 1, qualityAlert(t, "schema"), base)
	route(t, s, r, 2, qualityAlert(t, "schema"), base.Add(10*time.Second))
	var handed []store.Delivery
	send := func(d *store.Delivery) store.DeliveryOutcome {
		handed = append(handed, *d)
		return store.DeliveryOutcome{At: base.Add(31 * time.Second)}
	}
	if n, _, err := s.DeliverAlerts(ctx, 10, base.Add(29*time.Second), send); n != 0 || err != nil {
		t.Fatalf("before the window ends: %d handed, %v", n, err)
	}
	if n, f, err := s.DeliverAlerts(ctx, 10, base.Add(30*time.Second), send); n != 1 || f != 0 || err != nil {
		t.Fatalf("when the window ends: %d sent, %d failed, %v", n, f, err)
	}
	if len(handed) != 1 || handed[0].Bundle != alertroute.Group || len(handed[0].Members) != 2 || handed[0].Members[0].Category != "quality" {
		t.Fatalf("handed %+v", handed)
	}
	if got := alertroute.Text(alertroute.Group, "quality", 30*time.Second, handed[0].Members); !strings.HasPrefix(got, "2 quality alerts in the last 30 seconds") {
		t.Fatalf("text %q", got)
	}
	// The window has ended: the next alert opens a new group.
	route(t, s, r, 3, qualityAlert(t, "schema"), base.Add(31*time.Second))
	ds := deliveries(t, s, store.DeliveryFilter{Destination: "bus"})
	if ds[0].BundleID == handed[0].ID {
		t.Fatalf("an alert joined a group already sent: %+v", ds[0])
	}
	sent := deliveries(t, s, store.DeliveryFilter{Status: "sent"})
	if len(sent) != 1 || sent[0].MemberCount != 2 || sent[0].DeliveredAt == nil || !sent[0].DeliveredAt.Equal(base.Add(31*time.Second)) || sent[0].Attempts != 1 {
		t.Fatalf("sent %+v", sent)
	}
}

// A failed attempt is retried at RetryAt, not before; one given up on is
// failed for good; the lease keeps a claimed message from a second
// deliverer.
func testDeliveryOutcomes(t *testing.T, s store.AlertDeliveries) {
	ctx := context.Background()
	r := mustRoutes(t)
	route(t, s, r, 1, deliveryAlert(t, "t1", "c1", "review"), base)
	route(t, s, r, 2, deliveryAlert(t, "t2", "c2", "review"), base)
	fail := func(giveUp bool) func(d *store.Delivery) store.DeliveryOutcome {
		return func(d *store.Delivery) store.DeliveryOutcome {
			return store.DeliveryOutcome{Err: errors.New("answered 500"), At: base, RetryAt: base.Add(10 * time.Second), GiveUp: giveUp && d.OutboxID == 2}
		}
	}
	if n, f, err := s.DeliverAlerts(ctx, 10, base, fail(false)); n != 0 || f != 2 || err != nil {
		t.Fatalf("first attempt: %d, %d, %v", n, f, err)
	}
	none := func(d *store.Delivery) store.DeliveryOutcome {
		t.Errorf("delivery %d handed out before its retry", d.ID)
		return store.DeliveryOutcome{}
	}
	if n, f, err := s.DeliverAlerts(ctx, 10, base.Add(9*time.Second), none); n+f != 0 || err != nil {
		t.Fatalf("before the retry: %d, %d, %v", n, f, err)
	}
	if n, f, err := s.DeliverAlerts(ctx, 10, base.Add(10*time.Second), fail(true)); n != 0 || f != 2 || err != nil {
		t.Fatalf("second attempt: %d, %d, %v", n, f, err)
	}
	failed := deliveries(t, s, store.DeliveryFilter{Status: "failed"})
	if len(failed) != 1 || failed[0].OutboxID != 2 || failed[0].Attempts != 2 || failed[0].LastError != "answered 500" {
		t.Fatalf("failed %+v", failed)
	}
	// A crashed deliverer's claim: no outcome is recorded; the lease holds.
	func() {
		defer func() { _ = recover() }()
		s.DeliverAlerts(ctx, 10, base.Add(20*time.Second), func(*store.Delivery) store.DeliveryOutcome { panic("crash") }) //nolint:errcheck // it panics
	}()
	if n, f, err := s.DeliverAlerts(ctx, 10, base.Add(50*time.Second), none); n+f != 0 || err != nil {
		t.Fatalf("during the lease: %d, %d, %v", n, f, err)
	}
	ok := func(d *store.Delivery) store.DeliveryOutcome {
		return store.DeliveryOutcome{At: base.Add(90 * time.Second)}
	}
	if n, f, err := s.DeliverAlerts(ctx, 10, base.Add(20*time.Second+store.DeliveryLease), ok); n != 1 || f != 0 || err != nil {
		t.Fatalf("after the lease: %d, %d, %v", n, f, err)
	}
	sent := deliveries(t, s, store.DeliveryFilter{Status: "sent"})
	if len(sent) != 1 || sent[0].OutboxID != 1 || sent[0].Attempts != 3 || sent[0].LastError != "" {
		t.Fatalf("sent %+v", sent)
	}
}

// Deliveries filters by destination, status and time and pages by id.
func testDeliveriesPages(t *testing.T, s store.AlertDeliveries) {
	r := mustRoutes(t)
	for i := range 5 {
		route(t, s, r, int64(i+1), deliveryAlert(t, fmt.Sprint("t", i), fmt.Sprint("c", i), "review"), base.Add(time.Duration(i)*time.Minute))
	}
	route(t, s, r, 6, qualityAlert(t, "schema"), base.Add(5*time.Minute))
	if ds := deliveries(t, s, store.DeliveryFilter{Destination: "bus"}); len(ds) != 2 {
		t.Fatalf("bus: %d rows, want the group and its alert", len(ds))
	}
	if ds := deliveries(t, s, store.DeliveryFilter{Destination: "ops", Since: base.Add(3 * time.Minute)}); len(ds) != 2 || ds[0].OutboxID != 5 || ds[1].OutboxID != 4 {
		t.Fatalf("since: %+v", ds)
	}
	var ids []int64
	f := store.DeliveryFilter{Destination: "ops", Limit: 2}
	for range 10 {
		page := deliveries(t, s, f)
		for _, d := range page {
			ids = append(ids, d.OutboxID)
		}
		if len(page) < f.Limit {
			break
		}
		f.BeforeID = page[len(page)-1].ID
	}
	if fmt.Sprint(ids) != "[5 4 3 2 1]" {
		t.Fatalf("pages gave %v", ids)
	}
	if ds := deliveries(t, s, store.DeliveryFilter{Status: "grouped"}); len(ds) != 1 || ds[0].OutboxID != 6 {
		t.Fatalf("grouped: %+v", ds)
	}
}

// Deliverers routing at once share one rate limit: of 40 reviews routed
// by four goroutines, exactly 2 are messages and the rest are in one digest.
func testConcurrentRouters(t *testing.T, s store.AlertDeliveries) {
	r := mustRoutes(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	got := map[string]int{}
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 10 {
				id := int64(w*10 + i + 1)
				st := route(t, s, r, id, deliveryAlert(t, fmt.Sprint("t", id), fmt.Sprint("c", id), "review"), base.Add(time.Duration(id)*time.Millisecond))
				mu.Lock()
				got[st]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if got["ops:pending"] != 2 || got["ops:rate_limited"] != 38 {
		t.Fatalf("routed %v, want 2 pending and 38 rate-limited", got)
	}
	var digests []int64
	for _, d := range deliveries(t, s, store.DeliveryFilter{}) {
		if d.Bundle == alertroute.Digest {
			digests = append(digests, d.ID)
		}
	}
	if len(digests) != 1 {
		t.Fatalf("%d digests, want 1", len(digests))
	}
}

// Pruning keeps what is pending and the members of a pending digest.
func testPruneDeliveries(t *testing.T, s store.AlertDeliveries) {
	ctx := context.Background()
	r := mustRoutes(t)
	for i := range 4 {
		route(t, s, r, int64(i+1), deliveryAlert(t, fmt.Sprint("t", i), fmt.Sprint("c", i), "review"), base.Add(time.Duration(i)*time.Second))
	}
	// two messages, a digest with two members; send the two messages
	if n, _, err := s.DeliverAlerts(ctx, 10, base.Add(5*time.Second), func(*store.Delivery) store.DeliveryOutcome {
		return store.DeliveryOutcome{At: base.Add(5 * time.Second)}
	}); n != 2 || err != nil {
		t.Fatalf("delivered %d, %v", n, err)
	}
	n, err := s.PruneDeliveries(ctx, base.Add(time.Hour), 1)
	if err != nil || n != 2 {
		t.Fatalf("pruned %d, %v; want the two sent", n, err)
	}
	var left []string
	for _, d := range deliveries(t, s, store.DeliveryFilter{}) {
		left = append(left, string(d.Status))
	}
	sort.Strings(left)
	if fmt.Sprint(left) != "[pending rate_limited rate_limited]" {
		t.Fatalf("left %v", left)
	}
}
