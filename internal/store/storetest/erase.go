package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/store"
)

// Erasing a customer replaces its id by a pseudonym everywhere, clears its
// device, IP and card fields, scrubs its raw records and queued messages,
// keeps every total, records the erasure, and keeps a record written
// afterwards from bringing the id back.
func testErase(t *testing.T, s store.Store) {
	ctx := context.Background()
	ps, ok := s.(store.Privacy)
	if !ok {
		t.Fatalf("%T does not implement store.Privacy", s)
	}
	a1 := Tx("a1", "alice", base, 1000, 0, 0)
	a1.Decision = "review"
	a2 := Tx("a2", "alice", base.Add(time.Minute), 500, 0, 1)
	b1 := Tx("b1", "bob", base, 700, 0, 2)
	alicePayload := []byte(`{"transaction_id":"a1","customer_id":"alice","amount":10.00}`)
	rawAlice := []byte(`{"transaction_id":"a9","customer_id":"alice","device_id":"d-alice","ip_address":"10.9.9.9","total_amount":-1}`)
	p := part(0, 0, a1, a2, b1)
	p.To = 4
	p.Alerts = []store.Alert{{TransactionID: "a1", CustomerID: "alice", EventTime: base, Risk: 0.6, Decision: "review", ReasonsJSON: []byte("[]"), AmountCents: 1000}}
	p.Outbox = []store.OutboxMsg{{Kind: "kafka", Target: "alerts", Key: []byte("alice"), Payload: alicePayload}}
	p.Quarantined = []store.Quarantined{{Reason: "negative_amount", Detail: "total_amount below 0", Raw: rawAlice, Partition: 0, Offset: 3}}
	write(t, s, p)
	// The routed alert's summary and the audit trail name her in text.
	deliv, _ := s.(store.AlertDeliveries)
	if deliv != nil {
		route(t, deliv, mustRoutes(t), 1, deliveryAlert(t, "a1", "alice", "review"), base)
	}
	auditor, _ := s.(store.Auth)
	if auditor != nil {
		if _, err := auditor.RecordAudit(ctx, &store.AuditEntry{At: base, Actor: "local", Action: "alert.label", Target: "a1",
			Before: json.RawMessage(`{"transaction_id":"a1","customer_id":"alice"}`), After: json.RawMessage(`{"customer_id":"alice","note":"alice-2 too"}`)}); err != nil {
			t.Fatal(err)
		}
	}
	before, err := s.Summary(ctx)
	if err != nil {
		t.Fatal(err)
	}

	e, err := ps.EraseCustomer(ctx, "alice", "test")
	if err != nil {
		t.Fatal(err)
	}
	if e.Again || !strings.HasPrefix(e.Pseudonym, "erased-") || e.Rows["transactions"] != 2 || e.Rows["alerts"] != 1 ||
		e.Rows["customers"] != 1 || e.Rows["quarantine"] != 1 || e.Rows["outbox"] != 1 {
		t.Fatalf("erasure = %+v; want 2 transactions, 1 alert, 1 customer, 1 quarantined record, 1 message", e)
	}
	err = s.RecentTransactions(ctx, 0, 0, time.Time{}, func(tx *store.Tx) error {
		switch {
		case tx.CustomerID == "alice":
			return errors.New("a transaction still names alice")
		case tx.CustomerID == e.Pseudonym && (tx.DeviceID != "" || tx.IPAddress != "" || tx.CardBIN != "" || tx.CardLast4 != "" || tx.ShippingAddress != ""):
			return errors.New("an erased transaction kept its device, IP, card or shipping address")
		case tx.CustomerID == "bob" && (tx.DeviceID == "" || tx.IPAddress == "" || tx.ShippingAddress == ""):
			return errors.New("bob's transaction lost its fields")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	after, err := s.Summary(ctx)
	if err != nil || after.TransactionsTotal != before.TransactionsTotal || after.RevenueCents != before.RevenueCents ||
		after.CustomersTotal != before.CustomersTotal || after.FraudAlertsTotal != before.FraudAlertsTotal {
		t.Fatalf("summary after erasing = %+v, %v; want the totals of before, %+v", after, err, before)
	}
	rows, err := s.ListQuarantine(ctx, store.QuarantineFilter{Limit: 10})
	if err != nil || len(rows) != 1 {
		t.Fatalf("quarantine after erasing: %d rows, %v", len(rows), err)
	}
	if bytes.Contains(rows[0].Raw, []byte("alice")) || bytes.Contains(rows[0].Raw, []byte("10.9.9.9")) || !bytes.Contains(rows[0].Raw, []byte(e.Pseudonym)) {
		t.Fatalf("quarantined record after erasing: %s", rows[0].Raw)
	}
	var sent []*store.OutboxMsg
	if _, _, err := s.DeliverOutbox(ctx, 10, func(m *store.OutboxMsg) error { sent = append(sent, m); return nil }); err != nil || len(sent) != 1 {
		t.Fatalf("outbox after erasing: %d, %v", len(sent), err)
	}
	if bytes.Contains(sent[0].Payload, []byte("alice")) || string(sent[0].Key) != e.Pseudonym {
		t.Fatalf("queued alert after erasing: key %q, %s", sent[0].Key, sent[0].Payload)
	}
	if deliv != nil {
		for _, d := range deliveries(t, deliv, store.DeliveryFilter{}) {
			if strings.Contains(d.Summary, "alice") || bytes.Contains(d.Payload, []byte(`"alice"`)) {
				t.Fatalf("a routed alert still names alice: %q %s", d.Summary, d.Payload)
			}
		}
	}
	if auditor != nil {
		as, err := auditor.AuditEntries(ctx, store.AuditFilter{Limit: 10})
		if err != nil || len(as) != 1 {
			t.Fatalf("audit after erasing: %d entries, %v", len(as), err)
		}
		if bytes.Contains(as[0].Before, []byte(`"alice"`)) || bytes.Contains(as[0].After, []byte(`"alice"`)) ||
			!bytes.Contains(as[0].After, []byte("alice-2")) || !bytes.Contains(as[0].After, []byte(e.Pseudonym)) {
			t.Fatalf("audit entry after erasing: %s / %s", as[0].Before, as[0].After)
		}
	}
	es, err := ps.Erasures(ctx, 0, 0)
	if err != nil || len(es) != 1 || es[0].Pseudonym != e.Pseudonym || es[0].Key != store.ErasureKey("alice") || es[0].Actor != "test" {
		t.Fatalf("erasures = %+v, %v", es, err)
	}

	// A batch built before the erasure was known (a replay, a processor
	// that has not heard of it yet) is pseudonymised as it is stored.
	// Its messages that carry the transaction's device, card, IP or
	// address (the entity stage's repartition records) are not queued;
	// the others are, naming the pseudonym.
	late := Tx("a3", "alice", base.Add(2*time.Minute), 300, 0, 4)
	late.Raw = []byte(`{"customer_id":"alice"}`)
	if late.DeviceID == "" || late.IPAddress == "" || late.CardBIN == "" || late.ShippingAddress == "" {
		t.Fatalf("the late record has no device, IP, card or address to clear: %+v", late)
	}
	lp := part(0, 4, late)
	lp.Outbox = []store.OutboxMsg{
		{Kind: "kafka", Target: "alerts", Key: []byte("alice"), Payload: []byte(`{"transaction_id":"a3","customer_id":"alice"}`), Ref: "a3"},
		{Kind: "kafka", Target: "transactions.entities", Key: []byte("device:" + late.DeviceID), Ref: "a3", Identifying: true,
			Payload: []byte(`{"entity":"device:` + late.DeviceID + `","transaction_id":"a3","customer_id":"alice"}`)},
	}
	write(t, s, lp)
	err = s.RecentTransactions(ctx, 0, 4, time.Time{}, func(tx *store.Tx) error {
		if tx.CustomerID != e.Pseudonym || tx.DeviceID != "" || tx.IPAddress != "" || tx.CardBIN != "" || tx.CardLast4 != "" || tx.ShippingAddress != "" {
			return fmt.Errorf("a record stored after the erasure names alice or kept her fields: %+v", tx)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sent = nil
	if _, _, err := s.DeliverOutbox(ctx, 10, func(m *store.OutboxMsg) error { sent = append(sent, m); return nil }); err != nil || len(sent) != 1 {
		t.Fatalf("messages queued by the late record: %d, %v; want its alert alone", len(sent), err)
	}
	if sent[0].Target != "alerts" || bytes.Contains(sent[0].Payload, []byte("alice")) || string(sent[0].Key) != e.Pseudonym {
		t.Fatalf("the late record's alert: %s key %q, %s", sent[0].Target, sent[0].Key, sent[0].Payload)
	}
	again, err := ps.EraseCustomer(ctx, "alice", "test")
	if err != nil || !again.Again || again.Pseudonym != e.Pseudonym || again.ID != e.ID {
		t.Fatalf("erasing again = %+v, %v; want the same erasure", again, err)
	}
	if sum, _ := s.Summary(ctx); sum.TransactionsTotal != before.TransactionsTotal+1 || sum.CustomersTotal != before.CustomersTotal {
		t.Fatalf("summary after the late record = %+v", sum)
	}
	if _, err := ps.EraseCustomer(ctx, "", "test"); err == nil {
		t.Fatal("an empty id was erased")
	}
}

// testEraseEntities: erasing a customer deletes their entity-stage rows
// (which hold their device and card) and names the pseudonym in the
// rings they joined, leaving other customers' rows as they were.
func testEraseEntities(t *testing.T, s store.Store) {
	ctx := context.Background()
	es, ok := s.(store.Entities)
	if !ok {
		t.Skipf("%T keeps no entity state", s)
	}
	ev := func(tx, customer string) store.EntityEvent {
		return store.EntityEvent{Entity: "device:d-shared", TransactionID: tx, CustomerID: customer, Card: "411111:1111",
			EventTime: base, Customers: 2, Transactions: 2, Cards: 1}
	}
	ring := store.EntityRing{Key: "device:d-shared", Members: []string{"carol", "carol2", "dave"}, Entities: []string{"device:d-shared"},
		Reason: "ring of 3 accounts sharing device:d-shared: carol, carol2, dave", TransactionID: "t2",
		ProducedAt: base, FirstEventTime: base, LastEventTime: base, DetectedAt: base, UpdatedAt: base}
	b := &store.EntityBatch{Group: "entities", Topic: "transactions.entities", Parts: []store.EntityPart{{
		Partition: 0, From: 0, To: 3, Events: []store.EntityEvent{ev("t1", "carol"), ev("t2", "dave"), ev("t3", "carol2")},
		Rings: []store.EntityRing{ring}}}}
	if err := es.WriteEntityBatch(ctx, b); err != nil {
		t.Fatal(err)
	}
	e, err := s.(store.Privacy).EraseCustomer(ctx, "carol", "test")
	if err != nil {
		t.Fatal(err)
	}
	if e.Rows["entity_events"] != 1 || e.Rows["entity_rings"] != 1 {
		t.Errorf("erasure rows = %v; want 1 entity event and 1 ring", e.Rows)
	}
	var left []string
	err = es.EntityEvents(ctx, 0, time.Time{}, func(x *store.EntityEvent) error {
		left = append(left, x.CustomerID)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(left, ",") != "dave,carol2" && strings.Join(left, ",") != "carol2,dave" {
		t.Errorf("entity events left = %v; want dave's and carol2's only", left)
	}
	rings, err := es.EntityRings(ctx, store.RingFilter{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{e.Pseudonym, "carol2", "dave"}
	if len(rings) != 1 || strings.Join(rings[0].Members, ",") != strings.Join(want, ",") {
		t.Fatalf("rings = %+v; want members %v", rings, want)
	}
	if r, w := rings[0].Reason, "ring of 3 accounts sharing device:d-shared: "+e.Pseudonym+", carol2, dave"; r != w {
		t.Errorf("ring reason %q; want %q", r, w)
	}
}
