package web

import "time"

// Loading says what a freshly started shop (`shopstream run`) is still
// loading: the backfill of purchase history and the first analytics
// refresh. Until Done, the dashboard's figures are partial: totals grow
// with the backfill, and segments, cohorts and CLV are missing or from an
// earlier refresh.
type Loading struct {
	// Done is true once the history is stored and the first analytics
	// refresh after it has finished (or there was nothing to load).
	Done bool `json:"done"`
	// Backfill is the history's progress.
	Backfill LoadingBackfill `json:"backfill"`
	// Analytics is the customer-analytics refresh's state.
	Analytics LoadingAnalytics `json:"analytics"`
}

// LoadingBackfill is the progress of the history backfill.
type LoadingBackfill struct {
	// State is "none" (no history asked for, or resuming on stored data),
	// "generating", "storing" (all generated, not all committed yet) or
	// "done".
	State string `json:"state"`
	// Percent is the share of the history's event-time span generated so
	// far, 0 to 100.
	Percent float64 `json:"percent"`
	// From and To bound the history in event time; Through is the event
	// time of the last record generated.
	From    *time.Time `json:"from,omitempty"`
	To      *time.Time `json:"to,omitempty"`
	Through *time.Time `json:"through,omitempty"`
	// Records is how many history records were generated so far.
	Records int64 `json:"records"`
	// Seconds is how long the backfill has taken so far, until stored.
	Seconds float64 `json:"seconds"`
	// StoredAt is when the history was all committed (state "done"):
	// what commits after it is live. The dashboard's produce-to-commit
	// p95 starts there, as the backfill's records were committed seconds
	// after their produce by design.
	StoredAt *time.Time `json:"stored_at,omitempty"`
}

// LoadingAnalytics is the state of the analytics refresh.
type LoadingAnalytics struct {
	// State is "off" (no refresh in this process), "waiting" (for the
	// backfill to be stored), "running" (the first refresh) or "done".
	State string `json:"state"`
	// FinishedAt is when the first refresh finished.
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	// Seconds is how long the first refresh took.
	Seconds float64 `json:"seconds,omitempty"`
	// CLVNote says why the first refresh has no CLV model, if it has none.
	CLVNote string `json:"clv_note,omitempty"`
}
