// Package sqlite is the embedded Store: pure-Go SQLite (modernc.org/sqlite,
// no cgo) in WAL mode, one writer at a time, the same tables and semantics
// as the PostgreSQL store. It lets `shopstream run` work with no server.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/shopstream/shopstream/internal/store"
)

//go:embed migrations/*.sql
var migrationsFS embed.FS

// Store is the SQLite implementation of store.Store.
type Store struct {
	db *sql.DB
	// mu serialises writers: SQLite has one writer at a time, and waiting
	// here is cheaper than on its busy handler.
	mu sync.Mutex
}

var _ store.Store = (*Store)(nil)

// FileName is the database file inside the data directory.
const FileName = "shopstream.db"

// Open opens (creating if needed) the database in dataDir and applies
// pending migrations.
func Open(ctx context.Context, dataDir string) (*Store, error) {
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, fmt.Errorf("creating --data-dir %s: %w", dataDir, err)
	}
	path := filepath.Join(dataDir, FileName)
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=busy_timeout(10000)" +
		"&_pragma=foreign_keys(OFF)&_pragma=cache_size(-65536)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	db.SetMaxOpenConns(4)
	s := &Store{db: db}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	return s, nil
}

// DB exposes the database for the model jobs and the API.
func (s *Store) DB() *sql.DB { return s.db }

func (s *Store) migrate(ctx context.Context) error {
	ms, err := store.LoadMigrations(migrationsFS, "migrations")
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("creating schema_migrations: %w", err)
	}
	var cur int
	if err := s.db.QueryRowContext(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&cur); err != nil {
		return fmt.Errorf("reading schema version: %w", err)
	}
	for _, m := range ms[min(cur, len(ms)):] {
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			tx.Rollback()
			return fmt.Errorf("applying migration %s: %w", m.Name, err)
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)", m.Version, m.Name, time.Now().Unix()); err != nil {
			tx.Rollback()
			return fmt.Errorf("applying migration %s: %w", m.Name, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("applying migration %s: %w", m.Name, err)
		}
	}
	return nil
}

// Ping checks the database.
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

func us(t time.Time) int64 { return t.UnixMicro() }

func fromUS(v int64) time.Time { return time.UnixMicro(v).UTC() }

func shadowOf(t *store.Tx) any {
	if t.HasShadow {
		return t.ShadowRisk
	}
	return nil
}

func featuresBlob(f []float32) []byte {
	if f == nil {
		return nil
	}
	b := make([]byte, 4*len(f))
	for i, v := range f {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return b
}

// WriteBatch implements store.Store.
func (s *Store) WriteBatch(ctx context.Context, b *store.Batch) error {
	if len(b.Parts) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("beginning batch transaction: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after commit
	now := time.Now().UnixMicro()

	stored := make(map[int32]int64, len(b.Parts))
	for _, p := range b.Parts {
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO consumer_offsets (group_id, topic, partition, next_offset, updated_at) VALUES (?, ?, ?, ?, ?)`,
			b.Group, b.Topic, p.Partition, p.From, now); err != nil {
			return fmt.Errorf("registering offsets: %w", err)
		}
		var cur int64
		if err := tx.QueryRowContext(ctx, `SELECT next_offset FROM consumer_offsets WHERE group_id = ? AND topic = ? AND partition = ?`,
			b.Group, b.Topic, p.Partition).Scan(&cur); err != nil {
			return fmt.Errorf("reading offsets: %w", err)
		}
		stored[p.Partition] = cur
	}
	if err := store.Fence(b.Parts, stored); err != nil {
		return err // nothing written: rolled back
	}

	ins, err := tx.PrepareContext(ctx, `INSERT INTO transactions (transaction_id, customer_id, event_time, total_cents, currency,
		payment_method, channel, card_bin, card_last4, device_id, ip_address, billing_country, shipping_country, items,
		kafka_partition, kafka_offset, risk, decision, reasons, shadow_risk, features, produced_at, stored_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("preparing insert: %w", err)
	}
	defer ins.Close()
	for i := range b.Parts {
		for j := range b.Parts[i].Txs {
			t := &b.Parts[i].Txs[j]
			if _, err := ins.ExecContext(ctx, t.TransactionID, t.CustomerID, us(t.EventTime), t.TotalCents, t.Currency,
				t.PaymentMethod, t.Channel, t.CardBIN, t.CardLast4, t.DeviceID, t.IPAddress, t.BillingCountry, t.ShippingCountry,
				string(t.ItemsJSON), t.Partition, t.Offset, t.Risk, t.Decision, string(t.ReasonsJSON), shadowOf(t), featuresBlob(t.Features),
				us(t.ProducedAt), now); err != nil {
				if strings.Contains(err.Error(), "UNIQUE constraint failed: transactions.transaction_id") {
					ins.Close()
					tx.Rollback() //nolint:errcheck // aborted anyway
					return s.duplicates(ctx, b.Parts)
				}
				return fmt.Errorf("inserting transaction %s: %w", t.TransactionID, err)
			}
		}
	}
	if err := insertRest(ctx, tx, b.Parts, now); err != nil {
		return err
	}
	for _, w := range store.WindowDeltas(b.Parts) {
		if _, err := tx.ExecContext(ctx, `INSERT INTO window_metrics (granularity, window_start, channel, payment_method, tx_count, revenue_cents, alert_count)
			VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (granularity, window_start, channel, payment_method) DO UPDATE SET
				tx_count = tx_count + excluded.tx_count,
				revenue_cents = revenue_cents + excluded.revenue_cents,
				alert_count = alert_count + excluded.alert_count`,
			string(w.Granularity), us(w.Start), w.Channel, w.PaymentMethod, w.Count, w.RevenueCents, w.Alerts); err != nil {
			return fmt.Errorf("upserting window metrics: %w", err)
		}
	}
	cust, err := tx.PrepareContext(ctx, `INSERT INTO customers (customer_id, first_seen, last_seen, orders, revenue_cents) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (customer_id) DO UPDATE SET
			first_seen = min(first_seen, excluded.first_seen),
			last_seen = max(last_seen, excluded.last_seen),
			orders = orders + excluded.orders,
			revenue_cents = revenue_cents + excluded.revenue_cents`)
	if err != nil {
		return fmt.Errorf("preparing customer upsert: %w", err)
	}
	defer cust.Close()
	for _, c := range store.CustomerDeltas(b.Parts) {
		if _, err := cust.ExecContext(ctx, c.CustomerID, us(c.FirstSeen), us(c.LastSeen), c.Orders, c.RevenueCents); err != nil {
			return fmt.Errorf("upserting customer %s: %w", c.CustomerID, err)
		}
	}
	for _, p := range b.Parts {
		if _, err := tx.ExecContext(ctx, `UPDATE consumer_offsets SET next_offset = ?, updated_at = ? WHERE group_id = ? AND topic = ? AND partition = ?`,
			p.To, now, b.Group, b.Topic, p.Partition); err != nil {
			return fmt.Errorf("advancing offsets: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("committing batch: %w", err)
	}
	return nil
}

func insertRest(ctx context.Context, tx *sql.Tx, parts []store.Part, now int64) error {
	for i := range parts {
		p := &parts[i]
		for _, l := range p.Labels {
			if _, err := tx.ExecContext(ctx, "INSERT INTO labels (transaction_id, fraud, scenario) VALUES (?, ?, ?)", l.TransactionID, l.Fraud, l.Scenario); err != nil {
				return fmt.Errorf("inserting label: %w", err)
			}
		}
		for _, q := range p.Quarantined {
			if _, err := tx.ExecContext(ctx, "INSERT INTO quarantine (reason, detail, raw, kafka_partition, kafka_offset, expected, quarantined_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
				q.Reason, q.Detail, q.Raw, q.Partition, q.Offset, q.Expected, now); err != nil {
				return fmt.Errorf("inserting quarantined record: %w", err)
			}
		}
		for _, a := range p.Alerts {
			if _, err := tx.ExecContext(ctx, "INSERT INTO alerts (transaction_id, customer_id, event_time, risk, decision, reasons, amount_cents, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
				a.TransactionID, a.CustomerID, us(a.EventTime), a.Risk, a.Decision, string(a.ReasonsJSON), a.AmountCents, now); err != nil {
				return fmt.Errorf("inserting alert: %w", err)
			}
		}
		for _, o := range p.Outbox {
			if _, err := tx.ExecContext(ctx, "INSERT INTO outbox (kind, target, msg_key, headers, payload, created_at, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
				o.Kind, o.Target, o.Key, o.Headers, o.Payload, now, now); err != nil {
				return fmt.Errorf("inserting outbox message: %w", err)
			}
		}
	}
	return nil
}

func (s *Store) duplicates(ctx context.Context, parts []store.Part) error {
	seen := map[string]bool{}
	var dups []string
	for i := range parts {
		for _, t := range parts[i].Txs {
			if seen[t.TransactionID] {
				dups = append(dups, t.TransactionID)
				continue
			}
			seen[t.TransactionID] = true
			var one int
			err := s.db.QueryRowContext(ctx, "SELECT 1 FROM transactions WHERE transaction_id = ?", t.TransactionID).Scan(&one)
			if err == nil {
				dups = append(dups, t.TransactionID)
			} else if !errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("finding duplicate transactions: %w", err)
			}
		}
	}
	if len(dups) == 0 {
		return fmt.Errorf("inserting transactions: unique violation but no duplicate found")
	}
	return &store.DuplicateError{IDs: dups}
}

// Offsets implements store.Store.
func (s *Store) Offsets(ctx context.Context, group, topic string) (map[int32]int64, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT partition, next_offset FROM consumer_offsets WHERE group_id = ? AND topic = ?", group, topic)
	if err != nil {
		return nil, fmt.Errorf("reading stored offsets: %w", err)
	}
	defer rows.Close()
	out := map[int32]int64{}
	for rows.Next() {
		var p int32
		var n int64
		if err := rows.Scan(&p, &n); err != nil {
			return nil, fmt.Errorf("reading stored offsets: %w", err)
		}
		out[p] = n
	}
	return out, rows.Err()
}

// Summary implements store.Store.
func (s *Store) Summary(ctx context.Context) (store.Summary, error) {
	var sum store.Summary
	var last sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT coalesce(sum(tx_count), 0), coalesce(sum(revenue_cents), 0), coalesce(sum(alert_count), 0), max(window_start)
		FROM window_metrics WHERE granularity = 'hour'`).Scan(&sum.TransactionsTotal, &sum.RevenueCents, &sum.FraudAlertsTotal, &last)
	if err != nil {
		return sum, fmt.Errorf("reading totals: %w", err)
	}
	if err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM quarantine").Scan(&sum.QuarantinedTotal); err != nil {
		return sum, fmt.Errorf("counting quarantine: %w", err)
	}
	if err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM customers").Scan(&sum.CustomersTotal); err != nil {
		return sum, fmt.Errorf("counting customers: %w", err)
	}
	sum.RevenueTotal = float64(sum.RevenueCents) / 100
	if last.Valid {
		t := fromUS(last.Int64)
		sum.LastEventTime = &t
	}
	return sum, nil
}

// Windows implements store.Store.
func (s *Store) Windows(ctx context.Context, g store.Granularity, since time.Time) ([]store.WindowRow, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT window_start, channel, payment_method, tx_count, revenue_cents, alert_count
		FROM window_metrics WHERE granularity = ? AND window_start >= ? ORDER BY window_start, channel, payment_method`, string(g), us(since))
	if err != nil {
		return nil, fmt.Errorf("reading window metrics: %w", err)
	}
	defer rows.Close()
	var out []store.WindowRow
	for rows.Next() {
		w := store.WindowRow{Granularity: g}
		var st int64
		if err := rows.Scan(&st, &w.Channel, &w.PaymentMethod, &w.Count, &w.RevenueCents, &w.Alerts); err != nil {
			return nil, fmt.Errorf("reading window metrics: %w", err)
		}
		w.Start = fromUS(st)
		out = append(out, w)
	}
	return out, rows.Err()
}

// RecentTransactions implements store.Store.
func (s *Store) RecentTransactions(ctx context.Context, partition int32, fromOffset int64, since time.Time, fn func(*store.Tx) error) error {
	rows, err := s.db.QueryContext(ctx, `SELECT transaction_id, customer_id, event_time, total_cents, currency, payment_method, channel,
		card_bin, card_last4, device_id, ip_address, billing_country, shipping_country, items, kafka_offset, risk, decision
		FROM transactions WHERE kafka_partition = ? AND kafka_offset >= ? AND event_time >= ? ORDER BY kafka_offset`, partition, fromOffset, us(since))
	if err != nil {
		return fmt.Errorf("reading recent transactions of partition %d: %w", partition, err)
	}
	defer rows.Close()
	var t store.Tx
	for rows.Next() {
		var et int64
		var items string
		if err := rows.Scan(&t.TransactionID, &t.CustomerID, &et, &t.TotalCents, &t.Currency, &t.PaymentMethod, &t.Channel,
			&t.CardBIN, &t.CardLast4, &t.DeviceID, &t.IPAddress, &t.BillingCountry, &t.ShippingCountry, &items, &t.Offset, &t.Risk, &t.Decision); err != nil {
			return fmt.Errorf("reading recent transactions of partition %d: %w", partition, err)
		}
		t.EventTime, t.ItemsJSON, t.Partition = fromUS(et), []byte(items), partition
		if err := fn(&t); err != nil {
			return err
		}
	}
	return rows.Err()
}

// DeliverOutbox implements store.Store. The embedded store has one process,
// so reading, sending and marking need no row locks; the writer mutex is
// held only to mark.
func (s *Store) DeliverOutbox(ctx context.Context, limit int, send func(*store.OutboxMsg) error) (delivered, failed int, err error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, kind, target, msg_key, headers, payload, attempts FROM outbox
		WHERE delivered_at IS NULL AND next_attempt_at <= ? ORDER BY id LIMIT ?`, time.Now().UnixMicro(), limit)
	if err != nil {
		return 0, 0, fmt.Errorf("reading outbox: %w", err)
	}
	var msgs []store.OutboxMsg
	for rows.Next() {
		var m store.OutboxMsg
		if err := rows.Scan(&m.ID, &m.Kind, &m.Target, &m.Key, &m.Headers, &m.Payload, &m.Attempts); err != nil {
			rows.Close()
			return 0, 0, fmt.Errorf("reading outbox: %w", err)
		}
		msgs = append(msgs, m)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, 0, fmt.Errorf("reading outbox: %w", err)
	}
	type failure struct {
		id   int64
		msg  string
		next int64
	}
	var ok []int64
	var bad []failure
	for i := range msgs {
		m := &msgs[i]
		if serr := send(m); serr != nil {
			bad = append(bad, failure{m.ID, serr.Error(), time.Now().Add(store.OutboxBackoff(m.Attempts)).UnixMicro()})
			continue
		}
		ok = append(ok, m.ID)
	}
	if len(ok) == 0 && len(bad) == 0 {
		return 0, 0, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, 0, fmt.Errorf("marking outbox: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after commit
	now := time.Now().UnixMicro()
	for _, id := range ok {
		if _, err := tx.ExecContext(ctx, "UPDATE outbox SET delivered_at = ? WHERE id = ?", now, id); err != nil {
			return 0, 0, fmt.Errorf("marking outbox delivered: %w", err)
		}
	}
	for _, f := range bad {
		if _, err := tx.ExecContext(ctx, "UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ? WHERE id = ?", f.msg, f.next, f.id); err != nil {
			return 0, 0, fmt.Errorf("recording outbox failure: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, 0, fmt.Errorf("marking outbox: %w", err)
	}
	return len(ok), len(bad), nil
}

// Checkpoint implements store.Store. Checkpoints are not stored yet.
func (s *Store) Checkpoint(ctx context.Context, group, topic string, partition int32) (*store.Checkpoint, error) {
	return nil, nil
}
