package postgres

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/shopstream/shopstream/internal/store"
)

var _ store.Analytics = (*Store)(nil)

// PurchaseDays implements store.Analytics. The grouping runs in the
// server; rows stream to fn as they arrive.
func (s *Store) PurchaseDays(ctx context.Context, until time.Time, fn func(*store.PurchaseDay) error) error {
	rows, err := s.pool.Query(ctx, `SELECT customer_id, (event_time AT TIME ZONE 'UTC')::date AS day, count(*), sum(total_cents)::bigint
		FROM transactions WHERE event_time < $1
		GROUP BY customer_id, day ORDER BY customer_id COLLATE "C", day`, until)
	if err != nil {
		return fmt.Errorf("reading purchase days: %w", err)
	}
	defer rows.Close()
	var d store.PurchaseDay
	for rows.Next() {
		if err := rows.Scan(&d.CustomerID, &d.Day, &d.Orders, &d.AmountCents); err != nil {
			return fmt.Errorf("reading purchase days: %w", err)
		}
		d.Day = d.Day.UTC()
		if err := fn(&d); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading purchase days: %w", err)
	}
	return nil
}

// CategorySpend implements store.Analytics. Item prices are JSON numbers
// with two decimals, so numeric arithmetic gives exact cents.
func (s *Store) CategorySpend(ctx context.Context, until time.Time, fn func(*store.CategorySpend) error) error {
	rows, err := s.pool.Query(ctx, `SELECT t.customer_id, coalesce(e->>'category', '') AS category,
			sum(round((e->>'quantity')::numeric * (e->>'unit_price')::numeric * 100))::bigint
		FROM transactions t CROSS JOIN LATERAL json_array_elements(t.items) AS e
		WHERE t.event_time < $1
		GROUP BY t.customer_id, 2 ORDER BY t.customer_id COLLATE "C", coalesce(e->>'category', '') COLLATE "C"`, until)
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

// LatestPurchase implements store.Analytics from the customers table,
// which the stream keeps current and which is far smaller than
// transactions.
func (s *Store) LatestPurchase(ctx context.Context) (time.Time, error) {
	var t *time.Time
	if err := s.pool.QueryRow(ctx, "SELECT max(last_seen) FROM customers").Scan(&t); err != nil {
		return time.Time{}, fmt.Errorf("reading latest purchase: %w", err)
	}
	if t == nil {
		return time.Time{}, nil
	}
	return t.UTC(), nil
}

// WriteCustomerAnalytics implements store.Analytics: one INSERT ... SELECT
// unnest ... ON CONFLICT per chunk, each its own transaction.
func (s *Store) WriteCustomerAnalytics(ctx context.Context, rows []store.CustomerAnalytics) error {
	for lo := 0; lo < len(rows); lo += store.AnalyticsChunk {
		chunk := rows[lo:min(lo+store.AnalyticsChunk, len(rows))]
		n := len(chunk)
		var (
			id      = make([]string, n)
			rec     = make([]float64, n)
			freq    = make([]int64, n)
			mon     = make([]int64, n)
			r, f, m = make([]int16, n), make([]int16, n), make([]int16, n)
			seg     = make([]string, n)
			cluster = make([]*int32, n)
			alive   = make([]*float64, n)
			purch   = make([]*float64, n)
			aov     = make([]*float64, n)
			clv     = make([]*float64, n)
			ver     = make([]*int32, n)
			upd     = make([]time.Time, n)
		)
		for i := range chunk {
			a := &chunk[i]
			id[i], rec[i], freq[i], mon[i] = a.CustomerID, a.RecencyDays, a.FrequencyDays, a.MonetaryCents
			r[i], f[i], m[i], seg[i], upd[i] = int16(a.R), int16(a.F), int16(a.M), a.Segment, a.UpdatedAt
			if a.Cluster != nil {
				c := int32(*a.Cluster)
				cluster[i] = &c
			}
			if c := a.CLV; c != nil {
				v := int32(c.ModelVersion)
				alive[i], purch[i], aov[i], clv[i], ver[i] = &c.ProbAlive, &c.ExpectedPurchases, &c.ExpectedAOV, &c.Value, &v
			}
		}
		_, err := s.pool.Exec(ctx, `INSERT INTO customer_analytics AS a (customer_id, recency_days, frequency_days, monetary_cents,
				r_score, f_score, m_score, segment, cluster, p_alive, expected_purchases, expected_aov, clv, clv_model_version, updated_at)
			SELECT * FROM unnest($1::text[], $2::float8[], $3::int8[], $4::int8[], $5::int2[], $6::int2[], $7::int2[], $8::text[],
				$9::int4[], $10::float8[], $11::float8[], $12::float8[], $13::float8[], $14::int4[], $15::timestamptz[])
			ON CONFLICT (customer_id) DO UPDATE SET
				recency_days = excluded.recency_days, frequency_days = excluded.frequency_days, monetary_cents = excluded.monetary_cents,
				r_score = excluded.r_score, f_score = excluded.f_score, m_score = excluded.m_score, segment = excluded.segment,
				cluster = excluded.cluster, p_alive = excluded.p_alive, expected_purchases = excluded.expected_purchases,
				expected_aov = excluded.expected_aov, clv = excluded.clv, clv_model_version = excluded.clv_model_version,
				updated_at = excluded.updated_at`,
			id, rec, freq, mon, r, f, m, seg, cluster, alive, purch, aov, clv, ver, upd)
		if err != nil {
			return fmt.Errorf("writing analytics of %d customers: %w", n, err)
		}
	}
	return nil
}

// ReplaceCohorts implements store.Analytics.
func (s *Store) ReplaceCohorts(ctx context.Context, cells []store.CohortCell, computedAt time.Time) error {
	n := len(cells)
	month := make([]time.Time, n)
	off := make([]int32, n)
	size, active, rev := make([]int64, n), make([]int64, n), make([]int64, n)
	for i, c := range cells {
		month[i], off[i], size[i], active[i], rev[i] = c.Month, int32(c.MonthOffset), c.Size, c.Active, c.RevenueCents
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "DELETE FROM cohort_cells"); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO cohort_cells (cohort_month, month_offset, cohort_size, active, revenue_cents, computed_at)
			SELECT m, o, s, a, r, $6 FROM unnest($1::timestamptz[], $2::int4[], $3::int8[], $4::int8[], $5::int8[]) AS u(m, o, s, a, r)`,
			month, off, size, active, rev, computedAt)
		return err
	})
	if err != nil {
		return fmt.Errorf("replacing %d cohort cells: %w", n, err)
	}
	return nil
}

// SaveModelVersion implements store.Analytics. Two writers of one kind at
// once (which the leader lock prevents) would collide on (kind, version);
// the loser retries with the next number.
func (s *Store) SaveModelVersion(ctx context.Context, kind string, params, metrics []byte) (int, error) {
	if len(metrics) == 0 {
		metrics = []byte("{}")
	}
	for attempt := 0; ; attempt++ {
		var v int
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			if err := tx.QueryRow(ctx, `INSERT INTO models (kind, version, status, params, metrics)
				SELECT $1, coalesce(max(version), 0) + 1, 'active', $2, $3::json FROM models WHERE kind = $1
				RETURNING version`, kind, params, string(metrics)).Scan(&v); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "UPDATE models SET status = 'retired' WHERE kind = $1 AND version < $2 AND status = 'active'", kind, v)
			return err
		})
		var pgErr *pgconn.PgError
		if err != nil && errors.As(err, &pgErr) && pgErr.Code == "23505" && attempt < 3 {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("saving %s model: %w", kind, err)
		}
		return v, nil
	}
}

// LatestModelVersion implements store.Analytics.
func (s *Store) LatestModelVersion(ctx context.Context, kind string) (*store.ModelVersion, error) {
	m := store.ModelVersion{Kind: kind}
	var metrics string
	err := s.pool.QueryRow(ctx, `SELECT version, status, params, metrics::text, created_at FROM models
		WHERE kind = $1 ORDER BY version DESC LIMIT 1`, kind).Scan(&m.Version, &m.Status, &m.Params, &metrics, &m.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("%s model: %w", kind, store.ErrNoModel)
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s model: %w", kind, err)
	}
	m.Metrics, m.CreatedAt = []byte(metrics), m.CreatedAt.UTC()
	return &m, nil
}

// anCols are the customer_analytics columns anScan reads.
const anCols = `a.customer_id, a.recency_days, a.frequency_days, a.monetary_cents, a.r_score, a.f_score, a.m_score, a.segment,
	a.cluster, a.p_alive, a.expected_purchases, a.expected_aov, a.clv, a.clv_model_version, a.updated_at`

// anRow receives anCols; every field may be NULL under a LEFT JOIN.
type anRow struct {
	id                     *string
	rec                    *float64
	freq, mon              *int64
	r, f, m                *int16
	seg                    *string
	cluster, ver           *int32
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
		R: int(*a.r), F: int(*a.f), M: int(*a.m), Segment: *a.seg, UpdatedAt: a.upd.UTC()}
	if a.cluster != nil {
		c := int(*a.cluster)
		out.Cluster = &c
	}
	if a.clv != nil && a.alive != nil && a.purch != nil && a.aov != nil && a.ver != nil {
		out.CLV = &store.CLVFigures{ProbAlive: *a.alive, ExpectedPurchases: *a.purch, ExpectedAOV: *a.aov, Value: *a.clv, ModelVersion: int(*a.ver)}
	}
	return out
}

// CustomerProfile implements store.Analytics.
func (s *Store) CustomerProfile(ctx context.Context, customerID string) (*store.CustomerProfile, error) {
	var p store.CustomerProfile
	var a anRow
	dest := append([]any{&p.CustomerID, &p.FirstSeen, &p.LastSeen, &p.Orders, &p.RevenueCents}, a.dest()...)
	err := s.pool.QueryRow(ctx, `SELECT c.customer_id, c.first_seen, c.last_seen, c.orders, c.revenue_cents, `+anCols+`
		FROM customers c LEFT JOIN customer_analytics a ON a.customer_id = c.customer_id WHERE c.customer_id = $1`, customerID).Scan(dest...)
	if errors.Is(err, pgx.ErrNoRows) {
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
	rows, err := s.pool.Query(ctx, `SELECT a.segment, count(*), coalesce(sum(c.revenue_cents), 0)::bigint, avg(a.clv)
		FROM customer_analytics a LEFT JOIN customers c ON c.customer_id = a.customer_id
		GROUP BY a.segment ORDER BY count(*) DESC, a.segment COLLATE "C"`)
	if err != nil {
		return nil, fmt.Errorf("reading segment stats: %w", err)
	}
	defer rows.Close()
	out := []store.SegmentStat{}
	for rows.Next() {
		var st store.SegmentStat
		if err := rows.Scan(&st.Segment, &st.Customers, &st.RevenueCents, &st.MeanCLV); err != nil {
			return nil, fmt.Errorf("reading segment stats: %w", err)
		}
		out = append(out, st)
	}
	return out, rows.Err()
}

// TopCustomers implements store.Analytics.
func (s *Store) TopCustomers(ctx context.Context, limit int) ([]store.CustomerAnalytics, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+anCols+` FROM customer_analytics a WHERE a.clv IS NOT NULL
		ORDER BY a.clv DESC NULLS LAST, a.customer_id COLLATE "C" LIMIT $1`, limit)
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
	rows, err := s.pool.Query(ctx, `SELECT cohort_month, month_offset, cohort_size, active, revenue_cents, computed_at
		FROM cohort_cells ORDER BY cohort_month, month_offset`)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("reading cohorts: %w", err)
	}
	defer rows.Close()
	out := []store.CohortCell{}
	var at time.Time
	for rows.Next() {
		var c store.CohortCell
		if err := rows.Scan(&c.Month, &c.MonthOffset, &c.Size, &c.Active, &c.RevenueCents, &at); err != nil {
			return nil, time.Time{}, fmt.Errorf("reading cohorts: %w", err)
		}
		c.Month = c.Month.UTC()
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, time.Time{}, fmt.Errorf("reading cohorts: %w", err)
	}
	if !at.IsZero() {
		at = at.UTC()
	}
	return out, at, nil
}

// leaderKey is the advisory lock key of a leader lock: FNV-1a of the name,
// in a namespace of its own.
func leaderKey(name string) int64 {
	h := fnv.New64a()
	h.Write([]byte("shopstream/leader/" + name))
	return int64(h.Sum64())
}

// TryLead implements store.Analytics with a session-level advisory lock
// held on a connection taken out of the pool for as long as the caller
// leads. If that connection dies the server releases the lock, and another
// instance may start while this one finishes; the job's writes are
// idempotent upserts, so the overlap costs work, not correctness.
func (s *Store) TryLead(ctx context.Context, name string) (func(), bool, error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("leader lock %s: %w", name, err)
	}
	key := leaderKey(name)
	var ok bool
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", key).Scan(&ok); err != nil {
		conn.Release()
		return nil, false, fmt.Errorf("leader lock %s: %w", name, err)
	}
	if !ok {
		conn.Release()
		return nil, false, nil
	}
	var once sync.Once
	release := func() {
		once.Do(func() {
			uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			var unlocked bool
			if err := conn.QueryRow(uctx, "SELECT pg_advisory_unlock($1)", key).Scan(&unlocked); err != nil || !unlocked {
				// Ending the session releases whatever it holds.
				conn.Hijack().Close(uctx) //nolint:errcheck // the session ends either way
				return
			}
			conn.Release()
		})
	}
	return release, true, nil
}
