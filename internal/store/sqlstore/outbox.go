package sqlstore

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/shopstream/shopstream/internal/store"
)

// OutboxLease is how long a claimed outbox message is not handed to
// another deliverer: a deliverer that crashed after claiming gives its
// messages back when the lease runs out.
const OutboxLease = time.Minute

// DeliverOutbox implements store.Store. No transaction or row lock is held
// while send runs: due messages are claimed with a lease in one short
// transaction (PostgreSQL skips rows another deliverer is claiming), sent,
// then marked delivered or failed in another.
func (s *Store) DeliverOutbox(ctx context.Context, limit int, send func(*store.OutboxMsg) error) (delivered, failed int, err error) {
	return s.DeliverOutboxBatch(ctx, limit, func(msgs []store.OutboxMsg) []error {
		errs := make([]error, len(msgs))
		for i := range msgs {
			errs[i] = send(&msgs[i])
		}
		return errs
	})
}

// DeliverOutboxBatch implements store.OutboxBatchDeliverer: DeliverOutbox
// with the claimed messages handed to send at once, in id order, so that
// they can be sent together (produced to Kafka without waiting for each
// acknowledgement); send returns one error (or nil) per message.
func (s *Store) DeliverOutboxBatch(ctx context.Context, limit int, send func([]store.OutboxMsg) []error) (delivered, failed int, err error) {
	var msgs []store.OutboxMsg
	now := s.now()
	// Due first, in the order of the partial index of pending messages
	// (outbox_pending_idx): ordered by id alone, SQLite walked the whole
	// table, delivered rows included, on every poll, which grew with the
	// outbox until the retention pruned it. The claimed messages are sent
	// in id order below.
	err = s.d.Tx(ctx, func(tx DB) error {
		var err error
		msgs, err = collect(ctx, tx, `UPDATE outbox SET next_attempt_at = $1
			WHERE id IN (SELECT id FROM outbox WHERE delivered_at IS NULL AND next_attempt_at <= $2
				ORDER BY next_attempt_at, id LIMIT $3`+s.q.SkipLocked+`)
			RETURNING id, kind, target, msg_key, headers, payload, attempts, created_at`,
			[]any{now.Add(OutboxLease), now, limit}, func(r Rows) (m store.OutboxMsg, err error) {
				err = r.Scan(&m.ID, &m.Kind, &m.Target, &m.Key, &m.Headers, &m.Payload, &m.Attempts, &m.CreatedAt)
				m.CreatedAt = m.CreatedAt.UTC()
				return m, err
			})
		return err
	})
	if err != nil {
		return 0, 0, fmt.Errorf("claiming outbox messages: %w", err)
	}
	if len(msgs) == 0 {
		return 0, 0, nil
	}
	slices.SortFunc(msgs, func(a, b store.OutboxMsg) int { return int(a.ID - b.ID) })
	type failure struct {
		id   int64
		msg  string
		next time.Time
	}
	var ok []int64
	var bad []failure
	errs := send(msgs)
	for i := range msgs {
		m := &msgs[i]
		if serr := errs[i]; serr != nil {
			bad = append(bad, failure{m.ID, serr.Error(), s.now().Add(store.OutboxBackoff(m.Attempts))})
			continue
		}
		ok = append(ok, m.ID)
	}
	err = s.d.Tx(ctx, func(tx DB) error {
		at := s.now()
		if err := markDelivered(ctx, tx, at, ok); err != nil {
			return err
		}
		for _, f := range bad {
			if _, err := tx.Exec(ctx, "UPDATE outbox SET attempts = attempts + 1, last_error = $1, next_attempt_at = $2 WHERE id = $3",
				Sanitize(f.msg), f.next, f.id); err != nil {
				return fmt.Errorf("recording outbox failure of message %d: %w", f.id, err)
			}
		}
		return nil
	})
	if err != nil {
		return 0, 0, err
	}
	return len(ok), len(bad), nil
}

// deliveredPerStatement is the most ids one UPDATE of markDelivered names,
// well under SQLite's 32,766 and PostgreSQL's 65,535 parameters.
const deliveredPerStatement = 500

// markDelivered marks the messages ids delivered at at, with one UPDATE
// per deliveredPerStatement of them: one statement per message was parsed
// and planned once per message (database/sql keeps no prepared statement
// between calls), 12.7 s of the relay's 22.6 s of CPU on SQLite in a
// -race profile of TestRunEntities.
func markDelivered(ctx context.Context, tx DB, at time.Time, ids []int64) error {
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), deliveredPerStatement)]
		ids = ids[len(chunk):]
		in, args := placeholders(chunk, 2)
		if _, err := tx.Exec(ctx, "UPDATE outbox SET delivered_at = $1 WHERE id IN ("+in+")", append([]any{at}, args...)...); err != nil {
			return fmt.Errorf("marking %d outbox messages delivered (ids %d to %d): %w", len(chunk), chunk[0], chunk[len(chunk)-1], err)
		}
	}
	return nil
}

// PruneOutbox deletes delivered messages delivered before deliveredBefore,
// at most batch rows per transaction, and returns how many it deleted.
func (s *Store) PruneOutbox(ctx context.Context, deliveredBefore time.Time, batch int) (int64, error) {
	if batch <= 0 {
		batch = 1000
	}
	var total int64
	for {
		var n int64
		err := s.d.Tx(ctx, func(tx DB) error {
			var err error
			n, err = tx.Exec(ctx, `DELETE FROM outbox WHERE id IN (SELECT id FROM outbox
				WHERE delivered_at IS NOT NULL AND delivered_at < $1 ORDER BY id LIMIT $2)`, deliveredBefore, batch)
			return err
		})
		if err != nil {
			return total, fmt.Errorf("pruning delivered outbox messages: %w", err)
		}
		total += n
		if n < int64(batch) {
			return total, nil
		}
	}
}

// OutboxDrained implements store.OutboxBacklog: one row of the partial
// index of pending messages at most.
func (s *Store) OutboxDrained(ctx context.Context) (bool, error) {
	var pending bool
	if err := s.d.DB().QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM outbox WHERE delivered_at IS NULL)`).Scan(&pending); err != nil {
		return false, fmt.Errorf("looking for pending outbox messages: %w", err)
	}
	return !pending, nil
}

// OutboxBacklog implements store.OutboxBacklog with the partial index of
// pending messages.
func (s *Store) OutboxBacklog(ctx context.Context) (pending int64, oldest time.Time, err error) {
	var first *time.Time
	err = s.d.DB().QueryRow(ctx, `SELECT count(*), min(created_at) FROM outbox WHERE delivered_at IS NULL`).Scan(&pending, &first)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("counting pending outbox messages: %w", err)
	}
	if first != nil {
		oldest = first.UTC()
	}
	return pending, oldest, nil
}
