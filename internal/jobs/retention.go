package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/shopstream/shopstream/internal/store"
)

// RetentionName is the retention job's name and leader lock.
const RetentionName = "retention"

// RetentionStore is what the retention job deletes from.
type RetentionStore interface {
	TryLead(ctx context.Context, name string) (release func(), ok bool, err error)
	store.Retention
	PurgeQuarantine(ctx context.Context, cutoff time.Time, batch int) (int64, error)
	PruneOutbox(ctx context.Context, deliveredBefore time.Time, batch int) (int64, error)
}

// RetentionConfig configures the retention job. Every age is how long
// rows are kept; 0 keeps them for ever.
type RetentionConfig struct {
	Store RetentionStore
	// Transactions is the age, by event time, after which raw
	// transactions (and their labels) are deleted. Defaults to 0.
	Transactions time.Duration
	// Quarantine is the age, by quarantine time, of quarantined records.
	// Defaults to 0.
	Quarantine time.Duration
	// Outbox is how long delivered outbox messages are kept (pending ones
	// never go). Defaults to 0.
	Outbox time.Duration
	// MinuteWindows is the age of per-minute window metrics (the hourly
	// ones, which the totals are read from, are kept). Defaults to 0.
	MinuteWindows time.Duration
	// Alerts is the age, by creation time, of fraud alerts. Defaults to 0.
	Alerts time.Duration
	// Rollups is the age, by event time, of the per-minute fraud
	// rollups (the hour and day rows are kept). Defaults to 0.
	Rollups time.Duration
	// Quality is the age of the per-minute quality counts (by the minute
	// checked) and of the quality findings (by the time detected).
	// Defaults to 0.
	Quality time.Duration
	// Audit is the age, by the time recorded, of audit entries. Defaults
	// to 0.
	Audit time.Duration
	// Models is the age, by the time trained, of retired model versions
	// (the fraud forest's, retrained every 15 minutes, and the analytics
	// refresh's CLV and segment models); the newest ModelsKept retired
	// versions of each kind, and the newest ModelsKept once active, stay
	// whatever their age. Defaults to 0.
	Models time.Duration
	// Batch is the most rows deleted per database transaction. Defaults
	// to 1000.
	Batch int
	// PartitionsAhead is how many days of transaction partitions are
	// created ahead (PostgreSQL). Defaults to 3.
	PartitionsAhead int
	// Now is the clock. Defaults to time.Now.
	Now func() time.Time
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Registerer receives the metrics. Defaults to nil (not registered).
	Registerer prometheus.Registerer
}

// Retention is the periodic job that deletes what is older than its
// retention, on the leader only.
type Retention struct {
	cfg        RetentionConfig
	log        *slog.Logger
	deleted    *prometheus.CounterVec
	partitions *prometheus.CounterVec
	walBusy    prometheus.Counter
}

// ModelsKept is how many retired versions of each kind of model, and how
// many of those once active, the retention job keeps whatever their age:
// a fraud model's rollback goes back to the newest version once active.
const ModelsKept = 10

// RetentionReport is what one run did.
type RetentionReport struct {
	// Deleted counts the rows deleted one by one per table
	// (transactions, quarantine, outbox, window_metrics, alerts,
	// fraud_rollups, quality_minutes, quality_findings, audit, models).
	Deleted map[string]int64
	// PartitionsCreated and PartitionsDropped are PostgreSQL's day
	// partitions of transactions; PartitionRows estimates the rows the
	// dropped ones held.
	PartitionsCreated, PartitionsDropped int
	PartitionRows                        int64
	// WALBusy reports a checkpoint readers kept from finishing.
	WALBusy bool
}

// NewRetention validates cfg and registers the metrics.
func NewRetention(cfg RetentionConfig) (*Retention, error) {
	if cfg.Store == nil {
		return nil, errors.New("retention: no store")
	}
	for name, d := range map[string]time.Duration{"transactions": cfg.Transactions, "quarantine": cfg.Quarantine,
		"outbox": cfg.Outbox, "minute windows": cfg.MinuteWindows, "alerts": cfg.Alerts, "rollups": cfg.Rollups,
		"quality": cfg.Quality, "audit": cfg.Audit, "models": cfg.Models} {
		if d < 0 {
			return nil, fmt.Errorf("retention: the age of %s is negative (%v)", name, d)
		}
	}
	if cfg.Batch < 0 || cfg.PartitionsAhead < 0 {
		return nil, fmt.Errorf("retention: batch %d and partitions ahead %d must not be negative", cfg.Batch, cfg.PartitionsAhead)
	}
	if cfg.Batch == 0 {
		cfg.Batch = 1000
	}
	if cfg.PartitionsAhead == 0 {
		cfg.PartitionsAhead = 3
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	f := promauto.With(cfg.Registerer)
	r := &Retention{cfg: cfg, log: cfg.Logger.With("component", "retention"),
		deleted: f.NewCounterVec(prometheus.CounterOpts{Name: "shopstream_retention_deleted_rows_total",
			Help: "Rows the retention job deleted one by one, by table."}, []string{"table"}),
		partitions: f.NewCounterVec(prometheus.CounterOpts{Name: "shopstream_retention_partitions_total",
			Help: "Day partitions of transactions the retention job created or dropped (PostgreSQL)."}, []string{"action"}),
		walBusy: f.NewCounter(prometheus.CounterOpts{Name: "shopstream_retention_wal_checkpoint_busy_total",
			Help: "Write-ahead-log checkpoints (SQLite) that readers kept from finishing."}),
	}
	for _, t := range []string{"transactions", "quarantine", "outbox", "window_metrics", "alerts", "fraud_rollups",
		"quality_minutes", "quality_findings", "audit", "models"} {
		r.deleted.WithLabelValues(t)
	}
	r.partitions.WithLabelValues("created")
	r.partitions.WithLabelValues("dropped")
	return r, nil
}

// Job returns the job to give a Runner: a run every interval.
func (r *Retention) Job(interval time.Duration) Job {
	return Job{Name: RetentionName, Interval: interval, Run: func(ctx context.Context) error {
		_, err := r.RunOnce(ctx)
		return err
	}}
}

// RunOnce takes the leader lock and does one pass: partitions ahead, then
// each kind of row past its age, then a WAL checkpoint. It returns an
// error wrapping ErrSkipped when another instance leads. What was deleted
// before an error is reported and counted all the same.
func (r *Retention) RunOnce(ctx context.Context) (*RetentionReport, error) {
	st := r.cfg.Store
	release, ok, err := st.TryLead(ctx, RetentionName)
	if err != nil {
		return nil, fmt.Errorf("retention: %w", err)
	}
	if !ok {
		return nil, fmt.Errorf("retention: %w: another instance holds the lead", ErrSkipped)
	}
	defer release()
	start := time.Now()
	now := r.cfg.Now()
	rep := &RetentionReport{Deleted: map[string]int64{}}
	var errs []error
	if p, ok := st.(store.Partitioner); ok {
		n, err := p.EnsurePartitions(ctx, now, r.cfg.PartitionsAhead)
		rep.PartitionsCreated = n
		r.partitions.WithLabelValues("created").Add(float64(n))
		errs = append(errs, err)
	}
	count := func(table string, n int64, err error) {
		rep.Deleted[table] += n
		r.deleted.WithLabelValues(table).Add(float64(n))
		errs = append(errs, err)
	}
	b := r.cfg.Batch
	if d := r.cfg.Transactions; d > 0 {
		p, err := st.PruneTransactions(ctx, now.Add(-d), b)
		rep.PartitionsDropped, rep.PartitionRows = p.Partitions, p.PartitionRows
		r.partitions.WithLabelValues("dropped").Add(float64(p.Partitions))
		count("transactions", p.Rows, err)
	}
	if d := r.cfg.Quarantine; d > 0 {
		n, err := st.PurgeQuarantine(ctx, now.Add(-d), b)
		count("quarantine", n, err)
	}
	if d := r.cfg.Outbox; d > 0 {
		n, err := st.PruneOutbox(ctx, now.Add(-d), b)
		count("outbox", n, err)
	}
	if d := r.cfg.MinuteWindows; d > 0 {
		n, err := st.PruneWindows(ctx, store.Minute, now.Add(-d), b)
		count("window_metrics", n, err)
	}
	if d := r.cfg.Alerts; d > 0 {
		n, err := st.PruneAlerts(ctx, now.Add(-d), b)
		count("alerts", n, err)
	}
	if d := r.cfg.Rollups; d > 0 {
		n, err := st.PruneRollups(ctx, store.Minute, now.Add(-d), b)
		count("fraud_rollups", n, err)
	}
	if d := r.cfg.Quality; d > 0 {
		n, err := st.PruneQualityMinutes(ctx, now.Add(-d), b)
		count("quality_minutes", n, err)
		n, err = st.PruneQualityFindings(ctx, now.Add(-d), b)
		count("quality_findings", n, err)
	}
	if d := r.cfg.Audit; d > 0 {
		n, err := st.PruneAudit(ctx, now.Add(-d), b)
		count("audit", n, err)
	}
	if d := r.cfg.Models; d > 0 {
		n, err := st.PruneModels(ctx, now.Add(-d), ModelsKept, b)
		count("models", n, err)
	}
	if w, ok := st.(store.WALCheckpointer); ok {
		busy, err := w.CheckpointWAL(ctx)
		if busy {
			rep.WALBusy = true
			r.walBusy.Inc()
		}
		errs = append(errs, err)
	}
	attrs := []any{"seconds", time.Since(start).Seconds()}
	var total int64
	for t, n := range rep.Deleted {
		attrs = append(attrs, t, n)
		total += n
	}
	if rep.PartitionsCreated > 0 || rep.PartitionsDropped > 0 {
		attrs = append(attrs, "partitions_created", rep.PartitionsCreated, "partitions_dropped", rep.PartitionsDropped,
			"partition_rows_estimate", rep.PartitionRows)
	}
	if rep.WALBusy {
		attrs = append(attrs, "wal_checkpoint", "busy")
	}
	if err := errors.Join(errs...); err != nil {
		r.log.Error("retention pass failed", append(attrs, "err", err)...)
		return rep, fmt.Errorf("retention: %w", err)
	}
	if total > 0 || rep.PartitionsCreated > 0 || rep.PartitionsDropped > 0 || rep.WALBusy {
		r.log.Info("retention pass", attrs...)
	} else {
		r.log.Debug("retention pass: nothing to delete", attrs...)
	}
	return rep, nil
}
