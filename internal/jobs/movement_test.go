package jobs

import (
	"context"
	"fmt"
	"reflect"
	"testing"

	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/pgtest"
)

// TestRefreshSegmentMovement checks the movement each refresh records
// against the segments stored before it, counted here from the stored
// segments with maps, in both stores: every customer new at the first,
// two buyers and a new customer at the second (this process's own
// segments), nobody moving at a run of another instance (the stored
// ones), an erased customer leaving (and their pseudonym new), and only
// the newest MovementsKept kept.
func TestRefreshSegmentMovement(t *testing.T) {
	t.Parallel()
	for name, s := range map[string]testStore{"SQLite": openSQLite(t), "PostgreSQL": openPostgres(t, pgtest.URL(t))} {
		t.Run(name, func(t *testing.T) { testSegmentMovement(t, s) })
	}
}

func testSegmentMovement(t *testing.T, s testStore) {
	ctx := context.Background()
	fill(t, s, 17, 300, 4_000)
	cfg := RefreshConfig{Store: s, Seed: 2, K: 3, MovementsKept: 2}
	r := newRefresh(t, cfg)
	run := func(r *Refresh) *RefreshReport {
		t.Helper()
		rep, err := r.RunOnce(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	segments := func() map[string]string {
		t.Helper()
		out := map[string]string{}
		if err := s.CustomerSegments(ctx, func(id, seg string) error { out[id] = seg; return nil }); err != nil {
			t.Fatal(err)
		}
		return out
	}
	latest := func() store.SegmentMovement {
		t.Helper()
		ms, err := s.SegmentMovements(ctx, 1)
		if err != nil || len(ms) != 1 {
			t.Fatalf("latest movement: %v, %v", ms, err)
		}
		return ms[0]
	}
	cells := func(m store.SegmentMovement) map[[2]string]int64 {
		out := map[[2]string]int64{}
		for _, f := range m.Flows {
			out[[2]string{f.From, f.To}] += f.Customers
		}
		return out
	}
	expect := func(before, after map[string]string) map[[2]string]int64 {
		out := map[[2]string]int64{}
		for id, seg := range before {
			out[[2]string{seg, after[id]}]++
		}
		for id, seg := range after {
			if _, ok := before[id]; !ok {
				out[[2]string{"", seg}]++
			}
		}
		return out
	}

	first := run(r)
	m1 := latest()
	if m1.PreviousComputedAt != nil || !reflect.DeepEqual(cells(m1), expect(nil, segments())) ||
		first.CustomersNew != int64(first.Customers) || first.CustomersMoved != 0 || first.CustomersLeft != 0 {
		t.Fatalf("first refresh: %+v, movement %+v; want every customer new", first, m1)
	}

	// Two customers buy again and one buys for the first time.
	before := segments()
	last, err := s.LatestPurchase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	offs, err := s.Offsets(ctx, "test", "transactions")
	if err != nil {
		t.Fatal(err)
	}
	var buyers []string
	for id := range before {
		if len(buyers) < 2 {
			buyers = append(buyers, id)
		}
	}
	buyers = append(buyers, "newcomer")
	var txs []store.Tx
	for i, id := range buyers {
		txs = append(txs, store.Tx{TransactionID: fmt.Sprintf("mv-%d", i), CustomerID: id, EventTime: last, TotalCents: 250_000,
			Currency: "EUR", PaymentMethod: "card", Channel: "web", BillingCountry: "DE", ShippingCountry: "DE",
			ItemsJSON: []byte(`[{"product_id":"P1","category":"books","quantity":1,"unit_price":2500}]`),
			Offset:    offs[0] + int64(i), Decision: "approve", ReasonsJSON: []byte("[]"), ProducedAt: last})
	}
	if err := s.WriteBatch(ctx, &store.Batch{Group: "test", Topic: "transactions",
		Parts: []store.Part{{Partition: 0, From: offs[0], To: offs[0] + int64(len(txs)), Txs: txs}}}); err != nil {
		t.Fatal(err)
	}
	second := run(r)
	m2 := latest()
	after := segments()
	want := expect(before, after)
	if got := cells(m2); !reflect.DeepEqual(got, want) {
		t.Fatalf("second movement = %v, want %v", got, want)
	}
	if m2.PreviousComputedAt == nil || !m2.PreviousComputedAt.Equal(m1.ComputedAt) || second.CustomersNew != 1 ||
		want[[2]string{"", after["newcomer"]}] != 1 {
		t.Fatalf("second refresh: %+v, movement %+v; want the newcomer new, compared with the first", second, m2)
	}

	// Another instance (a new process) reads the stored segments; this
	// one, no longer holding the latest, reads them too. Nothing changed.
	for i, rr := range []*Refresh{newRefresh(t, cfg), r} {
		rep := run(rr)
		m := latest()
		if got, want := cells(m), expect(after, after); !reflect.DeepEqual(got, want) || rep.CustomersNew+rep.CustomersMoved+rep.CustomersLeft != 0 {
			t.Fatalf("run %d on unchanged data: %+v, movement %v; want everyone staying (%v)", i, rep, got, want)
		}
	}
	// An erasure: the customer leaves, and their purchases, kept under a
	// pseudonym, come back as a new customer of the same segment.
	gone := buyers[0]
	if _, err := s.(interface {
		EraseCustomer(ctx context.Context, customerID, actor string) (*store.Erasure, error)
	}).EraseCustomer(ctx, gone, "test"); err != nil {
		t.Fatal(err)
	}
	erased := run(r)
	m := latest()
	final := segments()
	if got, want := cells(m), expect(after, final); !reflect.DeepEqual(got, want) {
		t.Fatalf("movement after an erasure = %v, want %v", got, want)
	}
	if _, ok := final[gone]; ok || erased.CustomersLeft != 1 || erased.CustomersNew != 1 || cells(m)[[2]string{after[gone], ""}] != 1 {
		t.Fatalf("after erasing %s (%s): %+v, movement %v; want them leaving and their pseudonym new", gone, after[gone], erased, cells(m))
	}
	all, err := s.SegmentMovements(ctx, 100)
	if err != nil || len(all) != cfg.MovementsKept {
		t.Fatalf("%d movements kept (%v), want %d", len(all), err, cfg.MovementsKept)
	}
}
