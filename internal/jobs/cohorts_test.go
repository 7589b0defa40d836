package jobs

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/analytics"
	"github.com/shopstream/shopstream/internal/store"
)

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// handCohortDays is the hand-checked example: four customers over January
// to March 2026, amounts in cents, each customer's days ascending.
var handCohortDays = [][]store.PurchaseDay{
	{ // A: acquired in January, back in March
		{CustomerID: "A", Day: day(2026, 1, 5), AmountCents: 10000},
		{CustomerID: "A", Day: day(2026, 1, 20), AmountCents: 5000},
		{CustomerID: "A", Day: day(2026, 3, 3), AmountCents: 3000},
	},
	{ // B: January only, on its last day
		{CustomerID: "B", Day: day(2026, 1, 31), AmountCents: 20000},
	},
	{ // C: acquired in February, back in March
		{CustomerID: "C", Day: day(2026, 2, 1), AmountCents: 1000},
		{CustomerID: "C", Day: day(2026, 2, 2), AmountCents: 2000},
		{CustomerID: "C", Day: day(2026, 3, 15), AmountCents: 500},
	},
	{ // D: acquired in March
		{CustomerID: "D", Day: day(2026, 3, 1), AmountCents: 4000},
	},
}

// handCohorts is the matrix worked out by hand from handCohortDays:
//
//	cohort   size  month 0          month 1        month 2
//	2026-01  2     2 active, 350.00  0 active, 0    1 active (A), 30.00
//	2026-02  1     1 active, 30.00   1 active, 5.00
//	2026-03  1     1 active, 40.00
var handCohorts = []store.CohortCell{
	{Month: day(2026, 1, 1), MonthOffset: 0, Size: 2, Active: 2, RevenueCents: 35000},
	{Month: day(2026, 1, 1), MonthOffset: 1, Size: 2, Active: 0, RevenueCents: 0},
	{Month: day(2026, 1, 1), MonthOffset: 2, Size: 2, Active: 1, RevenueCents: 3000},
	{Month: day(2026, 2, 1), MonthOffset: 0, Size: 1, Active: 1, RevenueCents: 3000},
	{Month: day(2026, 2, 1), MonthOffset: 1, Size: 1, Active: 1, RevenueCents: 500},
	{Month: day(2026, 3, 1), MonthOffset: 0, Size: 1, Active: 1, RevenueCents: 4000},
}

func TestCohortBuilderHandChecked(t *testing.T) {
	t.Parallel()
	b := newCohortBuilder()
	for _, days := range handCohortDays {
		b.add(days)
	}
	got := b.result()
	if !slices.Equal(got, handCohorts) {
		t.Fatalf("cohorts =\n%s\nwant\n%s", fmtCells(got), fmtCells(handCohorts))
	}
}

func fmtCells(cs []store.CohortCell) string {
	var b strings.Builder
	for _, c := range cs {
		fmt.Fprintf(&b, "  %s +%d: size %d, active %d, %d cents\n", c.Month.Format("2006-01"), c.MonthOffset, c.Size, c.Active, c.RevenueCents)
	}
	return b.String()
}

// The streaming builder agrees with analytics.BuildCohorts, which sees
// every purchase at once.
func TestCohortBuilderMatchesBuildCohorts(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(7, 7))
	b := newCohortBuilder()
	var all []analytics.Purchase
	start := day(2024, 11, 1)
	for c := range 500 {
		id := fmt.Sprintf("c%03d", c)
		first := start.AddDate(0, 0, rng.IntN(400))
		var days []store.PurchaseDay
		for d := first; d.Before(day(2026, 4, 1)) && (len(days) == 0 || rng.Float64() < 0.8); d = d.AddDate(0, 0, 1+rng.IntN(60)) {
			cents := int64(100 + rng.IntN(10000))
			days = append(days, store.PurchaseDay{CustomerID: id, Day: d, AmountCents: cents})
			all = append(all, analytics.Purchase{CustomerID: id, Time: d.Add(time.Hour), Amount: float64(cents) / 100})
		}
		b.add(days)
	}
	want := analytics.BuildCohorts(all)
	got := b.result()
	i := 0
	for c, m := range want.Months {
		for k := range want.Active[c] {
			g := got[i]
			i++
			if !g.Month.Equal(m) || g.MonthOffset != k || g.Size != int64(want.Size[c]) || g.Active != int64(want.Active[c][k]) ||
				math.Abs(float64(g.RevenueCents)/100-want.Revenue[c][k]) > 1e-6 {
				t.Fatalf("cell %s +%d = %+v, BuildCohorts has size %d, active %d, revenue %.2f",
					m.Format("2006-01"), k, g, want.Size[c], want.Active[c][k], want.Revenue[c][k])
			}
		}
	}
	if i != len(got) {
		t.Fatalf("%d cells, BuildCohorts has %d", len(got), i)
	}
}
