package recsvc_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/recommend"
	"github.com/shopstream/shopstream/internal/recsvc"
	"github.com/shopstream/shopstream/internal/store"
)

// fakeAssigner puts c1 and c4 in experiment "x" with popularity, c2 with
// item-item, and fails the exposures of c4.
type fakeAssigner struct{ exposed []string }

func (f *fakeAssigner) Assign(customer string) (recsvc.Assignment, bool) {
	switch customer {
	case "c1", "c4":
		return recsvc.Assignment{Experiment: "x", Variant: "control", Recommender: recsvc.MethodPopularity}, true
	case "c2":
		return recsvc.Assignment{Experiment: "x", Variant: "treatment", Recommender: recsvc.MethodItemItem}, true
	}
	return recsvc.Assignment{}, false
}

func (f *fakeAssigner) Expose(a recsvc.Assignment, customer string, items []recommend.Scored) error {
	if customer == "c4" {
		return errors.New("store away")
	}
	f.exposed = append(f.exposed, a.Variant+" "+customer+" "+items[0].Item)
	return nil
}

func TestAssignerChoosesTheRecommender(t *testing.T) {
	t.Parallel()
	sh := newShop(t)
	fa := &fakeAssigner{}
	svc, err := recsvc.New(recsvc.Config{Store: sh.st.(store.Purchases), Assigner: fa, Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	sh.buy("c1:A", "c1:B", "c2:A", "c2:B", "c3:A", "c3:C", "c4:A", "c4:B", "c5:A", "c6:B")
	if _, err := svc.Fold(context.Background()); err != nil {
		t.Fatal(err)
	}
	svc.Rebuild()
	for _, tc := range []struct {
		customer, method, experiment, variant string
		items                                 []string
	}{
		// c1 bought A and B: popularity has only C left to show.
		{"c1", recsvc.MethodPopularity, "x", "control", []string{"C"}},
		// c3 bought A and C: item-item shows B, A's neighbour.
		{"c3", recsvc.MethodItemItem, "", "", []string{"B"}},
		// c4's exposure fails: answered as if in no experiment.
		{"c4", recsvc.MethodPopularity, "", "", []string{"C"}},
	} {
		res, err := svc.Recommend(tc.customer, 1, false)
		if err != nil {
			t.Fatal(err)
		}
		if res.Method != tc.method || res.Experiment != tc.experiment || res.Variant != tc.variant || !reflect.DeepEqual(items(res), tc.items) {
			t.Errorf("%s: got %s %q/%q %v, want %s %q/%q %v", tc.customer, res.Method, res.Experiment, res.Variant, items(res),
				tc.method, tc.experiment, tc.variant, tc.items)
		}
	}
	if want := []string{"control c1 C"}; !reflect.DeepEqual(fa.exposed, want) {
		t.Fatalf("exposed %q, want %q", fa.exposed, want)
	}
}
