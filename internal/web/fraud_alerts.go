package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/shopstream/shopstream/internal/store"
)

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
	// NextCursor, when present, is the cursor of the next (older) page;
	// absent on the last page.
	NextCursor string `json:"next_cursor,omitempty"`
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
	var err error
	if f.Limit, f.BeforeID, err = pageQuery(q, 50); err != nil {
		WriteError(w, err)
		return
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
	if len(as) == f.Limit {
		resp.NextCursor = strconv.FormatInt(as[len(as)-1].ID, 10)
	}
	WriteJSON(w, http.StatusOK, resp)
}

func (h *fraudAPI) label(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Label string `json:"label"`
	}
	dec := json.NewDecoder(r.Body)
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
	before := alertState(r.Context(), h.deps.Store, r.PathValue("transaction_id"))
	a, err := h.deps.Store.LabelAlert(r.Context(), r.PathValue("transaction_id"), status, h.deps.Now())
	if errors.Is(err, store.ErrUnknownAlert) {
		WriteError(w, fmt.Errorf("%w: %w", ErrNotFound, err))
		return
	}
	if err != nil {
		WriteError(w, err)
		return
	}
	Audit(r, "alert.label", a.TransactionID, before, alertJSON(a))
	WriteJSON(w, http.StatusOK, alertJSON(a))
}
