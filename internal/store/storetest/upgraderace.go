package storetest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/store"
)

// Blocker holds the rows of a stored transaction locked (its alert row,
// if any, and its transactions row) as another writer's transaction
// would, so that the writers a test starts next queue behind it in the
// order they start. waiting returns once n sessions of the store wait
// for a lock; release ends the blocking transaction. A store whose
// writers never interleave (SQLite's, one writer at a time) has none.
type Blocker func(t *testing.T, s store.Store, transactionID string) (waiting func(n int), release func())

// RunUpgradeRace runs the races between the entity stage's second step
// (an EntityUpgrade raising a stored decision) and a label of the same
// transaction, in both orders: a chargeback from the labels topic
// (WriteLabels) against the raise of an approval to review, and of a
// review to decline, and an analyst's verdict (LabelAlert) against the
// raise of a review to decline. With block, both writers run at once,
// the first to start taking the rows first while the second waits in its
// transaction; without, one after the other. Whatever the order, the
// stored decision is the raised one, applied once (its reasons added
// once), the label and the analyst's verdict stand, the alert row
// carries the decision and the label's scenario, and the detection
// rollups equal their recomputation from the stored transactions,
// labels and verdicts.
func RunUpgradeRace[S store.Store](t *testing.T, open func(t *testing.T) S, block Blocker) {
	for _, c := range []struct {
		name     string
		decision string // the first step's
		analyst  bool   // the label is an analyst's verdict on the alert
	}{
		{"chargeback/approve_to_review", "approve", false},
		{"chargeback/review_to_decline", "review", false},
		{"analyst/review_to_decline", "review", true},
	} {
		for _, labelFirst := range []bool{true, false} {
			name := c.name + "/upgrade_first"
			if labelFirst {
				name = c.name + "/label_first"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				var s store.Store = open(t)
				upgradeRace(t, s, block, c.decision, c.analyst, labelFirst)
			})
		}
	}
}

// stepTwoReason is the reason the race's upgrade adds.
const stepTwoReason = `{"rule":"device_shared_accounts","entity":"device:d1","reason":"device d1 used by 3 accounts in 24 h","weight":0.6,"step":2}`

func upgradeRace(t *testing.T, s store.Store, block Blocker, first string, analyst, labelFirst bool) {
	ctx := context.Background()
	ents, ok := s.(store.Entities)
	if !ok {
		t.Fatalf("%T keeps no entity state", s)
	}
	l, ok := s.(store.Labeller)
	if !ok {
		t.Fatalf("%T does not implement store.Labeller", s)
	}
	f := s.(store.Fraud)
	// A bystander in the same minute, so the rollup rows the writers move
	// hold other counts too.
	x := scored("x", 0, 0, fbase, first, `[{"rule":"r1","reason":"first step","weight":0.4}]`, 0)
	y := scored("y", 0, 1, fbase.Add(time.Second), "approve", "[]", 0)
	var alerts []store.Alert
	if first != "approve" {
		alerts = append(alerts, alertOf(x))
	}
	writeParts(t, s, map[int32][]store.Tx{0: {x, y}}, nil, alerts)
	raised := map[string]string{"approve": "review", "review": "decline"}[first]
	up := &store.EntityBatch{Group: "entities", Topic: "transactions.entities", Owner: "stage", Generation: 1,
		Parts: []store.EntityPart{{Partition: 0, From: 0, To: 1, Upgrades: []store.EntityUpgrade{{
			TransactionID: "x", EventTime: x.EventTime, Risk: 0.7, Decision: raised, ReasonsJSON: []byte(stepTwoReason),
			Alert: &store.OutboxMsg{Kind: "kafka", Target: "alerts", Key: []byte("c-x"), Payload: []byte(`{"kind":"entity_rules"}`)},
		}}}}}
	upgrade := func() error { return ents.WriteEntityBatch(ctx, up) }
	label := func() error {
		_, err := l.WriteLabels(ctx, labelBatch(0, LabelEvent("cb-x", "x", "chargeback", true, "stolen_card", fbase.Add(20*24*time.Hour), 0)), labelOpts(fbase))
		return err
	}
	if analyst {
		label = func() error {
			_, err := f.LabelAlert(ctx, "x", store.AlertConfirmedFraud, "analyst", fbase.Add(time.Hour))
			return err
		}
	}
	firstFn, secondFn := upgrade, label
	if labelFirst {
		firstFn, secondFn = label, upgrade
	}
	if block == nil {
		if err := firstFn(); err != nil {
			t.Fatal(err)
		}
		if err := secondFn(); err != nil {
			t.Fatal(err)
		}
	} else {
		waiting, release := block(t, s, "x")
		errs := make(chan error, 2)
		go func() { errs <- firstFn() }()
		waiting(1)
		go func() { errs <- secondFn() }()
		waiting(2)
		release()
		for range 2 {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
	}

	if !up.Parts[0].Upgrades[0].Applied {
		t.Error("the upgrade was not applied")
	}
	d, err := f.AlertDetail(ctx, "x")
	if err != nil {
		t.Fatalf("the alert of the raised transaction: %v", err)
	}
	if d.Tx == nil || d.Tx.Decision != raised || d.Alert.Decision != raised {
		t.Errorf("stored decision %v, alert's %s; want both %s", d.Tx, d.Alert.Decision, raised)
	}
	for what, reasons := range map[string][]byte{"transaction": d.Tx.ReasonsJSON, "alert": d.Alert.ReasonsJSON} {
		if n := strings.Count(string(reasons), `"step":2`); n != 1 || !strings.Contains(string(reasons), `"rule":"r1"`) {
			t.Errorf("the %s's reasons %s: want the first step's and the entity rule's once", what, reasons)
		}
	}
	if analyst {
		if d.Alert.Status != store.AlertConfirmedFraud {
			t.Errorf("alert status %q, want the analyst's %q", d.Alert.Status, store.AlertConfirmedFraud)
		}
	} else {
		if !d.Labelled || !d.Fraud || d.Alert.Scenario != "stolen_card" {
			t.Errorf("label: labelled %v fraud %v, the alert's scenario %q; want the chargeback's (stolen_card)", d.Labelled, d.Fraud, d.Alert.Scenario)
		}
		if lab, fr, sc := truthOf(t, f, "x", 0); !lab || !fr || sc != "stolen_card" {
			t.Errorf("truth: labelled %v fraud %v scenario %q; want the chargeback's", lab, fr, sc)
		}
	}
	var queued int
	if _, _, err := s.DeliverOutbox(ctx, 100, func(m *store.OutboxMsg) error {
		if m.Target == "alerts" && string(m.Payload) == `{"kind":"entity_rules"}` {
			queued++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if queued != 1 {
		t.Errorf("%d alerts of the raise queued, want 1", queued)
	}
	CheckRollupsMatchLabels(t, s)
	// The upgrade again, as a redelivery in a later batch: nothing moves.
	up.Parts[0].From, up.Parts[0].To = 1, 2
	if err := upgrade(); err != nil {
		t.Fatal(err)
	}
	if up.Parts[0].Upgrades[0].Applied {
		t.Error("the upgrade applied a second time")
	}
	CheckRollupsMatchLabels(t, s)
}
