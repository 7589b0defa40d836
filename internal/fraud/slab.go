package fraud

// slab holds a table's records by slot number in pages of slabPage
// records: full pages, then a last one that grows by append up to a
// page. A flat slice grown by append copied every record into each larger
// slice in turn (a quarter more at a time once large) and held both until
// the copy was done: with a million customers, 240 MB copied again and
// again, and the old slice beside the new one at each step. Pages are
// never copied once full, so growth copies at most a page. The records
// stay without pointers, so the collector scans only the page list.
type slab[T any] struct {
	pages [][]T
	n     int
}

// slabPage is the records a full page holds (a power of two: a slot's
// page and place are a shift and a mask).
const (
	slabShift = 12
	slabPage  = 1 << slabShift
)

// at returns slot i's record; i must be below len.
func (s *slab[T]) at(i int) *T { return &s.pages[i>>slabShift][i&(slabPage-1)] }

func (s *slab[T]) len() int { return s.n }

// cap is how many records the slab holds without allocating.
func (s *slab[T]) cap() int {
	if len(s.pages) == 0 {
		return 0
	}
	return (len(s.pages)-1)*slabPage + cap(s.pages[len(s.pages)-1])
}

// add appends a zero record and returns its slot.
func (s *slab[T]) add() int {
	var zero T
	if k := len(s.pages); k == 0 || len(s.pages[k-1]) == slabPage {
		s.pages = append(s.pages, make([]T, 0, min(16, slabPage)))
	}
	k := len(s.pages) - 1
	last := s.pages[k]
	if len(last) == cap(last) {
		// Grow the last page by doubling, up to a page: no more than a
		// page is ever copied.
		grown := make([]T, len(last), min(2*cap(last), slabPage))
		copy(grown, last)
		last = grown
	}
	s.pages[k] = append(last, zero)
	s.n++
	return s.n - 1
}

// makeSlab returns a slab of n zero records with room for extra more
// within its last page.
func makeSlab[T any](n, extra int) slab[T] {
	s := slab[T]{n: n}
	for left := n; left > 0; left -= slabPage {
		k := min(left, slabPage)
		c := k
		if left <= slabPage {
			c = min(k+extra, slabPage)
		}
		s.pages = append(s.pages, make([]T, k, c))
	}
	return s
}
