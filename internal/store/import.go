package store

import "context"

// Derived holds what a batch adds to the stored totals beside its rows:
// the customers' running totals, the per-minute and per-hour windows and
// the detection-quality rollups, each row once. WriteBatch derives them
// itself while it holds the database; an import derives them on its
// reading goroutine instead (DeriveOf), while the batch before is
// written, since the writer is what bounds an import.
type Derived struct {
	Customers []CustomerDelta
	Windows   []WindowRow
	Rollups   []FraudRollup
}

// DeriveOf is what WriteBatch would derive of parts.
func DeriveOf(parts []Part) *Derived {
	return &Derived{Customers: CustomerDeltas(parts), Windows: WindowDeltas(parts), Rollups: RollupDeltas(parts)}
}

// Importer is a store with a write path for imported history: the same
// rows, in one transaction with the offset, as WriteBatch writes, with the
// batch's derived rows computed by the caller. d must be DeriveOf(b.Parts)
// (a batch changed since, say by moving duplicates to the quarantine,
// needs it again). Errors are those of WriteBatch.
type Importer interface {
	WriteImport(ctx context.Context, b *Batch, d *Derived) error
}
