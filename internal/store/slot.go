package store

// Writer slots of the shared rollup rows.
//
// window_metrics, fraud_rollups and quality_minutes are counts every
// writer adds to: each batch of the stream adds to the rows of the minutes
// (and hours and days) its records fall in, and two writers' batches fall
// in the same minutes. Keyed by their minute alone, the rows were shared,
// so one writer's statement waited for the other's commit (the wait moved
// to whichever shared statement came first). Each row is therefore also
// keyed by the slot of the writer that added it, and readers sum over the
// slots: writers that never hold the same slot never lock the same row.
//
// A batch of the transactions stream writes the slot of its writer: one
// more than the smallest partition the writer owns (Batch.Slot, which
// the processor sets), or than the smallest the batch carries when that
// is unset (BatchSlot). A Kafka partition is owned by one writer at a
// time (the consumer group assigns it to one member, and a member's
// writers divide their partitions among themselves), so two writers'
// smallest partitions differ, and so do their slots. The slots of a
// minute are at most the topic's partitions however many processes and
// writers share them, so the rows a minute keeps stay bounded (an
// instance id or a random slot per writer would add slots with every
// restart); in practice they are the writers in the group, since a
// writer keeps its slot whichever of its partitions a batch holds. During
// a rebalance a partition's old and new writer may briefly share a slot:
// they wait for each other then, as before, and the counts still add up.
//
// The labels consumer writes the negative slots of its own partitions
// (LabelSlot), so it never waits on a batch of the stream nor the labels
// consumer of another process on it. The rare writers outside a consumer
// group (an analyst's verdict, an import, the entity stage's upgrades)
// share SlotOther.

// SlotOther is the slot of the writers outside the partitioned streams.
const SlotOther int32 = 0

// BatchSlot is the slot a batch of the transactions stream writes when
// its Slot is unset (Batch.WriterSlot), and a labels batch negated: one
// more than the smallest partition among parts (SlotOther when none).
func BatchSlot(parts []Part) int32 {
	if len(parts) == 0 {
		return SlotOther
	}
	m := parts[0].Partition
	for i := range parts {
		m = min(m, parts[i].Partition)
	}
	return m + 1
}

// WriterSlot is the slot b's rows are added in: b.Slot, or
// BatchSlot(b.Parts) when that is unset.
func (b *Batch) WriterSlot() int32 {
	if b.Slot != 0 {
		return b.Slot
	}
	return BatchSlot(b.Parts)
}

// LabelSlot is the slot a batch of the labels topic writes: the negative
// of one more than its smallest partition (SlotOther when none).
func LabelSlot(parts []Part) int32 { return -BatchSlot(parts) }
