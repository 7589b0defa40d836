package web

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/shopstream/shopstream/internal/abtest"
	"github.com/shopstream/shopstream/internal/store"
)

// Experiments is what the experiment API needs; *abtest.Service is one.
type Experiments interface {
	List() []abtest.Definition
	Create(ctx context.Context, d abtest.Definition) (abtest.Definition, error)
	Results(ctx context.Context, name string) (*abtest.Results, error)
}

// RegisterExperiments adds the experiment API (docs/recommendations.md):
//
//	GET  /api/v1/experiments          the experiments, with their status
//	GET  /api/v1/experiments/{name}   one experiment's results
//	POST /api/v1/experiments          create one (a JSON definition)
//
// A definition that is not valid is 422, one whose name is taken 409.
//
// An experiment's results read every exposure and the exposed
// customers' purchases in their windows (100,000 exposures over 10
// million stored transactions: 5.1 s on PostgreSQL, docs/dashboard.md),
// so they are kept and built again at most every ten seconds, in the
// background; computed_at says when.
func RegisterExperiments(s *Server, e Experiments) {
	h := &experimentAPI{e: e, now: time.Now, results: answerCache{ttl: 10 * time.Second, log: s.log}}
	s.Handle("GET /api/v1/experiments", http.HandlerFunc(h.list))
	s.Handle("GET /api/v1/experiments/{name}", http.HandlerFunc(h.result))
	s.Handle("POST /api/v1/experiments", http.HandlerFunc(h.create))
}

type experimentAPI struct {
	e       Experiments
	now     func() time.Time
	results answerCache // by experiment name
}

// ExperimentSummary is an experiment in the list.
type ExperimentSummary struct {
	abtest.Definition
	Status string `json:"status"`
}

// ExperimentsResponse is the body of GET /api/v1/experiments.
type ExperimentsResponse struct {
	Experiments []ExperimentSummary `json:"experiments"`
	// NextCursor, when more experiments remain, is the cursor of the next
	// page.
	NextCursor string `json:"next_cursor,omitempty"`
}

// list serves the experiments by start, then name:
// ?status=scheduled|running|stopped&limit=50&cursor=.
func (h *experimentAPI) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, cursor, err := listQuery(q, 50)
	var status string
	if err == nil {
		status, err = oneOf(q, "status", "scheduled", "running", "stopped")
	}
	var after func(ExperimentSummary) bool
	if err == nil && cursor != "" {
		b, derr := base64.RawURLEncoding.DecodeString(cursor)
		start, name, ok := strings.Cut(string(b), " ")
		t, perr := time.Parse(time.RFC3339Nano, start)
		if derr != nil || perr != nil || !ok {
			err = fmt.Errorf("%w: cursor %q is not one this API gave", ErrBadRequest, cursor)
		}
		after = func(e ExperimentSummary) bool {
			return e.Start.After(t) || e.Start.Equal(t) && e.Name > name
		}
	}
	if err != nil {
		WriteError(w, err)
		return
	}
	now := h.now()
	var all []ExperimentSummary
	for _, d := range h.e.List() {
		if st := d.Status(now); status == "" || st == status {
			all = append(all, ExperimentSummary{Definition: d, Status: st})
		}
	}
	out := ExperimentsResponse{Experiments: []ExperimentSummary{}}
	if got, next := pageOf(all, limit, after, func(e ExperimentSummary) string {
		return base64.RawURLEncoding.EncodeToString([]byte(e.Start.UTC().Format(time.RFC3339Nano) + " " + e.Name))
	}); got != nil {
		out.Experiments, out.NextCursor = got, next
	}
	WriteJSON(w, http.StatusOK, out)
}

func (h *experimentAPI) result(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	name := r.PathValue("name")
	res, err := h.results.cached(ctx, name, func(ctx context.Context) (any, error) { return h.e.Results(ctx, name) })
	if errors.Is(err, abtest.ErrUnknown) {
		err = fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	if err != nil {
		WriteError(w, err)
		return
	}
	WriteJSON(w, http.StatusOK, res)
}

func (h *experimentAPI) create(w http.ResponseWriter, r *http.Request) {
	var d abtest.Definition
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		WriteError(w, fmt.Errorf("%w: the body must be an experiment definition: %v", ErrBadRequest, err))
		return
	}
	d, err := h.e.Create(r.Context(), d)
	switch {
	case errors.Is(err, abtest.ErrInvalid):
		WriteError(w, fmt.Errorf("%w: %w", ErrInvalid, err))
	case errors.Is(err, store.ErrExperimentExists):
		WriteError(w, fmt.Errorf("%w: %w", ErrConflict, err))
	case err != nil:
		WriteError(w, err)
	default:
		Audit(r, "experiment.create", d.Name, nil, d)
		WriteJSON(w, http.StatusCreated, ExperimentSummary{Definition: d, Status: d.Status(h.now())})
	}
}
