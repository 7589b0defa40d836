package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/shopstream/shopstream/internal/store"
)

// SaveSystemSample implements store.SystemSamples.
func (s *Store) SaveSystemSample(ctx context.Context, smp store.SystemSample, keep time.Duration) error {
	err := s.d.Tx(ctx, func(tx DB) error {
		if _, err := tx.Exec(ctx, `INSERT INTO system_samples (instance, step_seconds, at, data) VALUES ($1, $2, $3, $4)
			ON CONFLICT (instance, step_seconds, at) DO UPDATE SET data = excluded.data`,
			smp.Instance, smp.Step, smp.At, smp.Data); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM system_samples WHERE step_seconds = $1 AND at < $2`, smp.Step, smp.At.Add(-keep))
		return err
	})
	if err != nil {
		return fmt.Errorf("saving a system sample: %w", err)
	}
	return nil
}

// SystemSamples implements store.SystemSamples.
func (s *Store) SystemSamples(ctx context.Context, instance string, step int, since time.Time) ([]store.SystemSample, error) {
	out, err := collect(ctx, s.d.DB(), `SELECT instance, step_seconds, at, data FROM system_samples
		WHERE step_seconds = $1 AND at >= $2 AND ($3 = '' OR instance = $3)
		ORDER BY at, instance`+s.q.Collate, []any{step, since, instance}, func(r Rows) (smp store.SystemSample, err error) {
		err = r.Scan(&smp.Instance, &smp.Step, &smp.At, &smp.Data)
		smp.At = smp.At.UTC()
		return smp, err
	})
	if err != nil {
		return nil, fmt.Errorf("reading system samples: %w", err)
	}
	return out, nil
}

// SystemSampleInstances implements store.SystemSamples.
func (s *Store) SystemSampleInstances(ctx context.Context) ([]store.SystemSampleInstance, error) {
	out, err := collect(ctx, s.d.DB(), `SELECT instance, min(at), max(at), count(*) FROM system_samples
		GROUP BY instance ORDER BY instance`+s.q.Collate, nil, func(r Rows) (in store.SystemSampleInstance, err error) {
		err = r.Scan(&in.Instance, &in.Oldest, &in.Newest, &in.Samples)
		in.Oldest, in.Newest = in.Oldest.UTC(), in.Newest.UTC()
		return in, err
	})
	if err != nil {
		return nil, fmt.Errorf("listing the instances of the system samples: %w", err)
	}
	return out, nil
}
