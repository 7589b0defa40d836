package web

import (
	"fmt"
	"io"
	"net/http"

	"github.com/shopstream/shopstream/internal/event"
)

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
