package pipeline

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/internal/quality"
	"github.com/shopstream/shopstream/internal/store"
)

// adjustOffsets replaces Kafka's committed offsets of newly assigned
// partitions by the ones stored with the results, and starts building the
// partitions' state (restore.go). A partition with no stored offset starts
// at the log start.
func (p *Processor) adjustOffsets(ctx context.Context, offsets map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	start := time.Now()
	c, err := ClaimAssigned(ctx, p.cfg.Store, p.cfg.Group, p.cfg.Topic, p.owner, offsets)
	if err != nil {
		return nil, err
	}
	if len(c.Partitions) > 0 {
		for cur := p.epoch.Load(); c.Epoch > cur && !p.epoch.CompareAndSwap(cur, c.Epoch); cur = p.epoch.Load() {
		}
		p.log.Info("partitions claimed", "partitions", c.Partitions, "epoch", c.Epoch, "owner", p.owner, "took", time.Since(start).Round(time.Millisecond))
	}
	stored := c.Stored
	starts, err := p.logStarts(ctx)
	if err != nil {
		p.log.Warn("asking the broker for log start offsets on assignment; a loss to retention will show as offset out of range instead", "err", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	var starting []int32
	for topic, parts := range offsets {
		if topic != p.cfg.Topic {
			continue
		}
		for part := range parts {
			off, ok := stored[part]
			if !ok {
				off = -1
			}
			var lost *lostRange
			if start, known := starts[part]; ok && known && start > off {
				lost = p.lose(part, off, start)
				parts[part] = kgo.NewOffset().At(start)
			}
			p.health.noteStored(part, off)
			delete(p.parts, part)
			p.cancelRestore(part) // an offset fetch retried in a later session
			p.restoring[part] = &restore{pos: off, lost: lost}
			starting = append(starting, part)
		}
	}
	p.startRestores(starting)
	return offsets, nil
}

// newPartState creates a partition's state: from its stored checkpoint and
// the transactions after it when there is one, else by replaying its
// recent stored transactions into a new scorer.
func (p *Processor) newPartState(ctx context.Context, part int32, pos int64) *partState {
	ps := &partState{pos: pos, dedup: quality.NewDedup(p.cfg.DedupWindow)}
	if p.restoreCheckpoint(ctx, ps, part, pos) {
		p.noteRebuild(part, nil) // clears an earlier failed rebuild from /readyz
		return ps
	}
	if p.cfg.NewScorer == nil {
		return ps
	}
	ps.scorer = p.cfg.NewScorer(part)
	start := time.Now()
	n := 0
	from := max(0, pos-p.cfg.StateMaxRecords)
	err := p.cfg.Store.RecentTransactions(ctx, part, from, p.cfg.Now().Add(-p.cfg.StateWindow), func(t *store.Tx) error {
		ps.scorer.Replay(t)
		ps.dedup.Check(t.TransactionID)
		n++
		return nil
	})
	if ctx.Err() != nil {
		return ps // given up while it was built: the state is dropped
	}
	p.noteRebuild(part, err)
	if err != nil {
		p.log.Error("rebuilding partition state failed; scoring starts from empty state", "partition", part, "err", err)
	}
	p.log.Info("partition state rebuilt", "partition", part, "transactions", n, "took", time.Since(start).Round(time.Millisecond))
	return ps
}

func (p *Processor) assigned(_ context.Context, cl *kgo.Client, assigned map[string][]int32) {
	p.kcl.Store(cl)
	// No record of a new partition is fetched before its state is built
	// (restore.go); this runs before the offsets are even fetched.
	if parts := assigned[p.cfg.Topic]; len(parts) > 0 {
		cl.PauseFetchPartitions(map[string][]int32{p.cfg.Topic: parts})
	}
	n := len(assigned[p.cfg.Topic])
	p.log.Info("partitions assigned", "partitions", assigned[p.cfg.Topic])
	if m := p.cfg.Metrics; m != nil {
		m.Rebalances.WithLabelValues("assigned").Add(float64(n))
		m.Assigned.Add(float64(n))
		// Shown at 0 from the start, so increase() sees the first loss.
		for _, part := range assigned[p.cfg.Topic] {
			m.RecordsLost.WithLabelValues(partitionLabel(part), "retention")
		}
	}
}

// revoked commits what is in flight for the partitions being given up, then
// forgets their state; the next owner resumes from the stored offsets.
func (p *Processor) revoked(ctx context.Context, _ *kgo.Client, revoked map[string][]int32) {
	p.giveUp(ctx, revoked, "revoked")
}

// lost forgets partitions lost without a clean revoke (session expiry). The
// store's offset fence stops any late write for them.
func (p *Processor) lost(ctx context.Context, _ *kgo.Client, lost map[string][]int32) {
	p.giveUp(ctx, lost, "lost")
}

func (p *Processor) giveUp(ctx context.Context, parts map[string][]int32, event string) {
	p.flush(ctx)
	p.mu.Lock()
	for _, part := range parts[p.cfg.Topic] {
		delete(p.parts, part)
		p.cancelRestore(part)
		p.health.forget(part)
	}
	p.mu.Unlock()
	n := len(parts[p.cfg.Topic])
	p.log.Info("partitions "+event, "partitions", parts[p.cfg.Topic])
	if m := p.cfg.Metrics; m != nil {
		m.Rebalances.WithLabelValues(event).Add(float64(n))
		m.Assigned.Sub(float64(n))
	}
}
