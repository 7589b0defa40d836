package privacy_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/detector"
	"github.com/shopstream/shopstream/internal/event"
	"github.com/shopstream/shopstream/internal/fraud"
	"github.com/shopstream/shopstream/internal/pipeline"
	"github.com/shopstream/shopstream/internal/privacy"
	"github.com/shopstream/shopstream/internal/shopgeo"
	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/sqlite"
)

// POST /api/v1/score (detector.ScoreOne) hashes the posted address as the
// stream does, so it scores against the stored (hashed) history as the
// processor would: a rule on the IP's purchases fires on both paths and
// the verdicts are equal.
func TestScoreOneHashesLikeTheStream(t *testing.T) {
	ctx := context.Background()
	geo := shopgeo.Lookups(fraud.StateConfig{})
	f, err := privacy.New(privacy.Config{IPKey: key, CountryOfIP: geo.CountryOfIP, IsHostingIP: geo.IsHostingIP, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	rules := filepath.Join(t.TempDir(), "rules.json")
	if err := os.WriteFile(rules, []byte(`[{"name": "busy_ip", "when": "ip_count_1h >= 4", "weight": 0.5, "reason": "a busy address"}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	newDet := func(h detector.IPHasher) *detector.Detector {
		d, err := detector.New(detector.Config{RulesFile: rules, State: geo, Logger: quiet, IPHasher: h})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	mk := func(id string, at time.Time) event.Transaction {
		return event.Transaction{SchemaVersion: 1, TransactionID: id, CustomerID: "c1", EventTime: at,
			Items: []event.Item{{ProductID: "P1", Category: "books", Quantity: 1, UnitPriceCents: 1000}}, TotalCents: 1000,
			Currency: "EUR", PaymentMethod: "card", Card: event.Card{BIN: "411111", Last4: "0001"}, DeviceID: "D1",
			IPAddress: "10.1.2.3", BillingCountry: "DE", ShippingCountry: "DE", Channel: "web"}
	}
	// The stream: five orders of the hour, hashed by the privacy step,
	// scored by a partition and stored.
	streamDet := newDet(f)
	ps := streamDet.NewPartitionScorer(0)
	v := f.View()
	part := store.Part{Partition: 0, To: 6}
	for i := range 5 {
		tx := mk(fmt.Sprintf("p%d", i), now.Add(-time.Duration(50-10*i)*time.Minute))
		v.Transaction(&tx, nil)
		if !event.IsHashedIP(tx.IPAddress) {
			t.Fatalf("the stream stored %q", tx.IPAddress)
		}
		row := pipeline.NewTx(&tx, 0, int64(i), tx.EventTime, nil)
		ps.Score(&tx, &row)
		part.Txs = append(part.Txs, row)
	}
	if err := st.WriteBatch(ctx, &store.Batch{Group: "g", Topic: "t", Parts: []store.Part{part}}); err != nil {
		t.Fatal(err)
	}
	// The sixth order as the stream scores it.
	streamed := mk("p5", now)
	v.Transaction(&streamed, nil)
	want := pipeline.NewTx(&streamed, 0, 5, now, nil)
	ps.Score(&streamed, &want)
	if !strings.Contains(string(want.ReasonsJSON), "busy_ip") {
		t.Fatalf("the stream's reasons %s lack busy_ip: the test does not exercise the IP counts", want.ReasonsJSON)
	}

	// The same order posted to the API, its address raw.
	posted := mk("p5", now)
	got, err := streamDet.ScoreOne(ctx, st, &posted)
	if err != nil {
		t.Fatal(err)
	}
	if got.History != 5 || got.Risk != want.Risk || got.Decision != want.Decision || string(got.Reasons) != string(want.ReasonsJSON) {
		t.Fatalf("the API scored %v %s %s (history %d); the stream %v %s %s", got.Risk, got.Decision, got.Reasons, got.History,
			want.Risk, want.Decision, want.ReasonsJSON)
	}
	if posted.IPAddress != "10.1.2.3" || posted.IPCountry != "" {
		t.Fatalf("ScoreOne changed the caller's transaction: IP %q, country %q", posted.IPAddress, posted.IPCountry)
	}
	// Without the hasher the raw address matches none of the stored
	// hashes: the IP counts start again and the verdict differs.
	raw, err := newDet(nil).ScoreOne(ctx, st, &posted)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw.Reasons), "busy_ip") {
		t.Fatalf("the raw address was counted against the hashed history: %s", raw.Reasons)
	}
}
