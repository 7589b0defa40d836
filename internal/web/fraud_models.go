package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/shopstream/shopstream/internal/fraud"
	"github.com/shopstream/shopstream/internal/store"
)

// Thresholds are the scorer's settings in force.
type Thresholds struct {
	ReviewAt    float64 `json:"review_at"`
	DeclineAt   float64 `json:"decline_at"`
	ModelWeight float64 `json:"model_weight"`
}

func thresholdsJSON(c fraud.ScorerConfig) Thresholds {
	return Thresholds{ReviewAt: c.ReviewAt, DeclineAt: c.DeclineAt, ModelWeight: c.ModelWeight}
}

func (h *fraudAPI) thresholds() Thresholds { return thresholdsJSON(h.deps.Detector.Scorer().Config()) }

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
	// Models are the versions, newest first: all of them after a change,
	// a page of those the filter selects for GET /api/v1/fraud/models.
	Models []ModelJSON `json:"models"`
	// NextCursor, when more versions remain, is the cursor of the next
	// page.
	NextCursor string `json:"next_cursor,omitempty"`
	// Stored are the active and shadow versions in the store; InUse are
	// those of this process, which follows the store within its poll
	// interval.
	Stored ModelsInUse `json:"stored"`
	InUse  ModelsInUse `json:"in_use"`
}

// modelsPage selects the versions of a page: ?status=&limit=&cursor=.
type modelsPage struct {
	status string
	limit  int
	before int64 // the cursor: versions below it; 0 for the first page
}

func (h *fraudAPI) modelsResponse(w http.ResponseWriter, r *http.Request) {
	h.modelsPage(w, r, modelsPage{limit: math.MaxInt})
}

func (h *fraudAPI) modelsPage(w http.ResponseWriter, r *http.Request, page modelsPage) {
	ms, err := h.deps.Store.FraudModels(r.Context())
	if err != nil {
		WriteError(w, err)
		return
	}
	resp := ModelsResponse{Models: []ModelJSON{}, InUse: h.inUse()}
	var listed []ModelJSON
	for _, m := range ms {
		v := m.Version
		switch m.Status {
		case store.StatusActive:
			resp.Stored.Active = &v
		case store.StatusShadow:
			resp.Stored.Shadow = &v
		}
		if page.status != "" && m.Status != page.status {
			continue
		}
		metrics := json.RawMessage(m.Metrics)
		if !json.Valid(metrics) {
			metrics = json.RawMessage("{}")
		}
		listed = append(listed, ModelJSON{Version: m.Version, Status: m.Status, CreatedAt: m.CreatedAt, StatusAt: m.StatusAt,
			ActivatedAt: m.ActivatedAt, RolledBack: m.RolledBack, Note: m.Note, Metrics: metrics})
	}
	var after func(ModelJSON) bool
	if page.before != 0 {
		after = func(m ModelJSON) bool { return int64(m.Version) < page.before }
	}
	if got, next := pageOf(listed, page.limit, after, func(m ModelJSON) string { return strconv.Itoa(m.Version) }); got != nil {
		resp.Models, resp.NextCursor = got, next
	}
	WriteJSON(w, http.StatusOK, resp)
}

// models serves the versions newest first: ?status=active|shadow|retired
// &limit=50&cursor=.
func (h *fraudAPI) models(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var page modelsPage
	limit, cursor, err := listQuery(q, 50)
	page.limit = limit
	if err == nil {
		page.status, err = oneOf(q, "status", store.StatusActive, store.StatusShadow, store.StatusRetired)
	}
	if err == nil && cursor != "" {
		page.before, err = intCursor(cursor)
	}
	if err != nil {
		WriteError(w, err)
		return
	}
	h.modelsPage(w, r, page)
}

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
	before := modelsState(w, r, h.deps.Store)
	if err := h.deps.Store.SetFraudModelStatus(r.Context(), v, store.StatusActive, "promoted through the API", h.deps.Now()); err != nil {
		WriteError(w, modelError(err))
		return
	}
	Audit(r, "fraud_model.promote", strconv.Itoa(v), before, modelsState(w, r, h.deps.Store))
	h.synced(w, r)
}

func (h *fraudAPI) rollback(w http.ResponseWriter, r *http.Request) {
	before := modelsState(w, r, h.deps.Store)
	v, err := h.deps.Store.RollbackFraudModel(r.Context(), h.deps.Now())
	if err != nil {
		WriteError(w, modelError(err))
		return
	}
	Audit(r, "fraud_model.rollback", strconv.Itoa(v), before, modelsState(w, r, h.deps.Store))
	h.synced(w, r)
}
