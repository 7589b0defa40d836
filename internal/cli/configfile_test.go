package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

// writeConfig writes a configuration file named name into a temporary
// directory and returns its path.
func writeConfig(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// testFlags is a flag set named like a real command, so its section in a
// file is "serve".
type testFlags struct {
	fs       *flag.FlagSet
	rate     *float64
	dataDir  *string
	duration *time.Duration
	logLevel *string
	public   *bool
	hooks    *multiFlag
}

func newTestFlags(out *bytes.Buffer, pr *printRequest) testFlags {
	var tf testFlags
	if pr != nil {
		tf.fs = newFlagSet("serve", pr)
	} else {
		tf.fs = newFlagSet("serve", out)
	}
	tf.rate = tf.fs.Float64("rate", 1000, "")
	tf.dataDir = tf.fs.String("data-dir", "./data", "")
	tf.duration = tf.fs.Duration("duration", 0, "")
	tf.logLevel = tf.fs.String("log-level", "info", "")
	tf.public = tf.fs.Bool("public-read", false, "")
	tf.hooks = &multiFlag{}
	tf.fs.Var(tf.hooks, "webhook", "a webhook; repeatable")
	return tf
}

func TestConfigFilePrecedence(t *testing.T) {
	files := map[string]string{
		"c.yaml": `# shared by several commands
rate: 10
data-dir: /from-file
duration: 5s
log-level: warn
webhook: [a=http://127.0.0.1:1/a, b=http://127.0.0.1:1/b]
serve:
  duration: 7s
generate:
  seed: 3
`,
		"c.toml": `# shared by several commands
rate = 10
data-dir = "/from-file"
duration = "5s"
log-level = "warn"
webhook = ["a=http://127.0.0.1:1/a", "b=http://127.0.0.1:1/b"]

[serve]
duration = "7s"

[generate]
seed = 3
`,
	}
	for name, text := range files {
		t.Run(name, func(t *testing.T) {
			path := writeConfig(t, name, text)
			t.Setenv("SHOPSTREAM_DATA_DIR", "/from-env")
			t.Setenv("SHOPSTREAM_CONFIG", path)
			var out bytes.Buffer
			tf := newTestFlags(&out, nil)
			if err := parseFlags(tf.fs, []string{"--log-level", "debug"}); err != nil {
				t.Fatal(err)
			}
			if *tf.rate != 10 || *tf.dataDir != "/from-env" || *tf.duration != 7*time.Second || *tf.logLevel != "debug" || *tf.public {
				t.Fatalf("rate %v (want 10 from the file), data-dir %q (want /from-env: env over file), duration %v (want 7s: section over top), "+
					"log-level %q (want debug: flag over file), public-read %v (want the default false)",
					*tf.rate, *tf.dataDir, *tf.duration, *tf.logLevel, *tf.public)
			}
			if got := strings.Join(*tf.hooks, " "); got != "a=http://127.0.0.1:1/a b=http://127.0.0.1:1/b" {
				t.Fatalf("webhook %q; want both items of the file's list", got)
			}

			// config print names where each value came from.
			var printed bytes.Buffer
			tf = newTestFlags(&out, &printRequest{w: &out, out: &printed})
			if err := parseFlags(tf.fs, []string{"--log-level", "debug"}); !errors.Is(err, errConfigPrinted) {
				t.Fatalf("parseFlags with a print request = %v; want errConfigPrinted", err)
			}
			durLine := "8"
			if name == "c.toml" {
				durLine = "9"
			}
			for flagName, want := range map[string]string{
				"config":      `\S+c\.` + name[2:] + `\s+env SHOPSTREAM_CONFIG`,
				"rate":        `10\s+file \S+:2$`,
				"data-dir":    `/from-env\s+env SHOPSTREAM_DATA_DIR`,
				"duration":    `7s\s+file \S+:` + durLine + `$`,
				"log-level":   `debug\s+flag`,
				"public-read": `false\s+default`,
			} {
				re := regexp.MustCompile(`(?m)^` + flagName + `\s+` + want)
				if !re.MatchString(printed.String()) {
					t.Errorf("config print has no line matching %s:\n%s", re, printed.String())
				}
			}
		})
	}
}

func TestConfigFileErrorsNameKeyAndLine(t *testing.T) {
	tests := []struct {
		name, text string
		want       []string
	}{
		{"unknown.yaml", "rate: 1\nrat: 5\n", []string{"unknown.yaml:2", "unknown key rat", "no flag -rat"}},
		{"unknown.toml", "rate = 1\nrat = 5\n", []string{"unknown.toml:2", "unknown key rat"}},
		{"section.yaml", "serve:\n  rate: 1\n  nope: 2\n", []string{"section.yaml:3", "unknown key nope in section serve"}},
		{"section.toml", "[serve]\nrate = 1\nnope = 2\n", []string{"section.toml:3", "unknown key nope in section serve"}},
		{"nosection.yaml", "srve:\n  rate: 1\n", []string{"nosection.yaml:1", "unknown section srve"}},
		{"nosection.toml", "[srve]\nrate = 1\n", []string{"nosection.toml:1", "unknown section srve"}},
		{"type.yaml", "rate: fast\n", []string{"type.yaml:1", `invalid value "fast" for key rate (flag -rate)`}},
		{"type.toml", "\nrate = \"fast\"\n", []string{"type.toml:2", `invalid value "fast" for key rate (flag -rate)`}},
		{"bool.yaml", "serve:\n  public-read: maybe\n", []string{"bool.yaml:2", "key public-read (in section serve)"}},
		{"duration.toml", "duration = 5\n", []string{"duration.toml:1", "key duration", "flag -duration"}},
		{"list.yaml", "rate: [1, 2]\n", []string{"list.yaml:1", "key rate: a list, but flag -rate takes one value"}},
		{"map.yaml", "rate:\n  x: 1\n", []string{"map.yaml:1", "key rate: a mapping"}},
		{"table.toml", "[rate]\nx = 1\n", []string{"table.toml:1", "key rate: a mapping"}},
		{"null.yaml", "rate:\n", []string{"null.yaml:1", "key rate has no value"}},
		{"dup.yaml", "rate: 1\nrate: 2\n", []string{"dup.yaml:2", "key rate given twice"}},
		{"nested.yaml", "serve:\n  generate:\n    seed: 1\n", []string{"nested.yaml:2", "key generate (in section serve): a mapping"}},
		{"itself.yaml", "config: other.yaml\n", []string{"itself.yaml:1", "cannot name another"}},
		{"command.yaml", "generate: 1\n", []string{"command.yaml:1", "key generate is a command's name"}},
		{"top.yaml", "- rate\n", []string{"top.yaml:1", "want a mapping"}},
		{"syntax.yaml", "rate: [1\n", []string{"syntax.yaml", "yaml"}},
		{"syntax.toml", "rate = = 1\n", []string{"syntax.toml:1"}},
		{"conf.json", "{}", []string{"conf.json", `unknown format ".json"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := writeConfig(t, tc.name, tc.text)
			var out bytes.Buffer
			tf := newTestFlags(&out, nil)
			err := parseFlags(tf.fs, []string{"--config", path})
			if err == nil || !IsUsage(err) {
				t.Fatalf("parseFlags = %v; want a usage error", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
	t.Run("missing", func(t *testing.T) {
		tf := newTestFlags(&bytes.Buffer{}, nil)
		err := parseFlags(tf.fs, []string{"--config", filepath.Join(t.TempDir(), "gone.yaml")})
		if err == nil || !strings.Contains(err.Error(), "flag -config") || !strings.Contains(err.Error(), "gone.yaml") {
			t.Fatalf("parseFlags = %v; want an error naming -config and the file", err)
		}
	})
}

func TestConfigPrintMasksSecrets(t *testing.T) {
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "pg-password")
	if err := os.WriteFile(pwFile, []byte("file-content-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := writeConfig(t, "c.yaml", `
postgres: postgres://shop:url-secret@127.0.0.1:5432/shop?sslmode=disable&password=query-secret
postgres-password-file: `+pwFile+`
kafka-user: shop
kafka-password-file: /run/secrets/kafka
kafka-key: /etc/tls/client.key
tls-key: /etc/tls/server.key
rate-limit-token: 7
webhook: ["ops=https://hooks.example/x?token=hook-secret"]
`)
	out, _, err := runCLI(t, "config", "print", "--config", path, "process", "--brokers", "127.0.0.1:9092")
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"url-secret", "query-secret", "hook-secret", "file-content-secret", "/x?"} {
		if strings.Contains(out, secret) {
			t.Errorf("config print shows %q:\n%s", secret, out)
		}
	}
	for _, want := range []string{
		`postgres\s+postgres://shop:\*\*\*\*@127\.0\.0\.1:5432/shop\?sslmode=disable&password=\*\*\*\*\s+file \S+c\.yaml:2`,
		`postgres-password-file\s+` + regexp.QuoteMeta(pwFile) + `\s+file`,
		`kafka-password-file\s+/run/secrets/kafka\s`,
		`kafka-key\s+/etc/tls/client\.key\s`,
		`tls-key\s+/etc/tls/server\.key\s`,
		`rate-limit-token\s+7\s+file`,
		`brokers\s+127\.0\.0\.1:9092\s+flag`,
		`webhook\s+ops=https://hooks\.example/\*\*\*\*\s`,
	} {
		if !regexp.MustCompile(`(?m)^` + want).MatchString(out) {
			t.Errorf("config print has no line matching %s:\n%s", want, out)
		}
	}

	// A string flag named like a secret is hidden whole; one that is not a
	// string (a rate) or names a file is shown.
	for _, tc := range []struct {
		f    *flag.Flag
		want string
	}{
		{&flag.Flag{Name: "ip-hash-secret", Value: stringValue("abc"), Usage: "HMAC key"}, masked},
		{&flag.Flag{Name: "kafka-password", Value: stringValue("abc")}, masked},
		{&flag.Flag{Name: "api-token", Value: stringValue("ss1_1_x")}, masked},
		{&flag.Flag{Name: "api-token", Value: stringValue("")}, ""},
		{&flag.Flag{Name: "token-file", Value: stringValue("/run/t")}, "/run/t"},
		{&flag.Flag{Name: "brokers", Value: stringValue("kafka://u:p@h:9092")}, "kafka://u:****@h:9092"},
		{&flag.Flag{Name: "webhook", Value: stringValue("a=https://hooks.slack.com/services/T0/B0/XYZ,b=http://127.0.0.1:9/x")}, "a=https://hooks.slack.com/****,b=http://127.0.0.1:9/****"},
	} {
		if got := maskedValue(tc.f); got != tc.want {
			t.Errorf("maskedValue(%s=%q) = %q; want %q", tc.f.Name, tc.f.Value, got, tc.want)
		}
	}
}

// stringValue is the value of a string flag holding s.
func stringValue(s string) flag.Value {
	fs := flag.NewFlagSet("", flag.ContinueOnError)
	fs.String("x", s, "")
	return fs.Lookup("x").Value
}

// subcommands lists the subcommands of the commands that have them; a
// command missing here is run without one.
var subcommands = map[string][]string{
	"analytics":  {"rfm", "cohorts", "clv", "segments"},
	"recommend":  {"eval"},
	"migrate":    {"status", "up"},
	"token":      {"create", "list", "revoke"},
	"quarantine": {"list", "show", "replay", "purge"},
	"iforest":    {"", "train", "score"},
	"customer":   {"erase"},
	// quality check's -config is its contract file, not this
	// configuration (docs/operations.md).
	"quality": nil,
	"config":  nil,
}

// positional is what a subcommand needs after its flags to get as far as
// reading them.
var positional = map[string][]string{"token revoke": {"1"}, "quarantine show": {"1"}, "customer erase": {"C000001"}}

// TestEveryCommandReadsConfigFile runs every command and subcommand with a
// file holding a key no command has: each must fail naming it (so it read
// the file), and config print must print each one's flags.
func TestEveryCommandReadsConfigFile(t *testing.T) {
	bad := writeConfig(t, "bad.yaml", "no-such-flag-anywhere: 1\n")
	empty := writeConfig(t, "empty.toml", "")
	var names []string
	for name := range commands() {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		subs, ok := subcommands[name]
		if !ok {
			subs = []string{""}
		}
		for _, sub := range subs {
			cmd := []string{name}
			if sub != "" {
				cmd = append(cmd, sub)
			}
			t.Run(strings.Join(cmd, "_"), func(t *testing.T) {
				args := append(append(append([]string{}, cmd...), "--config", bad), positional[strings.Join(cmd, " ")]...)
				err := Run(context.Background(), args, &bytes.Buffer{}, &bytes.Buffer{})
				if err == nil || !strings.Contains(err.Error(), "unknown key no-such-flag-anywhere") || !strings.Contains(err.Error(), "bad.yaml:1") {
					t.Fatalf("shopstream %s = %v; want an error naming the unknown key and bad.yaml:1 "+
						"(a command with subcommands needs them listed in subcommands)", strings.Join(args, " "), err)
				}
				pargs := append(append([]string{"config", "print", "--config", empty}, cmd...), positional[strings.Join(cmd, " ")]...)
				out, _, err := runCLI(t, pargs...)
				if err != nil || !strings.Contains(out, "# shopstream "+name) || !regexp.MustCompile(`(?m)^config\s+\S+empty\.toml\s+flag$`).MatchString(out) {
					t.Fatalf("shopstream %s = %v:\n%s\nwant the flags printed, config from the flag", strings.Join(pargs, " "), err, out)
				}
			})
		}
	}
}

// FuzzConfigFile feeds the YAML and TOML readers arbitrary files: they
// must never panic, and what they accept must apply to a flag set or fail
// with an error naming the file.
func FuzzConfigFile(f *testing.F) {
	f.Add([]byte("rate: 10\nserve:\n  duration: 7s\nwebhook: [a=http://h/a]\n"), false)
	f.Add([]byte("rate = 10\n[serve]\nduration = \"7s\"\nwebhook = [\"a=http://h/a\"]\n"), true)
	f.Add([]byte("a: &x 1\nb: *x\n"), false)
	f.Add([]byte("[a.b]\nc = 1979-05-27T07:32:00Z\nd = [[1], [2]]\n"), true)
	f.Fuzz(func(t *testing.T, b []byte, isTOML bool) {
		var (
			c   *configFile
			err error
		)
		if isTOML {
			c, err = parseTOMLConfig("f.toml", b)
		} else {
			c, err = parseYAMLConfig("f.yaml", b)
		}
		if err != nil {
			if !strings.Contains(err.Error(), "config file f.") {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		tf := newTestFlags(&bytes.Buffer{}, nil)
		if err := c.apply(tf.fs, map[string]bool{}, map[string]origin{}); err != nil && !strings.Contains(err.Error(), "config file f.") {
			t.Fatalf("error %q does not name the file", err)
		}
	})
}
