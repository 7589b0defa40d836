package storetest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/store"
)

// RunLabels runs the conformance suite of store.Labeller; open returns a
// fresh, empty store for one test.
func RunLabels[S store.Store](t *testing.T, open func(t *testing.T) S) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store, l store.Labeller)
	}{
		{"ApplyOnce", testLabelsApplyOnce},
		{"Pending", testLabelsPending},
		{"SweepSince", testLabelsSweepSince},
		{"Fenced", testLabelsFenced},
		{"AnalystWins", testLabelsAnalystWins},
		{"AlertChanges", testAlertChanges},
		{"JoinInBatch", testLabelsJoinInBatch},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var s store.Store = open(t)
			l, ok := s.(store.Labeller)
			if !ok {
				t.Fatalf("%T does not implement store.Labeller", s)
			}
			tc.fn(t, s, l)
		})
	}
}

// LabelTopic is the topic the conformance suite stores label offsets under.
const LabelTopic = "labels"

// LabelEvent is a label event for tests.
func LabelEvent(id, tx, kind string, fraud bool, scenario string, at time.Time, off int64) store.LabelEvent {
	return store.LabelEvent{LabelID: id, TransactionID: tx, Kind: kind, Fraud: fraud, Scenario: scenario, EventTime: at, Offset: off}
}

// labelBatch is one part of partition 0 of the labels topic from offset
// from, one offset per event.
func labelBatch(from int64, evs ...store.LabelEvent) *store.Batch {
	for i := range evs {
		evs[i].Offset = from + int64(i)
	}
	return &store.Batch{Group: "g", Topic: LabelTopic, Owner: "p1", Generation: 1,
		Parts: []store.Part{{Partition: 0, From: from, To: from + int64(len(evs)), LabelEvents: evs}}}
}

// RecomputedRollups is the minute rollups recomputed from the stored
// transactions, their labels and their alerts' verdicts (FraudOutcomes),
// as canonical text.
func RecomputedRollups(ctx context.Context, f store.Fraud) ([]string, error) {
	out, err := f.FraudOutcomes(ctx, store.OutcomeQuery{Limit: 10_000_000})
	if err != nil {
		return nil, err
	}
	var fold store.RollupFold
	for i := range out.Rows {
		fold.Add(&out.Rows[i], 1)
	}
	var rows []string
	for _, r := range fold.Rows() {
		if r.Granularity == store.Minute && r.Series == store.SeriesOutcomes {
			rows = append(rows, fmt.Sprintf("%s %s %s/%s/%s/%v %d", r.Granularity, r.Start.Format(time.RFC3339), r.Truth, r.Scenario, r.Decision, r.Analyst, r.N))
		}
	}
	slices.Sort(rows)
	return rows, nil
}

// CheckRollupsMatchLabels fails t unless the stored minute rollups equal
// a recomputation from the stored labels (RecomputedRollups).
func CheckRollupsMatchLabels(t testing.TB, s store.Store) {
	t.Helper()
	ctx := context.Background()
	want, err := RecomputedRollups(ctx, s.(store.Fraud))
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.(store.RollupReader).FraudRollups(ctx, store.RollupQuery{OutcomesBy: store.Minute})
	if err != nil {
		t.Fatal(err)
	}
	got := canonical(r)
	if !slices.Equal(got, want) {
		t.Fatalf("stored rollups differ from their recomputation from the stored labels:\n stored %v\n recomputed %v", got, want)
	}
}

// truthOf reads the stored truth of one transaction from the outcomes.
func truthOf(t *testing.T, f store.Fraud, id string, off int64) (labelled, fraud bool, scenario string) {
	t.Helper()
	out, err := f.FraudOutcomes(context.Background(), store.OutcomeQuery{})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range out.Rows {
		if o.Offset == off {
			return o.Labelled, o.Fraud, o.Scenario
		}
	}
	t.Fatalf("transaction %s (offset %d) not among the outcomes", id, off)
	return
}

// labelOpts are the options of a write with no sweep; the processors'
// offsets a sweep reads are those writeParts stores.
func labelOpts(expireBefore time.Time) store.LabelOptions {
	return store.LabelOptions{ExpireBefore: expireBefore, TxGroup: "g", TxTopic: "transactions"}
}

// sweepOpts are the options of a sweep from since (nil: full).
func sweepOpts(expireBefore time.Time, since map[int32]int64) store.LabelOptions {
	o := labelOpts(expireBefore)
	o.Sweep, o.Since = true, since
	return o
}

func writeLabels(t *testing.T, l store.Labeller, b *store.Batch, o store.LabelOptions) store.LabelResult {
	t.Helper()
	res, err := l.WriteLabels(context.Background(), b, o)
	if err != nil {
		t.Fatalf("WriteLabels: %v", err)
	}
	return res
}

// testLabelsApplyOnce: a chargeback makes a stored transaction fraud, a
// dispute won later makes it legitimate again; a repeated label changes
// nothing; the rollups follow and the offsets advance.
func testLabelsApplyOnce(t *testing.T, s store.Store, l store.Labeller) {
	ctx := context.Background()
	a := scored("a", 0, 0, fbase, "review", "[]", 0)
	b := scored("b", 0, 1, fbase.Add(time.Minute), "approve", "[]", 0)
	writeParts(t, s, map[int32][]store.Tx{0: {a, b}}, nil, []store.Alert{alertOf(a)})
	f := s.(store.Fraud)
	if lab, _, _ := truthOf(t, f, "a", 0); lab {
		t.Fatal("a transaction with no label stored as labelled")
	}
	cb := LabelEvent("cb-a", "a", "chargeback", true, "card_testing", fbase.Add(20*24*time.Hour), 0)
	res := writeLabels(t, l, labelBatch(0, cb, LabelEvent("cb-b", "b", "chargeback", true, "", fbase.Add(9*24*time.Hour), 0)), labelOpts(fbase))
	if res.Stored != 2 || res.Applied != 2 || res.Changed != 2 || res.Duplicates != 0 {
		t.Fatalf("first labels: %+v, want 2 stored, applied and changed", res)
	}
	if lab, fr, sc := truthOf(t, f, "a", 0); !lab || !fr || sc != "card_testing" {
		t.Fatalf("after the chargeback: labelled %v fraud %v scenario %q", lab, fr, sc)
	}
	CheckRollupsMatchLabels(t, s)
	// The same label again (a replay), then the dispute won.
	res = writeLabels(t, l, labelBatch(2, cb, LabelEvent("dp-b", "b", "dispute", false, "", fbase.Add(50*24*time.Hour), 0)), labelOpts(fbase))
	if res.Stored != 1 || res.Duplicates != 1 || res.Changed != 1 {
		t.Fatalf("replay and dispute: %+v, want 1 stored, 1 duplicate, 1 changed", res)
	}
	if lab, fr, _ := truthOf(t, f, "b", 1); !lab || fr {
		t.Fatalf("after the dispute won: labelled %v fraud %v, want legitimate", lab, fr)
	}
	CheckRollupsMatchLabels(t, s)
	offs, err := s.Offsets(ctx, "g", LabelTopic)
	if err != nil || offs[0] != 4 {
		t.Fatalf("label offsets %v (%v), want 4", offs, err)
	}
	st, err := l.LabelStatus(ctx)
	if err != nil || st.Applied != 3 || st.Pending != 0 {
		t.Fatalf("status %+v (%v), want 3 applied", st, err)
	}
}

// testLabelsPending: a label for a transaction not stored yet waits, is
// applied by the first write after the transaction is stored (a sweep with
// no new event), and one pending too long expires.
func testLabelsPending(t *testing.T, s store.Store, l store.Labeller) {
	ctx := context.Background()
	f := s.(store.Fraud)
	res := writeLabels(t, l, labelBatch(0, LabelEvent("cb-x", "x", "chargeback", true, "account_takeover", fbase.Add(30*24*time.Hour), 0),
		LabelEvent("cb-ghost", "ghost", "chargeback", true, "", fbase.Add(30*24*time.Hour), 0)), labelOpts(fbase))
	if res.Stored != 2 || res.Applied != 0 {
		t.Fatalf("labels before their transactions: %+v, want 2 stored, none applied", res)
	}
	if st, err := l.LabelStatus(ctx); err != nil || st.Pending != 2 || st.OldestPending == nil {
		t.Fatalf("status %+v (%v), want 2 pending", st, err)
	}
	writeParts(t, s, map[int32][]store.Tx{0: {scored("x", 0, 0, fbase, "approve", "[]", 0)}}, nil, nil)
	sweep := &store.Batch{Group: "g", Topic: LabelTopic, Owner: "p1", Generation: 1, Parts: []store.Part{{Partition: 0, From: 2, To: 2}}}
	res = writeLabels(t, l, sweep, sweepOpts(time.Now().Add(-time.Hour), nil))
	if res.Applied != 1 || res.Changed != 1 || res.Expired != 0 {
		t.Fatalf("sweep: %+v, want 1 applied", res)
	}
	if lab, fr, sc := truthOf(t, f, "x", 0); !lab || !fr || sc != "account_takeover" {
		t.Fatalf("pending label not applied: labelled %v fraud %v scenario %q", lab, fr, sc)
	}
	CheckRollupsMatchLabels(t, s)
	res = writeLabels(t, l, sweep, sweepOpts(time.Now().Add(time.Hour), nil))
	if res.Expired != 1 {
		t.Fatalf("expiry: %+v, want 1 expired", res)
	}
	if st, err := l.LabelStatus(ctx); err != nil || st.Pending != 0 || st.Expired != 1 || st.Applied != 1 {
		t.Fatalf("status %+v (%v), want 1 applied, 1 expired", st, err)
	}
}

// testLabelsSweepSince: a label whose transaction is stored already is
// applied by the write that brings it; one that arrives before its
// transaction is applied once by the first sweep after the transaction
// is stored, also when the sweep looks only at the transactions stored
// since the previous one (more labels pending than transactions stored
// since), and by the sweep after a lazy one that waited; a sweep when
// nothing was stored since applies nothing; a
// transaction stored other than by the processors is found by a full
// sweep; none is applied twice by a replay or by the full sweep of a
// restarted consumer, and the rollups stay equal to their recomputation.
func testLabelsSweepSince(t *testing.T, s store.Store, l store.Labeller) {
	f := s.(store.Fraud)
	at := fbase.Add(30 * 24 * time.Hour)
	expire := fbase // nothing expires
	sweep := func(off int64) *store.Batch {
		return &store.Batch{Group: "g", Topic: LabelTopic, Owner: "p1", Generation: 1, Parts: []store.Part{{Partition: 0, From: off, To: off}}}
	}
	writeParts(t, s, map[int32][]store.Tx{0: {scored("a", 0, 0, fbase, "approve", "[]", 0)}}, nil, nil)
	res := writeLabels(t, l, labelBatch(0, LabelEvent("cb-a", "a", "chargeback", true, "stolen_card", at, 0)), sweepOpts(expire, nil))
	if res.Applied != 1 || !res.SweptAll || res.Swept[0] != 1 {
		t.Fatalf("a label after its transaction, with a full sweep: %+v, want it applied at once and the processors' offset 1 read", res)
	}
	since := res.Swept
	// Labels before their transactions: b and c are stored next, the
	// ghosts never, so more labels are pending than transactions stored.
	evs := []store.LabelEvent{LabelEvent("cb-b", "b", "chargeback", true, "card_testing", at, 0),
		LabelEvent("cb-c", "c", "chargeback", true, "", at, 0)}
	for i := range 4 {
		evs = append(evs, LabelEvent(fmt.Sprintf("cb-g%d", i), fmt.Sprintf("g%d", i), "chargeback", true, "", at, 0))
	}
	res = writeLabels(t, l, labelBatch(1, evs...), labelOpts(expire))
	if res.Stored != 6 || res.Applied != 0 {
		t.Fatalf("labels before their transactions: %+v, want 6 stored, none applied", res)
	}
	writeParts(t, s, map[int32][]store.Tx{0: {scored("b", 0, 1, fbase, "review", "[]", 0), scored("c", 0, 2, fbase.Add(time.Minute), "approve", "[]", 0)}}, nil,
		[]store.Alert{alertOf(scored("b", 0, 1, fbase, "review", "[]", 0))})
	lazy := sweepOpts(expire, since)
	lazy.Lazy = true
	res = writeLabels(t, l, sweep(7), lazy)
	if res.Applied != 0 || !res.Deferred || res.Swept[0] != since[0] {
		t.Fatalf("a lazy sweep with 6 pending and 2 stored since: %+v, want it to wait, from offset %d still", res, since[0])
	}
	res = writeLabels(t, l, sweep(7), sweepOpts(expire, res.Swept))
	if res.Applied != 2 || res.Changed != 2 || res.SweptAll || res.Deferred || res.Swept[0] != 3 {
		t.Fatalf("a sweep from offset %d (2 stored since, 6 pending): %+v, want b and c applied by the transactions stored since, offset 3 read", since[0], res)
	}
	if lab, fr, sc := truthOf(t, f, "b", 1); !lab || !fr || sc != "card_testing" {
		t.Fatalf("b after the sweep: labelled %v fraud %v scenario %q", lab, fr, sc)
	}
	CheckRollupsMatchLabels(t, s)
	since = res.Swept
	if res = writeLabels(t, l, sweep(7), sweepOpts(expire, since)); res.Applied != 0 || res.Changed != 0 {
		t.Fatalf("a sweep with nothing stored since: %+v, want nothing applied", res)
	}
	// A transaction stored by an import (not under the processors'
	// offsets): only a full sweep finds its label.
	imp := scored("g0", 0, 0, fbase.Add(2*time.Minute), "approve", "[]", 0)
	if err := s.WriteBatch(context.Background(), &store.Batch{Group: "import", Topic: "import", Parts: []store.Part{{Partition: 0, From: 0, To: 1, Txs: []store.Tx{imp}}}}); err != nil {
		t.Fatal(err)
	}
	if res = writeLabels(t, l, sweep(7), sweepOpts(expire, since)); res.Applied != 0 {
		t.Fatalf("a sweep from the processors' offsets after an import: %+v, want nothing applied", res)
	}
	// A restarted consumer replays the labels, then sweeps fully.
	replay := append([]store.LabelEvent{LabelEvent("cb-a", "a", "chargeback", true, "stolen_card", at, 0)}, evs...)
	res = writeLabels(t, l, labelBatch(7, replay...), sweepOpts(expire, nil))
	if res.Stored != 0 || res.Duplicates != 7 || res.Applied != 1 || res.Changed != 1 || !res.SweptAll {
		t.Fatalf("replay and a full sweep: %+v, want 7 duplicates and only the imported transaction's label applied", res)
	}
	if st, err := l.LabelStatus(context.Background()); err != nil || st.Applied != 4 || st.Pending != 3 {
		t.Fatalf("status %+v (%v), want 4 applied, 3 pending", st, err)
	}
	CheckRollupsMatchLabels(t, s)
}

// testLabelsFenced: a label batch of an older epoch, or one from an
// offset not stored, writes nothing.
func testLabelsFenced(t *testing.T, s store.Store, l store.Labeller) {
	ctx := context.Background()
	writeLabels(t, l, labelBatch(0, LabelEvent("l1", "t1", "analyst", true, "", fbase, 0)), labelOpts(fbase))
	if _, err := s.Claim(ctx, "g", LabelTopic, "p2", []int32{0}); err != nil {
		t.Fatal(err)
	}
	_, err := l.WriteLabels(ctx, labelBatch(1, LabelEvent("l2", "t2", "analyst", true, "", fbase, 0)), labelOpts(fbase))
	if _, fenced := store.IsFenced(err); !fenced {
		t.Fatalf("a zombie's label batch: %v, want fenced", err)
	}
	b := labelBatch(5, LabelEvent("l3", "t3", "analyst", true, "", fbase, 0))
	b.Generation = 99
	_, err = l.WriteLabels(ctx, b, labelOpts(fbase))
	if _, fenced := store.IsFenced(err); !fenced && !errors.Is(err, store.ErrAlreadyCommitted) {
		t.Fatalf("a label batch from the wrong offset: %v, want fenced", err)
	}
	if st, err := l.LabelStatus(ctx); err != nil || st.Pending != 1 {
		t.Fatalf("status %+v (%v), want only the first label stored", st, err)
	}
}

// testLabelsAnalystWins: an analyst's verdict on the alert decides the
// truth whatever the labels say, and the rollups stay consistent when
// both move.
func testLabelsAnalystWins(t *testing.T, s store.Store, l store.Labeller) {
	ctx := context.Background()
	f := s.(store.Fraud)
	a := scored("a", 0, 0, fbase, "decline", "[]", 0)
	writeParts(t, s, map[int32][]store.Tx{0: {a}}, nil, []store.Alert{alertOf(a)})
	if _, err := f.LabelAlert(ctx, "a", store.AlertFalsePositive, "analyst", fbase); err != nil {
		t.Fatal(err)
	}
	writeLabels(t, l, labelBatch(0, LabelEvent("cb-a", "a", "chargeback", true, "stolen_card", fbase.Add(10*24*time.Hour), 0)), labelOpts(fbase))
	if lab, fr, _ := truthOf(t, f, "a", 0); !lab || fr {
		t.Fatalf("analyst's false positive overruled by a chargeback: labelled %v fraud %v", lab, fr)
	}
	CheckRollupsMatchLabels(t, s)
	if _, err := f.LabelAlert(ctx, "a", store.AlertOpen, "analyst", fbase); err != nil {
		t.Fatal(err)
	}
	if lab, fr, sc := truthOf(t, f, "a", 0); !lab || !fr || sc != "stolen_card" {
		t.Fatalf("alert reopened: labelled %v fraud %v scenario %q, want the chargeback's truth", lab, fr, sc)
	}
	CheckRollupsMatchLabels(t, s)
}

// testAlertChanges: a label naming an alert's scenario and an analyst's
// verdict each number a change of the alert, in order; the lock the label
// writer takes and a label of a transaction without an alert do not.
func testAlertChanges(t *testing.T, s store.Store, l store.Labeller) {
	ctx := context.Background()
	c, ok := s.(store.AlertChanges)
	if !ok {
		t.Fatalf("%T does not implement store.AlertChanges", s)
	}
	a, b, n := scored("a", 0, 0, fbase, "decline", "[]", 0), scored("b", 0, 1, fbase, "review", "[]", 0), scored("n", 0, 2, fbase, "approve", "[]", 0)
	writeParts(t, s, map[int32][]store.Tx{0: {a, b, n}}, nil, []store.Alert{alertOf(a), alertOf(b)})
	as, start, err := c.AlertChanges(ctx, -1, 10)
	if err != nil || len(as) != 0 || start != 0 {
		t.Fatalf("before any change: %d alerts, start %d, %v; want none from 0", len(as), start, err)
	}
	writeLabels(t, l, labelBatch(0, LabelEvent("cb-b", "b", "chargeback", true, "stolen_card", fbase.Add(24*time.Hour), 0),
		LabelEvent("cb-n", "n", "chargeback", true, "stolen_card", fbase.Add(24*time.Hour), 0)), labelOpts(fbase))
	if _, err := s.(store.Fraud).LabelAlert(ctx, "a", store.AlertConfirmedFraud, "analyst", fbase); err != nil {
		t.Fatal(err)
	}
	as, next, err := c.AlertChanges(ctx, start, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(as) != 2 || as[0].TransactionID != "b" || as[0].Scenario != "stolen_card" || as[1].TransactionID != "a" || as[1].Status != store.AlertConfirmedFraud || next <= start {
		t.Fatalf("changes after %d: %+v, next %d; want b's scenario, then a's verdict", start, as, next)
	}
	if _, latest, err := c.AlertChanges(ctx, -1, 10); err != nil || latest != next {
		t.Errorf("latest change %d (%v), want %d", latest, err, next)
	}
	if as, again, err := c.AlertChanges(ctx, next, 10); err != nil || len(as) != 0 || again != next {
		t.Errorf("changes after %d: %d alerts, next %d, %v; want none", next, len(as), again, err)
	}
	if as, first, err := c.AlertChanges(ctx, start, 1); err != nil || len(as) != 1 || as[0].TransactionID != "b" || first >= next {
		t.Errorf("one change after %d: %+v, next %d, %v; want b's alone", start, as, first, err)
	}
}

// UnlabelledBackfill is the backfill of the unlabelled risk histogram in
// migration 0018 (every statement from its CREATE TEMP TABLE on), which
// a rollup backfill test runs after migration 0015's (BackfillScript).
func UnlabelledBackfill(tb testing.TB, migration string) string {
	tb.Helper()
	text, err := os.ReadFile(migration)
	if err != nil {
		tb.Fatal(err)
	}
	i := strings.Index(string(text), "CREATE TEMP TABLE fraud_rollup_unlabelled")
	if i < 0 {
		tb.Fatalf("%s: no backfill of the unlabelled histogram found", migration)
	}
	return string(text[i:])
}

// testLabelsJoinInBatch: with the join on (store.LabelJoiner), labels
// that arrive before their transactions are applied by the batch that
// stores the transactions, in its transaction: the transaction's truth,
// its alert's scenario and the rollups are those of its latest label at
// once (over the generator's label in the same batch), each event is
// applied once (a sweep after it, and a replay, apply nothing), an
// expired event is not applied, and the labels of transactions of a
// batch that failed wait for the sweep. With the join off, the batch
// leaves the labels pending.
func testLabelsJoinInBatch(t *testing.T, s store.Store, l store.Labeller) {
	ctx := context.Background()
	f := s.(store.Fraud)
	j, ok := s.(store.LabelJoiner)
	if !ok {
		t.Fatalf("%T does not implement store.LabelJoiner", s)
	}
	var mu sync.Mutex
	joined := 0
	j.JoinPendingLabels(func(n int) { mu.Lock(); joined += n; mu.Unlock() })
	at := fbase.Add(30 * 24 * time.Hour)
	evs := []store.LabelEvent{
		LabelEvent("cb-a", "a", "chargeback", true, "stolen_card", at, 0),
		LabelEvent("dp-a", "a", "dispute", false, "", at.Add(-time.Hour), 0), // older: the chargeback wins
		LabelEvent("cb-b", "b", "chargeback", true, "", at, 0),               // no scenario: b keeps its generator label's
		LabelEvent("an-c", "c", "analyst", false, "", at, 0),                 // overrules c's generator label
		LabelEvent("cb-old", "old", "chargeback", true, "", at, 0),           // expires before its transaction comes
	}
	res := writeLabels(t, l, labelBatch(0, evs...), labelOpts(fbase))
	if res.Stored != 5 || res.Applied != 0 {
		t.Fatalf("labels before their transactions: %+v, want 5 stored, none applied", res)
	}
	sweep := &store.Batch{Group: "g", Topic: LabelTopic, Owner: "p1", Generation: 1, Parts: []store.Part{{Partition: 0, From: 5, To: 5}}}
	a, b, c, d := scored("a", 0, 0, fbase, "review", "[]", 0), scored("b", 0, 1, fbase, "approve", "[]", 0),
		scored("c", 0, 2, fbase.Add(time.Minute), "decline", "[]", 0), scored("d", 0, 3, fbase.Add(time.Minute), "approve", "[]", 0)
	gen := []store.Label{{TransactionID: "b", Fraud: true, Scenario: "card_testing"}, {TransactionID: "c", Fraud: true, Scenario: "account_takeover"},
		{TransactionID: "d", Fraud: true, Scenario: "friendly_fraud"}}
	writeParts(t, s, map[int32][]store.Tx{0: {a, b, c, d}}, gen, []store.Alert{alertOf(a), alertOf(c)})
	mu.Lock()
	if joined != 4 {
		t.Errorf("events applied by the batch: %d, want 4 (a's two, b's, c's)", joined)
	}
	mu.Unlock()
	for _, w := range []struct {
		id       string
		off      int64
		fraud    bool
		scenario string
	}{{"a", 0, true, "stolen_card"}, {"b", 1, true, "card_testing"}, {"c", 2, false, ""}, {"d", 3, true, "friendly_fraud"}} {
		if lab, fr, sc := truthOf(t, f, w.id, w.off); !lab || fr != w.fraud || sc != w.scenario {
			t.Errorf("%s stored with labelled %v fraud %v scenario %q, want fraud %v scenario %q", w.id, lab, fr, sc, w.fraud, w.scenario)
		}
	}
	for id, want := range map[string]string{"a": "stolen_card", "c": ""} {
		d, err := f.AlertDetail(ctx, id)
		if err != nil || d == nil || d.Alert.Scenario != want {
			t.Errorf("alert of %s: %+v (%v), want scenario %q", id, d, err, want)
		}
	}
	CheckRollupsMatchLabels(t, s)
	if st, err := l.LabelStatus(ctx); err != nil || st.Applied != 4 || st.Pending != 1 {
		t.Fatalf("status %+v (%v), want 4 applied by the batch and old's pending", st, err)
	}
	// A full sweep and a replay find nothing left to apply.
	if res = writeLabels(t, l, sweep, sweepOpts(fbase, nil)); res.Applied != 0 || res.Changed != 0 {
		t.Fatalf("a full sweep after the batch: %+v, want nothing applied", res)
	}
	if res = writeLabels(t, l, labelBatch(5, evs...), sweepOpts(fbase, nil)); res.Duplicates != 5 || res.Applied != 0 {
		t.Fatalf("a replay: %+v, want 5 duplicates, nothing applied", res)
	}
	CheckRollupsMatchLabels(t, s)
	// old expires; its transaction then comes and is stored unlabelled.
	if res = writeLabels(t, l, &store.Batch{Group: "g", Topic: LabelTopic, Owner: "p1", Generation: 1, Parts: []store.Part{{Partition: 0, From: 10, To: 10}}},
		sweepOpts(time.Now().Add(time.Hour), nil)); res.Expired != 1 {
		t.Fatalf("expiry: %+v, want old's event expired", res)
	}
	// A label of e, and a batch with e that fails (its other transaction
	// is stored already): nothing of it stays; the next batch with e
	// applies the label.
	writeLabels(t, l, labelBatch(10, LabelEvent("cb-e", "e", "chargeback", true, "stolen_card", at, 0)), labelOpts(fbase))
	e := scored("e", 1, 4, fbase.Add(2*time.Minute), "approve", "[]", 0) // offsets apart from partition 0's: truthOf finds by offset
	dup := scored("a", 1, 5, fbase, "review", "[]", 0)
	bad := &store.Batch{Group: "g", Topic: "transactions", Parts: []store.Part{{Partition: 1, From: 4, To: 6, Txs: []store.Tx{e, dup}}}}
	if err := s.WriteBatch(ctx, bad); err == nil {
		t.Fatal("a batch with a stored transaction's id again: no error")
	}
	if st, err := l.LabelStatus(ctx); err != nil || st.Pending != 1 {
		t.Fatalf("after the failed batch: %+v (%v), want e's label pending", st, err)
	}
	writeParts(t, s, map[int32][]store.Tx{1: {e, scored("old", 1, 5, fbase.Add(2*time.Minute), "approve", "[]", 0)}}, nil, nil)
	if lab, fr, sc := truthOf(t, f, "e", 4); !lab || !fr || sc != "stolen_card" {
		t.Errorf("e stored with labelled %v fraud %v scenario %q, want its chargeback", lab, fr, sc)
	}
	if lab, _, _ := truthOf(t, f, "old", 5); lab {
		t.Error("old stored labelled by its expired event")
	}
	if st, err := l.LabelStatus(ctx); err != nil || st.Applied != 5 || st.Pending != 0 || st.Expired != 1 {
		t.Fatalf("status %+v (%v), want 5 applied, 1 expired", st, err)
	}
	CheckRollupsMatchLabels(t, s)
	// With the join off, a label before its transaction waits for a sweep.
	j.JoinPendingLabels(nil)
	writeLabels(t, l, labelBatch(11, LabelEvent("cb-f", "f", "chargeback", true, "", at, 0)), labelOpts(fbase))
	writeParts(t, s, map[int32][]store.Tx{2: {scored("f", 2, 6, fbase, "approve", "[]", 0)}}, nil, nil)
	if st, err := l.LabelStatus(ctx); err != nil || st.Pending != 1 {
		t.Fatalf("with the join off: %+v (%v), want f's label pending", st, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if joined != 5 {
		t.Errorf("events applied by batches: %d, want 5", joined)
	}
}
