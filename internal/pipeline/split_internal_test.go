package pipeline

import (
	"testing"

	"github.com/shopstream/shopstream/internal/store"
)

// TestSplitSlots: each writer's share of a batch carries the writer's
// slot in the shared rollups, one more than the smallest partition it
// owns, whichever of its partitions the batch holds; the writers' slots
// differ, and a lone writer's is that of the processor's smallest.
func TestSplitSlots(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		writers int
		owned   []int32
		batch   []int32
		want    []int32 // per writer; -1: no batch
	}{
		{2, []int32{0, 1, 2, 3}, []int32{0, 1, 2, 3}, []int32{1, 2}},
		{2, []int32{0, 1, 2, 3}, []int32{2, 3}, []int32{1, 2}},
		{2, []int32{0, 1, 2, 3}, []int32{3}, []int32{-1, 2}},
		{2, []int32{5, 6, 7}, []int32{7}, []int32{-1, 6}},
		{1, []int32{4, 9}, []int32{9}, []int32{5}},
		{3, []int32{0, 1, 2, 3, 4, 5}, []int32{3, 4, 5}, []int32{1, 2, 3}},
	} {
		// split reads only the writers' number and the owned partitions.
		p := &Processor{parts: map[int32]*partState{}, writers: make([]*writer, tc.writers)}
		for _, o := range tc.owned {
			p.parts[o] = &partState{}
		}
		b := &store.Batch{Group: "g", Topic: "t"}
		for _, part := range tc.batch {
			b.Parts = append(b.Parts, store.Part{Partition: part})
		}
		subs := p.split(b)
		for i, sub := range subs {
			switch {
			case tc.want[i] == -1 && sub != nil:
				t.Errorf("%d writers owning %v, batch of %v: writer %d got %+v, want nothing", tc.writers, tc.owned, tc.batch, i, sub)
			case tc.want[i] == -1:
			case sub == nil || sub.Slot != tc.want[i] || sub.WriterSlot() != tc.want[i]:
				t.Errorf("%d writers owning %v, batch of %v: writer %d's batch %+v, want slot %d", tc.writers, tc.owned, tc.batch, i, sub, tc.want[i])
			}
		}
	}
}
