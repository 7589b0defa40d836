// Package web serves what the store holds: the live dashboard (static assets
// embedded in the binary, charts drawn with uPlot), the REST API under
// /api/v1, Prometheus metrics on /metrics and a health check on /healthz.
// Errors are mapped to HTTP status codes in one place, writeError.
package web

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

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
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Server is the HTTP front of shopstream.
type Server struct {
	cfg Config
	mux *http.ServeMux
	log *slog.Logger

	sumMu sync.Mutex
	sum   store.Summary
	sumAt time.Time
}

// New returns a Server with its routes registered.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("web: no store given")
	}
	if cfg.Addr == "" {
		cfg.Addr = ":8050"
	}
	if cfg.Gatherer == nil {
		cfg.Gatherer = prometheus.NewRegistry()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{cfg: cfg, mux: http.NewServeMux(), log: cfg.Logger.With("component", "web")}
	static, _ := fs.Sub(staticFS, "static")
	s.mux.Handle("GET /", http.FileServerFS(static))
	s.mux.HandleFunc("GET /healthz", s.healthz)
	s.mux.HandleFunc("GET /readyz", s.readyz)
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(cfg.Gatherer, promhttp.HandlerOpts{}))
	s.mux.HandleFunc("GET /api/v1/summary", s.summary)
	s.mux.HandleFunc("GET /api/v1/windows", s.windows)
	return s, nil
}

// Handle registers an extra route (other components add their API).
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Listen binds the configured address, so the caller can print it before
// serving.
func (s *Server) Listen() (net.Listener, error) {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("listening on --addr %s: %w", s.cfg.Addr, err)
	}
	return ln, nil
}

// Serve serves on ln until ctx is cancelled, then shuts down gracefully.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
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
	// ErrUnsupportedMedia is a body of the wrong Content-Type.
	ErrUnsupportedMedia = errors.New("unsupported media type")
)

// WriteError writes err as JSON with the status its kind maps to. It is
// the one place errors become HTTP status codes.
func WriteError(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	switch {
	case errors.Is(err, ErrBadRequest):
		status = http.StatusBadRequest
	case errors.Is(err, ErrNotFound):
		status = http.StatusNotFound
	case errors.Is(err, ErrConflict):
		status = http.StatusConflict
	case errors.Is(err, ErrInvalid):
		status = http.StatusUnprocessableEntity
	case errors.Is(err, ErrUnsupportedMedia):
		status = http.StatusUnsupportedMediaType
	case errors.Is(err, context.DeadlineExceeded):
		status = http.StatusServiceUnavailable
	}
	WriteJSON(w, status, map[string]string{"error": err.Error()})
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
	if err := s.cfg.Store.Ping(ctx); err != nil {
		WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "down", "error": "store: " + err.Error()})
		return
	}
	if s.cfg.Health != nil {
		if err := s.cfg.Health(ctx); err != nil {
			WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "down", "error": err.Error()})
			return
		}
	}
	WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// summary serves the running totals, computed at most every 500 ms however
// many dashboards poll.
func (s *Server) summary(w http.ResponseWriter, r *http.Request) {
	sum, err := s.cachedSummary(r.Context())
	if err != nil {
		WriteError(w, err)
		return
	}
	WriteJSON(w, http.StatusOK, summaryJSON(sum))
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
	// LastEventTime is the latest event time stored, absent before any.
	LastEventTime *time.Time `json:"last_event_time,omitempty"`
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

func summaryJSON(s store.Summary) SummaryResponse {
	return SummaryResponse{TransactionsTotal: s.TransactionsTotal, Revenue: Amounts(s.RevenueByCurrency),
		FraudAlertsTotal: s.FraudAlertsTotal, QuarantinedTotal: s.QuarantinedTotal, CustomersTotal: s.CustomersTotal,
		LastEventTime: s.LastEventTime}
}

func (s *Server) cachedSummary(ctx context.Context) (store.Summary, error) {
	s.sumMu.Lock()
	if time.Since(s.sumAt) < 500*time.Millisecond {
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

// windows serves window metrics: ?granularity=minute|hour&since=RFC3339
// (default: the last hour of minutes or the last 48 hours of hours).
func (s *Server) windows(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	g := store.Granularity(q.Get("granularity"))
	if g == "" {
		g = store.Minute
	}
	var since time.Time
	switch g {
	case store.Minute:
		since = time.Now().Add(-time.Hour)
	case store.Hour:
		since = time.Now().Add(-48 * time.Hour)
	default:
		WriteError(w, fmt.Errorf("%w: granularity %q, want minute or hour", ErrBadRequest, g))
		return
	}
	if v := q.Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			if sec, err2 := strconv.ParseInt(v, 10, 64); err2 == nil {
				t = time.Unix(sec, 0)
			} else {
				WriteError(w, fmt.Errorf("%w: since %q is not an RFC 3339 time", ErrBadRequest, v))
				return
			}
		}
		since = t
	}
	rows, err := s.cfg.Store.Windows(r.Context(), g, since)
	if err != nil {
		WriteError(w, err)
		return
	}
	out := make([]WindowJSON, len(rows))
	for i, row := range rows {
		out[i] = WindowJSON{Granularity: string(row.Granularity), Start: row.Start, Channel: row.Channel,
			PaymentMethod: row.PaymentMethod, Currency: row.Currency, Count: row.Count, RevenueMinor: row.RevenueCents, Alerts: row.Alerts}
	}
	WriteJSON(w, http.StatusOK, map[string]any{"granularity": g, "since": since.UTC(), "windows": out})
}

// WindowJSON is one window of GET /api/v1/windows: the additive totals of
// one channel, payment method and currency in one minute or hour. Counts
// may be summed over currencies; revenue may not.
type WindowJSON struct {
	Granularity   string    `json:"granularity"`
	Start         time.Time `json:"start"`
	Channel       string    `json:"channel"`
	PaymentMethod string    `json:"payment_method"`
	Currency      string    `json:"currency"`
	Count         int64     `json:"count"`
	// RevenueMinor is the revenue in the currency's minor unit.
	RevenueMinor int64 `json:"revenue_minor"`
	Alerts       int64 `json:"alerts"`
}
