package web

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/shopstream/shopstream/internal/recommend"
	"github.com/shopstream/shopstream/internal/recsvc"
	"github.com/shopstream/shopstream/internal/store"
)

// Recommender answers recommendation lookups from memory; *recsvc.Service
// is one.
type Recommender interface {
	Recommend(customer string, n int, buyAgain bool) (recsvc.Result, error)
	// Preview answers outside any experiment and records no exposure.
	Preview(customer string, n int, buyAgain bool) (recsvc.Result, error)
	Similar(product string, n int) (recsvc.Result, error)
}

// RegisterRecommendations adds the recommendation API, answered from the
// model in memory (docs/recommendations.md shows the responses):
//
//	GET /api/v1/customers/{id}/recommendations?n=10[&buy_again=true][&preview=true]
//	GET /api/v1/products/{id}/similar?n=10
//	GET /api/v1/products/top?n=10[&since=&until=&sort=&currency=]
//
// n defaults to 10, at most 100. Both name the method that answered
// (item-item, or popularity for a customer with no usable history) and the
// model's age. Before the first model is built they answer 503. A
// customer in an A/B experiment gets the variant's recommender and an
// exposure is recorded, unless preview=true: then the answer is the one
// outside any experiment and nothing is recorded (the dashboard looks at
// customers that way).
func RegisterRecommendations(s *Server, r Recommender) {
	h := &recommendAPI{r: r, now: time.Now}
	s.Handle("GET /api/v1/customers/{id}/recommendations", http.HandlerFunc(h.recommendations))
	s.Handle("GET /api/v1/products/{id}/similar", http.HandlerFunc(h.similar))
	p, popular := r.(Popular)
	pr, rollup := s.cfg.Store.(store.ProductRollups)
	if popular || rollup {
		s.Handle("GET /api/v1/products/top", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n, err := parseN(r)
			if err != nil {
				WriteError(w, err)
				return
			}
			q := r.URL.Query()
			if q.Has("since") || q.Has("until") || !popular {
				// A time range: what sold in it, from the store's rollup.
				if !rollup {
					WriteError(w, fmt.Errorf("%w: this store keeps no product rollup; ask without since and until", ErrBadRequest))
					return
				}
				s.productSales(w, r, pr, n)
				return
			}
			if q.Has("sort") || q.Has("currency") {
				// They rank the products of a range; answering the
				// popularity instead would look like a ranking by them.
				WriteError(w, fmt.Errorf("%w: sort and currency rank the products of a time range: give since or until (without them the answer is the recommender's popularity, ranked by customers)", ErrBadRequest))
				return
			}
			res, err := p.Popular(n)
			h.write(w, res, err, RecommendationsResponse{})
		}))
	}
}

// Popular is a Recommender that also lists the top products
// (GET /api/v1/products/top?n=10, the dashboard's products page).
type Popular interface {
	Popular(n int) (recsvc.Result, error)
}

type recommendAPI struct {
	r   Recommender
	now func() time.Time
}

// RecommendationsResponse is the body of both recommendation endpoints.
type RecommendationsResponse struct {
	// CustomerID is set by /customers/{id}/recommendations, ProductID by
	// /products/{id}/similar.
	CustomerID string `json:"customer_id,omitempty"`
	ProductID  string `json:"product_id,omitempty"`
	BuyAgain   bool   `json:"buy_again,omitempty"`
	// Method is "item-item" or "popularity".
	Method string `json:"method"`
	// Items are the products, best first; a score is a sum of similarities
	// for item-item (0 for popular products filling up the list) and a
	// number of customers for popularity.
	Items        []recommend.Scored `json:"items"`
	ModelBuiltAt time.Time          `json:"model_built_at"`
	// Experiment and Variant name the experiment the customer is in and
	// the variant that answered (docs/recommendations.md); absent outside
	// experiments.
	Experiment string `json:"experiment,omitempty"`
	Variant    string `json:"variant,omitempty"`
	// ModelAgeSeconds is how long ago the model answering was built.
	ModelAgeSeconds float64 `json:"model_age_seconds"`
}

// maxRecommendations bounds n.
const maxRecommendations = 100

func parseN(r *http.Request) (int, error) {
	v := r.URL.Query().Get("n")
	if v == "" {
		return 10, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxRecommendations {
		return 0, fmt.Errorf("%w: n %q, want 1..%d", ErrBadRequest, v, maxRecommendations)
	}
	return n, nil
}

func (h *recommendAPI) recommendations(w http.ResponseWriter, r *http.Request) {
	n, err := parseN(r)
	if err != nil {
		WriteError(w, err)
		return
	}
	buyAgain := false
	if v := r.URL.Query().Get("buy_again"); v != "" {
		if buyAgain, err = strconv.ParseBool(v); err != nil {
			WriteError(w, fmt.Errorf("%w: buy_again %q, want true or false", ErrBadRequest, v))
			return
		}
	}
	preview := false
	if v := r.URL.Query().Get("preview"); v != "" {
		if preview, err = strconv.ParseBool(v); err != nil {
			WriteError(w, fmt.Errorf("%w: preview %q, want true or false", ErrBadRequest, v))
			return
		}
	}
	id := r.PathValue("id")
	recommend := h.r.Recommend
	if preview {
		recommend = h.r.Preview
	}
	res, err := recommend(id, n, buyAgain)
	h.write(w, res, err, RecommendationsResponse{CustomerID: id, BuyAgain: buyAgain})
}

func (h *recommendAPI) similar(w http.ResponseWriter, r *http.Request) {
	n, err := parseN(r)
	if err != nil {
		WriteError(w, err)
		return
	}
	id := r.PathValue("id")
	res, err := h.r.Similar(id, n)
	h.write(w, res, err, RecommendationsResponse{ProductID: id})
}

func (h *recommendAPI) write(w http.ResponseWriter, res recsvc.Result, err error, body RecommendationsResponse) {
	switch {
	case errors.Is(err, recsvc.ErrNotReady):
		// Not an error of the request: the service is still reading the
		// store. Retry-After tells clients when to ask again.
		w.Header().Set("Retry-After", "5")
		WriteError(w, fmt.Errorf("%w: %w", ErrUnavailable, err))
		return
	case errors.Is(err, recsvc.ErrUnknownProduct):
		WriteError(w, fmt.Errorf("%w: %w", ErrNotFound, err))
		return
	case err != nil:
		WriteError(w, err)
		return
	}
	body.Method, body.Items, body.ModelBuiltAt = res.Method, res.Items, res.BuiltAt.UTC()
	body.Experiment, body.Variant = res.Experiment, res.Variant
	if body.Items == nil {
		body.Items = []recommend.Scored{}
	}
	body.ModelAgeSeconds = h.now().Sub(res.BuiltAt).Seconds()
	WriteJSON(w, http.StatusOK, body)
}
