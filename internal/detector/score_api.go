package detector

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/shopstream/shopstream/internal/event"
	"github.com/shopstream/shopstream/internal/fraud"
	"github.com/shopstream/shopstream/internal/store"
)

// History is what scoring one transaction on demand reads from the store:
// store.Fraud satisfies it.
type History interface {
	CustomerHistory(ctx context.Context, customerID, except string, until time.Time, limit int, fn func(*store.Tx) error) error
}

// HistoryLimit is how many of a customer's newest transactions ScoreOne
// replays, besides the first. Every windowed feature reads rings of the
// latest 8 events of a customer, device, card or IP address, so 64
// transactions restore them all as the pipeline's state holds them; the
// first purchase restores the account's age.
const HistoryLimit = 64

// Verdict is the answer of ScoreOne.
type Verdict struct {
	Risk     float64
	Decision string
	// Reasons is the JSON array stored with transactions (rules, then
	// standing-out features).
	Reasons json.RawMessage
	// ModelVersion is the active model scored with, nil for rules alone.
	ModelVersion *int
	// ShadowRisk is the shadow model's risk, when there is one.
	ShadowRisk    *float64
	ShadowVersion *int
	// History is how many stored transactions of the customer were
	// replayed.
	History int
}

// ScoreOne scores t synchronously, as the pipeline would, without storing
// it: the customer's stored history (the first purchase and the newest
// HistoryLimit transactions up to t's event time) is replayed into a fresh
// feature state, t's features are computed from it, and the scorer in
// force decides. t must have passed the data-quality checks. With
// Config.IPHasher, t's IP address is hashed first (on a copy: t is left
// as it is), as the processor hashes it before its state and the store
// see it, so the IP features count the stored history's addresses.
//
// The state holds this customer's history only, so the counts per device,
// card and IP address (partition-wide in the pipeline, see docs/fraud.md)
// cover this customer's use of them, and the amount prior for a customer
// with no history is the default typical order.
func (d *Detector) ScoreOne(ctx context.Context, h History, t *event.Transaction) (*Verdict, error) {
	if d.cfg.IPHasher != nil {
		c := *t
		if d.cfg.IPHasher.HashTransactionIP(&c) {
			t = &c
		}
	}
	st, err := fraud.NewState(d.cfg.State)
	if err != nil {
		return nil, err
	}
	v := &Verdict{}
	err = h.CustomerHistory(ctx, t.CustomerID, t.TransactionID, t.EventTime, HistoryLimit, func(row *store.Tx) error {
		past := TransactionOf(row)
		st.Update(&past, nil)
		v.History++
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("scoring transaction %s: %w", t.TransactionID, err)
	}
	active, shadow := d.Active(), d.Shadow()
	var f fraud.Features
	st.FeaturesInto(t, &f)
	var res fraud.Result
	d.Scorer().ScoreInto(&f, &res)
	v.Risk, v.Decision = res.Risk, res.Decision.String()
	v.Reasons = res.AppendReasonsJSON(nil)
	if active != nil {
		v.ModelVersion = &active.Version
	}
	if sh := d.shadow.Load(); sh != nil && shadow != nil {
		var r fraud.Result
		sh.ScoreInto(&f, &r)
		v.ShadowRisk, v.ShadowVersion = &r.Risk, &shadow.Version
	}
	return v, nil
}
