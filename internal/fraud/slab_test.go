package fraud

import "testing"

// TestSlab: records added one by one keep their values across pages and
// the last page's growth; no page but the last is partly filled, so a
// slab never holds more than a page of room; makeSlab's records read as
// zero with the room asked for.
func TestSlab(t *testing.T) {
	t.Parallel()
	var s slab[int]
	const n = 3*slabPage + 5
	for i := range n {
		if got := s.add(); got != i {
			t.Fatalf("add %d returned slot %d", i, got)
		}
		*s.at(i) = i * 7
	}
	if s.len() != n {
		t.Fatalf("len %d, want %d", s.len(), n)
	}
	for i := range n {
		if *s.at(i) != i*7 {
			t.Fatalf("slot %d holds %d, want %d", i, *s.at(i), i*7)
		}
	}
	for k, p := range s.pages[:len(s.pages)-1] {
		if len(p) != slabPage {
			t.Fatalf("page %d of %d holds %d records", k, len(s.pages), len(p))
		}
	}
	if room := s.cap() - s.len(); room < 0 || room >= slabPage {
		t.Fatalf("cap %d for %d records", s.cap(), s.len())
	}
	for _, c := range []struct{ n, extra, wantCap int }{
		{0, 0, 0}, {10, 2, 12}, {slabPage, 5, slabPage}, {slabPage + 1, 3, slabPage + 4}, {2*slabPage - 1, slabPage, 2 * slabPage},
	} {
		m := makeSlab[int](c.n, c.extra)
		if m.len() != c.n || m.cap() != c.wantCap {
			t.Errorf("makeSlab(%d, %d): len %d cap %d, want %d and %d", c.n, c.extra, m.len(), m.cap(), c.n, c.wantCap)
		}
		for i := range c.n {
			if *m.at(i) != 0 {
				t.Fatalf("makeSlab(%d, %d): slot %d is %d", c.n, c.extra, i, *m.at(i))
			}
		}
		if c.n > 0 && m.add() != c.n {
			t.Errorf("makeSlab(%d, %d): the next record is not slot %d", c.n, c.extra, c.n)
		}
	}
}
