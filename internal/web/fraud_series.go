package web

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"time"

	"github.com/shopstream/shopstream/internal/store"
)

// maxSeriesPoints bounds the buckets of one series answer.
const maxSeriesPoints = 2000

// ScenarioSeries is the body of GET /api/v1/fraud/series: detection
// quality per bucket of event time, overall and per fraud scenario, read
// from the per-minute, hour and day rollups. Arrays are columns: index i
// of every array is the bucket starting at Starts[i]. Precision has no
// meaning per scenario (a false alarm belongs to none), so a scenario has
// its recall and the share of the alerts raised on it.
type ScenarioSeries struct {
	// Since and Until are the window read, Step the bucket width in
	// seconds; null bounds when nothing is stored.
	Since       *time.Time  `json:"since"`
	Until       *time.Time  `json:"until"`
	StepSeconds int64       `json:"step_seconds"`
	Starts      []time.Time `json:"starts"`
	// Labelled, Fraud and Flagged count the labelled transactions, the
	// fraud among them and those held or declined, per bucket.
	Labelled  []int64    `json:"labelled"`
	Fraud     []int64    `json:"fraud"`
	Flagged   []int64    `json:"flagged"`
	Precision []*float64 `json:"precision"`
	Recall    []*float64 `json:"recall"`
	// Scenarios, by name, each with its fraud, caught and recall per
	// bucket and its share of the flagged (its precision's share).
	Scenarios []ScenarioPoints `json:"scenarios"`
}

// ScenarioPoints is one scenario's columns of ScenarioSeries.
type ScenarioPoints struct {
	Scenario string     `json:"scenario"`
	Fraud    []int64    `json:"fraud"`
	Caught   []int64    `json:"caught"`
	Recall   []*float64 `json:"recall"`
	// Share is caught / flagged of the bucket: how much of the alerts'
	// precision this scenario makes up.
	Share []*float64 `json:"share"`
}

// seriesStep reads step (a Go duration of whole minutes, or seconds),
// defaulting to the width giving about 60 buckets of span.
func seriesStep(q url.Values, span time.Duration) (time.Duration, error) {
	v := q.Get("step")
	if v == "" {
		for _, s := range []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, time.Hour, 6 * time.Hour, 24 * time.Hour} {
			if span/s <= 90 {
				return s, nil
			}
		}
		return 7 * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		var sec int64
		if _, serr := fmt.Sscanf(v, "%d", &sec); serr != nil || fmt.Sprint(sec) != v {
			return 0, fmt.Errorf("%w: step %q is not a duration (1m, 1h, 24h) nor seconds", ErrBadRequest, v)
		}
		d = time.Duration(sec) * time.Second
	}
	if d < time.Minute || d%time.Minute != 0 || d > 366*24*time.Hour {
		return 0, fmt.Errorf("%w: step %q, want whole minutes from 1m to 8784h", ErrBadRequest, v)
	}
	return d, nil
}

func (h *fraudAPI) series(w http.ResponseWriter, r *http.Request) {
	rr, ok := h.deps.Store.(store.RollupReader)
	if !ok {
		WriteError(w, fmt.Errorf("%w: this store keeps no detection rollups", ErrNotFound))
		return
	}
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
	if !since.IsZero() && !until.IsZero() && !until.After(since) {
		WriteError(w, fmt.Errorf("%w: until %s is not after since %s", ErrBadRequest, until.Format(time.RFC3339), since.Format(time.RFC3339)))
		return
	}
	rq := store.RollupQuery{Since: since, Until: until}
	if v := q.Get("span"); v != "" {
		d, err := time.ParseDuration(v)
		switch {
		case err != nil || d < time.Minute || d > 366*24*time.Hour:
			WriteError(w, fmt.Errorf("%w: span %q, want a duration from 1m to 8784h", ErrBadRequest, v))
			return
		case !since.IsZero() || !until.IsZero():
			WriteError(w, fmt.Errorf("%w: span and since/until exclude each other", ErrBadRequest))
			return
		}
		rq.Span = d
	} else if since.IsZero() && until.IsZero() {
		rq.Span = 24 * time.Hour // the last day of event time stored
	}
	// The step needs the window, which an open end leaves to the store:
	// the rows are read at the step's granularity, never finer than
	// needed, and bucketed here.
	var step time.Duration
	var stepErr error
	rq.OutcomesFor = func(s, u time.Time) store.Granularity {
		step, stepErr = seriesStep(q, u.Sub(s))
		switch {
		case stepErr != nil, step%(24*time.Hour) != 0 && step%time.Hour != 0:
			return store.Minute
		case step%(24*time.Hour) == 0:
			return store.Day
		default:
			return store.Hour
		}
	}
	if q.Get("step") != "" {
		if _, err := seriesStep(q, 0); err != nil {
			WriteError(w, err)
			return
		}
	}
	ru, err := rr.FraudRollups(r.Context(), rq)
	if err != nil {
		WriteError(w, err)
		return
	}
	if stepErr != nil {
		WriteError(w, stepErr)
		return
	}
	out := &ScenarioSeries{Starts: []time.Time{}, Labelled: []int64{}, Fraud: []int64{}, Flagged: []int64{},
		Precision: []*float64{}, Recall: []*float64{}, Scenarios: []ScenarioPoints{}}
	if ru.AsOf.IsZero() || !ru.Until.After(ru.Since) {
		WriteJSON(w, http.StatusOK, out)
		return
	}
	if step == 0 {
		step, _ = seriesStep(q, ru.Until.Sub(ru.Since))
	}
	out.Since, out.Until, out.StepSeconds = &ru.Since, &ru.Until, int64(step/time.Second)
	first := ru.Since.Truncate(step)
	n := int((ru.Until.Sub(first) + step - 1) / step)
	if n > maxSeriesPoints {
		WriteError(w, fmt.Errorf("%w: %d buckets of %s, at most %d: take a longer step", ErrBadRequest, n, step, maxSeriesPoints))
		return
	}
	type tally struct{ labelled, fraud, flagged, tp int64 }
	all := make([]tally, n)
	type sc struct{ fraud, caught []int64 }
	by := map[string]*sc{}
	for i := range ru.Outcomes {
		o := &ru.Outcomes[i]
		if o.Truth == store.TruthNone {
			continue
		}
		b := int(o.Start.Sub(first) / step)
		if b < 0 || b >= n {
			continue
		}
		flagged := o.Decision != "approve"
		t := &all[b]
		t.labelled += o.N
		if flagged {
			t.flagged += o.N
		}
		if o.Truth != store.TruthFraud {
			continue
		}
		t.fraud += o.N
		s := by[o.Scenario]
		if s == nil {
			s = &sc{fraud: make([]int64, n), caught: make([]int64, n)}
			by[o.Scenario] = s
		}
		s.fraud[b] += o.N
		if flagged {
			t.tp += o.N
			s.caught[b] += o.N
		}
	}
	ratio := func(a, b int64) *float64 {
		if b == 0 {
			return nil
		}
		v := float64(a) / float64(b)
		return &v
	}
	for i, t := range all {
		out.Starts = append(out.Starts, first.Add(time.Duration(i)*step))
		out.Labelled = append(out.Labelled, t.labelled)
		out.Fraud = append(out.Fraud, t.fraud)
		out.Flagged = append(out.Flagged, t.flagged)
		out.Precision = append(out.Precision, ratio(t.tp, t.flagged))
		out.Recall = append(out.Recall, ratio(t.tp, t.fraud))
	}
	names := make([]string, 0, len(by))
	for k := range by {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		s := by[k]
		p := ScenarioPoints{Scenario: k, Fraud: s.fraud, Caught: s.caught, Recall: make([]*float64, n), Share: make([]*float64, n)}
		for i := range n {
			p.Recall[i], p.Share[i] = ratio(s.caught[i], s.fraud[i]), ratio(s.caught[i], all[i].flagged)
		}
		out.Scenarios = append(out.Scenarios, p)
	}
	WriteJSON(w, http.StatusOK, out)
}
