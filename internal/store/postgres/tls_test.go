package postgres_test

import (
	"context"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/shopstream/shopstream/internal/pgcluster"
	"github.com/shopstream/shopstream/internal/store/pgtest"
	"github.com/shopstream/shopstream/internal/store/postgres"
	"github.com/shopstream/shopstream/internal/tlstest"
)

// TestPostgresTLS opens the store over TLS, configured in the URL alone,
// against a throwaway server with ssl=on and a certificate signed by a CA
// made in the test: verify-full connects (and the session is encrypted),
// a CA that did not sign the server's certificate is refused.
func TestPostgresTLS(t *testing.T) {
	if os.Getenv(pgtest.EnvURL) != "" {
		t.Skipf("%s names a server of its own; this test needs to start one with ssl=on", pgtest.EnvURL)
	}
	certs := tlstest.New(t)
	// The server reads its key only when it owns the file (mode 0600), and
	// runs as the "postgres" user when the tests run as root: it gets
	// copies in a directory of its own.
	dir, err := os.MkdirTemp("", "shopstream-pgtls-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	serverCert, serverKey := filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key")
	for from, to := range map[string]string{certs.ServerCert: serverCert, certs.ServerKey: serverKey} {
		b, err := os.ReadFile(from)
		if err == nil {
			err = os.WriteFile(to, b, 0o600)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if os.Geteuid() == 0 {
		u, err := user.Lookup(pgcluster.Superuser)
		if err != nil {
			t.Fatal(err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		for _, p := range []string{dir, serverCert, serverKey} {
			if err := os.Chown(p, uid, gid); err != nil {
				t.Fatal(err)
			}
		}
	}
	c, err := pgcluster.Start(context.Background(), pgcluster.Options{Settings: map[string]string{
		"ssl": "on", "ssl_cert_file": serverCert, "ssl_key_file": serverKey,
	}})
	if err != nil {
		if os.Getenv(pgtest.EnvSkip) == "1" && strings.Contains(err.Error(), "install") {
			t.Skip(err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Destroy() })
	url := func(ca string) string {
		return fmt.Sprintf("postgres://%s@127.0.0.1:%d/postgres?sslmode=verify-full&sslrootcert=%s", pgcluster.Superuser, c.Port(), ca)
	}
	ctx := context.Background()
	s, err := postgres.Open(ctx, url(certs.CAFile))
	if err != nil {
		t.Fatalf("opening over TLS: %v\n%s", err, c.LogTail(20))
	}
	defer s.Close()
	var encrypted bool
	if err := s.Pool().QueryRow(ctx, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").Scan(&encrypted); err != nil || !encrypted {
		t.Fatalf("session encrypted: %v, %v; want true", encrypted, err)
	}
	if s, err := postgres.Open(ctx, url(certs.OtherCAFile)); err == nil {
		s.Close()
		t.Fatal("a server whose certificate the CA did not sign was accepted")
	} else if !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("unknown CA: %v, want a certificate error", err)
	}
}
