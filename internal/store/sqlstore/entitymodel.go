package sqlstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/shopstream/shopstream/internal/store"
)

// trainingChunk is how many transactions one query of
// EntityTrainingSample looks up.
const trainingChunk = 500

// EntityTrainingSample implements store.EntityTraining: the newest n
// events of the partition, a backward walk of its (kafka_partition,
// event_time) index, then their transactions' decisions, by id within
// the chunk's span of event time (so PostgreSQL looks only in the day
// partitions that hold them; the record's time may carry more digits
// than the stored microseconds).
func (s *Store) EntityTrainingSample(ctx context.Context, partition int32, n int) ([]store.EntityEvent, error) {
	if n <= 0 {
		return nil, nil
	}
	events, err := collect(ctx, s.d.DB(), `SELECT entity, transaction_id, customer_id, card, event_time, customers, transactions, cards
		FROM entity_events WHERE kafka_partition = $1 ORDER BY event_time DESC LIMIT $2`, []any{partition, n},
		func(r Rows) (store.EntityEvent, error) {
			e := store.EntityEvent{Partition: partition}
			err := r.Scan(&e.Entity, &e.TransactionID, &e.CustomerID, &e.Card, &e.EventTime, &e.Customers, &e.Transactions, &e.Cards)
			e.EventTime = e.EventTime.UTC()
			return e, err
		})
	if err != nil {
		return nil, fmt.Errorf("reading the entity events of partition %d: %w", partition, err)
	}
	approved := map[string]bool{}
	for from := 0; from < len(events); from += trainingChunk {
		chunk := events[from:min(from+trainingChunk, len(events))]
		lo, hi := chunk[len(chunk)-1].EventTime, chunk[0].EventTime // newest first
		args := []any{lo.Add(-time.Millisecond), hi.Add(time.Millisecond)}
		var in strings.Builder
		seen := map[string]bool{}
		for _, e := range chunk {
			if seen[e.TransactionID] {
				continue
			}
			seen[e.TransactionID] = true
			if len(args) > 2 {
				in.WriteString(", ")
			}
			args = append(args, e.TransactionID)
			in.WriteString("$" + strconv.Itoa(len(args)))
		}
		ids, err := collect(ctx, s.d.DB(), `SELECT t.transaction_id FROM `+s.q.TxByID+` WHERE t.event_time >= $1 AND t.event_time <= $2
			AND t.decision = 'approve' AND `+s.q.TxKey+` IN (`+in.String()+`)`, args, func(r Rows) (string, error) {
			var id string
			return id, r.Scan(&id)
		})
		if err != nil {
			return nil, fmt.Errorf("reading the decisions of %d entity events of partition %d: %w", len(chunk), partition, err)
		}
		for _, id := range ids {
			approved[id] = true
		}
	}
	out := events[:0]
	for _, e := range events {
		if approved[e.TransactionID] {
			out = append(out, e)
		}
	}
	return out, nil
}

// EntityEventSpan implements store.EntityTraining: the ends of the
// partition's (kafka_partition, event_time) index.
func (s *Store) EntityEventSpan(ctx context.Context, partition int32) (first, last time.Time, err error) {
	var lo, hi *time.Time
	if err := s.d.DB().QueryRow(ctx, `SELECT min(event_time), max(event_time) FROM entity_events WHERE kafka_partition = $1`,
		partition).Scan(&lo, &hi); err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("reading the span of the entity events of partition %d: %w", partition, err)
	}
	if lo != nil {
		first = lo.UTC()
	}
	if hi != nil {
		last = hi.UTC()
	}
	return first, last, nil
}
