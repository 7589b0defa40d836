package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/shopstream/shopstream/internal/store"
)

// The session, token and audit API (docs/security.md):
//
//	POST   /api/v1/session        {"token": "ss1_…"}: sign in; sets the session cookie
//	GET    /api/v1/session        who is signed in, with the CSRF token
//	DELETE /api/v1/session        sign out
//	GET    /api/v1/tokens         the tokens (admin)
//	POST   /api/v1/tokens         {"name": "…", "role": "viewer"}: a new token, shown once (admin)
//	DELETE /api/v1/tokens/{id}    revoke a token (admin)
//	GET    /api/v1/audit?limit=100&cursor=C      the audit trail, newest first (admin)

// SessionRequest is the body of POST /api/v1/session.
type SessionRequest struct {
	Token string `json:"token"`
}

// SessionResponse is who is signed in: the body of GET and POST
// /api/v1/session.
type SessionResponse struct {
	Actor string `json:"actor"`
	Role  string `json:"role"`
	// CSRFToken is the X-CSRF-Token header every change made with the
	// session cookie must carry; empty when the session is not a cookie's.
	CSRFToken string `json:"csrf_token,omitempty"`
	// Open is true when nobody needs to sign in (no token exists yet).
	Open bool `json:"open"`
}

// decodeJSON decodes exactly one JSON value of type T, refusing unknown
// fields and anything after it: the one decoder of the auth API's bodies.
func decodeJSON[T any](body []byte, what string) (T, error) {
	var v T
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return v, fmt.Errorf("%w: the body must be %s: %v", ErrBadRequest, what, err)
	}
	if dec.More() {
		return v, fmt.Errorf("%w: the body must be %s, and nothing after it", ErrBadRequest, what)
	}
	return v, nil
}

func readBody(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, fmt.Errorf("%w: reading the body: %v", ErrBadRequest, err)
	}
	return b, nil
}

func (s *Server) sessionCreate(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(r)
	if err != nil {
		WriteError(w, err)
		return
	}
	req, err := decodeJSON[SessionRequest](body, `{"token": "ss1_…"}`)
	if err != nil {
		WriteError(w, err)
		return
	}
	p, err := s.auth.verify(r.Context(), strings.TrimSpace(req.Token))
	if errors.Is(err, errBadCredentials) {
		s.log.Warn("sign-in refused", "addr", clientAddr(r))
		WriteError(w, fmt.Errorf("%w: the token is not valid (unknown, mistyped or revoked)", ErrUnauthorized))
		return
	}
	if err != nil {
		WriteError(w, err)
		return
	}
	tok := strings.TrimSpace(req.Token)
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: tok, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: s.cfg.Auth.SecureCookie || s.cfg.TLS.enabled(), MaxAge: int(s.cfg.Auth.CookieMaxAge / time.Second)})
	s.log.Info("signed in", "actor", p.Actor, "addr", clientAddr(r))
	WriteJSON(w, http.StatusOK, SessionResponse{Actor: p.Actor, Role: p.Role.String(), CSRFToken: csrfToken(tok)})
}

func (s *Server) sessionGet(w http.ResponseWriter, r *http.Request) {
	p, err := s.auth.authenticate(r)
	switch {
	case errors.Is(err, errNoCredentials), errors.Is(err, errBadCredentials):
		WriteError(w, fmt.Errorf("%w: not signed in", ErrUnauthorized))
		return
	case err != nil:
		WriteError(w, err)
		return
	}
	WriteJSON(w, http.StatusOK, SessionResponse{Actor: p.Actor, Role: p.Role.String(), CSRFToken: p.csrf, Open: p.TokenID == 0})
}

func (s *Server) sessionDelete(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: s.cfg.Auth.SecureCookie || s.cfg.TLS.enabled(), MaxAge: -1})
	w.WriteHeader(http.StatusNoContent)
}

// TokenJSON is a token as the API shows it: never its secret or hash.
type TokenJSON struct {
	ID         int64      `json:"id"`
	Name       string     `json:"name"`
	Role       string     `json:"role"`
	CreatedAt  time.Time  `json:"created_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
}

func tokenJSON(t *store.TokenRow) TokenJSON {
	return TokenJSON{ID: t.ID, Name: t.Name, Role: t.Role, CreatedAt: t.CreatedAt, RevokedAt: t.RevokedAt, LastUsedAt: t.LastUsedAt}
}

// CreateTokenRequest is the body of POST /api/v1/tokens.
type CreateTokenRequest struct {
	Name string `json:"name"`
	Role string `json:"role"`
}

// CreatedToken is a new token with its text, which is shown this once.
type CreatedToken struct {
	TokenJSON
	Token string `json:"token"`
}

// ValidateTokenName checks a token's name: 1 to 64 printable characters.
func ValidateTokenName(name string) error {
	if name == "" || len(name) > 64 {
		return fmt.Errorf("name %q: want 1 to 64 characters", name)
	}
	for _, r := range name {
		if !unicode.IsPrint(r) {
			return fmt.Errorf("name %q: only printable characters", name)
		}
	}
	return nil
}

// CreateToken stores a new token of role named name and returns it with
// its text, which is nowhere else: the store keeps only its hash.
func CreateToken(ctx context.Context, st store.Auth, name, role string, now time.Time) (CreatedToken, error) {
	if err := ValidateTokenName(name); err != nil {
		return CreatedToken{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if _, err := ParseRole(role); err != nil {
		return CreatedToken{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	secret, hash, err := NewToken()
	if err != nil {
		return CreatedToken{}, err
	}
	row := store.TokenRow{Name: name, Role: role, Hash: hash, CreatedAt: now.UTC().Truncate(time.Microsecond)}
	if row.ID, err = st.CreateToken(ctx, &row); err != nil {
		return CreatedToken{}, err
	}
	return CreatedToken{TokenJSON: tokenJSON(&row), Token: FormatToken(row.ID, secret)}, nil
}

// TokensResponse is the body of GET /api/v1/tokens.
type TokensResponse struct {
	Tokens []TokenJSON `json:"tokens"`
	// NextCursor, when more tokens remain, is the cursor of the next page.
	NextCursor string `json:"next_cursor,omitempty"`
}

// tokensList serves the tokens by ID: ?role=&state=active|revoked&name=
// &limit=100&cursor=.
func (s *Server) tokensList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, cursor, err := listQuery(q, 100)
	var role, state string
	if err == nil {
		role, err = oneOf(q, "role", store.RoleViewer, store.RoleAnalyst, store.RoleAdmin)
	}
	if err == nil {
		state, err = oneOf(q, "state", "active", "revoked")
	}
	var afterID int64
	if err == nil && cursor != "" {
		afterID, err = intCursor(cursor)
	}
	if err != nil {
		WriteError(w, err)
		return
	}
	ts, err := s.auth.cfg.Tokens.Tokens(r.Context())
	if err != nil {
		WriteError(w, err)
		return
	}
	var out []TokenJSON
	for i := range ts {
		t := &ts[i]
		if role != "" && t.Role != role || state == "active" && t.RevokedAt != nil || state == "revoked" && t.RevokedAt == nil ||
			q.Get("name") != "" && t.Name != q.Get("name") {
			continue
		}
		out = append(out, tokenJSON(t))
	}
	var after func(TokenJSON) bool
	if afterID != 0 {
		after = func(t TokenJSON) bool { return t.ID > afterID }
	}
	resp := TokensResponse{}
	resp.Tokens, resp.NextCursor = pageOf(out, limit, after, func(t TokenJSON) string { return strconv.FormatInt(t.ID, 10) })
	if resp.Tokens == nil {
		resp.Tokens = []TokenJSON{}
	}
	WriteJSON(w, http.StatusOK, resp)
}

func (s *Server) tokensCreate(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(r)
	if err != nil {
		WriteError(w, err)
		return
	}
	req, err := decodeJSON[CreateTokenRequest](body, `{"name": "…", "role": "viewer"|"analyst"|"admin"}`)
	if err != nil {
		WriteError(w, err)
		return
	}
	t, err := CreateToken(r.Context(), s.auth.cfg.Tokens, req.Name, req.Role, s.auth.now())
	if err != nil {
		WriteError(w, err)
		return
	}
	s.auth.forget()
	Audit(r, "token.create", strconv.FormatInt(t.ID, 10), nil, t.TokenJSON)
	WriteJSON(w, http.StatusCreated, t)
}

func (s *Server) tokensRevoke(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		WriteError(w, fmt.Errorf("%w: token id %q is not a positive integer", ErrBadRequest, r.PathValue("id")))
		return
	}
	before, err := s.auth.cfg.Tokens.RevokeToken(r.Context(), id, s.auth.now())
	if errors.Is(err, store.ErrUnknownToken) {
		err = fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	if err != nil {
		WriteError(w, err)
		return
	}
	s.auth.forget()
	after, err := s.auth.cfg.Tokens.Token(r.Context(), id)
	if err != nil {
		WriteError(w, err)
		return
	}
	Audit(r, "token.revoke", strconv.FormatInt(id, 10), tokenJSON(before), tokenJSON(after))
	WriteJSON(w, http.StatusOK, tokenJSON(after))
}

// AuditJSON is one entry of GET /api/v1/audit.
type AuditJSON struct {
	ID     int64           `json:"id"`
	At     time.Time       `json:"at"`
	Actor  string          `json:"actor"`
	Action string          `json:"action"`
	Target string          `json:"target"`
	Before json.RawMessage `json:"before"`
	After  json.RawMessage `json:"after"`
}

// AuditResponse is the body of GET /api/v1/audit.
type AuditResponse struct {
	Entries []AuditJSON `json:"entries"`
	// NextCursor, when present, is the cursor of the next (older) page,
	// as the other lists have it; absent on the last page.
	NextCursor string `json:"next_cursor,omitempty"`
	// NextBeforeID is the same as a before_id; 0 when this page is the
	// last. Kept for the clients written before cursors.
	NextBeforeID int64 `json:"next_before_id"`
}

// parseAuditQuery reads ?limit=1..1000&cursor=C (or before_id=N, the same).
func parseAuditQuery(q url.Values) (store.AuditFilter, error) {
	var f store.AuditFilter
	limit, cursor, err := pageQuery(q, 100)
	if err != nil {
		return f, err
	}
	f.Limit, f.BeforeID = limit, cursor
	if v := q.Get("before_id"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			return f, fmt.Errorf("%w: before_id %q is not a positive integer", ErrBadRequest, v)
		}
		if cursor != 0 && cursor != n {
			return f, fmt.Errorf("%w: cursor %d and before_id %d disagree; give one", ErrBadRequest, cursor, n)
		}
		f.BeforeID = n
	}
	f.Actor, f.Action, f.Target = q.Get("actor"), q.Get("action"), q.Get("target")
	f.Since, f.Until, err = timeRange(q)
	return f, err
}

func (s *Server) auditList(w http.ResponseWriter, r *http.Request) {
	f, err := parseAuditQuery(r.URL.Query())
	if err != nil {
		WriteError(w, err)
		return
	}
	es, err := s.auth.cfg.Tokens.AuditEntries(r.Context(), f)
	if err != nil {
		WriteError(w, err)
		return
	}
	resp := AuditResponse{Entries: make([]AuditJSON, len(es))}
	for i, e := range es {
		resp.Entries[i] = AuditJSON{ID: e.ID, At: e.At, Actor: e.Actor, Action: e.Action, Target: e.Target, Before: e.Before, After: e.After}
	}
	if len(es) == f.Limit {
		resp.NextBeforeID = es[len(es)-1].ID
		resp.NextCursor = strconv.FormatInt(resp.NextBeforeID, 10)
	}
	WriteJSON(w, http.StatusOK, resp)
}
