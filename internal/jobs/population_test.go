package jobs

import (
	"slices"
	"testing"

	"github.com/shopstream/shopstream/internal/analytics"
	"github.com/shopstream/shopstream/internal/store"
)

// TestCatMerge merges category rows, in batches cut anywhere, into the
// customers they belong to: rows of customers the purchase days did not
// have (before, between and after them) are skipped, and a customer with
// no rows gets none.
func TestCatMerge(t *testing.T) {
	t.Parallel()
	rows := []store.CategorySpend{
		{CustomerID: "a0", Category: "books", Cents: 1}, // not a customer: skipped
		{CustomerID: "b", Category: "books", Cents: 2},
		{CustomerID: "b", Category: "toys", Cents: 3},
		{CustomerID: "c0", Category: "toys", Cents: 4}, // between b and d: skipped
		{CustomerID: "d", Category: "toys", Cents: 5},
		{CustomerID: "z", Category: "shoes", Cents: 6}, // after the last: skipped
	}
	customers := []string{"b", "c", "d", "e"}
	for _, cut := range []int{1, 2, 4, 6} {
		in := make(chan []store.CategorySpend, len(rows))
		for lo := 0; lo < len(rows); lo += cut {
			in <- rows[lo:min(lo+cut, len(rows))]
		}
		close(in)
		pop := &population{catStart: []int32{0}}
		m := &catMerge{in: in, catOf: map[string]int32{}}
		for i, id := range customers {
			pop.sums = append(pop.sums, analytics.Summary{CustomerID: id})
			m.add(pop, i)
		}
		spend := map[string][]int64{}
		for i, id := range customers {
			for k := pop.catStart[i]; k < pop.catStart[i+1]; k++ {
				spend[id] = append(spend[id], pop.catCents[k])
				if pop.catNames[pop.catIdx[k]] != rows[pop.catCents[k]-1].Category {
					t.Errorf("cut %d: customer %s's %d cents under %q", cut, id, pop.catCents[k], pop.catNames[pop.catIdx[k]])
				}
			}
		}
		if !slices.Equal(spend["b"], []int64{2, 3}) || len(spend["c"]) != 0 || !slices.Equal(spend["d"], []int64{5}) || len(spend["e"]) != 0 ||
			len(pop.catStart) != len(customers)+1 || !slices.Equal(pop.catNames, []string{"books", "toys"}) {
			t.Errorf("cut %d: spend %v, starts %v, names %v", cut, spend, pop.catStart, pop.catNames)
		}
	}
}
