package web

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/shopstream/shopstream/internal/fraudmetrics"
)

// FraudMetrics is the body of GET /api/v1/fraud/metrics. Rates are null
// when undefined (no labelled fraud, nothing flagged).
type FraudMetrics struct {
	Window string `json:"window"`
	// AsOf is the newest event time stored; the window is the span of
	// event time before it. Since is null for "all".
	AsOf  *time.Time `json:"as_of"`
	Since *time.Time `json:"since"`
	// Until ends the window (exclusive); null when nothing is stored.
	Until *time.Time `json:"until"`
	// RiskBuckets is the resolution of PR-AUC and ROC-AUC: the risks are
	// counted in this many equal buckets of [0, 1], so risks in one
	// bucket count as tied.
	RiskBuckets int `json:"risk_buckets"`
	// Transactions in the window (or the sample of it); Labelled of them
	// carry the generator's label or an analyst's (AnalystLabelled).
	Transactions    int `json:"transactions"`
	Labelled        int `json:"labelled"`
	AnalystLabelled int `json:"analyst_labelled"`
	Fraud           int `json:"fraud"`
	// Flagged is how many labelled transactions were held for review or
	// declined: the decisions actually taken.
	Flagged   int      `json:"flagged"`
	Precision *float64 `json:"precision"`
	Recall    *float64 `json:"recall"`
	FPR       *float64 `json:"fpr"`
	PRAUC     *float64 `json:"pr_auc"`
	ROCAUC    *float64 `json:"roc_auc"`
	// PerScenario is keyed by the generator's fraud scenario; fraud an
	// analyst confirmed that the generator did not label is "analyst".
	PerScenario map[string]ScenarioMetrics `json:"per_scenario"`
	Thresholds  Thresholds                 `json:"thresholds"`
	// Sampled is always false: the figures come from rollups kept
	// with every batch and label, never from a sample. Kept (with
	// SampleLimit 0) for clients of the sampled form.
	Sampled     bool          `json:"sampled"`
	SampleLimit int           `json:"sample_limit"`
	Series      []SeriesPoint `json:"series"`
	// Shadow compares the shadow model with the active one on the
	// labelled transactions both scored, when there are any.
	Shadow     *ShadowMetrics `json:"shadow"`
	ComputedAt time.Time      `json:"computed_at"`
	// LabelWindowDays is how long after a transaction its label may still
	// arrive; unlabelled transactions older than that count as legitimate
	// (PresumedLegit), younger ones are Pending.
	LabelWindowDays float64        `json:"label_window_days"`
	PresumedLegit   int            `json:"presumed_legit"`
	Pending         PendingMetrics `json:"pending"`
}

// PendingMetrics counts the window's unlabelled transactions still within
// the label window, by whether they were alerted on.
type PendingMetrics struct {
	Alerted   int `json:"alerted"`
	Unalerted int `json:"unalerted"`
}

// ScenarioMetrics is the detection of one fraud scenario.
type ScenarioMetrics struct {
	Fraud  int      `json:"fraud"`
	Caught int      `json:"caught"`
	Recall *float64 `json:"recall"`
}

// SeriesPoint is one bucket of event time of FraudMetrics.Series.
type SeriesPoint struct {
	Start     time.Time `json:"start"`
	Labelled  int       `json:"labelled"`
	Fraud     int       `json:"fraud"`
	Flagged   int       `json:"flagged"`
	Precision *float64  `json:"precision"`
	Recall    *float64  `json:"recall"`
}

// ShadowMetrics compares shadow and active risks on the same transactions.
type ShadowMetrics struct {
	Version  *int     `json:"version"`
	Rows     int      `json:"rows"`
	Fraud    int      `json:"fraud"`
	PRAUC    *float64 `json:"pr_auc"`
	ActivePR *float64 `json:"active_pr_auc"`
}

func (h *fraudAPI) metrics(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	since, err := queryTime(q, "since")
	if err != nil {
		WriteError(w, err)
		return
	}
	until, err := queryTime(q, "until")
	if err != nil {
		WriteError(w, err)
		return
	}
	name := q.Get("window")
	var rep *fraudmetrics.Report
	switch {
	case (!since.IsZero() || !until.IsZero()) && name != "":
		WriteError(w, fmt.Errorf("%w: window and since/until exclude each other", ErrBadRequest))
		return
	case !since.IsZero() && !until.IsZero() && !until.After(since):
		WriteError(w, fmt.Errorf("%w: until %s is not after since %s", ErrBadRequest, until.Format(time.RFC3339), since.Format(time.RFC3339)))
		return
	case !since.IsZero() || !until.IsZero():
		rep, err = h.measure.ReportRange(r.Context(), since, until)
	default:
		if name == "" {
			name = "1h"
		}
		rep, err = h.measure.Report(r.Context(), name)
	}
	if errors.Is(err, fraudmetrics.ErrUnknownWindow) {
		WriteError(w, fmt.Errorf("%w: window %q, want %s", ErrBadRequest, name, fraudmetrics.WindowNames))
		return
	}
	if err != nil {
		WriteError(w, err)
		return
	}
	WriteJSON(w, http.StatusOK, fraudMetricsJSON(rep))
}

// fraudMetricsJSON is the API's form of a report: NaN rates become null.
func fraudMetricsJSON(rep *fraudmetrics.Report) *FraudMetrics {
	m := &FraudMetrics{Window: rep.Window, Transactions: rep.Transactions, Labelled: rep.Labelled,
		AnalystLabelled: rep.AnalystLabelled, Fraud: rep.Fraud, Flagged: rep.Flagged,
		Precision: num(rep.Precision), Recall: num(rep.Recall), FPR: num(rep.FPR),
		PRAUC: num(rep.PRAUC), ROCAUC: num(rep.ROCAUC), PerScenario: make(map[string]ScenarioMetrics, len(rep.PerScenario)),
		Thresholds: thresholdsJSON(rep.Thresholds), Sampled: rep.Sampled, SampleLimit: rep.SampleLimit,
		Series: make([]SeriesPoint, len(rep.Series)), ComputedAt: rep.ComputedAt,
		LabelWindowDays: rep.LabelWindow.Hours() / 24, PresumedLegit: rep.PresumedLegit,
		Pending: PendingMetrics{Alerted: rep.Pending.Alerted, Unalerted: rep.Pending.Unalerted}}
	if !rep.AsOf.IsZero() {
		asOf := rep.AsOf
		m.AsOf = &asOf
	}
	if !rep.Since.IsZero() {
		since := rep.Since
		m.Since = &since
	}
	if !rep.Until.IsZero() {
		until := rep.Until
		m.Until = &until
	}
	m.RiskBuckets = rep.RiskBuckets
	for k, sc := range rep.PerScenario {
		m.PerScenario[k] = ScenarioMetrics{Fraud: sc.Fraud, Caught: sc.Caught, Recall: num(sc.Recall)}
	}
	for i, p := range rep.Series {
		m.Series[i] = SeriesPoint{Start: p.Start, Labelled: p.Labelled, Fraud: p.Fraud, Flagged: p.Flagged,
			Precision: num(p.Precision), Recall: num(p.Recall)}
	}
	if sh := rep.Shadow; sh != nil {
		m.Shadow = &ShadowMetrics{Rows: sh.Rows, Fraud: sh.Fraud, PRAUC: num(sh.PRAUC), ActivePR: num(sh.ActivePRAUC)}
		if sh.Version != 0 {
			v := sh.Version
			m.Shadow.Version = &v
		}
	}
	return m
}
