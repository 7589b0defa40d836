package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/shopstream/shopstream/internal/store"
)

// AlertJSON is one alert of GET /api/v1/alerts.
type AlertJSON struct {
	ID            int64     `json:"id"`
	TransactionID string    `json:"transaction_id"`
	CustomerID    string    `json:"customer_id"`
	EventTime     time.Time `json:"event_time"`
	// Amount is in the major units of Currency (of two decimals when
	// that is null): 150.5 EUR, 15050 JPY.
	Amount      float64 `json:"amount"`
	AmountCents int64   `json:"amount_cents"`
	// Currency is the transaction's, null for alerts raised before the
	// store kept it.
	Currency   *string         `json:"currency"`
	Risk       float64         `json:"risk"`
	Decision   string          `json:"decision"`
	Reasons    json.RawMessage `json:"reasons"`
	Status     string          `json:"status"`
	CreatedAt  time.Time       `json:"created_at"`
	LabelledAt *time.Time      `json:"labelled_at"`
	// LabelledBy names who labelled it last: the token's name and role,
	// "local" without authentication; null while open.
	LabelledBy *string `json:"labelled_by"`
	// Scenario is the fraud scenario a label of the transaction names,
	// null until one does: the generator's labels come with the
	// transaction, label events (chargebacks) weeks later.
	Scenario *string `json:"scenario"`
	// ModelVersion is the active model version that scored it, null for
	// the rules alone (and alerts raised before it was recorded).
	ModelVersion *int `json:"model_version"`
}

func alertJSON(a *store.AlertRecord) AlertJSON {
	reasons := json.RawMessage(a.ReasonsJSON)
	if !json.Valid(reasons) {
		reasons = json.RawMessage("[]")
	}
	out := AlertJSON{ID: a.ID, TransactionID: a.TransactionID, CustomerID: a.CustomerID, EventTime: a.EventTime,
		Amount: majorUnits(a.AmountCents, a.Currency), AmountCents: a.AmountCents, Risk: round4(a.Risk), Decision: a.Decision,
		Reasons: reasons, Status: a.Status, CreatedAt: a.CreatedAt, LabelledAt: a.LabelledAt}
	if a.LabelledAt != nil {
		by := a.LabelledBy
		if by == "" {
			by = "unknown"
		}
		out.LabelledBy = &by
	}
	if a.Currency != "" {
		c := a.Currency
		out.Currency = &c
	}
	if a.Scenario != "" {
		sc := a.Scenario
		out.Scenario = &sc
	}
	if a.ModelVersion != 0 {
		v := a.ModelVersion
		out.ModelVersion = &v
	}
	return out
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
	f, err := alertFilter(r.URL.Query())
	if err != nil {
		WriteError(w, err)
		return
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
	before := alertState(w, r, h.deps.Store, r.PathValue("transaction_id"))
	// Who: the token's name and role, or "local" without authentication.
	by := "local"
	if p, ok := PrincipalFrom(r.Context()); ok && p.Actor != "" {
		by = p.Actor
		if p.TokenID != 0 {
			by += ", " + p.Role.String()
		}
	}
	a, err := h.deps.Store.LabelAlert(r.Context(), r.PathValue("transaction_id"), status, by, h.deps.Now())
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

// alertFilter reads the alert queue's filters and page from the query.
func alertFilter(q url.Values) (store.AlertFilter, error) {
	f := store.AlertFilter{Status: q.Get("status"), Decision: q.Get("decision"), Scenario: q.Get("scenario"), Rule: q.Get("reason"), CustomerID: q.Get("customer")}
	if f.Status == "all" {
		f.Status = ""
	}
	if f.Status != "" && !store.ValidAlertStatus(f.Status) {
		return f, fmt.Errorf("%w: status %q, want open, confirmed_fraud, false_positive or all", ErrBadRequest, f.Status)
	}
	if f.Decision != "" && f.Decision != "review" && f.Decision != "decline" {
		return f, fmt.Errorf("%w: decision %q, want review or decline", ErrBadRequest, f.Decision)
	}
	var err error
	if f.Limit, f.BeforeID, err = pageQuery(q, 50); err != nil {
		return f, err
	}
	if v := q.Get("since_id"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return f, fmt.Errorf("%w: since_id %q is not a non-negative integer", ErrBadRequest, v)
		}
		f.SinceID = n
	}
	if f.MinAmount, err = queryAmount(q, "min_amount"); err != nil {
		return f, err
	}
	if f.MaxAmount, err = queryAmount(q, "max_amount"); err != nil {
		return f, err
	}
	if f.MinAmount != nil && f.MaxAmount != nil && *f.MaxAmount < *f.MinAmount {
		return f, fmt.Errorf("%w: max_amount is below min_amount", ErrBadRequest)
	}
	if f.Since, err = queryTime(q, "since"); err != nil {
		return f, err
	}
	if f.Until, err = queryTime(q, "until"); err != nil {
		return f, err
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Until.After(f.Since) {
		return f, fmt.Errorf("%w: until %s is not after since %s", ErrBadRequest, f.Until.Format(time.RFC3339), f.Since.Format(time.RFC3339))
	}
	return f, nil
}

// queryAmount reads an amount in major units (12.5 for 12.50 EUR, 1000
// for 1,000 JPY); nil when the parameter is absent.
func queryAmount(q url.Values, name string) (*float64, error) {
	v := q.Get(name)
	if v == "" {
		return nil, nil
	}
	x, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(x) || x < 0 || x > 1e13 {
		return nil, fmt.Errorf("%w: %s %q is not a non-negative amount", ErrBadRequest, name, v)
	}
	return &x, nil
}
