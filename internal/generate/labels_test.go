package generate

import (
	"context"
	"io"
	"math"
	"sort"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/event"
)

// recordingLabels keeps the labels written, with the latest record event
// time seen when each was written.
type recordingLabels struct {
	labels []event.Label
	at     []time.Time
	src    *labelledSink
}

func (r *recordingLabels) WriteLabel(_ context.Context, l *event.Label, value []byte) error {
	var back event.Label
	if err := event.DecodeLabel(value, &back); err != nil {
		return err
	}
	r.labels = append(r.labels, back)
	r.at = append(r.at, r.src.latest)
	return nil
}

func (r *recordingLabels) Flush(context.Context) error { return nil }

// TestLabelSchedule generates 400 days of a shop with its labels and
// checks the labels' shares, delays and order against the configuration.
func TestLabelSchedule(t *testing.T) {
	g, err := New(Config{Seed: 11, Customers: 20_000, FraudRate: 0.02})
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewLabelSchedule(LabelConfig{Seed: 11})
	if err != nil {
		t.Fatal(err)
	}
	rec := &recordingLabels{}
	sink := WithLabels(NewFileSink(io.Discard, nil), rec, s).(*labelledSink)
	rec.src = sink
	var fraud, honest int
	txTime := map[string]time.Time{}
	isFraud := map[string]bool{}
	count := &countingSink{next: sink, fn: func(r Record) {
		if r.Bad != "" {
			return
		}
		txTime[r.TransactionID] = r.EventTime
		isFraud[r.TransactionID] = r.Fraud
		if r.Fraud {
			fraud++
		} else {
			honest++
		}
	}}
	if err := Run(context.Background(), g, count, RunConfig{Count: 300_000}); err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	var delays []float64
	for i, l := range rec.labels {
		if l.EventTime.After(rec.at[i]) {
			t.Fatalf("label %s of %v written when the stream was at %v: before it was due", l.LabelID, l.EventTime, rec.at[i])
		}
		if i > 0 && l.EventTime.Before(rec.labels[i-1].EventTime) {
			t.Fatalf("label %s written out of event-time order", l.LabelID)
		}
		tt, ok := txTime[l.TransactionID]
		if !ok || !l.TransactionTime.Equal(tt.UTC()) {
			t.Fatalf("label %s of an unknown transaction or with the wrong time", l.LabelID)
		}
		switch {
		case l.Kind == event.LabelChargeback && isFraud[l.TransactionID]:
			kinds["fraud_chargeback"]++
			delays = append(delays, l.EventTime.Sub(tt).Hours()/24)
		case l.Kind == event.LabelChargeback:
			kinds["friendly"]++
			if l.Scenario != FriendlyFraud {
				t.Fatalf("a chargeback of an honest order with scenario %q", l.Scenario)
			}
		default:
			kinds[l.Kind]++
		}
	}
	// The labels still pending at the end are the last 120 days' at most.
	total := len(rec.labels) + s.Pending()
	share := func(n, of int) float64 { return float64(n) / float64(of) }
	t.Logf("%d fraud, %d honest orders; %d labels written, %d pending; %v", fraud, honest, len(rec.labels), s.Pending(), kinds)
	if total == 0 || fraud < 2000 {
		t.Fatalf("too few to test: %d fraud orders, %d labels", fraud, total)
	}
	// Shares over written and pending labels: binomial bounds of 4 sigma.
	check := func(what string, got, n int, p float64) {
		t.Helper()
		sd := math.Sqrt(p * (1 - p) * float64(n))
		if math.Abs(float64(got)-p*float64(n)) > 4*sd+1 {
			t.Errorf("%s: %d of %d, want about %.0f (share %v)", what, got, n, p*float64(n), p)
		}
	}
	written := len(rec.labels)
	if written < total/2 {
		t.Fatalf("only %d of %d labels came due", written, total)
	}
	// Delays: clamped to [3, 120] days, about 90% within 8..52, median about 21.
	sort.Float64s(delays)
	if len(delays) < 500 {
		t.Fatalf("%d fraud chargebacks written", len(delays))
	}
	if delays[0] < 3 || delays[len(delays)-1] > 120 {
		t.Fatalf("chargeback delays from %.1f to %.1f days, want within [3, 120]", delays[0], delays[len(delays)-1])
	}
	in := 0
	for _, d := range delays {
		if d >= 5 && d <= 60 {
			in++
		}
	}
	if share(in, len(delays)) < 0.9 {
		t.Errorf("%.2f of chargebacks 5 to 60 days after their order, want most (over 0.9)", share(in, len(delays)))
	}
	// Orders in the last 120 days may still await their label, so the
	// shares are checked on orders older than that.
	var oldFraud, oldHonest, oldCB, oldAnalyst, oldFriendly int
	end := time.Time{}
	for _, tt := range txTime {
		if tt.After(end) {
			end = tt
		}
	}
	cut := end.Add(-125 * 24 * time.Hour)
	labelled := map[string]string{}
	for _, l := range rec.labels {
		if l.Kind != event.LabelDispute {
			labelled[l.TransactionID] = l.Kind
		}
	}
	for id, tt := range txTime {
		if tt.After(cut) {
			continue
		}
		if isFraud[id] {
			oldFraud++
			switch labelled[id] {
			case event.LabelChargeback:
				oldCB++
			case event.LabelAnalyst:
				oldAnalyst++
			}
		} else {
			oldHonest++
			if labelled[id] == event.LabelChargeback {
				oldFriendly++
			}
		}
	}
	check("fraud charged back", oldCB, oldFraud, 0.85)
	check("fraud found by analysts", oldAnalyst, oldFraud, 0.10)
	check("honest orders charged back", oldFriendly, oldHonest, 0.001)
	check("friendly chargebacks disputed and won", kinds[event.LabelDispute], kinds["friendly"], 0.45)
}

// countingSink calls fn for each record before passing it on.
type countingSink struct {
	next Sink
	fn   func(Record)
}

func (c *countingSink) Write(ctx context.Context, r Record) error {
	c.fn(r)
	return c.next.Write(ctx, r)
}

func (c *countingSink) Flush(ctx context.Context) error { return c.next.Flush(ctx) }
