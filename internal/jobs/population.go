package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/shopstream/shopstream/internal/analytics"
	"github.com/shopstream/shopstream/internal/store"
)

// population is what the refresh knows of every customer, in customer-ID
// byte order.
type population struct {
	sums  []analytics.Summary
	cents []int64 // total spend per customer, exact
	days  int64   // purchase days read
	// Category spend, sparse: customer i's entries are
	// catIdx/catCents[catStart[i]:catStart[i+1]].
	catStart []int32
	catIdx   []int32
	catCents []int64
	catNames []string
}

// read streams every customer's purchase days and category spend into a
// population, and builds the cohort matrix on the way.
func (r *Refresh) read(ctx context.Context, asOf, until time.Time) (*population, []store.CohortCell, error) {
	pop := &population{}
	coh := newCohortBuilder()
	var cur []store.PurchaseDay
	var buf []analytics.Purchase
	flush := func() error {
		if len(cur) == 0 {
			return nil
		}
		buf = buf[:0]
		var cents int64
		for _, d := range cur {
			buf = append(buf, analytics.Purchase{CustomerID: d.CustomerID, Time: d.Day, Amount: float64(d.AmountCents) / 100})
			cents += d.AmountCents
		}
		s, err := analytics.Summarize(buf, asOf, analytics.Week)
		if err != nil {
			return err
		}
		if len(s) != 1 {
			return fmt.Errorf("customer %q: %d summaries from %d purchase days", cur[0].CustomerID, len(s), len(cur))
		}
		pop.sums = append(pop.sums, s[0])
		pop.cents = append(pop.cents, cents)
		coh.add(cur)
		cur = cur[:0]
		return nil
	}
	err := r.cfg.Store.PurchaseDays(ctx, until, func(d *store.PurchaseDay) error {
		pop.days++
		if len(cur) > 0 && d.CustomerID != cur[0].CustomerID {
			if d.CustomerID < cur[0].CustomerID {
				return fmt.Errorf("purchase days out of order: customer %q after %q", d.CustomerID, cur[0].CustomerID)
			}
			if err := flush(); err != nil {
				return err
			}
		}
		cur = append(cur, *d)
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("summarising customers: %w", err)
	}

	// Category spend arrives in the same customer order: walk along.
	catOf := map[string]int32{}
	pop.catStart = make([]int32, len(pop.sums)+1)
	j := 0
	err = r.cfg.Store.CategorySpend(ctx, until, func(c *store.CategorySpend) error {
		for j < len(pop.sums) && pop.sums[j].CustomerID < c.CustomerID {
			j++
			pop.catStart[j] = int32(len(pop.catIdx))
		}
		if j == len(pop.sums) || pop.sums[j].CustomerID != c.CustomerID {
			// A first purchase committed between the two reads: this
			// customer is scored next run.
			return nil
		}
		k, ok := catOf[c.Category]
		if !ok {
			k = int32(len(pop.catNames))
			catOf[c.Category] = k
			pop.catNames = append(pop.catNames, c.Category)
		}
		pop.catIdx = append(pop.catIdx, k)
		pop.catCents = append(pop.catCents, c.Cents)
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("reading category mix: %w", err)
	}
	for j < len(pop.sums) {
		j++
		pop.catStart[j] = int32(len(pop.catIdx))
	}
	return pop, coh.result(), nil
}
