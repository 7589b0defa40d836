package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/internal/event"
	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/storetest"
)

// Parameters of the labels crash test.
const (
	labelRecords = 12_000
	labelKills   = 3
	labelSeed    = 20261202
	labelBatch   = 100
)

// TestLabelsCrashRecovery SIGKILLs processors while they store
// transactions and their label events, and checks that in the end every
// label is applied exactly once: each label event stored once, every
// labelled transaction's truth its label's, the rollups equal to a
// recomputation from the stored labels, the unknown transaction's label
// pending and the malformed record quarantined.
func TestLabelsCrashRecovery(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		open func(*testing.T) *storeEnv
	}{{"postgres", postgresStore}, {"sqlite", sqliteStore}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			labelsCrashRecovery(t, embeddedKafka(t), tc.open(t))
		})
	}
}

func labelsCrashRecovery(t *testing.T, k *kafkaEnv, s *storeEnv) {
	ctx := context.Background()
	r := newRig(t, k, s, labelBatch)
	labels := k.newTopic(t)
	f := newFeed(t, labelSeed)
	f.produce(t, k, r.topic, labelRecords)

	// A chargeback for every seventh good transaction, some produced twice,
	// a label of a transaction never produced and a malformed record.
	rng := rand.New(rand.NewPCG(labelSeed, 2))
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.brokers...), kgo.DefaultProduceTopic(labels))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	want := map[string]bool{}
	for i := 0; i < len(f.good); i += 7 {
		g := f.good[i]
		if want[g.TransactionID] {
			continue // the generator's duplicate_id records repeat a good id
		}
		want[g.TransactionID] = true
		l := event.Label{SchemaVersion: event.LabelSchemaVersion, LabelID: "cb-" + g.TransactionID, TransactionID: g.TransactionID,
			Kind: event.LabelChargeback, Fraud: true, Scenario: "stolen_card", ReasonCode: "10.4", EventTime: g.EventTime.Add(21 * 24 * time.Hour)}
		b, err := event.MarshalLabel(&l)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, &kgo.Record{Key: []byte(g.TransactionID), Value: b})
		if rng.IntN(10) == 0 {
			recs = append(recs, &kgo.Record{Key: []byte(g.TransactionID), Value: b})
		}
	}
	ghost := event.Label{SchemaVersion: 1, LabelID: "cb-ghost", TransactionID: "ghost", Kind: event.LabelChargeback, Fraud: true, EventTime: time.Now().UTC()}
	gb, _ := event.MarshalLabel(&ghost)
	recs = append(recs, &kgo.Record{Key: []byte("ghost"), Value: gb}, &kgo.Record{Key: []byte("bad"), Value: []byte(`{"label_id":`)})
	rng.Shuffle(len(recs), func(i, j int) { recs[i], recs[j] = recs[j], recs[i] })
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	labelEnds := k.endOffsets(t, labels)
	labelsCommitted := func() int64 {
		offs, err := s.st.Offsets(ctx, r.group, labels)
		if err != nil {
			return -1
		}
		var n int64
		for _, o := range offs {
			n += o
		}
		return n
	}

	midStream := 0
	for i := range labelKills {
		p := r.start(t, fmt.Sprintf("processor %d", i+1), "--labels-topic", labels)
		if i == 0 {
			// The first kill while the labels come in, before their
			// transactions; the others while transactions are stored and
			// the pending labels applied to them.
			before := labelsCommitted()
			deadline := time.Now().Add(2 * time.Minute)
			for labelsCommitted() <= before {
				p.mustRun(t)
				if time.Now().After(deadline) {
					t.Fatalf("no label committed by processor %d within 2 minutes", i+1)
				}
				time.Sleep(10 * time.Millisecond)
			}
		} else {
			r.waitCommitted(t, max(r.committed(), 0), 2*time.Minute, p)
		}
		time.Sleep(time.Duration(rng.Int64N(int64(200 * time.Millisecond))))
		p.kill(t)
		at := labelsCommitted()
		applied := int64(-1)
		if st, err := s.st.(store.Labeller).LabelStatus(ctx); err == nil {
			applied = st.Applied
		}
		tx := r.committed()
		t.Logf("kill %d: %d of %d label records committed, %d of %d labels applied, %d of %d transaction records committed",
			i+1, at, len(recs), applied, len(want), tx, f.want.records)
		if at < int64(len(recs)) || tx < f.want.records {
			midStream++
		}
		k.evictMembers(t, r.group)
		k.evictMembers(t, r.group+".labels")
	}
	if midStream == 0 {
		t.Errorf("every kill came after all labels were stored; the test proves little")
	}
	last := r.start(t, "processor (final)", "--labels-topic", labels)
	r.waitCaughtUp(t, k.endOffsets(t, r.topic), 2*time.Minute, last)
	deadline := time.Now().Add(2 * time.Minute)
	lab := s.st.(store.Labeller)
	for {
		st, err := lab.LabelStatus(ctx)
		if err == nil && labelsCommitted() == sum(labelEnds) && st.Applied == int64(len(want)) && st.Pending == 1 {
			break
		}
		last.mustRun(t)
		if time.Now().After(deadline) {
			t.Fatalf("labels: %+v (%v), %d of %d records committed; want %d applied and the ghost pending", st, err, labelsCommitted(), sum(labelEnds), len(want))
		}
		time.Sleep(50 * time.Millisecond)
	}
	last.stop(t, 30*time.Second)

	// Each label event once, each labelled transaction fraud, nothing else.
	var events, fraud, malformed int64
	err = s.query(ctx, `SELECT (SELECT count(*) FROM label_events), (SELECT count(*) FROM labels WHERE fraud),
		(SELECT count(*) FROM quarantine WHERE reason = 'malformed_label')`, func(scan func(...any) error) error {
		return scan(&events, &fraud, &malformed)
	})
	if err != nil {
		t.Fatal(err)
	}
	if events != int64(len(want))+1 || fraud != int64(len(want)) || malformed != 1 {
		t.Fatalf("%d label events, %d fraud labels, %d malformed quarantined; want %d, %d, 1", events, fraud, malformed, len(want)+1, len(want))
	}
	storetest.CheckRollupsMatchLabels(t, s.st)
}

func sum(m map[int32]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}
