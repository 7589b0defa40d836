package sqlstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shopstream/shopstream/internal/store"
)

// PurchaseDays implements store.Analytics. The grouping runs in the
// database; rows stream to fn as they arrive.
func (s *Store) PurchaseDays(ctx context.Context, until time.Time, fn func(*store.PurchaseDay) error) error {
	var d store.PurchaseDay
	return stream(ctx, s.d.DB(), "purchase days", s.q.PurchaseDays, []any{until}, func(r Rows) error {
		err := r.Scan(&d.CustomerID, &d.Day, &d.Orders, &d.AmountCents)
		d.Day = d.Day.UTC()
		return err
	}, func() error { return fn(&d) })
}

// CategorySpend implements store.Analytics. The items JSON is taken apart
// here, in Go, not in SQL: both databases parse JSON text slowly (a
// hundred thousand customers took 2 s in PostgreSQL with
// json_array_elements and 5 s in SQLite with json_each, against 0.3 s and
// 1 s for reading the items as text in customer order), and the parsing
// then runs beside the query instead of inside it. A customer's rows are
// contiguous, so one customer's categories are summed at a time.
func (s *Store) CategorySpend(ctx context.Context, until time.Time, fn func(*store.CategorySpend) error) error {
	var (
		id, items, cur string
		sums           = map[string]int64{}
		parsed         []spendItem
	)
	emit := func() error {
		cats := make([]string, 0, len(sums))
		for c := range sums {
			cats = append(cats, c)
		}
		slices.Sort(cats) // byte order
		for _, c := range cats {
			if err := fn(&store.CategorySpend{CustomerID: cur, Category: c, Cents: sums[c]}); err != nil {
				return err
			}
		}
		clear(sums)
		return nil
	}
	err := stream(ctx, s.d.DB(), "category spend", `SELECT customer_id, CAST(items AS TEXT) FROM transactions
		WHERE event_time < $1 ORDER BY customer_id`+s.q.Collate, []any{until}, func(r Rows) error {
		return r.Scan(&id, &items)
	}, func() error {
		if id != cur && len(sums) > 0 {
			if err := emit(); err != nil {
				return err
			}
		}
		cur = id
		parsed = parsed[:0]
		if err := json.Unmarshal([]byte(items), &parsed); err != nil {
			return fmt.Errorf("category spend: parsing the items of a transaction of customer %s: %w", id, err)
		}
		for _, it := range parsed {
			c, err := lineCents(it.Quantity, it.UnitPrice)
			if err != nil {
				return fmt.Errorf("category spend: an item of customer %s: %w", id, err)
			}
			sums[it.Category] += c
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(sums) > 0 {
		return emit()
	}
	return nil
}

// spendItem is what CategorySpend reads of a stored item.
type spendItem struct {
	Category  string      `json:"category"`
	Quantity  int64       `json:"quantity"`
	UnitPrice json.Number `json:"unit_price"`
}

// lineCents is round(quantity × price × 100), price a JSON number read
// exactly from its decimal text and the product rounded half away from
// zero once, as PostgreSQL's numeric does (the stored unit_price has the
// currency's decimals: 3 for KWD, so 3 × 1.235 is 371, not 3 × 124).
func lineCents(quantity int64, price json.Number) (int64, error) {
	lit := string(price)
	neg := strings.HasPrefix(lit, "-")
	intPart, frac, _ := strings.Cut(strings.TrimPrefix(lit, "-"), ".")
	mant, err := strconv.ParseInt(intPart+frac, 10, 64)
	if err != nil || intPart == "" || strings.ContainsAny(intPart+frac, "+-eE") || len(frac) > 15 {
		// Not plain decimal text (an exponent, say): the float suffices.
		f, ferr := price.Float64()
		if ferr != nil {
			return 0, fmt.Errorf("unit price %q is not a number", lit)
		}
		return int64(math.Round(float64(quantity) * f * 100)), nil
	}
	if neg {
		mant = -mant
	}
	hi, lo := bits.Mul64(uint64(max(quantity, -quantity)), uint64(max(mant, -mant)))
	if hi != 0 || lo > math.MaxInt64 {
		return 0, fmt.Errorf("quantity %d × unit price %s overflows", quantity, lit)
	}
	v := int64(lo)
	if (quantity < 0) != (mant < 0) {
		v = -v
	}
	// v is quantity × price × 10^len(frac); cents are v × 10^(2−len(frac)).
	for range 2 - min(len(frac), 2) {
		if v > math.MaxInt64/10 || v < math.MinInt64/10 {
			return 0, fmt.Errorf("quantity %d × unit price %s overflows", quantity, lit)
		}
		v *= 10
	}
	if len(frac) > 2 {
		div := int64(1)
		for range len(frac) - 2 {
			div *= 10
		}
		q, r := v/div, v%div
		if 2*max(r, -r) >= div {
			if v < 0 {
				q--
			} else {
				q++
			}
		}
		v = q
	}
	return v, nil
}

// LatestPurchase implements store.Analytics from the customers table,
// which the stream keeps current and which is far smaller than
// transactions.
func (s *Store) LatestPurchase(ctx context.Context) (time.Time, error) {
	var t *time.Time
	if err := s.d.DB().QueryRow(ctx, "SELECT max(last_seen) FROM customers").Scan(&t); err != nil {
		return time.Time{}, fmt.Errorf("reading latest purchase: %w", err)
	}
	if t == nil {
		return time.Time{}, nil
	}
	return t.UTC(), nil
}

var anColumns = []string{"customer_id", "recency_days", "frequency_days", "monetary_cents", "r_score", "f_score", "m_score",
	"segment", "cluster", "p_alive", "expected_purchases", "expected_aov", "clv", "clv_model_version", "updated_at"}

const anConflict = `ON CONFLICT (customer_id) DO UPDATE SET
	recency_days = excluded.recency_days, frequency_days = excluded.frequency_days, monetary_cents = excluded.monetary_cents,
	r_score = excluded.r_score, f_score = excluded.f_score, m_score = excluded.m_score, segment = excluded.segment,
	cluster = excluded.cluster, p_alive = excluded.p_alive, expected_purchases = excluded.expected_purchases,
	expected_aov = excluded.expected_aov, clv = excluded.clv, clv_model_version = excluded.clv_model_version,
	updated_at = excluded.updated_at`

// WriteCustomerAnalytics implements store.Analytics: one bulk upsert per
// chunk, each its own transaction, so the stream's batches interleave with
// a long refresh.
func (s *Store) WriteCustomerAnalytics(ctx context.Context, rows []store.CustomerAnalytics) error {
	for lo := 0; lo < len(rows); lo += store.AnalyticsChunk {
		chunk := rows[lo:min(lo+store.AnalyticsChunk, len(rows))]
		vals := make([][]any, len(chunk))
		for i := range chunk {
			a := &chunk[i]
			var alive, purch, aov, clv *float64
			var ver *int
			if c := a.CLV; c != nil {
				alive, purch, aov, clv, ver = &c.ProbAlive, &c.ExpectedPurchases, &c.ExpectedAOV, &c.Value, &c.ModelVersion
			}
			vals[i] = []any{a.CustomerID, a.RecencyDays, a.FrequencyDays, a.MonetaryCents, a.R, a.F, a.M, a.Segment,
				a.Cluster, alive, purch, aov, clv, ver, a.UpdatedAt}
		}
		err := s.d.Tx(ctx, func(tx DB) error {
			return s.d.Upsert(ctx, tx, "customer_analytics", anColumns, anConflict, vals)
		})
		if err != nil {
			return fmt.Errorf("writing analytics of %d customers: %w", len(chunk), err)
		}
	}
	return nil
}

// ReplaceCohorts implements store.Analytics.
func (s *Store) ReplaceCohorts(ctx context.Context, cells []store.CohortCell, computedAt, asOf time.Time) error {
	rows := make([][]any, len(cells))
	for i, c := range cells {
		rows[i] = []any{c.Month, c.MonthOffset, c.Size, c.Active, c.RevenueCents, computedAt, asOf}
	}
	err := s.d.Tx(ctx, func(tx DB) error {
		if _, err := tx.Exec(ctx, "DELETE FROM cohort_cells"); err != nil {
			return err
		}
		if len(rows) == 0 {
			return nil
		}
		return s.d.Insert(ctx, tx, "cohort_cells", []string{"cohort_month", "month_offset", "cohort_size", "active", "revenue_cents", "computed_at", "as_of"}, rows)
	})
	if err != nil {
		return fmt.Errorf("replacing %d cohort cells: %w", len(cells), err)
	}
	return nil
}

// SaveModelVersion implements store.Analytics under the model lock, so the
// next version number is consistent across processes.
func (s *Store) SaveModelVersion(ctx context.Context, kind string, params, metrics []byte) (int, error) {
	if len(metrics) == 0 {
		metrics = []byte("{}")
	}
	if params == nil {
		params = []byte{}
	}
	var v int
	err := s.modelTx(ctx, func(tx DB) error {
		if err := tx.QueryRow(ctx, "SELECT coalesce(max(version), 0) + 1 FROM models WHERE kind = $1", kind).Scan(&v); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "UPDATE models SET status = 'retired' WHERE kind = $1 AND status = 'active'", kind); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "INSERT INTO models (kind, version, status, params, metrics, created_at) VALUES ($1, $2, 'active', $3, $4, $5)",
			kind, v, params, string(metrics), time.Now())
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("saving %s model: %w", kind, err)
	}
	return v, nil
}

// LatestModelVersion implements store.Analytics.
func (s *Store) LatestModelVersion(ctx context.Context, kind string) (*store.ModelVersion, error) {
	m := store.ModelVersion{Kind: kind}
	var metrics string
	err := s.d.DB().QueryRow(ctx, `SELECT version, status, params, CAST(metrics AS TEXT), created_at FROM models
		WHERE kind = $1 ORDER BY version DESC LIMIT 1`, kind).Scan(&m.Version, &m.Status, &m.Params, &metrics, &m.CreatedAt)
	if errors.Is(err, ErrNoRows) {
		return nil, fmt.Errorf("%s model: %w", kind, store.ErrNoModel)
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s model: %w", kind, err)
	}
	m.Metrics, m.CreatedAt = []byte(metrics), m.CreatedAt.UTC()
	return &m, nil
}

// anCols are the customer_analytics columns anRow reads.
const anCols = `a.customer_id, a.recency_days, a.frequency_days, a.monetary_cents, a.r_score, a.f_score, a.m_score, a.segment,
	a.cluster, a.p_alive, a.expected_purchases, a.expected_aov, a.clv, a.clv_model_version, a.updated_at`

// anRow receives anCols; every field may be NULL under a LEFT JOIN.
type anRow struct {
	id, seg                *string
	rec                    *float64
	freq, mon              *int64
	r, f, m, cluster, ver  *int
	alive, purch, aov, clv *float64
	upd                    *time.Time
}

func (a *anRow) dest() []any {
	return []any{&a.id, &a.rec, &a.freq, &a.mon, &a.r, &a.f, &a.m, &a.seg, &a.cluster, &a.alive, &a.purch, &a.aov, &a.clv, &a.ver, &a.upd}
}

// result converts the row, or returns nil when it was all NULL.
func (a *anRow) result() *store.CustomerAnalytics {
	if a.id == nil {
		return nil
	}
	out := &store.CustomerAnalytics{CustomerID: *a.id, RecencyDays: *a.rec, FrequencyDays: *a.freq, MonetaryCents: *a.mon,
		R: *a.r, F: *a.f, M: *a.m, Segment: *a.seg, Cluster: a.cluster, UpdatedAt: a.upd.UTC()}
	if a.clv != nil && a.alive != nil && a.purch != nil && a.aov != nil && a.ver != nil {
		out.CLV = &store.CLVFigures{ProbAlive: *a.alive, ExpectedPurchases: *a.purch, ExpectedAOV: *a.aov, Value: *a.clv, ModelVersion: *a.ver}
	}
	return out
}

// CustomerProfile implements store.Analytics.
func (s *Store) CustomerProfile(ctx context.Context, customerID string) (*store.CustomerProfile, error) {
	var p store.CustomerProfile
	var a anRow
	dest := append([]any{&p.CustomerID, &p.FirstSeen, &p.LastSeen, &p.Orders, &p.RevenueCents}, a.dest()...)
	err := s.d.DB().QueryRow(ctx, `SELECT c.customer_id, c.first_seen, c.last_seen, c.orders, c.revenue_cents, `+anCols+`
		FROM customers c LEFT JOIN customer_analytics a ON a.customer_id = c.customer_id WHERE c.customer_id = $1`, customerID).Scan(dest...)
	if errors.Is(err, ErrNoRows) {
		return nil, fmt.Errorf("customer %q: %w", customerID, store.ErrUnknownCustomer)
	}
	if err != nil {
		return nil, fmt.Errorf("reading customer %q: %w", customerID, err)
	}
	p.FirstSeen, p.LastSeen, p.Analytics = p.FirstSeen.UTC(), p.LastSeen.UTC(), a.result()
	return &p, nil
}

// SegmentStats implements store.Analytics.
func (s *Store) SegmentStats(ctx context.Context) ([]store.SegmentStat, error) {
	out, err := collect(ctx, s.d.DB(), `SELECT a.segment, count(*), CAST(coalesce(sum(c.revenue_cents), 0) AS BIGINT), avg(a.clv)
		FROM customer_analytics a LEFT JOIN customers c ON c.customer_id = a.customer_id
		GROUP BY a.segment ORDER BY 2 DESC, a.segment`+s.q.Collate, nil, func(r Rows) (st store.SegmentStat, err error) {
		err = r.Scan(&st.Segment, &st.Customers, &st.RevenueCents, &st.MeanCLV)
		return st, err
	})
	if err != nil {
		return nil, fmt.Errorf("reading segment stats: %w", err)
	}
	return out, nil
}

// ScoreCounts implements store.Analytics: three grouped counts over
// customer_analytics (the scores are not indexed: a scan, as SegmentStats)
// and the two ties, each a count at the column's minimum.
func (s *Store) ScoreCounts(ctx context.Context) (*store.ScoreCounts, error) {
	out := &store.ScoreCounts{}
	for _, d := range []struct {
		col string
		to  *[5]int64
	}{{"r_score", &out.R}, {"f_score", &out.F}, {"m_score", &out.M}} {
		err := each(ctx, s.d.DB(), `SELECT `+d.col+`, count(*) FROM customer_analytics GROUP BY 1`, nil, func(r Rows) error {
			var score, n int64
			if err := r.Scan(&score, &n); err != nil {
				return err
			}
			if score >= 1 && score <= 5 {
				d.to[score-1] = n
			}
			if d.col == "r_score" {
				out.Customers += n
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("counting the %s values: %w", d.col, err)
		}
	}
	for _, t := range []struct {
		col string
		to  *int64
	}{{"recency_days", &out.NewestDay}, {"frequency_days", &out.LeastFrequency}} {
		err := s.d.DB().QueryRow(ctx, `SELECT count(*) FROM customer_analytics WHERE `+t.col+` = (SELECT min(`+t.col+`) FROM customer_analytics)`).Scan(t.to)
		if err != nil {
			return nil, fmt.Errorf("counting the customers at the least %s: %w", t.col, err)
		}
	}
	return out, nil
}

// TopCustomers implements store.Analytics.
func (s *Store) TopCustomers(ctx context.Context, limit int) ([]store.CustomerAnalytics, error) {
	out, err := collect(ctx, s.d.DB(), `SELECT `+anCols+` FROM customer_analytics a WHERE a.clv IS NOT NULL
		ORDER BY a.clv DESC NULLS LAST, a.customer_id`+s.q.Collate+` LIMIT $1`, []any{limit}, func(r Rows) (store.CustomerAnalytics, error) {
		var a anRow
		if err := r.Scan(a.dest()...); err != nil {
			return store.CustomerAnalytics{}, err
		}
		return *a.result(), nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading top customers: %w", err)
	}
	return out, nil
}

// Customers implements store.Analytics: one range of an index by ID
// (within the segment's, when one is given; migration 0032), or, by CLV,
// of the index on clv (migration 0002), from the page's last CLV down.
func (s *Store) Customers(ctx context.Context, f store.CustomerListFilter) ([]store.CustomerAnalytics, error) {
	id := `a.customer_id` + s.q.Collate
	var conds []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if f.Segment != "" {
		conds = append(conds, `a.segment = `+arg(f.Segment))
	}
	if f.Prefix != "" {
		conds = append(conds, id+` >= `+arg(f.Prefix))
		if end, ok := store.PrefixEnd(f.Prefix); ok {
			conds = append(conds, id+` < `+arg(end))
		}
	}
	order := id
	switch {
	case f.ByCLV:
		// NULLS LAST as the index has it on PostgreSQL, so the order is
		// the index's; the rows without a CLV are not listed.
		order = `a.clv DESC NULLS LAST, ` + id
		conds = append(conds, `a.clv IS NOT NULL`)
		if f.After != "" {
			c := arg(f.AfterCLV)
			conds = append(conds, `a.clv <= `+c, `(a.clv < `+c+` OR `+id+` > `+arg(f.After)+`)`)
		}
	case f.After != "":
		conds = append(conds, id+` > `+arg(f.After))
	}
	where := ""
	if len(conds) > 0 {
		where = ` WHERE ` + strings.Join(conds, ` AND `)
	}
	out, err := collect(ctx, s.d.DB(), `SELECT `+anCols+` FROM customer_analytics a`+where+` ORDER BY `+order+` LIMIT `+arg(max(f.Limit, 1)),
		args, func(r Rows) (store.CustomerAnalytics, error) {
			var a anRow
			if err := r.Scan(a.dest()...); err != nil {
				return store.CustomerAnalytics{}, err
			}
			return *a.result(), nil
		})
	if err != nil {
		return nil, fmt.Errorf("listing customers: %w", err)
	}
	return out, nil
}

// Cohorts implements store.Analytics.
func (s *Store) Cohorts(ctx context.Context) ([]store.CohortCell, store.CohortTimes, error) {
	var at store.CohortTimes
	var asOf *time.Time
	out, err := collect(ctx, s.d.DB(), `SELECT cohort_month, month_offset, cohort_size, active, revenue_cents, computed_at, as_of
		FROM cohort_cells ORDER BY cohort_month, month_offset`, nil, func(r Rows) (c store.CohortCell, err error) {
		err = r.Scan(&c.Month, &c.MonthOffset, &c.Size, &c.Active, &c.RevenueCents, &at.ComputedAt, &asOf)
		c.Month, at.ComputedAt = c.Month.UTC(), at.ComputedAt.UTC()
		if asOf != nil {
			at.AsOf = asOf.UTC()
		}
		return c, err
	})
	if err != nil {
		return nil, store.CohortTimes{}, fmt.Errorf("reading cohorts: %w", err)
	}
	return out, at, nil
}

// CustomerSegments implements store.Analytics.
func (s *Store) CustomerSegments(ctx context.Context, fn func(customerID, segment string) error) error {
	var id, seg string
	return stream(ctx, s.d.DB(), "customer segments", `SELECT customer_id, segment FROM customer_analytics ORDER BY customer_id`+s.q.Collate,
		nil, func(r Rows) error { return r.Scan(&id, &seg) }, func() error { return fn(id, seg) })
}

// SaveSegmentMovement implements store.Analytics.
func (s *Store) SaveSegmentMovement(ctx context.Context, m store.SegmentMovement, keep int) (int64, error) {
	flows := m.Flows
	if flows == nil {
		flows = []store.SegmentFlow{}
	}
	js, err := json.Marshal(flows)
	if err != nil {
		return 0, fmt.Errorf("saving segment movement: %w", err)
	}
	var id int64
	err = s.d.Tx(ctx, func(tx DB) error {
		if err := tx.QueryRow(ctx, `INSERT INTO segment_movements (as_of, computed_at, previous_computed_at, flows)
			VALUES ($1, $2, $3, $4) RETURNING id`, m.AsOf, m.ComputedAt, m.PreviousComputedAt, string(js)).Scan(&id); err != nil {
			return err
		}
		// By the newest IDs kept, not by arithmetic on them: a sequence
		// leaves gaps.
		_, err := tx.Exec(ctx, `DELETE FROM segment_movements WHERE id NOT IN
			(SELECT id FROM segment_movements ORDER BY id DESC LIMIT $1)`, max(keep, 1))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("saving segment movement: %w", err)
	}
	return id, nil
}

// SegmentMovements implements store.Analytics.
func (s *Store) SegmentMovements(ctx context.Context, limit int) ([]store.SegmentMovement, error) {
	out, err := collect(ctx, s.d.DB(), `SELECT id, as_of, computed_at, previous_computed_at, flows FROM segment_movements
		ORDER BY id DESC LIMIT $1`, []any{max(limit, 0)}, func(r Rows) (m store.SegmentMovement, err error) {
		var flows string
		if err = r.Scan(&m.ID, &m.AsOf, &m.ComputedAt, &m.PreviousComputedAt, &flows); err != nil {
			return m, err
		}
		m.AsOf, m.ComputedAt = m.AsOf.UTC(), m.ComputedAt.UTC()
		if p := m.PreviousComputedAt; p != nil {
			u := p.UTC()
			m.PreviousComputedAt = &u
		}
		err = json.Unmarshal([]byte(flows), &m.Flows)
		return m, err
	})
	if err != nil {
		return nil, fmt.Errorf("reading segment movements: %w", err)
	}
	return out, nil
}

// CustomerTransactions implements store.Analytics. It walks the
// (customer_id, event_time) index backwards from the cursor's time; on
// PostgreSQL each day partition has it, merged newest first.
func (s *Store) CustomerTransactions(ctx context.Context, f store.CustomerTxFilter) ([]store.CustomerTx, error) {
	if f.Limit <= 0 {
		f.Limit = 50
	}
	f.Limit = min(f.Limit, 1000)
	args := []any{f.CustomerID}
	q := `SELECT transaction_id, event_time, total_cents, currency, channel, payment_method, CAST(items AS TEXT), risk, decision
		FROM transactions WHERE customer_id = $1`
	if c := f.Before; c != nil {
		args = append(args, c.EventTime.UTC(), c.TransactionID)
		// event_time <= $2 alone bounds the index walk (and, on
		// PostgreSQL, prunes the later day partitions); the OR breaks ties.
		q += ` AND event_time <= $2 AND (event_time < $2 OR transaction_id < $3)`
	}
	args = append(args, f.Limit)
	q += ` ORDER BY event_time DESC, transaction_id DESC LIMIT $` + strconv.Itoa(len(args))
	out, err := collect(ctx, s.d.DB(), q, args, func(r Rows) (t store.CustomerTx, err error) {
		var items string
		err = r.Scan(&t.TransactionID, &t.EventTime, &t.TotalCents, &t.Currency, &t.Channel, &t.PaymentMethod, &items, &t.Risk, &t.Decision)
		t.EventTime, t.ItemsJSON = t.EventTime.UTC(), []byte(items)
		return t, err
	})
	if err != nil {
		return nil, fmt.Errorf("reading the transactions of customer %q: %w", f.CustomerID, err)
	}
	return out, nil
}
