package storetest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/store"
)

// RunAnalytics runs the conformance suite of store.Analytics; open returns
// a fresh, empty store for one test, which must implement store.Analytics.
// Every expected figure below is worked out by hand from the rows written.
func RunAnalytics(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store, a store.Analytics)
	}{
		{"PurchaseDays", testPurchaseDays},
		{"CategorySpend", testCategorySpend},
		{"CustomerAnalytics", testCustomerAnalytics},
		{"AnalyticsChunks", testAnalyticsChunks},
		{"CLVDistribution", testCLVDistribution},
		{"Cohorts", testCohorts},
		{"Models", testModels},
		{"SegmentMovements", testSegmentMovements},
		{"TryLead", testTryLead},
		{"EmptyAnalytics", testEmptyAnalytics},
		{"CustomerTransactions", testCustomerTransactions},
		{"CustomerList", testCustomerList},
		{"CustomerListByCLV", testCustomerListByCLV},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			a, ok := s.(store.Analytics)
			if !ok {
				t.Fatalf("%T does not implement store.Analytics", s)
			}
			tc.fn(t, s, a)
		})
	}
}

var day0 = time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)

// at is day d of February 2026 (d = 1 is the 1st) at hh:mm UTC.
func at(d, hh, mm int) time.Time {
	return day0.AddDate(0, 0, d-1).Add(time.Duration(hh)*time.Hour + time.Duration(mm)*time.Minute)
}

// writeTxs stores txs as one batch of partition 0 of topic "analytics".
func writeTxs(t *testing.T, s store.Store, txs ...store.Tx) {
	t.Helper()
	for i := range txs {
		txs[i].Offset = int64(i)
	}
	err := s.WriteBatch(context.Background(), &store.Batch{Group: "g", Topic: "analytics",
		Parts: []store.Part{{Partition: 0, From: 0, To: int64(len(txs)), Txs: txs}}})
	if err != nil {
		t.Fatalf("WriteBatch: %v", err)
	}
}

func testPurchaseDays(t *testing.T, s store.Store, a store.Analytics) {
	// Customer IDs chosen so that byte order ("B" < "a" < "b") differs
	// from most locales' order.
	writeTxs(t, s,
		Tx("t1", "a", at(1, 10, 0), 1000, 0, 0),
		Tx("t2", "a", at(1, 23, 59), 500, 0, 0), // same UTC day: counts once
		Tx("t3", "a", at(3, 0, 1), 200, 0, 0),
		Tx("t4", "b", at(2, 12, 0), 300, 0, 0),
		Tx("t5", "B", at(1, 8, 0), 100, 0, 0),
		Tx("t6", "b", at(5, 0, 0), 999, 0, 0), // at until: excluded
	)
	var got []store.PurchaseDay
	err := a.PurchaseDays(context.Background(), at(5, 0, 0), func(d *store.PurchaseDay) error {
		got = append(got, *d)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []store.PurchaseDay{
		{CustomerID: "B", Day: at(1, 0, 0), Orders: 1, AmountCents: 100},
		{CustomerID: "a", Day: at(1, 0, 0), Orders: 2, AmountCents: 1500},
		{CustomerID: "a", Day: at(3, 0, 0), Orders: 1, AmountCents: 200},
		{CustomerID: "b", Day: at(2, 0, 0), Orders: 1, AmountCents: 300},
	}
	if !equalDays(got, want) {
		t.Fatalf("purchase days =\n%v\nwant\n%v", got, want)
	}
	// An error from fn stops the stream and comes back as it is.
	stop := errors.New("stop")
	n := 0
	err = a.PurchaseDays(context.Background(), at(5, 0, 0), func(*store.PurchaseDay) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Fatalf("fn error: got %v after %d rows, want stop after 1", err, n)
	}
	last, err := a.LatestPurchase(context.Background())
	if err != nil || !last.Equal(at(5, 0, 0)) {
		t.Fatalf("LatestPurchase = %v, %v; want %v", last, err, at(5, 0, 0))
	}
}

func equalDays(a, b []store.PurchaseDay) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].CustomerID != b[i].CustomerID || !a[i].Day.Equal(b[i].Day) || a[i].Orders != b[i].Orders || a[i].AmountCents != b[i].AmountCents {
			return false
		}
	}
	return true
}

func withItems(tx store.Tx, items string) store.Tx {
	tx.ItemsJSON = []byte(items)
	return tx
}

func testCategorySpend(t *testing.T, s store.Store, a store.Analytics) {
	writeTxs(t, s,
		withItems(Tx("t1", "a", at(1, 10, 0), 1249, 0, 0),
			`[{"product_id":"P1","category":"books","quantity":2,"unit_price":1.25},{"product_id":"P2","category":"toys","quantity":1,"unit_price":9.99}]`),
		withItems(Tx("t2", "a", at(2, 10, 0), 930, 0, 0),
			`[{"product_id":"P3","category":"books","quantity":3,"unit_price":3.10}]`),
		withItems(Tx("t3", "a", at(2, 11, 0), 70, 0, 0),
			`[{"product_id":"P4","category":"Zines","quantity":1,"unit_price":0.70}]`),
		withItems(Tx("t4", "B", at(2, 11, 0), 10001, 0, 0),
			`[{"product_id":"P5","category":"toys","quantity":7,"unit_price":14.29}]`),
		withItems(Tx("t5", "B", at(9, 0, 0), 500, 0, 0), // after until
			`[{"product_id":"P6","category":"toys","quantity":1,"unit_price":5.00}]`),
		// A three-decimal currency: 3 × 1.235 × 100 = 370.5, rounded once.
		withItems(Tx("t6", "C", at(3, 9, 0), 3705, 0, 0),
			`[{"product_id":"P7","category":"tea","quantity":3,"unit_price":1.235}]`),
	)
	var got []store.CategorySpend
	err := a.CategorySpend(context.Background(), at(9, 0, 0), func(c *store.CategorySpend) error {
		got = append(got, *c)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []store.CategorySpend{
		{CustomerID: "B", Category: "toys", Cents: 7 * 1429},
		{CustomerID: "C", Category: "tea", Cents: 371},
		{CustomerID: "a", Category: "Zines", Cents: 70},
		{CustomerID: "a", Category: "books", Cents: 2*125 + 3*310},
		{CustomerID: "a", Category: "toys", Cents: 999},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("category spend =\n%v\nwant\n%v", got, want)
	}
}

func intp(v int) *int { return &v }

func testCustomerAnalytics(t *testing.T, s store.Store, a store.Analytics) {
	ctx := context.Background()
	writeTxs(t, s,
		Tx("t1", "a", at(1, 10, 0), 1000, 0, 0),
		Tx("t2", "a", at(3, 10, 0), 500, 0, 0),
		Tx("t3", "b", at(2, 10, 0), 300, 0, 0),
		Tx("t4", "c", at(2, 11, 0), 200, 0, 0),
	)
	when := time.Date(2026, 2, 10, 12, 0, 0, 0, time.UTC)
	rows := []store.CustomerAnalytics{
		{CustomerID: "a", RecencyDays: 7, FrequencyDays: 2, MonetaryCents: 1500, R: 5, F: 5, M: 5, Segment: "Champions",
			Cluster: intp(1), CLV: &store.CLVFigures{ProbAlive: 0.9, ExpectedPurchases: 3, ExpectedAOV: 7.5, Value: 20, ModelVersion: 4}, UpdatedAt: when},
		{CustomerID: "b", RecencyDays: 8, FrequencyDays: 1, MonetaryCents: 300, R: 1, F: 1, M: 1, Segment: "Lost",
			Cluster: intp(0), CLV: &store.CLVFigures{ProbAlive: 1, ExpectedPurchases: 0.5, ExpectedAOV: 5, Value: 2.5, ModelVersion: 4}, UpdatedAt: when},
		{CustomerID: "c", RecencyDays: 8, FrequencyDays: 1, MonetaryCents: 200, R: 1, F: 1, M: 1, Segment: "Lost", UpdatedAt: when},
	}
	if err := a.WriteCustomerAnalytics(ctx, rows); err != nil {
		t.Fatal(err)
	}
	// A second refresh overwrites: c gets a CLV and a cluster, a moves.
	rows[2].CLV = &store.CLVFigures{ProbAlive: 1, ExpectedPurchases: 0.4, ExpectedAOV: 5, Value: 1.5, ModelVersion: 5}
	rows[2].Cluster = intp(0)
	rows[0].Segment, rows[0].R, rows[0].Cluster = "Loyal", 4, intp(2)
	if err := a.WriteCustomerAnalytics(ctx, rows[0:1]); err != nil {
		t.Fatal(err)
	}
	if err := a.WriteCustomerAnalytics(ctx, rows[2:3]); err != nil {
		t.Fatal(err)
	}

	p, err := a.CustomerProfile(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if p.CustomerID != "a" || p.Orders != 2 || p.RevenueCents != 1500 || !p.FirstSeen.Equal(at(1, 10, 0)) || !p.LastSeen.Equal(at(3, 10, 0)) {
		t.Fatalf("profile totals = %+v", p)
	}
	if p.Analytics == nil || !p.Analytics.UpdatedAt.Equal(when) {
		t.Fatalf("profile analytics = %+v, want updated at %v", p.Analytics, when)
	}
	got := *p.Analytics
	got.UpdatedAt = when
	if !reflect.DeepEqual(got, rows[0]) {
		t.Fatalf("analytics of a =\n%+v\nwant\n%+v", got, rows[0])
	}
	if _, err := a.CustomerProfile(ctx, "nobody"); !errors.Is(err, store.ErrUnknownCustomer) {
		t.Fatalf("profile of an unknown customer: %v, want ErrUnknownCustomer", err)
	}

	stats, err := a.SegmentStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mean := (2.5 + 1.5) / 2
	twenty := 20.0
	wantStats := []store.SegmentStat{
		{Segment: "Lost", Customers: 2, RevenueCents: 500, MeanCLV: &mean},
		{Segment: "Loyal", Customers: 1, RevenueCents: 1500, MeanCLV: &twenty},
	}
	if !reflect.DeepEqual(stats, wantStats) {
		t.Fatalf("segment stats = %s, want %s", fmtStats(stats), fmtStats(wantStats))
	}

	// a: R 4, F 5, M 5; b and c: 1, 1, 1 with recency 8 and frequency 1,
	// a tie of two at the greatest recency and at the least frequency.
	sc, err := a.ScoreCounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantSC := store.ScoreCounts{Customers: 3, R: [5]int64{2, 0, 0, 1, 0}, F: [5]int64{2, 0, 0, 0, 1}, M: [5]int64{2, 0, 0, 0, 1},
		NewestDay: 1, LeastFrequency: 2}
	if *sc != wantSC {
		t.Fatalf("score counts = %+v, want %+v", *sc, wantSC)
	}

	top, err := a.TopCustomers(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(top) != 2 || top[0].CustomerID != "a" || top[1].CustomerID != "b" || top[1].CLV.Value != 2.5 || *top[1].Cluster != 0 {
		t.Fatalf("top customers = %+v, want a then b", top)
	}
}

func fmtStats(ss []store.SegmentStat) string {
	out := "["
	for _, s := range ss {
		m := "nil"
		if s.MeanCLV != nil {
			m = fmt.Sprint(*s.MeanCLV)
		}
		out += fmt.Sprintf("{%s %d %d %s}", s.Segment, s.Customers, s.RevenueCents, m)
	}
	return out + "]"
}

func testAnalyticsChunks(t *testing.T, _ store.Store, a store.Analytics) {
	ctx := context.Background()
	n := 2*store.AnalyticsChunk + 3
	rows := make([]store.CustomerAnalytics, n)
	for i := range rows {
		rows[i] = store.CustomerAnalytics{CustomerID: fmt.Sprintf("c%06d", i), RecencyDays: float64(i % 30), FrequencyDays: 1,
			MonetaryCents: int64(i), R: 3, F: 3, M: 3, Segment: "Need Attention", UpdatedAt: day0}
	}
	rows[n-1].CLV = &store.CLVFigures{Value: 1, ModelVersion: 1}
	if err := a.WriteCustomerAnalytics(ctx, rows); err != nil {
		t.Fatal(err)
	}
	stats, err := a.SegmentStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// None of these customers has bought (no customers rows): revenue 0;
	// only the last has a CLV.
	if len(stats) != 1 || stats[0].Customers != int64(n) || stats[0].RevenueCents != 0 || stats[0].MeanCLV == nil || *stats[0].MeanCLV != 1 {
		t.Fatalf("segment stats after %d rows = %s", n, fmtStats(stats))
	}
}

func testCohorts(t *testing.T, _ store.Store, a store.Analytics) {
	ctx := context.Background()
	jan := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	feb := jan.AddDate(0, 1, 0)
	first := []store.CohortCell{{Month: jan, MonthOffset: 0, Size: 9, Active: 9, RevenueCents: 1}}
	if err := a.ReplaceCohorts(ctx, first, day0, day0); err != nil {
		t.Fatal(err)
	}
	cells := []store.CohortCell{
		{Month: jan, MonthOffset: 0, Size: 3, Active: 3, RevenueCents: 600},
		{Month: jan, MonthOffset: 1, Size: 3, Active: 1, RevenueCents: 250},
		{Month: feb, MonthOffset: 0, Size: 2, Active: 2, RevenueCents: 90},
	}
	// Written out of order; read back in order.
	when, asOf := day0.Add(time.Hour), feb.Add(50*time.Hour)
	if err := a.ReplaceCohorts(ctx, []store.CohortCell{cells[2], cells[0], cells[1]}, when, asOf); err != nil {
		t.Fatal(err)
	}
	got, at, err := a.Cohorts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !at.ComputedAt.Equal(when) || !at.AsOf.Equal(asOf) || len(got) != len(cells) {
		t.Fatalf("cohorts computed at %+v with %d cells, want %v as of %v and %d", at, len(got), when, asOf, len(cells))
	}
	for i := range got {
		if !got[i].Month.Equal(cells[i].Month) || got[i].MonthOffset != cells[i].MonthOffset || got[i].Size != cells[i].Size ||
			got[i].Active != cells[i].Active || got[i].RevenueCents != cells[i].RevenueCents {
			t.Fatalf("cell %d = %+v, want %+v", i, got[i], cells[i])
		}
	}
}

// testSegmentMovements stores movements, reads them back newest first
// with their flows, keeps only the newest, and streams the customers'
// segments in ID byte order.
func testSegmentMovements(t *testing.T, _ store.Store, a store.Analytics) {
	ctx := context.Background()
	var ids []int64
	for i := range 5 {
		at := day0.Add(time.Duration(i) * time.Minute)
		m := store.SegmentMovement{AsOf: at.Add(-time.Hour), ComputedAt: at,
			Flows: []store.SegmentFlow{{From: "Loyal", To: "At Risk", Customers: int64(i + 1)}, {From: "", To: "New", Customers: 7}}}
		if i > 0 {
			prev := at.Add(-time.Minute)
			m.PreviousComputedAt = &prev
		}
		id, err := a.SaveSegmentMovement(ctx, m, 3)
		if err != nil {
			t.Fatal(err)
		}
		if len(ids) > 0 && id <= ids[len(ids)-1] {
			t.Fatalf("movement IDs %v then %d: not increasing", ids, id)
		}
		ids = append(ids, id)
	}
	got, err := a.SegmentMovements(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("%d movements kept, want the newest 3", len(got))
	}
	for k, m := range got {
		i := 4 - k
		at := day0.Add(time.Duration(i) * time.Minute)
		if m.ID != ids[i] || !m.ComputedAt.Equal(at) || !m.AsOf.Equal(at.Add(-time.Hour)) || m.PreviousComputedAt == nil ||
			!m.PreviousComputedAt.Equal(at.Add(-time.Minute)) {
			t.Fatalf("movement %d = %+v, want ID %d computed at %v", k, m, ids[i], at)
		}
		want := []store.SegmentFlow{{From: "Loyal", To: "At Risk", Customers: int64(i + 1)}, {From: "", To: "New", Customers: 7}}
		if !slices.Equal(m.Flows, want) {
			t.Fatalf("movement %d flows = %v, want %v", k, m.Flows, want)
		}
	}
	if one, err := a.SegmentMovements(ctx, 1); err != nil || len(one) != 1 || one[0].ID != ids[4] {
		t.Fatalf("latest movement = %v, %v; want ID %d", one, err, ids[4])
	}

	if err := a.WriteCustomerAnalytics(ctx, []store.CustomerAnalytics{
		{CustomerID: "c2", R: 1, F: 1, M: 1, Segment: "Lost", UpdatedAt: day0},
		{CustomerID: "C9", R: 5, F: 5, M: 5, Segment: "Champions", UpdatedAt: day0},
		{CustomerID: "c10", R: 3, F: 3, M: 3, Segment: "Need Attention", UpdatedAt: day0},
	}); err != nil {
		t.Fatal(err)
	}
	var seen []string
	err = a.CustomerSegments(ctx, func(id, seg string) error {
		seen = append(seen, id+"="+seg)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"C9=Champions", "c10=Need Attention", "c2=Lost"}; !slices.Equal(seen, want) {
		t.Fatalf("customer segments = %q, want %q (byte order)", seen, want)
	}
}

func testModels(t *testing.T, _ store.Store, a store.Analytics) {
	ctx := context.Background()
	if _, err := a.LatestModelVersion(ctx, store.ModelCLV); !errors.Is(err, store.ErrNoModel) {
		t.Fatalf("latest model of an empty store: %v, want ErrNoModel", err)
	}
	for i, want := range []int{1, 2} {
		v, err := a.SaveModelVersion(ctx, store.ModelCLV, fmt.Appendf(nil, `{"r":%d}`, i), []byte(`{"ll":-1.5}`))
		if err != nil || v != want {
			t.Fatalf("save %d: version %d, %v; want %d", i, v, err, want)
		}
	}
	if v, err := a.SaveModelVersion(ctx, store.ModelSegments, []byte(`{}`), nil); err != nil || v != 1 {
		t.Fatalf("first segments model: version %d, %v; want 1", v, err)
	}
	m, err := a.LatestModelVersion(ctx, store.ModelCLV)
	if err != nil {
		t.Fatal(err)
	}
	if m.Kind != store.ModelCLV || m.Version != 2 || m.Status != "active" || string(m.Params) != `{"r":1}` || string(m.Metrics) != `{"ll":-1.5}` {
		t.Fatalf("latest CLV model = %+v (params %s, metrics %s)", m, m.Params, m.Metrics)
	}
	if time.Since(m.CreatedAt) > time.Hour || m.CreatedAt.Location() != time.UTC {
		t.Fatalf("created at %v", m.CreatedAt)
	}
	seg, err := a.LatestModelVersion(ctx, store.ModelSegments)
	if err != nil || seg.Version != 1 || string(seg.Metrics) != "{}" {
		t.Fatalf("segments model = %+v, %v", seg, err)
	}
}

func testTryLead(t *testing.T, _ store.Store, a store.Analytics) {
	ctx := context.Background()
	release, ok, err := a.TryLead(ctx, "refresh")
	if err != nil || !ok {
		t.Fatalf("first TryLead: ok %v, err %v", ok, err)
	}
	if _, ok, err := a.TryLead(ctx, "refresh"); err != nil || ok {
		t.Fatalf("second TryLead while led: ok %v, err %v; want not ok", ok, err)
	}
	other, ok, err := a.TryLead(ctx, "another job")
	if err != nil || !ok {
		t.Fatalf("TryLead of another name: ok %v, err %v", ok, err)
	}
	other()
	release()
	release() // a second call is harmless
	// Leading and releasing many times must not leak connections.
	for i := range 20 {
		r, ok, err := a.TryLead(ctx, "refresh")
		if err != nil || !ok {
			t.Fatalf("TryLead %d after release: ok %v, err %v", i, ok, err)
		}
		r()
	}
}

func testEmptyAnalytics(t *testing.T, _ store.Store, a store.Analytics) {
	ctx := context.Background()
	n := 0
	if err := a.PurchaseDays(ctx, time.Now(), func(*store.PurchaseDay) error { n++; return nil }); err != nil || n != 0 {
		t.Fatalf("purchase days of an empty store: %d rows, %v", n, err)
	}
	if err := a.CategorySpend(ctx, time.Now(), func(*store.CategorySpend) error { n++; return nil }); err != nil || n != 0 {
		t.Fatalf("category spend of an empty store: %d rows, %v", n, err)
	}
	if last, err := a.LatestPurchase(ctx); err != nil || !last.IsZero() {
		t.Fatalf("latest purchase of an empty store: %v, %v", last, err)
	}
	if cells, at, err := a.Cohorts(ctx); err != nil || len(cells) != 0 || at != (store.CohortTimes{}) || cells == nil {
		t.Fatalf("cohorts of an empty store: %v, %v, %v (want an empty, non-nil slice)", cells, at, err)
	}
	if ms, err := a.SegmentMovements(ctx, 10); err != nil || len(ms) != 0 || ms == nil {
		t.Fatalf("segment movements of an empty store: %v, %v (want an empty, non-nil slice)", ms, err)
	}
	if st, err := a.SegmentStats(ctx); err != nil || len(st) != 0 || st == nil {
		t.Fatalf("segment stats of an empty store: %v, %v", st, err)
	}
	if top, err := a.TopCustomers(ctx, 10); err != nil || len(top) != 0 || top == nil {
		t.Fatalf("top customers of an empty store: %v, %v", top, err)
	}
	if err := a.WriteCustomerAnalytics(ctx, nil); err != nil {
		t.Fatalf("writing no rows: %v", err)
	}
}

// testCLVDistribution counts five customers by hand: CLV 0.5 (P(alive)
// 0.05), 1 (0.1: the edge falls in the higher bucket), 2.5 (0.55), 2.5
// (0.999) and 1000 (1), one without a CLV, with edges 1, 2, 5.
func testCLVDistribution(t *testing.T, s store.Store, a store.Analytics) {
	ctx := context.Background()
	r, ok := s.(store.CLVDistributionReader)
	if !ok {
		t.Fatalf("%T does not implement store.CLVDistributionReader", s)
	}
	edges := []float64{1, 2, 5}
	d, err := r.CLVDistribution(ctx, edges)
	if err != nil || d.Customers != 0 || d.Unscored != 0 || len(d.Cells) != 0 {
		t.Fatalf("empty distribution = %+v, %v", d, err)
	}
	when := time.Date(2026, 2, 10, 12, 0, 0, 0, time.UTC)
	var rows []store.CustomerAnalytics
	for i, c := range []struct{ clv, alive float64 }{{0.5, 0.05}, {1, 0.1}, {2.5, 0.55}, {2.5, 0.999}, {1000, 1}} {
		rows = append(rows, store.CustomerAnalytics{CustomerID: fmt.Sprintf("d%d", i), Segment: "x", UpdatedAt: when,
			CLV: &store.CLVFigures{ProbAlive: c.alive, Value: c.clv, ModelVersion: 1}})
	}
	rows = append(rows, store.CustomerAnalytics{CustomerID: "new", Segment: "x", UpdatedAt: when})
	if err := a.WriteCustomerAnalytics(ctx, rows); err != nil {
		t.Fatal(err)
	}
	d, err = r.CLVDistribution(ctx, edges)
	if err != nil {
		t.Fatal(err)
	}
	if d.Customers != 5 || d.Unscored != 1 || math.Abs(d.SumCLV-1006.5) > 1e-9 {
		t.Fatalf("distribution totals = %+v", d)
	}
	if got := fmt.Sprint(d.Cells); got != "[{0 0 1} {1 1 1} {2 5 1} {2 9 1} {3 9 1}]" {
		t.Fatalf("cells = %s, want [{0 0 1} {1 1 1} {2 5 1} {2 9 1} {3 9 1}]", got)
	}
	if _, err := r.CLVDistribution(ctx, []float64{2, 1}); err == nil {
		t.Fatal("decreasing edges accepted")
	}
}

// testCustomerTransactions: one customer's transactions come newest first
// by event time, ties by transaction ID, paged by the last row's place,
// with none of another customer's.
func testCustomerTransactions(t *testing.T, s store.Store, a store.Analytics) {
	ctx := context.Background()
	h := func(id string, at time.Time, cents int64) store.Tx {
		tx := Tx(id, "h1", at, cents, 0, 0)
		tx.Channel, tx.PaymentMethod, tx.Risk, tx.Decision = "app", "paypal", 0.75, "review"
		return tx
	}
	writeTxs(t, s,
		h("h-a", at(1, 9, 0), 100),
		Tx("o-1", "h2", at(3, 9, 0), 999, 0, 0),
		h("h-c", at(2, 9, 0), 300),
		h("h-b", at(2, 9, 0), 200), // the same time as h-c: h-c comes first
		h("h-d", at(4, 10, 30), 400),
		h("h-e", at(5, 8, 0), 12345),
	)
	var pages []string
	var before *store.CustomerTxCursor
	for range 5 {
		page, err := a.CustomerTransactions(ctx, store.CustomerTxFilter{CustomerID: "h1", Limit: 2, Before: before})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		var ids []string
		for _, x := range page {
			ids = append(ids, x.TransactionID)
		}
		pages = append(pages, strings.Join(ids, ","))
		last := page[len(page)-1]
		before = &store.CustomerTxCursor{EventTime: last.EventTime, TransactionID: last.TransactionID}
	}
	if got, want := strings.Join(pages, "|"), "h-e,h-d|h-c,h-b|h-a"; got != want {
		t.Fatalf("pages of h1 = %s, want %s", got, want)
	}
	all, err := a.CustomerTransactions(ctx, store.CustomerTxFilter{CustomerID: "h1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 5 {
		t.Fatalf("h1 has %d transactions, want 5", len(all))
	}
	got := all[0]
	if got.TransactionID != "h-e" || !got.EventTime.Equal(at(5, 8, 0)) || got.EventTime.Location() != time.UTC || got.TotalCents != 12345 ||
		got.Currency != "EUR" || got.Channel != "app" || got.PaymentMethod != "paypal" || got.Decision != "review" ||
		got.Risk < 0.7499 || got.Risk > 0.7501 || !strings.Contains(string(got.ItemsJSON), `"product_id":"P1"`) {
		t.Fatalf("newest transaction of h1 = %+v (items %s)", got, got.ItemsJSON)
	}
	none, err := a.CustomerTransactions(ctx, store.CustomerTxFilter{CustomerID: "nobody"})
	if err != nil || len(none) != 0 {
		t.Fatalf("transactions of an unknown customer = %v, %v; want none", none, err)
	}
}

// testCustomerList: the customer list is by ID in byte order (upper case
// before lower, "c10" before "c9"), in pages that follow one another
// without a gap, filtered by segment and by ID prefix, including IDs with
// bytes a collation would reorder or a LIKE pattern would read.
func testCustomerList(t *testing.T, _ store.Store, a store.Analytics) {
	ctx := context.Background()
	when := time.Date(2026, 2, 10, 12, 0, 0, 0, time.UTC)
	ids := []string{"c9", "c10", "c1", "C2", "c1_x", "c1%", "d1", "c\u00e9", "c\U0010ffff\U0010ffff", "c\U0010ffff", "c\u00e9z"}
	var rows []store.CustomerAnalytics
	for i, id := range ids {
		seg := "Lost"
		if i%2 == 0 {
			seg = "Champions"
		}
		rows = append(rows, store.CustomerAnalytics{CustomerID: id, RecencyDays: float64(i), FrequencyDays: 1, MonetaryCents: int64(100 * i),
			R: 1, F: 1, M: 1, Segment: seg, UpdatedAt: when})
	}
	if err := a.WriteCustomerAnalytics(ctx, rows); err != nil {
		t.Fatal(err)
	}
	list := func(f store.CustomerListFilter) []string {
		t.Helper()
		got, err := a.Customers(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		out := []string{}
		for _, c := range got {
			out = append(out, c.CustomerID)
		}
		return out
	}
	all := []string{"C2", "c1", "c1%", "c10", "c1_x", "c9", "c\u00e9", "c\u00e9z", "c\U0010ffff", "c\U0010ffff\U0010ffff", "d1"}
	if got := list(store.CustomerListFilter{Limit: 100}); !reflect.DeepEqual(got, all) {
		t.Fatalf("every customer = %q, want %q", got, all)
	}
	// Pages of three, each after the last of the one before.
	var paged []string
	for after := ""; ; {
		page := list(store.CustomerListFilter{After: after, Limit: 3})
		paged = append(paged, page...)
		if len(page) < 3 {
			break
		}
		after = page[len(page)-1]
	}
	if !reflect.DeepEqual(paged, all) {
		t.Fatalf("in pages of three: %q, want %q", paged, all)
	}
	for _, tc := range []struct {
		f    store.CustomerListFilter
		want []string
	}{
		{store.CustomerListFilter{Prefix: "c1"}, []string{"c1", "c1%", "c10", "c1_x"}},
		{store.CustomerListFilter{Prefix: "c1_"}, []string{"c1_x"}},
		{store.CustomerListFilter{Prefix: "c1%"}, []string{"c1%"}},
		{store.CustomerListFilter{Prefix: "c\u00e9"}, []string{"c\u00e9", "c\u00e9z"}},
		{store.CustomerListFilter{Prefix: "c\U0010ffff"}, []string{"c\U0010ffff", "c\U0010ffff\U0010ffff"}},
		{store.CustomerListFilter{Prefix: "C"}, []string{"C2"}},
		{store.CustomerListFilter{Prefix: "x"}, []string{}},
		{store.CustomerListFilter{Segment: "Champions"}, []string{"c1", "c1_x", "c9", "c\u00e9z", "c\U0010ffff\U0010ffff", "d1"}},
		{store.CustomerListFilter{Segment: "Lost", Prefix: "c1"}, []string{"c1%", "c10"}},
		{store.CustomerListFilter{Segment: "Champions", Prefix: "c", After: "c1_x"}, []string{"c9", "c\u00e9z", "c\U0010ffff\U0010ffff"}},
		{store.CustomerListFilter{Segment: "Hibernating"}, []string{}},
	} {
		tc.f.Limit = 100
		if got := list(tc.f); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("customers %+v = %q, want %q", tc.f, got, tc.want)
		}
	}
	got, err := a.Customers(ctx, store.CustomerListFilter{Prefix: "d", Limit: 1})
	if err != nil || len(got) != 1 || got[0].MonetaryCents != 600 || got[0].Segment != "Champions" || !got[0].UpdatedAt.Equal(when) {
		t.Fatalf("customer d1 = %+v, %v", got, err)
	}
}

// testCustomerListByCLV: by CLV the list is highest first, ID in byte
// order breaking ties, without the customers that have no CLV; pages
// after the last of the one before, ties split across pages included,
// list each customer once; a segment and a prefix still select.
func testCustomerListByCLV(t *testing.T, _ store.Store, a store.Analytics) {
	ctx := context.Background()
	when := time.Date(2026, 2, 10, 12, 0, 0, 0, time.UTC)
	clvs := map[string]float64{"c1": 12.5, "c2": 300, "c3": 12.5, "c4": 0, "c5": 12.5, "c6": 1e6, "c7": 0.1 + 0.2, "d1": 300}
	var rows []store.CustomerAnalytics
	for i, id := range []string{"c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9", "d1"} {
		seg := "Lost"
		if i%2 == 0 {
			seg = "Champions"
		}
		r := store.CustomerAnalytics{CustomerID: id, FrequencyDays: 1, R: 1, F: 1, M: 1, Segment: seg, UpdatedAt: when}
		if v, ok := clvs[id]; ok {
			r.CLV = &store.CLVFigures{ProbAlive: 0.5, ExpectedPurchases: 1, ExpectedAOV: v, Value: v, ModelVersion: 1}
		}
		rows = append(rows, r)
	}
	if err := a.WriteCustomerAnalytics(ctx, rows); err != nil {
		t.Fatal(err)
	}
	list := func(f store.CustomerListFilter) []store.CustomerAnalytics {
		t.Helper()
		f.ByCLV = true
		got, err := a.Customers(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	ids := func(cs []store.CustomerAnalytics) []string {
		out := []string{}
		for _, c := range cs {
			out = append(out, c.CustomerID)
		}
		return out
	}
	all := []string{"c6", "c2", "d1", "c1", "c3", "c5", "c7", "c4"}
	if got := ids(list(store.CustomerListFilter{Limit: 100})); !reflect.DeepEqual(got, all) {
		t.Fatalf("every customer by CLV = %q, want %q", got, all)
	}
	for _, size := range []int{1, 2, 3} {
		var paged []string
		f := store.CustomerListFilter{Limit: size}
		for range len(all) + 1 {
			page := list(f)
			paged = append(paged, ids(page)...)
			if len(page) < size {
				break
			}
			last := page[len(page)-1]
			f.After, f.AfterCLV = last.CustomerID, last.CLV.Value
		}
		if !reflect.DeepEqual(paged, all) {
			t.Errorf("by CLV in pages of %d: %q, want %q", size, paged, all)
		}
	}
	for _, tc := range []struct {
		f    store.CustomerListFilter
		want []string
	}{
		{store.CustomerListFilter{Segment: "Champions"}, []string{"c1", "c3", "c5", "c7"}},
		{store.CustomerListFilter{Segment: "Lost"}, []string{"c6", "c2", "d1", "c4"}},
		{store.CustomerListFilter{Prefix: "d"}, []string{"d1"}},
		{store.CustomerListFilter{Prefix: "c", After: "c2", AfterCLV: 300}, []string{"c1", "c3", "c5", "c7", "c4"}},
		{store.CustomerListFilter{After: "c3", AfterCLV: 12.5}, []string{"c5", "c7", "c4"}},
		{store.CustomerListFilter{Segment: "Champions", After: "c7", AfterCLV: 0.1 + 0.2}, []string{}},
	} {
		tc.f.Limit = 100
		if got := ids(list(tc.f)); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("customers by CLV %+v = %q, want %q", tc.f, got, tc.want)
		}
	}
}
