package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/internal/store"
)

// Records lost to retention.
//
// Offsets a consumer skips over are normal in Kafka: transaction markers,
// records of aborted transactions and compaction all leave gaps, so a gap
// says nothing. Records count as lost only when the broker's log start
// offset has moved past the stored position; the processor asks the broker
// when a partition is assigned and when a fetch reports that the offset is
// out of range. A loss is then made explicit, never skipped silently: an
// error log line naming the partition and the range when it is found, and,
// in the same database transaction as the batch that moves the stored
// offset past it, an alert in the outbox (to the alerts topic and every
// webhook); once that commits, shopstream_records_lost_total counts the
// range.

// LossAlertKind is the key of loss alerts on the alerts topic.
const LossAlertKind = "records_lost"

// LossAlert is the payload of the alert sent when records were lost.
type LossAlert struct {
	// Kind is LossAlertKind.
	Kind string `json:"kind"`
	// Reason is why: "retention" (the broker deleted them unread).
	Reason    string `json:"reason"`
	Group     string `json:"group"`
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	// FromOffset and ToOffset bound the lost offsets [FromOffset, ToOffset).
	FromOffset int64 `json:"from_offset"`
	ToOffset   int64 `json:"to_offset"`
	// Count is ToOffset - FromOffset: offsets, not all of which need have
	// held records (transaction markers take offsets too).
	Count int64 `json:"count"`
}

// logStarts asks the broker for the log start offset of every partition of
// the topic.
func (p *Processor) logStarts(ctx context.Context) (map[int32]int64, error) {
	listed, err := p.adm.ListStartOffsets(ctx, p.cfg.Topic)
	if err != nil {
		return nil, fmt.Errorf("listing the log start offsets of %s: %w", p.cfg.Topic, err)
	}
	out := map[int32]int64{}
	listed.Each(func(o kadm.ListedOffset) {
		if o.Err == nil && o.Offset >= 0 {
			out[o.Partition] = o.Offset
		}
	})
	return out, nil
}

// lose records that [from, to) of part is no longer in the log.
func (p *Processor) lose(part int32, from, to int64) *lostRange {
	p.log.Error("records lost: the broker deleted them (retention) before they were stored; the next commit records the loss and alerts",
		"topic", p.cfg.Topic, "partition", part, "from_offset", from, "to_offset", to, "count", to-from)
	return &lostRange{from: from, to: to}
}

// outOfRange handles partitions whose fetch offset the log no longer
// holds. Called by the poll loop with p.mu held.
func (p *Processor) outOfRange(ctx context.Context, parts []int32) {
	starts, err := p.logStarts(ctx)
	if err != nil {
		p.log.Error("fetch offset out of range and the log start is unknown; retrying", "partitions", parts, "err", err)
	}
	seek := map[int32]kgo.EpochOffset{}
	for _, part := range parts {
		ps := p.parts[part]
		if ps == nil {
			continue
		}
		start, ok := starts[part]
		switch {
		case !ok:
			seek[part] = kgo.EpochOffset{Epoch: -1, Offset: max(ps.pos, 0)}
		case ps.pos < 0:
			seek[part] = kgo.EpochOffset{Epoch: -1, Offset: start}
		case start > ps.pos:
			if ps.lost != nil {
				ps.lost.to = start
			} else {
				ps.lost = p.lose(part, ps.pos, start)
			}
			seek[part] = kgo.EpochOffset{Epoch: -1, Offset: start}
		default:
			// The stored position is past the log end: the broker lost
			// records it had acknowledged, or the topic was recreated.
			// Nothing is skipped: the partition stays stopped (franz-go
			// keeps it failed) and is reported until an operator acts or a
			// rebalance seeks it again.
			if !ps.beyondEnd {
				p.log.Error("fetch offset out of range past the log end: the broker lost acknowledged records or the topic was recreated; the partition stays stopped until an operator acts",
					"partition", part, "stored_offset", ps.pos, "log_start", start)
			}
			p.health.noteBeyondEnd(part, fmt.Sprintf("stored offset %d", ps.pos))
			ps.beyondEnd = true
		}
	}
	if len(seek) > 0 {
		p.cl.SetOffsets(map[string]map[int32]kgo.EpochOffset{p.cfg.Topic: seek})
	}
}

// lostAlert adds the alert about a lost range to part, whose offsets then
// start at the range's start.
func (p *Processor) lostAlert(part *store.Part, l lostRange) {
	part.From = l.from
	payload, _ := json.Marshal(LossAlert{Kind: LossAlertKind, Reason: "retention", Group: p.cfg.Group, Topic: p.cfg.Topic,
		Partition: part.Partition, FromOffset: l.from, ToOffset: l.to, Count: l.to - l.from})
	hdr, _ := json.Marshal(map[string]string{"shopstream-alert": LossAlertKind, "shopstream-partition": strconv.Itoa(int(part.Partition))})
	part.Outbox = append(part.Outbox, store.OutboxMsg{Kind: "kafka", Target: p.cfg.AlertsTopic, Key: []byte(LossAlertKind), Headers: hdr, Payload: payload})
	for _, w := range p.cfg.Webhooks {
		part.Outbox = append(part.Outbox, store.OutboxMsg{Kind: "webhook", Target: w, Payload: payload})
	}
}

// committedLosses counts the loss alerts of a committed batch.
func (p *Processor) committedLosses(b *store.Batch) {
	for i := range b.Parts {
		for _, o := range b.Parts[i].Outbox {
			if o.Kind != "kafka" || o.Target != p.cfg.AlertsTopic || string(o.Key) != LossAlertKind {
				continue
			}
			var a LossAlert
			if json.Unmarshal(o.Payload, &a) != nil {
				continue
			}
			p.lostTotal.Add(a.Count)
			if m := p.cfg.Metrics; m != nil {
				m.RecordsLost.WithLabelValues(strconv.Itoa(int(a.Partition)), a.Reason).Add(float64(a.Count))
			}
			p.log.Error("records lost to retention are recorded and alerted", "partition", a.Partition,
				"from_offset", a.FromOffset, "to_offset", a.ToOffset, "count", a.Count)
		}
	}
}
