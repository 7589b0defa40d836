package jobs

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/sync/errgroup"

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
// population, and builds the cohort matrix on the way. The two queries
// run at once, on two connections (each is a scan of every purchase, and
// the database works on one core per query): both come in customer-ID
// byte order, so the category rows are merged in as each customer's
// purchase days end.
func (r *Refresh) read(ctx context.Context, asOf, until time.Time) (*population, []store.CohortCell, error) {
	g, gctx := errgroup.WithContext(ctx)
	cats := make(chan []store.CategorySpend, 4)
	g.Go(func() error {
		defer close(cats)
		const batch = 4096
		buf := make([]store.CategorySpend, 0, batch)
		err := r.cfg.Store.CategorySpend(gctx, until, func(c *store.CategorySpend) error {
			buf = append(buf, *c)
			if len(buf) < batch {
				return nil
			}
			select {
			case cats <- buf:
			case <-gctx.Done():
				return gctx.Err()
			}
			buf = make([]store.CategorySpend, 0, batch)
			return nil
		})
		if err != nil {
			return fmt.Errorf("reading category mix: %w", err)
		}
		if len(buf) > 0 {
			select {
			case cats <- buf:
			case <-gctx.Done():
				return gctx.Err()
			}
		}
		return nil
	})
	var pop *population
	var cells []store.CohortCell
	g.Go(func() error {
		var err error
		pop, cells, err = r.readDays(gctx, asOf, until, cats)
		for range cats {
			// Unblock the category reader if the days failed first.
		}
		return err
	})
	if err := g.Wait(); err != nil {
		return nil, nil, err
	}
	return pop, cells, nil
}

// catMerge walks the category rows along the customers: customers are
// appended in customer-ID order, and add takes each new customer's rows.
type catMerge struct {
	in      <-chan []store.CategorySpend
	pending []store.CategorySpend
	catOf   map[string]int32
}

// add records the category spend of customer i (pop.sums[i]) and skips
// the rows of customers before it that the purchase days did not have (a
// first purchase committed between the two reads: scored next run).
func (m *catMerge) add(pop *population, i int) {
	id := pop.sums[i].CustomerID
	for {
		if len(m.pending) == 0 {
			b, ok := <-m.in
			if !ok {
				break
			}
			m.pending = b
		}
		c := &m.pending[0]
		if c.CustomerID > id {
			break
		}
		if c.CustomerID == id {
			k, ok := m.catOf[c.Category]
			if !ok {
				k = int32(len(pop.catNames))
				m.catOf[c.Category] = k
				pop.catNames = append(pop.catNames, c.Category)
			}
			pop.catIdx = append(pop.catIdx, k)
			pop.catCents = append(pop.catCents, c.Cents)
		}
		m.pending = m.pending[1:]
	}
	pop.catStart = append(pop.catStart, int32(len(pop.catIdx)))
}

// readDays streams the purchase days into a population and the cohort
// matrix, merging in the category rows from cats.
func (r *Refresh) readDays(ctx context.Context, asOf, until time.Time, cats <-chan []store.CategorySpend) (*population, []store.CohortCell, error) {
	pop := &population{catStart: []int32{0}}
	merge := &catMerge{in: cats, catOf: map[string]int32{}}
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
			buf = append(buf, analytics.Purchase{CustomerID: d.CustomerID, Time: d.Day, Amount: float64(d.AmountCents) / r.minorPer})
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
		merge.add(pop, len(pop.sums)-1)
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
	return pop, coh.result(), nil
}
