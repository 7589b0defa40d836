package sqlite

import (
	"context"
	"strconv"

	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/sqlstore"
)

// UpsertImportRollups implements sqlstore.ImportUpserter. The rows are
// grouped by every column but the bucket's start and the count, and each
// group is written by statements that carry its columns as literals and
// bind two values a row instead of nine: an import's rows fall in six
// groups (minute, hour and day of the outcome and the risk histogram of
// unlabelled approvals at risk 0), and binding a value through
// database/sql costs about as much as SQLite's storing it. Text a literal
// cannot carry exactly (NUL, invalid UTF-8) sends the call to
// UpsertRollups.
func (d *dialect) UpsertImportRollups(ctx context.Context, tx sqlstore.DB, rows []store.FraudRollup) error {
	type key struct {
		g                         store.Granularity
		series                    string
		bucket                    int
		truth, scenario, decision string
		analyst                   bool
	}
	groups, order := map[key][]int{}, []key(nil)
	for i := range rows {
		r := &rows[i]
		k := key{r.Granularity, r.Series, r.Bucket, r.Truth, r.Scenario, r.Decision, r.Analyst}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], i)
	}
	ones := make([]string, len(order))
	for gi, k := range order {
		var lit [5]string
		for i, s := range [5]string{string(k.g), k.series, k.truth, k.scenario, k.decision} {
			l, ok := textLiteral(s)
			if !ok {
				return d.UpsertRollups(ctx, tx, store.SlotOther, rows)
			}
			lit[i] = l
		}
		analyst := "0"
		if k.analyst {
			analyst = "1"
		}
		ones[gi] = "(" + lit[0] + ", ?, " + lit[1] + ", " + strconv.Itoa(k.bucket) + ", " + lit[2] + ", " + lit[3] + ", " + lit[4] + ", " + analyst + ", ?, " +
			strconv.Itoa(int(store.SlotOther)) + ")"
	}
	for gi, k := range order {
		idx := groups[k]
		err := insertTemplate(ctx, tx, `INSERT INTO fraud_rollups (granularity, bucket_start, series, risk_bucket, truth, scenario, decision, analyst, n, slot)`,
			ones[gi], 2, `ON CONFLICT (granularity, bucket_start, series, risk_bucket, truth, scenario, decision, analyst, slot) DO UPDATE SET n = n + excluded.n`,
			len(idx), func(args []any, i int) []any {
				r := &rows[idx[i]]
				return append(args, r.Start.UnixMicro(), r.N)
			})
		if err != nil {
			return err
		}
	}
	return nil
}

// UpsertImportWindows implements sqlstore.ImportUpserter: the windows
// grouped by granularity, channel, payment method and currency, each
// group's written as literals (see UpsertImportRollups), the start and
// the three sums bound.
func (d *dialect) UpsertImportWindows(ctx context.Context, tx sqlstore.DB, ws []store.WindowRow) error {
	type key struct{ g, ch, pm, cur string }
	groups, order := map[key][]int{}, []key(nil)
	for i := range ws {
		w := &ws[i]
		k := key{string(w.Granularity), w.Channel, w.PaymentMethod, w.Currency}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], i)
	}
	ones := make([]string, len(order))
	for gi, k := range order {
		lits := [4]string{}
		for i, s := range [4]string{k.g, k.ch, k.pm, k.cur} {
			lit, ok := textLiteral(s)
			if !ok {
				return d.UpsertWindows(ctx, tx, store.SlotOther, ws)
			}
			lits[i] = lit
		}
		ones[gi] = "(" + lits[0] + ", ?, " + lits[1] + ", " + lits[2] + ", " + lits[3] + ", ?, ?, ?, " + strconv.Itoa(int(store.SlotOther)) + ")"
	}
	for gi, k := range order {
		idx := groups[k]
		err := insertTemplate(ctx, tx, `INSERT INTO window_metrics (granularity, window_start, channel, payment_method, currency,
			tx_count, revenue_cents, alert_count, slot)`, ones[gi], 4, `ON CONFLICT (granularity, window_start, channel, payment_method, currency, slot) DO UPDATE SET
			tx_count = tx_count + excluded.tx_count,
			revenue_cents = revenue_cents + excluded.revenue_cents,
			alert_count = alert_count + excluded.alert_count`, len(idx), func(args []any, i int) []any {
			w := &ws[idx[i]]
			return append(args, w.Start.UnixMicro(), w.Count, w.RevenueCents, w.Alerts)
		})
		if err != nil {
			return err
		}
	}
	return nil
}
