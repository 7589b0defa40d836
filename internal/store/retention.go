package store

import (
	"context"
	"time"
)

// Retention deletes rows older than their keep time, in bounded batches
// (each in a transaction of its own, so the stream's batches keep flowing
// between them). Both stores implement it; the retention job
// (jobs.Retention) calls it on the leader. Quarantine and outbox have
// theirs in Quarantine.PurgeQuarantine and Store.PruneOutbox.
type Retention interface {
	// PruneTransactions deletes the transactions whose event time is
	// before before, with their labels. PostgreSQL drops whole day
	// partitions that lie entirely before it (Pruned.Partitions) and
	// deletes row by row only in the default partition; SQLite deletes
	// at most batch rows per transaction. batch <= 0 means 5000.
	PruneTransactions(ctx context.Context, before time.Time, batch int) (Pruned, error)
	// PruneWindows deletes the window rows of granularity g that start
	// before before.
	PruneWindows(ctx context.Context, g Granularity, before time.Time, batch int) (int64, error)
	// PruneAlerts deletes the alerts created before before.
	PruneAlerts(ctx context.Context, before time.Time, batch int) (int64, error)
	// PruneRollups deletes the fraud rollup rows of granularity g whose
	// bucket starts (event time) before before. The retention job prunes
	// only the minute rows: the hour and day rows, which a window reads
	// for its whole hours and days, stay.
	PruneRollups(ctx context.Context, g Granularity, before time.Time, batch int) (int64, error)
	// PruneQualityMinutes deletes the data-quality counts of the minutes
	// (time checked) before before.
	PruneQualityMinutes(ctx context.Context, before time.Time, batch int) (int64, error)
	// PruneQualityFindings deletes the quality findings detected before
	// before.
	PruneQualityFindings(ctx context.Context, before time.Time, batch int) (int64, error)
	// PruneAudit deletes the audit entries recorded before before.
	PruneAudit(ctx context.Context, before time.Time, batch int) (int64, error)
	// PruneModels deletes the retired model versions, of every kind,
	// created before before, but keeps of each kind its keep newest
	// retired versions and its keep newest retired versions that were
	// ever active (those a fraud model's rollback goes back to). An
	// active or shadow version is never deleted.
	PruneModels(ctx context.Context, before time.Time, keep, batch int) (int64, error)
}

// Pruned is what PruneTransactions removed.
type Pruned struct {
	// Rows deleted one by one (SQLite; PostgreSQL's default partition).
	Rows int64
	// Partitions dropped whole (PostgreSQL), and the rows they held by
	// the planner's estimate.
	Partitions    int
	PartitionRows int64
}

// Partitioner is a store whose transactions table is partitioned by day
// (PostgreSQL): it creates the partitions of the coming days ahead of the
// stream. The retention job calls it on every run.
type Partitioner interface {
	// EnsurePartitions creates the day partitions from the day before
	// now to ahead days after it that do not exist yet, and returns how
	// many it created.
	EnsurePartitions(ctx context.Context, now time.Time, ahead int) (int, error)
}

// WALCheckpointer is a store with a write-ahead log that must be folded
// back into the database now and then so that it stays small (SQLite).
type WALCheckpointer interface {
	// CheckpointWAL copies the log into the database and truncates it.
	// busy reports that readers kept it from finishing; it is retried on
	// the next call.
	CheckpointWAL(ctx context.Context) (busy bool, err error)
}

// MinuteHorizon is implemented by stores that leave out, as they write,
// the per-minute rows the retention job would delete at its next pass:
// minute windows older than windows and minute fraud rollups (by event
// time) older than rollups, by the store's clock (0 writes them all).
// A backfill or a replay of old records then writes only the hourly and
// daily rows of its old minutes, which retention keeps, instead of
// writing minute rows for the retention job to delete again; what is
// stored once retention has run is the same. Both stores implement it.
type MinuteHorizon interface {
	KeepMinutes(windows, rollups time.Duration)
}

// MinuteWindowsSince is ws without the minute rows that start before
// since; ws itself when there are none.
func MinuteWindowsSince(ws []WindowRow, since time.Time) []WindowRow {
	return dropOldMinutes(ws, since, func(w *WindowRow) (Granularity, time.Time) { return w.Granularity, w.Start })
}

// MinuteRollupsSince is rows without the minute rows whose bucket starts
// before since; rows itself when there are none.
func MinuteRollupsSince(rows []FraudRollup, since time.Time) []FraudRollup {
	return dropOldMinutes(rows, since, func(r *FraudRollup) (Granularity, time.Time) { return r.Granularity, r.Start })
}

func dropOldMinutes[T any](rows []T, since time.Time, at func(*T) (Granularity, time.Time)) []T {
	old := func(i int) bool {
		g, s := at(&rows[i])
		return g == Minute && s.Before(since)
	}
	first := -1
	for i := range rows {
		if old(i) {
			first = i
			break
		}
	}
	if first < 0 {
		return rows
	}
	out := make([]T, first, len(rows))
	copy(out, rows[:first])
	for i := first + 1; i < len(rows); i++ {
		if !old(i) {
			out = append(out, rows[i])
		}
	}
	return out
}
