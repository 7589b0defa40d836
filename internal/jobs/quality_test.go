package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/shopstream/shopstream/internal/event"
	"github.com/shopstream/shopstream/internal/quality"
	"github.com/shopstream/shopstream/internal/quality/monitor"
	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/sqlite"
	"github.com/shopstream/shopstream/internal/store/storetest"
)

var qbase = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

type qualityStore interface {
	store.Store
	store.Quality
	Leader
}

func openQualityStore(t *testing.T) qualityStore {
	t.Helper()
	s, err := sqlite.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// writeMinutes stores n transactions in each of the given minutes after
// qbase (event time and check time alike), with failed[i] of them
// quarantined as unknown_country.
func writeMinutes(t *testing.T, s store.Store, pos *int64, minutes []int, n int, failed func(i int) int) {
	t.Helper()
	for _, i := range minutes {
		at := qbase.Add(time.Duration(i) * time.Minute)
		p := store.Part{Partition: 0, From: *pos, CheckedAt: at.Add(time.Second)}
		for k := range n {
			p.Txs = append(p.Txs, storetest.Tx(fmt.Sprintf("t%d", *pos), "c1", at.Add(time.Duration(k)*time.Second), 100, 0, *pos))
			*pos++
		}
		for range failed(i) {
			p.Quarantined = append(p.Quarantined, store.Quarantined{Reason: string(quality.UnknownCountry), Raw: []byte("x"), Offset: *pos})
			*pos++
		}
		p.To = *pos
		if err := s.WriteBatch(context.Background(), &store.Batch{Group: "g", Topic: "transactions", Parts: []store.Part{p}}); err != nil {
			t.Fatal(err)
		}
	}
}

func outbox(t *testing.T, s store.Store) []QualityAlert {
	t.Helper()
	var out []QualityAlert
	_, _, err := s.DeliverOutbox(context.Background(), 100, func(m *store.OutboxMsg) error {
		var a QualityAlert
		if err := json.Unmarshal(m.Payload, &a); err != nil {
			return err
		}
		if string(m.Key) != "quality/"+a.Detector+"/"+a.Subject || string(m.Headers) != string(alertHeaders) || m.Target != "alerts" {
			t.Errorf("alert message %q %q %q", m.Key, m.Headers, m.Target)
		}
		out = append(out, a)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestQualityWatchStream: the leader's detectors read the stored counts:
// quiet on a steady hour, a volume alert when the stream stops, a
// failure-rise alert when a check starts failing, each alerted once per
// episode and stored every run.
func TestQualityWatchStream(t *testing.T) {
	t.Parallel()
	s := openQualityStore(t)
	var now time.Time
	reg := prometheus.NewRegistry()
	w, err := NewQualityWatch(QualityWatchConfig{Store: s, Leader: s, Now: func() time.Time { return now }, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var pos int64
	steady := make([]int, 70)
	for i := range steady {
		steady[i] = i
	}
	writeMinutes(t, s, &pos, steady, 120, func(i int) int { return i % 2 }) // 0.4% failing
	now = qbase.Add(71*time.Minute + 10*time.Second)                        // judges minute 69
	if err := w.Global(ctx); err != nil {
		t.Fatal(err)
	}
	if a := outbox(t, s); len(a) != 0 {
		t.Fatalf("alerts on a steady stream: %+v", a)
	}
	if z := testutil.ToFloat64(w.volumeZ); z > 3 || z < -3 {
		t.Errorf("volume z %v on a steady stream", z)
	}

	// The stream stops: minute 72 has no transactions.
	now = qbase.Add(74*time.Minute + 10*time.Second)
	if err := w.Global(ctx); err != nil {
		t.Fatal(err)
	}
	a := outbox(t, s)
	if len(a) != 1 || a[0].Detector != monitor.DetectVolume || a[0].Severity != string(monitor.Critical) || a[0].Value > -10 || a[0].Source != "leader" {
		t.Fatalf("alerts %+v, want one critical volume alert", a)
	}
	if err := w.Global(ctx); err != nil { // the episode lasts: stored, not alerted again
		t.Fatal(err)
	}
	if a := outbox(t, s); len(a) != 0 {
		t.Fatalf("alerted again: %+v", a)
	}
	fs, err := s.QualityFindings(ctx, qbase, now.Add(time.Minute), 0)
	if err != nil || len(fs) != 2 {
		t.Fatalf("stored findings %+v %v, want the volume finding of both runs", fs, err)
	}
	if n := testutil.ToFloat64(w.active.WithLabelValues(monitor.DetectVolume, string(monitor.Critical))); n != 1 {
		t.Errorf("findings gauge %v", n)
	}

	// The stream resumes with unknown_country failing a third of the records.
	writeMinutes(t, s, &pos, []int{70, 71, 72, 73, 74, 75}, 120, func(i int) int { return 10 })
	now = qbase.Add(76*time.Minute + 10*time.Second)
	if err := w.Global(ctx); err != nil {
		t.Fatal(err)
	}
	a = outbox(t, s)
	// The whole stream's failure rate rose with it.
	if len(a) != 2 || a[0].Subject != monitor.All || a[1].Subject != string(quality.UnknownCountry) ||
		a[1].Detector != monitor.DetectFailureRise || a[1].Severity != string(monitor.Critical) {
		t.Fatalf("alerts %+v, want a critical failure rise of all and of unknown_country", a)
	}
}

// TestQualityWatchLocal: the processor's detectors run on its monitor,
// and its counts and score are exported.
func TestQualityWatchLocal(t *testing.T) {
	t.Parallel()
	s := openQualityStore(t)
	var now time.Time
	reg := prometheus.NewRegistry()
	mon := monitor.New(monitor.Config{})
	w, err := NewQualityWatch(QualityWatchConfig{Store: s, Monitor: mon, Source: "p1", Now: func() time.Time { return now }, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	if jobs := w.Jobs(time.Minute); len(jobs) != 2 {
		t.Fatalf("%d jobs, want the local and the stream's", len(jobs))
	}
	now = qbase
	sk := mon.Begin(now)
	tx := event.Transaction{EventTime: now.Add(-20 * time.Minute), TotalCents: 1000, Items: make([]event.Item, 2), Channel: "web"}
	for range 9 {
		sk.Observe(quality.OK, nil, &tx, now.Add(-time.Second))
	}
	sk.Observe(quality.MalformedJSON, nil, nil, now)
	sk.Done()
	if err := w.Local(context.Background()); err != nil {
		t.Fatal(err)
	}
	a := outbox(t, s)
	if len(a) != 1 || a[0].Subject != "event_time_lag" || a[0].Severity != string(monitor.Warning) || a[0].Source != "p1" {
		t.Fatalf("alerts %+v, want the event-time lag warning", a)
	}
	if lag := testutil.ToFloat64(w.eventLag); lag < 1000 || lag > 1500 {
		t.Errorf("event lag gauge %v, want about 1200 s", lag)
	}
	if n, err := testutil.GatherAndCount(reg, "shopstream_quality_records_total"); err != nil || n != 4*(len(monitor.Checks)+1) {
		t.Errorf("%d record counters (%v), want 4 outcomes per check and all", n, err)
	}
	if v := counterValue(t, reg, "shopstream_quality_records_total", map[string]string{"check": "all", "outcome": "failed"}); v != 1 {
		t.Errorf("failed records %v, want 1", v)
	}
	if v := gaugeValue(t, reg, "shopstream_quality_score", map[string]string{"check": "all"}); v != 0.9 {
		t.Errorf("score %v, want 0.9", v)
	}
}

// TestQualityWatchStoresDriftTrend: each run of the local detectors stores
// every field's PSI with the records either side (the drift trend of GET
// /api/v1/quality/drift), whether or not it is a finding; the stored PSI
// is the one the gauge shows.
func TestQualityWatchStoresDriftTrend(t *testing.T) {
	t.Parallel()
	s := openQualityStore(t)
	var now time.Time
	mon := monitor.New(monitor.Config{})
	w, err := NewQualityWatch(QualityWatchConfig{Store: s, Monitor: mon, Source: "p1", Now: func() time.Time { return now }, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	observe := func(at time.Time, cents event.Cents, channel string, n int) {
		sk := mon.Begin(at)
		tx := event.Transaction{EventTime: at.Add(-time.Second), TotalCents: cents, Items: make([]event.Item, 1), Channel: channel}
		for range n {
			sk.Observe(quality.OK, nil, &tx, at)
		}
		sk.Done()
	}
	// The reference: small web orders for an hour; then the last 15
	// minutes: large app orders.
	for m := 74; m >= 15; m-- {
		observe(qbase.Add(-time.Duration(m)*time.Minute), 1000, "web", 40)
	}
	for m := 14; m >= 0; m-- {
		observe(qbase.Add(-time.Duration(m)*time.Minute), 90000, "app", 80)
	}
	now = qbase
	if err := w.Local(context.Background()); err != nil {
		t.Fatal(err)
	}
	now = qbase.Add(time.Minute)
	if err := w.Local(context.Background()); err != nil {
		t.Fatal(err)
	}
	got, err := s.(store.QualityDrift).DriftSamples(context.Background(), qbase.Add(-time.Hour), qbase.Add(time.Hour), "", 100)
	if err != nil {
		t.Fatal(err)
	}
	byField := map[string][]store.DriftSample{}
	for _, d := range got {
		byField[d.Field] = append(byField[d.Field], d)
		if d.Source != "p1" || d.Ref <= 0 || d.Cur <= 0 {
			t.Errorf("sample %+v", d)
		}
	}
	for _, f := range []string{monitor.FieldAmount, monitor.FieldChannel} {
		ds := byField[f]
		if len(ds) != 2 || !ds[0].At.Equal(qbase) || !ds[1].At.Equal(qbase.Add(time.Minute)) {
			t.Fatalf("%s: samples %+v, want one at each run", f, ds)
		}
		if ds[0].PSI < 1 {
			t.Errorf("%s: PSI %v, want the drift seen (above 1)", f, ds[0].PSI)
		}
		if g := gaugeValue(t, w.cfg.Registerer.(*prometheus.Registry), "shopstream_quality_drift_psi", map[string]string{"field": f}); g != ds[1].PSI {
			t.Errorf("%s: the gauge %v, the stored PSI %v", f, g, ds[1].PSI)
		}
		if ds[0].Cur != 15*80 || ds[0].Ref != 60*40 {
			t.Errorf("%s: records %d against %d, want 1200 against 2400", f, ds[0].Cur, ds[0].Ref)
		}
	}
}
