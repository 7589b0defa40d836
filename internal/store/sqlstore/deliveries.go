package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/shopstream/shopstream/internal/alertroute"
	"github.com/shopstream/shopstream/internal/store"
)

// lockRouter serialises, for the rest of tx, routing and the taking of
// groups and digests among deliverers: an update of the one router row
// (PostgreSQL holds its row lock to the commit; SQLite has one writer).
func lockRouter(ctx context.Context, tx DB) error {
	if _, err := tx.Exec(ctx, "UPDATE alert_router SET turns = turns + 1 WHERE id = 1"); err != nil {
		return fmt.Errorf("locking the alert router: %w", err)
	}
	return nil
}

// RouteAlert implements store.AlertDeliveries.
func (s *Store) RouteAlert(ctx context.Context, outboxID int64, route func(st alertroute.State) error) (bool, error) {
	var routed bool
	err := s.d.Tx(ctx, func(tx DB) error {
		routed = false
		if err := lockRouter(ctx, tx); err != nil {
			return err
		}
		var one int
		err := tx.QueryRow(ctx, "SELECT 1 FROM alert_deliveries WHERE outbox_id = $1 LIMIT 1", outboxID).Scan(&one)
		if err == nil {
			return nil // routed already
		}
		if !errors.Is(err, ErrNoRows) {
			return fmt.Errorf("looking for earlier routing: %w", err)
		}
		if err := route(&routeState{ctx: ctx, tx: tx, outboxID: outboxID}); err != nil {
			return err
		}
		routed = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("routing alert of outbox message %d: %w", outboxID, err)
	}
	return routed, nil
}

// routeState is alertroute.State over the deliveries table inside the
// routing transaction.
type routeState struct {
	ctx      context.Context
	tx       DB
	outboxID int64
}

func (r *routeState) Seen(dest, key string, since time.Time) (bool, error) {
	var one int
	err := r.tx.QueryRow(r.ctx, `SELECT 1 FROM alert_deliveries WHERE destination = $1 AND alert_key = $2 AND created_at >= $3
		AND bundle = '' AND status <> 'deduplicated' LIMIT 1`, dest, key, since).Scan(&one)
	if errors.Is(err, ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

func (r *routeState) Messages(dest string, since time.Time) (int, error) {
	var n int
	err := r.tx.QueryRow(r.ctx, `SELECT count(*) FROM alert_deliveries WHERE destination = $1 AND counts = 1 AND created_at >= $2`,
		dest, since).Scan(&n)
	return n, err
}

func (r *routeState) OpenBundle(dest string, kind alertroute.Bundle, key string, now time.Time) (int64, bool, error) {
	var id int64
	err := r.tx.QueryRow(r.ctx, `SELECT id FROM alert_deliveries WHERE destination = $1 AND bundle = $2 AND bundle_key = $3
		AND status = 'pending' AND sealed = 0 AND due_at > $4 ORDER BY id DESC LIMIT 1`, dest, string(kind), key, now).Scan(&id)
	if errors.Is(err, ErrNoRows) {
		return 0, false, nil
	}
	return id, err == nil, err
}

func (r *routeState) Add(rec alertroute.Record) (int64, error) {
	var outbox, bundle any
	if rec.Bundle == alertroute.Single {
		outbox = r.outboxID
	}
	if rec.BundleID != 0 {
		bundle = rec.BundleID
	}
	counts := 0
	if rec.Counts {
		counts = 1
	}
	var id int64
	err := r.tx.QueryRow(r.ctx, `INSERT INTO alert_deliveries (outbox_id, destination, rule, status, bundle, bundle_key, bundle_id,
			alert_kind, alert_key, severity, category, summary, payload, counts, created_at, due_at, next_attempt_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $16) RETURNING id`,
		outbox, rec.Destination, rec.Rule, string(rec.Status), string(rec.Bundle), rec.BundleKey, bundle,
		rec.Kind, rec.Key, rec.Severity.String(), rec.Category, Sanitize(rec.Summary), rec.Payload, counts, rec.At, rec.DueAt).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("recording the %s delivery to %s: %w", rec.Status, rec.Destination, err)
	}
	return id, nil
}

const deliveryCols = `id, coalesce(outbox_id, 0), destination, rule, status, bundle, bundle_key, coalesce(bundle_id, 0), alert_kind,
	alert_key, severity, category, summary, payload, members, created_at, due_at, attempts, last_attempt_at, last_error, delivered_at`

func scanDelivery(r Rows) (d store.Delivery, err error) {
	var status, bundle string
	err = r.Scan(&d.ID, &d.OutboxID, &d.Destination, &d.Rule, &status, &bundle, &d.BundleKey, &d.BundleID, &d.Kind,
		&d.Key, &d.Severity, &d.Category, &d.Summary, &d.Payload, &d.MemberCount, &d.CreatedAt, &d.DueAt, &d.Attempts,
		&d.LastAttempt, &d.LastError, &d.DeliveredAt)
	d.Status, d.Bundle = alertroute.Status(status), alertroute.Bundle(bundle)
	d.CreatedAt, d.DueAt = d.CreatedAt.UTC(), d.DueAt.UTC()
	d.LastAttempt, d.DeliveredAt = utcp(d.LastAttempt), utcp(d.DeliveredAt)
	return d, err
}

// DeliverAlerts implements store.AlertDeliveries. As with the outbox, no
// transaction is open while send runs: due messages are claimed with a
// lease (groups and digests sealed, their members read) in one short
// transaction, sent, and their outcomes recorded in another.
func (s *Store) DeliverAlerts(ctx context.Context, limit int, now time.Time, send func(*store.Delivery) store.DeliveryOutcome) (int, int, error) {
	var ds []store.Delivery
	err := s.d.Tx(ctx, func(tx DB) error {
		if err := lockRouter(ctx, tx); err != nil {
			return err
		}
		var err error
		ds, err = collect(ctx, tx, `UPDATE alert_deliveries SET next_attempt_at = $1, sealed = CASE WHEN bundle = '' THEN 0 ELSE 1 END
			WHERE id IN (SELECT id FROM alert_deliveries WHERE status = 'pending' AND next_attempt_at <= $2
				ORDER BY id LIMIT $3`+s.q.SkipLocked+`)
			RETURNING `+deliveryCols, []any{now.Add(store.DeliveryLease), now, limit}, scanDelivery)
		if err != nil {
			return fmt.Errorf("claiming due deliveries: %w", err)
		}
		for i := range ds {
			if ds[i].Bundle == alertroute.Single {
				continue
			}
			ds[i].Members, err = collect(ctx, tx, `SELECT alert_kind, category, severity, summary, payload FROM alert_deliveries
				WHERE bundle_id = $1 ORDER BY id`, []any{ds[i].ID}, func(r Rows) (m alertroute.Member, err error) {
				var sev string
				err = r.Scan(&m.Kind, &m.Category, &sev, &m.Summary, &m.Payload)
				m.Severity, _ = alertroute.ParseSeverity(sev)
				return m, err
			})
			if err != nil {
				return fmt.Errorf("reading the alerts of %s %d: %w", ds[i].Bundle, ds[i].ID, err)
			}
		}
		return nil
	})
	if err != nil || len(ds) == 0 {
		return 0, 0, err
	}
	outs := make([]store.DeliveryOutcome, len(ds))
	for i := range ds {
		outs[i] = send(&ds[i])
	}
	sent, failed := 0, 0
	err = s.d.Tx(ctx, func(tx DB) error {
		sent, failed = 0, 0
		for i, o := range outs {
			d := &ds[i]
			var err error
			switch {
			case o.Deferred:
				_, err = tx.Exec(ctx, "UPDATE alert_deliveries SET next_attempt_at = $1 WHERE id = $2", o.RetryAt, d.ID)
			case o.Err == nil:
				sent++
				_, err = tx.Exec(ctx, `UPDATE alert_deliveries SET status = 'sent', delivered_at = $1, last_attempt_at = $1,
					attempts = attempts + 1, members = $2, last_error = '' WHERE id = $3`, o.At, len(d.Members), d.ID)
			case o.GiveUp:
				failed++
				_, err = tx.Exec(ctx, `UPDATE alert_deliveries SET status = 'failed', last_attempt_at = $1, attempts = attempts + 1,
					members = $2, last_error = $3 WHERE id = $4`, o.At, len(d.Members), Sanitize(o.Err.Error()), d.ID)
			default:
				failed++
				_, err = tx.Exec(ctx, `UPDATE alert_deliveries SET last_attempt_at = $1, attempts = attempts + 1,
					last_error = $2, next_attempt_at = $3 WHERE id = $4`, o.At, Sanitize(o.Err.Error()), o.RetryAt, d.ID)
			}
			if err != nil {
				return fmt.Errorf("recording the outcome of delivery %d: %w", d.ID, err)
			}
		}
		return nil
	})
	if err != nil {
		return 0, 0, err
	}
	return sent, failed, nil
}

// Deliveries implements store.AlertDeliveries.
func (s *Store) Deliveries(ctx context.Context, f store.DeliveryFilter) ([]store.Delivery, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	var where []string
	var args []any
	arg := func(cond string, v any) {
		args = append(args, v)
		where = append(where, strings.ReplaceAll(cond, "?", "$"+strconv.Itoa(len(args))))
	}
	if f.Destination != "" {
		arg("destination = ?", f.Destination)
	}
	if f.Status != "" {
		arg("status = ?", f.Status)
	}
	if !f.Since.IsZero() {
		arg("created_at >= ?", f.Since)
	}
	if f.BeforeID > 0 {
		arg("id < ?", f.BeforeID)
	}
	q := "SELECT " + deliveryCols + " FROM alert_deliveries"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	args = append(args, f.Limit)
	q += " ORDER BY id DESC LIMIT $" + strconv.Itoa(len(args))
	ds, err := collect(ctx, s.d.DB(), q, args, scanDelivery)
	if err != nil {
		return nil, fmt.Errorf("reading alert deliveries: %w", err)
	}
	return ds, nil
}

// PruneDeliveries implements store.AlertDeliveries.
func (s *Store) PruneDeliveries(ctx context.Context, before time.Time, batch int) (int64, error) {
	if batch <= 0 {
		batch = 1000
	}
	var total int64
	for {
		var n int64
		err := s.d.Tx(ctx, func(tx DB) error {
			var err error
			n, err = tx.Exec(ctx, `DELETE FROM alert_deliveries WHERE id IN (SELECT d.id FROM alert_deliveries d
				WHERE d.created_at < $1 AND d.status <> 'pending' AND NOT EXISTS (
					SELECT 1 FROM alert_deliveries b WHERE b.id = d.bundle_id AND b.status = 'pending')
				ORDER BY d.id LIMIT $2)`, before, batch)
			return err
		})
		if err != nil {
			return total, fmt.Errorf("pruning alert deliveries: %w", err)
		}
		total += n
		if n < int64(batch) {
			return total, nil
		}
	}
}
