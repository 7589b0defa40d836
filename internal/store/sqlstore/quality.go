package sqlstore

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/shopstream/shopstream/internal/store"
)

// upsertQuality adds a batch's quality counts to the rows of its writer's
// slot (store.Batch.WriterSlot) in quality_minutes. The statement is plain SQL
// both databases take (ON CONFLICT … excluded), a few dozen rows per
// batch, so it needs no dialect's bulk path.
func (s *Store) upsertQuality(ctx context.Context, tx DB, slot int32, rows []store.QualityMinute) error {
	// A reason is the record's own text when it came from elsewhere (an
	// import): made storable, two may become one key, which one statement
	// may not update twice, so they are added up first.
	merged := rows[:0:0]
	at := map[store.QualityMinute]int{}
	for _, r := range rows {
		r.Check = Sanitize(r.Check)
		k := store.QualityMinute{Minute: r.Minute, Check: r.Check}
		if i, ok := at[k]; ok {
			m := &merged[i]
			// The same records passed both: only the failures add.
			m.Failed += r.Failed
			m.Warned = max(m.Warned, r.Warned)
			m.Checked = m.Passed + m.Failed
			continue
		}
		at[k] = len(merged)
		merged = append(merged, r)
	}
	rows = merged
	const chunk = 200
	for lo := 0; lo < len(rows); lo += chunk {
		part := rows[lo:min(lo+chunk, len(rows))]
		var b strings.Builder
		b.WriteString("INSERT INTO quality_minutes (minute, check_name, slot, checked, passed, warned, failed) VALUES ")
		args := make([]any, 0, 6*len(part)+1)
		args = append(args, slot)
		for i, r := range part {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(")
			for k := range 6 {
				if k > 0 {
					b.WriteString(", ")
				}
				if k == 2 {
					b.WriteString("$1, ")
				}
				b.WriteString("$" + strconv.Itoa(6*i+k+2))
			}
			b.WriteString(")")
			args = append(args, r.Minute, r.Check, r.Checked, r.Passed, r.Warned, r.Failed)
		}
		b.WriteString(` ON CONFLICT (minute, check_name, slot) DO UPDATE SET checked = quality_minutes.checked + excluded.checked,
			passed = quality_minutes.passed + excluded.passed, warned = quality_minutes.warned + excluded.warned,
			failed = quality_minutes.failed + excluded.failed`)
		if _, err := tx.Exec(ctx, b.String(), args...); err != nil {
			return err
		}
	}
	return nil
}

// QualityMinutes implements store.Quality: the counts of every writer's
// slot added up.
func (s *Store) QualityMinutes(ctx context.Context, from, to time.Time) ([]store.QualityMinute, error) {
	var out []store.QualityMinute
	err := each(ctx, s.d.DB(), `SELECT minute, check_name, CAST(sum(checked) AS BIGINT), CAST(sum(passed) AS BIGINT),
		CAST(sum(warned) AS BIGINT), CAST(sum(failed) AS BIGINT) FROM quality_minutes
		WHERE minute >= $1 AND minute < $2 GROUP BY minute, check_name ORDER BY minute, check_name`+s.q.Collate, []any{from, to}, func(r Rows) error {
		var q store.QualityMinute
		if err := r.Scan(&q.Minute, &q.Check, &q.Checked, &q.Passed, &q.Warned, &q.Failed); err != nil {
			return err
		}
		q.Minute = q.Minute.UTC()
		out = append(out, q)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading quality minutes: %w", err)
	}
	return out, nil
}

// TxPerMinute implements store.Quality.
func (s *Store) TxPerMinute(ctx context.Context, from, to time.Time) ([]store.MinuteCount, error) {
	var out []store.MinuteCount
	err := each(ctx, s.d.DB(), `SELECT window_start, CAST(sum(tx_count) AS BIGINT) FROM window_metrics
		WHERE granularity = 'minute' AND window_start >= $1 AND window_start < $2 GROUP BY window_start ORDER BY window_start`,
		[]any{from, to}, func(r Rows) error {
			var c store.MinuteCount
			if err := r.Scan(&c.Minute, &c.Count); err != nil {
				return err
			}
			c.Minute = c.Minute.UTC()
			out = append(out, c)
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("reading transactions per minute: %w", err)
	}
	return out, nil
}

// AddQualityFindings implements store.Quality.
func (s *Store) AddQualityFindings(ctx context.Context, fs []store.QualityFinding, alerts []store.OutboxMsg) error {
	if len(fs) == 0 && len(alerts) == 0 {
		return nil
	}
	now := s.now()
	rows := make([][]any, len(fs))
	for i, f := range fs {
		rows[i] = []any{f.DetectedAt, Sanitize(f.Detector), Sanitize(f.Subject), Sanitize(f.Severity), f.Value, f.Threshold, Sanitize(f.Message), Sanitize(f.Source)}
	}
	outbox := make([][]any, len(alerts))
	for i, o := range alerts {
		outbox[i] = []any{o.Kind, o.Target, o.Key, o.Headers, o.Payload, now, now}
	}
	err := s.d.Tx(ctx, func(tx DB) error {
		if len(rows) > 0 {
			if err := s.d.Insert(ctx, tx, "quality_findings", []string{"detected_at", "detector", "subject", "severity", "value", "threshold", "message", "source"}, rows); err != nil {
				return err
			}
		}
		if len(outbox) > 0 {
			return s.d.Insert(ctx, tx, "outbox", []string{"kind", "target", "msg_key", "headers", "payload", "created_at", "next_attempt_at"}, outbox)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("storing %d quality findings and %d alerts: %w", len(fs), len(alerts), err)
	}
	return nil
}

// QualityFindings implements store.Quality.
func (s *Store) QualityFindings(ctx context.Context, from, to time.Time, limit int) ([]store.QualityFinding, error) {
	q := `SELECT id, detected_at, detector, subject, severity, value, threshold, message, source FROM quality_findings
		WHERE detected_at >= $1 AND detected_at < $2 ORDER BY detected_at DESC, id DESC`
	args := []any{from, to}
	if limit > 0 {
		q += " LIMIT $3"
		args = append(args, limit)
	}
	var out []store.QualityFinding
	err := each(ctx, s.d.DB(), q, args, func(r Rows) error {
		var f store.QualityFinding
		if err := r.Scan(&f.ID, &f.DetectedAt, &f.Detector, &f.Subject, &f.Severity, &f.Value, &f.Threshold, &f.Message, &f.Source); err != nil {
			return err
		}
		f.DetectedAt = f.DetectedAt.UTC()
		out = append(out, f)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading quality findings: %w", err)
	}
	return out, nil
}

// AddDriftSamples implements store.QualityDrift.
func (s *Store) AddDriftSamples(ctx context.Context, ss []store.DriftSample) error {
	if len(ss) == 0 {
		return nil
	}
	rows := make([][]any, len(ss))
	for i, d := range ss {
		psi := d.PSI
		if math.IsNaN(psi) || math.IsInf(psi, 0) {
			psi = 0 // the monitor's PSI is finite; a store refuses NaN
		}
		rows[i] = []any{d.At.UTC(), Sanitize(d.Source), Sanitize(d.Field), psi, d.Ref, d.Cur}
	}
	err := s.d.Tx(ctx, func(tx DB) error {
		return s.d.Upsert(ctx, tx, "quality_drift", []string{"at", "source", "field", "psi", "ref", "cur"}, "ON CONFLICT (at, source, field) DO NOTHING", rows)
	})
	if err != nil {
		return fmt.Errorf("storing %d drift samples: %w", len(ss), err)
	}
	return nil
}

// DriftSamples implements store.QualityDrift.
func (s *Store) DriftSamples(ctx context.Context, from, to time.Time, field string, limit int) ([]store.DriftSample, error) {
	q := `SELECT at, source, field, psi, ref, cur FROM quality_drift WHERE at >= $1 AND at < $2`
	args := []any{from, to}
	if field != "" {
		q += ` AND field = $3`
		args = append(args, field)
	}
	q += ` ORDER BY at, source, field LIMIT ` + strconv.Itoa(max(limit, 1))
	var out []store.DriftSample
	err := each(ctx, s.d.DB(), q, args, func(r Rows) error {
		var d store.DriftSample
		if err := r.Scan(&d.At, &d.Source, &d.Field, &d.PSI, &d.Ref, &d.Cur); err != nil {
			return err
		}
		d.At = d.At.UTC()
		out = append(out, d)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading drift samples: %w", err)
	}
	return out, nil
}

var _ store.QualityDrift = (*Store)(nil)
