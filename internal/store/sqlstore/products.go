package sqlstore

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shopstream/shopstream/internal/store"
)

// productKey is a product rollup row's key.
type productKey struct {
	g       store.Granularity
	start   int64
	product string
	cur     string
}

func keyOf(w *store.ProductWindow) productKey {
	return productKey{w.Granularity, w.Start.Unix(), w.ProductID, w.Currency}
}

// productCols are product_windows' columns, as upsertProducts writes them.
var productCols = []string{"granularity", "window_start", "product_id", "currency", "units", "orders", "revenue_minor", "customers"}

// upsertProducts adds a chunk's product rollup rows (store.ProductDeltas)
// in its transaction: it reads the rows already stored in the UTC days
// and the hours the chunk touches (a range scan of the key's
// (granularity, window_start) prefix per run of consecutive days, and per
// run of hours less than a day apart: the chunk's rows, and the other
// products' of those days and hours, skipped here), adds the chunk's
// counts and merges its customer sketches into them in Go, and writes the
// sums in one bulk upsert (the dialect's: COPY on PostgreSQL). Only the
// fold writes these rows, and one chunk at a time commits (the state
// row's chunk count), so nothing changes them between the read and the
// write.
func (s *Store) upsertProducts(ctx context.Context, tx DB, rows []store.ProductWindow) error {
	if len(rows) == 0 {
		return nil
	}
	const day = 24 * time.Hour
	byKey := make(map[productKey]int, len(rows))
	starts := map[store.Granularity]map[int64]bool{store.Hour: {}, store.Day: {}}
	for i := range rows {
		r := &rows[i]
		byKey[keyOf(r)] = i
		if m := starts[r.Granularity]; m != nil {
			m[r.Start.Unix()] = true
		}
	}
	// The stored rows the new ones add to: day rows of runs of
	// consecutive days, and hour rows of runs of hours less than a day
	// apart, so a fold of the last seconds reads the hour or two it
	// touched, not every hour of the day so far.
	for _, g := range []store.Granularity{store.Day, store.Hour} {
		step, gap := int64(day/time.Second), int64(0)
		if g == store.Hour {
			step, gap = int64(time.Hour/time.Second), int64(day/time.Second)
		}
		for _, sp := range spans(starts[g], step, gap) {
			from, to := time.Unix(sp[0], 0).UTC(), time.Unix(sp[1], 0).UTC()
			err := each(ctx, tx, `SELECT window_start, product_id, currency, units, orders, revenue_minor, customers FROM product_windows
				WHERE granularity = $1 AND window_start >= $2 AND window_start < $3`,
				[]any{string(g), from, to}, func(r Rows) error {
					k := productKey{g: g}
					var start time.Time
					var units, orders, revenue int64
					var sk []byte
					if err := r.Scan(&start, &k.product, &k.cur, &units, &orders, &revenue, &sk); err != nil {
						return err
					}
					k.start = start.Unix()
					i, ok := byKey[k]
					if !ok {
						return nil
					}
					w := &rows[i]
					merged, err := store.MergeEncoded(sk, w.Customers)
					if err != nil {
						return fmt.Errorf("product %s's customers of %s %s: %w", w.ProductID, w.Granularity, w.Start.UTC().Format(time.RFC3339), err)
					}
					w.Units += units
					w.Orders += orders
					w.RevenueMinor += revenue
					w.Customers = merged
					return nil
				})
			if err != nil {
				return fmt.Errorf("reading the product rollup's %s rows of %s to %s: %w", g, from.Format(time.RFC3339), to.Format(time.RFC3339), err)
			}
		}
	}
	vals := make([][]any, len(rows))
	for i := range rows {
		r := &rows[i]
		vals[i] = []any{string(r.Granularity), r.Start, r.ProductID, r.Currency, r.Units, r.Orders, r.RevenueMinor, r.Customers}
	}
	err := s.d.Upsert(ctx, tx, "product_windows", productCols, `ON CONFLICT (granularity, window_start, product_id, currency) DO UPDATE SET
		units = excluded.units, orders = excluded.orders, revenue_minor = excluded.revenue_minor, customers = excluded.customers`, vals)
	if err != nil {
		return fmt.Errorf("writing %d product rollup rows: %w", len(rows), err)
	}
	return nil
}

// productFoldCols are what the product fold reads of a transaction
// (AfterMark, in the order the analytics refresh reads them).
const productFoldCols = `transaction_id, customer_id, event_time, currency, CAST(items AS TEXT), kafka_offset`

// productFoldRead is what a chunk read of the state and the stored
// transactions.
type productFoldRead struct {
	chunks, transactions, imported int64
	marks                          map[int32]store.RowMark
}

func (s *Store) readProductFold(ctx context.Context) (productFoldRead, error) {
	var st productFoldRead
	err := s.d.DB().QueryRow(ctx, `SELECT chunks, transactions, imported FROM product_fold WHERE id = 1`).Scan(&st.chunks, &st.transactions, &st.imported)
	if err != nil {
		return st, fmt.Errorf("reading the product fold's state: %w", err)
	}
	st.marks = map[int32]store.RowMark{}
	err = each(ctx, s.d.DB(), `SELECT kafka_partition, kafka_offset, transaction_id FROM product_fold_marks`, nil, func(r Rows) error {
		var p int32
		var m store.RowMark
		if err := r.Scan(&p, &m.Offset, &m.TransactionID); err != nil {
			return err
		}
		st.marks[p] = m
		return nil
	})
	if err != nil {
		return st, fmt.Errorf("reading the product fold's cursor: %w", err)
	}
	return st, nil
}

// FoldProducts implements store.ProductFolder. The chunk is read outside
// any write transaction (the stream's batches keep the writer meanwhile);
// its rows and cursor are then written in one, which first checks, under
// the state row's lock, that no chunk was committed since the cursor was
// read.
func (s *Store) FoldProducts(ctx context.Context, o store.ProductFoldOptions) (store.ProductFoldChunk, error) {
	var out store.ProductFoldChunk
	if o.Limit < 1 {
		return out, fmt.Errorf("product fold: limit %d, want at least 1", o.Limit)
	}
	st, err := s.readProductFold(ctx)
	if err != nil {
		return out, err
	}
	parts, err := collect(ctx, s.d.DB(), partitionsQuery, nil, func(r Rows) (p int32, err error) { err = r.Scan(&p); return p, err })
	if err != nil {
		return out, fmt.Errorf("listing the stored partitions: %w", err)
	}
	var acc store.ProductAcc
	moved := map[int32]store.RowMark{}
	var importedRead int64
	q, qBounded := AfterMark(productFoldCols, s.q.Collate, false), AfterMark(productFoldCols, s.q.Collate, true)
	// Each partition gets its share of the chunk, so that a catch-up
	// moves through event time on all of them together: reading one
	// partition to its end before the next would add to every hour's
	// rows once per partition (each time a new row version).
	share := max(1, o.Limit/max(1, len(parts)))
	out.Done = true
	read, fedRaw := 0, 0 // fedRaw: taken from the feed unsummed
	for _, p := range parts {
		mark, ok := st.marks[p]
		if !ok {
			mark = store.RowMark{Offset: math.MinInt64}
		}
		want := min(share, o.Limit-read) // read back
		feedWant := math.MaxInt          // taken from the feed
		if o.FeedLimit > 0 {
			feedWant = o.FeedLimit - fedRaw
		}
		if want == 0 || feedWant <= 0 {
			out.Done = false
			continue
		}
		var tk store.ProductTake
		if o.Feed != nil && p >= 0 {
			tk = o.Feed.Take(p, mark, feedWant)
		}
		if !tk.Taken {
			query, args := q, []any{p, mark.Offset, mark.TransactionID, want}
			if tk.Bounded {
				query, args = qBounded, append(args, tk.Bound)
			}
			n := 0
			var t store.ProductTx
			err := s.inOrder(ctx, func(db DB) error {
				return each(ctx, db, query, args, func(r Rows) error {
					if err := r.Scan(&t.TransactionID, &t.CustomerID, &t.EventTime, &t.Currency, &t.ItemsJSON, &t.Offset); err != nil {
						return err
					}
					acc.Add(&t)
					n++
					return nil
				})
			})
			if err != nil {
				return out, fmt.Errorf("reading the transactions of partition %d after the product fold's cursor: %w", p, err)
			}
			read += n
			if n > 0 {
				mark = store.RowMark{Offset: t.Offset, TransactionID: t.TransactionID}
				moved[p] = mark
			}
			if p == -1 {
				importedRead = int64(n)
			}
			if n == want {
				out.Done = false
				continue
			}
			if !tk.Bounded {
				continue
			}
			// Every offset below the bound is folded, the ones after the
			// last stored transaction too; the feed's run follows on.
			if tk.Bound-1 > mark.Offset {
				mark = store.RowMark{Offset: tk.Bound - 1}
				moved[p] = mark
			}
			if tk = o.Feed.Take(p, mark, feedWant); !tk.Taken {
				out.Done = false
				continue
			}
		}
		if tk.Sum != nil {
			acc.Merge(tk.Sum)
		}
		for i := range tk.Txs {
			acc.Add(&tk.Txs[i])
		}
		out.Fed += tk.Summed + len(tk.Txs)
		fedRaw += len(tk.Txs)
		if tk.Through > mark.Offset {
			moved[p] = store.RowMark{Offset: tk.Through, TransactionID: tk.LastID}
		}
		if tk.More {
			out.Done = false
		}
	}
	out.Transactions = read + out.Fed
	// An import behind the cursor (imports share partition -1 and count
	// offsets per source) would never be read: counted when the fold
	// reaches the end, as the analytics refresh does.
	imported := st.imported + importedRead
	if out.Done {
		m, ok := moved[-1]
		if !ok {
			m, ok = st.marks[-1]
		}
		if ok {
			n, err := s.PurchasesThrough(ctx, -1, m)
			if err != nil {
				return out, err
			}
			if n > imported {
				out = store.ProductFoldChunk{Restarted: true}
			}
			imported = n
		}
	}
	var rows []store.ProductWindow
	if !out.Restarted {
		rows = acc.Rows()
		out.Rows = len(rows)
	}
	err = s.d.Tx(ctx, func(tx DB) error {
		var chunks int64
		if err := tx.QueryRow(ctx, `SELECT chunks FROM product_fold WHERE id = 1`+s.q.ForUpdate).Scan(&chunks); err != nil {
			return fmt.Errorf("locking the product fold's state: %w", err)
		}
		if chunks != st.chunks {
			return store.ErrFoldRace
		}
		if out.Restarted {
			for _, q := range []string{`DELETE FROM product_windows`, `DELETE FROM product_fold_marks`} {
				if _, err := tx.Exec(ctx, q); err != nil {
					return fmt.Errorf("emptying the product rollup: %w", err)
				}
			}
			_, err := tx.Exec(ctx, `UPDATE product_fold SET chunks = chunks + 1, transactions = 0, imported = 0, behind = $1 WHERE id = 1`, true)
			return err
		}
		if err := s.upsertProducts(ctx, tx, rows); err != nil {
			return err
		}
		for p, m := range moved {
			if _, err := tx.Exec(ctx, `INSERT INTO product_fold_marks (kafka_partition, kafka_offset, transaction_id) VALUES ($1, $2, $3)
				ON CONFLICT (kafka_partition) DO UPDATE SET kafka_offset = excluded.kafka_offset, transaction_id = excluded.transaction_id`,
				p, m.Offset, m.TransactionID); err != nil {
				return fmt.Errorf("moving the product fold's cursor: %w", err)
			}
		}
		if out.Done {
			_, err = tx.Exec(ctx, `UPDATE product_fold SET chunks = chunks + 1, transactions = transactions + $1, imported = $2, behind = $3, folded_until = $4 WHERE id = 1`,
				int64(out.Transactions), imported, false, o.Now)
		} else {
			_, err = tx.Exec(ctx, `UPDATE product_fold SET chunks = chunks + 1, transactions = transactions + $1, imported = $2, behind = $3 WHERE id = 1`,
				int64(out.Transactions), imported, true)
		}
		if err != nil {
			return fmt.Errorf("moving the product fold's state: %w", err)
		}
		if o.BeforeCommit != nil {
			return o.BeforeCommit()
		}
		return nil
	})
	if err != nil {
		return store.ProductFoldChunk{}, err
	}
	return out, nil
}

// ProductFoldState implements store.ProductRollups.
func (s *Store) ProductFoldState(ctx context.Context) (store.ProductFoldState, error) {
	var st store.ProductFoldState
	var until *time.Time
	err := s.d.DB().QueryRow(ctx, `SELECT folded_until, behind, transactions FROM product_fold WHERE id = 1`).Scan(&until, &st.Behind, &st.Transactions)
	if err != nil {
		return st, fmt.Errorf("reading the product fold's state: %w", err)
	}
	if until != nil {
		st.FoldedUntil = until.UTC()
	}
	return st, nil
}

// productRange is the condition on product_windows of [from, to) (hour
// starts), with its arguments from $1: the whole UTC days inside from the
// daily rows, the hours at its ends from the hourly ones. A range of whole
// days (the pages' ranges past two days) is one range of the
// (granularity, window_start) prefix of the key, where an OR of empty
// hour ranges beside it made PostgreSQL combine bitmaps. (On PostgreSQL
// the totals were an index-only scan of a covering index from migration
// 0031 to 0038, which dropped it so that the fold's updates stay in
// place: a day's rows now stay on the pages they were first written to.)
func productRange(from, to time.Time) (string, []any) {
	dayFrom, dayTo := store.RangeParts(from, to)
	if !dayTo.After(dayFrom) {
		return `granularity = 'hour' AND window_start >= $1 AND window_start < $2`, []any{from, to}
	}
	if dayFrom.Equal(from) && dayTo.Equal(to) {
		return `granularity = 'day' AND window_start >= $1 AND window_start < $2`, []any{from, to}
	}
	return `(granularity = 'day' AND window_start >= $1 AND window_start < $2
		OR granularity = 'hour' AND (window_start >= $3 AND window_start < $1 OR window_start >= $2 AND window_start < $4))`,
		[]any{dayFrom, dayTo, from, to}
}

// ProductTotals implements store.ProductRollups.
func (s *Store) ProductTotals(ctx context.Context, from, to time.Time) ([]store.ProductTotal, error) {
	cond, args := productRange(from, to)
	var out []store.ProductTotal
	err := each(ctx, s.d.DB(), `SELECT product_id, currency, SUM(units), SUM(orders), SUM(revenue_minor) FROM product_windows
		WHERE `+cond+` GROUP BY product_id, currency`, args, func(r Rows) error {
		var t store.ProductTotal
		if err := r.Scan(&t.ProductID, &t.Currency, &t.Units, &t.Orders, &t.RevenueMinor); err != nil {
			return err
		}
		out = append(out, t)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the product rollup: %w", err)
	}
	return out, nil
}

// ProductCustomers implements store.ProductRollups: the union of the
// products' sketches over the range.
func (s *Store) ProductCustomers(ctx context.Context, products []string, from, to time.Time) (map[string]int64, error) {
	out := map[string]int64{}
	if len(products) == 0 {
		return out, nil
	}
	cond, args := productRange(from, to)
	ph := make([]string, len(products))
	for i, p := range products {
		args = append(args, p)
		ph[i] = "$" + strconv.Itoa(len(args))
	}
	sk := map[string]*store.Sketch{}
	err := each(ctx, s.d.DB(), `SELECT product_id, customers FROM product_windows WHERE (`+cond+`) AND product_id IN (`+strings.Join(ph, ", ")+`)`,
		args, func(r Rows) error {
			var p string
			var enc []byte
			if err := r.Scan(&p, &enc); err != nil {
				return err
			}
			x := sk[p]
			if x == nil {
				x = new(store.Sketch)
				sk[p] = x
			}
			return x.Merge(enc)
		})
	if err != nil {
		return nil, fmt.Errorf("reading the products' customers: %w", err)
	}
	for p, x := range sk {
		out[p] = x.Estimate()
	}
	return out, nil
}

var (
	_ store.ProductRollups = (*Store)(nil)
	_ store.ProductFolder  = (*Store)(nil)
)

// spans returns the set's values (multiples of step) as [from, to) runs,
// a run going on while the next value is at most gap after its end.
func spans(set map[int64]bool, step, gap int64) [][2]int64 {
	sorted := make([]int64, 0, len(set))
	for v := range set {
		sorted = append(sorted, v)
	}
	slices.Sort(sorted)
	var out [][2]int64
	for _, v := range sorted {
		if n := len(out); n > 0 && v <= out[n-1][1]+gap {
			out[n-1][1] = v + step
			continue
		}
		out = append(out, [2]int64{v, v + step})
	}
	return out
}
