package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/shopstream/shopstream/internal/store"
)

var _ store.Analytics = (*Store)(nil)

// usPerDay is a day in the stored unit, microseconds.
const usPerDay = 86_400_000_000

// PurchaseDays implements store.Analytics. Event times are Unix
// microseconds, so integer division gives the UTC day.
func (s *Store) PurchaseDays(ctx context.Context, until time.Time, fn func(*store.PurchaseDay) error) error {
	rows, err := s.db.QueryContext(ctx, `SELECT customer_id, event_time / ? AS day, count(*), sum(total_cents)
		FROM transactions WHERE event_time < ?
		GROUP BY customer_id, day ORDER BY customer_id, day`, usPerDay, us(until))
	if err != nil {
		return fmt.Errorf("reading purchase days: %w", err)
	}
	defer rows.Close()
	var d store.PurchaseDay
	for rows.Next() {
		var day int64
		if err := rows.Scan(&d.CustomerID, &day, &d.Orders, &d.AmountCents); err != nil {
			return fmt.Errorf("reading purchase days: %w", err)
		}
		d.Day = time.Unix(day*86400, 0).UTC()
		if err := fn(&d); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading purchase days: %w", err)
	}
	return nil
}

// CategorySpend implements store.Analytics with json_each over the items.
// Unit prices are rounded to cents before multiplying, so the sums are
// exact.
func (s *Store) CategorySpend(ctx context.Context, until time.Time, fn func(*store.CategorySpend) error) error {
	rows, err := s.db.QueryContext(ctx, `SELECT t.customer_id, coalesce(json_extract(e.value, '$.category'), '') AS category,
			sum(CAST(json_extract(e.value, '$.quantity') * round(json_extract(e.value, '$.unit_price') * 100) AS INTEGER))
		FROM transactions t, json_each(t.items) AS e
		WHERE t.event_time < ?
		GROUP BY t.customer_id, category ORDER BY t.customer_id, category`, us(until))
	if err != nil {
		return fmt.Errorf("reading category spend: %w", err)
	}
	defer rows.Close()
	var c store.CategorySpend
	for rows.Next() {
		if err := rows.Scan(&c.CustomerID, &c.Category, &c.Cents); err != nil {
			return fmt.Errorf("reading category spend: %w", err)
		}
		if err := fn(&c); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading category spend: %w", err)
	}
	return nil
}

// LatestPurchase implements store.Analytics.
func (s *Store) LatestPurchase(ctx context.Context) (time.Time, error) {
	var t sql.NullInt64
	if err := s.db.QueryRowContext(ctx, "SELECT max(last_seen) FROM customers").Scan(&t); err != nil {
		return time.Time{}, fmt.Errorf("reading latest purchase: %w", err)
	}
	if !t.Valid {
		return time.Time{}, nil
	}
	return fromUS(t.Int64), nil
}

// WriteCustomerAnalytics implements store.Analytics. Each chunk takes the
// writer mutex the way WriteBatch does, and lets go of it in between, so
// the stream's batches interleave with a long refresh.
func (s *Store) WriteCustomerAnalytics(ctx context.Context, rows []store.CustomerAnalytics) error {
	for lo := 0; lo < len(rows); lo += store.AnalyticsChunk {
		chunk := rows[lo:min(lo+store.AnalyticsChunk, len(rows))]
		if err := s.writeAnalyticsChunk(ctx, chunk); err != nil {
			return fmt.Errorf("writing analytics of %d customers: %w", len(chunk), err)
		}
	}
	return nil
}

func (s *Store) writeAnalyticsChunk(ctx context.Context, rows []store.CustomerAnalytics) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after commit
	st, err := tx.PrepareContext(ctx, `INSERT INTO customer_analytics (customer_id, recency_days, frequency_days, monetary_cents,
			r_score, f_score, m_score, segment, cluster, p_alive, expected_purchases, expected_aov, clv, clv_model_version, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (customer_id) DO UPDATE SET
			recency_days = excluded.recency_days, frequency_days = excluded.frequency_days, monetary_cents = excluded.monetary_cents,
			r_score = excluded.r_score, f_score = excluded.f_score, m_score = excluded.m_score, segment = excluded.segment,
			cluster = excluded.cluster, p_alive = excluded.p_alive, expected_purchases = excluded.expected_purchases,
			expected_aov = excluded.expected_aov, clv = excluded.clv, clv_model_version = excluded.clv_model_version,
			updated_at = excluded.updated_at`)
	if err != nil {
		return err
	}
	defer st.Close()
	for i := range rows {
		a := &rows[i]
		var cluster, ver sql.NullInt64
		var alive, purch, aov, clv sql.NullFloat64
		if a.Cluster != nil {
			cluster = sql.NullInt64{Int64: int64(*a.Cluster), Valid: true}
		}
		if c := a.CLV; c != nil {
			ver = sql.NullInt64{Int64: int64(c.ModelVersion), Valid: true}
			alive = sql.NullFloat64{Float64: c.ProbAlive, Valid: true}
			purch = sql.NullFloat64{Float64: c.ExpectedPurchases, Valid: true}
			aov = sql.NullFloat64{Float64: c.ExpectedAOV, Valid: true}
			clv = sql.NullFloat64{Float64: c.Value, Valid: true}
		}
		if _, err := st.ExecContext(ctx, a.CustomerID, a.RecencyDays, a.FrequencyDays, a.MonetaryCents, a.R, a.F, a.M, a.Segment,
			cluster, alive, purch, aov, clv, ver, us(a.UpdatedAt)); err != nil {
			return fmt.Errorf("customer %s: %w", a.CustomerID, err)
		}
	}
	return tx.Commit()
}

// ReplaceCohorts implements store.Analytics.
func (s *Store) ReplaceCohorts(ctx context.Context, cells []store.CohortCell, computedAt time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	err := func() error {
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback() //nolint:errcheck // a no-op after commit
		if _, err := tx.ExecContext(ctx, "DELETE FROM cohort_cells"); err != nil {
			return err
		}
		for _, c := range cells {
			if _, err := tx.ExecContext(ctx, `INSERT INTO cohort_cells (cohort_month, month_offset, cohort_size, active, revenue_cents, computed_at)
				VALUES (?, ?, ?, ?, ?, ?)`, us(c.Month), c.MonthOffset, c.Size, c.Active, c.RevenueCents, us(computedAt)); err != nil {
				return err
			}
		}
		return tx.Commit()
	}()
	if err != nil {
		return fmt.Errorf("replacing %d cohort cells: %w", len(cells), err)
	}
	return nil
}

// SaveModelVersion implements store.Analytics. The transaction takes
// SQLite's write lock at BEGIN (_txlock=immediate), so the next version
// number is consistent even across processes.
func (s *Store) SaveModelVersion(ctx context.Context, kind string, params, metrics []byte) (int, error) {
	if len(metrics) == 0 {
		metrics = []byte("{}")
	}
	if params == nil {
		params = []byte{}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var v int
	err := func() error {
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback() //nolint:errcheck // a no-op after commit
		if err := tx.QueryRowContext(ctx, "SELECT coalesce(max(version), 0) + 1 FROM models WHERE kind = ?", kind).Scan(&v); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "UPDATE models SET status = 'retired' WHERE kind = ? AND status = 'active'", kind); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO models (kind, version, status, params, metrics, created_at) VALUES (?, ?, 'active', ?, ?, ?)",
			kind, v, params, string(metrics), time.Now().UnixMicro()); err != nil {
			return err
		}
		return tx.Commit()
	}()
	if err != nil {
		return 0, fmt.Errorf("saving %s model: %w", kind, err)
	}
	return v, nil
}

// LatestModelVersion implements store.Analytics.
func (s *Store) LatestModelVersion(ctx context.Context, kind string) (*store.ModelVersion, error) {
	m := store.ModelVersion{Kind: kind}
	var metrics string
	var created int64
	err := s.db.QueryRowContext(ctx, `SELECT version, status, params, metrics, created_at FROM models
		WHERE kind = ? ORDER BY version DESC LIMIT 1`, kind).Scan(&m.Version, &m.Status, &m.Params, &metrics, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%s model: %w", kind, store.ErrNoModel)
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s model: %w", kind, err)
	}
	m.Metrics, m.CreatedAt = []byte(metrics), fromUS(created)
	return &m, nil
}

// anCols are the customer_analytics columns anRow reads.
const anCols = `a.customer_id, a.recency_days, a.frequency_days, a.monetary_cents, a.r_score, a.f_score, a.m_score, a.segment,
	a.cluster, a.p_alive, a.expected_purchases, a.expected_aov, a.clv, a.clv_model_version, a.updated_at`

// anRow receives anCols; every field may be NULL under a LEFT JOIN.
type anRow struct {
	id, seg                     sql.NullString
	rec, alive, purch, aov, clv sql.NullFloat64
	freq, mon, r, f, m, cl, ver sql.NullInt64
	upd                         sql.NullInt64
}

func (a *anRow) dest() []any {
	return []any{&a.id, &a.rec, &a.freq, &a.mon, &a.r, &a.f, &a.m, &a.seg, &a.cl, &a.alive, &a.purch, &a.aov, &a.clv, &a.ver, &a.upd}
}

// result converts the row, or returns nil when it was all NULL.
func (a *anRow) result() *store.CustomerAnalytics {
	if !a.id.Valid {
		return nil
	}
	out := &store.CustomerAnalytics{CustomerID: a.id.String, RecencyDays: a.rec.Float64, FrequencyDays: a.freq.Int64,
		MonetaryCents: a.mon.Int64, R: int(a.r.Int64), F: int(a.f.Int64), M: int(a.m.Int64), Segment: a.seg.String,
		UpdatedAt: fromUS(a.upd.Int64)}
	if a.cl.Valid {
		c := int(a.cl.Int64)
		out.Cluster = &c
	}
	if a.clv.Valid && a.alive.Valid && a.purch.Valid && a.aov.Valid && a.ver.Valid {
		out.CLV = &store.CLVFigures{ProbAlive: a.alive.Float64, ExpectedPurchases: a.purch.Float64, ExpectedAOV: a.aov.Float64,
			Value: a.clv.Float64, ModelVersion: int(a.ver.Int64)}
	}
	return out
}

// CustomerProfile implements store.Analytics.
func (s *Store) CustomerProfile(ctx context.Context, customerID string) (*store.CustomerProfile, error) {
	var p store.CustomerProfile
	var first, last int64
	var a anRow
	dest := append([]any{&p.CustomerID, &first, &last, &p.Orders, &p.RevenueCents}, a.dest()...)
	err := s.db.QueryRowContext(ctx, `SELECT c.customer_id, c.first_seen, c.last_seen, c.orders, c.revenue_cents, `+anCols+`
		FROM customers c LEFT JOIN customer_analytics a ON a.customer_id = c.customer_id WHERE c.customer_id = ?`, customerID).Scan(dest...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("customer %q: %w", customerID, store.ErrUnknownCustomer)
	}
	if err != nil {
		return nil, fmt.Errorf("reading customer %q: %w", customerID, err)
	}
	p.FirstSeen, p.LastSeen, p.Analytics = fromUS(first), fromUS(last), a.result()
	return &p, nil
}

// SegmentStats implements store.Analytics.
func (s *Store) SegmentStats(ctx context.Context) ([]store.SegmentStat, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT a.segment, count(*) AS n, coalesce(sum(c.revenue_cents), 0), avg(a.clv)
		FROM customer_analytics a LEFT JOIN customers c ON c.customer_id = a.customer_id
		GROUP BY a.segment ORDER BY n DESC, a.segment`)
	if err != nil {
		return nil, fmt.Errorf("reading segment stats: %w", err)
	}
	defer rows.Close()
	out := []store.SegmentStat{}
	for rows.Next() {
		var st store.SegmentStat
		var mean sql.NullFloat64
		if err := rows.Scan(&st.Segment, &st.Customers, &st.RevenueCents, &mean); err != nil {
			return nil, fmt.Errorf("reading segment stats: %w", err)
		}
		if mean.Valid {
			st.MeanCLV = &mean.Float64
		}
		out = append(out, st)
	}
	return out, rows.Err()
}

// TopCustomers implements store.Analytics.
func (s *Store) TopCustomers(ctx context.Context, limit int) ([]store.CustomerAnalytics, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+anCols+` FROM customer_analytics a WHERE a.clv IS NOT NULL
		ORDER BY a.clv DESC, a.customer_id LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("reading top customers: %w", err)
	}
	defer rows.Close()
	out := []store.CustomerAnalytics{}
	for rows.Next() {
		var a anRow
		if err := rows.Scan(a.dest()...); err != nil {
			return nil, fmt.Errorf("reading top customers: %w", err)
		}
		out = append(out, *a.result())
	}
	return out, rows.Err()
}

// Cohorts implements store.Analytics.
func (s *Store) Cohorts(ctx context.Context) ([]store.CohortCell, time.Time, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT cohort_month, month_offset, cohort_size, active, revenue_cents, computed_at
		FROM cohort_cells ORDER BY cohort_month, month_offset`)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("reading cohorts: %w", err)
	}
	defer rows.Close()
	out := []store.CohortCell{}
	var at time.Time
	for rows.Next() {
		var c store.CohortCell
		var month, computed int64
		if err := rows.Scan(&month, &c.MonthOffset, &c.Size, &c.Active, &c.RevenueCents, &computed); err != nil {
			return nil, time.Time{}, fmt.Errorf("reading cohorts: %w", err)
		}
		c.Month, at = fromUS(month), fromUS(computed)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, time.Time{}, fmt.Errorf("reading cohorts: %w", err)
	}
	return out, at, nil
}

// leaders holds the leader locks taken in this process, by database file
// and job name.
var leaders sync.Map

// TryLead implements store.Analytics. The embedded store serves one
// process, which is therefore always the leader; the lock only keeps two
// runs of one job in this process, on one database file, apart.
func (s *Store) TryLead(ctx context.Context, name string) (func(), bool, error) {
	var file string
	if err := s.db.QueryRowContext(ctx, "SELECT file FROM pragma_database_list WHERE name = 'main'").Scan(&file); err != nil {
		return nil, false, fmt.Errorf("leader lock %s: %w", name, err)
	}
	key := file + "\x00" + name
	if _, taken := leaders.LoadOrStore(key, struct{}{}); taken {
		return nil, false, nil
	}
	var once sync.Once
	return func() { once.Do(func() { leaders.Delete(key) }) }, true, nil
}
