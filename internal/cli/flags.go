package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// newFlagSet returns a flag set for one subcommand that reports errors
// instead of exiting, and prints its usage to stderr.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parseFlags parses args, then gives every flag not set on the command line
// its SHOPSTREAM_<FLAG> environment variable (flag name upper-cased, dashes
// as underscores) or else its key in the configuration file of --config
// (or SHOPSTREAM_CONFIG; see configfile.go): the command line wins over the
// environment, the environment over the file, the file over the default.
// An invalid value, from any source, fails with the flag's name in the
// message (and the file's line for the file).
//
// Every flag set parsed here gets the flag -config, unless the command
// defines a -config of its own (quality check's contract file).
func parseFlags(fs *flag.FlagSet, args []string) error {
	pos, err := parseFlagsArgs(fs, args)
	if err == nil && len(pos) > 0 {
		return usageError{fmt.Errorf("%s: unexpected argument %q", fs.Name(), pos[0])}
	}
	return err
}

// parseFlagsArgs is parseFlags for a command that takes positional
// arguments, which it returns in order. Flags may come before, between
// and after them (Go's flag package stops at the first argument that is
// not a flag; the rest is parsed again after it); "--" ends the flags,
// everything after it is positional.
//
// Under config print the flags are printed and errConfigPrinted returned
// whatever the positional arguments.
func parseFlagsArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	addConfigFlag(fs)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{suggestFlag(fs, err)}
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if endedFlags(fs, args[:len(args)-len(rest)]) {
			pos = append(pos, rest...)
			break
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
	origins, err := applyEnvAndFile(fs)
	if err != nil {
		return nil, err
	}
	if pr, ok := fs.Output().(*printRequest); ok {
		pr.print(fs, origins)
		return nil, errConfigPrinted
	}
	return pos, nil
}

// endedFlags reports whether the flag package stopped after parsed
// because its last argument was "--" (the end of the flags), not the value
// of a flag before it (--name --).
func endedFlags(fs *flag.FlagSet, parsed []string) bool {
	n := len(parsed)
	if n == 0 || parsed[n-1] != "--" {
		return false
	}
	if n == 1 {
		return true
	}
	prev := parsed[n-2]
	if len(prev) < 2 || prev[0] != '-' || prev == "--" || strings.Contains(prev, "=") {
		return true
	}
	f := fs.Lookup(strings.TrimLeft(prev, "-"))
	if f == nil {
		return true
	}
	if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
		return true
	}
	return false // "--" was the value of the flag before it
}

// configPath is the value of the -config flag that parseFlags adds, told
// apart from a command's own -config by its type.
type configPath string

func (c *configPath) String() string     { return string(*c) }
func (c *configPath) Set(v string) error { *c = configPath(v); return nil }

// addConfigFlag defines -config on fs unless it has one; it may be called
// before fs.Parse by commands that parse positional arguments themselves.
func addConfigFlag(fs *flag.FlagSet) {
	if fs.Lookup("config") != nil {
		return
	}
	var p configPath
	fs.Var(&p, "config", "configuration `file` (.yaml, .yml or .toml) setting flags by name; flags and SHOPSTREAM_* variables win over it (docs/operations.md)")
}

// origin says where a flag's value came from, for config print.
type origin struct {
	source string // "flag", "env SHOPSTREAM_X", "file PATH:LINE" or "default"
}

// applyEnvAndFile sets every flag not given on the command line from the
// environment or the configuration file, and returns where each flag's
// value came from.
func applyEnvAndFile(fs *flag.FlagSet) (map[string]origin, error) {
	origins := map[string]origin{}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true; origins[f.Name] = origin{"flag"} })
	var err error
	fromEnv := func(f *flag.Flag) {
		if set[f.Name] || err != nil {
			return
		}
		env := EnvName(f.Name)
		if v, ok := os.LookupEnv(env); ok {
			if e := fs.Set(f.Name, v); e != nil {
				err = usageError{fmt.Errorf("invalid value %q for %s (flag -%s): %v", v, env, f.Name, e)}
				return
			}
			set[f.Name] = true
			origins[f.Name] = origin{"env " + env}
		}
	}
	// The file's own flag first: config print may give it, or the environment.
	if f := fs.Lookup("config"); f != nil {
		if pr, ok := fs.Output().(*printRequest); ok && pr.config != "" && !set["config"] {
			if _, ours := f.Value.(*configPath); ours {
				f.Value.Set(pr.config)
				set["config"] = true
				origins["config"] = origin{"flag"}
			}
		}
		fromEnv(f)
	}
	fs.VisitAll(fromEnv)
	if err != nil {
		return nil, err
	}
	if cf, ok := fs.Lookup("config").Value.(*configPath); ok && *cf != "" {
		c, err := loadConfigFile(string(*cf))
		if err != nil {
			return nil, err
		}
		if err := c.apply(fs, set, origins); err != nil {
			return nil, err
		}
	}
	fs.VisitAll(func(f *flag.Flag) {
		if _, ok := origins[f.Name]; !ok {
			origins[f.Name] = origin{"default"}
		}
	})
	return origins, nil
}

// apply sets the flags of fs not in set from the file: the section named
// after the command (the first word of the flag set's name) wins over
// the top level. Unknown keys are errors.
func (c *configFile) apply(fs *flag.FlagSet, set map[string]bool, origins map[string]origin) error {
	command, _, _ := strings.Cut(fs.Name(), " ")
	known := commands()
	for name, line := range c.sectionLine {
		if _, ok := known[name]; !ok {
			if fs.Lookup(name) != nil {
				return c.errorf(line, "key %s: a mapping, but flag -%s takes a value", name, name)
			}
			return c.errorf(line, "unknown section %s: not a shopstream command (a section holds the flags of the command it is named after)", name)
		}
	}
	check := func(m map[string]configEntry, section string) error {
		for _, k := range sortedKeys(m) {
			e := m[k]
			switch f := fs.Lookup(k); {
			case f == nil && section == "":
				if _, ok := known[k]; ok {
					return c.errorf(e.line, "key %s is a command's name: give its flags as a mapping under it", k)
				}
				return c.errorf(e.line, "unknown key %s: shopstream %s has no flag -%s (a flag of another command goes under a section named after that command)", k, fs.Name(), k)
			case f == nil:
				return c.errorf(e.line, "unknown key %s in section %s: shopstream %s has no flag -%s", k, section, fs.Name(), k)
			case k == "config":
				return c.errorf(e.line, "key config: a configuration file cannot name another one")
			case e.list && !repeatable(f):
				return c.errorf(e.line, "key %s%s: a list, but flag -%s takes one value", k, inSection(section), k)
			}
		}
		return nil
	}
	if err := check(c.top, ""); err != nil {
		return err
	}
	own := c.sections[command]
	if err := check(own, command); err != nil {
		return err
	}
	for _, src := range []struct {
		m       map[string]configEntry
		section string
	}{{own, command}, {c.top, ""}} {
		for _, k := range sortedKeys(src.m) {
			if set[k] {
				continue
			}
			e := src.m[k]
			for _, v := range e.values {
				if err := fs.Set(k, v); err != nil {
					return c.errorf(e.line, "invalid value %q for key %s%s (flag -%s): %v", v, k, inSection(src.section), k, err)
				}
			}
			set[k] = true
			origins[k] = origin{"file " + c.where(e)}
		}
	}
	return nil
}

// repeatable reports whether a flag takes several values (its help says
// "repeatable"), so a list in the file sets it once per item.
func repeatable(f *flag.Flag) bool { return strings.Contains(f.Usage, "repeatable") }

func sortedKeys(m map[string]configEntry) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
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

// suggestFlag adds the nearest flag's name to the flag package's
// "flag provided but not defined: -adr", as "(did you mean -addr?)":
// a mistyped flag's error comes after the whole usage, where the right
// name is one of a hundred lines.
func suggestFlag(fs *flag.FlagSet, err error) error {
	name, ok := strings.CutPrefix(err.Error(), "flag provided but not defined: -")
	if !ok {
		return err
	}
	best, bestD := "", 3 // at most two edits away
	fs.VisitAll(func(f *flag.Flag) {
		if d := editDistance(name, f.Name); d < bestD { // VisitAll goes in order: the first of equals wins
			best, bestD = f.Name, d
		}
	})
	if best == "" {
		return err
	}
	return fmt.Errorf("%w (did you mean -%s?)", err, best)
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
