package cli

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v5"

	"github.com/shopstream/shopstream/internal/datadir"
	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/postgres"
	"github.com/shopstream/shopstream/internal/store/sqlite"
)

// storeFlags are the flags of every command that reads or writes the store.
type storeFlags struct {
	dataDir  string
	postgres string
	// passwordFile holds the PostgreSQL password, put into the URL at
	// open, so it appears on no command line.
	passwordFile string
	// autoMigrate applies pending migrations at open; false refuses a
	// schema older than the build's (a newer one is refused either way).
	autoMigrate bool
	command     string // what holds the data dir's lock, e.g. "shopstream serve"
	// wait is how long a service's start-up (openWaiting) retries a
	// PostgreSQL it cannot reach yet; registered by registerWait.
	wait time.Duration
}

// registerWait adds --postgres-wait, for the services (process, serve).
func (f *storeFlags) registerWait(fs *flag.FlagSet) {
	fs.DurationVar(&f.wait, "postgres-wait", 5*time.Minute, "how long start-up waits for a PostgreSQL it cannot reach yet (not started, starting up, out of connections), retrying with backoff and logging each attempt; 0 fails at once. A refused login or a missing database fails at once either way")
}

// openWaiting is open, retrying while PostgreSQL cannot be reached
// (postgres.Unreachable) for up to --postgres-wait, with a jittered
// backoff from 500 ms doubling to 15 s, each failure logged as a warning.
// A container started beside its database, or a process restarted while
// the database fails over, then starts once the database takes
// connections instead of exiting.
func (f *storeFlags) openWaiting(ctx context.Context, logger *slog.Logger) (store.Store, error) {
	if f.postgres == "" || f.wait <= 0 {
		return f.open(ctx)
	}
	b := &backoff.ExponentialBackOff{InitialInterval: 500 * time.Millisecond, RandomizationFactor: 0.3, Multiplier: 2, MaxInterval: 15 * time.Second}
	b.Reset()
	start := time.Now()
	for attempt := 1; ; attempt++ {
		st, err := f.open(ctx)
		if err == nil {
			if attempt > 1 {
				logger.Info("PostgreSQL reached", "attempts", attempt, "waited", time.Since(start).Round(time.Millisecond).String())
			}
			return st, nil
		}
		next := b.NextBackOff()
		left := f.wait - time.Since(start)
		if !postgres.Unreachable(err) || left <= 0 || ctx.Err() != nil {
			if attempt > 1 && postgres.Unreachable(err) {
				return nil, fmt.Errorf("%w (not reachable for %s, --postgres-wait)", err, time.Since(start).Round(time.Second))
			}
			return nil, err
		}
		next = min(next, left)
		logger.Warn("PostgreSQL not reachable yet; retrying", "attempt", attempt, "retry_in", next.Round(time.Millisecond).String(),
			"waiting_up_to", f.wait.String(), "err", err)
		t := time.NewTimer(next)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, err
		case <-t.C:
		}
	}
}

func (f *storeFlags) register(fs *flag.FlagSet) {
	f.command = "shopstream " + fs.Name()
	fs.StringVar(&f.dataDir, "data-dir", "./data", "directory of the embedded SQLite store (used unless --postgres is set)")
	fs.StringVar(&f.postgres, "postgres", "", "PostgreSQL URL, e.g. postgres://user:pass@host:5432/db; TLS through sslmode, sslrootcert, sslcert, sslkey in the URL (default: embedded SQLite in --data-dir)")
	fs.StringVar(&f.passwordFile, "postgres-password-file", "", "`file` holding the password of the --postgres URL's user (a trailing newline is ignored), e.g. a container secret")
	fs.BoolVar(&f.autoMigrate, "auto-migrate", true, "apply pending schema migrations at start; false refuses a schema older than this build's (run shopstream migrate up first). A schema newer than this build's is refused either way")
}

func (f *storeFlags) open(ctx context.Context) (store.Store, error) {
	mode := store.SchemaMigrate
	if !f.autoMigrate {
		mode = store.SchemaRequire
	}
	return f.openWith(ctx, store.WithSchema(mode))
}

// openToRead opens the store for a command that only reads it. The
// embedded store, when another process holds its directory (the `serve`
// or `run` an analyst has open), is read beside that process, read-only,
// with a note on stderr: the directory's lock keeps out a second writer,
// and SQLite's log lets readers of other processes read while one writes.
func (f *storeFlags) openToRead(ctx context.Context, stderr io.Writer) (store.Store, error) {
	st, err := f.open(ctx)
	var locked *datadir.LockedError
	if f.postgres != "" || !errors.As(err, &locked) {
		return st, err
	}
	ro, rerr := sqlite.OpenReadOnly(ctx, f.dataDir)
	if rerr != nil {
		return nil, fmt.Errorf("--data-dir: %w; reading beside it failed too: %w", err, rerr)
	}
	who := "another process"
	if locked.Holder != nil {
		who = locked.Holder.String()
	}
	fmt.Fprintf(stderr, "%s: reading %s beside %s, which holds it (read-only)\n", f.command, f.dataDir, who)
	return ro, nil
}

// openWith opens the store with opts, ignoring --auto-migrate.
func (f *storeFlags) openWith(ctx context.Context, opts ...store.OpenOption) (store.Store, error) {
	if f.postgres != "" {
		dsn, err := f.url()
		if err != nil {
			return nil, err
		}
		s, err := postgres.Open(ctx, dsn, opts...)
		if err != nil {
			return nil, fmt.Errorf("--postgres: %w", err)
		}
		return s, nil
	}
	s, err := openEmbedded(ctx, f.dataDir, f.command, opts...)
	if err != nil {
		return nil, fmt.Errorf("--data-dir: %w", err)
	}
	return s, nil
}

// url is --postgres with the password of --postgres-password-file.
func (f *storeFlags) url() (string, error) {
	if f.passwordFile == "" {
		return f.postgres, nil
	}
	b, err := os.ReadFile(f.passwordFile)
	if err != nil {
		return "", usageError{fmt.Errorf("flag -postgres-password-file: %w", err)}
	}
	pw := strings.TrimRight(string(b), "\r\n")
	if pw == "" {
		return "", usageError{fmt.Errorf("flag -postgres-password-file: %s is empty", f.passwordFile)}
	}
	u, err := url.Parse(f.postgres)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.User == nil || u.User.Username() == "" {
		return "", usageError{errors.New("flag -postgres-password-file: needs --postgres as a URL naming the user, postgres://user@host:5432/db")}
	}
	u.User = url.UserPassword(u.User.Username(), pw)
	return u.String(), nil
}

// location is where the store lives: its URL or absolute data directory.
func (f *storeFlags) location() string {
	if f.postgres != "" {
		return f.postgres
	}
	if abs, err := filepath.Abs(f.dataDir); err == nil {
		return abs
	}
	return f.dataDir
}

// describe names the store for log lines, without credentials.
func (f *storeFlags) describe() string {
	if f.postgres != "" {
		u := f.postgres
		if at := strings.LastIndex(u, "@"); at >= 0 {
			if i := strings.Index(u, "://"); i >= 0 {
				u = u[:i+3] + "…" + u[at:]
			}
		}
		return "PostgreSQL " + u
	}
	return "SQLite in " + f.dataDir
}

// logFlags is the --log-level flag.
type logFlags struct{ level string }

func (f *logFlags) register(fs *flag.FlagSet, def string) {
	fs.StringVar(&f.level, "log-level", def, "log level: debug, info, warn or error")
}

func (f *logFlags) logger(w io.Writer) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(f.level)); err != nil {
		return nil, usageError{fmt.Errorf("invalid value %q for flag -log-level: want debug, info, warn or error", f.level)}
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: lvl})), nil
}

// multiFlag is a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// parseWebhooks turns name=url pairs into a map; a bare URL is named "default".
func parseWebhooks(vals []string) (map[string]string, error) {
	out := map[string]string{}
	for _, v := range vals {
		for _, item := range strings.Split(v, ",") {
			item = strings.TrimSpace(item)
			if item == "" {
				continue
			}
			name, url, ok := strings.Cut(item, "=")
			if !ok || strings.Contains(name, "/") {
				name, url = "default", item
			}
			if !strings.HasPrefix(url, "http://") && !strings.HasPrefix(url, "https://") {
				return nil, usageError{fmt.Errorf("invalid value %q for flag -webhook: want [name=]http(s)://host/path", item)}
			}
			out[name] = url
		}
	}
	return out, nil
}

// gunzipByName is r decompressed when path's name ends in .gz (any case)
// or its content starts as gzip's does, else r itself, for --csv flags
// that read compressed files directly; close releases the decompressor.
// A file that is not text at all (a workbook, an archive, a Parquet file,
// another compression) is refused here, naming what it is, instead of
// its bytes being read as a CSV header.
func gunzipByName(path string, r io.Reader) (_ io.Reader, close func() error, _ error) {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReader(r)
	}
	head, _ := br.Peek(16)
	gz, why := strings.HasSuffix(strings.ToLower(path), ".gz"), "the name ends in .gz"
	if !gz && bytes.HasPrefix(head, gzipMagic) {
		gz, why = true, "its first bytes are gzip's" // a gzip file under another name
	} else if !gz {
		if what := binaryFormat(head); what != "" {
			return nil, nil, usageError{fmt.Errorf("--csv %s is not CSV text but %s", path, what)}
		}
		return br, func() error { return nil }, nil
	}
	zr, err := gzip.NewReader(br)
	if err != nil {
		return nil, nil, fmt.Errorf("--csv %s: reading it as gzip (%s): %w", path, why, err)
	}
	return zr, zr.Close, nil
}

var gzipMagic = []byte{0x1f, 0x8b}

// binaryFormat names the file format whose signature head starts with,
// among those an export of orders or features is mistaken for a CSV in,
// with what to do; "" for anything else.
func binaryFormat(head []byte) string {
	for _, f := range []struct {
		magic, what string
	}{
		{"PK\x03\x04", "a ZIP archive (an Excel .xlsx workbook is one): save the sheet as CSV (in Excel: File, Save As, CSV UTF-8), or unzip the export"},
		{"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an Excel 97-2003 workbook (.xls): save the sheet as CSV (in Excel: File, Save As, CSV UTF-8)"},
		{"PAR1", "a Parquet file: write it out as CSV (with pandas: pandas.read_parquet(path).to_csv(out, index=False))"},
		{"SQLite format 3\x00", "an SQLite database: export the table as CSV (sqlite3 -header -csv DB 'SELECT * FROM orders' > orders.csv)"},
		{"%PDF-", "a PDF document"},
		{"\x28\xb5\x2f\xfd", "zstd-compressed: decompress it first (unzstd); only gzip is read directly"},
		{"BZh", "bzip2-compressed: decompress it first (bunzip2); only gzip is read directly"},
		{"\xfd7zXZ\x00", "xz-compressed: decompress it first (unxz); only gzip is read directly"},
	} {
		if bytes.HasPrefix(head, []byte(f.magic)) {
			return f.what
		}
	}
	return ""
}
