package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shopstream/shopstream/internal/store"
)

var _ store.Fraud = (*Store)(nil)

// fraudModelLock is the transaction-scoped advisory lock key that
// serialises changes to the fraud model versions.
const fraudModelLock = 0x73686f7066726d31

// partitions lists the partitions with stored offsets, the keys of the
// per-partition reads below.
func (s *Store) partitions(ctx context.Context) ([]int32, error) {
	rows, err := s.pool.Query(ctx, "SELECT DISTINCT partition FROM consumer_offsets ORDER BY partition")
	if err != nil {
		return nil, fmt.Errorf("listing partitions: %w", err)
	}
	ps, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return nil, fmt.Errorf("listing partitions: %w", err)
	}
	return ps, nil
}

func perPartition(n, parts int) int {
	if parts == 0 {
		return n
	}
	return (n + parts - 1) / parts
}

// TrainingSample implements store.Fraud: per partition, a backward walk of
// the offset index that stops at its share of n.
func (s *Store) TrainingSample(ctx context.Context, n int) ([][]float32, error) {
	if n <= 0 {
		return nil, nil
	}
	ps, err := s.partitions(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT x.features FROM unnest($1::int[]) AS c(p)
		CROSS JOIN LATERAL (SELECT t.features FROM transactions t
			WHERE t.kafka_partition = c.p AND t.features IS NOT NULL AND t.decision = 'approve' AND t.reasons::text = '[]'
			ORDER BY t.kafka_offset DESC LIMIT $2) x`, ps, perPartition(n, len(ps)))
	if err != nil {
		return nil, fmt.Errorf("reading the training sample: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[[]float32])
	if err != nil {
		return nil, fmt.Errorf("reading the training sample: %w", err)
	}
	if len(out) > n {
		out = out[:n]
	}
	return out, nil
}

// labelSQL is the truth of a transaction: an analyst's verdict on its
// alert wins over the generator's label.
const labelSQL = `CASE a.status WHEN 'confirmed_fraud' THEN true WHEN 'false_positive' THEN false ELSE l.fraud END`

// LabelledFeatures implements store.Fraud.
func (s *Store) LabelledFeatures(ctx context.Context, n int) ([]store.LabelledVector, error) {
	if n <= 0 {
		return nil, nil
	}
	ps, err := s.partitions(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT x.features, x.decision, x.fraud FROM unnest($1::int[]) AS c(p)
		CROSS JOIN LATERAL (SELECT t.features, t.decision, `+labelSQL+` AS fraud
			FROM transactions t
			LEFT JOIN labels l ON l.transaction_id = t.transaction_id
			LEFT JOIN alerts a ON a.transaction_id = t.transaction_id
			WHERE t.kafka_partition = c.p AND t.features IS NOT NULL
				AND (l.transaction_id IS NOT NULL OR a.status IN ('confirmed_fraud', 'false_positive'))
			ORDER BY t.kafka_offset DESC LIMIT $2) x`, ps, perPartition(n, len(ps)))
	if err != nil {
		return nil, fmt.Errorf("reading labelled feature vectors: %w", err)
	}
	defer rows.Close()
	var out []store.LabelledVector
	for rows.Next() {
		var v store.LabelledVector
		if err := rows.Scan(&v.Features, &v.Decision, &v.Fraud); err != nil {
			return nil, fmt.Errorf("reading labelled feature vectors: %w", err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading labelled feature vectors: %w", err)
	}
	if len(out) > n {
		out = out[:n]
	}
	return out, nil
}

// modelTx runs fn in a transaction holding the fraud model lock.
func (s *Store) modelTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(fraudModelLock)); err != nil {
			return fmt.Errorf("locking fraud models: %w", err)
		}
		return fn(tx)
	})
}

// SaveFraudModel implements store.Fraud.
func (s *Store) SaveFraudModel(ctx context.Context, m store.FraudModel) (int, error) {
	if m.Status != store.StatusActive && m.Status != store.StatusShadow {
		return 0, fmt.Errorf("saving fraud model: %w: a new version is active or shadow, not %q", store.ErrModelStatus, m.Status)
	}
	if len(m.Metrics) == 0 {
		m.Metrics = []byte("{}")
	}
	if m.Params == nil {
		m.Params = []byte{}
	}
	at := m.CreatedAt
	if at.IsZero() {
		at = time.Now()
	}
	var v int
	err := s.modelTx(ctx, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, "SELECT coalesce(max(version), 0) + 1 FROM models WHERE kind = $1", store.ModelFraud).Scan(&v); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE models SET status = 'retired', status_at = $3, note = $4
			WHERE kind = $1 AND status = $2`, store.ModelFraud, m.Status, at, fmt.Sprintf("replaced by version %d", v)); err != nil {
			return err
		}
		var activated *time.Time
		if m.Status == store.StatusActive {
			activated = &at
		}
		_, err := tx.Exec(ctx, `INSERT INTO models (kind, version, status, params, metrics, created_at, status_at, activated_at, note)
			VALUES ($1, $2, $3, $4, $5::json, $6, $6, $7, $8)`, store.ModelFraud, v, m.Status, m.Params, string(m.Metrics), at, activated, m.Note)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("saving fraud model: %w", err)
	}
	return v, nil
}

const modelCols = `version, status, metrics::text, created_at, status_at, activated_at, rolled_back, note`

func scanModel(row pgx.Row, extra ...any) (*store.FraudModel, error) {
	var m store.FraudModel
	var metrics string
	var statusAt *time.Time
	dest := append([]any{&m.Version, &m.Status, &metrics, &m.CreatedAt, &statusAt, &m.ActivatedAt, &m.RolledBack, &m.Note}, extra...)
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	m.Metrics, m.CreatedAt = []byte(metrics), m.CreatedAt.UTC()
	m.StatusAt = m.CreatedAt
	if statusAt != nil {
		m.StatusAt = statusAt.UTC()
	}
	if m.ActivatedAt != nil {
		t := m.ActivatedAt.UTC()
		m.ActivatedAt = &t
	}
	return &m, nil
}

// FraudModels implements store.Fraud.
func (s *Store) FraudModels(ctx context.Context) ([]store.FraudModel, error) {
	rows, err := s.pool.Query(ctx, "SELECT "+modelCols+" FROM models WHERE kind = $1 ORDER BY version DESC", store.ModelFraud)
	if err != nil {
		return nil, fmt.Errorf("listing fraud models: %w", err)
	}
	defer rows.Close()
	out := []store.FraudModel{}
	for rows.Next() {
		m, err := scanModel(rows)
		if err != nil {
			return nil, fmt.Errorf("listing fraud models: %w", err)
		}
		out = append(out, *m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing fraud models: %w", err)
	}
	return out, nil
}

// FraudModel implements store.Fraud.
func (s *Store) FraudModel(ctx context.Context, version int) (*store.FraudModel, error) {
	var params []byte
	m, err := scanModel(s.pool.QueryRow(ctx, "SELECT "+modelCols+", params FROM models WHERE kind = $1 AND version = $2",
		store.ModelFraud, version), &params)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("fraud model version %d: %w", version, store.ErrNoModel)
	}
	if err != nil {
		return nil, fmt.Errorf("reading fraud model version %d: %w", version, err)
	}
	m.Params = params
	return m, nil
}

// FraudModelsInUse implements store.Fraud.
func (s *Store) FraudModelsInUse(ctx context.Context) (active, shadow *store.FraudModel, err error) {
	rows, err := s.pool.Query(ctx, "SELECT "+modelCols+" FROM models WHERE kind = $1 AND status IN ('active', 'shadow')", store.ModelFraud)
	if err != nil {
		return nil, nil, fmt.Errorf("reading fraud models in use: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		m, err := scanModel(rows)
		if err != nil {
			return nil, nil, fmt.Errorf("reading fraud models in use: %w", err)
		}
		if m.Status == store.StatusActive {
			active = m
		} else {
			shadow = m
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("reading fraud models in use: %w", err)
	}
	return active, shadow, nil
}

// SetFraudModelStatus implements store.Fraud.
func (s *Store) SetFraudModelStatus(ctx context.Context, version int, status, note string, at time.Time) error {
	if status != store.StatusActive && status != store.StatusShadow && status != store.StatusRetired {
		return fmt.Errorf("fraud model version %d: %w: unknown status %q", version, store.ErrModelStatus, status)
	}
	err := s.modelTx(ctx, func(tx pgx.Tx) error {
		var cur string
		err := tx.QueryRow(ctx, "SELECT status FROM models WHERE kind = $1 AND version = $2", store.ModelFraud, version).Scan(&cur)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("version %d: %w", version, store.ErrNoModel)
		}
		if err != nil {
			return err
		}
		switch {
		case cur == status:
			return nil
		case cur == store.StatusActive && status == store.StatusShadow:
			return fmt.Errorf("%w: version %d is active; promote another version or roll back instead", store.ErrModelStatus, version)
		}
		if status != store.StatusRetired {
			if _, err := tx.Exec(ctx, `UPDATE models SET status = 'retired', status_at = $3, note = $4
				WHERE kind = $1 AND status = $2`, store.ModelFraud, status, at, fmt.Sprintf("replaced by version %d", version)); err != nil {
				return err
			}
		}
		_, err = tx.Exec(ctx, `UPDATE models SET status = $3, status_at = $4, note = $5,
				activated_at = CASE WHEN $3 = 'active' THEN $4 ELSE activated_at END,
				rolled_back = rolled_back AND $3 <> 'active'
			WHERE kind = $1 AND version = $2`, store.ModelFraud, version, status, at, note)
		return err
	})
	if err != nil {
		return fmt.Errorf("setting fraud model %d to %s: %w", version, status, err)
	}
	return nil
}

// RollbackFraudModel implements store.Fraud.
func (s *Store) RollbackFraudModel(ctx context.Context, at time.Time) (int, error) {
	var to int
	err := s.modelTx(ctx, func(tx pgx.Tx) error {
		var cur *int
		if err := tx.QueryRow(ctx, "SELECT max(version) FROM models WHERE kind = $1 AND status = 'active'", store.ModelFraud).Scan(&cur); err != nil {
			return err
		}
		err := tx.QueryRow(ctx, `SELECT version FROM models WHERE kind = $1 AND status <> 'active'
			AND activated_at IS NOT NULL AND NOT rolled_back ORDER BY activated_at DESC, version DESC LIMIT 1`, store.ModelFraud).Scan(&to)
		if errors.Is(err, pgx.ErrNoRows) {
			return store.ErrNoRollback
		}
		if err != nil {
			return err
		}
		from := "none"
		if cur != nil {
			from = fmt.Sprintf("version %d", *cur)
			if _, err := tx.Exec(ctx, `UPDATE models SET status = 'retired', status_at = $3, rolled_back = true, note = $4
				WHERE kind = $1 AND version = $2`, store.ModelFraud, *cur, at, fmt.Sprintf("rolled back to version %d", to)); err != nil {
				return err
			}
		}
		_, err = tx.Exec(ctx, `UPDATE models SET status = 'active', status_at = $3, activated_at = $3, note = $4
			WHERE kind = $1 AND version = $2`, store.ModelFraud, to, at, "re-activated by a rollback from "+from)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("rolling back the fraud model: %w", err)
	}
	return to, nil
}

const alertCols = `id, transaction_id, customer_id, event_time, amount_cents, risk, decision, reasons::text, status, created_at, labelled_at`

func scanAlert(row pgx.Row) (*store.AlertRecord, error) {
	var a store.AlertRecord
	var risk float32
	var reasons string
	if err := row.Scan(&a.ID, &a.TransactionID, &a.CustomerID, &a.EventTime, &a.AmountCents, &risk, &a.Decision, &reasons,
		&a.Status, &a.CreatedAt, &a.LabelledAt); err != nil {
		return nil, err
	}
	a.Risk, a.ReasonsJSON = float64(risk), []byte(reasons)
	a.EventTime, a.CreatedAt = a.EventTime.UTC(), a.CreatedAt.UTC()
	if a.LabelledAt != nil {
		t := a.LabelledAt.UTC()
		a.LabelledAt = &t
	}
	return &a, nil
}

// Alerts implements store.Fraud.
func (s *Store) Alerts(ctx context.Context, f store.AlertFilter) ([]store.AlertRecord, error) {
	if f.Limit <= 0 {
		f.Limit = 50
	}
	f.Limit = min(f.Limit, 1000)
	rows, err := s.pool.Query(ctx, `SELECT `+alertCols+` FROM alerts WHERE ($1 = '' OR status = $1) AND id > $2
		ORDER BY id DESC LIMIT $3`, f.Status, f.SinceID, f.Limit)
	if err != nil {
		return nil, fmt.Errorf("reading alerts: %w", err)
	}
	defer rows.Close()
	out := []store.AlertRecord{}
	for rows.Next() {
		a, err := scanAlert(rows)
		if err != nil {
			return nil, fmt.Errorf("reading alerts: %w", err)
		}
		out = append(out, *a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading alerts: %w", err)
	}
	return out, nil
}

// LabelAlert implements store.Fraud.
func (s *Store) LabelAlert(ctx context.Context, transactionID, status string, at time.Time) (*store.AlertRecord, error) {
	if !store.ValidAlertStatus(status) {
		return nil, fmt.Errorf("labelling alert %s: unknown status %q", transactionID, status)
	}
	a, err := scanAlert(s.pool.QueryRow(ctx, `UPDATE alerts SET status = $2, labelled_at = $3 WHERE transaction_id = $1
		RETURNING `+alertCols, transactionID, status, at))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("transaction %q: %w", transactionID, store.ErrUnknownAlert)
	}
	if err != nil {
		return nil, fmt.Errorf("labelling alert %s: %w", transactionID, err)
	}
	return a, nil
}

// FraudOutcomes implements store.Fraud.
func (s *Store) FraudOutcomes(ctx context.Context, q store.OutcomeQuery) (*store.Outcomes, error) {
	ps, err := s.partitions(ctx)
	if err != nil {
		return nil, err
	}
	out, err := store.CollectOutcomes(ctx, ps, q, s.outcomePage)
	if err != nil {
		return nil, fmt.Errorf("reading fraud outcomes: %w", err)
	}
	return out, nil
}

func (s *Store) outcomePage(ctx context.Context, partition int32, before int64, n int) ([]store.Outcome, error) {
	rows, err := s.pool.Query(ctx, `SELECT t.kafka_offset, t.event_time, t.stored_at, t.risk, t.decision, t.shadow_risk,
			l.fraud, l.scenario, a.status
		FROM transactions t
		LEFT JOIN labels l ON l.transaction_id = t.transaction_id
		LEFT JOIN alerts a ON a.transaction_id = t.transaction_id
		WHERE t.kafka_partition = $1 AND t.kafka_offset < $2
		ORDER BY t.kafka_offset DESC LIMIT $3`, partition, before, n)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make([]store.Outcome, 0, n)
	for rows.Next() {
		o := store.Outcome{Partition: partition}
		var risk float32
		var shadow *float32
		var fraud *bool
		var scenario, status *string
		if err := rows.Scan(&o.Offset, &o.EventTime, &o.StoredAt, &risk, &o.Decision, &shadow, &fraud, &scenario, &status); err != nil {
			return nil, err
		}
		o.EventTime, o.StoredAt, o.Risk = o.EventTime.UTC(), o.StoredAt.UTC(), float64(risk)
		if shadow != nil {
			o.ShadowRisk, o.HasShadow = float64(*shadow), true
		}
		if fraud != nil {
			o.Labelled, o.Fraud = true, *fraud
		}
		if scenario != nil {
			o.Scenario = *scenario
		}
		if status != nil {
			store.ApplyAnalystLabel(&o, *status)
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// CustomerHistory implements store.Fraud: two index range scans on
// (customer_id, event_time), merged.
func (s *Store) CustomerHistory(ctx context.Context, customerID, except string, until time.Time, limit int, fn func(*store.Tx) error) error {
	const cols = `transaction_id, event_time, total_cents, currency, payment_method, channel, card_bin, card_last4,
		device_id, ip_address, billing_country, shipping_country`
	rows, err := s.pool.Query(ctx, `SELECT `+cols+` FROM (
			(SELECT `+cols+` FROM transactions WHERE customer_id = $1 AND event_time <= $2 AND transaction_id <> $3
				ORDER BY event_time DESC LIMIT $4)
			UNION
			(SELECT `+cols+` FROM transactions WHERE customer_id = $1 AND event_time <= $2 AND transaction_id <> $3
				ORDER BY event_time LIMIT 1)
		) h ORDER BY event_time`, customerID, until, except, limit)
	if err != nil {
		return fmt.Errorf("reading history of customer %s: %w", customerID, err)
	}
	defer rows.Close()
	t := store.Tx{CustomerID: customerID}
	for rows.Next() {
		if err := rows.Scan(&t.TransactionID, &t.EventTime, &t.TotalCents, &t.Currency, &t.PaymentMethod, &t.Channel,
			&t.CardBIN, &t.CardLast4, &t.DeviceID, &t.IPAddress, &t.BillingCountry, &t.ShippingCountry); err != nil {
			return fmt.Errorf("reading history of customer %s: %w", customerID, err)
		}
		t.EventTime = t.EventTime.UTC()
		if err := fn(&t); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading history of customer %s: %w", customerID, err)
	}
	return nil
}
