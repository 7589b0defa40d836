package web

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/shopstream/shopstream/internal/event"
)

func (h *fraudAPI) score(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
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
	resp := ScoreResponse{Risk: round4(v.Risk), Decision: v.Decision, Reasons: v.Reasons, ModelVersion: v.ModelVersion,
		ShadowVersion: v.ShadowVersion, History: v.History}
	if v.ShadowRisk != nil {
		sr := round4(*v.ShadowRisk)
		resp.ShadowRisk = &sr
	}
	WriteJSON(w, http.StatusOK, resp)
}

// ScoreResponse is the body of POST /api/v1/score.
type ScoreResponse struct {
	Risk     float64 `json:"risk"`
	Decision string  `json:"decision"`
	// Reasons is the JSON array stored with transactions (rules, then
	// standing-out features).
	Reasons json.RawMessage `json:"reasons"`
	// ModelVersion is the active model scored with, null for rules alone.
	ModelVersion *int `json:"model_version"`
	// ShadowRisk is the shadow model's risk, when there is one.
	ShadowRisk    *float64 `json:"shadow_risk,omitempty"`
	ShadowVersion *int     `json:"shadow_version,omitempty"`
	// History is how many stored transactions of the customer were
	// replayed.
	History int `json:"history"`
}
