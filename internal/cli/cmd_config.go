package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"strings"
	"text/tabwriter"
	"time"
)

const configUsage = `Usage: shopstream config print [--config FILE] COMMAND [SUBCOMMAND] [flags]

Prints the flags COMMAND would run with, the value of each and where it came
from: flag (the command line), env SHOPSTREAM_<FLAG>, file PATH:LINE (the
--config file), or default. Secrets are masked: passwords in URLs, and the
values of flags named *secret*, *password*, *token* or *key* (file flags show
their path; no file is read but the configuration file). Nothing is started.
`

// runConfig is `shopstream config print`.
func runConfig(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		io.WriteString(stderr, configUsage)
		if len(args) == 0 {
			return usageError{errors.New("config: no subcommand given: want print")}
		}
		return flag.ErrHelp
	}
	if args[0] != "print" {
		io.WriteString(stderr, configUsage)
		return usageError{fmt.Errorf("config: unknown subcommand %q: want print", args[0])}
	}
	pr := &printRequest{w: stderr, out: stdout}
	rest := args[1:]
	for len(rest) > 0 && strings.HasPrefix(rest[0], "-") {
		name, val, hasVal := strings.Cut(strings.TrimLeft(rest[0], "-"), "=")
		if name != "config" {
			return usageError{fmt.Errorf("config print: unknown flag %s before the command: only --config FILE goes there", rest[0])}
		}
		if !hasVal {
			if len(rest) < 2 {
				return usageError{errors.New("config print: flag -config needs a file")}
			}
			val, rest = rest[1], rest[1:]
		}
		pr.config, rest = val, rest[1:]
	}
	if len(rest) == 0 {
		io.WriteString(stderr, configUsage)
		return usageError{errors.New("config print: name the command whose configuration to print, e.g. shopstream config print serve")}
	}
	cmds := commands()
	c, ok := cmds[rest[0]]
	if rest[0] == "config" {
		return usageError{errors.New("config print: config has no configuration of its own; name another command, e.g. shopstream config print serve")}
	}
	if !ok {
		return usageError{fmt.Errorf("config print: %w", unknownCommand(rest[0], cmds))}
	}
	err := c.run(ctx, rest[1:], stdout, pr)
	switch {
	case errors.Is(err, errConfigPrinted):
		return nil
	case err != nil:
		return err
	}
	return fmt.Errorf("config print: shopstream %s finished without reading flags", rest[0])
}

// errConfigPrinted stops a command once config print has printed its
// flags, before it does anything.
var errConfigPrinted = errors.New("configuration printed")

// printRequest is the stderr that config print hands a command: the
// command's flag set carries it as its output, and parseFlags, seeing it,
// prints the flags instead of letting the command run.
type printRequest struct {
	w      io.Writer // the real stderr
	out    io.Writer // where the configuration goes
	config string    // --config given before the command
}

func (p *printRequest) Write(b []byte) (int, error) { return p.w.Write(b) }

// print writes the flags of fs, masked, with their origins.
func (p *printRequest) print(fs *flag.FlagSet, origins map[string]origin) {
	tw := tabwriter.NewWriter(p.out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "# shopstream %s\nFLAG\tVALUE\tFROM\n", fs.Name())
	fs.VisitAll(func(f *flag.Flag) {
		v := maskedValue(f)
		if v == "" {
			v = `""`
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", f.Name, v, origins[f.Name].source)
	})
	tw.Flush()
}

const masked = "****"

var (
	secretName = regexp.MustCompile(`(?i)secret|password|passwd|token|key`)
	// user:password@ in a URL.
	urlPassword = regexp.MustCompile(`(://[^/@:\s]*:)[^@\s]*@`)
	// password=..., secret=..., token=..., api_key=... in a query string
	// or a keyword/value DSN.
	paramSecret = regexp.MustCompile(`(?i)((?:^|[?&;\s])[a-z_.-]*(?:password|passwd|secret|token|api_?key)=)[^&;\s]*`)
)

// maskedValue is the flag's value as config print shows it: the value of
// a flag named like a secret is hidden, unless the flag names a file (its
// path is shown) or is not a string (a rate, a switch); passwords inside
// URLs and DSNs of any flag are hidden, and so are the paths of webhook
// URLs.
func maskedValue(f *flag.Flag) string {
	v := f.Value.String()
	if v == "" {
		return v
	}
	if secretName.MatchString(f.Name) && !isFileFlag(f) && isStringFlag(f) {
		return masked
	}
	v = urlPassword.ReplaceAllString(v, "${1}"+masked+"@")
	v = paramSecret.ReplaceAllString(v, "${1}"+masked)
	if strings.Contains(strings.ToLower(f.Name), "webhook") {
		// A webhook's path is often its secret (Slack's, for one).
		v = urlPath.ReplaceAllString(v, "${1}/"+masked)
	}
	return v
}

// urlPath is the path, query and fragment of a URL.
var urlPath = regexp.MustCompile(`(https?://[^/\s,]+)/[^\s,]*`)

// isFileFlag reports whether a flag names a file or directory: its name
// ends so, its help names its argument `file`, or it is a PEM file (the
// TLS key flags). When in doubt a secret-named flag stays masked.
func isFileFlag(f *flag.Flag) bool {
	n := strings.ToLower(f.Name)
	return strings.HasSuffix(n, "-file") || strings.HasSuffix(n, "-dir") || strings.HasSuffix(n, "-path") ||
		strings.Contains(f.Usage, "`file`") || pemFile.MatchString(f.Usage)
}

var pemFile = regexp.MustCompile(`\bPEM\b.*\bfile\b`)

// isStringFlag reports whether a flag holds text (or a type of its own),
// rather than a number, switch or duration.
func isStringFlag(f *flag.Flag) bool {
	g, ok := f.Value.(flag.Getter)
	if !ok {
		return true
	}
	switch g.Get().(type) {
	case bool, int, int64, uint, uint64, float64, time.Duration:
		return false
	}
	return true
}
