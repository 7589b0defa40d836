package sqlite

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/shopstream/shopstream/internal/store"
)

var _ store.Fraud = (*Store)(nil)

// partitions lists the partitions with stored offsets, the keys of the
// per-partition reads below.
func (s *Store) partitions(ctx context.Context) ([]int32, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT DISTINCT partition FROM consumer_offsets ORDER BY partition")
	if err != nil {
		return nil, fmt.Errorf("listing partitions: %w", err)
	}
	defer rows.Close()
	var ps []int32
	for rows.Next() {
		var p int32
		if err := rows.Scan(&p); err != nil {
			return nil, fmt.Errorf("listing partitions: %w", err)
		}
		ps = append(ps, p)
	}
	return ps, rows.Err()
}

func perPartition(n, parts int) int {
	if parts == 0 {
		return n
	}
	return (n + parts - 1) / parts
}

// featuresOf decodes a features blob (little-endian float32s).
func featuresOf(b []byte) []float32 {
	if b == nil {
		return nil
	}
	f := make([]float32, len(b)/4)
	for i := range f {
		f[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return f
}

// eachPartition runs query once per partition with the partition and its
// share of n as the first two arguments, and scan on every row, until n
// rows were scanned.
func (s *Store) eachPartition(ctx context.Context, n int, query string, scan func(*sql.Rows) error) error {
	ps, err := s.partitions(ctx)
	if err != nil {
		return err
	}
	share, got := perPartition(n, len(ps)), 0
	for _, p := range ps {
		err := func() error {
			rows, err := s.db.QueryContext(ctx, query, p, share)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() && got < n {
				if err := scan(rows); err != nil {
					return err
				}
				got++
			}
			return rows.Err()
		}()
		if err != nil {
			return err
		}
	}
	return nil
}

// TrainingSample implements store.Fraud: per partition, a backward walk of
// the offset index that stops at its share of n.
func (s *Store) TrainingSample(ctx context.Context, n int) ([][]float32, error) {
	if n <= 0 {
		return nil, nil
	}
	var out [][]float32
	err := s.eachPartition(ctx, n, `SELECT features FROM transactions
		WHERE kafka_partition = ? AND features IS NOT NULL AND decision = 'approve' AND reasons = '[]'
		ORDER BY kafka_offset DESC LIMIT ?`, func(rows *sql.Rows) error {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return err
		}
		out = append(out, featuresOf(b))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the training sample: %w", err)
	}
	return out, nil
}

// labelSQL is the truth of a transaction: an analyst's verdict on its
// alert wins over the generator's label.
const labelSQL = `CASE a.status WHEN 'confirmed_fraud' THEN 1 WHEN 'false_positive' THEN 0 ELSE l.fraud END`

// LabelledFeatures implements store.Fraud.
func (s *Store) LabelledFeatures(ctx context.Context, n int) ([]store.LabelledVector, error) {
	if n <= 0 {
		return nil, nil
	}
	var out []store.LabelledVector
	err := s.eachPartition(ctx, n, `SELECT t.features, t.decision, `+labelSQL+`
		FROM transactions t
		LEFT JOIN labels l ON l.transaction_id = t.transaction_id
		LEFT JOIN alerts a ON a.transaction_id = t.transaction_id
		WHERE t.kafka_partition = ? AND t.features IS NOT NULL
			AND (l.transaction_id IS NOT NULL OR a.status IN ('confirmed_fraud', 'false_positive'))
		ORDER BY t.kafka_offset DESC LIMIT ?`, func(rows *sql.Rows) error {
		var b []byte
		var v store.LabelledVector
		if err := rows.Scan(&b, &v.Decision, &v.Fraud); err != nil {
			return err
		}
		v.Features = featuresOf(b)
		out = append(out, v)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading labelled feature vectors: %w", err)
	}
	return out, nil
}

// writeTx runs fn in a write transaction under the writer mutex.
func (s *Store) writeTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after commit
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
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
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, "SELECT coalesce(max(version), 0) + 1 FROM models WHERE kind = ?", store.ModelFraud).Scan(&v); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE models SET status = 'retired', status_at = ?, note = ? WHERE kind = ? AND status = ?`,
			us(at), fmt.Sprintf("replaced by version %d", v), store.ModelFraud, m.Status); err != nil {
			return err
		}
		var activated any
		if m.Status == store.StatusActive {
			activated = us(at)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO models (kind, version, status, params, metrics, created_at, status_at, activated_at, note)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, store.ModelFraud, v, m.Status, m.Params, string(m.Metrics), us(at), us(at), activated, m.Note)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("saving fraud model: %w", err)
	}
	return v, nil
}

const modelCols = `version, status, metrics, created_at, status_at, activated_at, rolled_back, note`

type scanner interface{ Scan(dest ...any) error }

func scanModel(row scanner, extra ...any) (*store.FraudModel, error) {
	var m store.FraudModel
	var metrics string
	var created int64
	var statusAt, activated sql.NullInt64
	dest := append([]any{&m.Version, &m.Status, &metrics, &created, &statusAt, &activated, &m.RolledBack, &m.Note}, extra...)
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	m.Metrics, m.CreatedAt, m.StatusAt = []byte(metrics), fromUS(created), fromUS(created)
	if statusAt.Valid {
		m.StatusAt = fromUS(statusAt.Int64)
	}
	if activated.Valid {
		t := fromUS(activated.Int64)
		m.ActivatedAt = &t
	}
	return &m, nil
}

// FraudModels implements store.Fraud.
func (s *Store) FraudModels(ctx context.Context) ([]store.FraudModel, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT "+modelCols+" FROM models WHERE kind = ? ORDER BY version DESC", store.ModelFraud)
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
	m, err := scanModel(s.db.QueryRowContext(ctx, "SELECT "+modelCols+", params FROM models WHERE kind = ? AND version = ?",
		store.ModelFraud, version), &params)
	if errors.Is(err, sql.ErrNoRows) {
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
	rows, err := s.db.QueryContext(ctx, "SELECT "+modelCols+" FROM models WHERE kind = ? AND status IN ('active', 'shadow')", store.ModelFraud)
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
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		var cur string
		err := tx.QueryRowContext(ctx, "SELECT status FROM models WHERE kind = ? AND version = ?", store.ModelFraud, version).Scan(&cur)
		if errors.Is(err, sql.ErrNoRows) {
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
			if _, err := tx.ExecContext(ctx, `UPDATE models SET status = 'retired', status_at = ?, note = ? WHERE kind = ? AND status = ?`,
				us(at), fmt.Sprintf("replaced by version %d", version), store.ModelFraud, status); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, `UPDATE models SET status = ?1, status_at = ?2, note = ?3,
				activated_at = CASE WHEN ?1 = 'active' THEN ?2 ELSE activated_at END,
				rolled_back = CASE WHEN ?1 = 'active' THEN 0 ELSE rolled_back END
			WHERE kind = ?4 AND version = ?5`, status, us(at), note, store.ModelFraud, version)
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
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		var cur sql.NullInt64
		if err := tx.QueryRowContext(ctx, "SELECT max(version) FROM models WHERE kind = ? AND status = 'active'", store.ModelFraud).Scan(&cur); err != nil {
			return err
		}
		err := tx.QueryRowContext(ctx, `SELECT version FROM models WHERE kind = ? AND status <> 'active'
			AND activated_at IS NOT NULL AND NOT rolled_back ORDER BY activated_at DESC, version DESC LIMIT 1`, store.ModelFraud).Scan(&to)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNoRollback
		}
		if err != nil {
			return err
		}
		from := "none"
		if cur.Valid {
			from = fmt.Sprintf("version %d", cur.Int64)
			if _, err := tx.ExecContext(ctx, `UPDATE models SET status = 'retired', status_at = ?, rolled_back = 1, note = ?
				WHERE kind = ? AND version = ?`, us(at), fmt.Sprintf("rolled back to version %d", to), store.ModelFraud, cur.Int64); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, `UPDATE models SET status = 'active', status_at = ?1, activated_at = ?1, note = ?2
			WHERE kind = ?3 AND version = ?4`, us(at), "re-activated by a rollback from "+from, store.ModelFraud, to)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("rolling back the fraud model: %w", err)
	}
	return to, nil
}

const alertCols = `id, transaction_id, customer_id, event_time, amount_cents, risk, decision, reasons, status, created_at, labelled_at`

func scanAlert(row scanner) (*store.AlertRecord, error) {
	var a store.AlertRecord
	var et, created int64
	var labelled sql.NullInt64
	var reasons string
	if err := row.Scan(&a.ID, &a.TransactionID, &a.CustomerID, &et, &a.AmountCents, &a.Risk, &a.Decision, &reasons,
		&a.Status, &created, &labelled); err != nil {
		return nil, err
	}
	a.EventTime, a.CreatedAt, a.ReasonsJSON = fromUS(et), fromUS(created), []byte(reasons)
	if labelled.Valid {
		t := fromUS(labelled.Int64)
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
	rows, err := s.db.QueryContext(ctx, `SELECT `+alertCols+` FROM alerts WHERE (?1 = '' OR status = ?1) AND id > ?2
		ORDER BY id DESC LIMIT ?3`, f.Status, f.SinceID, f.Limit)
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
	var a *store.AlertRecord
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		var err error
		a, err = scanAlert(tx.QueryRowContext(ctx, `UPDATE alerts SET status = ?, labelled_at = ? WHERE transaction_id = ?
			RETURNING `+alertCols, status, us(at), transactionID))
		return err
	})
	if errors.Is(err, sql.ErrNoRows) {
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
	rows, err := s.db.QueryContext(ctx, `SELECT t.kafka_offset, t.event_time, t.stored_at, t.risk, t.decision, t.shadow_risk,
			l.fraud, l.scenario, a.status
		FROM transactions t
		LEFT JOIN labels l ON l.transaction_id = t.transaction_id
		LEFT JOIN alerts a ON a.transaction_id = t.transaction_id
		WHERE t.kafka_partition = ? AND t.kafka_offset < ?
		ORDER BY t.kafka_offset DESC LIMIT ?`, partition, before, n)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make([]store.Outcome, 0, min(n, 1024))
	for rows.Next() {
		o := store.Outcome{Partition: partition}
		var et, stored int64
		var shadow sql.NullFloat64
		var fraud sql.NullBool
		var scenario, status sql.NullString
		if err := rows.Scan(&o.Offset, &et, &stored, &o.Risk, &o.Decision, &shadow, &fraud, &scenario, &status); err != nil {
			return nil, err
		}
		o.EventTime, o.StoredAt = fromUS(et), fromUS(stored)
		if shadow.Valid {
			o.ShadowRisk, o.HasShadow = shadow.Float64, true
		}
		if fraud.Valid {
			o.Labelled, o.Fraud = true, fraud.Bool
		}
		o.Scenario = scenario.String
		if status.Valid {
			store.ApplyAnalystLabel(&o, status.String)
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
	rows, err := s.db.QueryContext(ctx, `SELECT * FROM (SELECT `+cols+` FROM transactions
			WHERE customer_id = ?1 AND event_time <= ?2 AND transaction_id <> ?3 ORDER BY event_time DESC LIMIT ?4)
		UNION
		SELECT * FROM (SELECT `+cols+` FROM transactions
			WHERE customer_id = ?1 AND event_time <= ?2 AND transaction_id <> ?3 ORDER BY event_time LIMIT 1)
		ORDER BY event_time`, customerID, us(until), except, limit)
	if err != nil {
		return fmt.Errorf("reading history of customer %s: %w", customerID, err)
	}
	defer rows.Close()
	t := store.Tx{CustomerID: customerID}
	for rows.Next() {
		var et int64
		if err := rows.Scan(&t.TransactionID, &et, &t.TotalCents, &t.Currency, &t.PaymentMethod, &t.Channel,
			&t.CardBIN, &t.CardLast4, &t.DeviceID, &t.IPAddress, &t.BillingCountry, &t.ShippingCountry); err != nil {
			return fmt.Errorf("reading history of customer %s: %w", customerID, err)
		}
		t.EventTime = fromUS(et)
		if err := fn(&t); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading history of customer %s: %w", customerID, err)
	}
	return nil
}
