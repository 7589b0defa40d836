package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/internal/bus"
	"github.com/shopstream/shopstream/internal/tlstest"
)

// TestKafkaSecurityEndToEnd runs generate and process as a deployment
// would, against a broker that takes only TLS with a client certificate
// and SASL/SCRAM-SHA-512: generate produces through the flags, process
// (configured through the environment) consumes, stores and commits
// every record to its group.
func TestKafkaSecurityEndToEnd(t *testing.T) {
	certs := tlstest.New(t)
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, bus.TopicTransactions),
		kfake.TLS(certs.ServerConfig(t, true)), kfake.EnableSASL(),
		kfake.Superuser("SCRAM-SHA-512", "shop", "s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	brokers := strings.Join(c.ListenAddrs(), ",")
	pw := filepath.Join(t.TempDir(), "kafka-password")
	if err := os.WriteFile(pw, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sec := []string{"--kafka-ca", certs.CAFile, "--kafka-cert", certs.ClientCert, "--kafka-key", certs.ClientKey,
		"--kafka-sasl", "scram-sha-512", "--kafka-user", "shop", "--kafka-password-file", pw}

	const n = 40
	if _, stderr, err := runCLI(t, append([]string{"generate", "--brokers", brokers, "--rate", "0", "--count", "40", "--customers", "50"}, sec...)...); err != nil {
		t.Fatalf("generate over TLS and SASL: %v\n%s", err, stderr)
	}
	for i := 0; i < len(sec); i += 2 {
		t.Setenv(EnvName(strings.TrimPrefix(sec[i], "--")), sec[i+1])
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("process: %v", err)
		}
	}()
	go func() {
		var stdout, stderr bytes.Buffer
		err := Run(ctx, []string{"process", "--brokers", brokers, "--data-dir", t.TempDir(), "--group", "secure", "--instance-id", "p1", "--log-level", "error"}, &stdout, &stderr)
		if err != nil {
			err = fmt.Errorf("%w\n%s", err, stderr.String())
		}
		done <- err
	}()

	opts, err := (&kafkaSecurityFlags{sec: bus.Security{CAFile: certs.CAFile, CertFile: certs.ClientCert, KeyFile: certs.ClientKey,
		SASL: bus.SASLScramSHA512, User: "shop"}, passwordFile: pw}).opts()
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(append(bus.ClientOpts(c.ListenAddrs(), nil), opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case err := <-done:
			done <- nil
			t.Fatalf("process ended before committing: %v", err)
		default:
		}
		var committed int64
		if offs, err := adm.FetchOffsets(context.Background(), "secure"); err == nil {
			offs.Each(func(o kadm.OffsetResponse) { committed += o.At })
		}
		if committed == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the group committed %d of %d records", committed, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestKafkaSecurityFlagErrors checks that bad security settings fail at
// start-up, before any connection, naming the flag.
func TestKafkaSecurityFlagErrors(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"process", "--brokers", "127.0.0.1:1", "--kafka-sasl", "scram-sha-256", "--kafka-user", "u", "--kafka-password-file", empty}, "-kafka-password-file: " + empty + " is empty"},
		{[]string{"process", "--brokers", "127.0.0.1:1", "--kafka-sasl", "plain", "--kafka-user", "u"}, "-kafka-password-file: required with --kafka-sasl plain"},
		{[]string{"generate", "--brokers", "127.0.0.1:1", "--kafka-sasl", "plain", "--kafka-user", "u", "--kafka-password-file", "/dev/null/x"}, "-kafka-password-file:"},
		// A misspelt mechanism is named before the password it would need.
		{[]string{"process", "--brokers", "127.0.0.1:1", "--kafka-sasl", "gssapi", "--kafka-user", "u", "--kafka-password-file", empty}, `-kafka-sasl: unknown mechanism "gssapi"`},
		{[]string{"generate", "--brokers", "127.0.0.1:1", "--kafka-sasl", "scram-sha256"}, `-kafka-sasl: unknown mechanism "scram-sha256": want plain, scram-sha-256 or scram-sha-512`},
		{[]string{"serve", "--kafka-ca", filepath.Join(dir, "missing.pem")}, "-kafka-ca:"},
		{[]string{"quarantine", "replay", "--all", "--kafka-cert", "c.pem"}, "-kafka-cert: given without kafka-key"},
		{[]string{"process", "--brokers", "127.0.0.1:1", "--kafka-user", "u"}, "without kafka-sasl"},
	} {
		args := c.args
		if args[0] != "generate" {
			args = append(args, "--data-dir", dir)
		}
		_, _, err := runCLI(t, args...)
		if err == nil || !IsUsage(err) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want a usage error with %q", c.args, err, c.want)
		}
	}
}

// TestEveryKafkaCommandHasSecurityFlags: every command (and subcommand)
// with -brokers also takes the Kafka TLS and SASL flags.
func TestEveryKafkaCommandHasSecurityFlags(t *testing.T) {
	empty := writeConfig(t, "empty.toml", "")
	checked := 0
	for name := range commands() {
		subs, ok := subcommands[name]
		if !ok {
			subs = []string{""}
		}
		for _, sub := range subs {
			cmd := []string{name}
			if sub != "" {
				cmd = append(cmd, sub)
			}
			if name == "config" || name == "quality" {
				continue
			}
			args := append(append([]string{"config", "print", "--config", empty}, cmd...), positional[strings.Join(cmd, " ")]...)
			out, _, err := runCLI(t, args...)
			if err != nil {
				t.Fatalf("%v: %v", args, err)
			}
			if !regexp.MustCompile(`(?m)^brokers\s`).MatchString(out) {
				continue
			}
			checked++
			for _, f := range []string{"kafka-tls", "kafka-ca", "kafka-cert", "kafka-key", "kafka-sasl", "kafka-user", "kafka-password-file"} {
				if !regexp.MustCompile(`(?m)^` + f + `\s`).MatchString(out) {
					t.Errorf("shopstream %s has -brokers but no -%s", strings.Join(cmd, " "), f)
				}
			}
		}
	}
	if checked < 5 {
		t.Fatalf("only %d commands have -brokers", checked)
	}
}

// TestBenchKafkaSecurity: bench's security flags need -brokers, are
// checked before anything starts, and reach the deployed phase's children
// as the same flags, the password by its file.
func TestBenchKafkaSecurity(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"bench", "--kafka-sasl", "plain", "--kafka-user", "u"}, "-brokers"},
		{[]string{"bench", "--brokers", "127.0.0.1:1", "--kafka-sasl", "plain", "--kafka-user", "u"}, "-kafka-password-file: required with --kafka-sasl plain"},
		{[]string{"bench", "--brokers", "127.0.0.1:1", "--kafka-cert", "c.pem"}, "-kafka-cert: given without kafka-key"},
	} {
		if _, _, err := runCLI(t, c.args...); err == nil || !IsUsage(err) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want a usage error with %q", c.args, err, c.want)
		}
	}
	given := []string{"--kafka-tls", "--kafka-ca", "ca.pem", "--kafka-cert", "c.pem", "--kafka-key", "k.pem", "--kafka-sasl", "scram-sha-256",
		"--kafka-user", "shop", "--kafka-password-file", "/run/secrets/kafka"}
	fs := newFlagSet("t", &bytes.Buffer{})
	var a kafkaSecurityFlags
	a.register(fs)
	if err := fs.Parse(given); err != nil {
		t.Fatal(err)
	}
	fs = newFlagSet("t", &bytes.Buffer{})
	var b kafkaSecurityFlags
	b.register(fs)
	if err := fs.Parse(a.args()); err != nil {
		t.Fatal(err)
	}
	if b != a || !a.given() {
		t.Fatalf("args %q parse to %+v, want %+v", a.args(), b, a)
	}
	if (&kafkaSecurityFlags{}).given() || len((&kafkaSecurityFlags{}).args()) != 0 {
		t.Fatal("no flags given, but given() or args() say otherwise")
	}
}
