package store

import (
	"context"
	"time"
)

// Derived holds what a batch adds to the stored totals beside its rows:
// the customers' running totals, the per-minute and per-hour windows and
// the detection-quality rollups, each row once. WriteBatch derives them
// itself while it holds the database; an import derives them on its
// reading goroutine instead (Importer.DeriveImport), while the batch
// before is written, since the writer is what bounds an import.
type Derived struct {
	Customers []CustomerDelta
	Windows   []WindowRow
	Rollups   []FraudRollup
	// Prepared is the store's own form of the batch's transactions for
	// its insert (the values it binds), made with the rest; nil when the
	// store makes it as it writes.
	Prepared any
}

// DeriveOf is what WriteBatch would derive of parts, without the minute
// rows before cut's times, which the store would not write (MinuteHorizon):
// a batch of old history then sorts and hands over only its hours and days
// (and, with windows kept, its minute windows).
func DeriveOf(parts []Part, cut MinuteCutoffs) *Derived {
	return &Derived{Customers: CustomerDeltas(parts), Windows: WindowDeltasSince(parts, cut.Windows), Rollups: RollupDeltasSince(parts, cut.Rollups)}
}

// MinuteCutoffs are the event times before which a store writes no minute
// windows and no minute fraud rollups (MinuteHorizon), as of one moment by
// its clock; a zero time leaves none out.
type MinuteCutoffs struct {
	Windows, Rollups time.Time
}

// Importer is a store with a write path for imported history: the same
// rows, in one transaction with the offset, as WriteBatch writes, with the
// batch's derived rows computed by the caller. d must be
// DeriveImport(b.Parts) (a batch changed since, say by moving duplicates
// to the quarantine, needs it again). Errors are those of WriteBatch.
type Importer interface {
	WriteImport(ctx context.Context, b *Batch, d *Derived) error
	// DeriveImport is DeriveOf(parts) with the store's minute cutoffs of
	// now (rows it leaves out, WriteImport, whose clock has only moved on
	// since, leaves out too) and, where the store has one, the prepared
	// form of the transactions.
	DeriveImport(parts []Part) *Derived
}
