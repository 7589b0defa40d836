package bus

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/internal/tlstest"
)

// secureBroker starts kfake speaking TLS only (requiring a client
// certificate of certs' CA) with SASL enabled and one user per mechanism.
func secureBroker(t *testing.T, certs *tlstest.Certs) []string {
	t.Helper()
	c, err := kfake.NewCluster(
		kfake.NumBrokers(1),
		kfake.SeedTopics(1, "secure"),
		kfake.TLS(certs.ServerConfig(t, true)),
		kfake.EnableSASL(),
		kfake.Superuser("PLAIN", "plain-user", "plain-secret"),
		kfake.Superuser("SCRAM-SHA-256", "scram256-user", "scram256-secret"),
		kfake.Superuser("SCRAM-SHA-512", "scram512-user", "scram512-secret"),
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

// roundTrip produces one record with sec and reads it back.
func roundTrip(t *testing.T, brokers []string, sec Security, value string, timeout time.Duration) error {
	t.Helper()
	opts, err := sec.Opts()
	if err != nil {
		t.Fatalf("Security.Opts: %v", err)
	}
	cl, err := kgo.NewClient(append(append(ClientOpts(brokers, nil), opts...),
		kgo.ConsumeTopics("secure"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "secure", Value: []byte(value)}).FirstErr(); err != nil {
		return err
	}
	for {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			return err
		}
		for _, r := range fs.Records() {
			if string(r.Value) == value {
				return nil
			}
		}
	}
}

// TestSecurityAgainstTLSAndSASL produces and consumes through a broker
// that takes TLS with client certificates and SASL, with each mechanism,
// and checks that a wrong password, a missing client certificate or an
// unknown CA are refused.
func TestSecurityAgainstTLSAndSASL(t *testing.T) {
	t.Parallel()
	certs := tlstest.New(t)
	brokers := secureBroker(t, certs)
	base := Security{CAFile: certs.CAFile, CertFile: certs.ClientCert, KeyFile: certs.ClientKey}
	for _, m := range []struct{ mech, user, pass string }{
		{SASLPlain, "plain-user", "plain-secret"},
		{SASLScramSHA256, "scram256-user", "scram256-secret"},
		{SASLScramSHA512, "scram512-user", "scram512-secret"},
	} {
		sec := base
		sec.SASL, sec.User, sec.Password = m.mech, m.user, m.pass
		if err := roundTrip(t, brokers, sec, "via "+m.mech, 30*time.Second); err != nil {
			t.Errorf("%s over TLS: %v", m.mech, err)
		}
	}
	refused := map[string]Security{
		"wrong password":    {CAFile: certs.CAFile, CertFile: certs.ClientCert, KeyFile: certs.ClientKey, SASL: SASLScramSHA256, User: "scram256-user", Password: "wrong"},
		"no client cert":    {CAFile: certs.CAFile, SASL: SASLPlain, User: "plain-user", Password: "plain-secret"},
		"unknown CA":        {CAFile: certs.OtherCAFile, CertFile: certs.ClientCert, KeyFile: certs.ClientKey, SASL: SASLPlain, User: "plain-user", Password: "plain-secret"},
		"no SASL":           base,
		"plaintext, SASL":   {SASL: SASLPlain, User: "plain-user", Password: "plain-secret"},
		"wrong mechanism":   {CAFile: certs.CAFile, CertFile: certs.ClientCert, KeyFile: certs.ClientKey, SASL: SASLScramSHA512, User: "scram256-user", Password: "scram256-secret"},
		"system roots only": {TLS: true, CertFile: certs.ClientCert, KeyFile: certs.ClientKey, SASL: SASLPlain, User: "plain-user", Password: "plain-secret"},
	}
	for name, sec := range refused {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			// Some refusals are retried until the context ends.
			if err := roundTrip(t, brokers, sec, name, 3*time.Second); err == nil {
				t.Errorf("%s: the broker took the record", name)
			}
		})
	}
}

// TestSecurityOptsErrors checks that bad settings fail before any
// connection, naming the flag.
func TestSecurityOptsErrors(t *testing.T) {
	t.Parallel()
	certs := tlstest.New(t)
	for _, c := range []struct {
		sec  Security
		want string
	}{
		{Security{SASL: "gssapi", User: "u", Password: "p"}, "kafka-sasl: unknown mechanism"},
		{Security{SASL: SASLPlain, Password: "p"}, "kafka-user: required"},
		{Security{SASL: SASLPlain, User: "u"}, "kafka-password: required"},
		{Security{User: "u", Password: "p"}, "without kafka-sasl"},
		{Security{CAFile: certs.Dir + "/missing.crt"}, "kafka-ca:"},
		{Security{CAFile: certs.ClientKey}, "kafka-ca: " + certs.ClientKey + " holds no PEM certificate"},
		{Security{CertFile: certs.ClientCert}, "kafka-cert: given without kafka-key"},
		{Security{KeyFile: certs.ClientKey}, "kafka-key: given without kafka-cert"},
		{Security{CertFile: certs.ClientCert, KeyFile: certs.ServerKey}, "kafka-cert, kafka-key:"},
	} {
		_, err := c.sec.Opts()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.sec, err, c.want)
		}
	}
	if opts, err := (Security{}).Opts(); err != nil || len(opts) != 0 || (Security{}).Enabled() {
		t.Errorf("zero Security: %d options, %v; want none", len(opts), err)
	}
}
