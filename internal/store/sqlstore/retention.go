package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/shopstream/shopstream/internal/store"
)

// DefaultPruneBatch is the most rows one retention transaction deletes.
const DefaultPruneBatch = 5000

// DeleteInBatches runs stmts, in order, in one transaction per batch,
// until the last statement deletes fewer than batch rows, and returns how
// many rows the last statement deleted in all. Each statement takes args
// followed by batch as its last parameter (its LIMIT).
func (s *Store) DeleteInBatches(ctx context.Context, what string, batch int, stmts []string, args ...any) (int64, error) {
	if batch <= 0 {
		batch = DefaultPruneBatch
	}
	all := append(append([]any(nil), args...), batch)
	var total int64
	for {
		var n int64
		err := s.d.Tx(ctx, func(tx DB) error {
			for _, q := range stmts {
				var err error
				if n, err = tx.Exec(ctx, q, all...); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return total, fmt.Errorf("deleting %s: %w", what, err)
		}
		total += n
		if n < int64(batch) || ctx.Err() != nil {
			return total, ctx.Err()
		}
	}
}

// The shared rollups (window_metrics, fraud_rollups, quality_minutes) are
// pruned while the stream's batches add to them, and a batch may add to
// an old minute (a late record, a label of an old transaction): a pass
// that waited for a row a batch holds, while holding one the batch wants
// next, deadlocked ("deadlock detected" on fraud_rollups, twice in a
// test/perf/pgstat.sh run). So each pass locks the rows it deletes in
// its sub-select and skips those another transaction holds
// (Queries.SkipLocked): it never waits, so it is never in a cycle of
// waits, and a skipped row is deleted by a later pass. A batch that wants
// a row the pass holds waits for the pass's short transaction and then
// inserts the row again, as it would after the pass.

// PruneWindows implements store.Retention.
func (s *Store) PruneWindows(ctx context.Context, g store.Granularity, before time.Time, batch int) (int64, error) {
	return s.DeleteInBatches(ctx, string(g)+" windows before "+before.UTC().Format(time.RFC3339), batch, []string{
		`DELETE FROM window_metrics WHERE granularity = $1 AND (window_start, channel, payment_method, currency, slot) IN
			(SELECT window_start, channel, payment_method, currency, slot FROM window_metrics
			 WHERE granularity = $1 AND window_start < $2 ORDER BY window_start LIMIT $3` + s.q.SkipLocked + `)`,
	}, string(g), before)
}

// PruneAlerts implements store.Retention.
func (s *Store) PruneAlerts(ctx context.Context, before time.Time, batch int) (int64, error) {
	return s.DeleteInBatches(ctx, "alerts created before "+before.UTC().Format(time.RFC3339), batch, []string{
		`DELETE FROM alerts WHERE transaction_id IN (SELECT transaction_id FROM alerts WHERE created_at < $1 ORDER BY created_at LIMIT $2)`,
	}, before)
}

// PruneRollups implements store.Retention.
func (s *Store) PruneRollups(ctx context.Context, g store.Granularity, before time.Time, batch int) (int64, error) {
	return s.DeleteInBatches(ctx, string(g)+" fraud rollups before "+before.UTC().Format(time.RFC3339), batch, []string{
		`DELETE FROM fraud_rollups WHERE granularity = $1
			AND (bucket_start, series, risk_bucket, truth, scenario, decision, analyst, slot) IN
			(SELECT bucket_start, series, risk_bucket, truth, scenario, decision, analyst, slot FROM fraud_rollups
			 WHERE granularity = $1 AND bucket_start < $2 ORDER BY bucket_start LIMIT $3` + s.q.SkipLocked + `)`,
	}, string(g), before)
}

// PruneQualityMinutes implements store.Retention.
func (s *Store) PruneQualityMinutes(ctx context.Context, before time.Time, batch int) (int64, error) {
	return s.DeleteInBatches(ctx, "quality minutes before "+before.UTC().Format(time.RFC3339), batch, []string{
		`DELETE FROM quality_minutes WHERE (minute, check_name, slot) IN
			(SELECT minute, check_name, slot FROM quality_minutes WHERE minute < $1 ORDER BY minute LIMIT $2` + s.q.SkipLocked + `)`,
	}, before)
}

// PruneQualityFindings implements store.Retention: the findings, and the
// drift trend's samples (quality_drift) of the same age.
func (s *Store) PruneQualityFindings(ctx context.Context, before time.Time, batch int) (int64, error) {
	n, err := s.DeleteInBatches(ctx, "quality findings before "+before.UTC().Format(time.RFC3339), batch, []string{
		`DELETE FROM quality_findings WHERE id IN
			(SELECT id FROM quality_findings WHERE detected_at < $1 ORDER BY detected_at LIMIT $2)`,
	}, before)
	if err != nil {
		return n, err
	}
	m, err := s.DeleteInBatches(ctx, "drift samples before "+before.UTC().Format(time.RFC3339), batch, []string{
		`DELETE FROM quality_drift WHERE (at, source, field) IN
			(SELECT at, source, field FROM quality_drift WHERE at < $1 ORDER BY at LIMIT $2)`,
	}, before)
	return n + m, err
}

// PruneAudit implements store.Retention. The audit table has no index on
// its time; its ids grow with it, so the oldest entries are the first the
// scan in id order meets.
func (s *Store) PruneAudit(ctx context.Context, before time.Time, batch int) (int64, error) {
	return s.DeleteInBatches(ctx, "audit entries before "+before.UTC().Format(time.RFC3339), batch, []string{
		`DELETE FROM audit WHERE id IN (SELECT id FROM audit WHERE at < $1 ORDER BY id LIMIT $2)`,
	}, before)
}

// PruneModels implements store.Retention. Each batch is deleted under the
// model lock, so a promotion or rollback never looks for a version being
// deleted, and the versions kept are counted again in every batch.
func (s *Store) PruneModels(ctx context.Context, before time.Time, keep, batch int) (int64, error) {
	if batch <= 0 {
		batch = DefaultPruneBatch
	}
	if keep < 0 {
		keep = 0
	}
	var total int64
	for {
		var n int64
		err := s.modelTx(ctx, func(tx DB) error {
			var err error
			n, err = tx.Exec(ctx, pruneModelsSQL, before, keep, batch)
			return err
		})
		if err != nil {
			return total, fmt.Errorf("deleting model versions created before %s: %w", before.UTC().Format(time.RFC3339), err)
		}
		total += n
		if n < int64(batch) || ctx.Err() != nil {
			return total, ctx.Err()
		}
	}
}

// pruneModelsSQL deletes the retired versions created before $1 that are
// neither among their kind's $2 newest retired versions nor among its $2
// newest retired versions once active, at most $3 of them.
const pruneModelsSQL = `DELETE FROM models WHERE id IN (
	SELECT id FROM (
		SELECT id, created_at,
			row_number() OVER (PARTITION BY kind ORDER BY version DESC) AS newest,
			row_number() OVER (PARTITION BY kind, activated_at IS NULL ORDER BY version DESC) AS newest_alike,
			activated_at IS NOT NULL AS was_active
		FROM models WHERE status = 'retired') m
	WHERE created_at < $1 AND newest > $2 AND NOT (was_active AND newest_alike <= $2)
	ORDER BY id LIMIT $3)`
