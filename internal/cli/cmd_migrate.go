package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/shopstream/shopstream/internal/store"
)

const migrateUsage = `Usage:
  shopstream migrate status [store flags]   lists the migrations this build knows and those the database applied
  shopstream migrate up [store flags]       applies the pending migrations, each in its own transaction

Store flags: --postgres URL, or --data-dir DIR (default ./data). Processes started with
--auto-migrate=false refuse a schema other than their build's, naming both versions; every
process refuses a schema newer than its build's.
`

// runMigrate is `shopstream migrate status|up`: the store's schema,
// outside the processes that use it, so a deployment migrates once, in
// one step, before its processors and servers start.
func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		io.WriteString(stderr, migrateUsage)
		if len(args) == 0 {
			return usageError{errors.New("migrate: no subcommand given: want status or up")}
		}
		return flag.ErrHelp
	}
	sub := args[0]
	if sub != "status" && sub != "up" {
		io.WriteString(stderr, migrateUsage)
		return usageError{fmt.Errorf("migrate: unknown subcommand %q: want status or up", sub)}
	}
	fs := newFlagSet("migrate "+sub, stderr)
	var sf storeFlags
	sf.register(fs)
	sf.command = "shopstream migrate " + sub
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	st, err := sf.openWith(ctx, store.WithSchema(store.SchemaAsIs))
	if err != nil {
		return err
	}
	defer st.Close()
	m, ok := st.(store.Migrator)
	if !ok {
		return fmt.Errorf("store %T has no migrations", st)
	}
	var applied []store.Migration
	if sub == "up" {
		applied, err = m.MigrateUp(ctx)
		if err != nil {
			return fmt.Errorf("migrating %s: %w", sf.describe(), err)
		}
		for _, a := range applied {
			fmt.Fprintf(stdout, "applied %s\n", a.Name)
		}
	}
	s, err := m.Schema(ctx)
	if err != nil {
		return fmt.Errorf("reading the schema of %s: %w", sf.describe(), err)
	}
	if sub == "up" {
		fmt.Fprintf(stdout, "%s: schema at version %d, %d migration(s) applied now\n", sf.describe(), s.Database(), len(applied))
		return nil
	}
	writeSchemaStatus(stdout, sf.describe(), s)
	return nil
}

// writeSchemaStatus prints the database's version against the build's,
// then one line per migration either side knows.
func writeSchemaStatus(w io.Writer, where string, s store.SchemaStatus) {
	db, build := s.Database(), s.Build()
	state := "up to date"
	switch {
	case db < build:
		state = fmt.Sprintf("%d pending: run `shopstream migrate up`", build-db)
	case db > build:
		state = "NEWER than this build: run a shopstream as new as the one that migrated it"
	}
	fmt.Fprintf(w, "%s: schema at version %d, this build knows %d: %s\n", where, db, build, state)
	applied := map[int]store.AppliedMigration{}
	for _, a := range s.Applied {
		applied[a.Version] = a
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tNAME\tAPPLIED")
	for _, k := range s.Known {
		when := "pending"
		if a, ok := applied[k.Version]; ok {
			when = a.AppliedAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\n", k.Version, k.Name, when)
	}
	for _, a := range s.Applied {
		if a.Version > build {
			fmt.Fprintf(tw, "%d\t%s\t%s (unknown to this build)\n", a.Version, a.Name, a.AppliedAt.UTC().Format(time.RFC3339))
		}
	}
	tw.Flush()
}
