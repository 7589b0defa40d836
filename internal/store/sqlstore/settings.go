package sqlstore

import (
	"context"
	"fmt"

	"github.com/shopstream/shopstream/internal/store"
)

// AddressKey implements store.Settings: insert if absent, then read, so
// processes racing to set it all read the one that was inserted.
func (s *Store) AddressKey(ctx context.Context, candidate []byte) ([]byte, error) {
	if len(candidate) < store.AddressKeyLen {
		return nil, fmt.Errorf("address key candidate of %d bytes, want at least %d", len(candidate), store.AddressKeyLen)
	}
	if _, err := s.d.DB().Exec(ctx, `INSERT INTO deployment_settings (id, address_key) VALUES (1, $1) ON CONFLICT (id) DO NOTHING`, candidate); err != nil {
		return nil, fmt.Errorf("storing the deployment's address key: %w", err)
	}
	var key []byte
	if err := s.d.DB().QueryRow(ctx, `SELECT address_key FROM deployment_settings WHERE id = 1`).Scan(&key); err != nil {
		return nil, fmt.Errorf("reading the deployment's address key: %w", err)
	}
	return key, nil
}
