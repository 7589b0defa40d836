package cli

import (
	"context"

	"github.com/shopstream/shopstream/internal/datadir"
	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/sqlite"
)

// lockedSQLite is the embedded store together with its data directory's
// lock, which it gives up when it closes. It embeds the *sqlite.Store, so
// every interface the store implements (store.Fraud, ...) still holds.
type lockedSQLite struct {
	*sqlite.Store
	lock *datadir.Lock
}

// Close closes the store, then releases the directory.
func (s *lockedSQLite) Close() error {
	err := s.Store.Close()
	if rerr := s.lock.Release(); err == nil {
		err = rerr
	}
	return err
}

// openEmbedded takes dir's lock for command, then opens the SQLite store
// in it: a second process on the same directory fails here, at once,
// naming the holder.
func openEmbedded(ctx context.Context, dir, command string, opts ...store.OpenOption) (*lockedSQLite, error) {
	lock, err := datadir.Acquire(dir, command)
	if err != nil {
		return nil, err
	}
	st, err := sqlite.Open(ctx, dir, opts...)
	if err != nil {
		lock.Release() //nolint:errcheck // failing anyway
		return nil, err
	}
	return &lockedSQLite{Store: st, lock: lock}, nil
}
