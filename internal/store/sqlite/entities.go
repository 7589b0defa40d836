package sqlite

import (
	"context"
	_ "embed"
	"fmt"
)

//go:embed entities.sql
var entitiesSQL string

// EnsureEntities creates the entity stage's tables (entity_events,
// entity_rings) when they are missing; the entity stage calls it when it
// starts.
func (s *Store) EnsureEntities(ctx context.Context) error {
	if err := s.ExecScript(ctx, entitiesSQL); err != nil {
		return fmt.Errorf("creating the entity stage's tables: %w", err)
	}
	return nil
}
