package web

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shopstream/shopstream/internal/store"
)

// Role is what a route requires of its caller. Roles are ordered: an admin
// may do what an analyst may, an analyst what a viewer may.
type Role int

// Roles. Public routes need no credentials at all.
const (
	Public Role = iota
	Viewer
	Analyst
	Admin
)

func (r Role) String() string {
	switch r {
	case Public:
		return "public"
	case Viewer:
		return store.RoleViewer
	case Analyst:
		return store.RoleAnalyst
	case Admin:
		return store.RoleAdmin
	}
	return "role(" + strconv.Itoa(int(r)) + ")"
}

// ParseRole returns the role of a stored token's role name.
func ParseRole(name string) (Role, error) {
	switch name {
	case store.RoleViewer:
		return Viewer, nil
	case store.RoleAnalyst:
		return Analyst, nil
	case store.RoleAdmin:
		return Admin, nil
	}
	return Public, fmt.Errorf("role %q, want viewer, analyst or admin", name)
}

// OpenAccess says who may use the API without a token while no token is
// stored (none created, or all revoked). As soon as one exists, every
// request needs one (or a session), whatever this says.
type OpenAccess int

const (
	// OpenLoopback, the default, serves requests from a loopback address
	// that name a loopback host (localhost, 127.0.0.1, [::1]) as the
	// admin "local". The host check keeps a web page that rebinds its own
	// name to 127.0.0.1 out.
	OpenLoopback OpenAccess = iota
	// OpenNever requires a token even while none is stored.
	OpenNever
	// OpenAnyone serves every request as the admin "anonymous" while no
	// token is stored: the --insecure-allow-unauthenticated override.
	OpenAnyone
)

// AuthConfig configures authentication, the limits and the security
// headers (auth*.go).
type AuthConfig struct {
	// Tokens verifies API tokens and keeps the audit trail. Defaults to
	// Config.Store when it implements store.Auth (both stores do).
	Tokens store.Auth
	// Open says who may call without a token while none is stored.
	// Defaults to OpenLoopback.
	Open OpenAccess
	// PublicRead lets requests without credentials call the routes that
	// require Viewer (the reads), as "anonymous". Defaults to false.
	PublicRead bool
	// SecureCookie marks the session cookie Secure. It is always set
	// when the server serves TLS; set it too behind a proxy that ends TLS.
	SecureCookie bool
	// CookieMaxAge is how long a sign-in lasts. Defaults to 12 hours.
	CookieMaxAge time.Duration
}

// Principal is who makes a request.
type Principal struct {
	// Actor names them in the audit trail and the logs: "token 3 (ops)",
	// "local" or "anonymous".
	Actor string
	Role  Role
	// TokenID is the token's ID, 0 without one.
	TokenID int64
	// csrf is the CSRF token of a request authenticated by the session
	// cookie; empty otherwise.
	csrf string
}

type principalKey struct{}

// PrincipalFrom returns who makes the request of ctx, when anyone was
// authenticated.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// The token format: "ss1_<id>_<secret>", the secret 32 random bytes in
// unpadded base64url. The ID lets the server fetch one row by its key and
// compare the hash of the secret in constant time; it is not secret.
const tokenPrefix = "ss1_"

// NewToken returns a new token's text for the token stored under id and
// the hash to store (hex SHA-256 of the secret).
//
// SHA-256, not bcrypt or argon2: those slow hashes exist to protect
// passwords, which people pick from a small space an attacker can walk.
// These secrets are 256 random bits; no number of guesses walks that
// space, so a fast hash protects a stolen table just as well and keeps
// every request's check cheap.
func NewToken() (secret, hash string, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", "", fmt.Errorf("reading random bytes for a token: %w", err)
	}
	secret = base64.RawURLEncoding.EncodeToString(b)
	return secret, HashSecret(secret), nil
}

// FormatToken is the text a client presents for the token stored under
// id with secret.
func FormatToken(id int64, secret string) string {
	return tokenPrefix + strconv.FormatInt(id, 10) + "_" + secret
}

// HashSecret is what is stored of a token's secret.
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// parseToken splits a presented token into its ID and secret.
func parseToken(tok string) (id int64, secret string, ok bool) {
	rest, ok := strings.CutPrefix(tok, tokenPrefix)
	if !ok {
		return 0, "", false
	}
	idText, secret, ok := strings.Cut(rest, "_")
	if !ok || secret == "" || len(secret) > 128 {
		return 0, "", false
	}
	id, err := strconv.ParseInt(idText, 10, 64)
	if err != nil || id <= 0 {
		return 0, "", false
	}
	return id, secret, true
}

// hashesMatch compares a stored hash with the hash of a presented secret
// in constant time, so the time taken tells nothing about how much of it
// matched.
func hashesMatch(stored, presented string) bool {
	return subtle.ConstantTimeCompare([]byte(stored), []byte(presented)) == 1
}

// csrfToken is the CSRF token of a session: an HMAC of a fixed text keyed
// by the session's API token. It is bound to the session, needs no state
// on the server (so it survives restarts and works across instances), and
// gives nothing of the token away.
func csrfToken(tok string) string {
	m := hmac.New(sha256.New, []byte(tok))
	m.Write([]byte("shopstream csrf v1"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// errNoCredentials and errBadCredentials are answered 401; the client is
// not told which.
var (
	errNoCredentials  = errors.New("no credentials")
	errBadCredentials = errors.New("credentials not valid")
)

// sessionCookie is the name of the cookie that carries the dashboard's
// token.
const sessionCookie = "shopstream_session"

// auth is the server's authentication state.
type auth struct {
	cfg    AuthConfig
	now    func() time.Time
	logf   func(msg string, args ...any)
	active atomic.Int64 // cached ActiveTokens, or -1 when unknown
	expiry atomic.Int64 // when active is to be read again, Unix nanoseconds

	touchMu sync.Mutex
	touched map[int64]time.Time // last use recorded per token ID

	// verified holds the tokens verified in the last activeTTL, by ID:
	// every API request presents one, and reading its row is most of what
	// a cheap read costs (docs/operations.md, Load test).
	verified sync.Map // int64 -> verifiedToken
}

// verifiedToken is a token found valid, and until when that is reused.
type verifiedToken struct {
	hash  string
	p     Principal
	until int64 // Unix nanoseconds
}

// activeTTL is how long the count of tokens, and a token found valid, are
// reused: a token created or revoked by another process takes effect here
// within it (one created or revoked through this server takes effect at
// once).
const activeTTL = 2 * time.Second

// tokensExist reports whether any token is stored and not revoked. An
// error of the store counts as "yes": authentication stays required.
func (a *auth) tokensExist(ctx context.Context) bool {
	if a.cfg.Tokens == nil {
		return false
	}
	now := a.now().UnixNano()
	if n := a.active.Load(); n >= 0 && now < a.expiry.Load() {
		return n > 0
	}
	n, err := a.cfg.Tokens.ActiveTokens(ctx)
	if err != nil {
		a.logf("counting API tokens failed; requiring one", "err", err)
		return true
	}
	a.active.Store(int64(n))
	a.expiry.Store(now + int64(activeTTL))
	return n > 0
}

// forget drops the cached count after a token changed here.
func (a *auth) forget() {
	a.active.Store(-1)
	a.verified.Clear()
}

// verify checks a presented token and returns its principal.
func (a *auth) verify(ctx context.Context, tok string) (Principal, error) {
	id, secret, ok := parseToken(tok)
	if !ok || a.cfg.Tokens == nil {
		return Principal{}, errBadCredentials
	}
	hash := HashSecret(secret)
	now := a.now().UnixNano()
	if v, ok := a.verified.Load(id); ok {
		if v := v.(verifiedToken); now < v.until && hashesMatch(v.hash, hash) {
			a.touch(ctx, id)
			return v.p, nil
		}
	}
	row, err := a.cfg.Tokens.Token(ctx, id)
	if errors.Is(err, store.ErrUnknownToken) {
		return Principal{}, errBadCredentials
	}
	if err != nil {
		return Principal{}, fmt.Errorf("verifying a token: %w", err)
	}
	if !hashesMatch(row.Hash, hash) || row.RevokedAt != nil {
		return Principal{}, errBadCredentials
	}
	role, err := ParseRole(row.Role)
	if err != nil {
		return Principal{}, errBadCredentials
	}
	a.touch(ctx, id)
	p := Principal{Actor: fmt.Sprintf("token %d (%s)", row.ID, row.Name), Role: role, TokenID: row.ID}
	a.verified.Store(id, verifiedToken{hash: row.Hash, p: p, until: now + int64(activeTTL)})
	return p, nil
}

// touch records a token's use at most once a minute.
func (a *auth) touch(ctx context.Context, id int64) {
	now := a.now()
	a.touchMu.Lock()
	if a.touched == nil {
		a.touched = map[int64]time.Time{}
	}
	last, ok := a.touched[id]
	fresh := !ok || now.Sub(last) >= time.Minute
	if fresh {
		a.touched[id] = now
	}
	a.touchMu.Unlock()
	if fresh {
		if err := a.cfg.Tokens.TouchToken(ctx, id, now); err != nil {
			a.logf("recording a token's use failed", "token", id, "err", err)
		}
	}
}

// authenticate finds who makes r: a bearer token, else the session
// cookie, else the open access of a store without tokens. It returns
// errNoCredentials when there is nobody.
func (a *auth) authenticate(r *http.Request) (Principal, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return Principal{}, errBadCredentials
		}
		return a.verify(r.Context(), strings.TrimSpace(tok))
	}
	if c, err := r.Cookie(sessionCookie); err == nil && c.Value != "" {
		p, err := a.verify(r.Context(), c.Value)
		if err != nil {
			return p, err
		}
		p.csrf = csrfToken(c.Value)
		return p, nil
	}
	switch a.cfg.Open {
	case OpenLoopback:
		if isLoopbackRequest(r) && !a.tokensExist(r.Context()) {
			return Principal{Actor: "local", Role: Admin}, nil
		}
	case OpenAnyone:
		if !a.tokensExist(r.Context()) {
			return Principal{Actor: "anonymous", Role: Admin}, nil
		}
	}
	return Principal{}, errNoCredentials
}

// isLoopbackRequest reports whether r came from a loopback address and
// names a loopback host. A request that a proxy forwarded (it carries
// Forwarded, X-Forwarded-For or X-Real-IP) is not local, whatever its
// connection: a reverse proxy on the same machine would otherwise make
// every client it serves the local admin.
func isLoopbackRequest(r *http.Request) bool {
	for _, h := range []string{"Forwarded", "X-Forwarded-For", "X-Real-Ip", "X-Forwarded-Host"} {
		if len(r.Header.Values(h)) > 0 {
			return false
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return false
	}
	return IsLoopbackHost(r.Host)
}

// IsLoopbackHost reports whether hostport (a Host header or a listen
// address) names only this machine: localhost (and its subdomains), or a
// loopback IP. An empty host (":8050") means every interface: not loopback.
func IsLoopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if host == "" {
		return false
	}
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// stateChanging reports whether a request of method may change state.
func stateChanging(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}
