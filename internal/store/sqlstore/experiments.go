package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/shopstream/shopstream/internal/store"
)

// CreateExperiment implements store.Experiments.
func (s *Store) CreateExperiment(ctx context.Context, e *store.ExperimentRow) error {
	n, err := s.d.DB().Exec(ctx, `INSERT INTO experiments (name, definition, created_at) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO NOTHING`, e.Name, string(e.Definition), e.CreatedAt.UTC())
	if err != nil {
		return fmt.Errorf("storing experiment %q: %w", e.Name, err)
	}
	if n == 0 {
		return fmt.Errorf("experiment %q: %w", e.Name, store.ErrExperimentExists)
	}
	return nil
}

// ExperimentRows implements store.Experiments.
func (s *Store) ExperimentRows(ctx context.Context) ([]store.ExperimentRow, error) {
	rows, err := collect(ctx, s.d.DB(), `SELECT name, definition, created_at FROM experiments ORDER BY name`+s.q.Collate, nil,
		func(r Rows) (e store.ExperimentRow, err error) {
			var def string
			err = r.Scan(&e.Name, &def, &e.CreatedAt)
			e.Definition, e.CreatedAt = []byte(def), e.CreatedAt.UTC()
			return e, err
		})
	if err != nil {
		return nil, fmt.Errorf("reading experiments: %w", err)
	}
	return rows, nil
}

// RecordExposure implements store.Experiments.
func (s *Store) RecordExposure(ctx context.Context, x *store.Exposure) (bool, error) {
	items, err := json.Marshal(x.Items)
	if err != nil {
		return false, fmt.Errorf("encoding the items of an exposure: %w", err)
	}
	n, err := s.d.DB().Exec(ctx, `INSERT INTO experiment_exposures (experiment, customer_id, variant, exposed_at, window_end, items)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (experiment, customer_id) DO NOTHING`,
		x.Experiment, x.CustomerID, x.Variant, x.ExposedAt.UTC(), x.WindowEnd.UTC(), string(items))
	if err != nil {
		return false, fmt.Errorf("storing the exposure of customer %q to experiment %q: %w", x.CustomerID, x.Experiment, err)
	}
	return n > 0, nil
}

// Exposures implements store.Experiments.
func (s *Store) Exposures(ctx context.Context, experiment string, fn func(*store.Exposure) error) error {
	var (
		x     store.Exposure
		items string
	)
	return stream(ctx, s.d.DB(), "exposures of experiment "+experiment,
		`SELECT experiment, customer_id, variant, exposed_at, window_end, items FROM experiment_exposures
		WHERE experiment = $1 ORDER BY customer_id`+s.q.Collate, []any{experiment},
		func(r Rows) error {
			if err := r.Scan(&x.Experiment, &x.CustomerID, &x.Variant, &x.ExposedAt, &x.WindowEnd, &items); err != nil {
				return err
			}
			x.Items = x.Items[:0]
			if err := json.Unmarshal([]byte(items), &x.Items); err != nil {
				return fmt.Errorf("parsing the items shown to customer %q: %w", x.CustomerID, err)
			}
			x.ExposedAt, x.WindowEnd = x.ExposedAt.UTC(), x.WindowEnd.UTC()
			return nil
		}, func() error { return fn(&x) })
}

// ExposedPurchases implements store.Experiments. The join walks the
// transactions' (customer_id, event_time) index once per exposure.
func (s *Store) ExposedPurchases(ctx context.Context, experiment string, fn func(*store.ExposedPurchase) error) error {
	var (
		p      store.ExposedPurchase
		items  string
		parsed []purchaseItem
	)
	return stream(ctx, s.d.DB(), "purchases of the customers exposed to experiment "+experiment,
		`SELECT t.customer_id, t.transaction_id, t.event_time, t.total_cents, t.currency, CAST(t.items AS TEXT)
		FROM experiment_exposures e JOIN transactions t
		  ON t.customer_id = e.customer_id AND t.event_time >= e.exposed_at AND t.event_time < e.window_end
		WHERE e.experiment = $1 ORDER BY t.customer_id`+s.q.Collate+`, t.event_time`, []any{experiment},
		func(r Rows) error {
			if err := r.Scan(&p.CustomerID, &p.TransactionID, &p.EventTime, &p.TotalCents, &p.Currency, &items); err != nil {
				return err
			}
			parsed = parsed[:0]
			if err := json.Unmarshal([]byte(items), &parsed); err != nil {
				return fmt.Errorf("parsing the items of transaction %s: %w", p.TransactionID, err)
			}
			p.Products = p.Products[:0]
			for _, it := range parsed {
				p.Products = append(p.Products, it.ProductID)
			}
			p.EventTime = p.EventTime.UTC()
			return nil
		}, func() error { return fn(&p) })
}

var _ store.Experiments = (*Store)(nil)
