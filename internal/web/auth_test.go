package web_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shopstream/shopstream/internal/abtest"
	"github.com/shopstream/shopstream/internal/detector"
	"github.com/shopstream/shopstream/internal/fraud"
	"github.com/shopstream/shopstream/internal/recsvc"
	"github.com/shopstream/shopstream/internal/replay"
	"github.com/shopstream/shopstream/internal/shopgeo"
	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/sqlite"
	"github.com/shopstream/shopstream/internal/web"
)

// authEnv is a server with every component's routes over an SQLite store
// holding the fraud fixture (open alerts, an active and a shadow model).
// envStore is a store the API tests' servers run on: SQLite's or
// PostgreSQL's.
type envStore interface {
	store.Store
	store.SystemSamples
	store.Analytics
	store.Auth
	store.AlertDeliveries
	store.Fraud
	store.Experiments
	store.Quality
	store.Privacy
	store.Purchases
}

type authEnv struct {
	st  envStore
	srv *web.Server
	ts  *httptest.Server
}

func newAuthEnv(t testing.TB, cfg web.Config) *authEnv {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	fraudFixture(t, st)
	cfg.Store = st
	cfg.Logger = slog.New(slog.DiscardHandler)
	srv, err := web.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	det, err := detector.New(detector.Config{State: shopgeo.Lookups(fraud.StateConfig{}), Logger: cfg.Logger})
	if err != nil {
		t.Fatal(err)
	}
	web.RegisterFraud(srv, web.FraudDeps{Store: st, Detector: det})
	exps, err := abtest.New(abtest.Config{Store: st, Logger: cfg.Logger})
	if err != nil {
		t.Fatal(err)
	}
	web.RegisterExperiments(srv, exps)
	recs, err := recsvc.New(recsvc.Config{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	web.RegisterRecommendations(srv, recs)
	web.RegisterAnalytics(srv, st)
	web.RegisterQuality(srv, st, nil)
	// Imported records are replayed here; stream records need Kafka,
	// which this server has not (409).
	web.RegisterQuarantine(srv, st, func(ctx context.Context, f store.QuarantineFilter, dry bool) (web.ReplayCounts, error) {
		r, err := replay.Replay(ctx, replay.Config{Store: st, Logger: cfg.Logger}, f, dry)
		if errors.Is(err, replay.ErrNoBrokers) {
			err = fmt.Errorf("%w: %w", web.ErrReplayUnavailable, err)
		}
		return web.ReplayCounts{DryRun: r.DryRun, Stream: r.Stream, StreamByReason: r.StreamByReason, ImportReplayed: r.Import.Replayed,
			ImportStored: r.Import.Stored, ImportDuplicate: r.Import.Duplicate, ImportQuarantined: r.Import.Quarantined,
			ImportByReason: r.ImportByReason}, err
	})
	web.RegisterDeliveries(srv, st)
	web.RegisterErasure(srv, st)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return &authEnv{st: st, srv: srv, ts: ts}
}

// token creates a token of role and returns its text.
func (e *authEnv) token(t *testing.T, name, role string) (string, int64) {
	t.Helper()
	c, err := web.CreateToken(context.Background(), e.st, name, role, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return c.Token, c.ID
}

type req struct {
	method, path, body string
	header             map[string]string
}

// do sends r (a JSON content type on every change unless the header says
// otherwise) and returns the response and its body.
func (e *authEnv) do(t *testing.T, r req) (*http.Response, string) {
	t.Helper()
	hr, err := http.NewRequest(r.method, e.ts.URL+r.path, strings.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	if r.method != http.MethodGet {
		hr.Header.Set("Content-Type", "application/json")
	}
	for k, v := range r.header {
		if k == "Host" {
			hr.Host = v
			continue
		}
		hr.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func bearer(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }

func (e *authEnv) want(t *testing.T, r req, status int) string {
	t.Helper()
	resp, body := e.do(t, r)
	if resp.StatusCode != status {
		t.Fatalf("%s %s: status %d, want %d: %s", r.method, r.path, resp.StatusCode, status, body)
	}
	return body
}

// TestEveryRouteHasARole fails when a route registered by any component
// has no line in the route table, and when a route that changes state is
// public (other than signing in and out).
func TestEveryRouteHasARole(t *testing.T) {
	e := newAuthEnv(t, web.Config{})
	publicChanges := map[string]bool{"POST /api/v1/session": true, "DELETE /api/v1/session": true}
	for _, p := range e.srv.Routes() {
		acc, ok := web.RouteAccess(p)
		if !ok {
			t.Errorf("route %q has no line in the route table (web.go)", p)
			continue
		}
		method, _, _ := strings.Cut(p, " ")
		if method != http.MethodGet && acc.Role == web.Public && !publicChanges[p] {
			t.Errorf("route %q changes state but is public", p)
		}
	}
	if len(e.srv.Routes()) < 30 {
		t.Fatalf("only %d routes registered: %v", len(e.srv.Routes()), e.srv.Routes())
	}
}

func TestAuthRoles(t *testing.T) {
	e := newAuthEnv(t, web.Config{})
	viewer, _ := e.token(t, "dash", store.RoleViewer)
	analyst, _ := e.token(t, "alice", store.RoleAnalyst)
	admin, _ := e.token(t, "ops", store.RoleAdmin)

	resp, _ := e.do(t, req{method: "GET", path: "/api/v1/summary"})
	if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Fatalf("no token, with tokens stored: %d %q, want 401 with WWW-Authenticate: Bearer", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	// The right ID with a secret one character off, a made-up token, and
	// another scheme.
	last := "A"
	if strings.HasSuffix(admin, "A") {
		last = "B"
	}
	wrong := admin[:len(admin)-1] + last
	for _, tok := range []string{wrong, "ss1_1_nope", "garbage"} {
		e.want(t, req{method: "GET", path: "/api/v1/summary", header: bearer(tok)}, http.StatusUnauthorized)
	}
	e.want(t, req{method: "GET", path: "/api/v1/summary", header: map[string]string{"Authorization": "Basic " + admin}}, http.StatusUnauthorized)

	e.want(t, req{method: "GET", path: "/api/v1/summary", header: bearer(viewer)}, http.StatusOK)
	e.want(t, req{method: "GET", path: "/api/v1/alerts", header: bearer(viewer)}, http.StatusOK)
	label := req{method: "POST", path: "/api/v1/alerts/f7/label", body: `{"label":"fraud"}`}
	label.header = bearer(viewer)
	body := e.want(t, label, http.StatusForbidden)
	if !strings.Contains(body, "analyst") || !strings.Contains(body, "viewer") {
		t.Fatalf("403 body %s does not name the role needed and the role held", body)
	}
	label.header = bearer(analyst)
	if body := e.want(t, label, http.StatusOK); !strings.Contains(body, `(alice), analyst"`) {
		t.Fatalf("the label does not record the analyst's token: %s", body)
	}
	e.want(t, req{method: "POST", path: "/api/v1/fraud/models/rollback", header: bearer(analyst)}, http.StatusForbidden)
	e.want(t, req{method: "GET", path: "/api/v1/tokens", header: bearer(analyst)}, http.StatusForbidden)
	e.want(t, req{method: "GET", path: "/api/v1/audit", header: bearer(analyst)}, http.StatusForbidden)
	e.want(t, req{method: "POST", path: "/api/v1/fraud/models/2/promote", header: bearer(admin)}, http.StatusOK)

	// A token revoked through the API stops working at once.
	var created web.CreatedToken
	if err := json.Unmarshal([]byte(e.want(t, req{method: "POST", path: "/api/v1/tokens", body: `{"name":"tmp","role":"viewer"}`, header: bearer(admin)},
		http.StatusCreated)), &created); err != nil {
		t.Fatal(err)
	}
	e.want(t, req{method: "GET", path: "/api/v1/summary", header: bearer(created.Token)}, http.StatusOK)
	e.want(t, req{method: "DELETE", path: "/api/v1/tokens/" + strconv.FormatInt(created.ID, 10), header: bearer(admin)}, http.StatusOK)
	e.want(t, req{method: "GET", path: "/api/v1/summary", header: bearer(created.Token)}, http.StatusUnauthorized)
	// The list shows no secret.
	list := e.want(t, req{method: "GET", path: "/api/v1/tokens", header: bearer(admin)}, http.StatusOK)
	if strings.Contains(list, created.Token) || strings.Contains(list, web.HashSecret(created.Token)) || !strings.Contains(list, `"revoked_at":"`) {
		t.Fatalf("token list %s: want no secret and tmp revoked", list)
	}
	// Bad token requests name the field.
	if b := e.want(t, req{method: "POST", path: "/api/v1/tokens", body: `{"name":"x","role":"root"}`, header: bearer(admin)}, http.StatusUnprocessableEntity); !strings.Contains(b, "role") {
		t.Fatalf("bad role: %s", b)
	}
}

func TestOpenAccessWithoutTokens(t *testing.T) {
	e := newAuthEnv(t, web.Config{})
	// No token stored: a loopback client naming a loopback host is the
	// admin "local".
	body := e.want(t, req{method: "GET", path: "/api/v1/session"}, http.StatusOK)
	if !strings.Contains(body, `"actor":"local"`) || !strings.Contains(body, `"role":"admin"`) || !strings.Contains(body, `"open":true`) {
		t.Fatalf("session without tokens: %s", body)
	}
	e.want(t, req{method: "POST", path: "/api/v1/fraud/models/2/promote"}, http.StatusOK)
	// A page that rebound its own name to 127.0.0.1 sends that name.
	e.want(t, req{method: "GET", path: "/api/v1/summary", header: map[string]string{"Host": "evil.example:8050"}}, http.StatusUnauthorized)
	// A reverse proxy on this machine forwards others' requests over
	// loopback: they are not local.
	for _, h := range []string{"X-Forwarded-For", "Forwarded", "X-Real-IP"} {
		e.want(t, req{method: "POST", path: "/api/v1/fraud/models/2/promote", header: map[string]string{h: "203.0.113.9"}}, http.StatusUnauthorized)
	}
	// A cross-site change is refused by its Origin.
	e.want(t, req{method: "POST", path: "/api/v1/fraud/models/2/promote", header: map[string]string{"Origin": "http://evil.example"}}, http.StatusForbidden)
	// Once a token exists (created through this server), everyone needs one.
	e.want(t, req{method: "POST", path: "/api/v1/tokens", body: `{"name":"first","role":"admin"}`}, http.StatusCreated)
	e.want(t, req{method: "GET", path: "/api/v1/summary"}, http.StatusUnauthorized)

	never := newAuthEnv(t, web.Config{Auth: web.AuthConfig{Open: web.OpenNever}})
	never.want(t, req{method: "GET", path: "/api/v1/summary"}, http.StatusUnauthorized)
	anyone := newAuthEnv(t, web.Config{Auth: web.AuthConfig{Open: web.OpenAnyone}})
	anyone.want(t, req{method: "GET", path: "/api/v1/summary", header: map[string]string{"Host": "shop.example"}}, http.StatusOK)
}

func TestPublicRead(t *testing.T) {
	e := newAuthEnv(t, web.Config{Auth: web.AuthConfig{PublicRead: true}})
	e.token(t, "ops", store.RoleAdmin)
	e.want(t, req{method: "GET", path: "/api/v1/summary"}, http.StatusOK)
	e.want(t, req{method: "GET", path: "/api/v1/alerts"}, http.StatusOK)
	e.want(t, req{method: "GET", path: "/api/v1/tokens"}, http.StatusUnauthorized)
	e.want(t, req{method: "POST", path: "/api/v1/alerts/f7/label", body: `{"label":"fraud"}`}, http.StatusUnauthorized)
}

func TestSessionCookieAndCSRF(t *testing.T) {
	e := newAuthEnv(t, web.Config{})
	admin, _ := e.token(t, "ops", store.RoleAdmin)
	e.want(t, req{method: "POST", path: "/api/v1/session", body: `{"token":"ss1_1_wrong"}`}, http.StatusUnauthorized)
	e.want(t, req{method: "POST", path: "/api/v1/session", body: `{"token":1}`}, http.StatusBadRequest)
	resp, body := e.do(t, req{method: "POST", path: "/api/v1/session", body: `{"token":"` + admin + `"}`})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("sign-in: %d %s", resp.StatusCode, body)
	}
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "shopstream_session" {
			cookie = c
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Secure || cookie.MaxAge <= 0 {
		t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Strict, not Secure over plain HTTP, with a max age", cookie)
	}
	var signedIn web.SessionResponse
	if err := json.Unmarshal([]byte(body), &signedIn); err != nil || signedIn.CSRFToken == "" || signedIn.Role != "admin" {
		t.Fatalf("sign-in answer %s", body)
	}
	jar := map[string]string{"Cookie": "shopstream_session=" + cookie.Value}
	var got web.SessionResponse
	if err := json.Unmarshal([]byte(e.want(t, req{method: "GET", path: "/api/v1/session", header: jar}, http.StatusOK)), &got); err != nil {
		t.Fatal(err)
	}
	if got.CSRFToken != signedIn.CSRFToken || got.Actor != signedIn.Actor {
		t.Fatalf("GET session %+v, want %+v", got, signedIn)
	}
	e.want(t, req{method: "GET", path: "/api/v1/summary", header: jar}, http.StatusOK)
	change := func(csrf string) req {
		h := map[string]string{"Cookie": jar["Cookie"]}
		if csrf != "" {
			h["X-CSRF-Token"] = csrf
		}
		return req{method: "POST", path: "/api/v1/alerts/f8/label", body: `{"label":"false_positive"}`, header: h}
	}
	e.want(t, change(""), http.StatusForbidden)
	e.want(t, change("not-the-token"), http.StatusForbidden)
	e.want(t, change(signedIn.CSRFToken), http.StatusOK)

	resp, _ = e.do(t, req{method: "DELETE", path: "/api/v1/session", header: jar})
	if resp.StatusCode != http.StatusNoContent || len(resp.Cookies()) != 1 || resp.Cookies()[0].MaxAge >= 0 {
		t.Fatalf("sign-out: %d, cookies %+v; want 204 and the cookie cleared", resp.StatusCode, resp.Cookies())
	}
}

func TestChangesNeedJSONAndBoundedBodies(t *testing.T) {
	e := newAuthEnv(t, web.Config{Limits: web.Limits{MaxBody: 1024}})
	admin, _ := e.token(t, "ops", store.RoleAdmin)
	for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"} {
		h := bearer(admin)
		h["Content-Type"] = ct
		body := e.want(t, req{method: "POST", path: "/api/v1/alerts/f7/label", body: `{"label":"fraud"}`, header: h}, http.StatusUnsupportedMediaType)
		checkErrorBody(t, "POST with "+ct, http.StatusUnsupportedMediaType, []byte(body))
	}
	h := bearer(admin)
	h["Content-Type"] = "application/json; charset=utf-8"
	e.want(t, req{method: "POST", path: "/api/v1/alerts/f7/label", body: `{"label":"fraud"}`, header: h}, http.StatusOK)

	big := `{"name":"` + strings.Repeat("x", 2000) + `","role":"viewer"}`
	body := e.want(t, req{method: "POST", path: "/api/v1/tokens", body: big, header: bearer(admin)}, http.StatusRequestEntityTooLarge)
	checkErrorBody(t, "a big body", http.StatusRequestEntityTooLarge, []byte(body))
	// Chunked, so no Content-Length tells the size up front.
	hr, err := http.NewRequest("POST", e.ts.URL+"/api/v1/tokens", io.MultiReader(strings.NewReader(big)))
	if err != nil {
		t.Fatal(err)
	}
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("Authorization", "Bearer "+admin)
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge || hr.ContentLength != 0 {
		t.Fatalf("chunked big body: %d (content length %d), want 413", resp.StatusCode, hr.ContentLength)
	}
}

// TestMaxBodyIsTheOneLimit checks that a body within a --max-body above 1
// MiB reaches the handler: no handler has a smaller limit of its own.
func TestMaxBodyIsTheOneLimit(t *testing.T) {
	e := newAuthEnv(t, web.Config{Limits: web.Limits{MaxBody: 3 << 20}})
	big := `{"transaction_id":"` + strings.Repeat("x", 2<<20) + `"}`
	for _, path := range []string{"/api/v1/score", "/api/v1/alerts/f7/label", "/api/v1/experiments"} {
		resp, body := e.do(t, req{method: "POST", path: path, body: big})
		if resp.StatusCode == http.StatusRequestEntityTooLarge || resp.StatusCode < 400 || strings.Contains(body, "too large") {
			t.Errorf("POST %s with 2 MiB under a 3 MiB limit: %d %.200s, want the handler's refusal of the body's content", path, resp.StatusCode, body)
		}
		checkErrorBody(t, "POST "+path, resp.StatusCode, []byte(body))
	}
}

func TestRateLimits(t *testing.T) {
	// Per address: a burst of 2, then one request a minute.
	e := newAuthEnv(t, web.Config{Limits: web.Limits{AddrRate: 1.0 / 60, AddrBurst: 2, TokenRate: -1}})
	e.want(t, req{method: "GET", path: "/api/v1/summary"}, http.StatusOK)
	e.want(t, req{method: "GET", path: "/api/v1/summary"}, http.StatusOK)
	resp, body := e.do(t, req{method: "GET", path: "/api/v1/summary"})
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("third request: %d %s, want 429", resp.StatusCode, body)
	}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || s < 1 || s > 60 {
		t.Fatalf("Retry-After %q, want 1..60 seconds", resp.Header.Get("Retry-After"))
	}
	checkErrorBody(t, "the third request", resp.StatusCode, []byte(body))
	// Probes are not limited.
	e.want(t, req{method: "GET", path: "/healthz"}, http.StatusOK)

	// Per token: one token's burst spent leaves another's.
	e = newAuthEnv(t, web.Config{Limits: web.Limits{AddrRate: -1, TokenRate: 1.0 / 60, TokenBurst: 1}})
	a, _ := e.token(t, "a", store.RoleViewer)
	b, _ := e.token(t, "b", store.RoleViewer)
	e.want(t, req{method: "GET", path: "/api/v1/summary", header: bearer(a)}, http.StatusOK)
	resp, _ = e.do(t, req{method: "GET", path: "/api/v1/summary", header: bearer(a)})
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("token a's second request: %d, Retry-After %q; want 429 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	e.want(t, req{method: "GET", path: "/api/v1/summary", header: bearer(b)}, http.StatusOK)
}

func TestSecurityHeaders(t *testing.T) {
	e := newAuthEnv(t, web.Config{})
	for _, path := range []string{"/", "/core.js", "/api/v1/summary", "/healthz", "/api/v1/nothing-here"} {
		resp, _ := e.do(t, req{method: "GET", path: path})
		csp := resp.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("GET %s: CSP %q", path, csp)
		}
		for k, v := range map[string]string{"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"} {
			if got := resp.Header.Get(k); got != v {
				t.Errorf("GET %s: %s %q, want %q", path, k, got, v)
			}
		}
		if resp.Header.Get("X-Request-Id") == "" {
			t.Errorf("GET %s: no X-Request-Id", path)
		}
	}
	// The CSP allows no inline script: the dashboard must have none.
	inline := regexp.MustCompile(`(?i)<script(?:\s[^>]*)?>\s*[^<\s]|<script>|\son[a-z]+\s*=|javascript:|<style|\sstyle\s*=`)
	files, err := os.ReadDir("static")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if !strings.HasSuffix(f.Name(), ".html") {
			continue
		}
		b, err := os.ReadFile("static/" + f.Name())
		if err != nil {
			t.Fatal(err)
		}
		if m := inline.Find(b); m != nil {
			t.Errorf("static/%s has inline script or style (%q), which the CSP blocks", f.Name(), m)
		}
	}
}

func TestDatabaseErrorsNotEchoed(t *testing.T) {
	e := newAuthEnv(t, web.Config{Auth: web.AuthConfig{PublicRead: true}})
	e.st.Close()
	for _, path := range []string{"/api/v1/summary", "/api/v1/alerts", "/healthz", "/readyz"} {
		resp, body := e.do(t, req{method: "GET", path: path})
		if resp.StatusCode < 500 {
			t.Fatalf("GET %s on a closed store: %d %s, want a 5xx", path, resp.StatusCode, body)
		}
		if strings.Contains(strings.ToLower(body), "sql") || strings.Contains(body, "closed") {
			t.Errorf("GET %s echoes the database's error: %s", path, body)
		}
		if strings.HasPrefix(path, "/api/") {
			checkErrorBody(t, "GET "+path, resp.StatusCode, []byte(body))
		}
	}
	_, body := e.do(t, req{method: "GET", path: "/api/v1/summary"})
	if !strings.Contains(body, "request_id") {
		t.Errorf("500 body %s does not give the request ID to look up", body)
	}
}

// failingCollector fails as the outbox backlog's does while the database
// is down.
type failingCollector struct{ desc *prometheus.Desc }

func (c failingCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }
func (c failingCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.NewInvalidMetric(c.desc, errors.New("sql: database is closed"))
}

// TestMetricsScrapeSurvivesAFailingCollector: /metrics (public) serves the
// metrics that can be read, without the failing one's database error.
func TestMetricsScrapeSurvivesAFailingCollector(t *testing.T) {
	reg := prometheus.NewRegistry()
	ok := prometheus.NewCounter(prometheus.CounterOpts{Name: "shopstream_test_ok_total", Help: "a metric that can be read"})
	ok.Inc()
	reg.MustRegister(ok, failingCollector{prometheus.NewDesc("shopstream_test_backlog", "fails", nil, nil)})
	e := newAuthEnv(t, web.Config{Gatherer: reg})
	resp, body := e.do(t, req{method: "GET", path: "/metrics"})
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "shopstream_test_ok_total 1") {
		t.Fatalf("GET /metrics with a failing collector: %d %s", resp.StatusCode, body)
	}
	if strings.Contains(body, "sql") || strings.Contains(body, "closed") {
		t.Errorf("GET /metrics echoes a collector's error: %s", body)
	}
}

func TestAuditTrail(t *testing.T) {
	e := newAuthEnv(t, web.Config{})
	admin, adminID := e.token(t, "ops", store.RoleAdmin)
	analyst, _ := e.token(t, "alice", store.RoleAnalyst)
	e.want(t, req{method: "POST", path: "/api/v1/alerts/f7/label", body: `{"label":"fraud"}`, header: bearer(analyst)}, http.StatusOK)
	e.want(t, req{method: "POST", path: "/api/v1/fraud/models/2/promote", header: bearer(admin)}, http.StatusOK)
	e.want(t, req{method: "POST", path: "/api/v1/experiments", header: bearer(admin),
		body: `{"name":"audited","variants":[{"name":"a","weight":0.5,"recommender":"popularity"},{"name":"b","weight":0.5,"recommender":"item-item"}]}`},
		http.StatusCreated)
	var created web.CreatedToken
	json.Unmarshal([]byte(e.want(t, req{method: "POST", path: "/api/v1/tokens", body: `{"name":"tmp","role":"viewer"}`, header: bearer(admin)}, http.StatusCreated)), &created) //nolint:errcheck // checked below
	e.want(t, req{method: "DELETE", path: "/api/v1/tokens/" + strconv.FormatInt(created.ID, 10), header: bearer(admin)}, http.StatusOK)
	// Scoring asks and changes nothing: no entry; a refused change: none.
	e.want(t, req{method: "POST", path: "/api/v1/alerts/nope/label", body: `{"label":"fraud"}`, header: bearer(analyst)}, http.StatusNotFound)
	// A route missing from the route table needs admin, and its change is
	// recorded by the guard even though its handler records nothing.
	e.srv.Handle("POST /api/v1/unlisted", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	e.want(t, req{method: "POST", path: "/api/v1/unlisted", header: bearer(analyst)}, http.StatusForbidden)
	e.want(t, req{method: "POST", path: "/api/v1/unlisted", header: bearer(admin)}, http.StatusNoContent)

	var page web.AuditResponse
	if err := json.Unmarshal([]byte(e.want(t, req{method: "GET", path: "/api/v1/audit", header: bearer(admin)}, http.StatusOK)), &page); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, en := range page.Entries {
		got = append(got, en.Action+" "+en.Target+" by "+en.Actor+": "+string(en.Before)+" -> "+string(en.After))
	}
	adminActor := "token " + strconv.FormatInt(adminID, 10) + " (ops)"
	want := []*regexp.Regexp{
		regexp.MustCompile(`^POST /api/v1/unlisted /api/v1/unlisted by ` + regexp.QuoteMeta(adminActor) + `: null -> \{"status":204\}$`),
		regexp.MustCompile(`^token\.revoke \d+ by ` + regexp.QuoteMeta(adminActor) + `: \{.*"revoked_at":null.*\} -> \{.*"revoked_at":"20.*\}$`),
		regexp.MustCompile(`^token\.create \d+ by .*: null -> \{.*"name":"tmp","role":"viewer".*\}$`),
		regexp.MustCompile(`^experiment\.create audited by .*: null -> \{"name":"audited".*\}$`),
		regexp.MustCompile(`^fraud_model\.promote 2 by .*: \{"active":1,"shadow":2\} -> \{"active":2,"shadow":null\}$`),
		regexp.MustCompile(`^alert\.label f7 by token \d+ \(alice\): \{.*"status":"open".*\} -> \{.*"status":"confirmed_fraud".*\}$`),
	}
	if len(got) != len(want) {
		t.Fatalf("audit trail:\n%s\nwant %d entries", strings.Join(got, "\n"), len(want))
	}
	for i, re := range want {
		if !re.MatchString(got[i]) {
			t.Errorf("audit entry %d: %s\nwant it to match %s", i, got[i], re)
		}
	}
	// Paging by cursor gives the same entries, four then two, and no
	// cursor on the last page.
	var paged []int64
	for cursor, n := "", 0; n < 5; n++ {
		var p web.AuditResponse
		if err := json.Unmarshal([]byte(e.want(t, req{method: "GET", path: "/api/v1/audit?limit=4&cursor=" + cursor, header: bearer(admin)}, http.StatusOK)), &p); err != nil {
			t.Fatal(err)
		}
		for _, en := range p.Entries {
			paged = append(paged, en.ID)
		}
		if p.NextCursor == "" {
			break
		}
		if p.NextCursor != strconv.FormatInt(p.NextBeforeID, 10) {
			t.Fatalf("next_cursor %q, next_before_id %d", p.NextCursor, p.NextBeforeID)
		}
		cursor = p.NextCursor
	}
	if len(paged) != len(page.Entries) {
		t.Fatalf("paging by cursor gave %d entries, want %d", len(paged), len(page.Entries))
	}
	for i, en := range page.Entries {
		if paged[i] != en.ID {
			t.Fatalf("paged entries %v differ from the page %+v", paged, page.Entries)
		}
	}
	// Filters: by actor, action, target and time, with a page.
	since := url.QueryEscape(page.Entries[len(page.Entries)-1].At.Format(time.RFC3339Nano))
	for q, n := range map[string]int{
		"?actor=" + url.QueryEscape(adminActor):                            5,
		"?actor=" + url.QueryEscape(adminActor) + "&limit=2":               2,
		"?action=alert.label":                                              1,
		"?action=token.revoke&target=" + strconv.FormatInt(created.ID, 10): 1,
		"?target=nothing":                                                  0,
		"?since=" + since:                                                  6,
		"?until=" + since:                                                  0,
		"?since=2000-01-01T00:00:00Z&until=2000-01-02T00:00:00Z":           0,
	} {
		var p web.AuditResponse
		if err := json.Unmarshal([]byte(e.want(t, req{method: "GET", path: "/api/v1/audit" + q, header: bearer(admin)}, http.StatusOK)), &p); err != nil {
			t.Fatal(err)
		}
		if len(p.Entries) != n {
			t.Errorf("GET /api/v1/audit%s: %d entries, want %d", q, len(p.Entries), n)
		}
	}
	var p web.AuditResponse
	json.Unmarshal([]byte(e.want(t, req{method: "GET", path: "/api/v1/audit?limit=2&actor=" + url.QueryEscape(adminActor), header: bearer(admin)}, http.StatusOK)), &p) //nolint:errcheck // checked below
	if p.NextCursor == "" {
		t.Fatal("a filtered first page of two has no next cursor")
	}
	var p2 web.AuditResponse
	json.Unmarshal([]byte(e.want(t, req{method: "GET", path: "/api/v1/audit?limit=10&actor=" + url.QueryEscape(adminActor) + "&cursor=" + p.NextCursor, header: bearer(admin)}, http.StatusOK)), &p2) //nolint:errcheck // checked below
	if len(p2.Entries) != 3 || p2.NextCursor != "" {
		t.Errorf("the filtered second page: %d entries, cursor %q, want the three older entries of the admin", len(p2.Entries), p2.NextCursor)
	}
	for _, q := range []string{"?since=yesterday", "?since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z"} {
		e.want(t, req{method: "GET", path: "/api/v1/audit" + q, header: bearer(admin)}, http.StatusBadRequest)
	}
}

// TestTokensList pages the tokens by ID and filters them by role, state
// and name.
func TestTokensList(t *testing.T) {
	e := newAuthEnv(t, web.Config{Limits: web.Limits{AddrRate: -1, TokenRate: -1}})
	admin, _ := e.token(t, "ops", store.RoleAdmin)
	for _, n := range []string{"dash-1", "dash-2", "dash-3"} {
		e.token(t, n, store.RoleViewer)
	}
	_, gone := e.token(t, "old", store.RoleAnalyst)
	e.want(t, req{method: "DELETE", path: "/api/v1/tokens/" + strconv.FormatInt(gone, 10), header: bearer(admin)}, http.StatusOK)
	list := func(q string) web.TokensResponse {
		t.Helper()
		var r web.TokensResponse
		if err := json.Unmarshal([]byte(e.want(t, req{method: "GET", path: "/api/v1/tokens" + q, header: bearer(admin)}, http.StatusOK)), &r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	names := func(r web.TokensResponse) string {
		var n []string
		for _, tk := range r.Tokens {
			n = append(n, tk.Name)
		}
		return strings.Join(n, " ")
	}
	var pages []string
	for cursor, i := "", 0; i < 5; i++ {
		r := list("?limit=2&cursor=" + cursor)
		pages = append(pages, names(r))
		if cursor = r.NextCursor; cursor == "" {
			break
		}
	}
	if got := strings.Join(pages, "|"); got != "ops dash-1|dash-2 dash-3|old" {
		t.Fatalf("pages of two: %q", got)
	}
	for q, want := range map[string]string{
		"?role=viewer":                  "dash-1 dash-2 dash-3",
		"?role=viewer&limit=2":          "dash-1 dash-2",
		"?state=revoked":                "old",
		"?state=active&role=analyst":    "",
		"?name=dash-2":                  "dash-2",
		"?role=viewer&limit=1&cursor=3": "dash-3",
	} {
		if got := names(list(q)); got != want {
			t.Errorf("GET /api/v1/tokens%s: %q, want %q", q, got, want)
		}
	}
	for _, q := range []string{"?role=root", "?state=lost", "?cursor=x", "?limit=0"} {
		e.want(t, req{method: "GET", path: "/api/v1/tokens" + q, header: bearer(admin)}, http.StatusBadRequest)
	}
}

// TestSecurityDocListsEveryRoute: the route table of docs/security.md
// names every route of the code's table (web.go) once, with its role, and
// no route the code has not.
func TestSecurityDocListsEveryRoute(t *testing.T) {
	b, err := os.ReadFile("../../docs/security.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	start := strings.Index(doc, "\n## Routes and the role each needs\n")
	if start < 0 {
		t.Fatal("docs/security.md has no section \"Routes and the role each needs\"")
	}
	section := doc[start+1:]
	if end := strings.Index(section[3:], "\n## "); end >= 0 {
		section = section[:end+3]
	}
	code := web.RouteTable()
	documented := map[string]string{}
	item := regexp.MustCompile("`((?:GET|POST|PUT|PATCH|DELETE) /[^`?]*)")
	for _, line := range strings.Split(section, "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := strings.Split(strings.TrimSuffix(strings.TrimSpace(line), "|"), " | ")
		role, _, _ := strings.Cut(strings.TrimSpace(cells[len(cells)-1]), " ")
		for _, m := range item.FindAllStringSubmatch(line, -1) {
			if prev, dup := documented[m[1]]; dup {
				t.Errorf("docs/security.md: %s is listed twice (%s and %s)", m[1], prev, role)
			}
			documented[m[1]] = role
		}
	}
	for p, a := range code {
		switch role, ok := documented[p]; {
		case !ok:
			t.Errorf("docs/security.md: route %s (%s) is not in the table", p, a.Role)
		case role != a.Role.String():
			t.Errorf("docs/security.md: route %s is listed as %s, the code says %s", p, role, a.Role)
		}
	}
	for p := range documented {
		if _, ok := code[p]; !ok {
			t.Errorf("docs/security.md: %s is listed, but the route table has no such route", p)
		}
	}
	if len(documented) < 40 {
		t.Fatalf("docs/security.md: only %d routes read from its table: %v", len(documented), documented)
	}
}
