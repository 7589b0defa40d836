package cli

import (
	"bytes"
	"context"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/pgcluster"
	"github.com/shopstream/shopstream/internal/store/pgtest"
)

// TestPostgresPasswordFile puts the file's password, whatever its
// characters, into the URL, and refuses what it cannot use, naming the flag.
func TestPostgresPasswordFile(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte("p@ss:w/rd?#%\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f := storeFlags{postgres: "postgres://shop@db:5432/shop?sslmode=verify-full", passwordFile: pw}
	got, err := f.url()
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(got)
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := u.User.Password(); p != "p@ss:w/rd?#%" || u.User.Username() != "shop" || u.Host != "db:5432" || u.Query().Get("sslmode") != "verify-full" {
		t.Fatalf("url = %s", got)
	}
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, []byte("\n"), 0o600)
	for _, c := range []struct {
		f    storeFlags
		want string
	}{
		{storeFlags{postgres: "host=db user=shop", passwordFile: pw}, "needs --postgres as a URL"},
		{storeFlags{postgres: "postgres://db/shop", passwordFile: pw}, "needs --postgres as a URL"},
		{storeFlags{postgres: "postgres://shop@db/shop", passwordFile: empty}, "is empty"},
		{storeFlags{postgres: "postgres://shop@db/shop", passwordFile: filepath.Join(dir, "none")}, "no such file"},
	} {
		_, err := c.f.url()
		if err == nil || !IsUsage(err) || !strings.Contains(err.Error(), "-postgres-password-file") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.f, err, c.want)
		}
	}
	if got, err := (&storeFlags{postgres: "postgres://a:b@db/x"}).url(); err != nil || got != "postgres://a:b@db/x" {
		t.Errorf("without a file: %q, %v", got, err)
	}
}

// FuzzPostgresPasswordFile checks that whatever the password file holds,
// the URL carries exactly its first line's text, or the flag is refused.
func FuzzPostgresPasswordFile(f *testing.F) {
	f.Add("s3cret\n", "postgres://shop@db:5432/shop?sslmode=verify-full")
	f.Add("p@ss:w/rd?#%", "postgres://shop@db/shop")
	f.Add("", "host=db")
	f.Fuzz(func(t *testing.T, pw, dsn string) {
		file := filepath.Join(t.TempDir(), "pw")
		if err := os.WriteFile(file, []byte(pw), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := (&storeFlags{postgres: dsn, passwordFile: file}).url()
		if err != nil {
			if !IsUsage(err) || !strings.Contains(err.Error(), "-postgres-password-file") {
				t.Fatalf("error %v does not name the flag", err)
			}
			return
		}
		u, err := url.Parse(got)
		if err != nil {
			t.Fatalf("url() made %q, which does not parse: %v", got, err)
		}
		if p, _ := u.User.Password(); p != strings.TrimRight(pw, "\r\n") {
			t.Fatalf("password %q in the URL, want %q", p, strings.TrimRight(pw, "\r\n"))
		}
	})
}

// A bad --otlp-endpoint is refused at start-up, naming the flag.
func TestOTLPEndpointFlag(t *testing.T) {
	for _, args := range [][]string{{"run"}, {"serve"}, {"process", "--brokers", "127.0.0.1:1"}} {
		cmd := args[0]
		var stdout, stderr bytes.Buffer
		err := Run(context.Background(), append(args, "--otlp-endpoint", "collector:4318", "--data-dir", t.TempDir()), &stdout, &stderr)
		if err == nil || !strings.Contains(err.Error(), "-otlp-endpoint") {
			t.Errorf("%s --otlp-endpoint collector:4318: err = %v, want one naming the flag", cmd, err)
		}
	}
}

// TestOpenWaitingForPostgres: a service started before its database
// (process, serve) retries with backoff, logging each attempt, and opens
// the store once the server takes connections; a missing database fails
// at once, whatever --postgres-wait; a server that stays away fails once
// the wait is over, saying so.
func TestOpenWaitingForPostgres(t *testing.T) {
	c, err := pgcluster.Start(context.Background(), pgcluster.Options{})
	if err != nil {
		if os.Getenv(pgtest.EnvSkip) == "1" && strings.Contains(err.Error(), "install") {
			t.Skip(err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Destroy() })
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	t.Run("gone for good", func(t *testing.T) {
		var logs bytes.Buffer
		f := storeFlags{postgres: c.URL("postgres"), autoMigrate: true, wait: time.Second}
		_, err := f.openWaiting(ctx, slog.New(slog.NewTextHandler(&logs, nil)))
		if err == nil || !strings.Contains(err.Error(), "--postgres-wait") || !strings.Contains(logs.String(), "PostgreSQL not reachable yet") {
			t.Fatalf("err %v\nlogs:\n%s", err, logs.String())
		}
	})

	t.Run("started later", func(t *testing.T) {
		started := make(chan error, 1)
		logs := &watchWriter{want: regexp.MustCompile(`PostgreSQL not reachable yet.*attempt=2`), found: func() {
			go func() { started <- c.Start() }()
		}}
		f := storeFlags{postgres: c.URL("postgres"), autoMigrate: true, wait: 2 * time.Minute}
		st, err := f.openWaiting(ctx, slog.New(slog.NewTextHandler(logs, nil)))
		if err != nil {
			t.Fatalf("%v\nlogs:\n%s", err, logs.String())
		}
		defer st.Close()
		if err := <-started; err != nil {
			t.Fatal(err)
		}
		if _, err := st.Summary(ctx); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(logs.String(), "PostgreSQL reached") {
			t.Errorf("no line saying PostgreSQL was reached:\n%s", logs.String())
		}
	})

	t.Run("no such database", func(t *testing.T) {
		var logs bytes.Buffer
		f := storeFlags{postgres: c.URL("nosuchdb"), autoMigrate: true, wait: 2 * time.Minute}
		begin := time.Now()
		_, err := f.openWaiting(ctx, slog.New(slog.NewTextHandler(&logs, nil)))
		if err == nil || !strings.Contains(err.Error(), "3D000") || logs.Len() != 0 {
			t.Fatalf("err %v after %v\nlogs:\n%s", err, time.Since(begin), logs.String())
		}
	})
}
