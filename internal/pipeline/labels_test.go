package pipeline_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/internal/bus"
	"github.com/shopstream/shopstream/internal/event"
	"github.com/shopstream/shopstream/internal/pipeline"
	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/storetest"
)

// labelIDs are transaction ids produce(t, brokers, n, 0) stores, every
// tenth of the first n.
func labelIDs(n int) []string {
	var ids []string
	for i := 0; i < n; i += 10 {
		if i%50 != 49 && i%97 != 96 {
			ids = append(ids, fmt.Sprintf("T%08d", i))
		}
	}
	return ids
}

// produceLabels writes a chargeback for each id to the labels topic,
// keyed by transaction id, each twice (a duplicate), then the raw records.
func produceLabels(t *testing.T, brokers []string, ids []string, raw ...[]byte) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(bus.TopicLabels))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	at := time.Now().UTC().Add(30 * 24 * time.Hour)
	for _, id := range ids {
		l := event.Label{SchemaVersion: event.LabelSchemaVersion, LabelID: "cb-" + id, TransactionID: id, Kind: event.LabelChargeback,
			Fraud: true, Scenario: "stolen_card", ReasonCode: "10.4", EventTime: at}
		b, err := event.MarshalLabel(&l)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, &kgo.Record{Key: []byte(id), Value: b}, &kgo.Record{Key: []byte(id), Value: b})
	}
	for _, r := range raw {
		recs = append(recs, &kgo.Record{Key: []byte("x"), Value: r})
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

func startLabels(t *testing.T, brokers []string, st store.Store, reg prometheus.Registerer) func() {
	t.Helper()
	return startLabelsFull(t, brokers, st, reg, 0, 0)
}

// startLabelsFull starts a labels consumer whose full sweeps come every
// full and whose sweeps wait at most deferral (0: the defaults).
func startLabelsFull(t *testing.T, brokers []string, st store.Store, reg prometheus.Registerer, full, deferral time.Duration) func() {
	t.Helper()
	c, err := pipeline.NewLabelConsumer(pipeline.LabelConfig{Brokers: brokers, Store: st, Group: "g1", Logger: quiet, MaxBatch: 25,
		SweepInterval: 100 * time.Millisecond, FullSweepInterval: full, SweepDeferral: deferral, Registerer: reg,
		KafkaOpts: []kgo.Opt{kgo.SessionTimeout(6 * time.Second), kgo.RebalanceTimeout(6 * time.Second), kgo.HeartbeatInterval(500 * time.Millisecond)}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("labels consumer: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func labelOffsets(t *testing.T, st store.Store) int64 {
	offs, err := st.Offsets(context.Background(), "g1", bus.TopicLabels)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, o := range offs {
		n += o
	}
	return n
}

func labelStatus(t *testing.T, st store.Store) store.LabelStatus {
	s, err := st.(store.Labeller).LabelStatus(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestLabelsExactlyOnce: labels that arrive before their transactions are
// kept pending and applied once the transactions are stored; duplicates,
// a restart mid-stream and a replay change nothing; a label of an unknown
// transaction stays pending; a malformed record is quarantined without
// stalling the rest. The stored rollups always equal a recomputation from
// the stored labels.
func TestLabelsExactlyOnce(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			brokers := embedded(t)
			st := open(t)
			ids := labelIDs(1000)
			first, rest := slices.Clip(ids[:len(ids)/2]), ids[len(ids)/2:]
			// Labels first: none of their transactions is stored yet.
			produceLabels(t, brokers, append(first, "T99999999"), []byte(`{"schema_version":1,"label_id":"bad"`))
			reg := prometheus.NewRegistry()
			stop := startLabels(t, brokers, st, reg)
			records := int64(2*(len(first)+1) + 1)
			waitFor(t, "the first labels stored", func() bool { return labelOffsets(t, st) == records })
			if s := labelStatus(t, st); s.Pending != int64(len(first)+1) || s.Applied != 0 {
				t.Fatalf("before any transaction: %+v, want %d pending", s, len(first)+1)
			}
			// Then the transactions: the pending labels are applied.
			want := produce(t, brokers, 1000, 0)
			p, stopP := startProcessor(t, brokers, st, "g1", nil)
			waitFor(t, "1000 records", func() bool { s := p.Stats(); return s.Stored+s.Quarantined == 1000 })
			waitFor(t, "the pending labels applied", func() bool { return labelStatus(t, st).Applied == int64(len(first)) })
			stop()
			// A restart mid-stream: the rest of the labels, and the first ones again.
			produceLabels(t, brokers, append(rest, first...))
			stop2 := startLabels(t, brokers, st, nil)
			records += int64(2 * (len(rest) + len(first)))
			waitFor(t, "every label record stored", func() bool { return labelOffsets(t, st) == records })
			waitFor(t, "every label applied", func() bool { return labelStatus(t, st).Applied == int64(len(ids)) })
			stop2()
			stopP()
			want.bad++ // the malformed label
			checkTotals(t, st, want)
			s := labelStatus(t, st)
			if s.Applied != int64(len(ids)) || s.Pending != 1 || s.Expired != 0 {
				t.Fatalf("label status %+v, want %d applied and the unknown one pending", s, len(ids))
			}
			if got := counted(t, reg, "duplicate"); got != float64(len(first)+1) {
				t.Fatalf("duplicates counted by the first consumer: %v, want %d", got, len(first)+1)
			}
			q, err := st.ListQuarantine(context.Background(), store.QuarantineFilter{Reason: pipeline.ReasonMalformedLabel, Topic: bus.TopicLabels})
			if err != nil || len(q) != 1 {
				t.Fatalf("quarantined malformed labels: %+v (%v), want one", q, err)
			}
			storetest.CheckRollupsMatchLabels(t, st)
			r, err := st.(store.RollupReader).FraudRollups(context.Background(), store.RollupQuery{})
			if err != nil {
				t.Fatal(err)
			}
			fraud := 0
			for _, o := range r.Outcomes {
				if o.Truth == store.TruthFraud {
					fraud += int(o.N)
				}
			}
			if fraud != len(ids) {
				t.Fatalf("rollups count %d fraud transactions, want %d", fraud, len(ids))
			}
		})
	}
}

// TestLabelsSweepSince: with more labels pending than transactions
// stored between two sweeps (labels of transactions never stored wait
// too), the sweeps look only at the transactions stored since the last
// one, and still apply every label that arrived before its transaction
// once it is stored, exactly once; the labels that arrive after their
// transactions, and a replay after a restart, are applied once too.
func TestLabelsSweepSince(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			brokers := embedded(t)
			st := open(t)
			before := labelIDs(300) // every tenth transaction, labelled before it is stored
			var ghosts, after []string
			for i := range 400 {
				ghosts = append(ghosts, fmt.Sprintf("G%08d", i))
			}
			for i := 5; i < 300; i += 10 {
				if i%50 != 49 && i%97 != 96 {
					after = append(after, fmt.Sprintf("T%08d", i))
				}
			}
			produceLabels(t, brokers, append(slices.Clone(before), ghosts...))
			reg := prometheus.NewRegistry()
			// Only the first sweep is full; the others wait up to 500 ms
			// for more transactions while more labels are pending.
			stop := startLabelsFull(t, brokers, st, reg, time.Hour, 500*time.Millisecond)
			records := int64(2 * (len(before) + len(ghosts)))
			waitFor(t, "the labels stored", func() bool { return labelOffsets(t, st) == records })
			if s := labelStatus(t, st); s.Pending != int64(len(before)+len(ghosts)) {
				t.Fatalf("before any transaction: %+v, want %d pending", s, len(before)+len(ghosts))
			}
			want := produce(t, brokers, 300, 0)
			_, stopP := startProcessor(t, brokers, st, "g1", nil)
			waitFor(t, "the labels of the stored transactions applied", func() bool { return labelStatus(t, st).Applied == int64(len(before)) })
			// A batch's join counts what it applied after its commit, so
			// the count may trail the stored state by a moment: wait for
			// it before the consumer whose counter it is stops.
			waitFor(t, "the first consumer's count of applied labels", func() bool { return counted(t, reg, "applied") >= float64(len(before)) })
			// Labels after their transactions, and a replay, through a
			// restarted consumer: the first stops before they are
			// produced, so it applies none of them.
			stop()
			produceLabels(t, brokers, append(slices.Clone(after), before...))
			stop2 := startLabelsFull(t, brokers, st, nil, time.Hour, 500*time.Millisecond)
			records += int64(2 * (len(after) + len(before)))
			waitFor(t, "every label record stored", func() bool { return labelOffsets(t, st) == records })
			waitFor(t, "the later labels applied", func() bool { return labelStatus(t, st).Applied == int64(len(before)+len(after)) })
			stop2()
			stopP()
			checkTotals(t, st, want)
			if s := labelStatus(t, st); s.Applied != int64(len(before)+len(after)) || s.Pending != int64(len(ghosts)) {
				t.Fatalf("label status %+v, want %d applied and the ghosts' %d pending", s, len(before)+len(after), len(ghosts))
			}
			if got := counted(t, reg, "applied"); got != float64(len(before)) {
				t.Fatalf("applied by the first consumer: %v, want %d", got, len(before))
			}
			storetest.CheckRollupsMatchLabels(t, st)
		})
	}
}

// counted is shopstream_label_events_total{outcome} in reg.
func counted(t *testing.T, reg *prometheus.Registry, outcome string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "shopstream_label_events_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "outcome" && l.GetValue() == outcome {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no shopstream_label_events_total{outcome=%q}", outcome)
	return 0
}

// TestLabelsHostileText: a label whose text holds a NUL character (the
// escape \u0000, which the decoder turns into the byte) or bytes that are
// not UTF-8 is quarantined as malformed, as a transaction record is; the
// labels around it are stored and the consumer does not stall.
func TestLabelsHostileText(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			brokers := embedded(t)
			st := open(t)
			ids := []string{"T00000010", "T00000020", "T00000030"}
			at := time.Now().UTC().Add(24 * time.Hour).Format(time.RFC3339)
			hostile := [][]byte{
				[]byte(`{"schema_version":1,"label_id":"cb-\u0000","transaction_id":"T00000040","kind":"chargeback","fraud":true,"event_time":"` + at + `"}`),
				[]byte(`{"schema_version":1,"label_id":"cb-50","transaction_id":"T00000050","kind":"chargeback","fraud":true,"scenario":"a\u0000b","event_time":"` + at + `"}`),
				[]byte("{\"schema_version\":1,\"label_id\":\"cb-60\",\"transaction_id\":\"T00000060\",\"kind\":\"chargeback\",\"fraud\":true,\"reason_code\":\"10\xff\xfe\",\"event_time\":\"" + at + "\"}"),
				[]byte("{\"schema_version\":1,\"label_id\":\"cb-70\",\"transaction_id\":\"T0000\x0070\",\"kind\":\"chargeback\",\"fraud\":true,\"event_time\":\"" + at + "\"}"),
			}
			produceLabels(t, brokers, ids, hostile...)
			startLabels(t, brokers, st, nil)
			records := int64(2*len(ids) + len(hostile))
			waitFor(t, "every label record stored or quarantined", func() bool { return labelOffsets(t, st) == records })
			if s := labelStatus(t, st); s.Pending != int64(len(ids)) {
				t.Errorf("label status %+v, want the %d good labels pending", s, len(ids))
			}
			q, err := st.ListQuarantine(context.Background(), store.QuarantineFilter{Reason: pipeline.ReasonMalformedLabel, Topic: bus.TopicLabels})
			if err != nil || len(q) != len(hostile) {
				t.Fatalf("quarantined malformed labels: %d (%v), want %d", len(q), err, len(hostile))
			}
		})
	}
}
