package sqlstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

// ringConds is the WHERE clause of f's filters (not its page) and its
// arguments, numbered from $1; arg adds one more.
func ringConds(f store.RingFilter) (conds []string, arg func(any) string, args *[]any) {
	args = new([]any)
	arg = func(v any) string {
		*args = append(*args, v)
		return "$" + strconv.Itoa(len(*args))
	}
	// Members and entities are JSON arrays of strings: a value stands
	// quoted in their text.
	for _, c := range []struct{ col, v string }{{"members", f.Member}, {"entities", f.Entity}} {
		if c.v != "" {
			quoted, _ := json.Marshal(c.v)
			conds = append(conds, "CAST("+c.col+" AS TEXT) LIKE "+arg("%"+likeEscape(string(quoted))+"%")+` ESCAPE '\'`)
		}
	}
	if !f.Since.IsZero() {
		conds = append(conds, "updated_at >= "+arg(f.Since.UTC()))
	}
	if !f.Until.IsZero() {
		conds = append(conds, "updated_at < "+arg(f.Until.UTC()))
	}
	return conds, arg, args
}

func ringWhere(conds []string) string {
	if len(conds) == 0 {
		return ""
	}
	return "WHERE " + strings.Join(conds, " AND ")
}

// CountEntityRings implements store.Entities.
func (s *Store) CountEntityRings(ctx context.Context, f store.RingFilter) (store.RingCount, error) {
	conds, _, args := ringConds(f)
	var c store.RingCount
	// The same accounts may be stored as two rings, found on two
	// partitions of the repartition topic through different entities (a
	// device on one, a card on the other): members are sorted, so their
	// text says they are one ring.
	if err := s.d.DB().QueryRow(ctx, `SELECT count(*), coalesce(sum(member_count), 0) FROM
		(SELECT DISTINCT CAST(members AS TEXT) AS m, member_count FROM entity_rings `+ringWhere(conds)+`) AS sets`, *args...).Scan(&c.Rings, &c.Accounts); err != nil {
		return c, fmt.Errorf("counting entity rings: %w", err)
	}
	return c, nil
}

// EntityRings implements store.Entities.
func (s *Store) EntityRings(ctx context.Context, f store.RingFilter) ([]store.EntityRing, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	conds, arg, args := ringConds(f)
	if f.After != nil {
		at := arg(f.After.UpdatedAt.UTC())
		conds = append(conds, "(updated_at < "+at+" OR updated_at = "+at+" AND ring_key > "+arg(f.After.Key)+")")
	}
	lim := arg(limit)
	rings, err := collect(ctx, s.d.DB(), `SELECT ring_key, kafka_partition, CAST(members AS TEXT), CAST(entities AS TEXT), reason,
		transaction_id, first_event_time, last_event_time, produced_at, detected_at, updated_at
		FROM entity_rings `+ringWhere(conds)+` ORDER BY updated_at DESC, ring_key LIMIT `+lim, *args, func(r Rows) (store.EntityRing, error) {
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
		return nil, fmt.Errorf("reading entity rings: %w", err)
	}
	return rings, nil
}

// likeEscape escapes the wildcards of a LIKE pattern (with ESCAPE '\').
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(s)
}

// ExecScript runs a script of idempotent statements (CREATE … IF NOT
// EXISTS) in one transaction: the entity stage's schema.
func (s *Store) ExecScript(ctx context.Context, script string) error {
	return s.d.Tx(ctx, func(tx DB) error {
		_, err := tx.Exec(ctx, script)
		return err
	})
}
