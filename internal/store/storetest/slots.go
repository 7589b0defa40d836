package storetest

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/store"
)

// testRollupSlots: batches of three partitions, each its own batch (so
// each adds to the shared rollups in its own writer slot,
// store.BatchSlot), a labels batch (store.LabelSlot) and an analyst's
// verdict (store.SlotOther) add to the same minutes. Every reader answers
// with the sums, one row per key, as if one writer had written them all;
// a key whose count the verdict moved to another truth in another slot
// sums to zero and is not read; and retention deletes the old minutes of
// every slot.
func testRollupSlots(t *testing.T, s store.Store) {
	ctx := context.Background()
	m := fbase
	decisions := []string{"approve", "review", "decline", "approve"}
	for p := range int32(3) {
		var txs []store.Tx
		var alerts []store.Alert
		for i := range 4 {
			// 0, 20, 40 s in minute m, 60 s in m+1.
			tx := scored(fmt.Sprintf("s%d-%d", p, i), p, int64(i), m.Add(time.Duration(i*20)*time.Second), decisions[i], "[]", 0)
			txs = append(txs, tx)
			if tx.Decision != "approve" {
				alerts = append(alerts, alertOf(tx))
			}
		}
		if p == 2 {
			// Alone in its minute and its outcome: the verdict below moves it.
			tx := scored("s2-4", p, 4, m.Add(2*time.Minute), "decline", "[]", 0)
			txs = append(txs, tx)
			alerts = append(alerts, alertOf(tx))
		}
		part := store.Part{Partition: p, From: 0, To: int64(len(txs)), Txs: txs, Alerts: alerts, CheckedAt: m.Add(5 * time.Second),
			Labels: []store.Label{{TransactionID: txs[0].TransactionID}}}
		if err := s.WriteBatch(ctx, &store.Batch{Group: "g", Topic: "transactions", Parts: []store.Part{part}}); err != nil {
			t.Fatalf("WriteBatch of partition %d: %v", p, err)
		}
	}
	if _, err := s.(store.Labeller).WriteLabels(ctx, labelBatch(0, LabelEvent("l1", "s1-1", "chargeback", true, "card_testing", m, 0)),
		labelOpts(m)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.(store.Fraud).LabelAlert(ctx, "s2-4", store.AlertConfirmedFraud, "analyst", m.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}

	sum, err := s.Summary(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if sum.TransactionsTotal != 13 || sum.RevenueCents != 13000 || sum.FraudAlertsTotal != 7 {
		t.Errorf("summary = %d tx, %d cents, %d alerts; want 13, 13000, 7", sum.TransactionsTotal, sum.RevenueCents, sum.FraudAlertsTotal)
	}
	ws, err := s.Windows(ctx, store.Minute, m.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	w := func(start time.Time, n, alerts int64) store.WindowRow {
		return store.WindowRow{Granularity: store.Minute, Start: start, Channel: "web", PaymentMethod: "card", Currency: "EUR",
			Count: n, RevenueCents: 1000 * n, Alerts: alerts}
	}
	if want := []store.WindowRow{w(m, 9, 6), w(m.Add(time.Minute), 3, 0), w(m.Add(2*time.Minute), 1, 1)}; !reflect.DeepEqual(ws, want) {
		t.Errorf("minute windows:\n got %+v\nwant %+v", ws, want)
	}
	hs, err := s.Windows(ctx, store.Hour, m.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(hs) != 1 || hs[0].Count != 13 || hs[0].Alerts != 7 {
		t.Errorf("hour windows = %+v, want one of 13 transactions, 7 alerts", hs)
	}
	q := qualityOf(t, s)
	per, err := q.TxPerMinute(ctx, m, m.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if want := []store.MinuteCount{{Minute: m, Count: 9}, {Minute: m.Add(time.Minute), Count: 3}, {Minute: m.Add(2 * time.Minute), Count: 1}}; !reflect.DeepEqual(per, want) {
		t.Errorf("transactions per minute = %+v, want %+v", per, want)
	}
	qm, err := q.QualityMinutes(ctx, m, m.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range qm {
		if seen[r.Check] {
			t.Errorf("check %s read twice for minute %v", r.Check, r.Minute)
		}
		seen[r.Check] = true
		if r.Checked != 13 || r.Passed != 13 || r.Failed != 0 {
			t.Errorf("quality %s: %+v, want 13 checked, 13 passed", r.Check, r)
		}
	}
	if !seen["all"] {
		t.Errorf("no quality row \"all\" in %+v", qm)
	}

	// One row per key, summed over the slots, and none of zero.
	CheckRollupsMatchLabels(t, s)
	for _, g := range []store.Granularity{store.Minute, store.Hour, store.Day} {
		_, r := rollupCounts(t, s.(store.Fraud), store.RollupQuery{OutcomesBy: g})
		keys := map[string]bool{}
		for _, o := range r.Outcomes {
			k := fmt.Sprintf("%s %s %s/%s/%s/%v", o.Granularity, o.Start.Format(time.RFC3339), o.Truth, o.Scenario, o.Decision, o.Analyst)
			if keys[k] || o.N == 0 {
				t.Errorf("outcomes by %s: row %s %d read twice or of zero", g, k, o.N)
			}
			keys[k] = true
		}
	}
	counts, _ := rollupCounts(t, s.(store.Fraud), store.RollupQuery{})
	want := map[string]int64{"legit//approve/false": 3, "none//approve/false": 3, "none//review/false": 2, "fraud/card_testing/review/false": 1,
		"none//decline/false": 3, "fraud/analyst/decline/true": 1}
	if !sameCounts(counts, want) {
		t.Errorf("outcomes over the window = %v, want %v", counts, want)
	}

	// Retention deletes the minutes before m+1 in every slot.
	r := s.(store.Retention)
	cut := m.Add(time.Minute)
	if _, err := r.PruneWindows(ctx, store.Minute, cut, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := r.PruneRollups(ctx, store.Minute, cut, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := r.PruneQualityMinutes(ctx, cut, 1); err != nil {
		t.Fatal(err)
	}
	if ws, _ := s.Windows(ctx, store.Minute, m.Add(-time.Hour)); len(ws) != 2 || !ws[0].Start.Equal(cut) {
		t.Errorf("minute windows after retention = %+v, want those of %v and after", ws, cut)
	}
	if qm, _ := q.QualityMinutes(ctx, m, cut); len(qm) != 0 {
		t.Errorf("quality rows of %v after retention: %+v", m, qm)
	}
	_, rr := rollupCounts(t, s.(store.Fraud), store.RollupQuery{OutcomesBy: store.Minute, Since: m.Add(-time.Hour), Until: m.Add(time.Hour)})
	for _, o := range rr.Outcomes {
		if o.Granularity == store.Minute && o.Start.Before(cut) {
			t.Errorf("minute rollup of %v read after retention: %+v", o.Start, o)
		}
	}
}
