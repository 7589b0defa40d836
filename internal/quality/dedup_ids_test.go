package quality

import (
	"fmt"
	"slices"
	"testing"
)

func TestDedupAppendIDsRebuilds(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 3, 5, 12} {
		d := NewDedup(5)
		for i := range n {
			d.Check(fmt.Sprint("t", i))
		}
		ids := d.AppendIDs(nil)
		want := []string{}
		for i := max(0, n-5); i < n; i++ {
			want = append(want, fmt.Sprint("t", i))
		}
		if !slices.Equal(ids, want) && !(len(ids) == 0 && len(want) == 0) {
			t.Fatalf("after %d ids: AppendIDs = %v, want %v", n, ids, want)
		}
		r := NewDedup(5)
		for _, id := range ids {
			r.Check(id)
		}
		for i := range n + 2 {
			id := fmt.Sprint("t", i)
			if (d.Check(id) == nil) != (r.Check(id) == nil) {
				t.Fatalf("after %d ids: rebuilt window disagrees on %s", n, id)
			}
		}
	}
}
