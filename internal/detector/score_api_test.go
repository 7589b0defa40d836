package detector_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/detector"
	"github.com/shopstream/shopstream/internal/event"
	"github.com/shopstream/shopstream/internal/fraud"
	"github.com/shopstream/shopstream/internal/pipeline"
	"github.com/shopstream/shopstream/internal/store"
)

func order(id, cust string, at time.Time, cents int64, device, card, ship string) event.Transaction {
	return event.Transaction{SchemaVersion: event.SchemaVersion, TransactionID: id, CustomerID: cust, EventTime: at,
		Items:      []event.Item{{ProductID: "P1", Category: "books", Quantity: 1, UnitPriceCents: event.Cents(cents)}},
		TotalCents: event.Cents(cents), Currency: "USD", PaymentMethod: "card", Card: event.Card{BIN: "411111", Last4: card},
		DeviceID: device, IPAddress: "81.2.69.160", BillingCountry: "US", ShippingCountry: ship, Channel: "web"}
}

// history stores ts as partition 0 from offset 0, scoring each with a
// partition scorer as the pipeline does, and returns that scorer.
func history(t *testing.T, st store.Store, det *detector.Detector, ts []event.Transaction) pipeline.Scorer {
	t.Helper()
	ps := det.NewPartitionScorer(0)
	part := store.Part{Partition: 0, To: int64(len(ts))}
	for i := range ts {
		row := pipeline.NewTx(&ts[i], 0, int64(i), ts[i].EventTime, nil)
		ps.Score(&ts[i], &row)
		part.Txs = append(part.Txs, row)
	}
	if err := st.WriteBatch(context.Background(), &store.Batch{Group: "g", Topic: "t", Parts: []store.Part{part}}); err != nil {
		t.Fatal(err)
	}
	return ps
}

// TestScoreOneMatchesPipeline: for a partition holding one customer, the
// synchronous score equals the pipeline's, model and reasons included.
func TestScoreOneMatchesPipeline(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := openSQLite(t)
	det := newDetector(t)
	var fm fraud.ForestModel
	if err := fm.UnmarshalBinary(tinyModel(t, 9)); err != nil {
		t.Fatal(err)
	}
	if err := det.SetModels(&detector.Model{Version: 4, Model: &fm}, &detector.Model{Version: 5, Model: &fm}); err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	var ts []event.Transaction
	for i := range 30 {
		dev, card := "dev-a", "1111"
		if i%4 == 3 {
			dev = "dev-b"
		}
		ts = append(ts, order(fmt.Sprintf("m%02d", i), "alice", start.Add(time.Duration(i)*9*time.Hour), int64(2000+i*137), dev, card, "US"))
	}
	ps := history(t, st, det, ts)
	// A takeover-like order: new device, new card, new destination, big
	// amount, a minute after the last one.
	next := order("m-next", "alice", ts[len(ts)-1].EventTime.Add(time.Minute), 149900, "dev-x", "9999", "GB")
	row := pipeline.NewTx(&next, 0, int64(len(ts)), next.EventTime, nil)
	ps.Score(&next, &row)

	v, err := det.ScoreOne(ctx, st, &next)
	if err != nil {
		t.Fatal(err)
	}
	if v.Risk != row.Risk || v.Decision != row.Decision || string(v.Reasons) != string(row.ReasonsJSON) {
		t.Fatalf("ScoreOne = %v %s %s; the pipeline scored %v %s %s", v.Risk, v.Decision, v.Reasons, row.Risk, row.Decision, row.ReasonsJSON)
	}
	if v.History != len(ts) || v.ModelVersion == nil || *v.ModelVersion != 4 || v.ShadowVersion == nil || *v.ShadowVersion != 5 ||
		v.ShadowRisk == nil || *v.ShadowRisk != row.ShadowRisk {
		t.Fatalf("verdict = %+v", v)
	}
	if !strings.Contains(string(v.Reasons), "new_device_new_destination") {
		t.Errorf("reasons %s lack the new device and destination", v.Reasons)
	}
	t.Logf("risk %.4f %s %s", v.Risk, v.Decision, v.Reasons)
}

func TestScoreOneReadsHistory(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := openSQLite(t)
	det := newDetector(t)
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	var ts []event.Transaction
	// dave: 100 orders a day apart, long ago; bob: three in the last seven
	// minutes.
	for i := range 100 {
		ts = append(ts, order(fmt.Sprintf("d%03d", i), "dave", now.Add(-time.Duration(200-i)*24*time.Hour), 5000, "dev-d", "4444", "US"))
	}
	ts = append(ts, order("b0", "bob", now.Add(-6*time.Minute), 900, "dev-b", "2222", "US"),
		order("b1", "bob", now.Add(-4*time.Minute), 900, "dev-b", "2222", "US"),
		order("b2", "bob", now.Add(-2*time.Minute), 900, "dev-b", "2222", "US"))
	history(t, st, det, ts)

	third := order("b3", "bob", now, 900, "dev-b", "2222", "US")
	v, err := det.ScoreOne(ctx, st, &third)
	if err != nil {
		t.Fatal(err)
	}
	if v.History != 3 || v.Decision != "decline" || !strings.Contains(string(v.Reasons), "order_velocity") || v.ModelVersion != nil {
		t.Fatalf("fourth order in six minutes: %+v %s", v, v.Reasons)
	}
	// The same order from a customer with no history is ordinary.
	fresh := order("c1", "carol", now, 900, "dev-c", "3333", "US")
	if v, err := det.ScoreOne(ctx, st, &fresh); err != nil || v.History != 0 || v.Decision != "approve" {
		t.Fatalf("first order of a new customer: %+v, %v", v, err)
	}
	// Scoring a stored transaction again leaves it out of its history.
	again := ts[len(ts)-1]
	if v, err := det.ScoreOne(ctx, st, &again); err != nil || v.History != 2 {
		t.Fatalf("re-scoring b2: %+v, %v", v, err)
	}
	// A long history: the first purchase and the newest HistoryLimit.
	d := order("d-next", "dave", now, 5000, "dev-d", "4444", "US")
	if v, err := det.ScoreOne(ctx, st, &d); err != nil || v.History != detector.HistoryLimit+1 || v.Decision != "approve" {
		t.Fatalf("a regular customer: %+v %s, %v", v, v.Reasons, err)
	}
}
