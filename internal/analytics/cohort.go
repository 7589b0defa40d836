package analytics

import (
	"slices"
	"time"
)

// Cohorts is the acquisition-cohort matrix: customers grouped by the
// calendar month of their first purchase, and for each cohort c and month
// offset k (k = 0 is the acquisition month) how many of them bought and
// what they spent. Rows are triangular: row c runs from k = 0 to the last
// month with any purchase in the data, so a missing cell means "not yet
// observable" while a zero means "observed, nobody bought".
type Cohorts struct {
	// Months holds each cohort's month as the first instant of the month
	// in UTC, ascending; only months in which someone first bought appear.
	Months []time.Time
	// Size is the number of customers acquired in each cohort.
	Size []int
	// Active[c][k] is how many customers of cohort c bought in month k.
	Active [][]int
	// Revenue[c][k] is what cohort c spent in month k, in the purchases'
	// units.
	Revenue [][]float64
}

// BuildCohorts builds the cohort matrix from purchases in any order.
// Months are the calendar months of each purchase time in its own
// location, so convert times to the shop's zone first.
func BuildCohorts(purchases []Purchase) Cohorts {
	if len(purchases) == 0 {
		return Cohorts{}
	}
	first := make(map[string]int)
	lastMonth := monthIndex(purchases[0].Time)
	for _, p := range purchases {
		m := monthIndex(p.Time)
		if f, ok := first[p.CustomerID]; !ok || m < f {
			first[p.CustomerID] = m
		}
		lastMonth = max(lastMonth, m)
	}
	var cohortMonths []int
	size := make(map[int]int)
	for _, m := range first {
		if size[m] == 0 {
			cohortMonths = append(cohortMonths, m)
		}
		size[m]++
	}
	slices.Sort(cohortMonths)
	row := make(map[int]int, len(cohortMonths))
	c := Cohorts{
		Months:  make([]time.Time, len(cohortMonths)),
		Size:    make([]int, len(cohortMonths)),
		Active:  make([][]int, len(cohortMonths)),
		Revenue: make([][]float64, len(cohortMonths)),
	}
	for i, m := range cohortMonths {
		row[m] = i
		c.Months[i] = time.Date(m/12, time.Month(m%12+1), 1, 0, 0, 0, 0, time.UTC)
		c.Size[i] = size[m]
		c.Active[i] = make([]int, lastMonth-m+1)
		c.Revenue[i] = make([]float64, lastMonth-m+1)
	}
	type activity struct {
		customer string
		month    int
	}
	seen := make(map[activity]bool)
	for _, p := range purchases {
		f := first[p.CustomerID]
		m := monthIndex(p.Time)
		i, k := row[f], m-f
		c.Revenue[i][k] += p.Amount
		a := activity{p.CustomerID, m}
		if !seen[a] {
			seen[a] = true
			c.Active[i][k]++
		}
	}
	return c
}

// Retention is Active[c][k] / Size[c]: the share of cohort c that bought in
// its k-th month (1 at k = 0 by construction).
func (c Cohorts) Retention() [][]float64 {
	out := make([][]float64, len(c.Active))
	for i, row := range c.Active {
		out[i] = make([]float64, len(row))
		for k, n := range row {
			out[i][k] = float64(n) / float64(c.Size[i])
		}
	}
	return out
}

// monthIndex numbers t's calendar month as year·12 + month−1.
func monthIndex(t time.Time) int {
	y, m, _ := t.Date()
	return y*12 + int(m) - 1
}
