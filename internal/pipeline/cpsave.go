package pipeline

import (
	"context"
	"sync"

	"github.com/shopstream/shopstream/internal/store"
)

// checkpointSaver stores the partitions' checkpoints after their batches
// commit, each in a transaction of its own (store.CheckpointSaver), so
// that writing a checkpoint of tens of megabytes holds no writer: written
// with its batch, a partition's checkpoint of 17 to 23 MB at a million
// customers delayed the batches of every partition of that writer by up
// to 400 ms. A checkpoint only shortens a restore, so one that cannot be
// stored (the partition moved on to another owner, the database is away)
// is dropped with a log line, and the next one takes its place; of a
// partition's checkpoints waiting, only the latest is stored.
type checkpointSaver struct {
	p  *Processor
	st store.CheckpointSaver

	mu      sync.Mutex
	pending map[int32]pendingCheckpoint
	wake    chan struct{}
}

// pendingCheckpoint is a partition's checkpoint as of offset, taken by
// owner in generation, waiting to be stored.
type pendingCheckpoint struct {
	group, topic, owner string
	generation          int32
	partition           int32
	offset              int64
	state               []byte
}

func newCheckpointSaver(p *Processor, st store.CheckpointSaver) *checkpointSaver {
	return &checkpointSaver{p: p, st: st, pending: map[int32]pendingCheckpoint{}, wake: make(chan struct{}, 1)}
}

// take moves the checkpoints out of b's parts, to be stored once b has
// committed (add).
func (s *checkpointSaver) take(b *store.Batch) []pendingCheckpoint {
	var out []pendingCheckpoint
	for i := range b.Parts {
		part := &b.Parts[i]
		if part.Checkpoint == nil {
			continue
		}
		out = append(out, pendingCheckpoint{group: b.Group, topic: b.Topic, owner: b.Owner, generation: b.Generation,
			partition: part.Partition, offset: part.To, state: part.Checkpoint})
		part.Checkpoint = nil
	}
	return out
}

// add queues checkpoints whose batch committed.
func (s *checkpointSaver) add(cps []pendingCheckpoint) {
	if len(cps) == 0 {
		return
	}
	s.mu.Lock()
	for _, cp := range cps {
		if old, ok := s.pending[cp.partition]; !ok || old.offset < cp.offset {
			s.pending[cp.partition] = cp
		}
	}
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// run stores the queued checkpoints until ctx ends, then those still
// queued, until final ends.
func (s *checkpointSaver) run(ctx, final context.Context) error {
	for {
		select {
		case <-s.wake:
			s.saveAll(ctx)
		case <-ctx.Done():
			s.saveAll(final)
			return nil
		}
	}
}

func (s *checkpointSaver) saveAll(ctx context.Context) {
	for {
		s.mu.Lock()
		var cp pendingCheckpoint
		found := false
		if ctx.Err() == nil {
			for part, c := range s.pending {
				cp, found = c, true
				delete(s.pending, part)
				break
			}
		}
		s.mu.Unlock()
		if !found {
			return
		}
		ok, err := s.st.SaveCheckpoint(ctx, cp.group, cp.topic, cp.partition, cp.owner, cp.generation, cp.offset, cp.state)
		if err != nil && ctx.Err() != nil {
			// Stopped part way (shutdown): the final round stores it.
			s.add([]pendingCheckpoint{cp})
			return
		}
		if err != nil {
			s.p.log.Warn("storing a partition checkpoint failed; the next one takes its place", "partition", cp.partition, "offset", cp.offset, "err", err)
			continue
		}
		// stored=false: the partition has another owner or generation
		// now, or a later checkpoint is stored.
		s.p.log.Debug("partition checkpoint stored after its batch", "partition", cp.partition, "offset", cp.offset, "bytes", len(cp.state), "stored", ok)
	}
}
