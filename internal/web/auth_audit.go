package web

import (
	"context"

	"github.com/shopstream/shopstream/internal/store"
)

// The states the audit trail records before and after the changes of the
// fraud API. A state that cannot be read is recorded as an error text: the
// change is still recorded.

// alertReader is what the stores offer to read one alert before a label
// changes it (sqlstore.Store.Alert).
type alertReader interface {
	Alert(ctx context.Context, transactionID string) (*store.AlertRecord, error)
}

// alertState is the alert of a transaction as the API shows it, for the
// audit trail; nil when there is none.
func alertState(ctx context.Context, st store.Fraud, transactionID string) any {
	ar, ok := st.(alertReader)
	if !ok {
		return nil
	}
	a, err := ar.Alert(ctx, transactionID)
	if err != nil {
		return map[string]string{"unreadable": err.Error()}
	}
	return alertJSON(a)
}

// modelsState is the stored active and shadow model versions.
func modelsState(ctx context.Context, st store.Fraud) any {
	active, shadow, err := st.FraudModelsInUse(ctx)
	if err != nil {
		return map[string]string{"unreadable": err.Error()}
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
