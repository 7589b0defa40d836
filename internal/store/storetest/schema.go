package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/shopstream/shopstream/internal/store"
)

// Schema is what RunSchema needs of a dialect.
type Schema struct {
	// Fresh returns the location of a new, empty database.
	Fresh func(t *testing.T) string
	// Open opens the database at loc with opts.
	Open func(ctx context.Context, loc string, opts ...store.OpenOption) (store.Store, error)
	// Record records version as applied, as a newer build migrating the
	// database would.
	Record func(t *testing.T, loc string, version int)
}

// RunSchema tests the schema's version checks and migrations: an empty
// database is refused when the schema is required, `migrate up` applies
// every migration once, and a schema newer than the build is refused in
// every mode that works with it, naming both versions.
func RunSchema(t *testing.T, d Schema) {
	ctx := context.Background()
	open := func(t *testing.T, loc string, opts ...store.OpenOption) (store.Store, error) {
		t.Helper()
		s, err := d.Open(ctx, loc, opts...)
		if err == nil {
			t.Cleanup(func() { s.Close() })
		}
		return s, err
	}
	wantVersionErr := func(t *testing.T, err error, db, build int) {
		t.Helper()
		var sv *store.SchemaVersionError
		if !errors.As(err, &sv) {
			t.Fatalf("error = %v, want a *store.SchemaVersionError", err)
		}
		if sv.Database != db || sv.Build != build {
			t.Fatalf("SchemaVersionError = %+v, want database %d, build %d", sv, db, build)
		}
		for _, v := range []int{db, build} {
			if !strings.Contains(err.Error(), fmt.Sprint(v)) {
				t.Fatalf("error %q does not name version %d", err, v)
			}
		}
	}

	loc := d.Fresh(t)
	_, err := open(t, loc, store.WithSchema(store.SchemaRequire))
	// The build's version is read back from the migrations below.
	s, err2 := open(t, loc, store.WithSchema(store.SchemaAsIs))
	if err2 != nil {
		t.Fatalf("opening as it is: %v", err2)
	}
	m := s.(store.Migrator)
	st, err2 := m.Schema(ctx)
	if err2 != nil {
		t.Fatal(err2)
	}
	build := st.Build()
	if build < 1 || st.Database() != 0 || len(st.Applied) != 0 || len(st.Pending()) != build {
		t.Fatalf("fresh database: build %d, database %d, applied %d, pending %d", build, st.Database(), len(st.Applied), len(st.Pending()))
	}
	wantVersionErr(t, err, 0, build)

	applied, err := m.MigrateUp(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) != build || applied[0].Version != 1 || applied[build-1].Version != build {
		t.Fatalf("migrate up applied %d migrations, want 1..%d", len(applied), build)
	}
	if again, err := m.MigrateUp(ctx); err != nil || len(again) != 0 {
		t.Fatalf("second migrate up: applied %d, err %v; want none", len(again), err)
	}
	st, err = m.Schema(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Database() != build || len(st.Applied) != build || len(st.Pending()) != 0 {
		t.Fatalf("after migrate up: database %d, applied %d, pending %d; want %d, %d, 0", st.Database(), len(st.Applied), len(st.Pending()), build, build)
	}
	for i, a := range st.Applied {
		if a.Version != i+1 || a.Name != st.Known[i].Name || a.AppliedAt.IsZero() {
			t.Fatalf("applied[%d] = %+v, want version %d named %s with a time", i, a, i+1, st.Known[i].Name)
		}
	}
	s.Close()
	if _, err := open(t, loc, store.WithSchema(store.SchemaRequire)); err != nil {
		t.Fatalf("requiring the current schema: %v", err)
	}
	if _, err := open(t, loc); err != nil {
		t.Fatalf("opening the current schema: %v", err)
	}

	d.Record(t, loc, build+1)
	for _, mode := range []store.SchemaMode{store.SchemaMigrate, store.SchemaRequire} {
		_, err := open(t, loc, store.WithSchema(mode))
		wantVersionErr(t, err, build+1, build)
	}
	s, err = open(t, loc, store.WithSchema(store.SchemaAsIs))
	if err != nil {
		t.Fatalf("opening a newer schema as it is: %v", err)
	}
	if st, err := s.(store.Migrator).Schema(ctx); err != nil || st.Database() != build+1 {
		t.Fatalf("status of a newer schema: database %d, err %v; want %d", st.Database(), err, build+1)
	}
	_, err = s.(store.Migrator).MigrateUp(ctx)
	wantVersionErr(t, err, build+1, build)
}
