// Package postgres is the PostgreSQL Store: pgx with a connection pool,
// COPY for bulk rows, additive upserts for window metrics and customers, and
// embedded numbered migrations applied at open.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/shopstream/shopstream/internal/store"
)

//go:embed migrations/*.sql
var migrationsFS embed.FS

// Store is the PostgreSQL implementation of store.Store.
type Store struct {
	pool *pgxpool.Pool
}

var _ store.Store = (*Store)(nil)

// Open connects to url, applies pending migrations and returns the store.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parsing --postgres URL: %w", err)
	}
	if cfg.MaxConns < 8 {
		cfg.MaxConns = 8
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connecting to PostgreSQL: %w", err)
	}
	s := &Store{pool: pool}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// Pool exposes the connection pool for the model jobs and the API.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// migrationLock is the advisory lock key that serialises migrations among
// processors starting together.
const migrationLock = 0x73686f7073747231

func (s *Store) migrate(ctx context.Context) error {
	ms, err := store.LoadMigrations(migrationsFS, "migrations")
	if err != nil {
		return err
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("connecting to PostgreSQL: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", int64(migrationLock)); err != nil {
		return fmt.Errorf("locking for migrations: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", int64(migrationLock)) //nolint:errcheck // released with the session anyway
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("creating schema_migrations: %w", err)
	}
	var cur int
	if err := conn.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&cur); err != nil {
		return fmt.Errorf("reading schema version: %w", err)
	}
	for _, m := range ms[min(cur, len(ms)):] {
		err := pgx.BeginFunc(ctx, conn.Conn(), func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.Version, m.Name)
			return err
		})
		if err != nil {
			return fmt.Errorf("applying migration %s: %w", m.Name, err)
		}
	}
	return nil
}

// Ping checks the connection.
func (s *Store) Ping(ctx context.Context) error { return s.pool.Ping(ctx) }

// Close closes the pool.
func (s *Store) Close() error { s.pool.Close(); return nil }

// WriteBatch implements store.Store.
func (s *Store) WriteBatch(ctx context.Context, b *store.Batch) error {
	if len(b.Parts) == 0 {
		return nil
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("beginning batch transaction: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after commit

	if err := fence(ctx, tx, b); err != nil {
		return err // nothing written: rolled back
	}
	if err := copyTxs(ctx, tx, b.Parts); err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == "transactions_pkey" {
			tx.Rollback(ctx) //nolint:errcheck // the transaction is aborted already
			return s.duplicates(ctx, b.Parts)
		}
		return fmt.Errorf("copying transactions: %w", err)
	}
	if err := copyRest(ctx, tx, b.Parts); err != nil {
		return err
	}
	if err := upsertCustomers(ctx, tx, store.CustomerDeltas(b.Parts)); err != nil {
		return err
	}
	// Window rows are shared by every writer (each batch touches the same
	// few minutes), so they are locked last, just before the commit, to
	// keep concurrent writers from queueing on them for the whole batch.
	if err := upsertWindows(ctx, tx, store.WindowDeltas(b.Parts)); err != nil {
		return err
	}
	parts := make([]int32, len(b.Parts))
	next := make([]int64, len(b.Parts))
	for i, p := range b.Parts {
		parts[i], next[i] = p.Partition, p.To
	}
	if _, err := tx.Exec(ctx, `UPDATE consumer_offsets c SET next_offset = u.n, updated_at = now()
		FROM unnest($3::int[], $4::bigint[]) AS u(p, n)
		WHERE c.group_id = $1 AND c.topic = $2 AND c.partition = u.p`, b.Group, b.Topic, parts, next); err != nil {
		return fmt.Errorf("advancing offsets: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("committing batch: %w", err)
	}
	return nil
}

// fence locks the offset rows of the batch's partitions and checks each
// still stands at the part's From offset.
func fence(ctx context.Context, tx pgx.Tx, b *store.Batch) error {
	parts := make([]int32, len(b.Parts))
	from := make([]int64, len(b.Parts))
	for i, p := range b.Parts {
		parts[i], from[i] = p.Partition, p.From
	}
	if _, err := tx.Exec(ctx, `INSERT INTO consumer_offsets (group_id, topic, partition, next_offset)
		SELECT $1, $2, p, f FROM unnest($3::int[], $4::bigint[]) AS u(p, f)
		ON CONFLICT DO NOTHING`, b.Group, b.Topic, parts, from); err != nil {
		return fmt.Errorf("registering offsets: %w", err)
	}
	rows, err := tx.Query(ctx, `SELECT partition, next_offset FROM consumer_offsets
		WHERE group_id = $1 AND topic = $2 AND partition = ANY($3) ORDER BY partition FOR UPDATE`, b.Group, b.Topic, parts)
	if err != nil {
		return fmt.Errorf("locking offsets: %w", err)
	}
	stored := map[int32]int64{}
	for rows.Next() {
		var p int32
		var n int64
		if err := rows.Scan(&p, &n); err != nil {
			rows.Close()
			return fmt.Errorf("reading offsets: %w", err)
		}
		stored[p] = n
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading offsets: %w", err)
	}
	return store.Fence(b.Parts, stored)
}

var txColumns = []string{"transaction_id", "customer_id", "event_time", "total_cents", "currency",
	"payment_method", "channel", "card_bin", "card_last4", "device_id", "ip_address", "billing_country",
	"shipping_country", "items", "kafka_partition", "kafka_offset", "risk", "decision", "reasons", "shadow_risk", "features", "produced_at"}

// txSource streams the batch's transactions to COPY without copying them.
type txSource struct {
	parts []store.Part
	i, j  int
	row   []any
}

func (s *txSource) Next() bool {
	for s.i < len(s.parts) {
		if s.j < len(s.parts[s.i].Txs) {
			s.j++
			return true
		}
		s.i, s.j = s.i+1, 0
	}
	return false
}

func (s *txSource) Values() ([]any, error) {
	t := &s.parts[s.i].Txs[s.j-1]
	var feats, shadow any
	if t.Features != nil {
		feats = t.Features
	}
	if t.HasShadow {
		shadow = float32(t.ShadowRisk)
	}
	s.row = append(s.row[:0], t.TransactionID, t.CustomerID, t.EventTime, t.TotalCents, t.Currency,
		t.PaymentMethod, t.Channel, t.CardBIN, t.CardLast4, t.DeviceID, t.IPAddress, t.BillingCountry,
		t.ShippingCountry, string(t.ItemsJSON), t.Partition, t.Offset, float32(t.Risk), t.Decision, string(t.ReasonsJSON), shadow, feats, t.ProducedAt)
	return s.row, nil
}

func (s *txSource) Err() error { return nil }

func copyTxs(ctx context.Context, tx pgx.Tx, parts []store.Part) error {
	return copyTxsInto(ctx, tx, "transactions", parts)
}

func copyTxsInto(ctx context.Context, tx pgx.Tx, table string, parts []store.Part) error {
	n := 0
	for i := range parts {
		n += len(parts[i].Txs)
	}
	if n == 0 {
		return nil
	}
	_, err := tx.CopyFrom(ctx, pgx.Identifier{table}, txColumns, &txSource{parts: parts})
	return err
}

// BareCopy copies rows into a fresh copy of the transactions table (same
// columns, keys and indexes) in one transaction, and drops it afterwards:
// the benchmark's yardstick of what PostgreSQL can take, measured the same
// way the processor writes.
func (s *Store) BareCopy(ctx context.Context, batches [][]store.Tx) (time.Duration, error) {
	if _, err := s.pool.Exec(ctx, "DROP TABLE IF EXISTS bench_copy; CREATE TABLE bench_copy (LIKE transactions INCLUDING ALL)"); err != nil {
		return 0, fmt.Errorf("creating bench_copy: %w", err)
	}
	defer s.pool.Exec(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS bench_copy") //nolint:errcheck // best effort
	start := time.Now()
	for _, rows := range batches {
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			return copyTxsInto(ctx, tx, "bench_copy", []store.Part{{Txs: rows}})
		})
		if err != nil {
			return 0, fmt.Errorf("copying into bench_copy: %w", err)
		}
	}
	return time.Since(start), nil
}

func copyRest(ctx context.Context, tx pgx.Tx, parts []store.Part) error {
	var labels, quar, alerts, outbox [][]any
	for i := range parts {
		p := &parts[i]
		for _, l := range p.Labels {
			labels = append(labels, []any{l.TransactionID, l.Fraud, l.Scenario})
		}
		for _, q := range p.Quarantined {
			quar = append(quar, []any{q.Reason, q.Detail, q.Raw, q.Partition, q.Offset, q.Expected})
		}
		for _, a := range p.Alerts {
			alerts = append(alerts, []any{a.TransactionID, a.CustomerID, a.EventTime, float32(a.Risk), a.Decision, string(a.ReasonsJSON), a.AmountCents})
		}
		for _, o := range p.Outbox {
			outbox = append(outbox, []any{o.Kind, o.Target, o.Key, o.Headers, o.Payload})
		}
	}
	copies := []struct {
		table string
		cols  []string
		rows  [][]any
	}{
		{"labels", []string{"transaction_id", "fraud", "scenario"}, labels},
		{"quarantine", []string{"reason", "detail", "raw", "kafka_partition", "kafka_offset", "expected"}, quar},
		{"alerts", []string{"transaction_id", "customer_id", "event_time", "risk", "decision", "reasons", "amount_cents"}, alerts},
		{"outbox", []string{"kind", "target", "msg_key", "headers", "payload"}, outbox},
	}
	for _, c := range copies {
		if len(c.rows) == 0 {
			continue
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{c.table}, c.cols, pgx.CopyFromRows(c.rows)); err != nil {
			return fmt.Errorf("copying %d rows into %s: %w", len(c.rows), c.table, err)
		}
	}
	return nil
}

func upsertWindows(ctx context.Context, tx pgx.Tx, ws []store.WindowRow) error {
	if len(ws) == 0 {
		return nil
	}
	g := make([]string, len(ws))
	st := make([]time.Time, len(ws))
	ch := make([]string, len(ws))
	pm := make([]string, len(ws))
	n := make([]int64, len(ws))
	rev := make([]int64, len(ws))
	al := make([]int64, len(ws))
	for i, w := range ws {
		g[i], st[i], ch[i], pm[i], n[i], rev[i], al[i] = string(w.Granularity), w.Start, w.Channel, w.PaymentMethod, w.Count, w.RevenueCents, w.Alerts
	}
	_, err := tx.Exec(ctx, `INSERT INTO window_metrics AS w (granularity, window_start, channel, payment_method, tx_count, revenue_cents, alert_count)
		SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::bigint[])
		ON CONFLICT (granularity, window_start, channel, payment_method) DO UPDATE SET
			tx_count = w.tx_count + excluded.tx_count,
			revenue_cents = w.revenue_cents + excluded.revenue_cents,
			alert_count = w.alert_count + excluded.alert_count`, g, st, ch, pm, n, rev, al)
	if err != nil {
		return fmt.Errorf("upserting %d window metrics: %w", len(ws), err)
	}
	return nil
}

func upsertCustomers(ctx context.Context, tx pgx.Tx, cs []store.CustomerDelta) error {
	if len(cs) == 0 {
		return nil
	}
	id := make([]string, len(cs))
	first := make([]time.Time, len(cs))
	last := make([]time.Time, len(cs))
	orders := make([]int64, len(cs))
	rev := make([]int64, len(cs))
	for i, c := range cs {
		id[i], first[i], last[i], orders[i], rev[i] = c.CustomerID, c.FirstSeen, c.LastSeen, c.Orders, c.RevenueCents
	}
	_, err := tx.Exec(ctx, `INSERT INTO customers AS c (customer_id, first_seen, last_seen, orders, revenue_cents)
		SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::timestamptz[], $4::bigint[], $5::bigint[])
		ON CONFLICT (customer_id) DO UPDATE SET
			first_seen = least(c.first_seen, excluded.first_seen),
			last_seen = greatest(c.last_seen, excluded.last_seen),
			orders = c.orders + excluded.orders,
			revenue_cents = c.revenue_cents + excluded.revenue_cents`, id, first, last, orders, rev)
	if err != nil {
		return fmt.Errorf("upserting %d customers: %w", len(cs), err)
	}
	return nil
}

// duplicates finds which of the batch's transactions are stored already.
func (s *Store) duplicates(ctx context.Context, parts []store.Part) error {
	var ids []string
	for i := range parts {
		for _, t := range parts[i].Txs {
			ids = append(ids, t.TransactionID)
		}
	}
	rows, err := s.pool.Query(ctx, "SELECT transaction_id FROM transactions WHERE transaction_id = ANY($1)", ids)
	if err != nil {
		return fmt.Errorf("finding duplicate transactions: %w", err)
	}
	dups, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("finding duplicate transactions: %w", err)
	}
	// Repeats inside the batch itself also violate the key.
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] && !slices.Contains(dups, id) {
			dups = append(dups, id)
		}
		seen[id] = true
	}
	if len(dups) == 0 {
		return fmt.Errorf("copying transactions: unique violation but no duplicate found")
	}
	return &store.DuplicateError{IDs: dups}
}

// Offsets implements store.Store.
func (s *Store) Offsets(ctx context.Context, group, topic string) (map[int32]int64, error) {
	rows, err := s.pool.Query(ctx, "SELECT partition, next_offset FROM consumer_offsets WHERE group_id = $1 AND topic = $2", group, topic)
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
	var last *time.Time
	err := s.pool.QueryRow(ctx, `SELECT coalesce(sum(tx_count), 0)::bigint, coalesce(sum(revenue_cents), 0)::bigint,
		coalesce(sum(alert_count), 0)::bigint, max(window_start) FROM window_metrics WHERE granularity = 'hour'`).
		Scan(&sum.TransactionsTotal, &sum.RevenueCents, &sum.FraudAlertsTotal, &last)
	if err != nil {
		return sum, fmt.Errorf("reading totals: %w", err)
	}
	if err := s.pool.QueryRow(ctx, "SELECT count(*) FROM quarantine").Scan(&sum.QuarantinedTotal); err != nil {
		return sum, fmt.Errorf("counting quarantine: %w", err)
	}
	if err := s.pool.QueryRow(ctx, "SELECT count(*) FROM customers").Scan(&sum.CustomersTotal); err != nil {
		return sum, fmt.Errorf("counting customers: %w", err)
	}
	sum.RevenueTotal = float64(sum.RevenueCents) / 100
	sum.LastEventTime = last
	return sum, nil
}

// Windows implements store.Store.
func (s *Store) Windows(ctx context.Context, g store.Granularity, since time.Time) ([]store.WindowRow, error) {
	rows, err := s.pool.Query(ctx, `SELECT window_start, channel, payment_method, tx_count, revenue_cents, alert_count
		FROM window_metrics WHERE granularity = $1 AND window_start >= $2 ORDER BY window_start, channel, payment_method`, string(g), since)
	if err != nil {
		return nil, fmt.Errorf("reading window metrics: %w", err)
	}
	defer rows.Close()
	var out []store.WindowRow
	for rows.Next() {
		w := store.WindowRow{Granularity: g}
		if err := rows.Scan(&w.Start, &w.Channel, &w.PaymentMethod, &w.Count, &w.RevenueCents, &w.Alerts); err != nil {
			return nil, fmt.Errorf("reading window metrics: %w", err)
		}
		w.Start = w.Start.UTC()
		out = append(out, w)
	}
	return out, rows.Err()
}

// RecentTransactions implements store.Store.
func (s *Store) RecentTransactions(ctx context.Context, partition int32, fromOffset int64, since time.Time, fn func(*store.Tx) error) error {
	rows, err := s.pool.Query(ctx, `SELECT transaction_id, customer_id, event_time, total_cents, currency, payment_method, channel,
		card_bin, card_last4, device_id, ip_address, billing_country, shipping_country, items::text, kafka_offset, risk, decision
		FROM transactions WHERE kafka_partition = $1 AND kafka_offset >= $2 AND event_time >= $3 ORDER BY kafka_offset`, partition, fromOffset, since)
	if err != nil {
		return fmt.Errorf("reading recent transactions of partition %d: %w", partition, err)
	}
	defer rows.Close()
	var t store.Tx
	for rows.Next() {
		var items string
		var risk float32
		if err := rows.Scan(&t.TransactionID, &t.CustomerID, &t.EventTime, &t.TotalCents, &t.Currency, &t.PaymentMethod, &t.Channel,
			&t.CardBIN, &t.CardLast4, &t.DeviceID, &t.IPAddress, &t.BillingCountry, &t.ShippingCountry, &items, &t.Offset, &risk, &t.Decision); err != nil {
			return fmt.Errorf("reading recent transactions of partition %d: %w", partition, err)
		}
		t.ItemsJSON, t.Risk, t.Partition = []byte(items), float64(risk), partition
		if err := fn(&t); err != nil {
			return err
		}
	}
	return rows.Err()
}

// DeliverOutbox implements store.Store.
func (s *Store) DeliverOutbox(ctx context.Context, limit int, send func(*store.OutboxMsg) error) (delivered, failed int, err error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("reading outbox: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after commit
	rows, err := tx.Query(ctx, `SELECT id, kind, target, msg_key, headers, payload, attempts FROM outbox
		WHERE delivered_at IS NULL AND next_attempt_at <= now() ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`, limit)
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
	var ok []int64
	for i := range msgs {
		m := &msgs[i]
		if serr := send(m); serr != nil {
			failed++
			wait := store.OutboxBackoff(m.Attempts)
			if _, err := tx.Exec(ctx, `UPDATE outbox SET attempts = attempts + 1, last_error = $2,
				next_attempt_at = now() + $3 * interval '1 millisecond' WHERE id = $1`, m.ID, serr.Error(), wait.Milliseconds()); err != nil {
				return 0, 0, fmt.Errorf("recording outbox failure: %w", err)
			}
			continue
		}
		ok = append(ok, m.ID)
	}
	if len(ok) > 0 {
		if _, err := tx.Exec(ctx, "UPDATE outbox SET delivered_at = now() WHERE id = ANY($1)", ok); err != nil {
			return 0, 0, fmt.Errorf("marking outbox delivered: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, 0, fmt.Errorf("committing outbox delivery: %w", err)
	}
	return len(ok), failed, nil
}

// Checkpoint implements store.Store. Checkpoints are not stored yet.
func (s *Store) Checkpoint(ctx context.Context, group, topic string, partition int32) (*store.Checkpoint, error) {
	return nil, nil
}
