// Package web serves what the store holds: the live dashboard (static assets
// embedded in the binary, charts drawn with uPlot), the REST API under
// /api/v1, Prometheus metrics on /metrics and a health check on /healthz.
// Errors are mapped to HTTP status codes in one place, writeError.
package web

import (
	"context"
	"crypto/tls"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/shopstream/shopstream/internal/event"
	"github.com/shopstream/shopstream/internal/store"
)

//go:embed static
var staticFS embed.FS

// Config configures a Server.
type Config struct {
	// Addr is the listen address. Defaults to ":8050".
	Addr string
	// Store is read by the API. Required.
	Store store.Store
	// Gatherer serves /metrics. Defaults to an empty registry.
	Gatherer prometheus.Gatherer
	// Health reports whether the pipeline is up; nil means only the store
	// is checked.
	Health func(ctx context.Context) error
	// Ready reports whether the pipeline is doing its work, for /readyz
	// (health.go); nil means only the store is checked.
	Ready func(ctx context.Context) Readiness
	// Loading, when set, says what is still loading (loading.go), shown
	// as "loading" in GET /api/v1/summary. Defaults to nil: no such field.
	Loading func() Loading
	// Lookups, when set, says which real-world lookups fraud scoring uses
	// and where their answers come from, shown as "lookups" in GET
	// /api/v1/summary and on the dashboard's System page. Defaults to
	// nil: no such field.
	Lookups func() []Lookup
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Tracer traces API requests: a server span per request under
	// /api/, named by its method and route. Defaults to a no-op tracer.
	Tracer trace.Tracer
	// Auth says who may call what (auth.go). The zero value requires a
	// token once one is stored, and serves loopback requests as the admin
	// "local" while none is.
	Auth AuthConfig
	// Limits bound requests: sizes, rates, timeouts (auth_guard.go).
	// Zero fields take their defaults.
	Limits Limits
	// TLS, when set, serves HTTPS with a certificate reloaded when its
	// files change (auth_tls.go).
	TLS TLSConfig
	// ReadCache is how long the answers of the read routes are reused
	// (readcache.go); a change through this server forgets them at once.
	// Defaults to 0: every read asks the store.
	ReadCache time.Duration
	// HistogramEvery is how often the server samples the Gatherer's
	// shopstream_* metrics (and its own stored total and lag) for GET
	// /api/v1/metrics/histograms and /api/v1/metrics/series (histring.go,
	// series.go), keeping two hours of samples. Defaults to 15 s; no
	// sampling without a Gatherer. Older samples fold into coarse tiers
	// (5 minutes for two days, an hour for 32 days: histtiers.go).
	HistogramEvery time.Duration
	// SampleInstance, when set (and the Store implements
	// store.SystemSamples), is the stable id under which the server saves
	// its coarse samples in the store as they fold and from which it
	// restores them when it starts (histpersist.go): the System page's
	// history outlives a restart. Processes sampling at the same time need
	// different ids. Empty: the samples live and die with the process.
	SampleInstance string
}

// routes is the one place that says what each route requires: its role
// (auth.go; Public needs no credentials) and whether it streams. Every
// route registered with Handle, here or by a component's Register
// function, must have its line (TestEveryRouteHasARole); one that has not
// gets Viewer for a read and Admin for a change, and a warning.
var routes = map[string]Access{
	// The dashboard's files: the sign-in form must load without a token.
	"GET /": {Role: Public},
	// Probes and Prometheus carry no token; they tell only whether the
	// process works and how much it did (docs/security.md).
	"GET /healthz": {Role: Public},
	"GET /readyz":  {Role: Public},
	"GET /metrics": {Role: Public},
	// The API's OpenAPI document (openapi.go) tells what routes exist,
	// as the dashboard's files do: no credentials.
	"GET /api/v1/openapi.json": {Role: Public},
	// Signing in and out (auth_api.go).
	"POST /api/v1/session":   {Role: Public},
	"GET /api/v1/session":    {Role: Public},
	"DELETE /api/v1/session": {Role: Public},

	"GET /api/v1/summary": {Role: Viewer},
	"GET /api/v1/windows": {Role: Viewer},
	// The quantiles of the pipeline's histograms over a time range
	// (histring.go).
	"GET /api/v1/metrics/histograms": {Role: Viewer},
	// The rates, values and quantiles of the same samples over a range,
	// which backfills the live charts (series.go).
	"GET /api/v1/metrics/series": {Role: Viewer},
	// The instances whose samples are in the store, which the two above
	// answer for with instance= (histremote.go).
	"GET /api/v1/metrics/instances": {Role: Viewer},
	// The dashboard's live events (stream.go): one per tab, long-lived.
	"GET /api/v1/stream": {Role: Viewer, Stream: true},
	// Analytics (analytics.go).
	"GET /api/v1/customers":                   {Role: Viewer},
	"GET /api/v1/customers/{id}":              {Role: Viewer},
	"GET /api/v1/customers/{id}/transactions": {Role: Viewer},
	"GET /api/v1/segments":                    {Role: Viewer},
	"GET /api/v1/segments/movement":           {Role: Viewer},
	"GET /api/v1/cohorts":                     {Role: Viewer},
	"GET /api/v1/clv/model":                   {Role: Viewer},
	"GET /api/v1/clv/distribution":            {Role: Viewer},
	// Recommendations (recommend.go).
	"GET /api/v1/customers/{id}/recommendations": {Role: Viewer},
	"GET /api/v1/products/{id}/similar":          {Role: Viewer},
	"GET /api/v1/products/top":                   {Role: Viewer},
	// Fraud (fraud.go). Scoring changes nothing but is a POST.
	"GET /api/v1/alerts":                          {Role: Viewer},
	"GET /api/v1/alerts/{transaction_id}":         {Role: Viewer},
	"GET /api/v1/fraud/rings":                     {Role: Viewer},
	"POST /api/v1/alerts/{transaction_id}/label":  {Role: Analyst},
	"GET /api/v1/fraud/rules":                     {Role: Viewer},
	"GET /api/v1/fraud/metrics":                   {Role: Viewer},
	"GET /api/v1/fraud/series":                    {Role: Viewer},
	"GET /api/v1/fraud/cost":                      {Role: Viewer},
	"GET /api/v1/fraud/models":                    {Role: Viewer},
	"POST /api/v1/fraud/models/{version}/promote": {Role: Admin},
	"POST /api/v1/fraud/models/rollback":          {Role: Admin},
	"POST /api/v1/score":                          {Role: Analyst, Query: true},
	// Experiments (experiments.go).
	"GET /api/v1/experiments":        {Role: Viewer},
	"GET /api/v1/experiments/{name}": {Role: Viewer},
	"POST /api/v1/experiments":       {Role: Admin},
	// Quarantine (quarantine.go): replaying stores records.
	"GET /api/v1/quarantine":         {Role: Viewer},
	"GET /api/v1/quarantine/{id}":    {Role: Viewer},
	"POST /api/v1/quarantine/replay": {Role: Analyst},
	// Data quality (quality.go) and alert deliveries (deliveries.go).
	"GET /api/v1/quality":           {Role: Viewer},
	"GET /api/v1/quality/drift":     {Role: Viewer},
	"GET /api/v1/alerts/deliveries": {Role: Viewer},
	// Tokens and the audit trail (auth_api.go).
	"GET /api/v1/tokens":         {Role: Admin},
	"POST /api/v1/tokens":        {Role: Admin},
	"DELETE /api/v1/tokens/{id}": {Role: Admin},
	"GET /api/v1/audit":          {Role: Admin},
	// Erasing a customer's personal data (erasure.go).
	"DELETE /api/v1/customers/{id}": {Role: Admin},
}

// Server is the HTTP front of shopstream.
type Server struct {
	cfg    Config
	mux    *http.ServeMux
	log    *slog.Logger
	auth   *auth
	limits Limits

	addrLimit, tokenLimit *limiters
	cache                 *readCache // nil: off
	hist                  *histRing
	sampled               bool         // hist samples the Gatherer
	remote                *remoteRings // other instances' saved samples; nil: the store keeps none

	patMu    sync.Mutex
	patterns []string // registered, in order

	sumMu sync.Mutex
	sum   store.Summary
	sumAt time.Time

	// done is closed when Serve shuts down, ending the live streams,
	// which http.Server.Shutdown would otherwise wait for.
	done      chan struct{}
	closeDone sync.Once
	hubOnce   sync.Once
	streamHub *streamHub
	streams   streamSlots
}

// New returns a Server with its routes registered.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("web: no store given")
	}
	if cfg.Addr == "" {
		cfg.Addr = ":8050"
	}
	sampled := cfg.Gatherer != nil
	if cfg.Gatherer == nil {
		cfg.Gatherer = prometheus.NewRegistry()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Tracer == nil {
		cfg.Tracer = noop.NewTracerProvider().Tracer("")
	}
	if cfg.Auth.Tokens == nil {
		cfg.Auth.Tokens, _ = cfg.Store.(store.Auth)
	}
	if cfg.Auth.CookieMaxAge == 0 {
		cfg.Auth.CookieMaxAge = 12 * time.Hour
	}
	if err := cfg.TLS.validate(); err != nil {
		return nil, err
	}
	limits := cfg.Limits.WithDefaults()
	if err := limits.validate(); err != nil {
		return nil, fmt.Errorf("web limits: %w", err)
	}
	if cfg.ReadCache < 0 {
		return nil, fmt.Errorf("web read cache %v: must not be negative", cfg.ReadCache)
	}
	s := &Server{cfg: cfg, mux: http.NewServeMux(), log: cfg.Logger.With("component", "web"), limits: limits, done: make(chan struct{}),
		cache: newReadCache(cfg.ReadCache)}
	s.hist = newHistRing(cfg.Gatherer, cfg.HistogramEvery)
	s.hist.extra = s.dashboardReadings
	s.sampled = sampled
	if ss, ok := cfg.Store.(store.SystemSamples); ok {
		s.remote = newRemoteRings(ss)
	}
	if ss, ok := cfg.Store.(store.SystemSamples); ok && sampled && cfg.SampleInstance != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := s.hist.restore(ctx, ss, cfg.SampleInstance); err != nil {
			s.log.Warn("restoring the dashboard's system samples; the System page's history starts afresh", "error", err)
		}
		cancel()
		s.hist.persist = &histPersist{st: ss, instance: cfg.SampleInstance, logf: s.log.Warn}
	}
	if sampled {
		// The first sample now, so a range reaching back to the start
		// leaves out what was observed before the server (a backfill).
		s.hist.add(s.hist.take(true))
		go s.hist.run(s.done)
	}
	s.auth = &auth{cfg: cfg.Auth, now: time.Now, logf: s.log.Warn}
	s.auth.active.Store(-1)
	s.addrLimit = newLimiters(limits.AddrRate, limits.AddrBurst, time.Now)
	s.tokenLimit = newLimiters(limits.TokenRate, limits.TokenBurst, time.Now)
	static, _ := fs.Sub(staticFS, "static")
	files := http.FileServerFS(static)
	s.Handle(staticPattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A path no file can have (invalid UTF-8, say) is 404, where the
		// file server would answer 500; so is a folder other than the
		// root, which it would list.
		if name := strings.TrimPrefix(path.Clean(r.URL.Path), "/"); name != "" {
			if !fs.ValidPath(name) {
				http.NotFound(w, r)
				return
			}
			if fi, err := fs.Stat(static, name); err == nil && fi.IsDir() {
				http.NotFound(w, r)
				return
			}
		}
		files.ServeHTTP(w, r)
	}))
	s.Handle("GET /healthz", http.HandlerFunc(s.healthz))
	s.Handle("GET /readyz", http.HandlerFunc(s.readyz))
	// A collector that fails (the store's outbox backlog while the
	// database is down) is logged and left out of the scrape; its error,
	// which may be the database's, is never sent to the scraper.
	s.Handle("GET /metrics", promhttp.HandlerFor(cfg.Gatherer, promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError,
		ErrorLog:      slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}))
	s.Handle("GET /api/v1/openapi.json", http.HandlerFunc(openAPIHandler))
	s.Handle("GET /api/v1/summary", http.HandlerFunc(s.summary))
	s.Handle("GET /api/v1/windows", http.HandlerFunc(s.windows))
	s.Handle("GET /api/v1/metrics/histograms", http.HandlerFunc(s.histograms))
	s.Handle("GET /api/v1/metrics/series", http.HandlerFunc(s.metricSeries))
	s.Handle("GET /api/v1/metrics/instances", http.HandlerFunc(s.sampleInstances))
	s.Handle("GET /api/v1/stream", http.HandlerFunc(s.stream))
	s.Handle("POST /api/v1/session", http.HandlerFunc(s.sessionCreate))
	s.Handle("GET /api/v1/session", http.HandlerFunc(s.sessionGet))
	s.Handle("DELETE /api/v1/session", http.HandlerFunc(s.sessionDelete))
	if cfg.Auth.Tokens != nil {
		s.Handle("GET /api/v1/tokens", http.HandlerFunc(s.tokensList))
		s.Handle("POST /api/v1/tokens", http.HandlerFunc(s.tokensCreate))
		s.Handle("DELETE /api/v1/tokens/{id}", http.HandlerFunc(s.tokensRevoke))
		s.Handle("GET /api/v1/audit", http.HandlerFunc(s.auditList))
	}
	return s, nil
}

// Handle registers a route (other components add their API) behind the
// guard of its line in the route table.
func (s *Server) Handle(pattern string, h http.Handler) {
	acc, ok := routes[pattern]
	if !ok {
		method, _, _ := strings.Cut(pattern, " ")
		acc = Access{Role: Viewer}
		if stateChanging(method) || !strings.Contains(pattern, " ") {
			acc = Access{Role: Admin}
		}
		s.log.Warn("route has no line in the route table (web.go); requiring "+acc.Role.String(), "route", pattern)
	}
	s.patMu.Lock()
	s.patterns = append(s.patterns, pattern)
	s.patMu.Unlock()
	s.mux.Handle(pattern, s.guard(pattern, acc, h))
}

// Routes lists the registered route patterns, in the order registered.
func (s *Server) Routes() []string {
	s.patMu.Lock()
	defer s.patMu.Unlock()
	return append([]string(nil), s.patterns...)
}

// RouteAccess returns the route table's line of pattern.
func RouteAccess(pattern string) (Access, bool) {
	a, ok := routes[pattern]
	return a, ok
}

// ServeHTTP implements http.Handler: every answer carries the security
// headers and a request ID, under which errors not shown are logged.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	for k, v := range securityHeaders {
		h.Set(k, v)
	}
	if s.cfg.TLS.enabled() {
		h.Set("Strict-Transport-Security", "max-age=31536000")
	}
	id := requestID()
	h.Set("X-Request-Id", id)
	rw := &responseWriter{ResponseWriter: w, id: id, log: s.log.With("request_id", id, "method", r.Method, "path", r.URL.Path),
		method: r.Method, path: r.URL.Path}
	if n := headerBytes(r); n > s.limits.MaxHeaderBytes {
		// net/http reads up to headerHardLimit and would answer past it in
		// plain text; up to there the answer is the API's error shape.
		rw.Header().Set("Connection", "close")
		WriteError(rw, fmt.Errorf("%w: the request line and headers take %d bytes, at most %d are taken", ErrHeaderTooLarge, n, s.limits.MaxHeaderBytes))
		return
	}
	if strings.HasPrefix(r.URL.Path, "/api/") {
		// Under /api/ only API routes answer: a path no route has (which
		// the dashboard's files would answer with plain text) or a method
		// none of its routes takes gets the API's error shape.
		_, pattern := s.mux.Handler(r)
		// A caller's W3C traceparent makes the request's span a child of
		// the caller's.
		ctx := propagation.TraceContext{}.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		ctx, span := s.cfg.Tracer.Start(ctx, "HTTP "+r.Method, trace.WithSpanKind(trace.SpanKindServer))
		defer func() {
			route := "unknown route"
			if pattern != "" && pattern != staticPattern {
				_, route, _ = strings.Cut(pattern, " ") // "GET /api/v1/x" -> "/api/v1/x"
			}
			status := rw.status
			if status == 0 {
				status = http.StatusOK
			}
			span.SetName(r.Method + " " + route)
			span.SetAttributes(attribute.String("http.request.method", r.Method), attribute.String("http.route", route),
				attribute.Int("http.response.status_code", status), attribute.String("shopstream.request_id", id))
			if status >= 500 {
				span.SetStatus(codes.Error, http.StatusText(status))
			}
			span.End()
		}()
		r = r.WithContext(ctx)
		if pattern == "" || pattern == staticPattern {
			s.noRoute(rw, r)
			return
		}
		if err := textParams(r); err != nil {
			WriteError(rw, err)
			return
		}
	}
	s.serve(rw, r)
}

// textParams refuses a request whose path or query holds a NUL character
// or bytes that are not UTF-8: PostgreSQL refuses them in a text
// comparison (a server error) where SQLite compares them, and no stored
// value holds them, so both stores answer 400.
func textParams(r *http.Request) error {
	bad := func(s string) bool { return strings.IndexByte(s, 0) >= 0 || !utf8.ValidString(s) }
	if bad(r.URL.Path) {
		return fmt.Errorf("%w: the path holds a NUL character or bytes that are not UTF-8", ErrBadRequest)
	}
	if r.URL.RawQuery == "" {
		return nil
	}
	for k, vs := range r.URL.Query() {
		if bad(k) {
			return fmt.Errorf("%w: a query parameter's name holds a NUL character or bytes that are not UTF-8", ErrBadRequest)
		}
		for _, v := range vs {
			if bad(v) {
				return fmt.Errorf("%w: query parameter %q holds a NUL character or bytes that are not UTF-8", ErrBadRequest, k)
			}
		}
	}
	return nil
}

// serve hands r to its route. An error the route or the mux writes as
// plain text is rewritten as an ErrorResponse (responseWriter.finish). A
// handler's panic is logged with its stack under the request's ID and
// answered 500 with that ID; when the answer had begun, its status can no
// longer change, and the connection is cut so that the client does not
// take a truncated answer for a whole one.
func (s *Server) serve(rw *responseWriter, r *http.Request) {
	defer func() {
		v := recover()
		if v == nil {
			rw.finish()
			return
		}
		if v == http.ErrAbortHandler {
			panic(v)
		}
		rw.log.Error("handler panicked", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
		if rw.status != 0 && rw.plain == 0 {
			panic(http.ErrAbortHandler)
		}
		rw.plain = 0
		for k := range rw.Header() {
			if _, keep := securityHeaders[k]; !keep && k != "X-Request-Id" && k != "Strict-Transport-Security" {
				rw.Header().Del(k)
			}
		}
		rw.status = http.StatusInternalServerError
		WriteJSON(rw.ResponseWriter, http.StatusInternalServerError, ErrorResponse{ErrorDetail{Code: "internal",
			Message: "internal error; the server's log has the details under request_id " + rw.id}})
	}()
	s.mux.ServeHTTP(rw, r)
}

// staticPattern serves the dashboard's files.
const staticPattern = "GET /"

// noRoute answers an API request no route takes: 405 with the Allow
// header when the path has routes for other methods, else 404. It asks the
// mux itself which methods the path has, so the answer follows the routes
// registered.
func (s *Server) noRoute(w http.ResponseWriter, r *http.Request) {
	if ok, wait := s.addrLimit.allow(clientAddr(r)); !ok {
		tooMany(w, wait, "this address")
		return
	}
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		probe := r.WithContext(r.Context())
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); pattern != "" && pattern != staticPattern {
			allow = append(allow, m)
		}
	}
	if len(allow) == 0 {
		WriteError(w, fmt.Errorf("%w: no API route %s; GET /api/v1/openapi.json lists them", ErrNotFound, r.URL.Path))
		return
	}
	w.Header().Set("Allow", strings.Join(allow, ", "))
	WriteError(w, fmt.Errorf("%w: %s %s; it takes %s", ErrMethodNotAllowed, r.Method, r.URL.Path, strings.Join(allow, ", ")))
}

// Listen binds the configured address, so the caller can print it before
// serving.
func (s *Server) Listen() (net.Listener, error) {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("listening on --addr %s: %w", s.cfg.Addr, err)
	}
	return ln, nil
}

// Scheme is "https" when the server serves TLS, else "http".
func (s *Server) Scheme() string {
	if s.cfg.TLS.enabled() {
		return "https"
	}
	return "http"
}

// Serve serves on ln until ctx is cancelled, then shuts down gracefully.
// Every connection has read, write and idle timeouts (Config.Limits).
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	l := s.limits
	srv := &http.Server{Handler: s, ReadHeaderTimeout: l.ReadHeaderTimeout, ReadTimeout: l.ReadTimeout,
		WriteTimeout: l.WriteTimeout, IdleTimeout: l.IdleTimeout, MaxHeaderBytes: headerHardLimit(l.MaxHeaderBytes),
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}
	if s.cfg.TLS.enabled() {
		certs, err := newCertReloader(s.cfg.TLS, s.log)
		if err != nil {
			return err
		}
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: certs.GetCertificate}
	}
	errc := make(chan error, 1)
	go func() {
		if srv.TLSConfig != nil {
			errc <- srv.ServeTLS(ln, "", "")
			return
		}
		errc <- srv.Serve(ln)
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		s.closeDone.Do(func() { close(s.done) })
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	}
}

// Error kinds mapped to HTTP status codes.
var (
	ErrBadRequest = errors.New("bad request")
	ErrNotFound   = errors.New("not found")
	ErrConflict   = errors.New("conflict")
	ErrInvalid    = errors.New("unprocessable")
	// ErrMethodNotAllowed is a known path asked with a method it does not
	// answer (405, with an Allow header).
	ErrMethodNotAllowed = errors.New("method not allowed")
	// ErrUnavailable is a part of the server not ready to answer yet
	// (503); its text is written for the client and shown.
	ErrUnavailable = errors.New("unavailable")
)

// ErrorResponse is the body of every error answer of the API:
//
//	{"error": {"code": "not_found", "message": "no purchase of customer \"c-9\" is stored"}}
//
// Code is one of the ErrorCodes, stable, for programs; Message is for
// people and may change.
type ErrorResponse struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the error of an ErrorResponse.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// errorKinds maps each error kind to its status and code, in the order
// WriteError tests them.
var errorKinds = []struct {
	err    error
	status int
	code   string
}{
	{ErrBadRequest, http.StatusBadRequest, "bad_request"},
	{ErrUnauthorized, http.StatusUnauthorized, "unauthorized"},
	{ErrForbidden, http.StatusForbidden, "forbidden"},
	{ErrNotFound, http.StatusNotFound, "not_found"},
	{ErrMethodNotAllowed, http.StatusMethodNotAllowed, "method_not_allowed"},
	{ErrConflict, http.StatusConflict, "conflict"},
	{ErrTooLarge, http.StatusRequestEntityTooLarge, "payload_too_large"},
	{ErrHeaderTooLarge, http.StatusRequestHeaderFieldsTooLarge, "header_too_large"},
	{ErrUnsupportedMedia, http.StatusUnsupportedMediaType, "unsupported_media_type"},
	{ErrInvalid, http.StatusUnprocessableEntity, "unprocessable"},
	{ErrTooManyRequests, http.StatusTooManyRequests, "rate_limited"},
	{ErrUnavailable, http.StatusServiceUnavailable, "unavailable"},
	{context.DeadlineExceeded, http.StatusServiceUnavailable, "unavailable"},
}

// ErrorCodes lists every code an ErrorResponse may carry with its status:
// the contract docs/operations.md and the OpenAPI document state.
func ErrorCodes() map[string]int {
	out := map[string]int{"internal": http.StatusInternalServerError}
	for _, k := range errorKinds {
		out[k.code] = k.status
	}
	return out
}

// WriteError writes err as an ErrorResponse with the status its kind maps
// to. It is the one place errors become HTTP status codes. The text of an
// error of the request (4xx) or of ErrUnavailable is shown; any other error
// is logged with the request's ID and answered with that ID alone, so no
// database message reaches a client.
func WriteError(w http.ResponseWriter, err error) {
	status, code := http.StatusInternalServerError, "internal"
	for _, k := range errorKinds {
		if errors.Is(err, k.err) {
			status, code = k.status, k.code
			break
		}
	}
	if status < 500 || errors.Is(err, ErrUnavailable) {
		WriteJSON(w, status, ErrorResponse{ErrorDetail{Code: code, Message: err.Error()}})
		return
	}
	log, id := requestLog(w)
	log.Error("request failed", "status", status, "err", err)
	msg := "internal error"
	if status == http.StatusServiceUnavailable {
		msg = "timed out"
	}
	if id != "" {
		msg += "; the server's log has the details under request_id " + id
	}
	WriteJSON(w, status, ErrorResponse{ErrorDetail{Code: code, Message: msg}})
}

// requestLog is the logger of the request w answers, which names its
// request ID, and that ID; slog.Default() and "" outside the server.
func requestLog(w http.ResponseWriter) (*slog.Logger, string) {
	if b, ok := w.(*bufferWriter); ok {
		w = b.orig // the read cache's buffer, for a request of its own
	}
	if rw, ok := w.(*responseWriter); ok {
		return rw.log, rw.id
	}
	return slog.Default(), ""
}

// WriteJSON writes v as JSON with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.Encode(v) //nolint:errcheck // the client went away
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	down := func(msg string) {
		WriteJSON(w, http.StatusServiceUnavailable, HealthResponse{Status: "down", Error: &ErrorDetail{Code: "unavailable", Message: msg}})
	}
	if err := s.cfg.Store.Ping(ctx); err != nil {
		s.log.Error("health check: the store does not answer", "err", err)
		down("the store does not answer (the server's log says why)")
		return
	}
	if s.cfg.Health != nil {
		if err := s.cfg.Health(ctx); err != nil {
			s.log.Error("health check failed", "err", err)
			down("the pipeline is down (the server's log says why)")
			return
		}
	}
	WriteJSON(w, http.StatusOK, HealthResponse{Status: "ok"})
}

// HealthResponse is the body of GET /healthz: "ok", or "down" with the
// error every error answer of the server carries.
type HealthResponse struct {
	Status string       `json:"status"`
	Error  *ErrorDetail `json:"error,omitempty"`
}

// summary serves the running totals, computed at most every 500 ms however
// many dashboards poll.
func (s *Server) summary(w http.ResponseWriter, r *http.Request) {
	sum, err := s.cachedSummary(r.Context())
	if err != nil {
		WriteError(w, err)
		return
	}
	out := summaryJSON(sum)
	if s.cfg.Loading != nil {
		l := s.cfg.Loading()
		out.Loading = &l
	}
	if s.cfg.Lookups != nil {
		out.Lookups = s.cfg.Lookups()
	}
	WriteJSON(w, http.StatusOK, out)
}

// SummaryResponse is the body of GET /api/v1/summary: the running totals.
type SummaryResponse struct {
	TransactionsTotal int64 `json:"transactions_total"`
	// Revenue is the revenue per currency, largest first: amounts of
	// different currencies are never added up.
	Revenue          []CurrencyAmount `json:"revenue"`
	FraudAlertsTotal int64            `json:"fraud_alerts_total"`
	QuarantinedTotal int64            `json:"quarantined_total"`
	CustomersTotal   int64            `json:"customers_total"`
	// LastEventTime is the latest event time stored, to the minute (the
	// start of its minute window), absent before any.
	LastEventTime *time.Time `json:"last_event_time,omitempty"`
	// Loading says what `shopstream run` is still loading; absent where
	// nothing loads (serve, process).
	Loading *Loading `json:"loading,omitempty"`
	// Lookups says which of fraud scoring's geographic lookups are on
	// and from which source; absent where the server scores nothing.
	Lookups []Lookup `json:"lookups,omitempty"`
}

// Lookup is one of fraud scoring's real-world lookups (IP to country, IP
// to ASN, hosting IP, BIN to country): whether it is on and where its
// answers come from. An off lookup's fraud features are 0.
type Lookup struct {
	Lookup      string `json:"lookup"`
	Active      bool   `json:"active"`
	Source      string `json:"source"`
	Attribution string `json:"attribution,omitempty"`
}

// CurrencyAmount is an amount of money in one currency.
type CurrencyAmount struct {
	// Currency is the ISO 4217 code.
	Currency string `json:"currency"`
	// Minor is the amount in the currency's minor unit (cents, yen, fils).
	Minor int64 `json:"minor"`
	// Amount is the same as a decimal number with the currency's decimals,
	// as text so that no float rounds it.
	Amount string `json:"amount"`
}

// Amounts lists the amounts per currency, largest first (by minor units,
// then code): the one place the API turns minor units into money.
func Amounts(byCurrency map[string]int64) []CurrencyAmount {
	out := make([]CurrencyAmount, 0, len(byCurrency))
	for c, v := range byCurrency {
		digits, ok := event.CurrencyDigits(c)
		if !ok {
			digits = 2
		}
		out = append(out, CurrencyAmount{Currency: c, Minor: v, Amount: string(event.Cents(v).AppendDecimal(nil, digits))})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Minor != out[j].Minor {
			return out[i].Minor > out[j].Minor
		}
		return out[i].Currency < out[j].Currency
	})
	return out
}

// majorUnits is an amount of minor units in its currency's major units:
// cents / 100 for EUR, yen as they are for JPY, fils / 1,000 for BHD.
func majorUnits(minor int64, currency string) float64 {
	return float64(minor) / event.MinorPer(currency)
}

func summaryJSON(s store.Summary) SummaryResponse {
	return SummaryResponse{TransactionsTotal: s.TransactionsTotal, Revenue: Amounts(s.RevenueByCurrency),
		FraudAlertsTotal: s.FraudAlertsTotal, QuarantinedTotal: s.QuarantinedTotal, CustomersTotal: s.CustomersTotal,
		LastEventTime: s.LastEventTime}
}

// summaryFresh is how long cachedSummary answers from its last read.
const summaryFresh = 500 * time.Millisecond

func (s *Server) cachedSummary(ctx context.Context) (store.Summary, error) {
	s.sumMu.Lock()
	if time.Since(s.sumAt) < summaryFresh {
		defer s.sumMu.Unlock()
		return s.sum, nil
	}
	s.sumMu.Unlock()
	sum, err := s.cfg.Store.Summary(ctx)
	if err != nil {
		return sum, err
	}
	s.sumMu.Lock()
	s.sum, s.sumAt = sum, time.Now()
	s.sumMu.Unlock()
	return sum, nil
}

// windows serves window metrics: ?granularity=minute|hour&since=T&until=T
// (windowsQuery).
func (s *Server) windows(w http.ResponseWriter, r *http.Request) {
	wq, err := windowsQuery(r.URL.Query(), time.Now())
	if err != nil {
		WriteError(w, err)
		return
	}
	rows, err := s.cfg.Store.Windows(r.Context(), wq.Granularity, wq.Since)
	if err != nil {
		WriteError(w, err)
		return
	}
	out := foldWindows(rows, wq)
	resp := map[string]any{"granularity": wq.Granularity, "since": wq.Since.UTC(), "step_seconds": int64(wq.Step / time.Second),
		"by": wq.By, "windows": out}
	if wq.Until != nil {
		resp["until"] = wq.Until.UTC()
	}
	WriteJSON(w, http.StatusOK, resp)
}

// foldWindows sums the stored windows of wr's range into its step, which
// starts at the first stored window's start at or after Since, and, by currency, over
// channels and payment methods. Windows come out by start, then channel,
// payment method and currency.
func foldWindows(rows []store.WindowRow, wr windowRange) []WindowJSON {
	type key struct {
		start                            int64
		channel, paymentMethod, currency string
	}
	unit := time.Minute
	if wr.Granularity == store.Hour {
		unit = time.Hour
	}
	// The first window of the range: the stored ones start at or after since.
	origin := wr.Since.Truncate(unit)
	if origin.Before(wr.Since) {
		origin = origin.Add(unit)
	}
	step := int64(wr.Step / time.Second)
	idx := make(map[key]int, len(rows))
	out := make([]WindowJSON, 0, len(rows))
	for _, row := range rows {
		if wr.Until != nil && !row.Start.Before(*wr.Until) {
			continue
		}
		k := key{start: row.Start.Unix(), channel: row.Channel, paymentMethod: row.PaymentMethod, currency: row.Currency}
		if k.start < origin.Unix() { // the store answers none: since bounds them
			continue
		}
		if step > int64(unit/time.Second) {
			k.start = origin.Unix() + (k.start-origin.Unix())/step*step
		}
		if wr.By == windowsByCurrency {
			k.channel, k.paymentMethod = "", ""
		}
		i, ok := idx[k]
		if !ok {
			i = len(out)
			idx[k] = i
			out = append(out, WindowJSON{Granularity: string(row.Granularity), Start: time.Unix(k.start, 0).UTC(), Channel: k.channel,
				PaymentMethod: k.paymentMethod, Currency: k.currency})
		}
		out[i].Count += row.Count
		out[i].RevenueMinor += row.RevenueCents
		out[i].Alerts += row.Alerts
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if !a.Start.Equal(b.Start) {
			return a.Start.Before(b.Start)
		}
		if a.Channel != b.Channel {
			return a.Channel < b.Channel
		}
		if a.PaymentMethod != b.PaymentMethod {
			return a.PaymentMethod < b.PaymentMethod
		}
		return a.Currency < b.Currency
	})
	return out
}

// windowRange is the query of GET /api/v1/windows.
type windowRange struct {
	Granularity store.Granularity
	Since       time.Time
	// Until, when set, excludes the windows starting at or after it.
	Until *time.Time
	// Step is the width of the windows answered: the granularity, or a
	// multiple of it into which the stored windows are summed.
	Step time.Duration
	// By is windowsByAll (a window per channel, payment method and
	// currency) or windowsByCurrency (summed over channels and payment
	// methods).
	By string
}

// The breakdowns of GET /api/v1/windows (by=).
const (
	windowsByAll      = "all"
	windowsByCurrency = "currency"
)

// maxWindowSteps bounds step=auto: the smallest step of autoSteps giving
// at most this many windows over the range.
const maxWindowSteps = 240

// autoSteps are the steps step=auto chooses from.
var autoSteps = []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, 30 * time.Minute, time.Hour, 3 * time.Hour,
	6 * time.Hour, 12 * time.Hour, 24 * time.Hour, 7 * 24 * time.Hour}

// windowsQuery reads ?granularity=minute|hour (default minute), since and
// until (RFC 3339 or Unix seconds; since defaults to the last hour of
// minutes or the last 48 hours of hours before now, until to none), step
// (a multiple of the granularity, as a Go duration or seconds, or auto;
// defaults to the granularity) and by=all|currency (default all).
func windowsQuery(q url.Values, now time.Time) (windowRange, error) {
	wr := windowRange{Granularity: store.Granularity(q.Get("granularity"))}
	if wr.Granularity == "" {
		wr.Granularity = store.Minute
	}
	switch wr.Granularity {
	case store.Minute:
		wr.Since = now.Add(-time.Hour)
		wr.Step = time.Minute
	case store.Hour:
		wr.Since = now.Add(-48 * time.Hour)
		wr.Step = time.Hour
	default:
		return wr, fmt.Errorf("%w: granularity %q, want minute or hour", ErrBadRequest, wr.Granularity)
	}
	parse := func(name string) (time.Time, bool, error) {
		t, err := queryTime(q, name)
		return t, !t.IsZero(), err
	}
	since, ok, err := parse("since")
	if err != nil {
		return wr, err
	}
	if ok {
		wr.Since = since
	}
	until, ok, err := parse("until")
	if err != nil {
		return wr, err
	}
	if ok {
		if !until.After(wr.Since) {
			return wr, fmt.Errorf("%w: until %s is not after since %s", ErrBadRequest, until.UTC().Format(time.RFC3339), wr.Since.UTC().Format(time.RFC3339))
		}
		wr.Until = &until
	}
	unit := wr.Step
	switch v := q.Get("step"); v {
	case "":
	case "auto":
		end := now
		if wr.Until != nil {
			end = *wr.Until
		}
		span := end.Sub(wr.Since)
		wr.Step = autoSteps[len(autoSteps)-1]
		for _, st := range autoSteps {
			if st >= unit && span <= st*maxWindowSteps {
				wr.Step = st
				break
			}
		}
	default:
		d, err := time.ParseDuration(v)
		if err != nil {
			sec, serr := strconv.ParseInt(v, 10, 64)
			if serr != nil || sec > 1<<32 {
				return wr, fmt.Errorf("%w: step %q, want a duration (3h), seconds or auto", ErrBadRequest, v)
			}
			d = time.Duration(sec) * time.Second
		}
		if d < unit || d%unit != 0 || d > 366*24*time.Hour {
			return wr, fmt.Errorf("%w: step %q, want a multiple of the %s granularity up to 366 days", ErrBadRequest, v, wr.Granularity)
		}
		wr.Step = d
	}
	switch wr.By = q.Get("by"); wr.By {
	case "":
		wr.By = windowsByAll
	case windowsByAll, windowsByCurrency:
	default:
		return wr, fmt.Errorf("%w: by %q, want all or currency", ErrBadRequest, wr.By)
	}
	return wr, nil
}

// WindowJSON is one window of GET /api/v1/windows: the additive totals of
// one channel, payment method and currency in one step (a minute or hour
// unless step= folds them). Counts may be summed over currencies; revenue
// may not. Channel and PaymentMethod are absent when by=currency summed
// over them.
type WindowJSON struct {
	Granularity   string    `json:"granularity"`
	Start         time.Time `json:"start"`
	Channel       string    `json:"channel,omitempty"`
	PaymentMethod string    `json:"payment_method,omitempty"`
	Currency      string    `json:"currency"`
	Count         int64     `json:"count"`
	// RevenueMinor is the revenue in the currency's minor unit.
	RevenueMinor int64 `json:"revenue_minor"`
	Alerts       int64 `json:"alerts"`
}
