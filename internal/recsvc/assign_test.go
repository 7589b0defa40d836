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

// TestPreviewRecordsNoExposure: a preview answers c1 and c2, both in the
// experiment, as a customer in none (item-item), and exposes nobody;
// Recommend still exposes them afterwards.
func TestPreviewRecordsNoExposure(t *testing.T) {
	t.Parallel()
	sh := newShop(t)
	fa := &fakeAssigner{}
	svc, err := recsvc.New(recsvc.Config{Store: sh.st.(store.Purchases), Assigner: fa, Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Preview("c1", 1, false); !errors.Is(err, recsvc.ErrNotReady) {
		t.Fatalf("preview before the first model: %v, want ErrNotReady", err)
	}
	sh.buy("c1:A", "c2:A", "c3:A", "c3:C", "c4:A", "c4:B", "c5:A", "c5:B", "c6:B")
	if _, err := svc.Fold(context.Background()); err != nil {
		t.Fatal(err)
	}
	svc.Rebuild()
	for _, c := range []string{"c1", "c2"} {
		res, err := svc.Preview(c, 1, false)
		if err != nil {
			t.Fatal(err)
		}
		// A's neighbour is B (bought with it twice), item-item's answer.
		if res.Method != recsvc.MethodItemItem || res.Experiment != "" || res.Variant != "" || !reflect.DeepEqual(items(res), []string{"B"}) {
			t.Errorf("preview of %s: %s %q/%q %v, want item-item outside the experiment [B]", c, res.Method, res.Experiment, res.Variant, items(res))
		}
	}
	if len(fa.exposed) != 0 {
		t.Fatalf("previews exposed %q", fa.exposed)
	}
	res, err := svc.Recommend("c1", 1, false)
	if err != nil {
		t.Fatal(err)
	}
	if res.Experiment != "x" || !reflect.DeepEqual(fa.exposed, []string{"control c1 " + items(res)[0]}) {
		t.Fatalf("Recommend after previews: %q/%q, exposed %q; want c1 exposed in x", res.Experiment, res.Variant, fa.exposed)
	}
}
