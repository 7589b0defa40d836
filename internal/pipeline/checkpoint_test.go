package pipeline_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/internal/bus"
	"github.com/shopstream/shopstream/internal/detector"
	"github.com/shopstream/shopstream/internal/fraud"
	"github.com/shopstream/shopstream/internal/generate"
	"github.com/shopstream/shopstream/internal/pipeline"
	"github.com/shopstream/shopstream/internal/shopgeo"
	"github.com/shopstream/shopstream/internal/store"
)

// lockedBuffer is a log sink safe for the processor's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// scores reads every stored transaction's risk and decision.
func scores(t *testing.T, st store.Store) map[string]string {
	t.Helper()
	out := map[string]string{}
	for part := range int32(4) {
		err := st.RecentTransactions(context.Background(), part, 0, time.Time{}, func(tx *store.Tx) error {
			out[tx.TransactionID] = fmt.Sprintf("%s %.12f", tx.Decision, tx.Risk)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// runUntil runs a processor with fraud scoring until it has committed n
// records, then stops it.
func runUntil(t *testing.T, brokers []string, st store.Store, group string, n int64, log *slog.Logger, cfg func(*pipeline.Config)) {
	t.Helper()
	det, err := detector.New(detector.Config{State: shopgeo.Lookups(fraud.StateConfig{}), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	c := pipeline.Config{Brokers: brokers, Store: st, Group: group, Logger: log, MaxBatch: 300, NewScorer: func(part int32) pipeline.Scorer { return det.NewPartitionScorer(part) }}
	if cfg != nil {
		cfg(&c)
	}
	p, err := pipeline.New(c)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	waitFor(t, fmt.Sprintf("%d records", n), func() bool { s := p.Stats(); return s.Stored+s.Quarantined >= n })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if s := p.Stats(); s.Stored+s.Quarantined != n {
		t.Fatalf("processor committed %d records, want %d", s.Stored+s.Quarantined, n)
	}
}

// TestCheckpointRestore stops a processor part way, restarts it with a
// replay too short to rebuild the fraud state (one record), and checks that
// the restarted processor, restoring the checkpoint and replaying the tail
// after it, scores every later transaction exactly as a processor that
// never stopped.
func TestCheckpointRestore(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			g, err := generate.New(generate.Config{Seed: 5, Customers: 300, BadRate: 0.02, FraudRate: 0.03})
			if err != nil {
				t.Fatal(err)
			}
			const first, second = 3000, 2000
			var recs []*kgo.Record
			start := time.Now().Add(-2 * time.Hour)
			for i := range first + second {
				r := g.NextAt(start.Add(time.Duration(i) * time.Second))
				rec := &kgo.Record{Key: bytes.Clone(r.Key), Value: bytes.Clone(r.Value), Topic: bus.TopicTransactions}
				for _, h := range r.Headers() {
					rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: h.Key, Value: bytes.Clone(h.Value)})
				}
				recs = append(recs, rec)
			}
			produceAll := func(brokers []string, recs []*kgo.Record) {
				cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
				if err != nil {
					t.Fatal(err)
				}
				defer cl.Close()
				for _, r := range recs {
					c := *r
					if err := cl.ProduceSync(context.Background(), &c).FirstErr(); err != nil {
						t.Fatal(err)
					}
				}
			}

			// The reference: one processor that never stops.
			refBrokers := embedded(t)
			ref := open(t)
			produceAll(refBrokers, recs)
			runUntil(t, refBrokers, ref, "ref", first+second, quiet, nil)

			// Stopped after the first part, checkpointing every 400
			// records per partition (so the last checkpoint lies before
			// the end and the tail is replayed). A checkpoint is taken
			// at the end of a batch: batches of at most 40 records make
			// it unlikely that every partition's last one ends its part
			// (with a fetch of many records, a poll of 300 may be one
			// partition's, and the last batch of each then often
			// carried a checkpoint).
			brokers := embedded(t)
			st := open(t)
			every := func(c *pipeline.Config) { c.CheckpointRecords, c.CheckpointInterval, c.MaxBatch = 400, -1, 40 }
			produceAll(brokers, recs[:first])
			runUntil(t, brokers, st, "g", first, quiet, every)
			produceAll(brokers, recs[first:])
			var logs lockedBuffer
			log := slog.New(slog.NewTextHandler(&logs, nil))
			runUntil(t, brokers, st, "g", second, log, func(c *pipeline.Config) {
				every(c)
				c.StateMaxRecords = 1 // replay alone could not rebuild the state
			})
			if n := strings.Count(logs.String(), "partition state restored from checkpoint"); n != 4 {
				t.Fatalf("%d partitions restored from a checkpoint, want 4; log:\n%s", n, logs.String())
			}
			if !strings.Contains(logs.String(), "tail_transactions=") || strings.Count(logs.String(), "tail_transactions=0 ") == 4 {
				t.Fatalf("no tail replayed after any checkpoint; log:\n%s", logs.String())
			}
			for part := range int32(4) {
				cp, err := st.Checkpoint(context.Background(), "g", bus.TopicTransactions, part)
				if err != nil || cp == nil || cp.Offset <= 0 {
					t.Fatalf("partition %d: stored checkpoint %+v, %v; want one", part, cp, err)
				}
			}

			want, got := scores(t, ref), scores(t, st)
			if len(got) != len(want) || len(want) == 0 {
				t.Fatalf("stored %d transactions, the reference %d", len(got), len(want))
			}
			differ := 0
			for id, w := range want {
				if got[id] != w {
					if differ++; differ <= 5 {
						t.Errorf("transaction %s scored %q after the restart, %q without one", id, got[id], w)
					}
				}
			}
			if differ > 0 {
				t.Fatalf("%d of %d transactions scored differently after the restart", differ, len(want))
			}
		})
	}
}
