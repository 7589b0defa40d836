package web

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/shopstream/shopstream/internal/quality"
	"github.com/shopstream/shopstream/internal/store"
)

// Access is what the route table declares of a route: the role it
// requires, and whether it streams its answer (no write deadline and no
// request timeout then).
type Access struct {
	Role   Role
	Stream bool
	// Query marks a POST that only asks (scoring a transaction): it
	// changes nothing, so it leaves no entry in the audit trail.
	Query bool
}

// Limits bound what one client may ask of the server. A zero field takes
// its default; a negative rate turns that limit off.
type Limits struct {
	// MaxBody is the largest request body, in bytes; a larger one is
	// answered 413. Defaults to 1 MiB.
	MaxBody int64
	// RequestTimeout bounds each request's work, database calls
	// included (503 past it). Defaults to 30 s.
	RequestTimeout time.Duration
	// AddrRate and AddrBurst limit the API requests of one client
	// address, per second (429 with Retry-After past them). Default to 50
	// and 100.
	AddrRate  float64
	AddrBurst int
	// TokenRate and TokenBurst limit the requests of one token. Default
	// to 100 and 200.
	TokenRate  float64
	TokenBurst int
	// ReadTimeout, WriteTimeout and IdleTimeout are the http.Server's.
	// Default to 15 s, 60 s and 120 s.
	ReadTimeout  time.Duration
	WriteTimeout time.Duration
	IdleTimeout  time.Duration
	// ReadHeaderTimeout is the http.Server's: how long a client may take
	// to send a request's headers. Defaults to 10 s, or ReadTimeout if
	// that is shorter.
	ReadHeaderTimeout time.Duration
	// MaxHeaderBytes bounds the request line and headers. Defaults to
	// 64 KiB. Past it the server answers 431 in the API's error shape;
	// net/http itself reads at most headerHardLimit of this (twice as
	// much) and answers past that in plain text before any handler runs.
	MaxHeaderBytes int
	// MaxStreams bounds the live streams (GET /api/v1/stream) open at
	// once, and MaxStreamsPerClient those of one client (its token or
	// session, else its address): each holds a connection, and a file
	// descriptor, for as long as it lasts, which no request rate bounds
	// (429 with Retry-After past them). Default to 256 and 16; negative
	// turns the bound off.
	MaxStreams          int
	MaxStreamsPerClient int
}

// WithDefaults fills in the zero fields.
func (l Limits) WithDefaults() Limits {
	def := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	if l.MaxBody == 0 {
		l.MaxBody = 1 << 20
	}
	def(&l.RequestTimeout, 30*time.Second)
	def(&l.ReadTimeout, 15*time.Second)
	def(&l.WriteTimeout, 60*time.Second)
	def(&l.IdleTimeout, 120*time.Second)
	def(&l.ReadHeaderTimeout, min(10*time.Second, l.ReadTimeout))
	if l.AddrRate == 0 {
		l.AddrRate = 50
	}
	if l.AddrBurst == 0 {
		l.AddrBurst = 100
	}
	if l.TokenRate == 0 {
		l.TokenRate = 100
	}
	if l.TokenBurst == 0 {
		l.TokenBurst = 200
	}
	if l.MaxHeaderBytes == 0 {
		l.MaxHeaderBytes = 64 << 10
	}
	if l.MaxStreams == 0 {
		l.MaxStreams = 256
	}
	if l.MaxStreamsPerClient == 0 {
		l.MaxStreamsPerClient = 16
	}
	return l
}

func (l Limits) validate() error {
	switch {
	case l.MaxBody < 0:
		return fmt.Errorf("max body %d: must not be negative", l.MaxBody)
	case l.RequestTimeout < 0 || l.ReadTimeout < 0 || l.WriteTimeout < 0 || l.IdleTimeout < 0 || l.ReadHeaderTimeout < 0:
		return errors.New("timeouts must not be negative")
	case l.AddrRate > 0 && l.AddrBurst < 1, l.TokenRate > 0 && l.TokenBurst < 1:
		return errors.New("a rate limit's burst must be at least 1")
	}
	return nil
}

// Error kinds of the guard, mapped to their status by WriteError.
var (
	ErrUnauthorized     = errors.New("unauthorized")
	ErrForbidden        = errors.New("forbidden")
	ErrTooLarge         = errors.New("request body too large")
	ErrHeaderTooLarge   = errors.New("request headers too large")
	ErrUnsupportedMedia = errors.New("unsupported media type")
	ErrTooManyRequests  = errors.New("too many requests")
)

// securityHeaders are set on every answer. The CSP allows scripts and
// styles from the server's own files only (the dashboard has no inline
// script or style), and no framing.
var securityHeaders = map[string]string{
	"Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
		"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
	"X-Content-Type-Options":       "nosniff",
	"X-Frame-Options":              "DENY",
	"Referrer-Policy":              "no-referrer",
	"Cross-Origin-Opener-Policy":   "same-origin",
	"Cross-Origin-Resource-Policy": "same-origin",
}

// responseWriter remembers the status written, and carries what WriteError
// needs to log an error it does not show: the request's ID and logger.
//
// It also gives the API's error shape to the errors net/http writes as
// plain text (http.Error: the dashboard's file server, the mux's 405 and
// 404, promhttp): such an error's text is held back and, when the handler
// returns, finish writes an ErrorResponse with the same status instead.
type responseWriter struct {
	http.ResponseWriter
	status int
	id     string
	log    *slog.Logger
	method string
	path   string
	// plain is the status of a plain-text error held back, 0 for none;
	// plainText is its text (at most 1 KiB).
	plain     int
	plainText []byte
}

func (w *responseWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
		if code >= 400 && strings.HasPrefix(w.Header().Get("Content-Type"), "text/plain") {
			w.plain = code
			return
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.plain != 0 {
		w.plainText = append(w.plainText, b[:min(len(b), 1024-len(w.plainText))]...)
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

// finish writes the plain-text error held back, if any, as an
// ErrorResponse with its status: the text is shown for a client's error
// (4xx) and logged for the server's.
func (w *responseWriter) finish() {
	code := w.plain
	if code == 0 {
		return
	}
	w.plain = 0
	text := strings.TrimSpace(string(w.plainText))
	if text == "" {
		text = strings.ToLower(http.StatusText(code))
	}
	h := w.Header()
	h.Del("Content-Length")
	msg, kind := fmt.Sprintf("%s %s: %s", w.method, w.path, text), statusCode(code)
	if code == http.StatusMethodNotAllowed && h.Get("Allow") != "" {
		msg += "; it takes " + h.Get("Allow")
	}
	if code >= 500 {
		w.log.Error("request failed", "status", code, "err", text)
		msg = "internal error; the server's log has the details under request_id " + w.id
	}
	WriteJSON(w.ResponseWriter, code, ErrorResponse{ErrorDetail{Code: kind, Message: msg}})
}

// statusCode is the ErrorResponse code of an HTTP status: the code of its
// error kind, else bad_request for a client's error and internal for the
// server's.
func statusCode(status int) string {
	for _, k := range errorKinds {
		if k.status == status {
			return k.code
		}
	}
	if status < 500 {
		return "bad_request"
	}
	return "internal"
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func requestID() string {
	b := make([]byte, 8)
	rand.Read(b) //nolint:errcheck // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

// guard wraps the handler of one route with everything the route table
// asks of it, in order: the client address's rate limit (API routes),
// authentication (401) and the route's role (403), the CSRF token of a
// cookie session (403), the token's rate limit (429), and for requests
// that change state the origin (403), a JSON content type (415) and the
// body size (413). It then bounds the request's time, and records a
// change in the audit trail when the handler did not.
func (s *Server) guard(pattern string, acc Access, next http.Handler) http.Handler {
	method, _, _ := strings.Cut(pattern, " ")
	changing := stateChanging(method)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/") {
			if ok, wait := s.addrLimit.allow(clientAddr(r)); !ok {
				tooMany(w, wait, "this address")
				return
			}
		}
		var p Principal
		if acc.Role != Public {
			var err error
			p, err = s.auth.authenticate(r)
			switch {
			case errors.Is(err, errNoCredentials) && acc.Role == Viewer && s.cfg.Auth.PublicRead:
				p, err = Principal{Actor: "anonymous", Role: Viewer}, nil
			case errors.Is(err, errNoCredentials), errors.Is(err, errBadCredentials):
				w.Header().Set("WWW-Authenticate", `Bearer realm="shopstream"`)
				what := "a valid API token"
				if errors.Is(err, errNoCredentials) {
					what = "an API token (Authorization: Bearer …) or a dashboard sign-in"
				}
				WriteError(w, fmt.Errorf("%w: %s %s needs %s", ErrUnauthorized, r.Method, r.URL.Path, what))
				return
			case err != nil:
				WriteError(w, err)
				return
			}
			if p.Role < acc.Role {
				WriteError(w, fmt.Errorf("%w: %s %s needs the %s role; %s has %s", ErrForbidden, r.Method, r.URL.Path, acc.Role, p.Actor, p.Role))
				return
			}
			if changing && p.csrf != "" && subtle.ConstantTimeCompare([]byte(r.Header.Get("X-CSRF-Token")), []byte(p.csrf)) != 1 {
				WriteError(w, fmt.Errorf("%w: a change made with the session cookie needs its X-CSRF-Token header (GET /api/v1/session gives it)", ErrForbidden))
				return
			}
			if p.TokenID != 0 {
				if ok, wait := s.tokenLimit.allow(strconv.FormatInt(p.TokenID, 10)); !ok {
					tooMany(w, wait, "this token")
					return
				}
			}
		}
		if changing {
			if err := checkChange(w, r, s.limits.MaxBody, !acc.Query); err != nil {
				WriteError(w, err)
				return
			}
		}
		ctx := r.Context()
		if acc.Stream {
			// A stream outlives the server's write timeout.
			http.NewResponseController(w).SetWriteDeadline(time.Time{}) //nolint:errcheck // not every writer has one
		} else {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, s.limits.RequestTimeout)
			defer cancel()
		}
		var rec *auditRecorder
		if acc.Role != Public {
			ctx = context.WithValue(ctx, principalKey{}, p)
			if changing && !acc.Query {
				rec = &auditRecorder{s: s, p: p}
				ctx = context.WithValue(ctx, auditKey{}, rec)
			}
		}
		switch {
		case s.cache != nil && cacheable(method, acc):
			s.cache.serve(w, r.WithContext(ctx), next)
		case s.cache != nil && changing && !acc.Query:
			next.ServeHTTP(w, r.WithContext(ctx))
			s.cache.clear()
		default:
			next.ServeHTTP(w, r.WithContext(ctx))
		}
		if rec != nil && !rec.done.Load() {
			status := http.StatusOK
			if rw, ok := w.(*responseWriter); ok && rw.status != 0 {
				status = rw.status
			}
			if status < 300 {
				rec.record(r, pattern, r.URL.Path, nil, map[string]int{"status": status})
			}
		}
	})
}

// checkChange checks a request that changes state: a browser's Origin, if
// sent, must be this server; the body must be JSON (an HTML form cannot
// send that, and a cross-site script cannot without a CORS preflight,
// which this server never grants) and at most limit bytes. The body is read
// here, so the handler gets all of it or nothing: handlers of changes read
// r.Body without a limit of their own, so that --max-body is the one limit
// and its breach always 413. With text, the body must hold no NUL and only
// UTF-8.
func checkChange(w http.ResponseWriter, r *http.Request, limit int64, text bool) error {
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || !strings.EqualFold(u.Host, r.Host) {
			return fmt.Errorf("%w: origin %q is not this server", ErrForbidden, o)
		}
	}
	ct := r.Header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
		return fmt.Errorf("%w: %s %s needs Content-Type: application/json (got %q), even without a body", ErrUnsupportedMedia, r.Method, r.URL.Path, ct)
	}
	tooLarge := fmt.Errorf("%w: the body is larger than %d bytes", ErrTooLarge, limit)
	if r.ContentLength > limit {
		return tooLarge
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return tooLarge
	}
	if err != nil {
		return fmt.Errorf("%w: reading the body: %v", ErrBadRequest, err)
	}
	// PostgreSQL refuses a NUL character and bytes that are not UTF-8 in
	// text, where SQLite keeps them: refused here for both (text), but in
	// a query's body (a record to score), whose own checks say so
	// (invalid_text).
	if text && !quality.TextOK(body) {
		return fmt.Errorf("%w: the body holds a NUL character (or its escape \\u0000) or bytes that are not UTF-8", ErrBadRequest)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return nil
}

func tooMany(w http.ResponseWriter, wait time.Duration, who string) {
	secs := int64((wait + time.Second - 1) / time.Second)
	w.Header().Set("Retry-After", strconv.FormatInt(max(secs, 1), 10))
	WriteError(w, fmt.Errorf("%w from %s: retry in %d s", ErrTooManyRequests, who, max(secs, 1)))
}

// clientAddr is the address a request came from. X-Forwarded-For is not
// trusted: behind a proxy, every client shares the proxy's limit.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

type auditKey struct{}

// auditRecorder writes the audit entries of one request.
type auditRecorder struct {
	s    *Server
	p    Principal
	done atomic.Bool
}

func (a *auditRecorder) record(r *http.Request, action, target string, before, after any) {
	a.done.Store(true)
	if a.s.auth.cfg.Tokens == nil {
		a.s.log.Warn("no audit trail in this store; change not recorded", "actor", a.p.Actor, "action", action, "target", target)
		return
	}
	e := store.AuditEntry{At: a.s.auth.now(), Actor: a.p.Actor, Action: action, Target: target,
		Before: auditState(before), After: auditState(after)}
	// The change is made: record it even if the client has gone.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 10*time.Second)
	defer cancel()
	if _, err := a.s.auth.cfg.Tokens.RecordAudit(ctx, &e); err != nil {
		a.s.log.Error("recording a change in the audit trail failed", "actor", e.Actor, "action", action, "target", target,
			"before", string(e.Before), "after", string(e.After), "err", err)
	}
}

func auditState(v any) json.RawMessage {
	if v == nil {
		return nil
	}
	if raw, ok := v.(json.RawMessage); ok {
		return raw
	}
	b, err := json.Marshal(v)
	if err != nil {
		b, _ = json.Marshal(map[string]string{"unencodable": err.Error()})
	}
	return b
}

// Audit records in the audit trail a change made by r's caller: action
// names it ("alert.label"), target is what it changed, before and after
// its state (any JSON-encodable value, nil for none). Every handler of a
// route that changes state calls it once the change is made; a change
// whose handler does not is still recorded by the route's guard, with the
// route and the status alone.
func Audit(r *http.Request, action, target string, before, after any) {
	if rec, ok := r.Context().Value(auditKey{}).(*auditRecorder); ok {
		rec.record(r, action, target, before, after)
	}
}

// headerHardLimit is the http.Server's MaxHeaderBytes for a limit of max:
// twice as much, so that a request somewhat over the limit reaches the
// server's own check (headerBytes) and is answered 431 in the API's error
// shape, while a far larger one is still refused by net/http (in plain
// text: no handler runs then). net/http adds 4 KiB of its own to it.
func headerHardLimit(max int) int {
	return 2 * max
}

// headerBytes is the size of r's request line and headers as they came on
// the wire (each header line "Key: value\r\n", the Host header included),
// as net/http counts them against MaxHeaderBytes.
func headerBytes(r *http.Request) int {
	n := len(r.Method) + 1 + len(r.RequestURI) + 1 + len(r.Proto) + 2
	if r.Host != "" {
		n += len("Host: ") + len(r.Host) + 2
	}
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + 2 + len(v) + 2
		}
	}
	return n + 2
}
