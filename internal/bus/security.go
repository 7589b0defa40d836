package bus

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// SASL mechanisms Security accepts.
const (
	SASLPlain       = "plain"
	SASLScramSHA256 = "scram-sha-256"
	SASLScramSHA512 = "scram-sha-512"
)

// Security is how a client reaches Kafka: TLS (verifying the brokers,
// optionally with a client certificate) and SASL authentication. The zero
// value is plaintext and unauthenticated, as the embedded broker speaks.
type Security struct {
	// TLS encrypts connections, verifying the brokers against CAFile or,
	// without it, the system's roots. Defaults to false; CAFile, CertFile
	// and KeyFile imply it.
	TLS bool
	// CAFile is a PEM bundle of the CAs the brokers' certificates chain
	// to. Defaults to "" (the system's roots).
	CAFile string
	// CertFile and KeyFile are the client's PEM certificate and key, for
	// brokers that require one (mutual TLS). Both or neither; default none.
	CertFile, KeyFile string
	// SASL is the mechanism: "plain", "scram-sha-256" or "scram-sha-512".
	// Defaults to "" (no SASL).
	SASL string
	// User and Password authenticate with SASL; required with it.
	User, Password string
}

// Enabled reports whether s asks for anything beyond plaintext.
func (s Security) Enabled() bool { return s.tlsEnabled() || s.SASL != "" }

func (s Security) tlsEnabled() bool {
	return s.TLS || s.CAFile != "" || s.CertFile != "" || s.KeyFile != ""
}

// Opts returns the client options that carry s out: a TLS dialer and a
// SASL mechanism. It reads the certificate files now, so a missing or
// malformed file fails at start-up, named. Errors name the fields as the
// flags do (kafka-ca, kafka-sasl, ...).
func (s Security) Opts() ([]kgo.Opt, error) {
	var opts []kgo.Opt
	if s.tlsEnabled() {
		cfg, err := s.tlsConfig()
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.DialTLSConfig(cfg))
	}
	if s.SASL != "" || s.User != "" || s.Password != "" {
		m, err := s.mechanism()
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.SASL(m))
	}
	return opts, nil
}

func (s Security) tlsConfig() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if s.CAFile != "" {
		pem, err := os.ReadFile(s.CAFile)
		if err != nil {
			return nil, fmt.Errorf("kafka-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("kafka-ca: %s holds no PEM certificate", s.CAFile)
		}
		cfg.RootCAs = pool
	}
	switch {
	case s.CertFile != "" && s.KeyFile != "":
		cert, err := tls.LoadX509KeyPair(s.CertFile, s.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("kafka-cert, kafka-key: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	case s.CertFile != "":
		return nil, errors.New("kafka-cert: given without kafka-key")
	case s.KeyFile != "":
		return nil, errors.New("kafka-key: given without kafka-cert")
	}
	return cfg, nil
}

func (s Security) mechanism() (sasl.Mechanism, error) {
	if s.SASL == "" {
		return nil, errors.New("kafka-user, kafka-password: given without kafka-sasl (plain, scram-sha-256 or scram-sha-512)")
	}
	if s.User == "" {
		return nil, fmt.Errorf("kafka-user: required with kafka-sasl %s", s.SASL)
	}
	if s.Password == "" {
		return nil, fmt.Errorf("kafka-password: required with kafka-sasl %s", s.SASL)
	}
	switch strings.ToLower(s.SASL) {
	case SASLPlain:
		return plain.Auth{User: s.User, Pass: s.Password}.AsMechanism(), nil
	case SASLScramSHA256:
		return scram.Auth{User: s.User, Pass: s.Password}.AsSha256Mechanism(), nil
	case SASLScramSHA512:
		return scram.Auth{User: s.User, Pass: s.Password}.AsSha512Mechanism(), nil
	}
	return nil, fmt.Errorf("kafka-sasl: unknown mechanism %q: want plain, scram-sha-256 or scram-sha-512", s.SASL)
}
