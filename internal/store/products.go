package store

import (
	"context"
	"errors"
	"sort"
	"time"

	json "github.com/goccy/go-json"

	"github.com/shopstream/shopstream/internal/event"
)

// ProductWindow is one row of the product rollup (migration 0029): what
// one product sold in one currency in one event-time hour or UTC day.
// Rows are additive and are not written with the batches: the product
// fold (ProductFolder) adds the transactions stored since its cursor, in
// chunks; Customers is a customer sketch (sketch.go), merged rather than
// added.
type ProductWindow struct {
	Granularity Granularity // Hour or Day
	Start       time.Time
	ProductID   string
	Currency    string
	// Units is the quantities summed, Orders the transactions holding the
	// product, RevenueMinor the lines' amounts in the currency's minor
	// unit.
	Units, Orders, RevenueMinor int64
	Customers                   []byte
}

// ProductTotal is what one product sold in one currency over a range.
type ProductTotal struct {
	ProductID                   string
	Currency                    string
	Units, Orders, RevenueMinor int64
}

// ProductRollups reads the product rollup. A range is taken in whole
// hours: from and to are hour starts (to after from); the days wholly
// inside are read from the daily rows, the hours at its ends from the
// hourly ones.
type ProductRollups interface {
	// ProductTotals returns each product's sales per currency over
	// [from, to).
	ProductTotals(ctx context.Context, from, to time.Time) ([]ProductTotal, error)
	// ProductCustomers estimates the distinct customers of each of
	// products over [from, to) (products with none are absent).
	ProductCustomers(ctx context.Context, products []string, from, to time.Time) (map[string]int64, error)
	// ProductFoldState says how far the fold has reached.
	ProductFoldState(ctx context.Context) (ProductFoldState, error)
}

// ProductFoldState is how far the product fold has reached.
type ProductFoldState struct {
	// FoldedUntil is when the last pass that reached the end of the
	// stored transactions began: every transaction committed before it
	// is in the rollup. Zero until the first such pass.
	FoldedUntil time.Time
	// Behind is true while the last chunk folded stopped short of the end
	// (the fold is catching up), and before the first chunk.
	Behind bool
	// Transactions is how many transactions the rollup holds.
	Transactions int64
}

// ProductFoldOptions sets one chunk of the product fold.
type ProductFoldOptions struct {
	// Limit is the most transactions the chunk folds (at least 1).
	Limit int
	// Now is when the chunk's read begins: FoldedUntil when it reaches
	// the end.
	Now time.Time
	// Feed, when set, gives the chunk the stream partitions'
	// transactions this process committed, instead of reading them back
	// (ProductFeed).
	Feed ProductFeed
	// FeedLimit, when above 0, is the most transactions the chunk takes
	// from the feed; by default it takes all it holds (what it holds is
	// in memory already, and one chunk rewrites each product's hour and
	// day row once where chunks of Limit rewrite it once each).
	FeedLimit int
	// BeforeCommit, when set, is called in the chunk's transaction after
	// its rows and cursor are written; an error rolls the chunk back
	// (tests stop a fold in the middle of a chunk with it).
	BeforeCommit func() error
}

// ProductFoldChunk is what one chunk of the product fold did.
type ProductFoldChunk struct {
	// Transactions is how many transactions it folded, Rows how many
	// rollup rows it added to or created.
	Transactions, Rows int
	// Fed is how many of the Transactions the feed handed over
	// (ProductFoldOptions.Feed): the rest were read back.
	Fed int
	// Done is true when it reached the end of the stored transactions.
	Done bool
	// Restarted is true when it found transactions imported behind the
	// cursor and emptied the rollup to fold everything again.
	Restarted bool
}

// ProductFeed hands the product fold what the processors of its own
// process committed, as they committed it, so that the fold need not
// read those transactions back from the store (jobs.ProductFeed).
type ProductFeed interface {
	// Take is asked for a stream partition (0 or more) with the fold's
	// cursor there, mark, and answers with a ProductTake of at most max
	// (at least 1) transactions.
	Take(partition int32, mark RowMark, max int) ProductTake
}

// ProductTake is a ProductFeed's answer for one partition. Cursors of
// stream partitions are offsets covered: (offset, id) says that every
// stored transaction up to that offset is folded, id being the one
// stored at that offset or "" when none is.
type ProductTake struct {
	// Taken: Txs are the transactions stored in the partition from just
	// after the mark's offset through Through (every offset in
	// between), and nothing else; the cursor then moves to (Through,
	// LastID). The feed has handed them over: it does not give them
	// again. More: it holds more after Through.
	Taken   bool
	Txs     []ProductTx
	Through int64
	LastID  string
	More    bool
	// Sum, when not nil, is the sums of the Summed transactions stored
	// from just after the mark's offset on, which the feed summed ahead
	// of the take as they were committed; Txs are then the ones after
	// them. The fold adds Sum to its own (ProductAcc.Merge): it no longer
	// belongs to the feed. A take's max bounds Txs only (the feed has
	// done the summing of Sum).
	Sum    *ProductAcc
	Summed int
	// Bounded (when not Taken): the feed holds what is committed from
	// offset Bound on, and the fold is to read back from the store what
	// lies between its cursor and Bound (offsets below Bound), then move
	// its cursor to Bound-1. Neither: the fold reads back to the end.
	Bounded bool
	Bound   int64
}

// ProductFolder folds stored transactions into the product rollup, off
// the batches' write path: each call reads the next chunk after the
// stored cursor and adds it, the rows and the moved cursor in one
// database transaction, which commits only if no other fold committed
// since the cursor was read; a chunk is therefore added exactly once,
// and a fold stopped anywhere resumes where the last commit left it.
type ProductFolder interface {
	FoldProducts(ctx context.Context, o ProductFoldOptions) (ProductFoldChunk, error)
}

// ErrFoldRace says that another fold committed a chunk since this one
// read the cursor; nothing was added.
var ErrFoldRace = errors.New("another product fold committed first")

// RangeParts splits [from, to) (hour starts) into the whole UTC days
// inside it, [dayFrom, dayTo) (empty when dayFrom == dayTo), and the hours
// before and after them.
func RangeParts(from, to time.Time) (dayFrom, dayTo time.Time) {
	dayFrom = from.UTC().Truncate(24 * time.Hour)
	if dayFrom.Before(from) {
		dayFrom = dayFrom.Add(24 * time.Hour)
	}
	dayTo = to.UTC().Truncate(24 * time.Hour)
	if !dayTo.After(dayFrom) {
		return from, from // no whole day: hours only
	}
	return dayFrom, dayTo
}

// ProductTx is what the product fold reads of a stored transaction: a
// fifth of a Tx's size.
type ProductTx struct {
	// Offset and TransactionID place it in its partition.
	Offset        int64
	TransactionID string
	CustomerID    string
	EventTime     time.Time
	Currency      string
	// ItemsJSON is the transaction's items as stored (a JSON array).
	ItemsJSON []byte
}

// ProductDeltas is what txs add to the product rollup: a row per hour
// and per day, product and currency, in key order. A transaction whose
// items cannot be read adds nothing (the quality checks quarantine such
// records before they are stored).
func ProductDeltas(txs []ProductTx) []ProductWindow {
	var a ProductAcc
	for i := range txs {
		a.Add(&txs[i])
	}
	return a.Rows()
}

// ProductAcc sums transactions into product rollup rows as they come
// (ProductDeltas of all of them, without holding them).
type ProductAcc struct {
	m map[productAccKey]*productAccRow
	// slots remember, per product, the rows its last line added to, so
	// that most lines cost one lookup of the product's ID instead of two
	// of a four-part key (a third of the fold's CPU went to those).
	slots map[string]*productSlot
	items []event.Item
}

type productAccKey struct {
	g       Granularity
	start   int64
	product string
	cur     string
}

type productAccRow struct {
	ProductWindow
	sk smallSketch
}

// productSlot is a product's hour and day rows in one currency.
type productSlot struct {
	cur                 string
	hourStart, dayStart int64
	hour, day           *productAccRow
}

// row returns the row of (g, start, product, cur), made if new.
func (a *ProductAcc) row(g Granularity, start time.Time, product, cur string) *productAccRow {
	kk := productAccKey{g, start.Unix(), product, cur}
	r := a.m[kk]
	if r == nil {
		r = &productAccRow{ProductWindow: ProductWindow{Granularity: g, Start: start, ProductID: product, Currency: cur}}
		a.m[kk] = r
	}
	return r
}

// Add adds tx's lines to their product's hour and day rows.
func (a *ProductAcc) Add(tx *ProductTx) {
	items := a.items[:0]
	if len(tx.ItemsJSON) == 0 || json.Unmarshal(tx.ItemsJSON, &items) != nil {
		return
	}
	a.items = items
	if a.m == nil {
		a.m = map[productAccKey]*productAccRow{}
	}
	if a.slots == nil {
		a.slots = map[string]*productSlot{}
	}
	digits, _ := event.CurrencyDigits(tx.Currency)
	idx, rank := register(tx.CustomerID) // hashed once for all its rows
	hour := tx.EventTime.UTC().Truncate(time.Hour)
	day := tx.EventTime.UTC().Truncate(24 * time.Hour)
	h, d := hour.Unix(), day.Unix()
	for k := range items {
		it := &items[k]
		if it.ProductID == "" {
			continue
		}
		first := true // the order counts once per product
		for q := range k {
			if items[q].ProductID == it.ProductID {
				first = false
				break
			}
		}
		sl := a.slots[it.ProductID]
		if sl == nil {
			sl = &productSlot{cur: tx.Currency}
			a.slots[it.ProductID] = sl
		}
		var hr, dr *productAccRow
		if sl.cur == tx.Currency {
			if sl.hour == nil || sl.hourStart != h {
				sl.hour, sl.hourStart = a.row(Hour, hour, it.ProductID, tx.Currency), h
			}
			if sl.day == nil || sl.dayStart != d {
				sl.day, sl.dayStart = a.row(Day, day, it.ProductID, tx.Currency), d
			}
			hr, dr = sl.hour, sl.day
		} else {
			hr, dr = a.row(Hour, hour, it.ProductID, tx.Currency), a.row(Day, day, it.ProductID, tx.Currency)
		}
		for _, r := range [2]*productAccRow{hr, dr} {
			r.Units += int64(it.Quantity)
			r.RevenueMinor += int64(it.LineCents(digits))
			if first {
				r.Orders++
				r.sk.set1(idx, rank)
			}
		}
	}
}

// Len is how many rows the sums make.
func (a *ProductAcc) Len() int { return len(a.m) }

// Merge adds o's sums to a's: a then holds what adding both's
// transactions to it would have made. o is a's afterwards (it may share
// a's rows): it must not be used again.
func (a *ProductAcc) Merge(o *ProductAcc) {
	if len(o.m) == 0 {
		return
	}
	if len(a.m) == 0 {
		a.m, a.slots = o.m, o.slots
		*o = ProductAcc{}
		return
	}
	for k, r := range o.m {
		d := a.m[k]
		if d == nil {
			a.m[k] = r
			continue
		}
		d.Units += r.Units
		d.Orders += r.Orders
		d.RevenueMinor += r.RevenueMinor
		if r.sk.dense != nil {
			for idx, rank := range r.sk.dense.reg {
				if rank != 0 {
					d.sk.set1(uint16(idx), rank)
				}
			}
			continue
		}
		for _, e := range r.sk.set {
			d.sk.set1(e>>6, uint8(e&63))
		}
	}
	*o = ProductAcc{}
}

// Rows returns the sums as rollup rows, in key order.
func (a *ProductAcc) Rows() []ProductWindow {
	out := make([]ProductWindow, 0, len(a.m))
	for _, r := range a.m {
		r.Customers = r.sk.Encode()
		out = append(out, r.ProductWindow)
	}
	sort.Slice(out, func(i, j int) bool { return productKeyLess(&out[i], &out[j]) })
	return out
}

// productKeyLess orders rollup rows by their key: granularity, start,
// product, currency.
func productKeyLess(a, b *ProductWindow) bool {
	if a.Granularity != b.Granularity {
		return a.Granularity < b.Granularity
	}
	if !a.Start.Equal(b.Start) {
		return a.Start.Before(b.Start)
	}
	if a.ProductID != b.ProductID {
		return a.ProductID < b.ProductID
	}
	return a.Currency < b.Currency
}
