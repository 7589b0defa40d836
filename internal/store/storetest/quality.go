package storetest

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/store"
)

func qualityOf(t *testing.T, s store.Store) store.Quality {
	t.Helper()
	q, ok := s.(store.Quality)
	if !ok {
		t.Fatalf("%T does not implement store.Quality", s)
	}
	return q
}

// testQualityMinutes: every batch adds its records' outcomes to the minute
// they were checked in, per check; two batches of one minute add up, and
// records the store refuses as duplicates count only as quarantined.
func testQualityMinutes(t *testing.T, s store.Store) {
	ctx := context.Background()
	q := qualityOf(t, s)
	m0, m1 := base, base.Add(time.Minute)
	p0 := part(0, 0, Tx("a", "c1", base, 100, 0, 0), Tx("b", "c1", base, 100, 0, 1))
	p0.Txs[1].QualityWarnings = []string{"future_timestamp"} // a warning of a check in monitor.Checks
	p0.Quarantined = []store.Quarantined{{Reason: "unknown_country", Raw: []byte("x"), Partition: 0, Offset: 2}}
	p0.To, p0.CheckedAt = 3, m0.Add(10*time.Second)
	p1 := part(1, 0, Tx("c", "c2", base, 100, 1, 0))
	p1.CheckedAt = m1.Add(59 * time.Second)
	write(t, s, p0, p1)
	p2 := part(0, 3, Tx("d", "c3", base, 100, 0, 3))
	// Two reasons that are one once made storable add up.
	p2.Quarantined = []store.Quarantined{{Reason: "malformed_json", Raw: []byte("{"), Partition: 0, Offset: 4},
		{Reason: "odd\x00", Raw: []byte("?"), Partition: 0, Offset: 5}, {Reason: "odd\uFFFD", Raw: []byte("?"), Partition: 0, Offset: 6}}
	p2.To, p2.CheckedAt = 7, m0.Add(50*time.Second)
	write(t, s, p2)

	rows, err := q.QualityMinutes(ctx, m0, m1.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	got := map[time.Time]map[string]store.QualityMinute{}
	for _, r := range rows {
		if got[r.Minute] == nil {
			got[r.Minute] = map[string]store.QualityMinute{}
		}
		got[r.Minute][r.Check] = r
	}
	want := []store.QualityMinute{
		{Minute: m0, Check: "all", Checked: 7, Passed: 3, Warned: 1, Failed: 4},
		{Minute: m0, Check: "odd\uFFFD", Checked: 3, Passed: 1, Failed: 2}, // only in the second batch: not in monitor.Checks
		{Minute: m0, Check: "unknown_country", Checked: 4, Passed: 3, Failed: 1},
		{Minute: m0, Check: "malformed_json", Checked: 4, Passed: 3, Failed: 1},
		{Minute: m0, Check: "invalid_card", Checked: 3, Passed: 3},
		{Minute: m0, Check: "future_timestamp", Checked: 3, Passed: 3, Warned: 1},
		{Minute: m1, Check: "all", Checked: 1, Passed: 1},
		{Minute: m1, Check: "duplicate_id", Checked: 1, Passed: 1},
	}
	for _, w := range want {
		if g := got[w.Minute][w.Check]; g != w {
			t.Errorf("%s %s: got %+v, want %+v", w.Minute.Format("15:04"), w.Check, g, w)
		}
	}
	if g := got[m1]["future_timestamp"]; g.Warned != 0 || g.Checked != 1 {
		t.Errorf("future_timestamp in the second minute: %+v", g)
	}
	// The range is half open.
	rows, err = q.QualityMinutes(ctx, m1, m1.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if !r.Minute.Equal(m1) {
			t.Fatalf("row of %v read for [%v, %v)", r.Minute, m1, m1.Add(time.Minute))
		}
	}
}

// testTxPerMinute: the stored transactions per event-time minute, over
// every channel, payment method and currency.
func testTxPerMinute(t *testing.T, s store.Store) {
	ctx := context.Background()
	q := qualityOf(t, s)
	a, b, c := Tx("a", "c1", base, 100, 0, 0), Tx("b", "c1", base.Add(30*time.Second), 100, 0, 1), Tx("c", "c2", base.Add(61*time.Second), 100, 0, 2)
	b.Channel, b.Currency = "app", "USD"
	write(t, s, part(0, 0, a, b, c))
	got, err := q.TxPerMinute(ctx, base, base.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	want := []store.MinuteCount{{Minute: base, Count: 2}, {Minute: base.Add(time.Minute), Count: 1}}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("per minute %+v, want %+v", got, want)
	}
	if got, _ := q.TxPerMinute(ctx, base.Add(time.Minute), base.Add(time.Hour)); len(got) != 1 {
		t.Fatalf("from the second minute: %+v", got)
	}
}

// testQualityFindings: findings are stored with their alerts in the
// outbox, read back newest first within a range.
func testQualityFindings(t *testing.T, s store.Store) {
	ctx := context.Background()
	q := qualityOf(t, s)
	if fs, err := q.QualityFindings(ctx, base, base.Add(time.Hour), 0); err != nil || len(fs) != 0 {
		t.Fatalf("findings of an empty store: %v %v", fs, err)
	}
	f1 := store.QualityFinding{DetectedAt: base, Detector: "drift", Subject: "amount", Severity: "warning", Value: 0.12, Threshold: 0.1, Message: "m1", Source: "p1"}
	f2 := store.QualityFinding{DetectedAt: base.Add(time.Minute), Detector: "volume", Subject: "transactions_per_minute", Severity: "critical",
		Value: -12.5, Threshold: 10, Message: "m2", Source: "leader"}
	payload, _ := json.Marshal(map[string]string{"alert": "quality"})
	alert := store.OutboxMsg{Kind: "kafka", Target: "alerts", Key: []byte("quality"), Headers: []byte(`{"shopstream-alert":"quality"}`), Payload: payload}
	if err := q.AddQualityFindings(ctx, []store.QualityFinding{f1, f2}, []store.OutboxMsg{alert}); err != nil {
		t.Fatal(err)
	}
	fs, err := q.QualityFindings(ctx, base, base.Add(time.Hour), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 2 {
		t.Fatalf("%d findings, want 2", len(fs))
	}
	f1.ID, f2.ID = fs[1].ID, fs[0].ID
	if fs[0] != f2 || fs[1] != f1 || f1.ID == 0 {
		t.Errorf("findings %+v, want newest first %+v %+v", fs, f2, f1)
	}
	if fs, _ := q.QualityFindings(ctx, base, base.Add(time.Hour), 1); len(fs) != 1 || fs[0].Detector != "volume" {
		t.Errorf("limit 1: %+v", fs)
	}
	if fs, _ := q.QualityFindings(ctx, base.Add(time.Minute), base.Add(time.Hour), 0); len(fs) != 1 {
		t.Errorf("from the second minute: %+v", fs)
	}
	var sent []store.OutboxMsg
	if _, _, err := s.DeliverOutbox(ctx, 10, func(m *store.OutboxMsg) error { sent = append(sent, *m); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(sent) != 1 || string(sent[0].Key) != "quality" || string(sent[0].Payload) != string(payload) || string(sent[0].Headers) != string(alert.Headers) {
		t.Errorf("outbox %+v, want the quality alert", sent)
	}
}

// testDriftSamples: drift samples come back by range and field, oldest
// first; the same sample stored again is kept once.
func testDriftSamples(t *testing.T, s store.Store) {
	ctx := context.Background()
	qd := s.(store.QualityDrift)
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var all []store.DriftSample
	for i := range 3 {
		for _, f := range []string{"amount", "channel"} {
			all = append(all, store.DriftSample{At: at.Add(time.Duration(i) * time.Minute), Source: "p1", Field: f, PSI: float64(i) / 10, Ref: 1000 + int64(i), Cur: 200})
		}
	}
	if err := qd.AddDriftSamples(ctx, all); err != nil {
		t.Fatal(err)
	}
	if err := qd.AddDriftSamples(ctx, all[:2]); err != nil {
		t.Fatalf("the same samples again: %v", err)
	}
	got, err := qd.DriftSamples(ctx, at, at.Add(time.Hour), "", 100)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, all) {
		t.Errorf("every sample: %+v, want %+v", got, all)
	}
	got, err = qd.DriftSamples(ctx, at.Add(time.Minute), at.Add(2*time.Minute), "channel", 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != all[3] {
		t.Errorf("channel in the second minute: %+v, want %+v", got, all[3])
	}
	if got, err = qd.DriftSamples(ctx, at, at.Add(time.Hour), "", 2); err != nil || len(got) != 2 {
		t.Errorf("limit 2: %d samples (%v)", len(got), err)
	}
}
