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

// quarantineSource is the source of a quarantined record: imports store
// theirs at partition -1.
func quarantineSource(partition int32) string {
	if partition < 0 {
		return store.SourceImport
	}
	return store.SourceStream
}

// markReplays marks the quarantine rows the parts' replayed records came
// from, in the batch's transaction (see store.Quarantine). A row whose
// outcome is final already is left as it is, so a replay that arrives
// twice changes nothing the second time; a row purged meanwhile is no
// error.
func (s *Store) markReplays(ctx context.Context, tx DB, parts []store.Part) error {
	now := s.now()
	for i := range parts {
		for _, t := range parts[i].Txs {
			if t.ReplayOf == 0 {
				continue
			}
			if _, err := tx.Exec(ctx, `UPDATE quarantine SET replay_outcome = $1, replayed_at = $2, replay_attempts = replay_attempts + 1,
				replay_reason = '', replay_detail = '' WHERE id = $3 AND (replay_outcome IS NULL OR replay_outcome <> $1)`,
				store.ReplayStored, now, t.ReplayOf); err != nil {
				return fmt.Errorf("marking quarantined record %d stored: %w", t.ReplayOf, err)
			}
		}
		for _, q := range parts[i].Quarantined {
			if q.ReplayOf == 0 {
				continue
			}
			outcome := store.ReplayQuarantined
			if q.Reason == store.ReplayDuplicateReason {
				outcome = store.ReplayDuplicate
			}
			if _, err := tx.Exec(ctx, `UPDATE quarantine SET replay_outcome = $1, replay_reason = $2, replay_detail = $3, replayed_at = $4,
				replay_attempts = replay_attempts + 1 WHERE id = $5 AND (replay_outcome IS NULL OR replay_outcome NOT IN ($6, $7))`,
				outcome, Sanitize(q.Reason), Sanitize(q.Detail), now, q.ReplayOf, store.ReplayStored, store.ReplayDuplicate); err != nil {
				return fmt.Errorf("marking quarantined record %d %s: %w", q.ReplayOf, outcome, err)
			}
		}
	}
	return nil
}

const quarantineCols = `id, reason, detail, raw, kafka_partition, kafka_offset, expected, quarantined_at, source, topic,
	replay_attempts, replayed_at, coalesce(replay_outcome, ''), replay_reason, replay_detail`

func scanQuarantine(r Row) (store.QuarantineRow, error) {
	var q store.QuarantineRow
	err := r.Scan(&q.ID, &q.Reason, &q.Detail, &q.Raw, &q.Partition, &q.Offset, &q.Expected, &q.QuarantinedAt, &q.Source, &q.Topic,
		&q.ReplayAttempts, &q.ReplayedAt, &q.ReplayOutcome, &q.ReplayReason, &q.ReplayDetail)
	q.QuarantinedAt = q.QuarantinedAt.UTC()
	q.ReplayedAt = utcp(q.ReplayedAt)
	if q.Raw == nil {
		q.Raw = []byte{}
	}
	return q, err
}

// quarantineWhere turns f (all but Before and Limit) into a WHERE clause
// ("" when it selects everything) with numbered placeholders, and its
// arguments.
func quarantineWhere(f store.QuarantineFilter) (string, []any, error) {
	var conds []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if f.Reason != "" {
		conds = append(conds, "reason = "+arg(f.Reason))
	}
	if !f.Since.IsZero() {
		conds = append(conds, "quarantined_at >= "+arg(f.Since))
	}
	if !f.Until.IsZero() {
		conds = append(conds, "quarantined_at < "+arg(f.Until))
	}
	if f.Partition != nil {
		conds = append(conds, "kafka_partition = "+arg(*f.Partition))
	}
	if f.Source != "" {
		conds = append(conds, "source = "+arg(f.Source))
	}
	if f.Topic != "" {
		conds = append(conds, "topic = "+arg(f.Topic))
	}
	switch f.State {
	case "":
	case store.StateOpen:
		conds = append(conds, "(replay_outcome IS NULL OR replay_outcome NOT IN ("+arg(store.ReplayStored)+", "+arg(store.ReplayDuplicate)+"))")
	case store.StateNew:
		conds = append(conds, "replay_outcome IS NULL")
	case store.StateReplayed:
		conds = append(conds, "replay_outcome IS NOT NULL")
	case store.ReplayStored, store.ReplayQuarantined, store.ReplayDuplicate:
		conds = append(conds, "replay_outcome = "+arg(f.State))
	default:
		return "", nil, fmt.Errorf("unknown quarantine state %q (want one of %s)", f.State, strings.Join(store.QuarantineStates, ", "))
	}
	if len(f.IDs) > 0 {
		if len(f.IDs) > 1000 {
			return "", nil, fmt.Errorf("%d ids selected, at most 1000", len(f.IDs))
		}
		list := make([]string, len(f.IDs))
		for i, id := range f.IDs {
			list[i] = arg(id)
		}
		conds = append(conds, "id IN ("+strings.Join(list, ", ")+")")
	}
	if f.Before > 0 {
		conds = append(conds, "id < "+arg(f.Before))
	}
	if len(conds) == 0 {
		return "", args, nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args, nil
}

// ListQuarantine implements store.Quarantine.
func (s *Store) ListQuarantine(ctx context.Context, f store.QuarantineFilter) ([]store.QuarantineRow, error) {
	where, args, err := quarantineWhere(f)
	if err != nil {
		return nil, err
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	args = append(args, limit)
	out, err := collect(ctx, s.d.DB(), "SELECT "+quarantineCols+" FROM quarantine"+where+" ORDER BY id DESC LIMIT $"+strconv.Itoa(len(args)),
		args, func(r Rows) (store.QuarantineRow, error) { return scanQuarantine(r) })
	if err != nil {
		return nil, fmt.Errorf("listing quarantined records: %w", err)
	}
	return out, nil
}

// QuarantineRecord implements store.Quarantine.
func (s *Store) QuarantineRecord(ctx context.Context, id int64) (store.QuarantineRow, error) {
	q, err := scanQuarantine(s.d.DB().QueryRow(ctx, "SELECT "+quarantineCols+" FROM quarantine WHERE id = $1", id))
	if errors.Is(err, ErrNoRows) {
		return q, fmt.Errorf("quarantined record %d: %w", id, store.ErrQuarantineNotFound)
	}
	if err != nil {
		return q, fmt.Errorf("reading quarantined record %d: %w", id, err)
	}
	return q, nil
}

// QuarantineCounts implements store.Quarantine.
func (s *Store) QuarantineCounts(ctx context.Context, f store.QuarantineFilter) ([]store.QuarantineCount, error) {
	f.Before, f.Limit = 0, 0
	where, args, err := quarantineWhere(f)
	if err != nil {
		return nil, err
	}
	out, err := collect(ctx, s.d.DB(), `SELECT reason, coalesce(replay_outcome, ''), count(*) FROM quarantine`+where+`
		GROUP BY reason, coalesce(replay_outcome, '') ORDER BY count(*) DESC, reason, coalesce(replay_outcome, '')`,
		args, func(r Rows) (c store.QuarantineCount, err error) {
			err = r.Scan(&c.Reason, &c.Outcome, &c.Count)
			return c, err
		})
	if err != nil {
		return nil, fmt.Errorf("counting quarantined records: %w", err)
	}
	return out, nil
}

// PurgeQuarantine implements store.Quarantine.
func (s *Store) PurgeQuarantine(ctx context.Context, cutoff time.Time, batch int) (int64, error) {
	if batch <= 0 {
		batch = 1000
	}
	var total int64
	for {
		var n int64
		err := s.d.Tx(ctx, func(tx DB) error {
			var err error
			n, err = tx.Exec(ctx, `DELETE FROM quarantine WHERE id IN (SELECT id FROM quarantine
				WHERE quarantined_at < $1 ORDER BY id LIMIT $2)`, cutoff, batch)
			return err
		})
		if err != nil {
			return total, fmt.Errorf("purging quarantined records before %s: %w", cutoff.Format(time.RFC3339), err)
		}
		total += n
		if n < int64(batch) {
			return total, nil
		}
	}
}
