// Package sqlite is the embedded Store: the shared store logic of sqlstore
// over pure-Go SQLite (modernc.org/sqlite, no cgo) in WAL mode, one writer
// at a time, times as Unix microseconds. It lets `shopstream run` work with
// no server.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/sqlstore"
)

// Close and TryLead complete the shared store.
var _ interface {
	store.Store
	store.Analytics
	store.Fraud
	store.Size
	store.WriteShape
} = (*Store)(nil)

// Store is the SQLite implementation of store.Store, store.Analytics and
// store.Fraud.
type Store struct {
	*sqlstore.Store
	db   *sql.DB
	d    *dialect
	path string
	// stopCheckpoints stops the background checkpoints and waits for them.
	stopCheckpoints func()
	// probe is Ping's own connection, outside db's pool (see Ping).
	probe *sql.DB
}

//go:embed migrations/*.sql
var migrationsFS embed.FS

// FileName is the database file inside the data directory.
const FileName = "shopstream.db"

// Open opens (creating if needed) the database in dataDir and prepares
// the schema as opts say (by default: applies pending migrations, refuses
// a schema newer than this build knows).
func Open(ctx context.Context, dataDir string, opts ...store.OpenOption) (*Store, error) {
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, fmt.Errorf("creating --data-dir %s: %w", dataDir, err)
	}
	path := filepath.Join(dataDir, FileName)
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=busy_timeout(10000)" +
		"&_pragma=foreign_keys(OFF)&_pragma=cache_size(-65536)&_pragma=journal_size_limit(67108864)&_pragma=wal_autocheckpoint(0)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	db.SetMaxOpenConns(4)
	d := &dialect{db: db}
	s := &Store{Store: sqlstore.New(d), db: db, d: d, path: path}
	if err := s.Store.Open(ctx, migrationsFS, "migrations", store.NewOpenConfig(opts...)); err != nil {
		db.Close()
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	probe, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(2000)&_pragma=query_only(1)")
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	probe.SetMaxOpenConns(1)
	s.probe = probe
	s.stopCheckpoints = s.checkpoints(CheckpointInterval)
	return s, nil
}

// OpenReadOnly opens the database in dataDir to read it beside the
// process that writes it (a `serve` or `run` holding the data
// directory): SQLite's write-ahead log lets readers of other processes
// read a committed snapshot while one writes. The connection is opened
// read-only (mode=ro, query_only), its transactions deferred (they never
// ask for the write lock), and it runs no checkpoints; the schema must be
// the build's (store.SchemaRequire), since a reader migrates nothing.
func OpenReadOnly(ctx context.Context, dataDir string) (*Store, error) {
	path := filepath.Join(dataDir, FileName)
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("opening %s to read: %w", path, err)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=query_only(1)&_pragma=busy_timeout(10000)&_pragma=cache_size(-65536)")
	if err != nil {
		return nil, fmt.Errorf("opening %s to read: %w", path, err)
	}
	db.SetMaxOpenConns(4)
	d := &dialect{db: db}
	s := &Store{Store: sqlstore.New(d), db: db, d: d, path: path}
	if err := s.Store.Open(ctx, migrationsFS, "migrations", store.NewOpenConfig(store.WithSchema(store.SchemaRequire))); err != nil {
		db.Close()
		return nil, fmt.Errorf("opening %s to read: %w", path, err)
	}
	return s, nil
}

// Ping implements store.Store: it reads the schema's table count on a
// connection of its own, a read transaction that WAL mode never makes
// wait for the writer. Through db's pool (four connections) it would
// wait for a free one instead, and with the writer, the analytics
// refresh's long read and a few slow API reads under load holding all
// four, /readyz said the store was not answering while it was only busy.
func (s *Store) Ping(ctx context.Context) error {
	var n int
	if s.probe == nil {
		return s.db.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema WHERE type = 'table'").Scan(&n)
	}
	return s.probe.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema WHERE type = 'table'").Scan(&n)
}

// CheckpointInterval is how often the store copies its write-ahead log
// into the database file, in the background.
var CheckpointInterval = time.Second

// checkpoints copies the write-ahead log into the database every interval
// until the returned function is called. SQLite would otherwise
// checkpoint inside the commit that takes the log past 1000 pages
// (wal_autocheckpoint, switched off in the DSN): on the writer's path,
// with its page copies and two fsyncs, and more often. Here the other
// core does most of it while the writer goes on, and a page changed by
// several commits in one interval is copied once.
//
// Each round copies in two passes, as CheckpointWAL does: the first
// (wal_checkpoint(PASSIVE): as far as readers allow, never waiting)
// while the writer writes, the second with the writers held, for only
// what they added meanwhile. The log is restarted from its start by the
// first write after a checkpoint that copied all of it; without the
// second pass the writer always stays ahead, and the log grew past 1 GB
// in a fresh run's backfill. Errors (a busy database) leave the frames
// for the next round.
func (s *Store) checkpoints(interval time.Duration) func() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			s.checkpointRound(ctx)
		}
	}()
	return func() {
		cancel()
		<-done
	}
}

// checkpointRound is one round of checkpoints: copy what the log holds,
// then, with the writers held, what they added meanwhile.
func (s *Store) checkpointRound(ctx context.Context) {
	var busy, logPages, copied int
	if err := s.db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &logPages, &copied); err != nil || logPages <= 0 {
		return
	}
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	_ = s.db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &logPages, &copied)
}

// Writers implements store.WriteShape: SQLite has one writer.
func (s *Store) Writers() int { return 1 }

// BatchRecords implements store.WriteShape. Each commit writes every page
// its rows changed to the log, and random transaction IDs change most
// pages of their index whatever the batch's size, so fewer, larger
// commits write less per row: a fresh run's 440,000-record history was
// stored in 20-25 s with 20,000 (one writer), 27-28 s with 5,000.
func (s *Store) BatchRecords() int { return 20_000 }

// MigrateUp applies the pending migrations and returns them.
func (s *Store) MigrateUp(ctx context.Context) ([]store.Migration, error) {
	return s.Migrate(ctx, migrationsFS, "migrations")
}

// Schema reads the applied migrations beside the known ones.
func (s *Store) Schema(ctx context.Context) (store.SchemaStatus, error) {
	return s.SchemaStatus(ctx, migrationsFS, "migrations")
}

// DB exposes the database for the model jobs and the API.
func (s *Store) DB() *sql.DB { return s.db }

// Close closes the database.
func (s *Store) Close() error {
	if s.stopCheckpoints != nil {
		s.stopCheckpoints()
	}
	if s.probe != nil {
		s.probe.Close()
	}
	return s.db.Close()
}

// CheckpointWAL implements store.WALCheckpointer with
// wal_checkpoint(TRUNCATE), between two writers' transactions. The
// background checkpoints (every second) let SQLite reuse the log from its
// start but never shrink it, and cannot finish while a long read (the analytics
// refresh's) holds an old snapshot, so the log grows through such a read;
// this one truncates it to nothing once the read is over. It waits at
// most a second for readers (writers wait meanwhile), then reports busy;
// between these, journal_size_limit cuts the log back to 64 MiB whenever
// SQLite restarts it.
func (s *Store) CheckpointWAL(ctx context.Context) (bool, error) {
	c, err := s.db.Conn(ctx)
	if err != nil {
		return false, fmt.Errorf("checkpointing the write-ahead log: %w", err)
	}
	defer c.Close()
	// Most of the log is copied first without stopping the writers; only
	// what they add meanwhile is copied with them held.
	var busy, logPages, done int
	if err := c.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &logPages, &done); err != nil {
		return false, fmt.Errorf("checkpointing the write-ahead log: %w", err)
	}
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	if _, err := c.ExecContext(ctx, "PRAGMA busy_timeout = 1000"); err != nil {
		return false, fmt.Errorf("checkpointing the write-ahead log: %w", err)
	}
	defer c.ExecContext(context.WithoutCancel(ctx), "PRAGMA busy_timeout = 10000") //nolint:errcheck // the DSN's value; a failure leaves a shorter wait
	if err := c.QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &logPages, &done); err != nil {
		return false, fmt.Errorf("checkpointing the write-ahead log: %w", err)
	}
	return busy != 0, nil
}

// PruneTransactions implements store.Retention by rowid: the rows to
// delete are found on the event-time index, and removed without looking
// each up again by its id. Labels go first, in the same transaction.
func (s *Store) PruneTransactions(ctx context.Context, before time.Time, batch int) (store.Pruned, error) {
	const pick = `SELECT rowid FROM transactions WHERE event_time < $1 ORDER BY event_time LIMIT $2`
	n, err := s.DeleteInBatches(ctx, "transactions before "+before.UTC().Format(time.RFC3339), batch, []string{
		`DELETE FROM labels WHERE transaction_id IN (SELECT transaction_id FROM transactions WHERE rowid IN (` + pick + `))`,
		`DELETE FROM label_events WHERE transaction_id IN (SELECT transaction_id FROM transactions WHERE rowid IN (` + pick + `))`,
		`DELETE FROM transactions WHERE rowid IN (` + pick + `)`,
	}, before)
	return store.Pruned{Rows: n}, err
}

// leaders holds the leader locks taken in this process, by database file
// and job name.
var leaders sync.Map

// TryLead implements store.Analytics. The embedded store serves one
// process, which is therefore always the leader; the lock only keeps two
// runs of one job in this process, on one database file, apart.
func (s *Store) TryLead(ctx context.Context, name string) (func(), bool, error) {
	var file string
	if err := s.db.QueryRowContext(ctx, "SELECT file FROM pragma_database_list WHERE name = 'main'").Scan(&file); err != nil {
		return nil, false, fmt.Errorf("leader lock %s: %w", name, err)
	}
	key := file + "\x00" + name
	if _, taken := leaders.LoadOrStore(key, struct{}{}); taken {
		return nil, false, nil
	}
	var once sync.Once
	return func() { once.Do(func() { leaders.Delete(key) }) }, true, nil
}

// dialect is sqlstore.Dialect over database/sql and modernc's SQLite.
type dialect struct {
	db *sql.DB
	// mu serialises writers: SQLite has one writer at a time, and waiting
	// here is cheaper than on its busy handler.
	mu sync.Mutex
}

func (d *dialect) DB() sqlstore.DB { return conn{d.db} }

// Tx keeps SQLite's temporary files in memory for the transaction: a
// multi-row INSERT keeps a statement journal of the pages it changed,
// which otherwise spills to a file after 64 KiB (a fifth of an import's
// time went to writing it). Reads keep the default, so a large sort (the
// refresh's grouping of every purchase) may still use disk.
func (d *dialect) Tx(ctx context.Context, fn func(tx sqlstore.DB) error) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	c, err := d.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.ExecContext(ctx, "PRAGMA temp_store = MEMORY"); err != nil {
		return err
	}
	defer c.ExecContext(context.WithoutCancel(ctx), "PRAGMA temp_store = DEFAULT") //nolint:errcheck // a failure leaves a setting that is only slower for sorts
	tx, err := c.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after commit
	if err := fn(conn{tx}); err != nil {
		return err
	}
	return tx.Commit()
}

func (d *dialect) SQL() sqlstore.Queries {
	return sqlstore.Queries{
		SchemaMigrations: `CREATE TABLE IF NOT EXISTS schema_migrations (
			version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`,
		HasSchemaMigrations: `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`,
		// Event times are Unix microseconds, so integer division gives
		// the UTC day.
		PurchaseDays: `SELECT customer_id, event_time / 86400000000 * 86400000000 AS day, count(*), sum(total_cents)
			FROM transactions WHERE event_time < $1
			GROUP BY customer_id, day ORDER BY customer_id, day`,
		BlobContains: `instr(%s, CAST($1 AS BLOB)) > 0`,
		StoredIDs:    "transactions",
		TxByID:       "transactions t",
		TxKey:        "t.transaction_id",
	}
}

// LockErasures needs nothing: SQLite has one writer at a time.
func (d *dialect) LockErasures(context.Context, sqlstore.DB, bool) error { return nil }

// LockModels needs nothing: the transaction took SQLite's write lock at
// BEGIN (_txlock=immediate), across processes too.
func (d *dialect) LockModels(context.Context, sqlstore.DB) error { return nil }

// LockMigrations needs nothing: each migration's transaction re-reads the
// version under SQLite's write lock.
func (d *dialect) LockMigrations(context.Context) (func(), error) { return func() {}, nil }

// Classify sorts by SQLite's extended result codes: constraints, a value
// too big and a datatype mismatch are data errors; a primary-key or
// unique violation may be a stored transaction. Everything else (busy,
// locked, I/O, a full disk, a cancelled context) is transient.
func (d *dialect) Classify(err error) (sqlstore.ErrorClass, string) {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return sqlstore.Transient, ""
	}
	switch code := e.Code(); {
	case code == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, code == sqlite3.SQLITE_CONSTRAINT_UNIQUE:
		return sqlstore.DuplicateKey, e.Error()
	case code&0xff == sqlite3.SQLITE_CONSTRAINT, code&0xff == sqlite3.SQLITE_TOOBIG, code&0xff == sqlite3.SQLITE_MISMATCH:
		return sqlstore.Data, e.Error()
	}
	return sqlstore.Transient, ""
}

func (d *dialect) LockOffsets(ctx context.Context, tx sqlstore.DB, b *store.Batch) (map[int32]store.StoredOffset, error) {
	stored := make(map[int32]store.StoredOffset, len(b.Parts))
	now := time.Now()
	for _, p := range b.Parts {
		if _, err := tx.Exec(ctx, `INSERT OR IGNORE INTO consumer_offsets (group_id, topic, partition, next_offset, updated_at)
			VALUES ($1, $2, $3, $4, $5)`, b.Group, b.Topic, p.Partition, p.From, now); err != nil {
			return nil, fmt.Errorf("registering offsets: %w", err)
		}
		var o store.StoredOffset
		if err := tx.QueryRow(ctx, `SELECT next_offset, owner, generation FROM consumer_offsets WHERE group_id = $1 AND topic = $2 AND partition = $3`,
			b.Group, b.Topic, p.Partition).Scan(&o.Next, &o.Owner, &o.Generation); err != nil {
			return nil, err
		}
		stored[p.Partition] = o
	}
	return stored, nil
}

func (d *dialect) AdvanceOffsets(ctx context.Context, tx sqlstore.DB, b *store.Batch) error {
	now := time.Now()
	for _, p := range b.Parts {
		var cp any // NULL leaves the stored checkpoint in place
		if p.Checkpoint != nil {
			cp = p.Checkpoint
		}
		if _, err := tx.Exec(ctx, `UPDATE consumer_offsets SET next_offset = $1, owner = $2, generation = $3, updated_at = $4,
				checkpoint = coalesce($8, checkpoint),
				checkpoint_offset = CASE WHEN $8 IS NULL THEN checkpoint_offset ELSE $1 END,
				checkpoint_at = CASE WHEN $8 IS NULL THEN checkpoint_at ELSE $4 END
			WHERE group_id = $5 AND topic = $6 AND partition = $7`, p.To, b.Owner, b.Generation, now, b.Group, b.Topic, p.Partition, cp); err != nil {
			return err
		}
	}
	return nil
}

func (d *dialect) Insert(ctx context.Context, tx sqlstore.DB, table string, cols []string, rows [][]any) error {
	return d.Upsert(ctx, tx, table, cols, "", rows)
}

// Upsert inserts the rows in multi-row statements.
func (d *dialect) Upsert(ctx context.Context, tx sqlstore.DB, table string, cols []string, onConflict string, rows [][]any) error {
	return insertRows(ctx, tx, "INSERT INTO "+table+" ("+strings.Join(cols, ", ")+")", len(cols), onConflict, len(rows),
		func(args []any, i int) []any { return append(args, rows[i]...) })
}

// UpsertWindows adds the deltas in multi-row upserts (the deltas' keys are
// distinct, so no statement updates a row it inserted).
func (d *dialect) UpsertWindows(ctx context.Context, tx sqlstore.DB, slot int32, ws []store.WindowRow) error {
	return insertRows(ctx, tx, `INSERT INTO window_metrics (granularity, window_start, channel, payment_method, currency,
			tx_count, revenue_cents, alert_count, slot)`, 9, `ON CONFLICT (granularity, window_start, channel, payment_method, currency, slot) DO UPDATE SET
			tx_count = tx_count + excluded.tx_count,
			revenue_cents = revenue_cents + excluded.revenue_cents,
			alert_count = alert_count + excluded.alert_count`, len(ws), func(args []any, i int) []any {
		w := &ws[i]
		return append(args, string(w.Granularity), w.Start.UnixMicro(), w.Channel, w.PaymentMethod, w.Currency,
			w.Count, w.RevenueCents, w.Alerts, slot)
	})
}

// UpsertRollups implements sqlstore.RollupUpserter with prepared
// multi-row upserts.
func (d *dialect) UpsertRollups(ctx context.Context, tx sqlstore.DB, slot int32, rows []store.FraudRollup) error {
	return insertRows(ctx, tx, `INSERT INTO fraud_rollups (granularity, bucket_start, series, risk_bucket, truth, scenario, decision, analyst, n, slot)`, 10,
		`ON CONFLICT (granularity, bucket_start, series, risk_bucket, truth, scenario, decision, analyst, slot) DO UPDATE SET n = n + excluded.n`,
		len(rows), func(args []any, i int) []any {
			r := &rows[i]
			analyst := 0
			if r.Analyst {
				analyst = 1
			}
			return append(args, string(r.Granularity), r.Start.UnixMicro(), r.Series, r.Bucket, r.Truth, r.Scenario, r.Decision, analyst, r.N, slot)
		})
}

// UpsertCustomers adds the deltas in multi-row upserts.
func (d *dialect) UpsertCustomers(ctx context.Context, tx sqlstore.DB, cs []store.CustomerDelta) error {
	return insertRows(ctx, tx, `INSERT INTO customers (customer_id, first_seen, last_seen, orders, revenue_cents)`, 5,
		`ON CONFLICT (customer_id) DO UPDATE SET
			first_seen = min(first_seen, excluded.first_seen),
			last_seen = max(last_seen, excluded.last_seen),
			orders = orders + excluded.orders,
			revenue_cents = revenue_cents + excluded.revenue_cents`, len(cs), func(args []any, i int) []any {
			c := &cs[i]
			return append(args, c.CustomerID, c.FirstSeen.UnixMicro(), c.LastSeen.UnixMicro(), c.Orders, c.RevenueCents)
		})
}

// StoreSize implements store.Size: the database file, its write-ahead log
// (-wal) and its shared-memory index (-shm), as the file system has them
// now; a -wal or -shm file that is not there counts 0.
func (s *Store) StoreSize(context.Context) (int64, error) {
	var n int64
	for _, suffix := range []string{"", "-wal", "-shm"} {
		fi, err := os.Stat(s.path + suffix)
		if err != nil {
			if suffix != "" && errors.Is(err, os.ErrNotExist) {
				continue
			}
			return 0, fmt.Errorf("store size: %w", err)
		}
		n += fi.Size()
	}
	return n, nil
}

var _ store.CheckpointSaver = (*Store)(nil)
