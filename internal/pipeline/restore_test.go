package pipeline_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/internal/event"
	"github.com/shopstream/shopstream/internal/pipeline"
	"github.com/shopstream/shopstream/internal/store"
)

// nopScorer scores nothing; it stands for a partition's fraud state.
type nopScorer struct{}

func (nopScorer) Score(*event.Transaction, *store.Tx) {}
func (nopScorer) Replay(*store.Tx)                    {}

// TestSlowRestoreHoldsBackOnlyItsPartition builds one partition's state
// slowly (its scorer is not handed out until the test says so) and checks
// that the other partitions are fetched and committed meanwhile, that the
// slow one is reported as restoring and none of its records is stored
// before its state exists, and that it catches up once its state is built.
func TestSlowRestoreHoldsBackOnlyItsPartition(t *testing.T) {
	t.Parallel()
	brokers := embedded(t)
	st := openSQLite(t)
	const slow = int32(2)
	const perPart = 25
	var recs []*kgo.Record
	for part := range int32(4) {
		for i := range perPart {
			recs = append(recs, txRecord(t, fmt.Sprintf("R%d-%03d", part, i), part))
		}
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	release := make(chan struct{})
	building := make(chan struct{})
	// Every partition is restored at once, so that the slow one holds
	// back no other's restore, only (were it wrong) their fetching.
	p, err := pipeline.New(pipeline.Config{Brokers: brokers, Store: st, Group: "restore", Logger: quiet, MaxBatch: 300, Restores: 4,
		NewScorer: func(part int32) pipeline.Scorer {
			if part == slow {
				close(building)
				<-release
			}
			return nopScorer{}
		}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	released := false
	defer func() {
		if !released {
			close(release)
		}
	}()

	<-building
	waitFor(t, "the three other partitions stored", func() bool {
		ids := storedIDs(t, st, 4)
		return len(ids) == 3*perPart
	})
	for id := range storedIDs(t, st, 4) {
		if id[:2] == fmt.Sprintf("R%d", slow) {
			t.Fatalf("%s of the partition still restoring was stored", id)
		}
	}
	h := p.Health()
	var restoring []int32
	for _, ph := range h.Partitions {
		if ph.Restoring {
			restoring = append(restoring, ph.Partition)
		}
	}
	if !slices.Equal(restoring, []int32{slow}) {
		t.Fatalf("restoring partitions %v, want [%d]; health %+v", restoring, slow, h)
	}

	close(release)
	released = true
	waitFor(t, "every partition stored", func() bool { return len(storedIDs(t, st, 4)) == 4*perPart })
	for id, n := range storedIDs(t, st, 4) {
		if n != 1 {
			t.Fatalf("%s stored %d times", id, n)
		}
	}
	waitFor(t, "no partition restoring", func() bool {
		for _, ph := range p.Health().Partitions {
			if ph.Restoring {
				return false
			}
		}
		return true
	})
}
