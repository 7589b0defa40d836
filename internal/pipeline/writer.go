package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/shopstream/shopstream/internal/quality"
	"github.com/shopstream/shopstream/internal/store"
)

// work is one batch for a writer.
type work struct {
	batch *store.Batch
	trace *batchTrace
}

// writer commits the batches of its share of the partitions in order. The
// poll loop is the only sender on ch and the only one that closes it; the
// writer drains ch until it is closed, so shutdown needs no other signal.
// A failed write is retried until it succeeds or ctx ends: nothing is
// skipped, so a lost database stalls the pipeline (and, through the bounded
// channel, the consumer) instead of losing records.
type writer struct {
	p  *Processor
	ch chan *work

	mu        sync.Mutex
	queued    int64         // batches handed to ch so far
	done      int64         // batches written (or given up) so far
	stopped   bool          // Run has returned
	changed   chan struct{} // closed and replaced whenever done or stopped changes
	busySince time.Time     // when the backlog last grew from empty
}

func newWriter(p *Processor) *writer {
	return &writer{p: p, ch: make(chan *work, 2), changed: make(chan struct{})}
}

// enqueue hands w a batch; it blocks while the writer is two batches behind,
// so a slow database slows polling. Only the poll loop calls it.
func (w *writer) enqueue(ctx context.Context, b *store.Batch, bt *batchTrace) error {
	w.mu.Lock()
	if w.queued == w.done {
		w.busySince = w.p.cfg.Now()
	}
	w.queued++
	w.mu.Unlock()
	select {
	case w.ch <- &work{batch: b, trace: bt}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Run writes batches until ch is closed and drained, or ctx ends.
func (w *writer) Run(ctx context.Context) error {
	defer w.advance(0, true)
	for wk := range w.ch {
		var cps []pendingCheckpoint
		if w.p.cps != nil {
			cps = w.p.cps.take(wk.batch)
		}
		_, span := w.p.cfg.Tracer.Start(wk.trace.context(), "write",
			trace.WithAttributes(attribute.Int("records", batchLen(wk.batch)), attribute.Int("partitions", len(wk.batch.Parts))))
		err := w.p.commit(trace.ContextWithSpan(ctx, span), w, wk.batch)
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, "write failed")
		}
		span.End()
		wk.trace.done()
		if err != nil {
			return err
		}
		if w.p.cps != nil {
			w.p.cps.add(cps)
		}
		w.advance(1, false)
	}
	return nil
}

func (w *writer) advance(n int64, stop bool) {
	w.mu.Lock()
	w.done += n
	w.stopped = w.stopped || stop
	close(w.changed)
	w.changed = make(chan struct{})
	w.mu.Unlock()
}

// wait returns once every batch queued before the call is written, the
// writer has stopped, or ctx ends.
func (w *writer) wait(ctx context.Context) {
	w.mu.Lock()
	target := w.queued
	w.mu.Unlock()
	for {
		w.mu.Lock()
		ok, ch := w.done >= target || w.stopped, w.changed
		w.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return
		}
	}
}

// backlog is the number of batches queued and not yet written, and since
// when the writer has had a backlog.
func (w *writer) backlog() (int64, time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.queued - w.done, w.busySince
}

// flush waits until every batch queued so far is committed (or the writers
// have stopped). It sends nothing, so it is safe at any time, also after
// shutdown closed the channels.
func (p *Processor) flush(ctx context.Context) {
	for _, w := range p.writers {
		w.wait(ctx)
	}
}

// newBackOff is the wait between attempts of a write that failed for a
// transient reason: exponential from 100 ms to 10 s with ±50% jitter, so
// processors that lost the database together do not retry in step.
func newBackOff() *backoff.ExponentialBackOff {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = 100 * time.Millisecond
	b.MaxInterval = 10 * time.Second
	b.Multiplier = 2
	b.RandomizationFactor = 0.5
	return b
}

// write commits b, retrying transient errors with backoff until ctx ends.
// A *store.RejectedError is returned at once (see commit).
func (p *Processor) write(ctx context.Context, w *writer, b *store.Batch) error {
	attempt := 0
	_, err := backoff.Retry(ctx, func() (struct{}, error) {
		attempt++
		return struct{}{}, p.attempt(ctx, b, attempt)
	}, backoff.WithBackOff(newBackOff()), backoff.WithMaxElapsedTime(0),
		backoff.WithNotify(func(err error, next time.Duration) {
			p.retry("store_transient")
			p.health.noteRetry(w, p.cfg.Now(), partitions(b), "store_transient", err)
			p.log.Error("writing batch failed; retrying", "attempt", attempt, "backoff", next.Round(time.Millisecond), "err", err)
		}))
	p.health.noteWritten(w)
	if err != nil {
		return fmt.Errorf("writing batch of %d records: %w", batchLen(b), err)
	}
	return nil
}

// attempt writes b once. Fenced partitions and duplicates are settled at
// once (they need no wait); what is left is returned for a retry, and an
// error that ctx ended is permanent.
func (p *Processor) attempt(ctx context.Context, b *store.Batch, attempt int) error {
	for {
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
			// The store traces its transaction's commit under ctx's
			// "write" span.
			trace.SpanFromContext(ctx).SetAttributes(attribute.Int("attempts", attempt))
			p.committed(b, p.cfg.Now(), time.Since(start))
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
			p.health.noteFenced(p.cfg.Now(), f.Partitions)
			select {
			case p.wake <- struct{}{}:
			default:
			}
			continue
		}
		if d, ok := store.IsDuplicate(err); ok {
			p.count("duplicate")
			p.log.Warn("transactions already stored; quarantining them as duplicates", "count", len(d.IDs), "first", d.IDs[0])
			before := batchLen(b) - batchTxs(b)
			p.quarantineDuplicates(b, d)
			if batchLen(b)-batchTxs(b) == before {
				// Nothing matched: writing again would loop. Treat it as a
				// transient error, retried with backoff.
				return fmt.Errorf("the store reported duplicates not in the batch: %w", err)
			}
			continue
		}
		if _, ok := store.IsRejected(err); ok || ctx.Err() != nil {
			return backoff.Permanent(err) // rejected: bisected by commit
		}
		p.count("retry")
		return err
	}
}

func partitions(b *store.Batch) []int32 {
	out := make([]int32, len(b.Parts))
	for i := range b.Parts {
		out[i] = b.Parts[i].Partition
	}
	return out
}

func batchTxs(b *store.Batch) int {
	n := 0
	for i := range b.Parts {
		n += len(b.Parts[i].Txs)
	}
	return n
}

func batchLen(b *store.Batch) int {
	n := 0
	for i := range b.Parts {
		n += b.Parts[i].Len()
	}
	return n
}

func (p *Processor) count(kind string) {
	if p.cfg.Metrics != nil {
		p.cfg.Metrics.WriteErrors.WithLabelValues(kind).Inc()
		p.cfg.Metrics.Errors.WithLabelValues("write", kind).Inc()
	}
}

// retry counts one retry of the given kind.
func (p *Processor) retry(kind string) {
	if p.cfg.Metrics != nil {
		p.cfg.Metrics.Retries.WithLabelValues(kind).Inc()
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
	p.noteReplays(b)
	p.committedLosses(b)
	p.groupCommit.note(b)
	to := make(map[int32]int64, len(b.Parts))
	for i := range b.Parts {
		to[b.Parts[i].Partition] = b.Parts[i].To
	}
	p.health.noteCommit(at, to)
	if m := p.cfg.Metrics; m != nil {
		m.Records.WithLabelValues("stored").Add(float64(n))
		m.Records.WithLabelValues("quarantined").Add(float64(q))
		m.Batches.Inc()
		m.BatchSize.Observe(float64(n + q))
		m.WriteTime.Observe(took.Seconds())
		m.StageDuration.WithLabelValues("write").Observe(took.Seconds())
		if q > 0 {
			for i := range b.Parts {
				for j := range b.Parts[i].Quarantined {
					m.Quarantined.WithLabelValues(m.checks.value(b.Parts[i].Quarantined[j].Reason)).Inc()
				}
			}
		}
		for i := range b.Parts {
			for j := range b.Parts[i].Txs {
				if pt := b.Parts[i].Txs[j].ProducedAt; pt.IsZero() {
					continue
				} else if d := at.Sub(pt); d >= 0 {
					m.Latency.Observe(d.Seconds())
				} else {
					m.ProducedAhead.Inc()
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

// quarantineDuplicates moves the transactions the store reported as
// already stored out of b into quarantine, with their labels, alerts and
// outbox messages. When the store names the copies (d.Copies), exactly
// those records go, each naming the stored one: the same id on two
// partitions of one batch keeps its first copy. Otherwise every record
// with a listed id goes. Repeats within a partition cannot reach here: the
// partition's dedup ring catches them first.
func (p *Processor) quarantineDuplicates(b *store.Batch, d *store.DuplicateError) {
	type loc struct {
		part int32
		off  int64
	}
	copies := make(map[loc]store.DuplicateCopy, len(d.Copies))
	for _, c := range d.Copies {
		copies[loc{c.Partition, c.Offset}] = c
	}
	ids := make(map[string]bool, len(d.IDs))
	for _, id := range d.IDs {
		ids[id] = true
	}
	detail := func(t *store.Tx) (string, bool) {
		if len(copies) == 0 {
			return "transaction_id " + t.TransactionID + " is stored already", ids[t.TransactionID]
		}
		c, ok := copies[loc{t.Partition, t.Offset}]
		if c.KeptOffset < 0 {
			return "transaction_id " + t.TransactionID + " is stored already (where its copy was stored is not recorded)", ok
		}
		return fmt.Sprintf("transaction_id %s is stored already, at partition %d offset %d", t.TransactionID, c.KeptPartition, c.KeptOffset), ok
	}
	for i := range b.Parts {
		part := &b.Parts[i]
		var deferred []store.Quarantined
		dup := map[string]bool{} // ids are unique within a part
		kept := part.Txs[:0]
		for _, t := range part.Txs {
			if why, ok := detail(&t); ok {
				dup[t.TransactionID] = true
				deferred = append(deferred, store.Quarantined{
					Reason: string(quality.DuplicateID), Detail: why,
					Raw: t.Raw, Partition: t.Partition, Offset: t.Offset, Expected: t.ExpectedBad, ReplayOf: t.ReplayOf,
				})
				continue
			}
			kept = append(kept, t)
		}
		if len(dup) == 0 {
			continue
		}
		part.Txs = kept
		part.Labels = filter(part.Labels, func(l store.Label) bool { return !dup[l.TransactionID] })
		part.Alerts = filter(part.Alerts, func(a store.Alert) bool { return !dup[a.TransactionID] })
		part.Outbox = filter(part.Outbox, func(o store.OutboxMsg) bool { return o.Ref == "" || !dup[o.Ref] })
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
// rebuilds their state. Called by the poll loop with p.mu held; it returns
// the partitions it reset, whose records in the current poll were fetched
// before the seek and must be dropped.
func (p *Processor) resetFenced(ctx context.Context) map[int32]bool {
	p.fencedMu.Lock()
	if len(p.fenced) == 0 {
		p.fencedMu.Unlock()
		return nil
	}
	reset := make(map[int32]bool, len(p.fenced))
	for part := range p.fenced {
		reset[part] = true
	}
	clear(p.fenced)
	p.fencedMu.Unlock()

	stored, err := p.cfg.Store.Offsets(ctx, p.cfg.Group, p.cfg.Topic)
	if err != nil {
		p.log.Error("reading stored offsets after a fence; dropping the partitions until the next assignment", "err", err)
		for part := range reset {
			delete(p.parts, part)
		}
		return reset
	}
	seek := map[int32]kgo.EpochOffset{}
	for part := range reset {
		if _, ok := p.parts[part]; !ok {
			continue
		}
		off, ok := stored[part]
		if ok {
			p.health.noteStored(part, off)
		} else {
			off = 0
			p.health.noteStored(part, -1)
		}
		p.parts[part] = p.newPartState(ctx, part, off)
		seek[part] = kgo.EpochOffset{Epoch: -1, Offset: off}
	}
	if len(seek) > 0 {
		p.cl.SetOffsets(map[string]map[int32]kgo.EpochOffset{p.cfg.Topic: seek})
	}
	return reset
}

// batchTrace is the span of one polled batch, shared by the writers its
// parts went to: it ends when the last of them has written its share.
type batchTrace struct {
	ctx  context.Context
	span trace.Span
	left atomic.Int32
}

// traceBatch starts b's span (from when its poll began) with its poll
// and process children, for the writers of the non-nil subs. It returns
// nil when there is nothing to write.
func (p *Processor) traceBatch(b *store.Batch, subs []*store.Batch, polled, fetched, processed time.Time) *batchTrace {
	if b == nil {
		return nil
	}
	tr := p.cfg.Tracer
	ctx, root := tr.Start(context.Background(), "shopstream.batch", trace.WithTimestamp(polled), trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(attribute.Int("records", batchLen(b)), attribute.Int("partitions", len(b.Parts)),
			attribute.String("messaging.destination.name", b.Topic), attribute.String("messaging.consumer.group.name", b.Group)))
	_, poll := tr.Start(ctx, "poll", trace.WithTimestamp(polled))
	poll.End(trace.WithTimestamp(fetched))
	_, proc := tr.Start(ctx, "process", trace.WithTimestamp(fetched))
	proc.End(trace.WithTimestamp(processed))
	bt := &batchTrace{ctx: ctx, span: root}
	n := int32(0)
	for _, s := range subs {
		if s != nil {
			n++
		}
	}
	bt.left.Store(n)
	if n == 0 {
		root.End()
	}
	return bt
}

// context is the batch span's context (a background one for nil).
func (bt *batchTrace) context() context.Context {
	if bt == nil {
		return context.Background()
	}
	return bt.ctx
}

// done notes one writer finished with the batch; the last ends its span.
func (bt *batchTrace) done() {
	if bt != nil && bt.left.Add(-1) == 0 {
		bt.span.End()
	}
}
