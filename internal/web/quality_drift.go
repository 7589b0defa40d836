package web

import (
	"fmt"
	"net/http"
	"sort"
	"time"

	"github.com/shopstream/shopstream/internal/quality/monitor"
	"github.com/shopstream/shopstream/internal/store"
)

// driftFields are the fields the drift detector compares.
var driftFields = []string{monitor.FieldAmount, monitor.FieldItems, monitor.FieldChannel}

// driftSteps are the steps GET /api/v1/quality/drift chooses from: the
// smallest giving at most maxWindowSteps points over the range.
var driftSteps = []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, 30 * time.Minute, time.Hour, 3 * time.Hour}

// maxDriftSamples bounds the samples one answer reads: a week of a
// sample a minute per field from eight processors.
const maxDriftSamples = 8 * 3 * 7 * 24 * 60

// DriftResponse is the body of GET /api/v1/quality/drift: the drift
// detector's statistic over time, per field.
type DriftResponse struct {
	From        time.Time `json:"from"`
	To          time.Time `json:"to"`
	StepSeconds int64     `json:"step_seconds"`
	// Warn and Critical are the monitor's default PSI thresholds.
	Warn     float64      `json:"warn"`
	Critical float64      `json:"critical"`
	Fields   []DriftField `json:"fields"`
	// Truncated says the range held more samples than one answer reads
	// (the oldest are answered).
	Truncated bool `json:"truncated,omitempty"`
}

// DriftField is one field's trend.
type DriftField struct {
	Field  string       `json:"field"`
	Points []DriftPoint `json:"points"`
}

// DriftPoint is a step's samples of one field: their mean and largest
// PSI (over the runs in the step and the processors), how many, and the
// records compared by the last one.
type DriftPoint struct {
	At      time.Time `json:"at"`
	PSI     float64   `json:"psi"`
	MaxPSI  float64   `json:"max_psi"`
	Samples int       `json:"samples"`
	Ref     int64     `json:"ref"`
	Cur     int64     `json:"cur"`
}

// registerDrift adds GET /api/v1/quality/drift?since=&until=&field=.
func registerDrift(s *Server, qd store.QualityDrift, now func() time.Time) {
	s.Handle("GET /api/v1/quality/drift", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		from, to, err := qualityRange(r, now())
		if err != nil {
			WriteError(w, err)
			return
		}
		field := r.URL.Query().Get("field")
		if field != "" && !contains(driftFields, field) {
			WriteError(w, fmt.Errorf("%w: field %q, want one of %v", ErrBadRequest, field, driftFields))
			return
		}
		samples, err := qd.DriftSamples(r.Context(), from, to, field, maxDriftSamples+1)
		if err != nil {
			WriteError(w, err)
			return
		}
		cfg := monitor.Config{}.WithDefaults()
		out := DriftResponse{From: from, To: to, Warn: cfg.PSIWarn, Critical: cfg.PSICritical, Fields: []DriftField{}}
		if len(samples) > maxDriftSamples {
			samples, out.Truncated = samples[:maxDriftSamples], true
		}
		step := driftSteps[len(driftSteps)-1]
		for _, st := range driftSteps {
			if to.Sub(from) <= st*maxWindowSteps {
				step = st
				break
			}
		}
		out.StepSeconds = int64(step / time.Second)
		fields := driftFields
		if field != "" {
			fields = []string{field}
		}
		idx := map[string]int{}
		for i, f := range fields {
			idx[f] = i
			out.Fields = append(out.Fields, DriftField{Field: f, Points: []DriftPoint{}})
		}
		for _, d := range samples { // oldest first
			i, ok := idx[d.Field]
			if !ok {
				continue
			}
			at := from.Add(d.At.Sub(from) / step * step)
			ps := &out.Fields[i].Points
			if n := len(*ps); n == 0 || !(*ps)[n-1].At.Equal(at) {
				*ps = append(*ps, DriftPoint{At: at})
			}
			p := &(*ps)[len(*ps)-1]
			p.PSI += d.PSI
			p.MaxPSI = max(p.MaxPSI, d.PSI)
			p.Samples++
			p.Ref, p.Cur = d.Ref, d.Cur
		}
		for i := range out.Fields {
			for j := range out.Fields[i].Points {
				p := &out.Fields[i].Points[j]
				p.PSI /= float64(p.Samples)
			}
		}
		sort.SliceStable(out.Fields, func(i, j int) bool { return idx[out.Fields[i].Field] < idx[out.Fields[j].Field] })
		WriteJSON(w, http.StatusOK, out)
	}))
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}
