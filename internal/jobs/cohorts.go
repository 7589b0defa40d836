package jobs

import (
	"slices"
	"time"

	"github.com/shopstream/shopstream/internal/store"
)

// cohortBuilder accumulates the acquisition-cohort matrix one customer at a
// time, as the refresh streams purchase days, so no purchase list of the
// whole population is ever held. It gives the same matrix as
// analytics.BuildCohorts over all purchases (tested), in exact cents.
type cohortBuilder struct {
	cells     map[cohortKey]*store.CohortCell
	size      map[int]int64
	lastMonth int
}

type cohortKey struct{ month, offset int }

func newCohortBuilder() *cohortBuilder {
	return &cohortBuilder{cells: map[cohortKey]*store.CohortCell{}, size: map[int]int64{}, lastMonth: -1}
}

// add folds in one customer's purchase days, in ascending order.
func (b *cohortBuilder) add(days []store.PurchaseDay) {
	if len(days) == 0 {
		return
	}
	first := monthIndex(days[0].Day)
	b.size[first]++
	prev := -1
	for _, d := range days {
		m := monthIndex(d.Day)
		k := cohortKey{first, m - first}
		c := b.cells[k]
		if c == nil {
			c = &store.CohortCell{Month: monthStart(first), MonthOffset: k.offset}
			b.cells[k] = c
		}
		c.RevenueCents += d.AmountCents
		if k.offset != prev {
			c.Active++
			prev = k.offset
		}
		b.lastMonth = max(b.lastMonth, m)
	}
}

// result returns the full triangle: every cohort from its month to the
// last month with any purchase, zeros included (a zero is "observed,
// nobody bought"; a missing cell is "not yet observable"), ordered by
// cohort and offset.
func (b *cohortBuilder) result() []store.CohortCell {
	months := make([]int, 0, len(b.size))
	for m := range b.size {
		months = append(months, m)
	}
	slices.Sort(months)
	var out []store.CohortCell
	for _, m := range months {
		for k := 0; m+k <= b.lastMonth; k++ {
			c := store.CohortCell{Month: monthStart(m), MonthOffset: k}
			if got := b.cells[cohortKey{m, k}]; got != nil {
				c = *got
			}
			c.Size = b.size[m]
			out = append(out, c)
		}
	}
	return out
}

// monthIndex numbers t's UTC calendar month as year·12 + month−1.
func monthIndex(t time.Time) int {
	y, m, _ := t.UTC().Date()
	return y*12 + int(m) - 1
}

func monthStart(i int) time.Time {
	return time.Date(i/12, time.Month(i%12+1), 1, 0, 0, 0, 0, time.UTC)
}
