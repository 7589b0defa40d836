package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// Auth keeps the API tokens and the audit trail of changes made through
// the API and the CLI. Both the PostgreSQL and the SQLite store implement
// it; storetest.RunAuth is its conformance suite.
type Auth interface {
	// CreateToken stores a new token (its Name, Role, Hash and
	// CreatedAt) and returns its ID. The secret itself is never stored.
	CreateToken(ctx context.Context, t *TokenRow) (int64, error)
	// Token returns one token, revoked or not, or an error wrapping
	// ErrUnknownToken.
	Token(ctx context.Context, id int64) (*TokenRow, error)
	// Tokens lists every token, revoked ones too, by ID.
	Tokens(ctx context.Context) ([]TokenRow, error)
	// ActiveTokens counts the tokens not revoked: none means no
	// authentication is configured.
	ActiveTokens(ctx context.Context) (int, error)
	// RevokeToken marks a token revoked at at and returns it as it was
	// before; revoking it again changes nothing (the first revocation
	// stays). An unknown ID is an error wrapping ErrUnknownToken.
	RevokeToken(ctx context.Context, id int64, at time.Time) (before *TokenRow, err error)
	// TouchToken records that a token was used at at.
	TouchToken(ctx context.Context, id int64, at time.Time) error

	// RecordAudit appends e to the audit trail and returns its ID.
	RecordAudit(ctx context.Context, e *AuditEntry) (int64, error)
	// AuditEntries returns the newest entries first that match f.
	AuditEntries(ctx context.Context, f AuditFilter) ([]AuditEntry, error)
}

// ErrUnknownToken reports a token ID that is not stored.
var ErrUnknownToken = errors.New("no such token")

// Roles of API tokens, from least to most allowed.
const (
	RoleViewer  = "viewer"
	RoleAnalyst = "analyst"
	RoleAdmin   = "admin"
)

// ValidRole reports whether r is a role a token may have.
func ValidRole(r string) bool { return r == RoleViewer || r == RoleAnalyst || r == RoleAdmin }

// TokenRow is a stored API token.
type TokenRow struct {
	ID   int64
	Name string
	Role string
	// Hash is the SHA-256 of the token's secret, hex-encoded.
	Hash       string
	CreatedAt  time.Time
	RevokedAt  *time.Time
	LastUsedAt *time.Time
}

// AuditEntry is one change: who made it, what, to what, when, and the
// state before and after (JSON; "null" where there is none).
type AuditEntry struct {
	ID int64
	At time.Time
	// Actor is who made the change: "token 3 (ops)", "local", "cli (user)".
	Actor string
	// Action names the change, e.g. "alert.label", "fraud_model.promote".
	Action string
	// Target is what it changed, e.g. a transaction or token ID.
	Target string
	Before json.RawMessage
	After  json.RawMessage
}

// AuditFilter selects audit entries.
type AuditFilter struct {
	// Limit is the most entries returned; 0 means 100.
	Limit int
	// BeforeID, when above 0, returns only entries with a lower ID: the
	// next page of an earlier answer.
	BeforeID int64
	// Actor, Action and Target, when set, keep the entries with exactly
	// that actor, action or target.
	Actor, Action, Target string
	// Since and Until, when not zero, keep the entries made at or after
	// Since and before Until.
	Since, Until time.Time
}
