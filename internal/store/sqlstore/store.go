package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/shopstream/shopstream/internal/store"
)

// Store implements store.Store, store.Analytics and store.Fraud over a
// Dialect. The dialect packages embed it and add what only they have:
// Close and TryLead.
type Store struct {
	d    Dialect
	q    Queries
	now  func() time.Time
	hint *pendingHint // store.LabelJoiner
	// keepWindows and keepRollups are store.MinuteHorizon's ages, in
	// nanoseconds (0: every minute row is written).
	keepWindows, keepRollups atomic.Int64
}

// New returns the store over d.
func New(d Dialect) *Store { return &Store{d: d, q: d.SQL(), now: time.Now, hint: &pendingHint{}} }

// SetClock replaces the clock (time.Now by default) that the outbox's
// leases and backoffs and the insertion times of quarantined records,
// alerts and outbox messages are taken from, so tests can move time on.
func (s *Store) SetClock(now func() time.Time) { s.now = now }

// KeepMinutes implements store.MinuteHorizon.
func (s *Store) KeepMinutes(windows, rollups time.Duration) {
	s.keepWindows.Store(int64(max(windows, 0)))
	s.keepRollups.Store(int64(max(rollups, 0)))
}

// minuteCutoffs are the event times before which the store writes no
// minute windows and no minute rollups now (KeepMinutes): a batch derives
// its rows with them, so the minutes left out are not sorted and written
// only to be dropped.
func (s *Store) minuteCutoffs() store.MinuteCutoffs {
	var c store.MinuteCutoffs
	now := s.now()
	if d := time.Duration(s.keepWindows.Load()); d > 0 {
		c.Windows = now.Add(-d)
	}
	if d := time.Duration(s.keepRollups.Load()); d > 0 {
		c.Rollups = now.Add(-d)
	}
	return c
}

// minuteRollups is rows without the minute rows retention would delete,
// for rows not derived with minuteCutoffs (a label's or the entity
// stage's fold) or derived before now (an import's batch).
func (s *Store) minuteRollups(rows []store.FraudRollup) []store.FraudRollup {
	if c := s.minuteCutoffs().Rollups; !c.IsZero() {
		return store.MinuteRollupsSince(rows, c)
	}
	return rows
}

// Migrate applies the migrations in dir of fsys that the database has not
// applied yet, each in its own transaction, under the dialect's migration
// lock, and returns those it applied. A database migrated past the last of
// them (by a newer build) is refused with a *store.SchemaVersionError
// before anything changes.
func (s *Store) Migrate(ctx context.Context, fsys fs.FS, dir string) ([]store.Migration, error) {
	ms, err := store.LoadMigrations(fsys, dir)
	if err != nil {
		return nil, err
	}
	release, err := s.d.LockMigrations(ctx)
	if err != nil {
		return nil, fmt.Errorf("locking for migrations: %w", err)
	}
	defer release()
	if _, err := s.d.DB().Exec(ctx, s.q.SchemaMigrations); err != nil {
		return nil, fmt.Errorf("creating schema_migrations: %w", err)
	}
	var applied []store.Migration
	for _, m := range ms {
		done := false
		err := s.d.Tx(ctx, func(tx DB) error {
			var cur int
			if err := tx.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&cur); err != nil {
				return fmt.Errorf("reading schema version: %w", err)
			}
			if cur > len(ms) {
				return &store.SchemaVersionError{Database: cur, Build: len(ms)}
			}
			if cur >= m.Version {
				return nil // applied already, perhaps by another process
			}
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return err
			}
			done = true
			_, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)", m.Version, m.Name, time.Now())
			return err
		})
		var sv *store.SchemaVersionError
		if errors.As(err, &sv) {
			return nil, sv
		}
		if err != nil {
			return nil, fmt.Errorf("applying migration %s: %w", m.Name, err)
		}
		if done {
			applied = append(applied, m)
		}
	}
	return applied, nil
}

// SchemaStatus reads the migrations the database records as applied
// (none when it has no schema_migrations table yet) beside those in dir of
// fsys. It changes nothing and needs no right to create tables, so
// processes that run as a user without it can check the schema.
func (s *Store) SchemaStatus(ctx context.Context, fsys fs.FS, dir string) (store.SchemaStatus, error) {
	ms, err := store.LoadMigrations(fsys, dir)
	if err != nil {
		return store.SchemaStatus{}, err
	}
	st := store.SchemaStatus{Known: ms}
	db := s.d.DB()
	var has int
	if err := db.QueryRow(ctx, s.q.HasSchemaMigrations).Scan(&has); err != nil {
		return store.SchemaStatus{}, fmt.Errorf("looking for schema_migrations: %w", err)
	}
	if has == 0 {
		return st, nil // a database never migrated
	}
	rows, err := db.Query(ctx, "SELECT version, name, applied_at FROM schema_migrations ORDER BY version")
	if err != nil {
		return store.SchemaStatus{}, fmt.Errorf("reading schema_migrations: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var a store.AppliedMigration
		if err := rows.Scan(&a.Version, &a.Name, &a.AppliedAt); err != nil {
			return store.SchemaStatus{}, fmt.Errorf("reading schema_migrations: %w", err)
		}
		st.Applied = append(st.Applied, a)
	}
	if err := rows.Err(); err != nil {
		return store.SchemaStatus{}, fmt.Errorf("reading schema_migrations: %w", err)
	}
	return st, nil
}

// CheckSchema refuses, with a *store.SchemaVersionError naming both
// versions, a database whose schema is not exactly the one in dir of fsys.
func (s *Store) CheckSchema(ctx context.Context, fsys fs.FS, dir string) error {
	st, err := s.SchemaStatus(ctx, fsys, dir)
	if err != nil {
		return err
	}
	if st.Database() != st.Build() {
		return &store.SchemaVersionError{Database: st.Database(), Build: st.Build()}
	}
	return nil
}

// Open prepares the schema as cfg says: migrates it (SchemaMigrate),
// checks it (SchemaRequire) or leaves it (SchemaAsIs).
func (s *Store) Open(ctx context.Context, fsys fs.FS, dir string, cfg store.OpenConfig) error {
	switch cfg.Schema {
	case store.SchemaMigrate:
		_, err := s.Migrate(ctx, fsys, dir)
		return err
	case store.SchemaRequire:
		return s.CheckSchema(ctx, fsys, dir)
	case store.SchemaAsIs:
		return nil
	}
	return fmt.Errorf("unknown schema mode %d", cfg.Schema)
}

// Ping checks the connection.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	return s.d.DB().QueryRow(ctx, "SELECT 1").Scan(&one)
}

// WriteBatch implements store.Store.
func (s *Store) WriteBatch(ctx context.Context, b *store.Batch) error {
	if len(b.Parts) == 0 {
		return nil
	}
	var j labelJoin
	err := s.runBatch(ctx, b, "a batch", func(tx DB) error { return s.writeBatch(ctx, tx, b, &j) })
	if err == nil {
		s.hint.done(&j)
	}
	return err
}

// runBatch runs write in one store transaction and turns its failure into
// what the writers act on: a duplicate key into the duplicates' report, a
// refusal into a RejectedError, a fence or an earlier commit as it is, and
// anything else into a transient error naming the batch (what: "a batch",
// "an import batch") and its size.
//
// The transaction's commit is traced as a "commit" span under the span of
// ctx (the pipeline's "write"), with the tracer that span came from: the
// commit is where the batch's rows and offsets become durable together.
func (s *Store) runBatch(ctx context.Context, b *store.Batch, what string, write func(tx DB) error) error {
	var commit trace.Span
	err := s.d.Tx(ctx, func(tx DB) error {
		if err := write(tx); err != nil {
			return err
		}
		_, commit = trace.SpanFromContext(ctx).TracerProvider().Tracer("github.com/shopstream/shopstream/internal/store/sqlstore").Start(ctx, "commit")
		return nil
	})
	if commit != nil {
		if err != nil {
			commit.RecordError(err)
			commit.SetStatus(codes.Error, "commit failed")
		}
		commit.End()
	}
	if err == nil {
		return nil
	}
	if errors.Is(err, errDuplicateKey) {
		return s.duplicates(ctx, b.Parts)
	}
	if c, msg := s.d.Classify(err); c != Transient {
		return &store.RejectedError{Message: Sanitize(msg), Err: err}
	}
	if _, fenced := store.IsFenced(err); fenced || errors.Is(err, store.ErrAlreadyCommitted) {
		return err
	}
	n := 0
	for i := range b.Parts {
		n += b.Parts[i].Len()
	}
	return fmt.Errorf("writing %s of %d records: %w", what, n, err)
}

// errDuplicateKey rolls back a batch whose transactions hit the key of
// transactions; WriteBatch then finds which.
var errDuplicateKey = errors.New("duplicate transaction id")

// writeTxRows is the start every batch write shares, the stream's and an
// import's: it locks and fences the batch's offsets, applies erasures, and
// writes the transactions with the rows that go with each of them. With j
// (the stream's batches) it first applies the pending label events of
// the batch's transactions (joinPendingLabels), whose truth the rows then
// carry. With d (an import's batch, derived before this transaction) it
// writes d's prepared transactions, unless an erasure recorded since has
// pseudonymised some of them: d's customer totals are then derived again
// of b and its prepared form dropped (CopyTxs writes b), and d keeps both
// for a retry.
func (s *Store) writeTxRows(ctx context.Context, tx DB, b *store.Batch, j *labelJoin, d *store.Derived) error {
	stored, err := s.d.LockOffsets(ctx, tx, b)
	if err != nil {
		return fmt.Errorf("locking offsets: %w", err)
	}
	if err := store.Fence(b, stored); err != nil {
		return err // nothing written: rolled back
	}
	erased, err := s.applyErasures(ctx, tx, b)
	if err != nil {
		return err
	}
	if erased > 0 && d != nil {
		// Windows and rollups hold no customer.
		d.Customers, d.Prepared = store.CustomerDeltas(b.Parts), nil
	}
	if p, ok := s.d.(TxPreparer); ok && d != nil && d.Prepared != nil {
		err = p.CopyPrepared(ctx, tx, d.Prepared)
	} else {
		err = s.d.CopyTxs(ctx, tx, b.Parts)
	}
	if err != nil {
		if c, _ := s.d.Classify(err); c == DuplicateKey {
			return errDuplicateKey
		}
		return fmt.Errorf("copying transactions: %w", err)
	}
	var late map[string]store.Label
	if j != nil {
		if err := s.joinPendingLabels(ctx, tx, b.Parts, j); err != nil {
			return err
		}
		late = j.late
	}
	if err := s.insertRest(ctx, tx, b.Topic, b.Parts, late); err != nil {
		return err
	}
	return s.markReplays(ctx, tx, b.Parts)
}

func (s *Store) writeBatch(ctx context.Context, tx DB, b *store.Batch, j *labelJoin) error {
	if err := s.writeTxRows(ctx, tx, b, j, nil); err != nil {
		return err
	}
	if err := s.d.UpsertCustomers(ctx, tx, store.CustomerDeltas(b.Parts)); err != nil {
		return fmt.Errorf("upserting customers: %w", err)
	}
	// The rows every batch adds to (its minutes' quality counts, fraud
	// rollups and windows) are keyed by the writer's slot as well, so
	// concurrent writers of the stream do not lock each other's rows.
	slot := b.WriterSlot()
	if err := s.upsertQuality(ctx, tx, slot, store.QualityDeltas(b.Parts, s.now())); err != nil {
		return fmt.Errorf("upserting quality counts: %w", err)
	}
	cut := s.minuteCutoffs()
	if err := s.upsertRollups(ctx, tx, slot, store.RollupDeltasLate(b.Parts, j.late, cut.Rollups)); err != nil {
		return err
	}
	if err := s.d.UpsertWindows(ctx, tx, slot, store.WindowDeltasSince(b.Parts, cut.Windows)); err != nil {
		return fmt.Errorf("upserting window metrics: %w", err)
	}
	if err := s.d.AdvanceOffsets(ctx, tx, b); err != nil {
		return fmt.Errorf("advancing offsets: %w", err)
	}
	return nil
}

// insertRest stores what the parts carry beside their transactions; the
// labels of late (by transaction id) replace the parts' own.
func (s *Store) insertRest(ctx context.Context, tx DB, topic string, parts []store.Part, late map[string]store.Label) error {
	now := s.now()
	var labels, quar, alerts, outbox [][]any
	for i := range parts {
		p := &parts[i]
		for _, l := range p.Labels {
			if _, ok := late[l.TransactionID]; !ok {
				labels = append(labels, []any{l.TransactionID, l.Fraud, l.Scenario})
			}
		}
		for _, q := range p.Quarantined {
			if q.ReplayOf != 0 {
				continue // marks its row instead (markReplays)
			}
			// Whatever came in, the quarantine row must be storable: a
			// tombstone (nil value) is stored as empty bytes, and text
			// loses NUL and invalid UTF-8, which PostgreSQL refuses.
			raw := q.Raw
			if raw == nil {
				raw = []byte{}
			}
			quar = append(quar, []any{Sanitize(q.Reason), Sanitize(q.Detail), raw, q.Partition, q.Offset, Sanitize(q.Expected), now,
				quarantineSource(q.Partition), Sanitize(topic)})
		}
		// An alert takes the scenario of a label in its own batch (the
		// generator's, from the record's headers, or that of the label
		// events the batch joined); later labels reach it through the
		// labels table's trigger (migration 0021).
		var scenario map[string]string
		for _, l := range p.Labels {
			if l.Scenario != "" {
				if scenario == nil {
					scenario = make(map[string]string)
				}
				scenario[l.TransactionID] = l.Scenario
			}
		}
		for _, a := range p.Alerts {
			sc := scenario[a.TransactionID]
			if l, ok := late[a.TransactionID]; ok {
				sc = l.Scenario
			}
			var version any
			if a.ModelVersion != 0 {
				version = a.ModelVersion
			}
			alerts = append(alerts, []any{a.TransactionID, a.CustomerID, a.EventTime, a.Risk, a.Decision, string(a.ReasonsJSON), a.AmountCents, now,
				sc, version, a.Currency})
		}
		for _, o := range p.Outbox {
			outbox = append(outbox, []any{o.Kind, o.Target, o.Key, o.Headers, o.Payload, now, now})
		}
	}
	for _, l := range late {
		labels = append(labels, []any{l.TransactionID, l.Fraud, l.Scenario})
	}
	tables := []struct {
		name string
		cols []string
		rows [][]any
	}{
		{"labels", []string{"transaction_id", "fraud", "scenario"}, labels},
		{"quarantine", []string{"reason", "detail", "raw", "kafka_partition", "kafka_offset", "expected", "quarantined_at", "source", "topic"}, quar},
		{"alerts", []string{"transaction_id", "customer_id", "event_time", "risk", "decision", "reasons", "amount_cents", "created_at",
			"scenario", "model_version", "currency"}, alerts},
		{"outbox", []string{"kind", "target", "msg_key", "headers", "payload", "created_at", "next_attempt_at"}, outbox},
	}
	for _, t := range tables {
		if len(t.rows) == 0 {
			continue
		}
		if err := s.d.Insert(ctx, tx, t.name, t.cols, t.rows); err != nil {
			return fmt.Errorf("inserting %d rows into %s: %w", len(t.rows), t.name, err)
		}
	}
	return nil
}

// duplicates finds the batch's transactions whose id is stored already
// or came earlier in the batch: the first stored wins, and every later
// copy is listed with where the kept one lives.
func (s *Store) duplicates(ctx context.Context, parts []store.Part) error {
	type loc struct {
		p   int32
		off int64
	}
	var ids []string
	for i := range parts {
		for _, t := range parts[i].Txs {
			ids = append(ids, t.TransactionID)
		}
	}
	kept := map[string]loc{}
	// StoredIDs holds every refused id with where its copy is: PostgreSQL's
	// transaction_ids has the partition and offset (NULL for an id stored
	// before migration 0040 whose transaction was gone then), SQLite's
	// transactions has them as columns of the row.
	err := inChunks(ids, func(list string, args []any) error {
		return each(ctx, s.d.DB(), "SELECT transaction_id, kafka_partition, kafka_offset FROM "+s.q.StoredIDs+" WHERE transaction_id IN ("+list+")",
			args, func(r Rows) error {
				var id string
				var p sql.NullInt32
				var off sql.NullInt64
				if err := r.Scan(&id, &p, &off); err != nil {
					return err
				}
				l := loc{-1, -1} // stored, but where is not known
				if p.Valid && off.Valid {
					l = loc{p.Int32, off.Int64}
				}
				kept[id] = l
				return nil
			})
	})
	if err != nil {
		return fmt.Errorf("finding duplicate transactions: %w", err)
	}
	// Of the copies in the batch of an id not stored yet, the one produced
	// first (by Kafka timestamp; a missing one counts as last) is kept;
	// equal times keep the batch's order. Partitions have no order among
	// each other, so the producer's clock is the best witness of which
	// copy came first.
	firstAt := map[string]time.Time{}
	stored := make(map[string]bool, len(kept))
	for id := range kept {
		stored[id] = true
	}
	for i := range parts {
		for _, t := range parts[i].Txs {
			if stored[t.TransactionID] {
				continue
			}
			at := t.ProducedAt
			if at.IsZero() {
				at = time.Unix(1<<40, 0)
			}
			if prev, ok := firstAt[t.TransactionID]; !ok || at.Before(prev) {
				firstAt[t.TransactionID] = at
				kept[t.TransactionID] = loc{t.Partition, t.Offset}
			}
		}
	}
	d := &store.DuplicateError{}
	listed := map[string]bool{}
	for i := range parts {
		for _, t := range parts[i].Txs {
			k := kept[t.TransactionID]
			if !stored[t.TransactionID] && k == (loc{t.Partition, t.Offset}) {
				continue // the copy kept
			}
			d.Copies = append(d.Copies, store.DuplicateCopy{TransactionID: t.TransactionID, Partition: t.Partition, Offset: t.Offset,
				KeptPartition: k.p, KeptOffset: k.off})
			if !listed[t.TransactionID] {
				listed[t.TransactionID] = true
				d.IDs = append(d.IDs, t.TransactionID)
			}
		}
	}
	if len(d.Copies) == 0 {
		return fmt.Errorf("copying transactions: unique violation but no duplicate found")
	}
	return d
}

// inChunks calls fn with a placeholder list ("$1, $2, ...") and its
// arguments for every chunk of up to 500 of ids.
func inChunks(ids []string, fn func(list string, args []any) error) error {
	const chunk = 500
	for lo := 0; lo < len(ids); lo += chunk {
		part := ids[lo:min(lo+chunk, len(ids))]
		var b strings.Builder
		args := make([]any, len(part))
		for i, id := range part {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("$" + strconv.Itoa(i+1))
			args[i] = id
		}
		if err := fn(b.String(), args); err != nil {
			return err
		}
	}
	return nil
}

// Offsets implements store.Store.
func (s *Store) Offsets(ctx context.Context, group, topic string) (map[int32]int64, error) {
	out := map[int32]int64{}
	err := each(ctx, s.d.DB(), "SELECT partition, next_offset FROM consumer_offsets WHERE group_id = $1 AND topic = $2",
		[]any{group, topic}, func(r Rows) error {
			var p int32
			var n int64
			if err := r.Scan(&p, &n); err != nil {
				return err
			}
			out[p] = n
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("reading stored offsets: %w", err)
	}
	return out, nil
}

// Checkpoint implements store.Store: the later of the checkpoint a batch
// stored with the offsets and the one stored after its batch
// (SaveCheckpoint).
func (s *Store) Checkpoint(ctx context.Context, group, topic string, partition int32) (*store.Checkpoint, error) {
	var cp store.Checkpoint
	var off *int64
	var at *time.Time
	err := s.d.DB().QueryRow(ctx, `SELECT checkpoint, checkpoint_offset, checkpoint_at FROM consumer_offsets
		WHERE group_id = $1 AND topic = $2 AND partition = $3`, group, topic, partition).Scan(&cp.State, &off, &at)
	if err != nil && !errors.Is(err, ErrNoRows) {
		return nil, fmt.Errorf("reading the checkpoint of partition %d: %w", partition, err)
	}
	var out *store.Checkpoint
	if err == nil && cp.State != nil && off != nil && at != nil {
		cp.Offset, cp.At = *off, at.UTC()
		out = &cp
	}
	var saved store.Checkpoint
	err = s.d.DB().QueryRow(ctx, `SELECT state, checkpoint_offset, checkpoint_at FROM partition_checkpoints
		WHERE group_id = $1 AND topic = $2 AND partition = $3`, group, topic, partition).Scan(&saved.State, &saved.Offset, &saved.At)
	switch {
	case errors.Is(err, ErrNoRows):
	case err != nil:
		return nil, fmt.Errorf("reading the checkpoint of partition %d: %w", partition, err)
	case out == nil || saved.Offset > out.Offset:
		saved.At = saved.At.UTC()
		out = &saved
	}
	return out, nil
}

// SaveCheckpoint implements store.CheckpointSaver. It reads the partition's
// offset row without locking it, so that it never waits for a batch's
// transaction, nor a batch for it.
func (s *Store) SaveCheckpoint(ctx context.Context, group, topic string, partition int32, owner string, generation int32, offset int64, state []byte) (bool, error) {
	if state == nil {
		state = []byte{}
	}
	n, err := s.d.DB().Exec(ctx, `INSERT INTO partition_checkpoints (group_id, topic, partition, checkpoint_offset, checkpoint_at, state)
		SELECT group_id, topic, partition, $2, $3, $1 FROM consumer_offsets
		WHERE group_id = $4 AND topic = $5 AND partition = $6 AND owner = $7 AND generation = $8 AND next_offset >= $2
			AND (checkpoint_offset IS NULL OR checkpoint_offset < $2)
		ON CONFLICT (group_id, topic, partition) DO UPDATE SET checkpoint_offset = excluded.checkpoint_offset,
			checkpoint_at = excluded.checkpoint_at, state = excluded.state
		WHERE partition_checkpoints.checkpoint_offset < excluded.checkpoint_offset`,
		state, offset, time.Now().UTC(), group, topic, partition, owner, generation)
	if err != nil {
		return false, fmt.Errorf("storing the checkpoint of partition %d: %w", partition, err)
	}
	return n > 0, nil
}

// transactionsTotal is Summary's total of stored transactions: the sum of
// the hourly windows' counts (every stored transaction is in one).
const transactionsTotal = `CAST(coalesce(sum(tx_count), 0) AS BIGINT)`

// TransactionsTotal implements store.TransactionCounter.
func (s *Store) TransactionsTotal(ctx context.Context) (int64, error) {
	var n int64
	if err := s.d.DB().QueryRow(ctx, `SELECT `+transactionsTotal+` FROM window_metrics WHERE granularity = 'hour'`).Scan(&n); err != nil {
		return 0, fmt.Errorf("reading the total of stored transactions: %w", err)
	}
	return n, nil
}

// Summary implements store.Store. The last event time is the start of the
// latest minute window (of the latest hour window once minute windows
// have aged out), an index probe either way.
func (s *Store) Summary(ctx context.Context) (store.Summary, error) {
	var sum store.Summary
	db := s.d.DB()
	err := db.QueryRow(ctx, `SELECT `+transactionsTotal+`, CAST(coalesce(sum(revenue_cents), 0) AS BIGINT),
		CAST(coalesce(sum(alert_count), 0) AS BIGINT),
		coalesce((SELECT max(window_start) FROM window_metrics WHERE granularity = 'minute'), max(window_start))
		FROM window_metrics WHERE granularity = 'hour'`).
		Scan(&sum.TransactionsTotal, &sum.RevenueCents, &sum.FraudAlertsTotal, &sum.LastEventTime)
	if err != nil {
		return sum, fmt.Errorf("reading totals: %w", err)
	}
	if err := db.QueryRow(ctx, "SELECT count(*) FROM quarantine").Scan(&sum.QuarantinedTotal); err != nil {
		return sum, fmt.Errorf("counting quarantine: %w", err)
	}
	if err := db.QueryRow(ctx, "SELECT count(*) FROM customers").Scan(&sum.CustomersTotal); err != nil {
		return sum, fmt.Errorf("counting customers: %w", err)
	}
	sum.RevenueByCurrency = map[string]int64{}
	err = each(ctx, db, `SELECT currency, CAST(sum(revenue_cents) AS BIGINT) FROM window_metrics WHERE granularity = 'hour' GROUP BY currency`,
		nil, func(r Rows) error {
			var cur string
			var cents int64
			err := r.Scan(&cur, &cents)
			sum.RevenueByCurrency[cur] = cents
			return err
		})
	if err != nil {
		return sum, fmt.Errorf("reading revenue by currency: %w", err)
	}
	sum.LastEventTime = utcp(sum.LastEventTime)
	return sum, nil
}

// Windows implements store.Store: the rows of every writer's slot added up.
func (s *Store) Windows(ctx context.Context, g store.Granularity, since time.Time) ([]store.WindowRow, error) {
	var out []store.WindowRow
	err := each(ctx, s.d.DB(), `SELECT window_start, channel, payment_method, currency,
			CAST(sum(tx_count) AS BIGINT), CAST(sum(revenue_cents) AS BIGINT), CAST(sum(alert_count) AS BIGINT)
		FROM window_metrics WHERE granularity = $1 AND window_start >= $2
		GROUP BY window_start, channel, payment_method, currency ORDER BY window_start, channel, payment_method, currency`,
		[]any{string(g), since}, func(r Rows) error {
			w := store.WindowRow{Granularity: g}
			if err := r.Scan(&w.Start, &w.Channel, &w.PaymentMethod, &w.Currency, &w.Count, &w.RevenueCents, &w.Alerts); err != nil {
				return err
			}
			w.Start = w.Start.UTC()
			out = append(out, w)
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("reading window metrics: %w", err)
	}
	return out, nil
}

// RecentTransactions implements store.Store.
func (s *Store) RecentTransactions(ctx context.Context, partition int32, fromOffset int64, since time.Time, fn func(*store.Tx) error) error {
	var t store.Tx
	var items string
	return s.inOrder(ctx, func(db DB) error {
		return stream(ctx, db, fmt.Sprintf("recent transactions of partition %d", partition), `SELECT transaction_id, customer_id,
		event_time, total_cents, currency, payment_method, channel, card_bin, card_last4, device_id, ip_address, billing_country,
		shipping_country, CAST(items AS TEXT), kafka_offset, risk, decision, ip_country, ip_hosting, shipping_address
		FROM transactions WHERE kafka_partition = $1 AND kafka_offset >= $2 AND event_time >= $3 ORDER BY kafka_offset`,
			[]any{partition, fromOffset, since}, func(r Rows) error {
				err := r.Scan(&t.TransactionID, &t.CustomerID, &t.EventTime, &t.TotalCents, &t.Currency, &t.PaymentMethod, &t.Channel,
					&t.CardBIN, &t.CardLast4, &t.DeviceID, &t.IPAddress, &t.BillingCountry, &t.ShippingCountry, &items, &t.Offset, &t.Risk, &t.Decision,
					&t.IPCountry, &t.IPHosting, &t.ShippingAddress)
				t.EventTime, t.ItemsJSON, t.Partition = t.EventTime.UTC(), []byte(items), partition
				return err
			}, func() error { return fn(&t) })
	})
}

// FirstEventTime returns the earliest event time of the stored
// transactions, nil when none is stored: where `shopstream run`'s history
// began, so that a run restarted on its data rebuilds the same customers.
func (s *Store) FirstEventTime(ctx context.Context) (*time.Time, error) {
	var t *time.Time
	if err := s.d.DB().QueryRow(ctx, `SELECT min(event_time) FROM transactions`).Scan(&t); err != nil {
		return nil, fmt.Errorf("reading the first event time: %w", err)
	}
	return utcp(t), nil
}

// MaxCustomerID returns the greatest stored customer ID starting with "c"
// in byte order
// ("" when none): with the generator's zero-padded numbers, the last one
// handed out.
func (s *Store) MaxCustomerID(ctx context.Context) (string, error) {
	var id *string
	if err := s.d.DB().QueryRow(ctx, `SELECT max(customer_id) FROM customers WHERE customer_id >= 'c' AND customer_id < 'd'`).Scan(&id); err != nil {
		return "", fmt.Errorf("reading the greatest customer id: %w", err)
	}
	if id == nil {
		return "", nil
	}
	return *id, nil
}
