package storetest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/store"
)

// RunFraud runs the conformance suite of store.Fraud; open returns a fresh,
// empty store for one test, which must implement store.Fraud:
// RunFraud(t, open).
func RunFraud[S store.Store](t *testing.T, open func(t *testing.T) S) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store, f store.Fraud)
	}{
		{"TrainingSample", testTrainingSample},
		{"LabelledFeatures", testLabelledFeatures},
		{"ModelLifecycle", testModelLifecycle},
		{"ModelStatusErrors", testModelStatusErrors},
		{"Alerts", testAlerts},
		{"AlertFilters", testAlertFilters},
		{"AlertDetail", testAlertDetail},
		{"Outcomes", testOutcomes},
		{"OutcomesSampled", testOutcomesSampled},
		{"Rollups", testRollups},
		{"CustomerHistory", testCustomerHistory},
		{"EmptyFraud", testEmptyFraud},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var s store.Store = open(t)
			f, ok := s.(store.Fraud)
			if !ok {
				t.Fatalf("%T does not implement store.Fraud", s)
			}
			tc.fn(t, s, f)
		})
	}
}

// RunFraudIn runs RunFraud on stores open makes in a fresh temporary
// directory per test, closed at its end: RunFraudIn(t, sqlite.Open).
func RunFraudIn[S store.Store](t *testing.T, open func(ctx context.Context, dir string) (S, error)) {
	RunFraud(t, func(t *testing.T) store.Store {
		s, err := open(context.Background(), t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

var fbase = time.Date(2026, 4, 1, 12, 0, 0, 0, time.UTC)

// scored returns a transaction row with a decision, reasons and features
// whose first value is v, so tests can tell the vectors apart.
func scored(id string, p int32, off int64, at time.Time, decision, reasons string, v float32) store.Tx {
	tx := Tx(id, "c-"+id, at, 1000, p, off)
	tx.Decision, tx.ReasonsJSON = decision, []byte(reasons)
	tx.Risk = map[string]float64{"approve": 0.1, "review": 0.5, "decline": 0.95}[decision]
	tx.Features = nil
	if v != 0 {
		tx.Features = []float32{v, 0.5, -2}
	}
	return tx
}

// writeParts stores each partition's rows as one batch part, from offset 0.
func writeParts(t *testing.T, s store.Store, parts map[int32][]store.Tx, labels []store.Label, alerts []store.Alert) {
	t.Helper()
	var ps []store.Part
	for p, txs := range parts {
		part := store.Part{Partition: p, From: txs[0].Offset, To: txs[len(txs)-1].Offset + 1, Txs: txs}
		for _, tx := range txs {
			for _, l := range labels {
				if l.TransactionID == tx.TransactionID {
					part.Labels = append(part.Labels, l)
				}
			}
			for _, a := range alerts {
				if a.TransactionID == tx.TransactionID {
					part.Alerts = append(part.Alerts, a)
				}
			}
		}
		ps = append(ps, part)
	}
	if err := s.WriteBatch(context.Background(), &store.Batch{Group: "g", Topic: "transactions", Parts: ps}); err != nil {
		t.Fatalf("WriteBatch: %v", err)
	}
}

func alertOf(tx store.Tx) store.Alert {
	return store.Alert{TransactionID: tx.TransactionID, CustomerID: tx.CustomerID, EventTime: tx.EventTime,
		Risk: tx.Risk, Decision: tx.Decision, ReasonsJSON: tx.ReasonsJSON, AmountCents: tx.TotalCents, Currency: tx.Currency}
}

func firsts(vs [][]float32) []float32 {
	out := make([]float32, len(vs))
	for i, v := range vs {
		out[i] = v[0]
	}
	return out
}

func testTrainingSample(t *testing.T, s store.Store, f store.Fraud) {
	ctx := context.Background()
	hit := `[{"rule":"geo_mismatch","reason":"x","weight":0.2}]`
	writeParts(t, s, map[int32][]store.Tx{
		0: {
			scored("a0", 0, 0, fbase, "approve", "[]", 1),
			scored("a1", 0, 1, fbase, "approve", hit, 2),  // a rule fired
			scored("a2", 0, 2, fbase, "review", hit, 3),   // flagged
			scored("a3", 0, 3, fbase, "approve", "[]", 0), // no vector kept
			scored("a4", 0, 4, fbase, "approve", "[]", 5),
			scored("a5", 0, 5, fbase, "approve", "[]", 6),
		},
		1: {
			scored("b0", 1, 0, fbase, "approve", "[]", 11),
			scored("b1", 1, 1, fbase, "approve", "[]", 12),
		},
	}, nil, nil)
	got, err := f.TrainingSample(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	// Newest first within each partition.
	if want := []float32{6, 5, 1, 12, 11}; !reflect.DeepEqual(firsts(got), want) {
		t.Fatalf("training sample = %v, want %v", firsts(got), want)
	}
	if !reflect.DeepEqual(got[0], []float32{6, 0.5, -2}) {
		t.Fatalf("vector = %v, want [6 0.5 -2]", got[0])
	}
	// A limit is shared among the partitions: the newest of each.
	got, err = f.TrainingSample(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if want := []float32{6, 12}; !reflect.DeepEqual(firsts(got), want) {
		t.Fatalf("training sample of 2 = %v, want %v", firsts(got), want)
	}
}

func testLabelledFeatures(t *testing.T, s store.Store, f store.Fraud) {
	ctx := context.Background()
	txs := []store.Tx{
		scored("t0", 0, 0, fbase, "approve", "[]", 1), // generator: legit
		scored("t1", 0, 1, fbase, "decline", "[]", 2), // generator: fraud
		scored("t2", 0, 2, fbase, "review", "[]", 3),  // generator: fraud; analyst: false positive
		scored("t3", 0, 3, fbase, "review", "[]", 4),  // no generator label; analyst: fraud
		scored("t4", 0, 4, fbase, "review", "[]", 5),  // no label at all: presumed legitimate
		scored("t5", 0, 5, fbase, "approve", "[]", 0), // label but no vector
	}
	labels := []store.Label{{TransactionID: "t0"}, {TransactionID: "t1", Fraud: true, Scenario: "bot_burst"},
		{TransactionID: "t2", Fraud: true, Scenario: "stolen_card"}, {TransactionID: "t5"}}
	writeParts(t, s, map[int32][]store.Tx{0: txs}, labels, []store.Alert{alertOf(txs[1]), alertOf(txs[2]), alertOf(txs[3]), alertOf(txs[4])})
	if _, err := f.LabelAlert(ctx, "t2", store.AlertFalsePositive, "analyst", fbase); err != nil {
		t.Fatal(err)
	}
	if _, err := f.LabelAlert(ctx, "t3", store.AlertConfirmedFraud, "analyst", fbase); err != nil {
		t.Fatal(err)
	}
	got, err := f.LabelledFeatures(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	type lv struct {
		v        float32
		decision string
		fraud    bool
	}
	var have []lv
	for _, g := range got {
		have = append(have, lv{g.Features[0], g.Decision, g.Fraud})
	}
	want := []lv{{5, "review", false}, {4, "review", true}, {3, "review", false}, {2, "decline", true}, {1, "approve", false}}
	if !reflect.DeepEqual(have, want) {
		t.Fatalf("labelled vectors = %v, want %v", have, want)
	}
}

func testModelLifecycle(t *testing.T, _ store.Store, f store.Fraud) {
	ctx := context.Background()
	at := func(m int) time.Time { return fbase.Add(time.Duration(m) * time.Minute) }
	save := func(status string, m int) int {
		t.Helper()
		v, err := f.SaveFraudModel(ctx, store.FraudModel{Status: status, Params: fmt.Appendf(nil, "model-%d", m),
			Metrics: fmt.Appendf(nil, `{"rows":%d}`, m), CreatedAt: at(m)})
		if err != nil {
			t.Fatalf("saving a %s model: %v", status, err)
		}
		return v
	}
	inUse := func(wantActive, wantShadow int) {
		t.Helper()
		a, sh, err := f.FraudModelsInUse(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got := [2]int{}
		if a != nil {
			got[0] = a.Version
			if a.Params != nil {
				t.Errorf("FraudModelsInUse returned params")
			}
		}
		if sh != nil {
			got[1] = sh.Version
		}
		if got != [2]int{wantActive, wantShadow} {
			t.Fatalf("in use: active %d, shadow %d; want %d, %d", got[0], got[1], wantActive, wantShadow)
		}
	}
	inUse(0, 0)
	if v := save(store.StatusActive, 1); v != 1 {
		t.Fatalf("first version = %d", v)
	}
	if v := save(store.StatusShadow, 2); v != 2 {
		t.Fatalf("second version = %d", v)
	}
	inUse(1, 2)
	save(store.StatusShadow, 3) // replaces shadow 2
	inUse(1, 3)

	m, err := f.FraudModel(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	if m.Version != 3 || m.Status != store.StatusShadow || string(m.Params) != "model-3" || string(m.Metrics) != `{"rows":3}` ||
		!m.CreatedAt.Equal(at(3)) || !m.StatusAt.Equal(at(3)) || m.ActivatedAt != nil || m.CreatedAt.Location() != time.UTC {
		t.Fatalf("version 3 = %+v", m)
	}
	list, err := f.FraudModels(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var vs []string
	for _, m := range list {
		if m.Params != nil {
			t.Errorf("FraudModels returned params of version %d", m.Version)
		}
		vs = append(vs, fmt.Sprintf("%d:%s", m.Version, m.Status))
	}
	if got := strings.Join(vs, " "); got != "3:shadow 2:retired 1:active" {
		t.Fatalf("versions = %s", got)
	}
	if list[1].Note != "replaced by version 3" || !list[1].StatusAt.Equal(at(3)) {
		t.Fatalf("replaced shadow = %+v", list[1])
	}
	if a := list[2].ActivatedAt; a == nil || !a.Equal(at(1)) {
		t.Fatalf("version 1 activated at %v, want %v", a, at(1))
	}

	// Promote the shadow: 1 retires, no shadow is left.
	if err := f.SetFraudModelStatus(ctx, 3, store.StatusActive, "promoted", at(10)); err != nil {
		t.Fatal(err)
	}
	inUse(3, 0)
	// Idempotent.
	if err := f.SetFraudModelStatus(ctx, 3, store.StatusActive, "promoted", at(11)); err != nil {
		t.Fatal(err)
	}
	save(store.StatusShadow, 12)
	inUse(3, 4)

	// Roll back: 3 retires as rolled back, 1 is active again; the shadow stays.
	v, err := f.RollbackFraudModel(ctx, at(20))
	if err != nil || v != 1 {
		t.Fatalf("rollback: version %d, %v; want 1", v, err)
	}
	inUse(1, 4)
	m3, _ := f.FraudModel(ctx, 3)
	if m3.Status != store.StatusRetired || !m3.RolledBack || m3.Note != "rolled back to version 1" {
		t.Fatalf("rolled-back version = %+v", m3)
	}
	// Nothing earlier than 1 was ever active.
	if _, err := f.RollbackFraudModel(ctx, at(21)); !errors.Is(err, store.ErrNoRollback) {
		t.Fatalf("second rollback: %v, want ErrNoRollback", err)
	}
	inUse(1, 4)

	// Promote 4, then 2 (never active before, from retired); rollbacks walk
	// back 2 -> 4 -> 1.
	if err := f.SetFraudModelStatus(ctx, 4, store.StatusActive, "", at(30)); err != nil {
		t.Fatal(err)
	}
	if err := f.SetFraudModelStatus(ctx, 2, store.StatusActive, "", at(31)); err != nil {
		t.Fatal(err)
	}
	inUse(2, 0)
	for i, want := range []int{4, 1} {
		v, err := f.RollbackFraudModel(ctx, at(40+i))
		if err != nil || v != want {
			t.Fatalf("rollback %d: version %d, %v; want %d", i, v, err, want)
		}
		inUse(want, 0)
	}
	// A version rolled back from can be promoted again, and then rolled
	// back to.
	if err := f.SetFraudModelStatus(ctx, 3, store.StatusActive, "", at(50)); err != nil {
		t.Fatal(err)
	}
	if err := f.SetFraudModelStatus(ctx, 4, store.StatusActive, "", at(51)); err != nil {
		t.Fatal(err)
	}
	if v, err := f.RollbackFraudModel(ctx, at(52)); err != nil || v != 3 {
		t.Fatalf("rollback to a re-promoted version: %d, %v; want 3", v, err)
	}
	// Retiring the active leaves none; a rollback re-activates it.
	if err := f.SetFraudModelStatus(ctx, 3, store.StatusRetired, "bad", at(60)); err != nil {
		t.Fatal(err)
	}
	inUse(0, 0)
	if v, err := f.RollbackFraudModel(ctx, at(61)); err != nil || v != 3 {
		t.Fatalf("rollback with no active: %d, %v; want 3", v, err)
	}
}

func testModelStatusErrors(t *testing.T, _ store.Store, f store.Fraud) {
	ctx := context.Background()
	if _, err := f.FraudModel(ctx, 1); !errors.Is(err, store.ErrNoModel) {
		t.Fatalf("unknown version: %v, want ErrNoModel", err)
	}
	if err := f.SetFraudModelStatus(ctx, 7, store.StatusActive, "", fbase); !errors.Is(err, store.ErrNoModel) {
		t.Fatalf("promoting an unknown version: %v, want ErrNoModel", err)
	}
	if _, err := f.RollbackFraudModel(ctx, fbase); !errors.Is(err, store.ErrNoRollback) {
		t.Fatalf("rollback of nothing: %v, want ErrNoRollback", err)
	}
	if _, err := f.SaveFraudModel(ctx, store.FraudModel{Status: store.StatusRetired}); !errors.Is(err, store.ErrModelStatus) {
		t.Fatalf("saving a retired version: %v, want ErrModelStatus", err)
	}
	v, err := f.SaveFraudModel(ctx, store.FraudModel{Status: store.StatusActive, Params: []byte{1}})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.SetFraudModelStatus(ctx, v, store.StatusShadow, "", fbase); !errors.Is(err, store.ErrModelStatus) {
		t.Fatalf("active to shadow: %v, want ErrModelStatus", err)
	}
	if err := f.SetFraudModelStatus(ctx, v, "paused", "", fbase); !errors.Is(err, store.ErrModelStatus) {
		t.Fatalf("unknown status: %v, want ErrModelStatus", err)
	}
	m, err := f.FraudModel(ctx, v)
	if err != nil || m.Status != store.StatusActive || string(m.Metrics) != "{}" || time.Since(m.CreatedAt) > time.Hour {
		t.Fatalf("model after refused changes = %+v, %v", m, err)
	}
}

func testAlerts(t *testing.T, s store.Store, f store.Fraud) {
	ctx := context.Background()
	var txs []store.Tx
	var alerts []store.Alert
	for i := range 5 {
		tx := scored(fmt.Sprintf("x%d", i), 0, int64(i), fbase.Add(time.Duration(i)*time.Minute), "review",
			`[{"rule":"order_velocity","reason":"fast","weight":0.95}]`, 1)
		tx.Risk = 0.5 + float64(i)/100
		txs = append(txs, tx)
		alerts = append(alerts, alertOf(tx))
	}
	// Two batches, so IDs follow insertion across batches.
	writeParts(t, s, map[int32][]store.Tx{0: txs[:3]}, nil, alerts[:3])
	if err := s.WriteBatch(ctx, &store.Batch{Group: "g", Topic: "transactions",
		Parts: []store.Part{{Partition: 0, From: 3, To: 5, Txs: txs[3:], Alerts: alerts[3:]}}}); err != nil {
		t.Fatal(err)
	}
	all, err := f.Alerts(ctx, store.AlertFilter{})
	if err != nil {
		t.Fatal(err)
	}
	ids := func(as []store.AlertRecord) string {
		var s []string
		for _, a := range as {
			s = append(s, a.TransactionID)
		}
		return strings.Join(s, ",")
	}
	if got := ids(all); got != "x4,x3,x2,x1,x0" {
		t.Fatalf("alerts = %s, want newest first", got)
	}
	a := all[0]
	if a.CustomerID != "c-x4" || !a.EventTime.Equal(fbase.Add(4*time.Minute)) || a.AmountCents != 1000 ||
		a.Decision != "review" || a.Status != store.AlertOpen || a.LabelledAt != nil || a.ID <= all[1].ID ||
		string(a.ReasonsJSON) != `[{"rule":"order_velocity","reason":"fast","weight":0.95}]` ||
		a.Risk < 0.5399 || a.Risk > 0.5401 || time.Since(a.CreatedAt) > time.Hour {
		t.Fatalf("newest alert = %+v", a)
	}
	if page, _ := f.Alerts(ctx, store.AlertFilter{Limit: 2}); ids(page) != "x4,x3" {
		t.Fatalf("limit 2 = %s", ids(page))
	}
	if page, _ := f.Alerts(ctx, store.AlertFilter{SinceID: all[2].ID}); ids(page) != "x4,x3" {
		t.Fatalf("since the third newest = %s", ids(page))
	}
	if page, _ := f.Alerts(ctx, store.AlertFilter{BeforeID: all[1].ID, Limit: 2}); ids(page) != "x2,x1" {
		t.Fatalf("two before the second newest = %s", ids(page))
	}
	if page, _ := f.Alerts(ctx, store.AlertFilter{BeforeID: all[0].ID, SinceID: all[3].ID}); ids(page) != "x3,x2" {
		t.Fatalf("between the fourth newest and the newest = %s", ids(page))
	}

	when := fbase.Add(time.Hour)
	got, err := f.LabelAlert(ctx, "x1", store.AlertConfirmedFraud, "token 7 (alice)", when)
	if err != nil {
		t.Fatal(err)
	}
	if got.TransactionID != "x1" || got.Status != store.AlertConfirmedFraud || got.LabelledAt == nil || !got.LabelledAt.Equal(when) ||
		got.LabelledBy != "token 7 (alice)" {
		t.Fatalf("labelled alert = %+v", got)
	}
	if c, _ := f.Alerts(ctx, store.AlertFilter{Status: store.AlertConfirmedFraud}); len(c) != 1 || c[0].LabelledBy != "token 7 (alice)" ||
		c[0].LabelledAt == nil || !c[0].LabelledAt.Equal(when) {
		t.Fatalf("labelled alert read back = %+v", c)
	}
	if _, err := f.LabelAlert(ctx, "x2", store.AlertFalsePositive, "token 2 (analyst)", when); err != nil {
		t.Fatal(err)
	}
	if open, _ := f.Alerts(ctx, store.AlertFilter{Status: store.AlertOpen}); ids(open) != "x4,x3,x0" {
		t.Fatalf("open alerts = %s", ids(open))
	}
	if c, _ := f.Alerts(ctx, store.AlertFilter{Status: store.AlertConfirmedFraud}); ids(c) != "x1" {
		t.Fatalf("confirmed alerts = %s", ids(c))
	}
	// An analyst may change their mind.
	if got, err := f.LabelAlert(ctx, "x1", store.AlertFalsePositive, "analyst", when); err != nil || got.Status != store.AlertFalsePositive {
		t.Fatalf("relabel: %+v, %v", got, err)
	}
	if c, _ := f.Alerts(ctx, store.AlertFilter{Status: store.AlertFalsePositive}); ids(c) != "x2,x1" || c[1].LabelledBy != "analyst" {
		t.Fatalf("false positives after the relabel = %+v", c)
	}
	if _, err := f.LabelAlert(ctx, "nope", store.AlertConfirmedFraud, "x", when); !errors.Is(err, store.ErrUnknownAlert) {
		t.Fatalf("labelling an unknown alert: %v, want ErrUnknownAlert", err)
	}
	if _, err := f.LabelAlert(ctx, "x0", "maybe", "x", when); err == nil {
		t.Fatal("labelling with an unknown status succeeded")
	}
}

// testAlertDetail reads one alert with its transaction, features, model
// version and label; the scenario of a label event that comes after the
// alert reaches the alert (and the scenario filter) through the labels
// table, whichever path writes the label.
func testAlertDetail(t *testing.T, s store.Store, f store.Fraud) {
	ctx := context.Background()
	a := scored("d-a", 0, 0, fbase, "review", `[{"rule":"order_velocity","reason":"fast","weight":0.95}]`, 7)
	a.ModelVersion, a.Currency, a.Channel, a.ShadowRisk, a.HasShadow = 3, "EUR", "app", 0.25, true
	b := scored("d-b", 0, 1, fbase.Add(time.Minute), "decline", `[{"rule":"geo_mismatch","reason":"far","weight":0.5}]`, 9)
	alertA, alertB := alertOf(a), alertOf(b)
	alertA.ModelVersion = a.ModelVersion
	writeParts(t, s, map[int32][]store.Tx{0: {a, b}}, []store.Label{{TransactionID: "d-b", Fraud: true, Scenario: "bot_burst"}},
		[]store.Alert{alertA, alertB})

	d, err := f.AlertDetail(ctx, "d-a")
	if err != nil {
		t.Fatal(err)
	}
	if d.Alert.TransactionID != "d-a" || d.Alert.ModelVersion != 3 || d.Alert.Scenario != "" || d.Labelled || d.Fraud ||
		d.Alert.Decision != "review" || d.Alert.Status != store.AlertOpen {
		t.Fatalf("detail of an alert with no label yet = %+v", d)
	}
	if d.Tx == nil {
		t.Fatal("detail without its stored transaction")
	}
	if tx := d.Tx; tx.CustomerID != "c-d-a" || !tx.EventTime.Equal(fbase) || tx.Currency != "EUR" || tx.Channel != "app" ||
		tx.TotalCents != a.TotalCents || !tx.HasShadow || tx.ShadowRisk != 0.25 || tx.Decision != "review" ||
		fmt.Sprint(tx.Features) != "[7 0.5 -2]" || tx.Partition != 0 || tx.Offset != 0 {
		t.Fatalf("detail's transaction = %+v", tx)
	}
	d, err = f.AlertDetail(ctx, "d-b")
	if err != nil {
		t.Fatal(err)
	}
	if d.Alert.Scenario != "bot_burst" || !d.Labelled || !d.Fraud || d.Alert.ModelVersion != 0 || fmt.Sprint(d.Tx.Features) != "[9 0.5 -2]" {
		t.Fatalf("detail of an alert labelled in its batch = %+v, tx %+v", d, d.Tx)
	}
	if _, err := f.AlertDetail(ctx, "nope"); !errors.Is(err, store.ErrUnknownAlert) {
		t.Fatalf("detail of an unknown alert: %v, want ErrUnknownAlert", err)
	}
	byScenario := func(sc string) string {
		as, err := f.Alerts(ctx, store.AlertFilter{Scenario: sc})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, a := range as {
			ids = append(ids, a.TransactionID+"/"+a.Scenario)
		}
		return strings.Join(ids, ",")
	}
	if got := byScenario("bot_burst"); got != "d-b/bot_burst" {
		t.Fatalf("scenario bot_burst = %q", got)
	}

	l, ok := s.(store.Labeller)
	if !ok {
		return
	}
	// A chargeback weeks later names the scenario of d-a.
	writeLabels(t, l, labelBatch(0, LabelEvent("cb-d-a", "d-a", "chargeback", true, "account_takeover", fbase.Add(20*24*time.Hour), 0)), labelOpts(fbase))
	d, err = f.AlertDetail(ctx, "d-a")
	if err != nil {
		t.Fatal(err)
	}
	if d.Alert.Scenario != "account_takeover" || !d.Labelled || !d.Fraud {
		t.Fatalf("detail after the chargeback = %+v", d.Alert)
	}
	if got := byScenario("account_takeover"); got != "d-a/account_takeover" {
		t.Fatalf("scenario account_takeover after the chargeback = %q", got)
	}
}

// testAlertFilters checks each filter of the alert queue alone and
// together, and that the cursor pages through a filtered queue.
func testAlertFilters(t *testing.T, s store.Store, f store.Fraud) {
	ctx := context.Background()
	var txs []store.Tx
	var alerts []store.Alert
	var labels []store.Label
	for i := range 8 {
		decision, reasons := "review", `[{"rule":"order_velocity","reason":"fast","weight":0.95}]`
		if i%2 == 1 {
			decision, reasons = "decline", `[{"rule":"geo_mismatch","reason":"far","weight":0.5},{"feature":"amount","value":12,"z":3.1}]`
		}
		if i == 6 {
			// A rule whose name holds LIKE's wildcard must match itself only.
			reasons = `[{"rule":"odd_rule","reason":"x","weight":0.1}]`
		}
		tx := scored(fmt.Sprintf("y%d", i), 0, int64(i), fbase.Add(time.Duration(i)*time.Hour), decision, reasons, 1)
		tx.TotalCents = int64(1000 * (i + 1))
		switch i {
		case 5: // 40 yen: in the range of 30 to 50
			tx.TotalCents, tx.Currency = 40, "JPY"
		case 6: // 40.000 dinars
			tx.TotalCents, tx.Currency = 40_000, "BHD"
		}
		if i%3 == 0 {
			tx.CustomerID = "c-three"
		}
		txs = append(txs, tx)
		alerts = append(alerts, alertOf(tx))
		scenario := ""
		if i < 4 {
			scenario = "card_testing"
		}
		labels = append(labels, store.Label{TransactionID: tx.TransactionID, Fraud: scenario != "", Scenario: scenario})
	}
	writeParts(t, s, map[int32][]store.Tx{0: txs}, labels, alerts)
	ids := func(as []store.AlertRecord, err error) string {
		if err != nil {
			t.Fatal(err)
		}
		var s []string
		for _, a := range as {
			s = append(s, a.TransactionID)
		}
		return strings.Join(s, ",")
	}
	major := func(x float64) *float64 { return &x }
	for _, c := range []struct {
		name string
		f    store.AlertFilter
		want string
	}{
		{"decision", store.AlertFilter{Decision: "decline"}, "y7,y5,y3,y1"},
		{"scenario", store.AlertFilter{Scenario: "card_testing"}, "y3,y2,y1,y0"},
		{"rule", store.AlertFilter{Rule: "geo_mismatch"}, "y7,y5,y3,y1"},
		{"rule with a wildcard", store.AlertFilter{Rule: "odd_rule"}, "y6"},
		{"no such rule", store.AlertFilter{Rule: "odd%"}, ""},
		{"a feature is no rule", store.AlertFilter{Rule: "amount"}, ""},
		{"customer", store.AlertFilter{CustomerID: "c-three"}, "y6,y3,y0"},
		{"customer and decision", store.AlertFilter{CustomerID: "c-three", Decision: "decline"}, "y3"},
		{"no such customer", store.AlertFilter{CustomerID: "c-none"}, ""},
		// In major units of each alert's currency: 30 to 50 EUR, yen or
		// dinars.
		{"amount range", store.AlertFilter{MinAmount: major(30), MaxAmount: major(50)}, "y6,y5,y4,y3,y2"},
		// Rounded inward to each currency's minor unit: 39.5 yen is
		// at least 40, 40.4 at most 40.
		{"fractional amounts", store.AlertFilter{MinAmount: major(39.5), MaxAmount: major(40.4)}, "y6,y5,y3"},
		{"above the amounts", store.AlertFilter{MinAmount: major(40.0001)}, "y7,y4"},
		{"event time", store.AlertFilter{Since: fbase.Add(2 * time.Hour), Until: fbase.Add(5 * time.Hour)}, "y4,y3,y2"},
		{"status", store.AlertFilter{Status: store.AlertOpen, Decision: "review", Scenario: "card_testing"}, "y2,y0"},
		{"together", store.AlertFilter{Decision: "review", Rule: "order_velocity", MinAmount: major(20), Until: fbase.Add(7 * time.Hour)}, "y4,y2"},
	} {
		if got := ids(f.Alerts(ctx, c.f)); got != c.want {
			t.Errorf("%s: alerts = %q, want %q", c.name, got, c.want)
		}
	}
	// Each alert reads back in its transaction's currency.
	all, err := f.Alerts(ctx, store.AlertFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range all {
		if want := map[string]string{"y5": "JPY", "y6": "BHD"}[a.TransactionID]; a.Currency != cmp.Or(want, "EUR") {
			t.Errorf("alert %s reads currency %q, want %q", a.TransactionID, a.Currency, cmp.Or(want, "EUR"))
		}
	}
	// Paging a filtered queue: each page's last ID is the next cursor.
	var pages []string
	var before int64
	for range 5 {
		page, err := f.Alerts(ctx, store.AlertFilter{Decision: "decline", Limit: 3, BeforeID: before})
		if len(page) == 0 {
			break
		}
		pages = append(pages, ids(page, err))
		before = page[len(page)-1].ID
	}
	if got := strings.Join(pages, "|"); got != "y7,y5,y3|y1" {
		t.Errorf("pages of declines = %s, want y7,y5,y3|y1", got)
	}
}

func testOutcomes(t *testing.T, s store.Store, f store.Fraud) {
	ctx := context.Background()
	// Partition 0: five transactions a minute apart ending at fbase; partition
	// 1: two, the newest 30 minutes later (the newest event time overall),
	// one of them out of order in event time.
	mins := func(m int) time.Time { return fbase.Add(time.Duration(m) * time.Minute) }
	p0 := []store.Tx{
		scored("o0", 0, 0, mins(-200), "approve", "[]", 0),
		scored("o1", 0, 1, mins(-3), "approve", "[]", 0),
		scored("o2", 0, 2, mins(-2), "decline", "[]", 0),
		scored("o3", 0, 3, mins(-1), "review", "[]", 0),
		scored("o4", 0, 4, mins(0), "approve", "[]", 0),
	}
	p0[2].ShadowRisk, p0[2].HasShadow = 0.25, true
	p1 := []store.Tx{
		scored("o5", 1, 0, mins(30), "approve", "[]", 0),
		scored("o6", 1, 1, mins(20), "approve", "[]", 0),
	}
	labels := []store.Label{{TransactionID: "o1"}, {TransactionID: "o2", Fraud: true, Scenario: "card_testing"},
		{TransactionID: "o3", Fraud: true, Scenario: "stolen_card"}, {TransactionID: "o5"}}
	writeParts(t, s, map[int32][]store.Tx{0: p0, 1: p1}, labels, []store.Alert{alertOf(p0[2]), alertOf(p0[3])})
	if _, err := f.LabelAlert(ctx, "o3", store.AlertFalsePositive, "analyst", fbase); err != nil {
		t.Fatal(err)
	}

	all, err := f.FraudOutcomes(ctx, store.OutcomeQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all.Rows) != 7 || all.Sampled || !all.AsOf.Equal(mins(30)) || !all.Since.IsZero() {
		t.Fatalf("all outcomes: %d rows, sampled %v, as of %v, since %v", len(all.Rows), all.Sampled, all.AsOf, all.Since)
	}
	byID := map[int64]store.Outcome{}
	for i, o := range all.Rows {
		if i > 0 && o.EventTime.Before(all.Rows[i-1].EventTime) {
			t.Fatalf("outcomes not in event-time order at %d", i)
		}
		byID[int64(o.Partition)*100+o.Offset] = o
	}
	o2 := byID[2]
	if !o2.Labelled || !o2.Fraud || o2.Scenario != "card_testing" || o2.Analyst || o2.Decision != "decline" ||
		o2.Risk < 0.9499 || o2.Risk > 0.9501 || !o2.HasShadow || o2.ShadowRisk != 0.25 || !o2.EventTime.Equal(mins(-2)) ||
		time.Since(o2.StoredAt) > time.Hour {
		t.Fatalf("outcome of o2 = %+v", o2)
	}
	if o3 := byID[3]; !o3.Labelled || o3.Fraud || !o3.Analyst || o3.Scenario != "stolen_card" {
		t.Fatalf("outcome of o3 (analyst: false positive) = %+v", o3)
	}
	if o4 := byID[4]; o4.Labelled || o4.HasShadow {
		t.Fatalf("outcome of o4 (unlabelled) = %+v", o4)
	}

	// The last hour ends at the newest event time (fbase+30m): o0, at
	// fbase-200m, is out.
	hour, err := f.FraudOutcomes(ctx, store.OutcomeQuery{Window: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if len(hour.Rows) != 6 || hour.Sampled || !hour.Since.Equal(mins(-30)) {
		t.Fatalf("last hour: %d rows, sampled %v, since %v; want 6 rows since %v", len(hour.Rows), hour.Sampled, hour.Since, mins(-30))
	}
	ten, err := f.FraudOutcomes(ctx, store.OutcomeQuery{Window: 15 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if len(ten.Rows) != 2 {
		t.Fatalf("last 15 minutes: %d rows, want 2 (o5, o6)", len(ten.Rows))
	}
}

func testOutcomesSampled(t *testing.T, s store.Store, f store.Fraud) {
	ctx := context.Background()
	parts := map[int32][]store.Tx{}
	for p := range int32(2) {
		for i := range 30 {
			id := fmt.Sprintf("s%d-%d", p, i)
			parts[p] = append(parts[p], scored(id, p, int64(i), fbase.Add(time.Duration(i)*time.Second), "approve", "[]", 0))
		}
	}
	writeParts(t, s, parts, nil, nil)
	for _, tc := range []struct {
		limit   int
		window  time.Duration
		rows    int
		sampled bool
	}{
		{limit: 20, rows: 20, sampled: true},           // 10 newest per partition
		{limit: 60, rows: 60, sampled: false},          // exactly all
		{limit: 1000, rows: 60, sampled: false},        // more than all
		{limit: 20, window: 5 * time.Second, rows: 12}, // 6 per partition fit
		{limit: 10, window: 5 * time.Second, rows: 10, sampled: true},
	} {
		got, err := f.FraudOutcomes(ctx, store.OutcomeQuery{Limit: tc.limit, Window: tc.window})
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Rows) != tc.rows || got.Sampled != tc.sampled {
			t.Errorf("limit %d window %v: %d rows, sampled %v; want %d, %v", tc.limit, tc.window, len(got.Rows), got.Sampled, tc.rows, tc.sampled)
		}
	}
}

func testCustomerHistory(t *testing.T, s store.Store, f store.Fraud) {
	ctx := context.Background()
	var txs []store.Tx
	for i := range 8 {
		tx := Tx(fmt.Sprintf("h%d", i), "alice", fbase.Add(time.Duration(i)*time.Hour), int64(100*(i+1)), 0, int64(i))
		tx.DeviceID = fmt.Sprintf("dev-%d", i)
		txs = append(txs, tx)
	}
	txs = append(txs, Tx("other", "bob", fbase, 5, 0, 8))
	writeParts(t, s, map[int32][]store.Tx{0: txs}, nil, nil)
	history := func(except string, until time.Time, limit int) string {
		t.Helper()
		var ids []string
		err := f.CustomerHistory(ctx, "alice", except, until, limit, func(tx *store.Tx) error {
			if tx.CustomerID != "alice" || tx.Currency != "EUR" || tx.CardBIN != "411111" || tx.IPAddress != "10.0.0.1" ||
				tx.ShippingCountry != "DE" || tx.DeviceID != "dev-"+tx.TransactionID[1:] || tx.EventTime.Location() != time.UTC {
				t.Errorf("history row = %+v", tx)
			}
			ids = append(ids, tx.TransactionID)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(ids, ",")
	}
	end := fbase.Add(24 * time.Hour)
	// The first purchase and the newest three, oldest first.
	if got := history("", end, 3); got != "h0,h5,h6,h7" {
		t.Fatalf("history = %s", got)
	}
	if got := history("", end, 100); got != "h0,h1,h2,h3,h4,h5,h6,h7" {
		t.Fatalf("full history = %s", got)
	}
	// Up to an event time, leaving out the transaction being scored.
	if got := history("h3", fbase.Add(3*time.Hour), 2); got != "h0,h1,h2" {
		t.Fatalf("history until h3 = %s", got)
	}
	if got := history("", fbase.Add(-time.Hour), 5); got != "" {
		t.Fatalf("history before the first purchase = %s", got)
	}
	stop := errors.New("stop")
	if err := f.CustomerHistory(ctx, "alice", "", end, 5, func(*store.Tx) error { return stop }); !errors.Is(err, stop) {
		t.Fatalf("fn's error = %v, want it returned", err)
	}
}

func testEmptyFraud(t *testing.T, _ store.Store, f store.Fraud) {
	ctx := context.Background()
	if v, err := f.TrainingSample(ctx, 100); err != nil || len(v) != 0 {
		t.Fatalf("training sample of an empty store: %d, %v", len(v), err)
	}
	if v, err := f.LabelledFeatures(ctx, 100); err != nil || len(v) != 0 {
		t.Fatalf("labelled vectors of an empty store: %d, %v", len(v), err)
	}
	if ms, err := f.FraudModels(ctx); err != nil || ms == nil || len(ms) != 0 {
		t.Fatalf("models of an empty store: %v, %v", ms, err)
	}
	if as, err := f.Alerts(ctx, store.AlertFilter{Status: store.AlertOpen}); err != nil || as == nil || len(as) != 0 {
		t.Fatalf("alerts of an empty store: %v, %v", as, err)
	}
	o, err := f.FraudOutcomes(ctx, store.OutcomeQuery{Window: time.Hour})
	if err != nil || o.Rows == nil || len(o.Rows) != 0 || o.Sampled || !o.AsOf.IsZero() {
		t.Fatalf("outcomes of an empty store: %+v, %v", o, err)
	}
	if err := f.CustomerHistory(ctx, "nobody", "", time.Now(), 10, func(*store.Tx) error { return errors.New("called") }); err != nil {
		t.Fatalf("history of an unknown customer: %v", err)
	}
}

// rollupCounts sums a window's outcome rows by truth, scenario, decision
// and analyst, as "truth/scenario/decision/analyst" keys.
func rollupCounts(t *testing.T, f store.Fraud, q store.RollupQuery) (map[string]int64, *store.Rollups) {
	t.Helper()
	rr, ok := f.(store.RollupReader)
	if !ok {
		t.Fatalf("%T keeps no rollups", f)
	}
	r, err := rr.FraudRollups(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, o := range r.Outcomes {
		if o.Bucket != -1 || o.Series != "" {
			t.Fatalf("outcome row %+v", o)
		}
		out[fmt.Sprintf("%s/%s/%s/%v", o.Truth, o.Scenario, o.Decision, o.Analyst)] += o.N
	}
	for k, n := range out {
		if n == 0 {
			delete(out, k)
		}
	}
	return out, r
}

func sameCounts(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, n := range a {
		if b[k] != n {
			return false
		}
	}
	return true
}

// The rollups follow the stored batches and the analysts' labels, by
// minute and by hour, and read the same from either.
func testRollups(t *testing.T, s store.Store, f store.Fraud) {
	ctx := context.Background()
	if c, r := rollupCounts(t, f, store.RollupQuery{}); len(c) != 0 || !r.AsOf.IsZero() || len(r.Histograms) != 0 {
		t.Fatalf("rollups of an empty store: %v, %+v", c, r)
	}
	mins := func(m int) time.Time { return fbase.Add(time.Duration(m) * time.Minute) }
	p0 := []store.Tx{
		scored("r0", 0, 0, mins(-200), "approve", "[]", 0),
		scored("r1", 0, 1, mins(-3), "approve", "[]", 0),
		scored("r2", 0, 2, mins(-2), "decline", "[]", 0),
		scored("r3", 0, 3, mins(-1), "review", "[]", 0),
		scored("r4", 0, 4, mins(0), "approve", "[]", 0),
	}
	p0[2].ShadowRisk, p0[2].HasShadow = 0.25, true
	p1 := []store.Tx{
		scored("r5", 1, 0, mins(30), "approve", "[]", 0),
		scored("r6", 1, 1, mins(20), "approve", "[]", 0),
	}
	labels := []store.Label{{TransactionID: "r1"}, {TransactionID: "r2", Fraud: true, Scenario: "card_testing"},
		{TransactionID: "r3", Fraud: true, Scenario: "stolen_card"}, {TransactionID: "r5"}}
	writeParts(t, s, map[int32][]store.Tx{0: p0, 1: p1}, labels, []store.Alert{alertOf(p0[2]), alertOf(p0[3])})
	if _, err := f.LabelAlert(ctx, "r3", store.AlertFalsePositive, "analyst", fbase); err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{"none//approve/false": 3, "legit//approve/false": 2, "fraud/card_testing/decline/false": 1,
		"legit//review/true": 1}
	all, r := rollupCounts(t, f, store.RollupQuery{})
	if !sameCounts(all, want) {
		t.Fatalf("all rollups = %v, want %v", all, want)
	}
	if !r.AsOf.Equal(mins(31)) || !r.Oldest.Equal(mins(-200)) || !r.Since.Equal(r.Oldest) || !r.Until.Equal(r.AsOf) {
		t.Fatalf("span: oldest %v as of %v, window %v..%v", r.Oldest, r.AsOf, r.Since, r.Until)
	}
	act := r.Histograms[store.SeriesActive]
	if act == nil || act.Fraud[94] != 1 || act.Legit[10] != 2 || act.Legit[50] != 1 {
		t.Fatalf("active histogram = %+v", act)
	}
	if sh := r.Histograms[store.SeriesShadow]; sh == nil || sh.Fraud[25] != 1 {
		t.Fatalf("shadow histogram = %+v", sh)
	}
	if sh := r.Histograms[store.SeriesActiveShadowed]; sh == nil || sh.Fraud[94] != 1 {
		t.Fatalf("active-shadowed histogram = %+v", sh)
	}
	// Whole hours come from the hour rows and agree with the minutes.
	hours, hr := rollupCounts(t, f, store.RollupQuery{Since: mins(-240), Until: mins(120)})
	if !sameCounts(hours, want) || hr.Histograms[store.SeriesActive].Fraud != act.Fraud {
		t.Fatalf("rollups read by hours = %v, want %v", hours, want)
	}
	// The last hour leaves r0 out.
	hour, _ := rollupCounts(t, f, store.RollupQuery{Span: time.Hour})
	if hour["none//approve/false"] != 2 {
		t.Fatalf("last hour = %v", hour)
	}
	// Labels move transactions: back to open, and confirmed.
	if _, err := f.LabelAlert(ctx, "r3", store.AlertOpen, "analyst", fbase); err != nil {
		t.Fatal(err)
	}
	if _, err := f.LabelAlert(ctx, "r2", store.AlertConfirmedFraud, "analyst", fbase); err != nil {
		t.Fatal(err)
	}
	if _, err := f.LabelAlert(ctx, "r2", store.AlertConfirmedFraud, "analyst", fbase); err != nil {
		t.Fatal(err)
	}
	want = map[string]int64{"none//approve/false": 3, "legit//approve/false": 2, "fraud/card_testing/decline/true": 1,
		"fraud/stolen_card/review/false": 1}
	for _, q := range []store.RollupQuery{{}, {Since: mins(-240), Until: mins(120)}} {
		got, r := rollupCounts(t, f, q)
		if !sameCounts(got, want) {
			t.Fatalf("rollups %+v after relabelling = %v, want %v", q, got, want)
		}
		if h := r.Histograms[store.SeriesActive]; h.Fraud[50] != 1 || h.Legit[50] != 0 {
			t.Fatalf("active histogram after relabelling = %+v", h)
		}
	}
}
