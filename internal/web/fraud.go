package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/shopstream/shopstream/internal/detector"
	"github.com/shopstream/shopstream/internal/event"
	"github.com/shopstream/shopstream/internal/fraud/eval"
	"github.com/shopstream/shopstream/internal/quality"
	"github.com/shopstream/shopstream/internal/store"
)

// FraudDeps is what the fraud API needs.
type FraudDeps struct {
	// Store holds alerts, labels, outcomes and model versions. Required.
	Store store.Fraud
	// Detector scores POST /api/v1/score and tells the rules and models in
	// force. Required.
	Detector *detector.Detector
	// Models, when set, is synced after a promotion or rollback, so this
	// process switches models at once (others within their poll interval).
	Models *detector.ModelWatcher
	// Now is the clock. Defaults to time.Now.
	Now func() time.Time
	// Quality checks posted transactions. Defaults to quality's defaults.
	Quality quality.Config
	// MetricsTTL is how long a computed /api/v1/fraud/metrics answer is
	// reused, however many dashboards poll: one computation over the
	// 200,000-row sample takes about half a second. Defaults to 10 s.
	MetricsTTL time.Duration
}

// RegisterFraud adds the fraud API (docs/fraud.md shows every response):
//
//	GET  /api/v1/alerts?status=open&limit=50&since_id=N   alerts, newest first, with reasons
//	POST /api/v1/alerts/{transaction_id}/label            {"label": "fraud"|"false_positive"}
//	GET  /api/v1/fraud/rules                              rules and thresholds in force
//	GET  /api/v1/fraud/metrics?window=1h|24h|all          live precision, recall, FPR, PR-AUC
//	GET  /api/v1/fraud/models                             model versions with status and metrics
//	POST /api/v1/fraud/models/{version}/promote           make a version active
//	POST /api/v1/fraud/models/rollback                    re-activate the previous active version
//	POST /api/v1/score                                    score one transaction now, not stored
func RegisterFraud(s *Server, deps FraudDeps) {
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.MetricsTTL <= 0 {
		deps.MetricsTTL = 10 * time.Second
	}
	deps.Quality = deps.Quality.WithDefaults()
	h := &fraudAPI{deps: deps, cache: map[string]cachedMetrics{}}
	s.Handle("GET /api/v1/alerts", http.HandlerFunc(h.alerts))
	s.Handle("POST /api/v1/alerts/{transaction_id}/label", http.HandlerFunc(h.label))
	s.Handle("GET /api/v1/fraud/rules", http.HandlerFunc(h.rules))
	s.Handle("GET /api/v1/fraud/metrics", http.HandlerFunc(h.metrics))
	s.Handle("GET /api/v1/fraud/models", http.HandlerFunc(h.models))
	s.Handle("POST /api/v1/fraud/models/{version}/promote", http.HandlerFunc(h.promote))
	s.Handle("POST /api/v1/fraud/models/rollback", http.HandlerFunc(h.rollback))
	s.Handle("POST /api/v1/score", http.HandlerFunc(h.score))
}

type fraudAPI struct {
	deps FraudDeps

	mu    sync.Mutex // one metrics computation at a time
	cache map[string]cachedMetrics
}

type cachedMetrics struct {
	m  *FraudMetrics
	at time.Time
}

// round4 keeps four decimals of a risk stored as a float32.
func round4(v float64) float64 { return math.Round(v*1e4) / 1e4 }

// num turns NaN (an undefined rate) into null.
func num(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	v = math.Round(v*1e6) / 1e6
	return &v
}

// AlertJSON is one alert of GET /api/v1/alerts.
type AlertJSON struct {
	ID            int64           `json:"id"`
	TransactionID string          `json:"transaction_id"`
	CustomerID    string          `json:"customer_id"`
	EventTime     time.Time       `json:"event_time"`
	Amount        float64         `json:"amount"`
	AmountCents   int64           `json:"amount_cents"`
	Risk          float64         `json:"risk"`
	Decision      string          `json:"decision"`
	Reasons       json.RawMessage `json:"reasons"`
	Status        string          `json:"status"`
	CreatedAt     time.Time       `json:"created_at"`
	LabelledAt    *time.Time      `json:"labelled_at"`
}

func alertJSON(a *store.AlertRecord) AlertJSON {
	reasons := json.RawMessage(a.ReasonsJSON)
	if !json.Valid(reasons) {
		reasons = json.RawMessage("[]")
	}
	return AlertJSON{ID: a.ID, TransactionID: a.TransactionID, CustomerID: a.CustomerID, EventTime: a.EventTime,
		Amount: float64(a.AmountCents) / 100, AmountCents: a.AmountCents, Risk: round4(a.Risk), Decision: a.Decision,
		Reasons: reasons, Status: a.Status, CreatedAt: a.CreatedAt, LabelledAt: a.LabelledAt}
}

// AlertsResponse is the body of GET /api/v1/alerts.
type AlertsResponse struct {
	Alerts []AlertJSON `json:"alerts"`
	// LastID is the highest ID returned (or since_id): the since_id of the
	// next poll.
	LastID int64 `json:"last_id"`
}

func (h *fraudAPI) alerts(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := store.AlertFilter{Status: q.Get("status"), Limit: 50}
	if f.Status == "all" {
		f.Status = ""
	}
	if f.Status != "" && !store.ValidAlertStatus(f.Status) {
		WriteError(w, fmt.Errorf("%w: status %q, want open, confirmed_fraud, false_positive or all", ErrBadRequest, f.Status))
		return
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			WriteError(w, fmt.Errorf("%w: limit %q, want 1..1000", ErrBadRequest, v))
			return
		}
		f.Limit = n
	}
	if v := q.Get("since_id"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			WriteError(w, fmt.Errorf("%w: since_id %q is not a non-negative integer", ErrBadRequest, v))
			return
		}
		f.SinceID = n
	}
	as, err := h.deps.Store.Alerts(r.Context(), f)
	if err != nil {
		WriteError(w, err)
		return
	}
	resp := AlertsResponse{Alerts: make([]AlertJSON, len(as)), LastID: f.SinceID}
	for i := range as {
		resp.Alerts[i] = alertJSON(&as[i])
		resp.LastID = max(resp.LastID, as[i].ID)
	}
	WriteJSON(w, http.StatusOK, resp)
}

// maxBody bounds request bodies of the fraud API.
const maxBody = 1 << 20

func (h *fraudAPI) label(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Label string `json:"label"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		WriteError(w, fmt.Errorf("%w: body must be {\"label\": \"fraud\"|\"false_positive\"}: %v", ErrBadRequest, err))
		return
	}
	var status string
	switch body.Label {
	case "fraud":
		status = store.AlertConfirmedFraud
	case "false_positive":
		status = store.AlertFalsePositive
	default:
		WriteError(w, fmt.Errorf("%w: label %q, want fraud or false_positive", ErrInvalid, body.Label))
		return
	}
	a, err := h.deps.Store.LabelAlert(r.Context(), r.PathValue("transaction_id"), status, h.deps.Now())
	if errors.Is(err, store.ErrUnknownAlert) {
		WriteError(w, fmt.Errorf("%w: %w", ErrNotFound, err))
		return
	}
	if err != nil {
		WriteError(w, err)
		return
	}
	WriteJSON(w, http.StatusOK, alertJSON(a))
}

// Thresholds are the scorer's settings in force.
type Thresholds struct {
	ReviewAt    float64 `json:"review_at"`
	DeclineAt   float64 `json:"decline_at"`
	ModelWeight float64 `json:"model_weight"`
}

func (h *fraudAPI) thresholds() Thresholds {
	c := h.deps.Detector.Scorer().Config()
	return Thresholds{ReviewAt: c.ReviewAt, DeclineAt: c.DeclineAt, ModelWeight: c.ModelWeight}
}

// ModelsInUse are the model versions this process scores with.
type ModelsInUse struct {
	Active *int `json:"active"`
	Shadow *int `json:"shadow"`
}

func (h *fraudAPI) inUse() ModelsInUse {
	var u ModelsInUse
	if m := h.deps.Detector.Active(); m != nil {
		v := m.Version
		u.Active = &v
	}
	if m := h.deps.Detector.Shadow(); m != nil {
		v := m.Version
		u.Shadow = &v
	}
	return u
}

func (h *fraudAPI) rules(w http.ResponseWriter, _ *http.Request) {
	WriteJSON(w, http.StatusOK, map[string]any{
		"rules":      h.deps.Detector.Rules().Rules(),
		"thresholds": h.thresholds(),
		"models":     h.inUse(),
	})
}

// ModelJSON is one version of GET /api/v1/fraud/models.
type ModelJSON struct {
	Version     int             `json:"version"`
	Status      string          `json:"status"`
	CreatedAt   time.Time       `json:"created_at"`
	StatusAt    time.Time       `json:"status_at"`
	ActivatedAt *time.Time      `json:"activated_at"`
	RolledBack  bool            `json:"rolled_back"`
	Note        string          `json:"note"`
	Metrics     json.RawMessage `json:"metrics"`
}

// ModelsResponse is the body of GET /api/v1/fraud/models and of the
// promote and rollback calls.
type ModelsResponse struct {
	// Models are all versions, newest first.
	Models []ModelJSON `json:"models"`
	// Stored are the active and shadow versions in the store; InUse are
	// those of this process, which follows the store within its poll
	// interval.
	Stored ModelsInUse `json:"stored"`
	InUse  ModelsInUse `json:"in_use"`
}

func (h *fraudAPI) modelsResponse(w http.ResponseWriter, r *http.Request) {
	ms, err := h.deps.Store.FraudModels(r.Context())
	if err != nil {
		WriteError(w, err)
		return
	}
	resp := ModelsResponse{Models: make([]ModelJSON, len(ms)), InUse: h.inUse()}
	for i, m := range ms {
		metrics := json.RawMessage(m.Metrics)
		if !json.Valid(metrics) {
			metrics = json.RawMessage("{}")
		}
		resp.Models[i] = ModelJSON{Version: m.Version, Status: m.Status, CreatedAt: m.CreatedAt, StatusAt: m.StatusAt,
			ActivatedAt: m.ActivatedAt, RolledBack: m.RolledBack, Note: m.Note, Metrics: metrics}
		v := m.Version
		switch m.Status {
		case store.StatusActive:
			resp.Stored.Active = &v
		case store.StatusShadow:
			resp.Stored.Shadow = &v
		}
	}
	WriteJSON(w, http.StatusOK, resp)
}

func (h *fraudAPI) models(w http.ResponseWriter, r *http.Request) { h.modelsResponse(w, r) }

// modelError maps the store's model errors to their HTTP kinds.
func modelError(err error) error {
	switch {
	case errors.Is(err, store.ErrNoModel):
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	case errors.Is(err, store.ErrModelStatus), errors.Is(err, store.ErrNoRollback):
		return fmt.Errorf("%w: %w", ErrConflict, err)
	}
	return err
}

// synced applies the new versions in this process at once.
func (h *fraudAPI) synced(w http.ResponseWriter, r *http.Request) {
	if h.deps.Models != nil {
		if err := h.deps.Models.Sync(r.Context()); err != nil {
			WriteError(w, fmt.Errorf("the change is stored, but applying it here failed (it is retried): %w", err))
			return
		}
	}
	h.modelsResponse(w, r)
}

func (h *fraudAPI) promote(w http.ResponseWriter, r *http.Request) {
	v, err := strconv.Atoi(r.PathValue("version"))
	if err != nil || v < 1 {
		WriteError(w, fmt.Errorf("%w: version %q is not a positive integer", ErrBadRequest, r.PathValue("version")))
		return
	}
	if err := h.deps.Store.SetFraudModelStatus(r.Context(), v, store.StatusActive, "promoted through the API", h.deps.Now()); err != nil {
		WriteError(w, modelError(err))
		return
	}
	h.synced(w, r)
}

func (h *fraudAPI) rollback(w http.ResponseWriter, r *http.Request) {
	if _, err := h.deps.Store.RollbackFraudModel(r.Context(), h.deps.Now()); err != nil {
		WriteError(w, modelError(err))
		return
	}
	h.synced(w, r)
}

func (h *fraudAPI) score(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		WriteError(w, fmt.Errorf("%w: reading the body: %v", ErrBadRequest, err))
		return
	}
	var t event.Transaction
	if fail := h.deps.Quality.Decode(body, h.deps.Now(), &t); fail != nil {
		WriteError(w, fmt.Errorf("%w: %s", ErrInvalid, fail.Error()))
		return
	}
	v, err := h.deps.Detector.ScoreOne(r.Context(), h.deps.Store, &t)
	if err != nil {
		WriteError(w, err)
		return
	}
	v.Risk = round4(v.Risk)
	if v.ShadowRisk != nil {
		sr := round4(*v.ShadowRisk)
		v.ShadowRisk = &sr
	}
	WriteJSON(w, http.StatusOK, v)
}

// Windows of /api/v1/fraud/metrics.
var metricWindows = map[string]time.Duration{"1h": time.Hour, "24h": 24 * time.Hour, "all": 0}

// FraudMetrics is the body of GET /api/v1/fraud/metrics. Rates are null
// when undefined (no labelled fraud, nothing flagged).
type FraudMetrics struct {
	Window string `json:"window"`
	// AsOf is the newest event time stored; the window is the span of
	// event time before it. Since is null for "all".
	AsOf  *time.Time `json:"as_of"`
	Since *time.Time `json:"since"`
	// Transactions in the window (or the sample of it); Labelled of them
	// carry the generator's label or an analyst's (AnalystLabelled).
	Transactions    int `json:"transactions"`
	Labelled        int `json:"labelled"`
	AnalystLabelled int `json:"analyst_labelled"`
	Fraud           int `json:"fraud"`
	// Flagged is how many labelled transactions were held for review or
	// declined: the decisions actually taken.
	Flagged   int      `json:"flagged"`
	Precision *float64 `json:"precision"`
	Recall    *float64 `json:"recall"`
	FPR       *float64 `json:"fpr"`
	PRAUC     *float64 `json:"pr_auc"`
	ROCAUC    *float64 `json:"roc_auc"`
	// PerScenario is keyed by the generator's fraud scenario; fraud an
	// analyst confirmed that the generator did not label is "analyst".
	PerScenario map[string]ScenarioMetrics `json:"per_scenario"`
	Thresholds  Thresholds                 `json:"thresholds"`
	// Sampled is set when the window held more than SampleLimit
	// transactions: the figures are then over the newest SampleLimit.
	Sampled     bool          `json:"sampled"`
	SampleLimit int           `json:"sample_limit"`
	Series      []SeriesPoint `json:"series"`
	// Shadow compares the shadow model with the active one on the
	// labelled transactions both scored, when there are any.
	Shadow     *ShadowMetrics `json:"shadow"`
	ComputedAt time.Time      `json:"computed_at"`
}

// ScenarioMetrics is the detection of one fraud scenario.
type ScenarioMetrics struct {
	Fraud  int      `json:"fraud"`
	Caught int      `json:"caught"`
	Recall *float64 `json:"recall"`
}

// SeriesPoint is one bucket of event time of FraudMetrics.Series.
type SeriesPoint struct {
	Start     time.Time `json:"start"`
	Labelled  int       `json:"labelled"`
	Fraud     int       `json:"fraud"`
	Flagged   int       `json:"flagged"`
	Precision *float64  `json:"precision"`
	Recall    *float64  `json:"recall"`
}

// ShadowMetrics compares shadow and active risks on the same transactions.
type ShadowMetrics struct {
	Version  *int     `json:"version"`
	Rows     int      `json:"rows"`
	Fraud    int      `json:"fraud"`
	PRAUC    *float64 `json:"pr_auc"`
	ActivePR *float64 `json:"active_pr_auc"`
}

func (h *fraudAPI) metrics(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("window")
	if name == "" {
		name = "1h"
	}
	window, ok := metricWindows[name]
	if !ok {
		WriteError(w, fmt.Errorf("%w: window %q, want 1h, 24h or all", ErrBadRequest, name))
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if c, ok := h.cache[name]; ok && time.Since(c.at) < h.deps.MetricsTTL {
		WriteJSON(w, http.StatusOK, c.m)
		return
	}
	out, err := h.deps.Store.FraudOutcomes(r.Context(), store.OutcomeQuery{Window: window})
	if err != nil {
		WriteError(w, err)
		return
	}
	m := h.compute(name, out)
	h.cache[name] = cachedMetrics{m, time.Now()}
	WriteJSON(w, http.StatusOK, m)
}

// compute turns outcomes into FraudMetrics with internal/fraud/eval.
func (h *fraudAPI) compute(name string, out *store.Outcomes) *FraudMetrics {
	m := &FraudMetrics{Window: name, Transactions: len(out.Rows), Thresholds: h.thresholds(), Sampled: out.Sampled,
		SampleLimit: store.DefaultOutcomeLimit, PerScenario: map[string]ScenarioMetrics{}, Series: []SeriesPoint{},
		ComputedAt: h.deps.Now().UTC()}
	if !out.AsOf.IsZero() {
		m.AsOf = &out.AsOf
	}
	if !out.Since.IsZero() {
		m.Since = &out.Since
	}
	var (
		risks, shadowRisks, activeRisks []float64
		labels, shadowLabels            []bool
		c                               eval.Confusion
		shadowFraud                     int
	)
	for i := range out.Rows {
		o := &out.Rows[i]
		if !o.Labelled {
			continue
		}
		m.Labelled++
		if o.Analyst {
			m.AnalystLabelled++
		}
		flagged := o.Decision != "approve"
		switch {
		case flagged && o.Fraud:
			c.TP++
		case flagged:
			c.FP++
		case o.Fraud:
			c.FN++
		default:
			c.TN++
		}
		risks = append(risks, o.Risk)
		labels = append(labels, o.Fraud)
		if o.HasShadow {
			shadowRisks = append(shadowRisks, o.ShadowRisk)
			activeRisks = append(activeRisks, o.Risk)
			shadowLabels = append(shadowLabels, o.Fraud)
			if o.Fraud {
				shadowFraud++
			}
		}
		if o.Fraud {
			name := o.Scenario
			if name == "" {
				name = "analyst"
			}
			sc := m.PerScenario[name]
			sc.Fraud++
			if flagged {
				sc.Caught++
			}
			m.PerScenario[name] = sc
		}
	}
	m.Fraud, m.Flagged = c.TP+c.FN, c.TP+c.FP
	m.Precision, m.Recall, m.FPR = num(c.Precision()), num(c.Recall()), num(c.FPR())
	m.PRAUC, m.ROCAUC = num(eval.PRAUC(risks, labels)), num(eval.ROCAUC(risks, labels))
	for k, sc := range m.PerScenario {
		sc.Recall = num(float64(sc.Caught) / float64(sc.Fraud))
		m.PerScenario[k] = sc
	}
	if len(shadowRisks) > 0 {
		sm := &ShadowMetrics{Rows: len(shadowRisks), Fraud: shadowFraud,
			PRAUC: num(eval.PRAUC(shadowRisks, shadowLabels)), ActivePR: num(eval.PRAUC(activeRisks, shadowLabels))}
		if s := h.deps.Detector.Shadow(); s != nil {
			v := s.Version
			sm.Version = &v
		}
		m.Shadow = sm
	}
	m.Series = series(out)
	return m
}

// bucketSizes are the candidate widths of the series' buckets.
var bucketSizes = []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, time.Hour, 6 * time.Hour, 24 * time.Hour, 7 * 24 * time.Hour}

// series buckets the labelled outcomes by event time, about 24 buckets over
// the span they cover, with precision and recall per bucket.
func series(out *store.Outcomes) []SeriesPoint {
	var first, last time.Time
	for i := range out.Rows {
		o := &out.Rows[i]
		if !o.Labelled {
			continue
		}
		if first.IsZero() || o.EventTime.Before(first) {
			first = o.EventTime
		}
		if o.EventTime.After(last) {
			last = o.EventTime
		}
	}
	if first.IsZero() {
		return []SeriesPoint{}
	}
	if !out.Since.IsZero() {
		first = out.Since
	}
	size := bucketSizes[len(bucketSizes)-1]
	for _, b := range bucketSizes {
		if last.Sub(first)/b <= 30 {
			size = b
			break
		}
	}
	type acc struct{ c eval.Confusion }
	byStart := map[int64]*acc{}
	for i := range out.Rows {
		o := &out.Rows[i]
		if !o.Labelled {
			continue
		}
		k := o.EventTime.Truncate(size).Unix()
		a := byStart[k]
		if a == nil {
			a = &acc{}
			byStart[k] = a
		}
		flagged := o.Decision != "approve"
		switch {
		case flagged && o.Fraud:
			a.c.TP++
		case flagged:
			a.c.FP++
		case o.Fraud:
			a.c.FN++
		default:
			a.c.TN++
		}
	}
	keys := make([]int64, 0, len(byStart))
	for k := range byStart {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	pts := make([]SeriesPoint, len(keys))
	for i, k := range keys {
		c := byStart[k].c
		pts[i] = SeriesPoint{Start: time.Unix(k, 0).UTC(), Labelled: c.TP + c.FP + c.TN + c.FN, Fraud: c.TP + c.FN,
			Flagged: c.TP + c.FP, Precision: num(c.Precision()), Recall: num(c.Recall())}
	}
	return pts
}
