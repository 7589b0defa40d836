package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/shopstream/shopstream/internal/store"
)

const rollupCols = 9

// RollupUpserter is implemented by dialects with a faster bulk path for
// the rollups than upsertRollups' portable statement.
type RollupUpserter interface {
	// UpsertRollups adds rows to those of the writer's slot.
	UpsertRollups(ctx context.Context, tx DB, slot int32, rows []store.FraudRollup) error
}

// upsertRollups adds rollup deltas to the rows of the writer's slot
// (store.Batch.WriterSlot) in fraud_rollups, each key once (store.RollupFold), in
// key order: the dialect's bulk path, or one multi-row statement per 200
// rows.
func (s *Store) upsertRollups(ctx context.Context, tx DB, slot int32, rows []store.FraudRollup) error {
	rows = s.minuteRollups(rows)
	if u, ok := s.d.(RollupUpserter); ok {
		if len(rows) == 0 {
			return nil
		}
		if err := u.UpsertRollups(ctx, tx, slot, rows); err != nil {
			return fmt.Errorf("upserting %d fraud rollup rows: %w", len(rows), err)
		}
		return nil
	}
	return upsertRollups(ctx, tx, slot, rows)
}

// upsertRollups is the portable form of Store.upsertRollups.
func upsertRollups(ctx context.Context, tx DB, slot int32, rows []store.FraudRollup) error {
	const chunk = 200
	var b strings.Builder
	for lo := 0; lo < len(rows); lo += chunk {
		part := rows[lo:min(lo+chunk, len(rows))]
		b.Reset()
		b.WriteString(`INSERT INTO fraud_rollups (granularity, bucket_start, series, risk_bucket, truth, scenario, decision, analyst, n, slot) VALUES `)
		args := make([]any, 0, rollupCols*len(part)+1)
		args = append(args, slot)
		for i, r := range part {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(")
			for k := range rollupCols {
				b.WriteString("$" + strconv.Itoa(rollupCols*i+k+2) + ", ")
			}
			b.WriteString("$1)")
			args = append(args, string(r.Granularity), r.Start, r.Series, r.Bucket, r.Truth, r.Scenario, r.Decision, r.Analyst, r.N)
		}
		b.WriteString(` ON CONFLICT (granularity, bucket_start, series, risk_bucket, truth, scenario, decision, analyst, slot)
			DO UPDATE SET n = fraud_rollups.n + excluded.n`)
		if _, err := tx.Exec(ctx, b.String(), args...); err != nil {
			return fmt.Errorf("upserting %d fraud rollup rows: %w", len(part), err)
		}
	}
	return nil
}

// outcomeOf reads a stored transaction's outcome, with its generator
// label but without an analyst's verdict; ok is false when it is not
// stored.
func outcomeOf(ctx context.Context, tx DB, q Queries, transactionID string) (o store.Outcome, ok bool, err error) {
	var shadow *float64
	var fraud *bool
	var scenario *string
	err = tx.QueryRow(ctx, `SELECT t.event_time, t.risk, t.decision, t.shadow_risk, l.fraud, l.scenario
		FROM `+q.TxByID+` LEFT JOIN labels l ON l.transaction_id = t.transaction_id
		WHERE `+q.TxKey+` = $1`, transactionID).Scan(&o.EventTime, &o.Risk, &o.Decision, &shadow, &fraud, &scenario)
	if errors.Is(err, ErrNoRows) {
		return o, false, nil
	}
	if err != nil {
		return o, false, err
	}
	o.EventTime = o.EventTime.UTC()
	if shadow != nil {
		o.ShadowRisk, o.HasShadow = *shadow, true
	}
	if fraud != nil {
		o.Labelled, o.Fraud = true, *fraud
	}
	if scenario != nil {
		o.Scenario = *scenario
	}
	return o, true, nil
}

// relabelRollups moves a transaction's counts from the truth its alert's
// old status gave it to the one the new status gives.
func (s *Store) relabelRollups(ctx context.Context, tx DB, transactionID, oldStatus, newStatus string) error {
	if oldStatus == newStatus {
		return nil
	}
	o, ok, err := outcomeOf(ctx, tx, s.q, transactionID)
	if err != nil || !ok {
		return err
	}
	before, after := o, o
	store.ApplyAnalystLabel(&before, oldStatus)
	store.ApplyAnalystLabel(&after, newStatus)
	var f store.RollupFold
	f.Add(&before, -1)
	f.Add(&after, 1)
	// In the slot of no stream: the counts it moves may have been added
	// in any slot, so that slot's rows may go below zero; only their sum
	// over the slots is read.
	return s.upsertRollups(ctx, tx, store.SlotOther, f.Rows())
}

// FraudRollups implements store.RollupReader: whole hours from the hour
// rows, the edges of the window from the minute rows.
func (s *Store) FraudRollups(ctx context.Context, q store.RollupQuery) (*store.Rollups, error) {
	db := s.d.DB()
	out := &store.Rollups{Outcomes: []store.FraudRollup{}, Histograms: map[string]*store.Histogram{}}
	// The span is that of the minute rows; where retention deleted the
	// old minutes (--retain-rollups), it starts at the oldest hour row
	// that lies wholly before them, so that an open window still counts
	// every stored hour.
	edge := func(g store.Granularity, order string) (time.Time, bool, error) {
		var t time.Time
		err := db.QueryRow(ctx, `SELECT bucket_start FROM fraud_rollups WHERE granularity = $1 ORDER BY bucket_start `+order+` LIMIT 1`,
			string(g)).Scan(&t)
		if errors.Is(err, ErrNoRows) {
			return t, false, nil
		}
		return t, err == nil, err
	}
	oldest, ok, err := edge(store.Minute, "")
	var newest, oldestHour time.Time
	var hours bool
	if err == nil {
		oldestHour, hours, err = edge(store.Hour, "")
	}
	switch {
	case err != nil:
	case ok:
		newest, _, err = edge(store.Minute, "DESC")
		if hours && !oldestHour.Add(time.Hour).After(oldest) {
			oldest = oldestHour
		}
	case hours:
		// Every minute row is gone: the hours alone.
		oldest = oldestHour
		if newest, _, err = edge(store.Hour, "DESC"); err == nil {
			newest = newest.Add(time.Hour - time.Minute)
		}
	default:
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the span of the fraud rollups: %w", err)
	}
	out.Oldest, out.AsOf = oldest.UTC(), newest.UTC().Add(time.Minute)
	out.Since, out.Until = store.ResolveRollupWindow(q, out.Oldest, out.AsOf)
	// Each range is one range of the primary key, read on its own (an OR
	// of them makes SQLite scan the table).
	ranges := func(rs []store.RollupRange, cols, cond string) (string, []any) {
		if len(rs) == 0 {
			return `(SELECT ` + cols + ` FROM fraud_rollups WHERE 1 = 0) AS w`, nil
		}
		var b strings.Builder
		args := make([]any, 0, 3*len(rs))
		b.WriteString("(")
		for i, r := range rs {
			if i > 0 {
				b.WriteString(" UNION ALL ")
			}
			n := 3 * i
			fmt.Fprintf(&b, `SELECT %s FROM fraud_rollups WHERE granularity = $%d AND bucket_start >= $%d AND bucket_start < $%d AND %s`,
				cols, n+1, n+2, n+3, cond)
			args = append(args, string(r.Granularity), r.From, r.To)
		}
		b.WriteString(") AS w")
		return b.String(), args
	}
	if q.OutcomesFor != nil {
		q.OutcomesBy = q.OutcomesFor(out.Since, out.Until)
	}
	from, args := ranges(store.RollupRanges(out.Since, out.Until, out.Oldest, out.AsOf, q.OutcomesBy),
		"granularity, bucket_start, truth, scenario, decision, analyst, n", "series = '' AND n <> 0")
	// Summed over the writers' slots; a key whose counts an analyst's
	// verdict moved away (in another slot) sums to zero and is left out.
	err = each(ctx, db, `SELECT granularity, bucket_start, truth, scenario, decision, analyst, CAST(sum(n) AS BIGINT) FROM `+from+`
		GROUP BY granularity, bucket_start, truth, scenario, decision, analyst HAVING sum(n) <> 0
		ORDER BY bucket_start, granularity, truth, scenario, decision, analyst`, args,
		func(r Rows) error {
			row := store.FraudRollup{Bucket: -1}
			var g string
			if err := r.Scan(&g, &row.Start, &row.Truth, &row.Scenario, &row.Decision, &row.Analyst, &row.N); err != nil {
				return err
			}
			row.Granularity, row.Start = store.Granularity(g), row.Start.UTC()
			out.Outcomes = append(out.Outcomes, row)
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("reading fraud outcome rollups: %w", err)
	}
	// The histograms are summed over the window, so they come from the
	// coarsest rows whatever the outcomes asked for.
	from, args = ranges(store.RollupRanges(out.Since, out.Until, out.Oldest, out.AsOf, store.Day), "series, risk_bucket, truth, n", "series <> ''")
	err = each(ctx, db, `SELECT series, risk_bucket, truth, CAST(sum(n) AS BIGINT) FROM `+from+` GROUP BY series, risk_bucket, truth`, args,
		func(r Rows) error {
			var series, truth string
			var bucket int
			var n int64
			if err := r.Scan(&series, &bucket, &truth, &n); err != nil {
				return err
			}
			if bucket < 0 || bucket >= store.RiskBuckets {
				return fmt.Errorf("risk bucket %d of series %q out of range", bucket, series)
			}
			h := out.Histograms[series]
			if h == nil {
				h = &store.Histogram{}
				out.Histograms[series] = h
			}
			switch truth {
			case store.TruthFraud:
				h.Fraud[bucket] += n
			case store.TruthNone:
				h.None[bucket] += n
			default:
				h.Legit[bucket] += n
			}
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("reading fraud risk histograms: %w", err)
	}
	return out, nil
}
