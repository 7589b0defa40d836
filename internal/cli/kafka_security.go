package cli

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/internal/bus"
)

// kafkaSecurityFlags are how every command that talks to Kafka reaches
// it: TLS and SASL (bus.Security). The password is read from a file, so
// it appears on no command line and in no process listing.
type kafkaSecurityFlags struct {
	sec          bus.Security
	passwordFile string
}

func (f *kafkaSecurityFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&f.sec.TLS, "kafka-tls", false, "connect to Kafka over TLS, verifying the brokers against --kafka-ca or the system's roots (implied by --kafka-ca, --kafka-cert, --kafka-key)")
	fs.StringVar(&f.sec.CAFile, "kafka-ca", "", "PEM `file` of the CAs the Kafka brokers' certificates chain to (default: the system's roots)")
	fs.StringVar(&f.sec.CertFile, "kafka-cert", "", "PEM `file` of this client's certificate, for brokers that require one (with --kafka-key)")
	fs.StringVar(&f.sec.KeyFile, "kafka-key", "", "PEM `file` of this client's private key (with --kafka-cert)")
	fs.StringVar(&f.sec.SASL, "kafka-sasl", "", "SASL mechanism: plain, scram-sha-256 or scram-sha-512 (default: none)")
	fs.StringVar(&f.sec.User, "kafka-user", "", "SASL user name (with --kafka-sasl)")
	fs.StringVar(&f.passwordFile, "kafka-password-file", "", "`file` holding the SASL password (with --kafka-sasl; a trailing newline is ignored)")
}

// opts reads the password file and the certificates and returns the
// client options; a bad value fails naming its flag.
func (f *kafkaSecurityFlags) opts() ([]kgo.Opt, error) {
	sec := f.sec
	// The mechanism first: a misspelt one is the mistake to name, not the
	// password file that would come with a real one.
	switch strings.ToLower(sec.SASL) {
	case "", bus.SASLPlain, bus.SASLScramSHA256, bus.SASLScramSHA512:
	default:
		return nil, usageError{fmt.Errorf("flag -kafka-sasl: unknown mechanism %q: want plain, scram-sha-256 or scram-sha-512", sec.SASL)}
	}
	if f.passwordFile != "" {
		b, err := os.ReadFile(f.passwordFile)
		if err != nil {
			return nil, usageError{fmt.Errorf("flag -kafka-password-file: %w", err)}
		}
		sec.Password = strings.TrimRight(string(b), "\r\n")
		if sec.Password == "" {
			return nil, usageError{fmt.Errorf("flag -kafka-password-file: %s is empty", f.passwordFile)}
		}
	}
	if sec.SASL != "" && sec.Password == "" {
		return nil, usageError{fmt.Errorf("flag -kafka-password-file: required with --kafka-sasl %s", sec.SASL)}
	}
	opts, err := sec.Opts()
	if err != nil {
		// bus names the settings as the flags are named.
		return nil, usageError{fmt.Errorf("flag -%w", err)}
	}
	return opts, nil
}

// given reports whether any of the flags was set.
func (f *kafkaSecurityFlags) given() bool {
	return f.sec != (bus.Security{}) || f.passwordFile != ""
}

// args returns the flags that give a child process (bench's generate and
// process) the same settings: the password by its file, never on the
// command line.
func (f *kafkaSecurityFlags) args() []string {
	var a []string
	if f.sec.TLS {
		a = append(a, "--kafka-tls=true")
	}
	for _, kv := range [][2]string{{"kafka-ca", f.sec.CAFile}, {"kafka-cert", f.sec.CertFile}, {"kafka-key", f.sec.KeyFile},
		{"kafka-sasl", f.sec.SASL}, {"kafka-user", f.sec.User}, {"kafka-password-file", f.passwordFile}} {
		if kv[1] != "" {
			a = append(a, "--"+kv[0], kv[1])
		}
	}
	return a
}
