package web

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/shopstream/shopstream/internal/alertroute"
	"github.com/shopstream/shopstream/internal/store"
)

// DeliveryJSON is one row of GET /api/v1/alerts/deliveries: what became
// of one routed alert at one destination, or one group or digest message.
type DeliveryJSON struct {
	ID int64 `json:"id"`
	// MessageID is the Idempotency-Key / message-id header the message
	// carries (pending, sent and failed rows).
	MessageID string `json:"message_id,omitempty"`
	// OutboxID is the queued alert's outbox message; absent for a group
	// or digest.
	OutboxID    int64  `json:"outbox_id,omitempty"`
	Destination string `json:"destination"`
	Rule        string `json:"rule"`
	// Status is pending, sent, failed, deduplicated, grouped or
	// rate_limited.
	Status string `json:"status"`
	// Type is alert, group or digest.
	Type string `json:"type"`
	// BundleID is the group or digest that carries a grouped or
	// rate-limited alert.
	BundleID int64  `json:"bundle_id,omitempty"`
	Kind     string `json:"kind"`
	Key      string `json:"key,omitempty"`
	Severity string `json:"severity"`
	Summary  string `json:"summary"`
	// Members is how many alerts a group or digest carried when sent.
	Members     int        `json:"members,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	DueAt       time.Time  `json:"due_at"`
	Attempts    int        `json:"attempts"`
	LastAttempt *time.Time `json:"last_attempt_at,omitempty"`
	LastError   string     `json:"last_error,omitempty"`
	DeliveredAt *time.Time `json:"delivered_at,omitempty"`
}

// DeliveriesResponse is the body of GET /api/v1/alerts/deliveries.
type DeliveriesResponse struct {
	Deliveries []DeliveryJSON `json:"deliveries"`
	// NextCursor, when not empty, is the cursor of the next (older) page.
	NextCursor string `json:"next_cursor,omitempty"`
}

// RegisterDeliveries adds the record of routed alerts (docs/alerts.md):
//
//	GET /api/v1/alerts/deliveries?destination=ops&status=sent&since=RFC3339&limit=100&cursor=C
//
// newest first; a page that is full has a next_cursor for the next one.
func RegisterDeliveries(s *Server, st store.AlertDeliveries) {
	s.Handle("GET /api/v1/alerts/deliveries", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { deliveries(w, r, st) }))
}

func deliveries(w http.ResponseWriter, r *http.Request, st store.AlertDeliveries) {
	q := r.URL.Query()
	f := store.DeliveryFilter{Destination: q.Get("destination"), Status: q.Get("status"), Limit: 100}
	if f.Status != "" && !alertroute.ValidStatus(f.Status) {
		WriteError(w, fmt.Errorf("%w: status %q, want pending, sent, failed, deduplicated, grouped or rate_limited", ErrBadRequest, f.Status))
		return
	}
	var err error
	if f.Since, err = queryTime(q, "since"); err != nil {
		WriteError(w, err)
		return
	}
	if f.Limit, f.BeforeID, err = pageQuery(q, 100); err != nil {
		WriteError(w, err)
		return
	}
	ds, err := st.Deliveries(r.Context(), f)
	if err != nil {
		WriteError(w, err)
		return
	}
	resp := DeliveriesResponse{Deliveries: make([]DeliveryJSON, len(ds))}
	for i := range ds {
		resp.Deliveries[i] = deliveryJSON(&ds[i])
	}
	if len(ds) == f.Limit {
		resp.NextCursor = strconv.FormatInt(ds[len(ds)-1].ID, 10)
	}
	WriteJSON(w, http.StatusOK, resp)
}

func deliveryJSON(d *store.Delivery) DeliveryJSON {
	out := DeliveryJSON{ID: d.ID, OutboxID: d.OutboxID, Destination: d.Destination, Rule: d.Rule, Status: string(d.Status),
		Type: string(d.Bundle), BundleID: d.BundleID, Kind: d.Kind, Key: d.Key, Severity: d.Severity, Summary: d.Summary,
		Members: d.MemberCount, CreatedAt: d.CreatedAt, DueAt: d.DueAt, Attempts: d.Attempts, LastAttempt: d.LastAttempt,
		LastError: d.LastError, DeliveredAt: d.DeliveredAt}
	if out.Type == "" {
		out.Type = "alert"
	}
	switch d.Status {
	case alertroute.Pending, alertroute.Sent, alertroute.Failed:
		out.MessageID = "shopstream-delivery-" + strconv.FormatInt(d.ID, 10) // alert.DeliveryID, which web may not import
	}
	return out
}
