package store

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Migration is one numbered schema change, applied once, in order.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// LoadMigrations reads files named NNNN_name.sql from dir in fsys, sorted by
// number. Gaps and duplicate numbers are errors.
func LoadMigrations(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("reading migrations: %w", err)
	}
	var ms []Migration
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".sql") {
			continue
		}
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s: name must start with a number and '_'", name)
		}
		b, err := fs.ReadFile(fsys, path.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("reading migration %s: %w", name, err)
		}
		ms = append(ms, Migration{Version: v, Name: name, SQL: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	for i, m := range ms {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migration %s: expected version %d", m.Name, i+1)
		}
	}
	return ms, nil
}

// AppliedMigration is a migration the database records as applied.
type AppliedMigration struct {
	Version   int
	Name      string
	AppliedAt time.Time
}

// SchemaStatus is the database's schema against the build's migrations.
type SchemaStatus struct {
	// Known are the migrations this build carries, in order.
	Known []Migration
	// Applied are the migrations the database records, in order; it may
	// name versions this build does not know (a newer build migrated it).
	Applied []AppliedMigration
}

// Database is the database's schema version: the highest applied.
func (s SchemaStatus) Database() int {
	if len(s.Applied) == 0 {
		return 0
	}
	return s.Applied[len(s.Applied)-1].Version
}

// Build is the schema version this build knows: its highest migration.
func (s SchemaStatus) Build() int { return len(s.Known) }

// Pending are the known migrations the database has not applied.
func (s SchemaStatus) Pending() []Migration {
	db := s.Database()
	var out []Migration
	for _, m := range s.Known {
		if m.Version > db {
			out = append(out, m)
		}
	}
	return out
}

// SchemaVersionError is a database schema other than the one this build
// works with: newer (migrated by a newer build: this one would misread
// it) or, when the store was opened with SchemaRequire, older.
type SchemaVersionError struct {
	Database int // the database's schema version
	Build    int // the version this build knows
}

func (e *SchemaVersionError) Error() string {
	if e.Database > e.Build {
		return fmt.Sprintf("the database's schema is at version %d, newer than this build of shopstream knows (%d): run a shopstream as new as the one that migrated it", e.Database, e.Build)
	}
	return fmt.Sprintf("the database's schema is at version %d, older than this build of shopstream needs (%d): run `shopstream migrate up` first", e.Database, e.Build)
}

// SchemaMode is what opening a store does with the database's schema.
type SchemaMode int

// Schema modes.
const (
	// SchemaMigrate applies the pending migrations and refuses a schema
	// newer than the build knows. The default.
	SchemaMigrate SchemaMode = iota
	// SchemaRequire refuses a schema older or newer than the build's,
	// and changes nothing: for processes started after `migrate up`.
	SchemaRequire
	// SchemaAsIs neither checks nor migrates: for `shopstream migrate`.
	SchemaAsIs
)

// OpenConfig is what a store's Open does beyond connecting.
type OpenConfig struct {
	// Schema is what to do with the database's schema. Defaults to
	// SchemaMigrate.
	Schema SchemaMode
}

// OpenOption sets a field of OpenConfig.
type OpenOption func(*OpenConfig)

// WithSchema sets what Open does with the schema (default SchemaMigrate).
func WithSchema(m SchemaMode) OpenOption { return func(c *OpenConfig) { c.Schema = m } }

// NewOpenConfig applies opts over the defaults.
func NewOpenConfig(opts ...OpenOption) OpenConfig {
	var c OpenConfig
	for _, o := range opts {
		o(&c)
	}
	return c
}

// Migrator is a store whose schema can be read and migrated (both stores
// are): what `shopstream migrate` works with.
type Migrator interface {
	// MigrateUp applies the pending migrations and returns them.
	MigrateUp(ctx context.Context) ([]Migration, error)
	// Schema reads the applied migrations beside the known ones.
	Schema(ctx context.Context) (SchemaStatus, error)
}
