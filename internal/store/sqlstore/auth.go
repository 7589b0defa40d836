package sqlstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/shopstream/shopstream/internal/store"
)

const tokenCols = `id, name, role, hash, created_at, revoked_at, last_used_at`

func scanToken(r Row) (store.TokenRow, error) {
	var t store.TokenRow
	err := r.Scan(&t.ID, &t.Name, &t.Role, &t.Hash, &t.CreatedAt, &t.RevokedAt, &t.LastUsedAt)
	t.CreatedAt, t.RevokedAt, t.LastUsedAt = t.CreatedAt.UTC(), utcp(t.RevokedAt), utcp(t.LastUsedAt)
	return t, err
}

// CreateToken implements store.Auth.
func (s *Store) CreateToken(ctx context.Context, t *store.TokenRow) (int64, error) {
	if !store.ValidRole(t.Role) {
		return 0, fmt.Errorf("creating token %q: unknown role %q", t.Name, t.Role)
	}
	var id int64
	err := s.d.Tx(ctx, func(tx DB) error {
		return tx.QueryRow(ctx, `INSERT INTO api_tokens (name, role, hash, created_at) VALUES ($1, $2, $3, $4) RETURNING id`,
			t.Name, t.Role, t.Hash, t.CreatedAt.UTC()).Scan(&id)
	})
	if err != nil {
		return 0, fmt.Errorf("creating token %q: %w", t.Name, err)
	}
	return id, nil
}

// Token implements store.Auth.
func (s *Store) Token(ctx context.Context, id int64) (*store.TokenRow, error) {
	t, err := scanToken(s.d.DB().QueryRow(ctx, `SELECT `+tokenCols+` FROM api_tokens WHERE id = $1`, id))
	if errors.Is(err, ErrNoRows) {
		return nil, fmt.Errorf("token %d: %w", id, store.ErrUnknownToken)
	}
	if err != nil {
		return nil, fmt.Errorf("reading token %d: %w", id, err)
	}
	return &t, nil
}

// Tokens implements store.Auth.
func (s *Store) Tokens(ctx context.Context) ([]store.TokenRow, error) {
	ts, err := collect(ctx, s.d.DB(), `SELECT `+tokenCols+` FROM api_tokens ORDER BY id`, nil,
		func(r Rows) (store.TokenRow, error) { return scanToken(r) })
	if err != nil {
		return nil, fmt.Errorf("reading tokens: %w", err)
	}
	return ts, nil
}

// ActiveTokens implements store.Auth.
func (s *Store) ActiveTokens(ctx context.Context) (int, error) {
	var n int
	if err := s.d.DB().QueryRow(ctx, `SELECT count(*) FROM api_tokens WHERE revoked_at IS NULL`).Scan(&n); err != nil {
		return 0, fmt.Errorf("counting tokens: %w", err)
	}
	return n, nil
}

// RevokeToken implements store.Auth.
func (s *Store) RevokeToken(ctx context.Context, id int64, at time.Time) (*store.TokenRow, error) {
	var before store.TokenRow
	err := s.d.Tx(ctx, func(tx DB) error {
		var err error
		if before, err = scanToken(tx.QueryRow(ctx, `SELECT `+tokenCols+` FROM api_tokens WHERE id = $1`, id)); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL`, at.UTC(), id)
		return err
	})
	if errors.Is(err, ErrNoRows) {
		return nil, fmt.Errorf("token %d: %w", id, store.ErrUnknownToken)
	}
	if err != nil {
		return nil, fmt.Errorf("revoking token %d: %w", id, err)
	}
	return &before, nil
}

// TouchToken implements store.Auth.
func (s *Store) TouchToken(ctx context.Context, id int64, at time.Time) error {
	if _, err := s.d.DB().Exec(ctx, `UPDATE api_tokens SET last_used_at = $1 WHERE id = $2`, at.UTC(), id); err != nil {
		return fmt.Errorf("recording the use of token %d: %w", id, err)
	}
	return nil
}

// auditJSON is the stored form of a before or after state: valid JSON,
// "null" for none.
func auditJSON(v json.RawMessage) string {
	if len(v) == 0 || !json.Valid(v) {
		return "null"
	}
	return string(v)
}

// RecordAudit implements store.Auth.
func (s *Store) RecordAudit(ctx context.Context, e *store.AuditEntry) (int64, error) {
	at := e.At
	if at.IsZero() {
		at = s.now()
	}
	var id int64
	err := s.d.Tx(ctx, func(tx DB) error {
		return tx.QueryRow(ctx, `INSERT INTO audit (at, actor, action, target, before, after) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
			at.UTC(), Sanitize(e.Actor), Sanitize(e.Action), Sanitize(e.Target), auditJSON(e.Before), auditJSON(e.After)).Scan(&id)
	})
	if err != nil {
		return 0, fmt.Errorf("recording %s of %q by %s in the audit trail: %w", e.Action, e.Target, e.Actor, err)
	}
	return id, nil
}

// AuditEntries implements store.Auth.
func (s *Store) AuditEntries(ctx context.Context, f store.AuditFilter) ([]store.AuditEntry, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	before := f.BeforeID
	if before <= 0 {
		before = 1<<63 - 1
	}
	args := []any{before}
	where := "id < $1"
	and := func(cond string, v any) {
		args = append(args, v)
		where += " AND " + cond + " $" + strconv.Itoa(len(args))
	}
	for _, c := range []struct{ col, v string }{{"actor", f.Actor}, {"action", f.Action}, {"target", f.Target}} {
		if c.v != "" {
			and(c.col+" =", c.v)
		}
	}
	if !f.Since.IsZero() {
		and("at >=", f.Since.UTC())
	}
	if !f.Until.IsZero() {
		and("at <", f.Until.UTC())
	}
	args = append(args, limit)
	es, err := collect(ctx, s.d.DB(), `SELECT id, at, actor, action, target, before, after FROM audit
		WHERE `+where+` ORDER BY id DESC LIMIT $`+strconv.Itoa(len(args)), args,
		func(r Rows) (store.AuditEntry, error) {
			var e store.AuditEntry
			var b, a string
			err := r.Scan(&e.ID, &e.At, &e.Actor, &e.Action, &e.Target, &b, &a)
			e.At, e.Before, e.After = e.At.UTC(), json.RawMessage(b), json.RawMessage(a)
			return e, err
		})
	if err != nil {
		return nil, fmt.Errorf("reading the audit trail: %w", err)
	}
	return es, nil
}

// Alert returns the alert of one transaction as it is now, or an error
// wrapping store.ErrUnknownAlert: the state an analyst's label changes,
// which the audit trail records as "before".
func (s *Store) Alert(ctx context.Context, transactionID string) (*store.AlertRecord, error) {
	a, err := scanAlert(s.d.DB().QueryRow(ctx, `SELECT `+alertCols+` FROM alerts WHERE transaction_id = $1`, transactionID))
	if errors.Is(err, ErrNoRows) {
		return nil, fmt.Errorf("transaction %q: %w", transactionID, store.ErrUnknownAlert)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the alert of transaction %s: %w", transactionID, err)
	}
	return &a, nil
}

var _ store.Auth = (*Store)(nil)
