package store

import (
	"context"
	"sort"
	"time"

	"github.com/shopstream/shopstream/internal/quality"
	"github.com/shopstream/shopstream/internal/quality/monitor"
)

// Quality is the store's side of data-quality monitoring: the per-minute
// counts every batch adds (WriteBatch writes them from the batch's
// records), the transactions per minute the volume detector judges, and
// the detectors' findings.
type Quality interface {
	// QualityMinutes returns the rows of minutes in [from, to), ordered
	// by minute and check.
	QualityMinutes(ctx context.Context, from, to time.Time) ([]QualityMinute, error)
	// TxPerMinute returns the stored transactions per event-time minute
	// in [from, to) (from the window metrics), ordered by minute; minutes
	// with none are absent.
	TxPerMinute(ctx context.Context, from, to time.Time) ([]MinuteCount, error)
	// AddQualityFindings stores findings and queues their alerts in the
	// outbox, in one transaction.
	AddQualityFindings(ctx context.Context, fs []QualityFinding, alerts []OutboxMsg) error
	// QualityFindings returns the findings detected in [from, to), newest
	// first, at most limit (all when limit <= 0).
	QualityFindings(ctx context.Context, from, to time.Time, limit int) ([]QualityFinding, error)
}

// QualityMinute is one check's counts in one minute (by the clock the
// records were checked by); see package monitor for their meaning.
type QualityMinute struct {
	Minute                          time.Time
	Check                           string
	Checked, Passed, Warned, Failed int64
}

// MinuteCount is a count in one minute.
type MinuteCount struct {
	Minute time.Time
	Count  int64
}

// QualityFinding is a stored detector finding.
type QualityFinding struct {
	ID         int64
	DetectedAt time.Time
	// Detector, Subject, Severity, Value, Threshold and Message are the
	// monitor.Finding's.
	Detector, Subject, Severity string
	Value, Threshold            float64
	Message                     string
	// Source says where the detector ran: "leader" for the detectors of
	// the whole stream, else the processor's instance id.
	Source string
}

// QualityDeltas counts the records of parts per minute and check: each
// part's transactions passed (with their QualityWarnings), its quarantined
// records failed their reason, in the minute of the part's CheckedAt
// (now when unset, as for the importer's batches). Rows are sorted by
// minute and check, so concurrent writers lock them in one order.
func QualityDeltas(parts []Part, now time.Time) []QualityMinute {
	tallies := map[time.Time]*monitor.Tally{}
	for i := range parts {
		p := &parts[i]
		if p.Len() == 0 {
			continue
		}
		at := p.CheckedAt
		if at.IsZero() {
			at = now
		}
		m := at.UTC().Truncate(time.Minute)
		t := tallies[m]
		if t == nil {
			t = &monitor.Tally{}
			tallies[m] = t
		}
		for j := range p.Txs {
			t.Add(quality.OK, p.Txs[j].QualityWarnings)
		}
		for j := range p.Quarantined {
			t.Add(quality.Reason(p.Quarantined[j].Reason), nil)
		}
	}
	var out []QualityMinute
	for m, t := range tallies {
		for _, r := range t.Rows(m) {
			out = append(out, QualityMinute{Minute: m, Check: r.Check, Checked: r.Checked, Passed: r.Passed, Warned: r.Warned, Failed: r.Failed})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Minute.Equal(out[j].Minute) {
			return out[i].Minute.Before(out[j].Minute)
		}
		return out[i].Check < out[j].Check
	})
	return out
}

// DriftSample is one field's population stability index at one run of a
// processor's drift detector (monitor.FieldDrift), kept as a trend.
type DriftSample struct {
	At     time.Time
	Source string // the processor, as QualityFinding.Source
	Field  string
	PSI    float64
	// Ref and Cur are the records of the reference and current spans.
	Ref, Cur int64
}

// QualityDrift keeps the drift detector's statistic over time (migration
// 0027).
type QualityDrift interface {
	// AddDriftSamples stores samples (a sample of the same time, source
	// and field again is ignored).
	AddDriftSamples(ctx context.Context, ss []DriftSample) error
	// DriftSamples returns the samples taken in [from, to), of field
	// alone unless it is empty, oldest first, at most limit.
	DriftSamples(ctx context.Context, from, to time.Time, field string, limit int) ([]DriftSample, error)
}
