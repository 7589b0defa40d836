package sqlstore

import (
	"context"
	"fmt"

	"github.com/shopstream/shopstream/internal/store"
)

// ImportUpserter is implemented by dialects with a faster way to add an
// import's window and rollup rows than the stream's: an import's rows
// share most of their columns (one channel, payment method and currency,
// every transaction approved at risk 0 and unlabelled), which a dialect
// can write once per statement rather than once per row. They write the
// rows of store.SlotOther.
type ImportUpserter interface {
	UpsertImportWindows(ctx context.Context, tx DB, ws []store.WindowRow) error
	UpsertImportRollups(ctx context.Context, tx DB, rows []store.FraudRollup) error
}

// TxPreparer is implemented by dialects that can make a batch's insert of
// its transactions ready before the writing transaction (an import's
// reading goroutine does, store.Importer.DeriveImport): PrepareTxs makes
// it of parts, CopyPrepared writes it as CopyTxs would have written parts.
type TxPreparer interface {
	PrepareTxs(parts []store.Part) any
	CopyPrepared(ctx context.Context, tx DB, prepared any) error
}

// DeriveImport implements store.Importer.
func (s *Store) DeriveImport(parts []store.Part) *store.Derived {
	d := store.DeriveOf(parts, s.minuteCutoffs())
	if p, ok := s.d.(TxPreparer); ok {
		d.Prepared = p.PrepareTxs(parts)
	}
	return d
}

// WriteImport implements store.Importer: WriteBatch's rows in WriteBatch's
// order and transaction, with the customers, windows and rollups of d.
func (s *Store) WriteImport(ctx context.Context, b *store.Batch, d *store.Derived) error {
	if len(b.Parts) == 0 {
		return nil
	}
	return s.runBatch(ctx, b, "an import batch", func(tx DB) error { return s.writeImport(ctx, tx, b, d) })
}

func (s *Store) writeImport(ctx context.Context, tx DB, b *store.Batch, d *store.Derived) error {
	if err := s.writeTxRows(ctx, tx, b, nil, d); err != nil {
		return err
	}
	if err := s.d.UpsertCustomers(ctx, tx, d.Customers); err != nil {
		return fmt.Errorf("upserting customers: %w", err)
	}
	// An import writes the slot of the writers outside the streams.
	if err := s.upsertQuality(ctx, tx, store.SlotOther, store.QualityDeltas(b.Parts, s.now())); err != nil {
		return fmt.Errorf("upserting quality counts: %w", err)
	}
	// d was derived with the cutoffs of a moment before: those of now
	// may leave out a minute more.
	if cut := s.minuteCutoffs(); !cut.Rollups.IsZero() || !cut.Windows.IsZero() {
		d.Rollups = store.MinuteRollupsSince(d.Rollups, cut.Rollups)
		d.Windows = store.MinuteWindowsSince(d.Windows, cut.Windows)
	}
	u, fast := s.d.(ImportUpserter)
	if fast && len(d.Rollups) > 0 {
		if err := u.UpsertImportRollups(ctx, tx, d.Rollups); err != nil {
			return fmt.Errorf("upserting %d fraud rollup rows: %w", len(d.Rollups), err)
		}
	} else if err := s.upsertRollups(ctx, tx, store.SlotOther, d.Rollups); err != nil {
		return err
	}
	var err error
	if fast && len(d.Windows) > 0 {
		err = u.UpsertImportWindows(ctx, tx, d.Windows)
	} else {
		err = s.d.UpsertWindows(ctx, tx, store.SlotOther, d.Windows)
	}
	if err != nil {
		return fmt.Errorf("upserting window metrics: %w", err)
	}
	if err := s.d.AdvanceOffsets(ctx, tx, b); err != nil {
		return fmt.Errorf("advancing offsets: %w", err)
	}
	return nil
}
