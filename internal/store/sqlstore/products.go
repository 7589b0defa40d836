package sqlstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/shopstream/shopstream/internal/store"
)

const productCols = 8

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

// productValues appends a multi-row VALUES list of rows to b and their
// arguments to args.
func productValues(b *strings.Builder, slot int32, rows []store.ProductWindow) []any {
	args := make([]any, 0, productCols*len(rows))
	for i, r := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(")
		for k := range productCols {
			if k > 0 {
				b.WriteString(", ")
			}
			b.WriteString("$" + strconv.Itoa(productCols*i+k+1))
		}
		b.WriteString(", " + strconv.Itoa(int(slot)) + ")")
		args = append(args, string(r.Granularity), r.Start, r.ProductID, r.Currency, r.Units, r.Orders, r.RevenueMinor, r.Customers)
	}
	return args
}

// upsertProducts adds a batch's product rollup rows (store.ProductDeltas)
// in its transaction: rows new to the table are inserted as they are;
// those already stored (by an earlier batch, or one committed meanwhile)
// are read under lock, their counts added to and their customer sketches
// merged with the batch's. Rows go in key order, 200 a statement. They are
// the writer's slot's rows (store.Batch.WriterSlot), so concurrent writers
// lock none of each other's.
func (s *Store) upsertProducts(ctx context.Context, tx DB, slot int32, rows []store.ProductWindow) error {
	const chunk = 200
	var b strings.Builder
	stored := map[productKey]bool{}
	for _, r := range rows {
		stored[keyOf(&r)] = true
	}
	for lo := 0; lo < len(rows); lo += chunk {
		part := rows[lo:min(lo+chunk, len(rows))]
		b.Reset()
		b.WriteString(`INSERT INTO product_windows (granularity, window_start, product_id, currency, units, orders, revenue_minor, customers, slot) VALUES `)
		args := productValues(&b, slot, part)
		b.WriteString(` ON CONFLICT (granularity, window_start, product_id, currency, slot) DO NOTHING
			RETURNING granularity, window_start, product_id, currency`)
		err := each(ctx, tx, b.String(), args, func(r Rows) error {
			var g string
			var k productKey
			var start time.Time
			if err := r.Scan(&g, &start, &k.product, &k.cur); err != nil {
				return err
			}
			k.g, k.start = store.Granularity(g), start.Unix()
			delete(stored, k) // inserted: nothing to merge
			return nil
		})
		if err != nil {
			return fmt.Errorf("inserting %d product rollup rows: %w", len(part), err)
		}
	}
	if len(stored) == 0 {
		return nil
	}
	// The rows stored before: read and lock them, by product over the
	// batch's span (a superset, filtered here), then add to them.
	var rest []store.ProductWindow
	products := map[string]bool{}
	var first, last time.Time
	for _, r := range rows {
		if !stored[keyOf(&r)] {
			continue
		}
		rest = append(rest, r)
		products[r.ProductID] = true
		if first.IsZero() || r.Start.Before(first) {
			first = r.Start
		}
		if r.Start.After(last) {
			last = r.Start
		}
	}
	had := make(map[productKey][]byte, len(rest))
	ids := make([]string, 0, len(products))
	for p := range products {
		ids = append(ids, p)
	}
	for lo := 0; lo < len(ids); lo += 500 {
		part := ids[lo:min(lo+500, len(ids))]
		args := []any{first, last}
		ph := make([]string, len(part))
		for i, p := range part {
			args = append(args, p)
			ph[i] = "$" + strconv.Itoa(i+3)
		}
		err := each(ctx, tx, `SELECT granularity, window_start, product_id, currency, customers FROM product_windows
			WHERE granularity IN ('hour', 'day') AND window_start >= $1 AND window_start <= $2 AND slot = `+strconv.Itoa(int(slot))+` AND product_id IN (`+strings.Join(ph, ", ")+`)
			ORDER BY granularity, window_start, product_id, currency`+s.d.SQL().ForUpdate, args, func(r Rows) error {
			var g string
			var k productKey
			var start time.Time
			var sk []byte
			if err := r.Scan(&g, &start, &k.product, &k.cur, &sk); err != nil {
				return err
			}
			k.g, k.start = store.Granularity(g), start.Unix()
			if stored[k] {
				had[k] = sk
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("reading %d products' rollup rows: %w", len(part), err)
		}
	}
	for i := range rest {
		r := &rest[i]
		var sk store.Sketch
		if err := sk.Merge(had[keyOf(r)]); err != nil {
			return fmt.Errorf("product %s's customers of %s %s: %w", r.ProductID, r.Granularity, r.Start.UTC().Format(time.RFC3339), err)
		}
		if err := sk.Merge(r.Customers); err != nil {
			return err
		}
		r.Customers = sk.Encode()
	}
	for lo := 0; lo < len(rest); lo += chunk {
		part := rest[lo:min(lo+chunk, len(rest))]
		b.Reset()
		b.WriteString(`INSERT INTO product_windows (granularity, window_start, product_id, currency, units, orders, revenue_minor, customers, slot) VALUES `)
		args := productValues(&b, slot, part)
		b.WriteString(` ON CONFLICT (granularity, window_start, product_id, currency, slot) DO UPDATE SET
			units = product_windows.units + excluded.units, orders = product_windows.orders + excluded.orders,
			revenue_minor = product_windows.revenue_minor + excluded.revenue_minor, customers = excluded.customers`)
		if _, err := tx.Exec(ctx, b.String(), args...); err != nil {
			return fmt.Errorf("adding to %d product rollup rows: %w", len(part), err)
		}
	}
	return nil
}

// productRange is the condition on product_windows of [from, to) (hour
// starts), with its arguments from $1: the whole UTC days inside from the
// daily rows, the hours at its ends from the hourly ones.
func productRange(from, to time.Time) (string, []any) {
	dayFrom, dayTo := store.RangeParts(from, to)
	if !dayTo.After(dayFrom) {
		return `granularity = 'hour' AND window_start >= $1 AND window_start < $2`, []any{from, to}
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

var _ store.ProductRollups = (*Store)(nil)
