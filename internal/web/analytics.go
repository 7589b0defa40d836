package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/shopstream/shopstream/internal/analytics"
	"github.com/shopstream/shopstream/internal/modeldoc"
	"github.com/shopstream/shopstream/internal/store"
)

// RegisterAnalytics adds the customer-analytics API, which serves what the
// periodic refresh (internal/jobs) stored; docs/analytics.md shows every
// response:
//
//	GET /api/v1/customers/{id}  profile, RFM scores and segment, CLV, cluster
//	GET /api/v1/segments        customers per RFM segment; cluster profiles
//	GET /api/v1/cohorts         acquisition cohorts: retention and revenue
//	GET /api/v1/clv/model       CLV model parameters and fit statistics
//
// Segments and cohorts change once per refresh, so they are cached for
// ten seconds however many dashboards poll.
func RegisterAnalytics(s *Server, a store.Analytics) {
	h := &analyticsAPI{a: a, ttl: 10 * time.Second}
	s.Handle("GET /api/v1/customers/{id}", http.HandlerFunc(h.customer))
	s.Handle("GET /api/v1/segments", http.HandlerFunc(h.segments))
	s.Handle("GET /api/v1/cohorts", http.HandlerFunc(h.cohorts))
	s.Handle("GET /api/v1/clv/model", http.HandlerFunc(h.clvModel))
}

type analyticsAPI struct {
	a   store.Analytics
	ttl time.Duration

	mu    sync.Mutex
	cache map[string]analyticsCached
}

type analyticsCached struct {
	v  any
	at time.Time
}

// cachedJSON serves the value build makes, reusing it for ttl.
func (h *analyticsAPI) cachedJSON(w http.ResponseWriter, r *http.Request, key string, build func(ctx context.Context) (any, error)) {
	h.mu.Lock()
	c, ok := h.cache[key]
	h.mu.Unlock()
	if !ok || time.Since(c.at) >= h.ttl {
		v, err := build(r.Context())
		if err != nil {
			WriteError(w, err)
			return
		}
		c = analyticsCached{v, time.Now()}
		h.mu.Lock()
		if h.cache == nil {
			h.cache = map[string]analyticsCached{}
		}
		h.cache[key] = c
		h.mu.Unlock()
	}
	WriteJSON(w, http.StatusOK, c.v)
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
	RFM       *RFMResponse      `json:"rfm"`
	CLV       *store.CLVFigures `json:"clv"`
	Cluster   *int              `json:"cluster"`
	UpdatedAt *time.Time        `json:"updated_at"`
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
	out := CustomerResponse{CustomerID: p.CustomerID, FirstSeen: p.FirstSeen, LastSeen: p.LastSeen, Orders: p.Orders,
		Revenue: float64(p.RevenueCents) / 100, RevenueCents: p.RevenueCents}
	if a := p.Analytics; a != nil {
		out.RFM = &RFMResponse{RecencyDays: a.RecencyDays, Frequency: a.FrequencyDays, Monetary: float64(a.MonetaryCents) / 100,
			R: a.R, F: a.F, M: a.M, Score: fmt.Sprintf("%d%d%d", a.R, a.F, a.M), Segment: a.Segment}
		out.CLV, out.Cluster, out.UpdatedAt = a.CLV, a.Cluster, &a.UpdatedAt
	}
	WriteJSON(w, http.StatusOK, out)
}

// SegmentsResponse is the body of GET /api/v1/segments.
type SegmentsResponse struct {
	// Customers is how many customers the refresh scored.
	Customers int64 `json:"customers"`
	// RFM lists every conventional segment, best first, empty ones too.
	RFM []SegmentRow `json:"rfm"`
	// Clusters is the latest behavioural clustering, null before the
	// first.
	Clusters *ClustersResponse `json:"clusters"`
}

// SegmentRow is one RFM segment.
type SegmentRow struct {
	Segment   string   `json:"segment"`
	Customers int64    `json:"customers"`
	Share     float64  `json:"share"`
	Revenue   float64  `json:"revenue"`
	MeanCLV   *float64 `json:"mean_clv"`
}

// ClustersResponse is a stored clustering and its cluster profiles.
type ClustersResponse struct {
	Version    int                       `json:"version"`
	CreatedAt  time.Time                 `json:"created_at"`
	K          int                       `json:"k"`
	Silhouette *float64                  `json:"silhouette"`
	Candidates []modeldoc.KSilhouette    `json:"candidates"`
	Features   []string                  `json:"features"`
	Centroids  [][]float64               `json:"centroids"`
	Profiles   []modeldoc.ClusterProfile `json:"profiles"`
}

func (h *analyticsAPI) segments(w http.ResponseWriter, r *http.Request) {
	h.cachedJSON(w, r, "segments", func(ctx context.Context) (any, error) { return Segments(ctx, h.a) })
}

// Segments builds the body of GET /api/v1/segments.
func Segments(ctx context.Context, a store.Analytics) (SegmentsResponse, error) {
	stats, err := a.SegmentStats(ctx)
	if err != nil {
		return SegmentsResponse{}, err
	}
	out := SegmentsResponse{RFM: []SegmentRow{}}
	by := map[string]store.SegmentStat{}
	for _, s := range stats {
		by[s.Segment] = s
		out.Customers += s.Customers
	}
	names := make([]string, 0, len(analytics.Segments))
	for _, s := range analytics.Segments {
		names = append(names, string(s))
	}
	for _, s := range stats { // any segment not in the conventional list
		if !slices.Contains(names, s.Segment) {
			names = append(names, s.Segment)
		}
	}
	for _, name := range names {
		s := by[name]
		row := SegmentRow{Segment: name, Customers: s.Customers, Revenue: float64(s.RevenueCents) / 100, MeanCLV: s.MeanCLV}
		if out.Customers > 0 {
			row.Share = float64(s.Customers) / float64(out.Customers)
		}
		out.RFM = append(out.RFM, row)
	}
	m, err := a.LatestModelVersion(ctx, store.ModelSegments)
	if errors.Is(err, store.ErrNoModel) {
		return out, nil
	}
	if err != nil {
		return SegmentsResponse{}, err
	}
	var p modeldoc.SegmentsParams
	var met modeldoc.SegmentsMetrics
	if err := errors.Join(json.Unmarshal(m.Params, &p), json.Unmarshal(m.Metrics, &met)); err != nil {
		return SegmentsResponse{}, fmt.Errorf("decoding segments model %d: %w", m.Version, err)
	}
	out.Clusters = &ClustersResponse{Version: m.Version, CreatedAt: m.CreatedAt, K: p.K, Silhouette: met.Silhouette,
		Candidates: met.Candidates, Features: p.Features, Centroids: p.Centroids, Profiles: met.Clusters}
	return out, nil
}

// CohortsResponse is the body of GET /api/v1/cohorts.
type CohortsResponse struct {
	// ComputedAt is when the refresh built the matrix; null before the
	// first refresh.
	ComputedAt *time.Time  `json:"computed_at"`
	Cohorts    []CohortRow `json:"cohorts"`
}

// CohortRow is one acquisition cohort; element k of each array is the
// cohort's k-th month (0 = the month of first purchase).
type CohortRow struct {
	// Month is the acquisition month, "2006-01".
	Month     string    `json:"month"`
	Size      int64     `json:"size"`
	Active    []int64   `json:"active"`
	Retention []float64 `json:"retention"`
	Revenue   []float64 `json:"revenue"`
}

func (h *analyticsAPI) cohorts(w http.ResponseWriter, r *http.Request) {
	h.cachedJSON(w, r, "cohorts", func(ctx context.Context) (any, error) {
		cells, at, err := h.a.Cohorts(ctx)
		if err != nil {
			return nil, err
		}
		return CohortMatrix(cells, at), nil
	})
}

// CohortMatrix arranges stored cohort cells (ordered by month and offset)
// as rows.
func CohortMatrix(cells []store.CohortCell, computedAt time.Time) CohortsResponse {
	out := CohortsResponse{Cohorts: []CohortRow{}}
	if !computedAt.IsZero() {
		out.ComputedAt = &computedAt
	}
	for _, c := range cells {
		month := c.Month.UTC().Format("2006-01")
		if n := len(out.Cohorts); n == 0 || out.Cohorts[n-1].Month != month {
			out.Cohorts = append(out.Cohorts, CohortRow{Month: month, Size: c.Size, Active: []int64{}, Retention: []float64{}, Revenue: []float64{}})
		}
		row := &out.Cohorts[len(out.Cohorts)-1]
		ret := 0.0
		if c.Size > 0 {
			ret = float64(c.Active) / float64(c.Size)
		}
		row.Active = append(row.Active, c.Active)
		row.Retention = append(row.Retention, ret)
		row.Revenue = append(row.Revenue, float64(c.RevenueCents)/100)
	}
	return out
}

// CLVModelResponse is the body of GET /api/v1/clv/model.
type CLVModelResponse struct {
	Version   int                 `json:"version"`
	Status    string              `json:"status"`
	CreatedAt time.Time           `json:"created_at"`
	Params    modeldoc.CLVParams  `json:"params"`
	Metrics   modeldoc.CLVMetrics `json:"metrics"`
}

func (h *analyticsAPI) clvModel(w http.ResponseWriter, r *http.Request) {
	m, err := CLVModel(r.Context(), h.a)
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

// CLVModel builds the body of GET /api/v1/clv/model; the error wraps
// store.ErrNoModel before the first fit.
func CLVModel(ctx context.Context, a store.Analytics) (*CLVModelResponse, error) {
	m, err := a.LatestModelVersion(ctx, store.ModelCLV)
	if err != nil {
		return nil, err
	}
	out := &CLVModelResponse{Version: m.Version, Status: m.Status, CreatedAt: m.CreatedAt}
	if err := errors.Join(json.Unmarshal(m.Params, &out.Params), json.Unmarshal(m.Metrics, &out.Metrics)); err != nil {
		return nil, fmt.Errorf("decoding CLV model %d: %w", m.Version, err)
	}
	return out, nil
}
