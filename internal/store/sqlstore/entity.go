package sqlstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shopstream/shopstream/internal/store"
)

// WriteEntityBatch implements store.Entities.
func (s *Store) WriteEntityBatch(ctx context.Context, b *store.EntityBatch) error {
	if len(b.Parts) == 0 {
		return nil
	}
	err := s.d.Tx(ctx, func(tx DB) error { return s.writeEntityBatch(ctx, tx, b) })
	if err == nil {
		return nil
	}
	for i := range b.Parts {
		for j := range b.Parts[i].Upgrades {
			b.Parts[i].Upgrades[j].Applied = false // rolled back
		}
	}
	if _, fenced := store.IsFenced(err); fenced || errors.Is(err, store.ErrAlreadyCommitted) {
		return err
	}
	if c, msg := s.d.Classify(err); c != Transient {
		return &store.RejectedError{Message: Sanitize(msg), Err: err}
	}
	return fmt.Errorf("writing an entity batch: %w", err)
}

func (s *Store) writeEntityBatch(ctx context.Context, tx DB, b *store.EntityBatch) error {
	// The offsets are fenced exactly as a transactions batch's are.
	ob := &store.Batch{Group: b.Group, Topic: b.Topic, Owner: b.Owner, Generation: b.Generation,
		Parts: make([]store.Part, len(b.Parts))}
	for i, p := range b.Parts {
		ob.Parts[i] = store.Part{Partition: p.Partition, From: p.From, To: p.To}
	}
	stored, err := s.d.LockOffsets(ctx, tx, ob)
	if err != nil {
		return fmt.Errorf("locking offsets: %w", err)
	}
	if err := store.Fence(ob, stored); err != nil {
		return err
	}
	now := s.now()
	var events, rings, outbox [][]any
	for i := range b.Parts {
		p := &b.Parts[i]
		if !p.PruneBefore.IsZero() {
			if _, err := tx.Exec(ctx, `DELETE FROM entity_events WHERE kafka_partition = $1 AND event_time < $2`,
				p.Partition, p.PruneBefore); err != nil {
				return fmt.Errorf("pruning entity events of partition %d: %w", p.Partition, err)
			}
		}
		for _, e := range p.Events {
			events = append(events, []any{p.Partition, Sanitize(e.Entity), e.TransactionID, e.CustomerID, Sanitize(e.Card),
				e.EventTime, e.Customers, e.Transactions, e.Cards})
		}
		for _, o := range p.Outbox {
			outbox = append(outbox, []any{o.Kind, o.Target, o.Key, o.Headers, o.Payload, now, now})
		}
		for _, r := range p.Rings {
			members, _ := json.Marshal(r.Members)
			ents, _ := json.Marshal(r.Entities)
			rings = append(rings, []any{r.Key, p.Partition, len(r.Members), string(members), string(ents), Sanitize(r.Reason),
				r.TransactionID, r.FirstEventTime, r.LastEventTime, r.ProducedAt, now, now})
		}
	}
	if len(events) > 0 {
		if err := s.d.Insert(ctx, tx, "entity_events", []string{"kafka_partition", "entity", "transaction_id", "customer_id", "card",
			"event_time", "customers", "transactions", "cards"}, events); err != nil {
			return fmt.Errorf("inserting %d entity events: %w", len(events), err)
		}
	}
	if len(rings) > 0 {
		// A ring keeps when it was first detected and its first event.
		if err := s.d.Upsert(ctx, tx, "entity_rings", []string{"ring_key", "kafka_partition", "member_count", "members", "entities",
			"reason", "transaction_id", "first_event_time", "last_event_time", "produced_at", "detected_at", "updated_at"},
			`ON CONFLICT (ring_key) DO UPDATE SET kafka_partition = excluded.kafka_partition, member_count = excluded.member_count,
				members = excluded.members, entities = excluded.entities, reason = excluded.reason,
				transaction_id = excluded.transaction_id, last_event_time = excluded.last_event_time,
				produced_at = excluded.produced_at, updated_at = excluded.updated_at`, rings); err != nil {
			return fmt.Errorf("upserting %d rings: %w", len(rings), err)
		}
	}
	var fold store.RollupFold
	upgraded, err := s.writeEntityUpgrades(ctx, tx, b.Parts, &fold)
	if err != nil {
		return err
	}
	outbox = append(outbox, upgraded...)
	if len(outbox) > 0 {
		if err := s.d.Insert(ctx, tx, "outbox", []string{"kind", "target", "msg_key", "headers", "payload", "created_at", "next_attempt_at"}, outbox); err != nil {
			return fmt.Errorf("inserting %d alerts into the outbox: %w", len(outbox), err)
		}
	}
	// The rollup rows last, in the slot of the writers outside the
	// streams (store.SlotOther).
	if err := s.upsertRollups(ctx, tx, store.SlotOther, fold.Rows()); err != nil {
		return err
	}
	if err := s.d.AdvanceOffsets(ctx, tx, ob); err != nil {
		return fmt.Errorf("advancing offsets: %w", err)
	}
	if b.BeforeCommit != nil {
		return b.BeforeCommit(ctx)
	}
	return nil
}

// EntityEvents implements store.Entities.
func (s *Store) EntityEvents(ctx context.Context, partition int32, since time.Time, fn func(*store.EntityEvent) error) error {
	var e store.EntityEvent
	return stream(ctx, s.d.DB(), fmt.Sprintf("entity events of partition %d", partition), `SELECT entity, transaction_id, customer_id,
		card, event_time, customers, transactions, cards FROM entity_events WHERE kafka_partition = $1 AND event_time >= $2
		ORDER BY event_time, entity, transaction_id`, []any{partition, since}, func(r Rows) error {
		err := r.Scan(&e.Entity, &e.TransactionID, &e.CustomerID, &e.Card, &e.EventTime, &e.Customers, &e.Transactions, &e.Cards)
		e.EventTime, e.Partition = e.EventTime.UTC(), partition
		return err
	}, func() error { return fn(&e) })
}

// LatestEntityEvent implements store.Entities.
func (s *Store) LatestEntityEvent(ctx context.Context, partition int32) (time.Time, error) {
	var t *time.Time
	if err := s.d.DB().QueryRow(ctx, `SELECT max(event_time) FROM entity_events WHERE kafka_partition = $1`, partition).Scan(&t); err != nil {
		return time.Time{}, fmt.Errorf("reading the latest entity event of partition %d: %w", partition, err)
	}
	if t == nil {
		return time.Time{}, nil
	}
	return t.UTC(), nil
}

// CountEntityRings implements store.Entities.
func (s *Store) CountEntityRings(ctx context.Context, f store.RingFilter) (store.RingCount, error) {
	_, c, err := s.EntityRingPage(ctx, f)
	return c, err
}

// EntityRings implements store.Entities.
func (s *Store) EntityRings(ctx context.Context, f store.RingFilter) ([]store.EntityRing, error) {
	rs, _, err := s.EntityRingPage(ctx, f)
	return rs, err
}

// EntityRingPage implements store.Entities. The entity stage finds rings
// per partition of its repartition topic, so one ring may be stored under
// several keys (found on two partitions, or under an older key before it
// grew) and accounts joined only through entities of two partitions as two
// rings: the stored rings of f's time range are read once and merged where
// they share a member (fraud.MergeRings), and the filters, the counts and
// the page are of the merged rings. The cost is that of the range's rings,
// whatever the page: the dashboard asks for its time range's.
func (s *Store) EntityRingPage(ctx context.Context, f store.RingFilter) ([]store.EntityRing, store.RingCount, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	var conds []string
	var args []any
	if !f.Since.IsZero() {
		args = append(args, f.Since.UTC())
		conds = append(conds, "updated_at >= $"+strconv.Itoa(len(args)))
	}
	if !f.Until.IsZero() {
		args = append(args, f.Until.UTC())
		conds = append(conds, "updated_at < $"+strconv.Itoa(len(args)))
	}
	where := ""
	if len(conds) > 0 {
		where = "WHERE " + strings.Join(conds, " AND ")
	}
	stored, err := collect(ctx, s.d.DB(), `SELECT ring_key, kafka_partition, CAST(members AS TEXT), CAST(entities AS TEXT), reason,
		transaction_id, first_event_time, last_event_time, produced_at, detected_at, updated_at
		FROM entity_rings `+where+` ORDER BY ring_key`, args, func(r Rows) (store.EntityRing, error) {
		var g store.EntityRing
		var members, ents string
		err := r.Scan(&g.Key, &g.Partition, &members, &ents, &g.Reason, &g.TransactionID, &g.FirstEventTime, &g.LastEventTime,
			&g.ProducedAt, &g.DetectedAt, &g.UpdatedAt)
		if err != nil {
			return g, err
		}
		if err := json.Unmarshal([]byte(members), &g.Members); err != nil {
			return g, fmt.Errorf("ring %s: members: %w", g.Key, err)
		}
		if err := json.Unmarshal([]byte(ents), &g.Entities); err != nil {
			return g, fmt.Errorf("ring %s: entities: %w", g.Key, err)
		}
		for _, t := range []*time.Time{&g.FirstEventTime, &g.LastEventTime, &g.ProducedAt, &g.DetectedAt, &g.UpdatedAt} {
			*t = t.UTC()
		}
		return g, nil
	})
	if err != nil {
		return nil, store.RingCount{}, fmt.Errorf("reading entity rings: %w", err)
	}
	merged := store.MergeEntityRings(stored)
	var c store.RingCount
	var page []store.EntityRing
	for _, g := range merged {
		if f.Member != "" && !slices.Contains(g.Members, f.Member) || f.Entity != "" && !slices.Contains(g.Entities, f.Entity) {
			continue
		}
		c.Rings++
		c.Accounts += int64(len(g.Members))
		if a := f.After; a != nil && (g.UpdatedAt.After(a.UpdatedAt) || g.UpdatedAt.Equal(a.UpdatedAt) && g.Key <= a.Key) {
			continue
		}
		if len(page) < limit {
			page = append(page, g)
		}
	}
	if page == nil {
		page = []store.EntityRing{}
	}
	return page, c, nil
}

// ExecScript runs a script of idempotent statements (CREATE … IF NOT
// EXISTS) in one transaction: the entity stage's schema.
func (s *Store) ExecScript(ctx context.Context, script string) error {
	return s.d.Tx(ctx, func(tx DB) error {
		_, err := tx.Exec(ctx, script)
		return err
	})
}
