package web

import (
	"context"
	"net/http"

	"github.com/shopstream/shopstream/internal/store"
)

// The states the audit trail records before and after the changes of the
// fraud API. A state that cannot be read is recorded as a marker, its
// error logged under the request's ID (which the marker names), never
// stored: the trail is shown to admins and kept, and a database's error
// text is not for either. The change is still recorded.

// unreadable is the state recorded in place of one that could not be
// read, after logging why.
func unreadable(w http.ResponseWriter, what string, err error) any {
	log, id := requestLog(w)
	log.Error("reading the state for the audit trail failed; recorded as unreadable", "state", what, "err", err)
	m := map[string]string{"unreadable": what + " could not be read; the server's log has the error"}
	if id != "" {
		m["request_id"] = id
	}
	return m
}

// alertReader is what the stores offer to read one alert before a label
// changes it (sqlstore.Store.Alert).
type alertReader interface {
	Alert(ctx context.Context, transactionID string) (*store.AlertRecord, error)
}

// alertState is the alert of a transaction as the API shows it, for the
// audit trail; nil when there is none.
func alertState(w http.ResponseWriter, r *http.Request, st store.Fraud, transactionID string) any {
	ar, ok := st.(alertReader)
	if !ok {
		return nil
	}
	a, err := ar.Alert(r.Context(), transactionID)
	if err != nil {
		return unreadable(w, "the alert", err)
	}
	return alertJSON(a)
}

// modelsState is the stored active and shadow model versions.
func modelsState(w http.ResponseWriter, r *http.Request, st store.Fraud) any {
	active, shadow, err := st.FraudModelsInUse(r.Context())
	if err != nil {
		return unreadable(w, "the models in use", err)
	}
	var u ModelsInUse
	if active != nil {
		u.Active = &active.Version
	}
	if shadow != nil {
		u.Shadow = &shadow.Version
	}
	return u
}
