package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/shopstream/shopstream/internal/analyticsview"
	"github.com/shopstream/shopstream/internal/event"
	"github.com/shopstream/shopstream/internal/store"
)

// RegisterAnalytics adds the customer-analytics API, which serves what the
// periodic refresh (internal/jobs) stored; docs/analytics.md shows every
// response:
//
//	GET /api/v1/customers?segment=&prefix=&limit=&cursor=  scored customers by ID
//	GET /api/v1/customers/{id}  profile, RFM scores and segment, CLV, cluster
//	GET /api/v1/customers/{id}/transactions?limit=&cursor=  its transactions, newest first
//	GET /api/v1/segments        customers per RFM segment; cluster profiles
//	GET /api/v1/segments/movement?since=&until=&limit=&cursor=  moves between segments at each refresh, newest first
//	GET /api/v1/cohorts         acquisition cohorts: retention and revenue
//	GET /api/v1/clv/model       CLV model parameters and fit statistics
//	GET /api/v1/clv/distribution  customers by predicted CLV and P(alive), with the fit
//
// Segments, cohorts and the CLV distribution change once per refresh, so
// they are kept and built again at most every ten seconds, in the
// background (cached), however many dashboards poll.
func RegisterAnalytics(s *Server, a store.Analytics) {
	h := &analyticsAPI{a: a, srv: s, answerCache: answerCache{ttl: 10 * time.Second, log: s.log}}
	s.Handle("GET /api/v1/customers", http.HandlerFunc(h.customers))
	s.Handle("GET /api/v1/customers/{id}", http.HandlerFunc(h.customer))
	s.Handle("GET /api/v1/customers/{id}/transactions", http.HandlerFunc(h.customerTransactions))
	s.Handle("GET /api/v1/segments", http.HandlerFunc(h.segments))
	s.Handle("GET /api/v1/segments/movement", http.HandlerFunc(h.segmentMovement))
	s.Handle("GET /api/v1/cohorts", http.HandlerFunc(h.cohorts))
	s.Handle("GET /api/v1/clv/model", http.HandlerFunc(h.clvModel))
	s.Handle("GET /api/v1/clv/distribution", http.HandlerFunc(h.clvDistribution))
}

type analyticsAPI struct {
	a store.Analytics
	// srv's summary, read at most twice a second however many customers
	// are looked up, says the store's currencies.
	srv *Server
	answerCache
}

// CustomerResponse is the body of GET /api/v1/customers/{id}.
type CustomerResponse struct {
	CustomerID   string    `json:"customer_id"`
	FirstSeen    time.Time `json:"first_seen"`
	LastSeen     time.Time `json:"last_seen"`
	Orders       int64     `json:"orders"`
	Revenue      float64   `json:"revenue"`
	RevenueCents int64     `json:"revenue_cents"`
	// RFM, CLV and Cluster are null until the refresh has scored the
	// customer (CLV also while no CLV model could be fitted).
	RFM       *RFMResponse       `json:"rfm"`
	CLV       *analyticsview.CLV `json:"clv"`
	Cluster   *int               `json:"cluster"`
	UpdatedAt *time.Time         `json:"updated_at"`
}

// RFMResponse is a customer's raw RFM values, quintile scores and segment.
type RFMResponse struct {
	RecencyDays float64 `json:"recency_days"`
	Frequency   int64   `json:"frequency"`
	Monetary    float64 `json:"monetary"`
	R           int     `json:"r"`
	F           int     `json:"f"`
	M           int     `json:"m"`
	// Score is the three scores as one string, "545".
	Score   string `json:"score"`
	Segment string `json:"segment"`
}

func (h *analyticsAPI) customer(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	p, err := h.a.CustomerProfile(r.Context(), id)
	if errors.Is(err, store.ErrUnknownCustomer) {
		WriteError(w, fmt.Errorf("%w: no purchase of customer %q is stored", ErrNotFound, id))
		return
	}
	if err != nil {
		WriteError(w, err)
		return
	}
	sum, err := h.srv.cachedSummary(r.Context())
	if err != nil {
		WriteError(w, err)
		return
	}
	minorPer := event.MinorPerMajor(sum.RevenueByCurrency)
	out := CustomerResponse{CustomerID: p.CustomerID, FirstSeen: p.FirstSeen, LastSeen: p.LastSeen, Orders: p.Orders,
		Revenue: float64(p.RevenueCents) / minorPer, RevenueCents: p.RevenueCents}
	if a := p.Analytics; a != nil {
		out.RFM = &RFMResponse{RecencyDays: a.RecencyDays, Frequency: a.FrequencyDays, Monetary: float64(a.MonetaryCents) / minorPer,
			R: a.R, F: a.F, M: a.M, Score: fmt.Sprintf("%d%d%d", a.R, a.F, a.M), Segment: a.Segment}
		out.CLV, out.Cluster, out.UpdatedAt = analyticsview.CLVOf(a.CLV), a.Cluster, &a.UpdatedAt
	}
	WriteJSON(w, http.StatusOK, out)
}

func (h *analyticsAPI) segments(w http.ResponseWriter, r *http.Request) {
	h.cachedJSON(w, r, "segments", func(ctx context.Context) (any, error) { return analyticsview.ReadSegments(ctx, h.a) })
}

// cohorts serves the cohort matrix of the last refresh; ?since=&until=
// (RFC 3339 or Unix seconds) keep the cohorts whose month begins in
// [since, until).
func (h *analyticsAPI) cohorts(w http.ResponseWriter, r *http.Request) {
	since, until, err := timeRange(r.URL.Query())
	if err != nil {
		WriteError(w, err)
		return
	}
	v, err := h.cached(r.Context(), "cohorts", func(ctx context.Context) (any, error) {
		cells, at, err := h.a.Cohorts(ctx)
		if err != nil {
			return nil, err
		}
		minorPer, err := analyticsview.MinorPer(ctx, h.a)
		if err != nil {
			return nil, err
		}
		return analyticsview.CohortMatrix(cells, at, minorPer), nil
	})
	if err != nil {
		WriteError(w, err)
		return
	}
	all := v.(analyticsview.Cohorts)
	out := all
	out.Cohorts = make([]analyticsview.CohortRow, 0, len(all.Cohorts))
	for _, row := range all.Cohorts {
		m, err := time.Parse("2006-01", row.Month)
		if err == nil && (!since.IsZero() && m.Before(since) || !until.IsZero() && !m.Before(until)) {
			continue
		}
		out.Cohorts = append(out.Cohorts, row)
	}
	WriteJSON(w, http.StatusOK, out)
}

// segmentMovement answers GET /api/v1/segments/movement: the stored
// movements (the refresh keeps the latest hundred) of the refreshes that
// ran in [since, until), newest first, ten a page by default.
func (h *analyticsAPI) segmentMovement(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, before, err := pageQuery(q, 10)
	if err != nil {
		WriteError(w, err)
		return
	}
	since, until, err := timeRange(q)
	if err != nil {
		WriteError(w, err)
		return
	}
	all, err := analyticsview.ReadSegmentMovements(r.Context(), h.a, maxPage)
	if err != nil {
		WriteError(w, err)
		return
	}
	kept := all.Movements[:0]
	for _, m := range all.Movements {
		if (since.IsZero() || !m.ComputedAt.Before(since)) && (until.IsZero() || m.ComputedAt.Before(until)) {
			kept = append(kept, m)
		}
	}
	all.Movements = kept
	var after func(analyticsview.SegmentMovement) bool
	if before != 0 {
		after = func(m analyticsview.SegmentMovement) bool { return m.ID < before }
	}
	out := analyticsview.SegmentMovements{}
	out.Movements, out.NextCursor = pageOf(all.Movements, limit, after, func(m analyticsview.SegmentMovement) string {
		return strconv.FormatInt(m.ID, 10)
	})
	if out.Movements == nil {
		out.Movements = []analyticsview.SegmentMovement{}
	}
	WriteJSON(w, http.StatusOK, out)
}

func (h *analyticsAPI) clvModel(w http.ResponseWriter, r *http.Request) {
	m, err := analyticsview.ReadCLVModel(r.Context(), h.a)
	if errors.Is(err, store.ErrNoModel) {
		WriteError(w, fmt.Errorf("%w: no CLV model has been fitted yet", ErrNotFound))
		return
	}
	if err != nil {
		WriteError(w, err)
		return
	}
	WriteJSON(w, http.StatusOK, m)
}
