package recommend

import (
	"slices"
	"testing"
)

// TestCountsRename moves a customer's history to a new name, merging it
// into any history the new name has, and leaves the pair counts alone.
func TestCountsRename(t *testing.T) {
	c := NewCounts(3)
	c.Add("old", "A")
	c.Add("old", "B")
	c.Add("new", "C")
	c.Add("other", "A")
	pairs := c.CoCount("A", "B")
	n := c.Rename(func(s string) (string, bool) { return "new", s == "old" })
	if n != 1 {
		t.Fatalf("renamed %d, want 1", n)
	}
	if h := c.History("old"); len(h) != 0 {
		t.Errorf("old keeps %v", h)
	}
	if h := c.History("new"); !slices.Equal(h, []string{"C", "A", "B"}) {
		t.Errorf("new has %v, want [C A B]", h)
	}
	if h := c.History("other"); !slices.Equal(h, []string{"A"}) {
		t.Errorf("other has %v, want [A]", h)
	}
	if c.CoCount("A", "B") != pairs || pairs != 1 {
		t.Errorf("pair A-B counted %d after, %d before; want 1 both", c.CoCount("A", "B"), pairs)
	}
	if c.Kept() != 2 {
		t.Errorf("%d customers kept, want 2", c.Kept())
	}
}
