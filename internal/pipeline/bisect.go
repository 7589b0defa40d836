package pipeline

import (
	"context"
	"slices"
	"strings"

	"github.com/shopstream/shopstream/internal/quality"
	"github.com/shopstream/shopstream/internal/store"
)

// No record can stall the pipeline: when the store rejects a batch for its
// data (store.RejectedError: a constraint, an encoding, a value out of
// range), writing it again cannot succeed. commit then splits the batch in
// two, in offset order and with each half's offsets contiguous, and writes
// the halves in order, down to the single records the store refuses; each
// of those is quarantined as store_rejected with the database's message,
// and the rest commits with the offsets. A batch of n records with k bad
// ones costs about 2k·log2(n) extra writes.

// commit writes b, bisecting it when the store rejects its data.
func (p *Processor) commit(ctx context.Context, w *writer, b *store.Batch) error {
	err := p.write(ctx, w, b)
	rej, ok := store.IsRejected(err)
	if !ok {
		return err
	}
	p.count("rejected")
	halves := p.splitBatch(b)
	if halves == nil {
		return p.commitRejected(ctx, w, b, rej.Message)
	}
	p.retry("store_rejected")
	p.log.Warn("the database rejected a batch for its data; bisecting it to find the records", "records", batchLen(b), "err", rej.Message)
	for _, h := range halves {
		if err := p.commit(ctx, w, h); err != nil {
			return err
		}
	}
	return nil
}

// commitRejected commits a batch of at most one record that the store
// refused: the record goes to quarantine as store_rejected with msg.
func (p *Processor) commitRejected(ctx context.Context, w *writer, b *store.Batch, msg string) error {
	for i := range b.Parts {
		p.rejectRecord(&b.Parts[i], msg)
		p.log.Error("quarantining a record the database rejected", "partition", b.Parts[i].Partition, "offset", b.Parts[i].From, "err", msg)
	}
	err := p.write(ctx, w, b)
	rej, ok := store.IsRejected(err)
	if !ok {
		return err
	}
	// The quarantine row itself is refused. Keep the offsets moving and say
	// so loudly: a stall would stop every partition of this writer.
	p.count("unstorable")
	for i := range b.Parts {
		part := &b.Parts[i]
		p.log.Error("the database rejects even the quarantine row of a record; committing its offset without it",
			"partition", part.Partition, "from_offset", part.From, "to_offset", part.To, "err", rej.Message)
		*part = store.Part{Partition: part.Partition, From: part.From, To: part.To}
	}
	return p.write(ctx, w, b)
}

// rejectRecord turns the one record of part into a store_rejected
// quarantine row. A record already in quarantine (its quarantine row was
// refused) keeps its reason and has its raw bytes made safe to store.
func (p *Processor) rejectRecord(part *store.Part, msg string) {
	var qs []store.Quarantined
	for _, t := range part.Txs {
		qs = append(qs, store.Quarantined{Reason: string(quality.StoreRejected), Detail: msg, Raw: t.Raw,
			Partition: t.Partition, Offset: t.Offset, Expected: t.ExpectedBad, ReplayOf: t.ReplayOf})
	}
	for _, q := range part.Quarantined {
		q.Detail = strings.ToValidUTF8(strings.ReplaceAll(q.Detail, "\x00", ""), "?") + " (the database refused the raw record: " + msg + ")"
		q.Raw = []byte(strings.ToValidUTF8(strings.ReplaceAll(string(q.Raw), "\x00", ""), "?"))
		qs = append(qs, q)
	}
	kept := part.Outbox[:0]
	for _, o := range part.Outbox {
		if o.Ref == "" && !(o.Kind == "kafka" && o.Target == p.cfg.DeadLetterTopic) {
			kept = append(kept, o) // part-level messages, such as a loss alert
		}
	}
	*part = store.Part{Partition: part.Partition, From: part.From, To: part.To, Outbox: kept, Checkpoint: part.Checkpoint, CheckedAt: part.CheckedAt}
	for _, q := range qs {
		p.addQuarantined(part, q)
	}
}

// splitBatch splits b into two batches in offset order, or returns nil when
// b holds at most one record. Several partitions are split between the
// halves; one partition is split at its middle record.
func (p *Processor) splitBatch(b *store.Batch) []*store.Batch {
	half := func(parts []store.Part) *store.Batch {
		return &store.Batch{Group: b.Group, Topic: b.Topic, Owner: b.Owner, Generation: b.Generation, Parts: parts}
	}
	if len(b.Parts) > 1 {
		k := len(b.Parts) / 2
		return []*store.Batch{half(slices.Clone(b.Parts[:k])), half(slices.Clone(b.Parts[k:]))}
	}
	if len(b.Parts) == 0 || b.Parts[0].Len() < 2 {
		return nil
	}
	a, c := p.splitPart(&b.Parts[0])
	return []*store.Batch{half([]store.Part{a}), half([]store.Part{c})}
}

// splitPart splits part at its middle record into [From, mid) and
// [mid, To). Labels, alerts and outbox messages follow their transaction;
// dead-letter messages are made again from each half's quarantined
// records; other part-level messages (a loss alert) stay with the first
// half, which starts where the part starts; a checkpoint, taken as of To,
// goes with the second.
func (p *Processor) splitPart(part *store.Part) (store.Part, store.Part) {
	offs := make([]int64, 0, part.Len())
	txOff := make(map[string]int64, len(part.Txs))
	for _, t := range part.Txs {
		offs = append(offs, t.Offset)
		txOff[t.TransactionID] = t.Offset
	}
	for _, q := range part.Quarantined {
		offs = append(offs, q.Offset)
	}
	slices.Sort(offs)
	mid := offs[len(offs)/2]
	a := store.Part{Partition: part.Partition, From: part.From, To: mid, CheckedAt: part.CheckedAt}
	c := store.Part{Partition: part.Partition, From: mid, To: part.To, Checkpoint: part.Checkpoint, CheckedAt: part.CheckedAt}
	side := func(off int64) *store.Part {
		if off < mid {
			return &a
		}
		return &c
	}
	for _, t := range part.Txs {
		s := side(t.Offset)
		s.Txs = append(s.Txs, t)
	}
	for _, l := range part.Labels {
		s := side(txOff[l.TransactionID])
		s.Labels = append(s.Labels, l)
	}
	for _, al := range part.Alerts {
		s := side(txOff[al.TransactionID])
		s.Alerts = append(s.Alerts, al)
	}
	for _, o := range part.Outbox {
		switch {
		case o.Ref != "":
			s := side(txOff[o.Ref])
			s.Outbox = append(s.Outbox, o)
		case o.Kind == "kafka" && o.Target == p.cfg.DeadLetterTopic:
			// made again below, with its record
		default:
			a.Outbox = append(a.Outbox, o)
		}
	}
	for _, q := range part.Quarantined {
		p.addQuarantined(side(q.Offset), q)
	}
	return a, c
}
