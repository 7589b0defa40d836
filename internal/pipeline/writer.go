package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/internal/quality"
	"github.com/shopstream/shopstream/internal/store"
)

// writer commits batches in order. A failed write is retried with backoff
// until it succeeds or ctx ends; nothing is skipped, so a lost database
// stalls the pipeline (and, through the bounded channel, the consumer)
// instead of losing records.
func (p *Processor) writer(ctx context.Context, ch chan *work) error {
	for w := range ch {
		if w.batch == nil {
			close(w.done)
			continue
		}
		if err := p.write(ctx, w.batch); err != nil {
			// Drain so the poll loop and flushes never block on us.
			go func() {
				for w := range ch {
					if w.done != nil {
						close(w.done)
					}
				}
			}()
			return err
		}
	}
	return nil
}

func (p *Processor) write(ctx context.Context, b *store.Batch) error {
	backoff := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		p.dropFenced(b)
		if len(b.Parts) == 0 {
			return nil
		}
		start := time.Now()
		err := p.cfg.Store.WriteBatch(ctx, b)
		if errors.Is(err, store.ErrAlreadyCommitted) {
			// An earlier attempt committed, but its reply was lost.
			p.log.Warn("batch found committed by an earlier attempt whose reply was lost", "attempt", attempt)
			err = nil
		}
		if err == nil {
			at := p.cfg.Now()
			p.committed(b, at, time.Since(start))
			return nil
		}
		if f, ok := store.IsFenced(err); ok {
			p.count("fenced")
			p.log.Warn("partitions fenced: another processor owns them; re-seeking", "partitions", f.Partitions)
			p.fencedMu.Lock()
			for _, part := range f.Partitions {
				p.fenced[part] = true
			}
			p.fencedMu.Unlock()
			continue
		}
		if d, ok := store.IsDuplicate(err); ok {
			p.count("duplicate")
			p.log.Warn("transactions already stored; quarantining them as duplicates", "count", len(d.IDs), "first", d.IDs[0])
			p.quarantineDuplicates(b, d.Copies)
			continue
		}
		if ctx.Err() != nil {
			return err
		}
		p.count("retry")
		p.log.Error("writing batch failed; retrying", "attempt", attempt, "backoff", backoff, "err", err)
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return err
		}
		backoff = min(2*backoff, 10*time.Second)
	}
}

func (p *Processor) count(kind string) {
	if p.cfg.Metrics != nil {
		p.cfg.Metrics.WriteErrors.WithLabelValues(kind).Inc()
	}
}

func (p *Processor) committed(b *store.Batch, at time.Time, took time.Duration) {
	var n, q int
	for i := range b.Parts {
		n += len(b.Parts[i].Txs)
		q += len(b.Parts[i].Quarantined)
	}
	p.stored.Add(int64(n))
	p.quarantined.Add(int64(q))
	p.batches.Add(1)
	if m := p.cfg.Metrics; m != nil {
		m.Records.WithLabelValues("stored").Add(float64(n))
		m.Records.WithLabelValues("quarantined").Add(float64(q))
		m.Batches.Inc()
		m.BatchSize.Observe(float64(n + q))
		m.WriteTime.Observe(took.Seconds())
		for i := range b.Parts {
			for j := range b.Parts[i].Txs {
				if pt := b.Parts[i].Txs[j].ProducedAt; !pt.IsZero() {
					m.Latency.Observe(at.Sub(pt).Seconds())
				}
			}
		}
	}
	if p.cfg.OnCommit != nil {
		p.cfg.OnCommit(b, at)
	}
}

// dropFenced removes the parts of fenced partitions from b.
func (p *Processor) dropFenced(b *store.Batch) {
	p.fencedMu.Lock()
	defer p.fencedMu.Unlock()
	if len(p.fenced) == 0 {
		return
	}
	kept := b.Parts[:0]
	for _, part := range b.Parts {
		if !p.fenced[part.Partition] {
			kept = append(kept, part)
		}
	}
	b.Parts = kept
}

// quarantineDuplicates moves the records the store reported as later
// copies of a transaction (stored already, or kept from an earlier part of
// the batch: the same id on another partition) out of b into quarantine,
// with their labels, alerts and outbox messages. Copies are found by
// partition and offset, so the kept copy stays.
func (p *Processor) quarantineDuplicates(b *store.Batch, copies []store.DuplicateCopy) {
	type loc struct {
		p   int32
		off int64
	}
	dup := make(map[loc]store.DuplicateCopy, len(copies))
	for _, c := range copies {
		dup[loc{c.Partition, c.Offset}] = c
	}
	for i := range b.Parts {
		part := &b.Parts[i]
		var deferred []store.Quarantined
		removed, stays := map[string]bool{}, map[string]bool{}
		kept := part.Txs[:0]
		for _, t := range part.Txs {
			if c, ok := dup[loc{t.Partition, t.Offset}]; ok {
				q := store.Quarantined{
					Reason: string(quality.DuplicateID),
					Detail: fmt.Sprintf("transaction_id %s is stored already, at partition %d offset %d", t.TransactionID, c.KeptPartition, c.KeptOffset),
					Raw:    t.Raw, Partition: t.Partition, Offset: t.Offset, Expected: t.ExpectedBad,
				}
				deferred = append(deferred, q)
				removed[t.TransactionID] = true
				continue
			}
			stays[t.TransactionID] = true
			kept = append(kept, t)
		}
		part.Txs = kept
		gone := func(id string) bool { return removed[id] && !stays[id] }
		part.Labels = filter(part.Labels, func(l store.Label) bool { return !gone(l.TransactionID) })
		part.Alerts = filter(part.Alerts, func(a store.Alert) bool { return !gone(a.TransactionID) })
		part.Outbox = filter(part.Outbox, func(o store.OutboxMsg) bool { return o.Ref == "" || !gone(o.Ref) })
		for _, q := range deferred {
			p.addQuarantined(part, q)
		}
	}
}

func filter[T any](xs []T, keep func(T) bool) []T {
	out := xs[:0]
	for _, x := range xs {
		if keep(x) {
			out = append(out, x)
		}
	}
	return out
}

// resetFenced re-seeks fenced partitions to their stored offsets and
// rebuilds their state. Called by the poll loop with p.mu held.
func (p *Processor) resetFenced(ctx context.Context) {
	p.fencedMu.Lock()
	if len(p.fenced) == 0 {
		p.fencedMu.Unlock()
		return
	}
	parts := make([]int32, 0, len(p.fenced))
	for part := range p.fenced {
		parts = append(parts, part)
	}
	clear(p.fenced)
	p.fencedMu.Unlock()

	stored, err := p.cfg.Store.Offsets(ctx, p.cfg.Group, p.cfg.Topic)
	if err != nil {
		p.log.Error("reading stored offsets after a fence; dropping the partitions until the next assignment", "err", err)
		for _, part := range parts {
			delete(p.parts, part)
		}
		return
	}
	seek := map[int32]kgo.EpochOffset{}
	for _, part := range parts {
		if _, ok := p.parts[part]; !ok {
			continue
		}
		off, ok := stored[part]
		if !ok {
			off = 0
		}
		p.parts[part] = p.newPartState(ctx, part, off)
		seek[part] = kgo.EpochOffset{Epoch: -1, Offset: off}
	}
	if len(seek) > 0 {
		p.cl.SetOffsets(map[string]map[int32]kgo.EpochOffset{p.cfg.Topic: seek})
	}
}

// flush waits until every batch queued so far is committed (or the writers
// have stopped).
func (p *Processor) flush(ctx context.Context) {
	defer func() { _ = recover() }() // the channels are closed at shutdown: nothing left to flush
	ws := make([]*work, len(p.writeChs))
	for i, ch := range p.writeChs {
		ws[i] = &work{done: make(chan struct{})}
		select {
		case ch <- ws[i]:
		case <-ctx.Done():
			return
		}
	}
	for _, w := range ws {
		select {
		case <-w.done:
		case <-ctx.Done():
			return
		}
	}
}
