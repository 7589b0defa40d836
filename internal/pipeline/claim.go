package pipeline

import (
	"context"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/internal/store"
)

// Claimed is what ClaimAssigned found for a topic's newly assigned
// partitions.
type Claimed struct {
	// Partitions are the claimed partitions, in ascending order.
	Partitions []int32
	// Epoch is the ownership epoch of the claim (0 when none was made).
	Epoch int32
	// Stored are the offsets stored with the results, by partition; a
	// partition without one starts at the log start.
	Stored map[int32]int64
}

// ClaimAssigned is the part of a consumer's kgo.AdjustFetchOffsetsFn that
// every exactly-once consumer of the project shares (the processor, the
// labels consumer, the entity stage): it claims topic's newly assigned
// partitions for owner in the store first, so that from then on the store
// refuses the batches of whoever owned them before, then reads the offsets
// stored with the results and points each partition there (or at the log
// start when none is stored).
func ClaimAssigned(ctx context.Context, st store.Store, group, topic, owner string, offsets map[string]map[int32]kgo.Offset) (Claimed, error) {
	var c Claimed
	parts := offsets[topic]
	for p := range parts {
		c.Partitions = append(c.Partitions, p)
	}
	slices.Sort(c.Partitions)
	if len(c.Partitions) > 0 {
		epoch, err := st.Claim(ctx, group, topic, owner, c.Partitions)
		if err != nil {
			return c, fmt.Errorf("claiming %s partitions %v: %w", topic, c.Partitions, err)
		}
		c.Epoch = epoch
	}
	stored, err := st.Offsets(ctx, group, topic)
	if err != nil {
		return c, fmt.Errorf("reading the stored offsets of %s: %w", topic, err)
	}
	c.Stored = stored
	for p := range parts {
		if off, ok := stored[p]; ok {
			parts[p] = kgo.NewOffset().At(off)
		} else {
			parts[p] = kgo.NewOffset().AtStart()
		}
	}
	return c, nil
}
