package jobs

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/shopstream/shopstream/internal/analytics"
	"github.com/shopstream/shopstream/internal/store"
)

// foldStore is what the refresh needs of a store to keep its fold: the
// tail of stored purchases and the record of erasures.
type foldStore interface {
	store.AnalyticsTail
	Erasures(ctx context.Context, afterID int64, limit int) ([]store.Erasure, error)
}

// fold is what the refresh keeps, between runs, of every customer's stored
// purchases: purchase days (orders and cents per UTC day) and spend per
// item category, folded from the transactions read so far (up to cursor),
// so that a run reads only what was stored since the last one and
// rebuilds the population from memory (see foldPopulation).
type fold struct {
	ids      idTable    // customer IDs by slot, and each ID's slot
	cust     []custFold // by slot
	days     pool[foldDay]
	cats     pool[foldCat]
	order    []int32 // slots in customer-ID byte order, as of the last population
	added    []int32 // slots added since
	catOf    map[string]int32
	catNames []string
	cursor   store.PurchaseCursor
	// erasureID is the last erasure applied; maxDay the latest purchase
	// day folded (days since 1970-01-01).
	erasureID int64
	maxDay    int64
	txs       int64 // transactions folded
	// imported counts the stored transactions of partition -1 (imports)
	// at or before the cursor, as of the last run.
	imported int64
	// max is the most customers the fold keeps (0: no bound); catchUp
	// stops with errFoldFull beyond it.
	max int
}

// tailPage is the most transactions per partition one read of the tail
// returns.
const tailPage = 10_000

// importPartition holds imported transactions; an import into a store
// that holds one already writes rows at offsets the cursor has passed.
const importPartition = -1

// errBehind says that transactions were stored behind the fold's cursor.
var errBehind = errors.New("transactions were imported behind the refresh's cursor")

// errFoldFull says that the fold would hold more customers than its bound.
var errFoldFull = errors.New("more customers than the refresh keeps in memory")

// custFold is one customer's stored purchases: purchase days (ascending)
// and spend per category, runs of fold.days and fold.cats.
type custFold struct {
	first int64 // earliest event time folded, Unix microseconds
	days  run
	cats  run
}

type foldDay struct {
	day    int32
	orders int32
	cents  int64
}

type foldCat struct {
	cat   int32
	cents int64
}

func newFold(max int) *fold {
	return &fold{ids: newIDTable(), catOf: map[string]int32{}, cursor: store.PurchaseCursor{}, max: max}
}

// full reports whether the fold holds more customers than its bound.
func (f *fold) full() bool { return f.max > 0 && f.ids.len() > f.max }

// compact frees the slots of the customers dropped (erased, or read again
// after retention, which gives them a new slot), once they are as many as
// the customers kept: otherwise a run with retention would leak a slot per
// customer whose oldest purchase retention deleted, every pass.
//
// The days and categories are copied into new storage once a quarter of it is
// room that runs left behind when they grew or were dropped.
func (f *fold) compact() {
	f.days.compact(len(f.cust), func(i int) *run { return &f.cust[i].days })
	f.cats.compact(len(f.cust), func(i int) *run { return &f.cust[i].cats })
	dead := f.ids.slots() - f.ids.len()
	if dead < 1024 || dead < f.ids.len() {
		return
	}
	slot := f.ids.compact() // old slot -> new, -1 when dropped
	cust := make([]custFold, 0, f.ids.len())
	for i, s := range slot {
		if s >= 0 {
			cust = append(cust, f.cust[i])
		}
	}
	remap := func(s []int32) []int32 {
		out := s[:0]
		for _, i := range s {
			if slot[i] >= 0 {
				out = append(out, slot[i])
			}
		}
		return slices.Clip(out)
	}
	f.cust = cust
	f.order, f.added = remap(f.order), remap(f.added)
}

// add folds in one stored transaction.
func (f *fold) add(t *store.PurchaseTotal) {
	i, ok := f.ids.get(t.CustomerID)
	if !ok {
		i = f.ids.add(t.CustomerID)
		f.cust = append(f.cust, custFold{first: t.EventTime.UnixMicro()})
		f.added = append(f.added, i)
	}
	c := &f.cust[i]
	c.first = min(c.first, t.EventTime.UnixMicro())
	day := analytics.CivilDay(t.EventTime.UTC())
	f.maxDay = max(f.maxDay, day)
	d := int32(day)
	// Usually the latest day or a new one after it.
	days := f.days.of(c.days)
	k := len(days)
	for k > 0 && days[k-1].day > d {
		k--
	}
	if k == 0 || days[k-1].day != d {
		f.days.insert(&c.days, k, foldDay{day: d})
		days = f.days.of(c.days)
		k++
	}
	days[k-1].orders++
	days[k-1].cents += t.TotalCents
	for _, l := range t.Lines {
		cat, ok := f.catOf[l.Category]
		if !ok {
			cat = int32(len(f.catNames))
			f.catOf[l.Category] = cat
			f.catNames = append(f.catNames, l.Category)
		}
		cats := f.cats.of(c.cats)
		j := slices.IndexFunc(cats, func(e foldCat) bool { return e.cat == cat })
		if j < 0 {
			j = len(cats)
			f.cats.insert(&c.cats, j, foldCat{cat: cat})
			cats = f.cats.of(c.cats)
		}
		cats[j].cents += l.Cents
	}
	f.txs++
}

// drop forgets a customer; it reports whether the fold had them.
func (f *fold) drop(id string) bool {
	i, ok := f.ids.get(id)
	if !ok {
		return false
	}
	f.ids.drop(i)
	f.days.free(&f.cust[i].days)
	f.cats.free(&f.cust[i].cats)
	f.cust[i] = custFold{}
	return true
}

// reread replaces what the fold holds of the customers by what the store
// holds of them up to the cursor (the tail brings the rest).
func (f *fold) reread(ctx context.Context, st foldStore, ids []string) error {
	for _, id := range ids {
		f.drop(id)
	}
	return st.CustomerPurchaseTotals(ctx, ids, func(t *store.PurchaseTotal) error {
		if f.cursor.Has(t.Partition, t.Offset, t.TransactionID) {
			f.add(t)
		}
		return nil
	})
}

// live returns the slots of the customers the fold holds, in customer-ID
// byte order, merging in those added since the last call.
func (f *fold) live() []int32 {
	slices.SortFunc(f.added, f.ids.compare)
	out := make([]int32, 0, f.ids.len())
	i, j := 0, 0
	for i < len(f.order) || j < len(f.added) {
		var s int32
		if j == len(f.added) || i < len(f.order) && f.ids.compare(f.order[i], f.added[j]) < 0 {
			s, i = f.order[i], i+1
		} else {
			s, j = f.added[j], j+1
		}
		if f.ids.live(s) && f.cust[s].days.n > 0 && (len(out) == 0 || f.ids.compare(out[len(out)-1], s) != 0) {
			out = append(out, s)
		}
	}
	f.order, f.added = out, f.added[:0]
	return out
}

// catchUp brings the fold up to what the store holds: the transactions
// stored since its cursor, the erasures recorded since the last applied,
// and the purchases retention deleted. It returns the customers erased
// since, whose analytics rows must go. pace is called after each page it
// reads, with how long the read took (Refresh.pace).
func (f *fold) catchUp(ctx context.Context, st foldStore, pace func(context.Context, time.Duration) error) (erased []string, err error) {
	var imported int64
	for {
		// In pages, so that no read holds one of the store's few
		// connections for long (SQLite has four, the stream writes on one).
		n := 0
		began := time.Now()
		f.cursor, err = st.PurchaseTotals(ctx, f.cursor, tailPage, func(t *store.PurchaseTotal) error {
			if t.Partition == importPartition {
				imported++
			}
			f.add(t)
			n++
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("reading the purchases stored since the last refresh: %w", err)
		}
		if f.full() {
			return nil, fmt.Errorf("%w (%d, bound %d)", errFoldFull, f.ids.len(), f.max)
		}
		if n == 0 {
			break
		}
		if err := pace(ctx, time.Since(began)); err != nil {
			return nil, err
		}
	}
	if mark, ok := f.cursor[importPartition]; ok {
		// More imported rows at or before the cursor than were there and
		// were read since: some were stored behind it (retention, which
		// deletes, can only hide them until the next run).
		n, err := st.PurchasesThrough(ctx, importPartition, mark)
		if err != nil {
			return nil, err
		}
		if n > f.imported+imported {
			return nil, fmt.Errorf("%w (%d there, %d read)", errBehind, n, f.imported+imported)
		}
		f.imported = n
	}
	if erased, err = f.applyErasures(ctx, st); err != nil {
		return nil, err
	}
	if err := f.applyRetention(ctx, st); err != nil {
		return nil, err
	}
	f.compact()
	return erased, nil
}

// skipErasures moves past every erasure recorded so far, for a fold about
// to be read from the start (which reads the pseudonyms already).
func (f *fold) skipErasures(ctx context.Context, st foldStore) error {
	for {
		es, err := st.Erasures(ctx, f.erasureID, 1000)
		if err != nil {
			return err
		}
		if len(es) == 0 {
			return nil
		}
		f.erasureID = es[len(es)-1].ID
	}
}

// applyErasures applies the erasures recorded since the last: an erased
// customer's transactions now carry a pseudonym, so the fold forgets the
// customer and reads the pseudonym's transactions again. Erasures list
// the SHA-256 of the erased ID only, so the fold's IDs are hashed to find
// them: a second or so per million customers, only in runs after an
// erasure.
func (f *fold) applyErasures(ctx context.Context, st foldStore) ([]string, error) {
	pseudonyms := map[string]bool{}
	keys := map[string]bool{}
	for {
		es, err := st.Erasures(ctx, f.erasureID, 1000)
		if err != nil {
			return nil, fmt.Errorf("reading erasures: %w", err)
		}
		if len(es) == 0 {
			break
		}
		for _, e := range es {
			keys[e.Key] = true
			pseudonyms[e.Pseudonym] = true
		}
		f.erasureID = es[len(es)-1].ID
	}
	if len(keys) == 0 {
		return nil, nil
	}
	var erased []string
	for i := range int32(f.ids.slots()) {
		if !f.ids.live(i) {
			continue
		}
		if id := f.ids.name(i); keys[store.ErasureKey(id)] {
			erased = append(erased, id)
		}
	}
	for _, id := range erased {
		f.drop(id)
	}
	if err := f.reread(ctx, st, slices.Sorted(maps.Keys(pseudonyms))); err != nil {
		return nil, fmt.Errorf("reading the purchases of erased customers under their pseudonyms: %w", err)
	}
	return erased, nil
}

// applyRetention forgets the purchases retention deleted. Retention
// deletes the transactions before an instant (a prefix in event time), so
// the fold's oldest purchase is still stored unless retention took some
// of what the fold holds; then the customers whose first folded purchase
// is gone are found by bisection over the customers in order of first
// purchase (a probe of the customer index each), and read again from the
// store. A run thus costs one probe when nothing was deleted, and the
// affected customers' purchases when something was.
func (f *fold) applyRetention(ctx context.Context, st foldStore) error {
	for range 4 { // a retention pass under way may delete more meanwhile
		oldest := int32(-1)
		for i := range f.cust {
			if f.cust[i].days.n > 0 && (oldest < 0 || f.cust[i].first < f.cust[oldest].first) {
				oldest = int32(i)
			}
		}
		if oldest < 0 {
			return nil
		}
		if ok, err := f.stored(ctx, st, oldest); err != nil || ok {
			return err
		}
		byFirst := make([]int32, 0, f.ids.len())
		for i := range f.cust {
			if f.cust[i].days.n > 0 {
				byFirst = append(byFirst, int32(i))
			}
		}
		slices.SortFunc(byFirst, func(a, b int32) int {
			return cmp.Or(cmp.Compare(f.cust[a].first, f.cust[b].first), f.ids.compare(a, b))
		})
		// The first customer whose first purchase is stored: every one
		// before it lost theirs (and, it may be, more).
		lo, hi := 1, len(byFirst) // byFirst[0] is gone
		for lo < hi {
			mid := lo + (hi-lo)/2
			ok, err := f.stored(ctx, st, byFirst[mid])
			if err != nil {
				return err
			}
			if ok {
				hi = mid
			} else {
				lo = mid + 1
			}
		}
		ids := make([]string, lo)
		for k, i := range byFirst[:lo] {
			ids[k] = f.ids.name(i)
		}
		if err := f.reread(ctx, st, ids); err != nil {
			return fmt.Errorf("reading again the purchases of %d customers after retention: %w", len(ids), err)
		}
	}
	return errors.New("retention kept deleting the purchases read")
}

// stored reports whether the first folded purchase of the customer in
// slot i is still stored.
func (f *fold) stored(ctx context.Context, st foldStore, i int32) (bool, error) {
	return st.HasPurchase(ctx, f.ids.name(i), time.UnixMicro(f.cust[i].first).UTC())
}

// population builds the population and the cohort matrix as of endDay
// (days since 1970-01-01) from the fold, as readDays does from the
// store's purchase days: the same summaries, cents and category spend.
func (f *fold) population(endDay int64, minorPer float64) (*population, []store.CohortCell, error) {
	order := f.live()
	// Built anew each run, not kept to be reused: at a million customers
	// the summaries and category sums are about 60 MB, which kept between
	// runs held the processor's heap that much nearer its memory limit
	// all the time, where building them costs an allocation a minute.
	pop := &population{catStart: append(make([]int32, 0, len(order)+1), 0), sums: make([]analytics.Summary, 0, len(order)),
		cents: make([]int64, 0, len(order)), catNames: slices.Clone(f.catNames)}
	coh := newCohortBuilder()
	var amounts []analytics.DayAmount
	var days []store.PurchaseDay
	for _, i := range order {
		c := &f.cust[i]
		id := f.ids.name(i)
		amounts, days = amounts[:0], days[:0]
		var cents int64
		for _, d := range f.days.of(c.days) {
			amounts = append(amounts, analytics.DayAmount{Day: int64(d.day), Amount: float64(d.cents) / minorPer})
			days = append(days, store.PurchaseDay{CustomerID: id, Day: time.Unix(int64(d.day)*86400, 0).UTC(), Orders: int64(d.orders), AmountCents: d.cents})
			cents += d.cents
		}
		s, err := analytics.SummarizeDays(id, amounts, endDay, analytics.Week)
		if err != nil {
			return nil, nil, err
		}
		pop.sums = append(pop.sums, s)
		pop.cents = append(pop.cents, cents)
		pop.days += int64(c.days.n)
		for _, e := range f.cats.of(c.cats) {
			pop.catIdx = append(pop.catIdx, e.cat)
			pop.catCents = append(pop.catCents, e.cents)
		}
		pop.catStart = append(pop.catStart, int32(len(pop.catIdx)))
		coh.add(days)
	}
	return pop, coh.result(), nil
}

// catchUp brings the refresh's fold up to the store, reading it all when
// there is none; a store without the tail (store.AnalyticsTail) keeps no
// fold. On an error the fold is dropped, to be read again next run.
func (r *Refresh) catchUp(ctx context.Context, rep *RefreshReport) error {
	fs, ok := r.cfg.Store.(foldStore)
	if !ok || r.foldOff {
		return nil
	}
	f := r.fold
	r.fold = nil
	r.foldCustomers.Store(0)
	rep.Read = "incremental"
	if f == nil {
		rep.Read = "full"
		f = newFold(r.cfg.FoldMaxCustomers)
		// What was erased before is under its pseudonym in what is read.
		if err := f.skipErasures(ctx, fs); err != nil {
			return fmt.Errorf("reading erasures: %w", err)
		}
	}
	before := f.txs
	erased, err := f.catchUp(ctx, fs, r.pace)
	if errors.Is(err, errBehind) && rep.Read == "incremental" {
		// A second import: read everything again, now.
		r.log.Info("analytics refresh: reading every purchase again", "reason", err)
		rep.Read, f = "full", newFold(r.cfg.FoldMaxCustomers)
		if err := f.skipErasures(ctx, fs); err != nil {
			return fmt.Errorf("reading erasures: %w", err)
		}
		before = 0
		erased, err = f.catchUp(ctx, fs, r.pace)
	}
	if errors.Is(err, errFoldFull) {
		// From now on every run reads the purchases grouped in the
		// store, as a store without the tail does: the same figures,
		// in more time, without the memory.
		r.foldOff = true
		r.log.Warn("analytics refresh: keeping no purchases in memory, reading them from the store every run", "reason", err)
		rep.Read = "store"
		return nil
	}
	if err != nil {
		return err
	}
	rep.TransactionsRead, rep.Erased = f.txs-before, len(erased)
	if len(erased) > 0 {
		// The erasure deleted these rows; a run that read before it may
		// have written them again.
		if err := fs.DeleteCustomerAnalytics(ctx, erased); err != nil {
			return err
		}
	}
	r.fold = f
	r.foldCustomers.Store(int64(f.ids.len()))
	return nil
}

// load returns the population as of asOf and its cohort matrix: from the
// fold, or read from the store when there is no fold or the fold holds
// purchases after the as-of day (a clock behind the data), which the
// grouped read leaves out.
func (r *Refresh) load(ctx context.Context, asOf, until time.Time, rep *RefreshReport) (*population, []store.CohortCell, error) {
	var (
		pop   *population
		cells []store.CohortCell
		err   error
	)
	if f, end := r.fold, analytics.CivilDay(asOf); f != nil && f.maxDay <= end {
		pop, cells, err = f.population(end, r.minorPer)
	} else {
		rep.Read = "store"
		pop, cells, err = r.read(ctx, asOf, until)
	}
	if err == nil && r.testHookPopulation != nil {
		r.testHookPopulation(pop, cells)
	}
	return pop, cells, err
}

// Follow folds what was stored since the last run or Follow into the
// refresh's fold, and computes nothing, returning the transactions read.
// `shopstream run` calls it while the history backfill is being stored,
// so that its first refresh reads only what the backfill stored last
// rather than the whole history. It must not run at the same time as a
// refresh of the same Refresh; with a store without the tail it does
// nothing.
func (r *Refresh) Follow(ctx context.Context) (int64, error) {
	var rep RefreshReport
	if err := r.catchUp(ctx, &rep); err != nil {
		return 0, fmt.Errorf("analytics refresh: %w", err)
	}
	return rep.TransactionsRead, nil
}
