package pipeline

import (
	"context"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/shopstream/shopstream/internal/store"
)

// groupCommitter mirrors the offsets stored with each batch to the Kafka
// consumer group, so kafka-consumer-groups.sh, Burrow or kminion show the
// true lag. It never blocks a writer: writers note offsets, and its own
// goroutine commits the latest ones, coalesced, asynchronously; an error is
// logged and counted, never retried in the way. The database stays the
// source of truth: on assignment the processor seeks to the stored offsets,
// whatever the group holds.
type groupCommitter struct {
	p *Processor

	mu      sync.Mutex
	pending map[int32]int64 // partition -> next offset, not yet sent
	wake    chan struct{}   // holds one wake-up at most
}

func newGroupCommitter(p *Processor) *groupCommitter {
	return &groupCommitter{p: p, pending: map[int32]int64{}, wake: make(chan struct{}, 1)}
}

// note queues the offsets of a committed batch.
func (c *groupCommitter) note(b *store.Batch) {
	c.mu.Lock()
	for i := range b.Parts {
		part := &b.Parts[i]
		if part.To > c.pending[part.Partition] {
			c.pending[part.Partition] = part.To
		}
	}
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// Run commits noted offsets until ctx ends, then commits what is left once.
// Offsets whose commit failed are noted again and retried every few
// seconds, so a commit refused during a rebalance is not lost.
func (c *groupCommitter) Run(ctx context.Context) error {
	retry := time.NewTicker(2 * time.Second)
	defer retry.Stop()
	for {
		select {
		case <-c.wake:
			c.commit(ctx)
		case <-retry.C:
			c.commit(ctx)
		case <-ctx.Done():
			final, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			c.commit(final)
			cancel()
			return nil
		}
	}
}

func (c *groupCommitter) commit(ctx context.Context) {
	c.mu.Lock()
	if len(c.pending) == 0 {
		c.mu.Unlock()
		return
	}
	offs := make(map[int32]kgo.EpochOffset, len(c.pending))
	for part, off := range c.pending {
		offs[part] = kgo.EpochOffset{Epoch: -1, Offset: off}
	}
	clear(c.pending)
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	p := c.p
	if m := p.cfg.Metrics; m != nil {
		defer func(start time.Time) {
			m.StageDuration.WithLabelValues("group_commit").Observe(time.Since(start).Seconds())
		}(time.Now())
	}
	p.cl.CommitOffsetsSync(ctx, map[string]map[int32]kgo.EpochOffset{p.cfg.Topic: offs},
		func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
			if err != nil {
				c.failed(len(offs), err)
				for part, o := range offs {
					c.requeue(part, o.Offset)
				}
				return
			}
			for _, t := range resp.Topics {
				for _, pr := range t.Partitions {
					if err := kerr.ErrorForCode(pr.ErrorCode); err != nil {
						c.failed(1, err)
						c.requeue(pr.Partition, offs[pr.Partition].Offset)
					}
				}
			}
		})
}

// requeue notes off again for part unless a newer offset is pending.
func (c *groupCommitter) requeue(part int32, off int64) {
	c.mu.Lock()
	if off > c.pending[part] {
		c.pending[part] = off
	}
	c.mu.Unlock()
}

func (c *groupCommitter) failed(partitions int, err error) {
	if m := c.p.cfg.Metrics; m != nil {
		m.GroupCommitErrors.Add(float64(partitions))
		m.Errors.WithLabelValues("group_commit", "commit_failed").Add(float64(partitions))
	}
	c.p.log.Warn("committing offsets to the Kafka group failed (lag tools may show stale lag; the stored offsets are unaffected)", "partitions", partitions, "err", err)
}
