package pipeline_test

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/internal/pipeline"
	"github.com/shopstream/shopstream/internal/store"
)

// TestClaimAssigned: a claim fences the previous owner (its epoch grows
// with each claim) and points each partition at the offset stored with
// the results, or at the log start when none is.
func TestClaimAssigned(t *testing.T) {
	ctx := context.Background()
	st := openSQLite(t)
	first, err := pipeline.ClaimAssigned(ctx, st, "g", "t", "a", map[string]map[int32]kgo.Offset{"t": {1: kgo.NewOffset(), 0: kgo.NewOffset()}})
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Partitions) != 2 || first.Partitions[0] != 0 || first.Partitions[1] != 1 || first.Epoch < 1 {
		t.Fatalf("first claim = %+v; want partitions [0 1] in order and an epoch", first)
	}
	b := &store.Batch{Group: "g", Topic: "t", Owner: "a", Generation: first.Epoch, Parts: []store.Part{{Partition: 0, From: 0, To: 7}}}
	if err := st.WriteBatch(ctx, b); err != nil {
		t.Fatal(err)
	}
	offsets := map[string]map[int32]kgo.Offset{"t": {0: kgo.NewOffset(), 1: kgo.NewOffset()}, "other": {0: kgo.NewOffset()}}
	second, err := pipeline.ClaimAssigned(ctx, st, "g", "t", "b", offsets)
	if err != nil {
		t.Fatal(err)
	}
	if second.Epoch <= first.Epoch || second.Stored[0] != 7 {
		t.Fatalf("second claim = %+v; want an epoch above %d and partition 0 stored at 7", second, first.Epoch)
	}
	if got, want := offsets["t"][0].EpochOffset().Offset, int64(7); got != want {
		t.Errorf("partition 0 starts at %d; want the stored %d", got, want)
	}
	if got := offsets["t"][1].EpochOffset().Offset; got != kgo.NewOffset().AtStart().EpochOffset().Offset {
		t.Errorf("partition 1 (nothing stored) starts at %d; want the log start", got)
	}
	if err := st.WriteBatch(ctx, b); err == nil {
		t.Error("the previous owner's batch was stored after the new claim; want it fenced")
	}
}
