package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"strings"
	"testing"
	"time"
)

func TestEnvironmentSetsFlags(t *testing.T) {
	t.Setenv("SHOPSTREAM_RATE", "250")
	t.Setenv("SHOPSTREAM_DATA_DIR", "/tmp/x")
	fs := newFlagSet("t", &bytes.Buffer{})
	rate := fs.Float64("rate", 1000, "")
	dir := fs.String("data-dir", "./data", "")
	dur := fs.Duration("duration", 0, "")
	if err := parseFlags(fs, []string{"--duration", "3s"}); err != nil {
		t.Fatal(err)
	}
	if *rate != 250 || *dir != "/tmp/x" || *dur != 3*time.Second {
		t.Fatalf("rate %v, data-dir %q, duration %v; want 250 from the environment, /tmp/x, 3s", *rate, *dir, *dur)
	}
	// The command line wins over the environment.
	fs = newFlagSet("t", &bytes.Buffer{})
	rate = fs.Float64("rate", 1000, "")
	fs.String("data-dir", "./data", "")
	if err := parseFlags(fs, []string{"--rate", "7"}); err != nil || *rate != 7 {
		t.Fatalf("rate %v, %v; want 7 from the command line", *rate, err)
	}
}

func TestBadValuesNameTheFlag(t *testing.T) {
	tests := []struct {
		args []string
		env  map[string]string
		want string
	}{
		{args: []string{"run", "--rate", "-5"}, want: "-rate"},
		{args: []string{"run", "--history", "yesterday"}, want: "-history"},
		{args: []string{"run", "--review-at", "2"}, want: "-review-at"},
		{args: []string{"process"}, want: "-brokers"},
		{args: []string{"run", "--retain-transactions", "a month"}, want: "-retain-transactions"},
		{args: []string{"serve", "--retain-alerts", "-1h"}, want: "-retain-alerts"},
		{args: []string{"run", "--retention-batch", "0"}, want: "-retention-batch"},
		{args: []string{"serve", "--products-fold-chunk", "-1"}, want: "-products-fold-chunk"},
		{args: []string{"process", "--background-share", "0"}, want: "-background-share"},
		{args: []string{"process", "--background-share", "1.5"}, want: "-background-share"},
		{args: []string{"process", "--analytics-workers", "0"}, want: "-analytics-workers"},
		{args: []string{"process", "--memory-limit", "900MB"}, want: "-memory-limit"},
		{args: []string{"run", "--retain-broker", "-1m"}, want: "-retain-broker"},
		{args: []string{"run", "--fetch-max-wait", "5ms"}, want: "-fetch-max-wait"},
		{args: []string{"run", "--fetch-max-wait", "1m"}, want: "-fetch-max-wait"},
		{args: []string{"run", "--fetch-min-bytes", "0"}, want: "-fetch-min-bytes"},
		{args: []string{"run", "--fetch-min-bytes", "51MiB"}, want: "-fetch-min-bytes"},
		{args: []string{"process", "--fetch-min-bytes", "1MB"}, want: "-fetch-min-bytes"},
		{args: []string{"run", "--memprofile-every", "1m"}, want: "-memprofile-every"},
		{args: []string{"process", "--memprofile-every", "1m"}, want: "-memprofile-every"},
		{args: []string{"process", "--memprofile", "/tmp/x.prof", "--memprofile-every", "-1m"}, want: "-memprofile-every"},
		{args: []string{"run", "--analytics-fold-max-customers", "-1"}, want: "-analytics-fold-max-customers"},
		{args: []string{"fraud-eval", "--fraud-max-customers", "-1"}, want: "-fraud-max-customers"},
		{args: []string{"serve", "--read-cache", "-1s"}, want: "-read-cache"},
		{args: []string{"run", "--ip-hash-key-file", "/nonexistent/ip.key"}, want: "-ip-hash-key-file"},
		{args: []string{"run", "--address-key-file", "/nonexistent/address.key"}, want: "-address-key-file"},
		{args: []string{"serve", "--address-key-file", "/nonexistent/address.key"}, want: "-address-key-file"},
		{args: []string{"run"}, env: map[string]string{"SHOPSTREAM_RETAIN_QUARANTINE": "soon"}, want: "SHOPSTREAM_RETAIN_QUARANTINE"},
		{args: []string{"run"}, env: map[string]string{"SHOPSTREAM_RATE": "fast"}, want: "SHOPSTREAM_RATE"},
		{args: []string{"nonsense"}, want: `unknown command "nonsense"`},
		// A mistyped flag is named, with the nearest real one.
		{args: []string{"serve", "--adr", ":1"}, want: "flag provided but not defined: -adr (did you mean -addr?)"},
		{args: []string{"token", "create", "--roles", "admin"}, want: "-roles (did you mean -role?)"},
		{args: []string{"run", "--retain-transaction", "1h"}, want: "(did you mean -retain-transactions?)"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			err := Run(context.Background(), tc.args, &bytes.Buffer{}, &bytes.Buffer{})
			if err == nil || !IsUsage(err) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Run(%v) = %v; want a usage error naming %s", tc.args, err, tc.want)
			}
		})
	}
}

// TestHelpCommand: shopstream help COMMAND [SUBCOMMAND] shows that
// command's own help, as COMMAND -h does; an unknown name is a usage
// error naming the nearest command.
func TestHelpCommand(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"help", "serve"}, "-addr"},
		{[]string{"help", "token"}, "shopstream token create --role"},
		{[]string{"help", "migrate", "up"}, "-data-dir"},
	} {
		_, stderr, err := runCLI(t, c.args...)
		if err != nil && !errors.Is(err, flag.ErrHelp) {
			t.Errorf("%v: %v", c.args, err)
		}
		if !strings.Contains(stderr, c.want) {
			t.Errorf("%v printed no %q:\n%s", c.args, c.want, stderr)
		}
	}
	for _, args := range [][]string{{"help", "serv"}, {"serv"}} {
		if _, _, err := runCLI(t, args...); err == nil || !IsUsage(err) || !strings.Contains(err.Error(), `unknown command "serv" (did you mean serve?)`) {
			t.Errorf("%v: %v, want an unknown command naming serve", args, err)
		}
	}
	if _, _, err := runCLI(t, "config", "print", "serv"); err == nil || !IsUsage(err) || !strings.Contains(err.Error(), `config print: unknown command "serv" (did you mean serve?)`) {
		t.Errorf("config print serv: %v, want an unknown command naming serve", err)
	}
	if _, _, err := runCLI(t, "zzzzzzzz"); err == nil || strings.Contains(err.Error(), "did you mean") {
		t.Errorf("zzzzzzzz: %v, want an unknown command with no suggestion", err)
	}
}
