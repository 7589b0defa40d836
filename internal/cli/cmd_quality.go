package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/shopstream/shopstream/internal/quality"
	"github.com/shopstream/shopstream/internal/qualityfile"
)

// runQuality is `shopstream quality check`: it validates a data-quality
// contract file and prints the contract it makes, every check with its
// effective thresholds and action, as YAML.
func runQuality(_ context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "check" {
		fmt.Fprintln(stderr, "Usage: shopstream quality check (--config FILE | --print-default)")
		if len(args) == 0 {
			return usageError{fmt.Errorf("quality: no subcommand given (want check)")}
		}
		if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
			return nil
		}
		return usageError{fmt.Errorf("quality: unknown subcommand %q (want check)", args[0])}
	}
	fs := newFlagSet("quality check", stderr)
	path := fs.String("config", "", "data-quality contract file to check (YAML or JSON)")
	printDefault := fs.Bool("print-default", false, "print the default contract, a file to start from")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	var spec quality.Spec
	switch {
	case *printDefault && *path != "":
		return usageError{fmt.Errorf("quality check: give -config or -print-default, not both")}
	case *printDefault:
		spec = quality.DefaultSpec()
	case *path == "":
		return usageError{fmt.Errorf("quality check: flag -config is required (or -print-default)")}
	default:
		c, err := qualityfile.Load(*path)
		if err != nil {
			return fmt.Errorf("-config %s: %w", *path, err)
		}
		spec = c.Spec()
	}
	y, err := spec.MarshalYAML()
	if err != nil {
		return err
	}
	if *path != "" {
		fmt.Fprintf(stdout, "# %s is a valid data-quality contract; in force with it:\n", *path)
	} else {
		fmt.Fprintln(stdout, "# the default data-quality contract (docs/event-schema.md describes every key)")
	}
	_, err = stdout.Write(y)
	return err
}
