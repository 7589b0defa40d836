package recsvc

import (
	"github.com/shopstream/shopstream/internal/recommend"
)

// Assignment is a customer's place in an experiment on recommendations.
type Assignment struct {
	Experiment string
	Variant    string
	// Recommender answers for the variant: MethodItemItem or
	// MethodPopularity.
	Recommender string
}

// Assigner puts customers into experiments (package abtest has one). The
// Service asks it before every customer lookup: when it assigns the
// customer, the variant's recommender answers, and the answer is reported
// with Expose before it is returned. When Expose fails, the answer is
// given without the experiment (the default recommender, as if the
// customer were in none), so an exposure is never claimed that was not
// recorded.
type Assigner interface {
	// Assign returns the customer's assignment, if they are in a running
	// experiment. It is on the serving path: it must not do I/O.
	Assign(customer string) (Assignment, bool)
	// Expose records that the customer was shown items under a. It
	// returns only when the exposure is stored (or was stored before).
	Expose(a Assignment, customer string, items []recommend.Scored) error
}

// rank answers with one recommender: item-item (filled up with, or
// falling back to, popularity) or popularity alone.
func (s *Service) rank(snap *snapshot, history []string, n int, buyAgain bool, method string) Result {
	res := Result{BuiltAt: snap.builtAt, Method: MethodPopularity}
	if method == MethodItemItem && len(history) > 0 {
		res.Items = snap.item.Rank(history, n, buyAgain)
		if len(res.Items) > 0 && res.Items[0].Score > 0 {
			res.Method = MethodItemItem
			return res
		}
	}
	res.Items = snap.pop.Rank(history, n, buyAgain)
	return res
}

// experiment answers for a customer assigned to an experiment. ok is
// false when the customer is in none, or the exposure could not be
// recorded.
func (s *Service) experiment(snap *snapshot, customer string, history []string, n int, buyAgain bool) (Result, bool) {
	a := s.cfg.Assigner
	if a == nil {
		return Result{}, false
	}
	as, ok := a.Assign(customer)
	if !ok {
		return Result{}, false
	}
	res := s.rank(snap, history, n, buyAgain, as.Recommender)
	if len(res.Items) == 0 {
		return Result{}, false // nothing to show, nothing exposed
	}
	if err := a.Expose(as, customer, res.Items); err != nil {
		s.exposeErrors.Inc()
		s.log.Warn("recording an exposure failed; answering outside the experiment", "experiment", as.Experiment,
			"customer", customer, "err", err)
		return Result{}, false
	}
	res.Experiment, res.Variant = as.Experiment, as.Variant
	return res, true
}
