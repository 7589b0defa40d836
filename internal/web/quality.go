package web

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/shopstream/shopstream/internal/quality/monitor"
	"github.com/shopstream/shopstream/internal/store"
)

// QualityMaxRange is the longest span GET /api/v1/quality answers for.
const QualityMaxRange = 7 * 24 * time.Hour

// RegisterQuality adds GET /api/v1/quality, answered from st's stored
// counts and findings, and GET /api/v1/quality/drift (quality_drift.go)
// when st keeps the drift trend; now is the clock (time.Now when nil).
func RegisterQuality(s *Server, st store.Quality, now func() time.Time) {
	if now == nil {
		now = time.Now
	}
	s.Handle("GET /api/v1/quality", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		from, to, err := qualityRange(r, now())
		if err != nil {
			WriteError(w, err)
			return
		}
		rows, err := st.QualityMinutes(r.Context(), from, to)
		if err != nil {
			WriteError(w, err)
			return
		}
		// Current findings: those of the detectors' last runs (every
		// minute), whatever the range.
		t := now()
		current, err := st.QualityFindings(r.Context(), t.Add(-3*time.Minute), t.Add(time.Minute), 200)
		if err != nil {
			WriteError(w, err)
			return
		}
		WriteJSON(w, http.StatusOK, qualityJSON(from, to, rows, current))
	}))
	if qd, ok := st.(store.QualityDrift); ok {
		registerDrift(s, qd, now)
	}
}

// qualityRange reads ?since=&until= (RFC 3339 or Unix seconds; default
// the last hour up to now), rounded out to whole minutes. from and to are
// their older names, still taken.
func qualityRange(r *http.Request, now time.Time) (time.Time, time.Time, error) {
	q := r.URL.Query()
	names := [2]string{"since", "until"}
	for i, old := range [2]string{"from", "to"} {
		switch v, o := q.Get(names[i]), q.Get(old); {
		case v != "" && o != "" && v != o:
			return time.Time{}, time.Time{}, fmt.Errorf("%w: %s %q and %s %q disagree; give %s alone (%s is its older name)", ErrBadRequest, names[i], v, old, o, names[i], old)
		case v == "" && o != "":
			names[i] = old
		}
	}
	to := now.UTC().Truncate(time.Minute).Add(time.Minute)
	from := to.Add(-time.Hour)
	parse := func(name string, dst *time.Time) error {
		t, err := queryTime(q, name)
		if err == nil && !t.IsZero() {
			*dst = t.UTC()
		}
		return err
	}
	if err := parse(names[1], &to); err != nil {
		return from, to, err
	}
	if q.Get(names[0]) == "" {
		from = to.Add(-time.Hour)
	} else if err := parse(names[0], &from); err != nil {
		return from, to, err
	}
	from = from.Truncate(time.Minute)
	if t := to.Truncate(time.Minute); !t.Equal(to) {
		to = t.Add(time.Minute)
	}
	switch {
	case !to.After(from):
		return from, to, fmt.Errorf("%w: %s %s is not before %s %s", ErrBadRequest, names[0], from.Format(time.RFC3339), names[1], to.Format(time.RFC3339))
	case to.Sub(from) > QualityMaxRange:
		return from, to, fmt.Errorf("%w: %s %s to %s spans more than %v", ErrBadRequest, names[0], from.Format(time.RFC3339), to.Format(time.RFC3339), QualityMaxRange)
	}
	return from, to, nil
}

// QualityResponse is the body of GET /api/v1/quality.
type QualityResponse struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// Overall is the whole stream over the range; its score is the share
	// of records that passed every check (absent when none was checked).
	Overall QualityCounts `json:"overall"`
	// Checks are the checks over the range, with their minutes, in the
	// order of Overall's failures: most failed first.
	Checks []QualityCheck `json:"checks"`
	// Minutes is the whole stream per minute.
	Minutes []QualityMinute `json:"minutes"`
	// Findings are what the stream detectors found in their last runs.
	Findings []QualityFindingJSON `json:"findings"`
}

// QualityCounts are records checked, passed, warned and failed, and the
// share passed.
type QualityCounts struct {
	Checked int64    `json:"checked"`
	Passed  int64    `json:"passed"`
	Warned  int64    `json:"warned"`
	Failed  int64    `json:"failed"`
	Score   *float64 `json:"score,omitempty"`
}

// QualityCheck is one check over the range and per minute.
type QualityCheck struct {
	Check string `json:"check"`
	QualityCounts
	Minutes []QualityMinute `json:"minutes"`
}

// QualityMinute is one minute's counts.
type QualityMinute struct {
	Minute time.Time `json:"minute"`
	QualityCounts
}

// QualityFindingJSON is one detector finding.
type QualityFindingJSON struct {
	DetectedAt time.Time `json:"detected_at"`
	Detector   string    `json:"detector"`
	Subject    string    `json:"subject"`
	Severity   string    `json:"severity"`
	Value      float64   `json:"value"`
	Threshold  float64   `json:"threshold"`
	Message    string    `json:"message"`
	Source     string    `json:"source"`
}

func countsJSON(c monitor.Counts) QualityCounts {
	out := QualityCounts{Checked: c.Checked, Passed: c.Passed, Warned: c.Warned, Failed: c.Failed}
	if s, ok := c.Score(); ok {
		out.Score = &s
	}
	return out
}

func qualityJSON(from, to time.Time, rows []store.QualityMinute, findings []store.QualityFinding) QualityResponse {
	out := QualityResponse{From: from, To: to, Checks: []QualityCheck{}, Minutes: []QualityMinute{}, Findings: []QualityFindingJSON{}}
	byCheck := map[string]*QualityCheck{}
	totals := map[string]monitor.Counts{}
	for _, r := range rows {
		c := monitor.Counts{Checked: r.Checked, Passed: r.Passed, Warned: r.Warned, Failed: r.Failed}
		totals[r.Check] = totals[r.Check].Add(c)
		m := QualityMinute{Minute: r.Minute, QualityCounts: countsJSON(c)}
		if r.Check == monitor.All {
			out.Minutes = append(out.Minutes, m)
			continue
		}
		qc := byCheck[r.Check]
		if qc == nil {
			qc = &QualityCheck{Check: r.Check}
			byCheck[r.Check] = qc
		}
		qc.Minutes = append(qc.Minutes, m)
	}
	out.Overall = countsJSON(totals[monitor.All])
	for name, qc := range byCheck {
		qc.QualityCounts = countsJSON(totals[name])
		out.Checks = append(out.Checks, *qc)
	}
	slices.SortFunc(out.Checks, func(a, b QualityCheck) int {
		return cmp.Or(cmp.Compare(b.Failed, a.Failed), cmp.Compare(b.Warned, a.Warned), cmp.Compare(a.Check, b.Check))
	})
	// The newest finding per detector, subject and source.
	seen := map[string]bool{}
	for _, f := range findings {
		k := f.Detector + "/" + f.Subject + "/" + f.Source
		if seen[k] {
			continue
		}
		seen[k] = true
		out.Findings = append(out.Findings, QualityFindingJSON{DetectedAt: f.DetectedAt, Detector: f.Detector, Subject: f.Subject,
			Severity: f.Severity, Value: f.Value, Threshold: f.Threshold, Message: f.Message, Source: f.Source})
	}
	return out
}
