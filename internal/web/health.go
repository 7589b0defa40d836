package web

import (
	"context"
	"net/http"
	"strings"
	"time"
)

// Readiness is what GET /readyz reports: whether the pipeline is doing its
// work, and if not, why and since when. /healthz only says the process is
// alive and its store answers.
type Readiness struct {
	Ready bool `json:"ready"`
	// Reasons say why it is not ready, e.g. "writes failing (...) since
	// 10:42:03: ...".
	Reasons []string `json:"reasons,omitempty"`
	// StalledSince is when the oldest reason began.
	StalledSince *time.Time `json:"stalled_since,omitempty"`
	// Detail is the component's own snapshot (the processor's Health).
	Detail any `json:"detail,omitempty"`
	// Error is set when not ready, as every error answer of the server
	// carries it: code "unavailable" and the reasons as its message.
	Error *ErrorDetail `json:"error,omitempty"`
}

// readyz answers 200 when the store answers and Config.Ready says ready,
// else 503, with a JSON Readiness body either way.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	rd := Readiness{Ready: true}
	if s.cfg.Ready != nil {
		rd = s.cfg.Ready(ctx)
	}
	if err := s.cfg.Store.Ping(ctx); err != nil {
		rd.Ready = false
		s.log.Error("readiness: the store does not answer", "err", err)
		rd.Reasons = append(rd.Reasons, "store: not answering (the server's log says why)")
	}
	status := http.StatusOK
	if !rd.Ready {
		status = http.StatusServiceUnavailable
		msg := "not ready"
		if len(rd.Reasons) > 0 {
			msg += ": " + strings.Join(rd.Reasons, "; ")
		}
		rd.Error = &ErrorDetail{Code: "unavailable", Message: msg}
	}
	WriteJSON(w, status, rd)
}
