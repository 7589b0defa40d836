package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/shopstream/shopstream/internal/store"
)

// partitions lists the partitions with stored offsets, the keys of the
// per-partition reads below.
func (s *Store) partitions(ctx context.Context) ([]int32, error) {
	ps, err := collect(ctx, s.d.DB(), "SELECT DISTINCT partition FROM consumer_offsets ORDER BY partition", nil,
		func(r Rows) (p int32, err error) { err = r.Scan(&p); return p, err })
	if err != nil {
		return nil, fmt.Errorf("listing partitions: %w", err)
	}
	return ps, nil
}

// eachPartition runs query once per partition with the partition and its
// share of n as $1 and $2, a backward walk of the offset index that stops
// at the share, and calls scan on every row until n rows were scanned.
func (s *Store) eachPartition(ctx context.Context, n int, query string, scan func(Rows) error) error {
	ps, err := s.partitions(ctx)
	if err != nil {
		return err
	}
	share := n
	if len(ps) > 0 {
		share = (n + len(ps) - 1) / len(ps)
	}
	left := n
	for _, p := range ps {
		if left <= 0 {
			break
		}
		err := s.inOrder(ctx, func(db DB) error {
			return each(ctx, db, query, []any{p, min(share, left)}, func(r Rows) error {
				left--
				return scan(r)
			})
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// TrainingSampleSQL and LabelledFeaturesSQL read a partition's ($1)
// latest transactions with a feature vector, at most $2: the approved ones
// without a reason (the fraud model's training sample), and every one with
// its decision and truth. Both walk the index of the rows with a vector
// (transactions_features_idx, migration 0042) backward.
const (
	TrainingSampleSQL = `SELECT features FROM transactions
		WHERE kafka_partition = $1 AND features IS NOT NULL AND decision = 'approve' AND CAST(reasons AS TEXT) = '[]'
		ORDER BY kafka_offset DESC LIMIT $2`
	LabelledFeaturesSQL = `SELECT t.features, t.decision, coalesce(` + labelSQL + `, false)
		FROM transactions t
		LEFT JOIN labels l ON l.transaction_id = t.transaction_id
		LEFT JOIN alerts a ON a.transaction_id = t.transaction_id
		WHERE t.kafka_partition = $1 AND t.features IS NOT NULL
		ORDER BY t.kafka_offset DESC LIMIT $2`
)

// TrainingSample implements store.Fraud.
func (s *Store) TrainingSample(ctx context.Context, n int) ([][]float32, error) {
	if n <= 0 {
		return nil, nil
	}
	var out [][]float32
	err := s.eachPartition(ctx, n, TrainingSampleSQL, func(r Rows) error {
		var f []float32
		if err := r.Scan(&f); err != nil {
			return err
		}
		out = append(out, f)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the training sample: %w", err)
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
	var out []store.LabelledVector
	// A transaction with no label is presumed legitimate: labels exist
	// only where fraud was reported or a verdict given (migration 0018).
	err := s.eachPartition(ctx, n, LabelledFeaturesSQL, func(r Rows) error {
		var v store.LabelledVector
		if err := r.Scan(&v.Features, &v.Decision, &v.Fraud); err != nil {
			return err
		}
		out = append(out, v)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading labelled feature vectors: %w", err)
	}
	return out, nil
}

// modelTx runs fn in a transaction holding the model lock.
func (s *Store) modelTx(ctx context.Context, fn func(tx DB) error) error {
	return s.d.Tx(ctx, func(tx DB) error {
		if err := s.d.LockModels(ctx, tx); err != nil {
			return fmt.Errorf("locking models: %w", err)
		}
		return fn(tx)
	})
}

// retire retires the fraud model version that holds status, if any.
func retire(ctx context.Context, tx DB, status string, at time.Time, note string) error {
	_, err := tx.Exec(ctx, `UPDATE models SET status = 'retired', status_at = $1, note = $2 WHERE kind = $3 AND status = $4`,
		at, note, store.ModelFraud, status)
	return err
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
	err := s.modelTx(ctx, func(tx DB) error {
		if err := tx.QueryRow(ctx, "SELECT coalesce(max(version), 0) + 1 FROM models WHERE kind = $1", store.ModelFraud).Scan(&v); err != nil {
			return err
		}
		if err := retire(ctx, tx, m.Status, at, fmt.Sprintf("replaced by version %d", v)); err != nil {
			return err
		}
		var activated *time.Time
		if m.Status == store.StatusActive {
			activated = &at
		}
		_, err := tx.Exec(ctx, `INSERT INTO models (kind, version, status, params, metrics, created_at, status_at, activated_at, note)
			VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8)`, store.ModelFraud, v, m.Status, m.Params, string(m.Metrics), at, activated, m.Note)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("saving fraud model: %w", err)
	}
	return v, nil
}

const modelCols = `version, status, CAST(metrics AS TEXT), created_at, status_at, activated_at, rolled_back, note`

func scanModel(row Row, extra ...any) (*store.FraudModel, error) {
	var m store.FraudModel
	var metrics string
	var statusAt *time.Time
	dest := append([]any{&m.Version, &m.Status, &metrics, &m.CreatedAt, &statusAt, &m.ActivatedAt, &m.RolledBack, &m.Note}, extra...)
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	m.Metrics, m.CreatedAt, m.ActivatedAt = []byte(metrics), m.CreatedAt.UTC(), utcp(m.ActivatedAt)
	m.StatusAt = m.CreatedAt
	if statusAt != nil {
		m.StatusAt = statusAt.UTC()
	}
	return &m, nil
}

func scanModels(r Rows) (store.FraudModel, error) {
	m, err := scanModel(r)
	if err != nil {
		return store.FraudModel{}, err
	}
	return *m, nil
}

// FraudModels implements store.Fraud.
func (s *Store) FraudModels(ctx context.Context) ([]store.FraudModel, error) {
	out, err := collect(ctx, s.d.DB(), "SELECT "+modelCols+" FROM models WHERE kind = $1 ORDER BY version DESC",
		[]any{store.ModelFraud}, scanModels)
	if err != nil {
		return nil, fmt.Errorf("listing fraud models: %w", err)
	}
	return out, nil
}

// FraudModel implements store.Fraud.
func (s *Store) FraudModel(ctx context.Context, version int) (*store.FraudModel, error) {
	var params []byte
	m, err := scanModel(s.d.DB().QueryRow(ctx, "SELECT "+modelCols+", params FROM models WHERE kind = $1 AND version = $2",
		store.ModelFraud, version), &params)
	if errors.Is(err, ErrNoRows) {
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
	ms, err := collect(ctx, s.d.DB(), "SELECT "+modelCols+" FROM models WHERE kind = $1 AND status IN ('active', 'shadow')",
		[]any{store.ModelFraud}, scanModels)
	if err != nil {
		return nil, nil, fmt.Errorf("reading fraud models in use: %w", err)
	}
	for i := range ms {
		if ms[i].Status == store.StatusActive {
			active = &ms[i]
		} else {
			shadow = &ms[i]
		}
	}
	return active, shadow, nil
}

// SetFraudModelStatus implements store.Fraud.
func (s *Store) SetFraudModelStatus(ctx context.Context, version int, status, note string, at time.Time) error {
	if status != store.StatusActive && status != store.StatusShadow && status != store.StatusRetired {
		return fmt.Errorf("fraud model version %d: %w: unknown status %q", version, store.ErrModelStatus, status)
	}
	err := s.modelTx(ctx, func(tx DB) error {
		var cur string
		err := tx.QueryRow(ctx, "SELECT status FROM models WHERE kind = $1 AND version = $2", store.ModelFraud, version).Scan(&cur)
		if errors.Is(err, ErrNoRows) {
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
			if err := retire(ctx, tx, status, at, fmt.Sprintf("replaced by version %d", version)); err != nil {
				return err
			}
		}
		activated := status == store.StatusActive
		_, err = tx.Exec(ctx, `UPDATE models SET status = $1, status_at = $2, note = $3,
				activated_at = CASE WHEN $4 THEN $2 ELSE activated_at END,
				rolled_back = rolled_back AND NOT $4
			WHERE kind = $5 AND version = $6`, status, at, note, activated, store.ModelFraud, version)
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
	err := s.modelTx(ctx, func(tx DB) error {
		var cur *int
		if err := tx.QueryRow(ctx, "SELECT max(version) FROM models WHERE kind = $1 AND status = 'active'", store.ModelFraud).Scan(&cur); err != nil {
			return err
		}
		err := tx.QueryRow(ctx, `SELECT version FROM models WHERE kind = $1 AND status <> 'active'
			AND activated_at IS NOT NULL AND NOT rolled_back ORDER BY activated_at DESC, version DESC LIMIT 1`, store.ModelFraud).Scan(&to)
		if errors.Is(err, ErrNoRows) {
			return store.ErrNoRollback
		}
		if err != nil {
			return err
		}
		from := "none"
		if cur != nil {
			from = fmt.Sprintf("version %d", *cur)
			if _, err := tx.Exec(ctx, `UPDATE models SET status = 'retired', status_at = $1, rolled_back = true, note = $2
				WHERE kind = $3 AND version = $4`, at, fmt.Sprintf("rolled back to version %d", to), store.ModelFraud, *cur); err != nil {
				return err
			}
		}
		_, err = tx.Exec(ctx, `UPDATE models SET status = 'active', status_at = $1, activated_at = $1, note = $2
			WHERE kind = $3 AND version = $4`, at, "re-activated by a rollback from "+from, store.ModelFraud, to)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("rolling back the fraud model: %w", err)
	}
	return to, nil
}

// LabelAlert implements store.Fraud.
func (s *Store) LabelAlert(ctx context.Context, transactionID, status, by string, at time.Time) (*store.AlertRecord, error) {
	if !store.ValidAlertStatus(status) {
		return nil, fmt.Errorf("labelling alert %s: unknown status %q", transactionID, status)
	}
	var a store.AlertRecord
	err := s.d.Tx(ctx, func(tx DB) error {
		// The update is conditional on the status read, so a concurrent
		// label in between makes it match nothing and read again: the
		// rollups move the transaction from the status it really had.
		for range 10 {
			var old string
			if err := tx.QueryRow(ctx, `SELECT status FROM alerts WHERE transaction_id = $1`, transactionID).Scan(&old); err != nil {
				return err
			}
			var err error
			a, err = scanAlert(tx.QueryRow(ctx, `UPDATE alerts SET status = $1, labelled_at = $2, labelled_by = $5 WHERE transaction_id = $3 AND status = $4
				RETURNING `+alertCols, status, at, transactionID, old, by))
			if errors.Is(err, ErrNoRows) {
				continue
			}
			if err != nil {
				return err
			}
			return s.relabelRollups(ctx, tx, transactionID, old, status)
		}
		return errors.New("the alert's status kept changing")
	})
	if errors.Is(err, ErrNoRows) {
		return nil, fmt.Errorf("transaction %q: %w", transactionID, store.ErrUnknownAlert)
	}
	if err != nil {
		return nil, fmt.Errorf("labelling alert %s: %w", transactionID, err)
	}
	return &a, nil
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
	return collect(ctx, s.d.DB(), `SELECT t.kafka_offset, t.event_time, t.stored_at, t.risk, t.decision, t.shadow_risk,
			l.fraud, l.scenario, a.status
		FROM transactions t
		LEFT JOIN labels l ON l.transaction_id = t.transaction_id
		LEFT JOIN alerts a ON a.transaction_id = t.transaction_id
		WHERE t.kafka_partition = $1 AND t.kafka_offset < $2
		ORDER BY t.kafka_offset DESC LIMIT $3`, []any{partition, before, n}, func(r Rows) (store.Outcome, error) {
		o := store.Outcome{Partition: partition}
		var shadow *float64
		var fraud *bool
		var scenario, status *string
		if err := r.Scan(&o.Offset, &o.EventTime, &o.StoredAt, &o.Risk, &o.Decision, &shadow, &fraud, &scenario, &status); err != nil {
			return o, err
		}
		o.EventTime, o.StoredAt = o.EventTime.UTC(), o.StoredAt.UTC()
		if shadow != nil {
			o.ShadowRisk, o.HasShadow = *shadow, true
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
		return o, nil
	})
}

// CustomerHistory implements store.Fraud: two index range scans on
// (customer_id, event_time), merged.
func (s *Store) CustomerHistory(ctx context.Context, customerID, except string, until time.Time, limit int, fn func(*store.Tx) error) error {
	const cols = `transaction_id, event_time, total_cents, currency, payment_method, channel, card_bin, card_last4,
		device_id, ip_address, billing_country, shipping_country, ip_country, ip_hosting, shipping_address`
	t := store.Tx{CustomerID: customerID}
	return stream(ctx, s.d.DB(), "history of customer "+customerID, `SELECT * FROM (SELECT `+cols+` FROM transactions
			WHERE customer_id = $1 AND event_time <= $2 AND transaction_id <> $3 ORDER BY event_time DESC LIMIT $4) AS newest
		UNION
		SELECT * FROM (SELECT `+cols+` FROM transactions
			WHERE customer_id = $1 AND event_time <= $2 AND transaction_id <> $3 ORDER BY event_time LIMIT 1) AS first
		ORDER BY event_time`, []any{customerID, until, except, limit}, func(r Rows) error {
		err := r.Scan(&t.TransactionID, &t.EventTime, &t.TotalCents, &t.Currency, &t.PaymentMethod, &t.Channel,
			&t.CardBIN, &t.CardLast4, &t.DeviceID, &t.IPAddress, &t.BillingCountry, &t.ShippingCountry, &t.IPCountry, &t.IPHosting,
			&t.ShippingAddress)
		t.EventTime = t.EventTime.UTC()
		return err
	}, func() error { return fn(&t) })
}
