package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// newFlagSet returns a flag set for one subcommand that reports errors
// instead of exiting, and prints its usage to stderr.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parseFlags applies SHOPSTREAM_<FLAG> environment variables (flag name upper-cased,
// dashes as underscores) to every flag not given on the command line, then parses
// args. Command-line values win over the environment. An invalid value, from
// either source, fails with the flag's name in the message.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("%s: unexpected argument %q", fs.Name(), fs.Arg(0))}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || err != nil {
			return
		}
		env := EnvName(f.Name)
		if v, ok := os.LookupEnv(env); ok {
			if e := fs.Set(f.Name, v); e != nil {
				err = usageError{fmt.Errorf("invalid value %q for %s (flag -%s): %v", v, env, f.Name, e)}
			}
		}
	})
	return err
}

// EnvName is the environment variable that sets flag name.
func EnvName(name string) string {
	return "SHOPSTREAM_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// usageError marks an error caused by the command line, so main exits with 2.
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

// IsUsage reports whether err was caused by a bad command line or environment.
func IsUsage(err error) bool {
	var u usageError
	return errors.As(err, &u) || errors.Is(err, flag.ErrHelp)
}
