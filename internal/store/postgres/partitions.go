package postgres

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/sqlstore"
)

// Day partitions of transactions (migration 0013): transactions_pYYYYMMDD
// holds the events of that UTC day; transactions_default holds every event
// of a day without a partition. Partitions are found by name, so a table
// attached by hand under another name is never dropped.
const (
	partitionPrefix = "transactions_p"
	partitionLayout = "20060102"
	defaultPart     = "transactions_default"
)

// partitionName is the name of day's partition.
func partitionName(day time.Time) string { return partitionPrefix + day.UTC().Format(partitionLayout) }

// dayOf returns the day of a partition's name, and false for any other table.
func dayOf(name string) (time.Time, bool) {
	rest, ok := strings.CutPrefix(name, partitionPrefix)
	if !ok || len(rest) != len(partitionLayout) {
		return time.Time{}, false
	}
	d, err := time.Parse(partitionLayout, rest)
	return d, err == nil
}

func utcDay(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// partitions lists the day partitions of transactions, oldest first.
func (s *Store) partitions(ctx context.Context) ([]time.Time, error) {
	rows, err := s.pool.Query(ctx, `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'transactions'::regclass`)
	if err != nil {
		return nil, fmt.Errorf("listing the partitions of transactions: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("listing the partitions of transactions: %w", err)
	}
	var days []time.Time
	for _, n := range names {
		if d, ok := dayOf(n); ok {
			days = append(days, d)
		}
	}
	sort.Slice(days, func(i, j int) bool { return days[i].Before(days[j]) })
	return days, nil
}

// EnsurePartitions implements store.Partitioner. A day some of whose
// events sit in the default partition already (late or early events, or
// days before the job first ran) gets its partition all the same: its
// rows are moved out of the default partition into it, in the same
// transaction, before it is attached.
func (s *Store) EnsurePartitions(ctx context.Context, now time.Time, ahead int) (int, error) {
	have, err := s.partitions(ctx)
	if err != nil {
		return 0, err
	}
	exists := map[time.Time]bool{}
	for _, d := range have {
		exists[d] = true
	}
	created := 0
	for day := utcDay(now).AddDate(0, 0, -1); !day.After(utcDay(now).AddDate(0, 0, ahead)); day = day.AddDate(0, 0, 1) {
		if exists[day] {
			continue
		}
		if err := s.createPartition(ctx, day); err != nil {
			return created, err
		}
		created++
	}
	return created, nil
}

func (s *Store) createPartition(ctx context.Context, day time.Time) error {
	name := pgx.Identifier{partitionName(day)}.Sanitize()
	from, to := day, day.AddDate(0, 0, 1)
	bounds := fmt.Sprintf("FOR VALUES FROM ('%s') TO ('%s')", from.Format(time.RFC3339), to.Format(time.RFC3339))
	_, err := s.pool.Exec(ctx, "CREATE TABLE IF NOT EXISTS "+name+" PARTITION OF transactions "+bounds)
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "23514" { // check_violation: the default partition holds rows of the day
		if err != nil {
			return fmt.Errorf("creating partition %s: %w", name, err)
		}
		return nil
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "CREATE TABLE "+name+" (LIKE transactions INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `WITH moved AS (DELETE FROM `+defaultPart+` WHERE event_time >= $1 AND event_time < $2 RETURNING *)
			INSERT INTO `+name+` SELECT * FROM moved`, from, to); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "ALTER TABLE transactions ATTACH PARTITION "+name+" "+bounds)
		return err
	})
	if err != nil {
		return fmt.Errorf("creating partition %s from the rows of the default partition: %w", name, err)
	}
	return nil
}

// PruneTransactions implements store.Retention: it drops the day
// partitions that end at or before before, and deletes the rows of the
// default partition before it in batches. The labels and the dedup ids
// (transaction_ids) of a partition's rows are deleted in batches of its
// ids before the partition is dropped; a failure in between leaves the
// partition in place, to be dropped by the next run.
func (s *Store) PruneTransactions(ctx context.Context, before time.Time, batch int) (store.Pruned, error) {
	if batch <= 0 {
		batch = sqlstore.DefaultPruneBatch
	}
	var out store.Pruned
	days, err := s.partitions(ctx)
	if err != nil {
		return out, err
	}
	for _, day := range days {
		if day.AddDate(0, 0, 1).After(before) {
			break
		}
		name := pgx.Identifier{partitionName(day)}.Sanitize()
		var est float64
		if err := s.pool.QueryRow(ctx, "SELECT reltuples FROM pg_class WHERE oid = $1::regclass", partitionName(day)).Scan(&est); err != nil {
			return out, fmt.Errorf("reading the size of partition %s: %w", name, err)
		}
		// The ids are read in one pass over the table (it has no index on
		// them, and is dropped next) and deleted elsewhere in batches, each
		// in a transaction of its own on another connection.
		del := func(ids []string) error {
			return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
				if _, err := tx.Exec(ctx, "DELETE FROM labels WHERE transaction_id = ANY($1)", ids); err != nil {
					return err
				}
				if _, err := tx.Exec(ctx, "DELETE FROM label_events WHERE transaction_id = ANY($1)", ids); err != nil {
					return err
				}
				_, err := tx.Exec(ctx, "DELETE FROM transaction_ids WHERE transaction_id = ANY($1)", ids)
				return err
			})
		}
		err := func() error {
			rows, err := s.pool.Query(ctx, "SELECT transaction_id FROM "+name)
			if err != nil {
				return err
			}
			defer rows.Close()
			ids := make([]string, 0, batch)
			for rows.Next() {
				var id string
				if err := rows.Scan(&id); err != nil {
					return err
				}
				if ids = append(ids, id); len(ids) == batch {
					if err := del(ids); err != nil {
						return err
					}
					ids = ids[:0]
				}
			}
			if err := rows.Err(); err != nil {
				return err
			}
			if len(ids) > 0 {
				return del(ids)
			}
			return nil
		}()
		if err != nil {
			return out, fmt.Errorf("deleting the labels and ids of partition %s: %w", name, err)
		}
		if _, err := s.pool.Exec(ctx, "DROP TABLE "+name); err != nil {
			return out, fmt.Errorf("dropping partition %s: %w", name, err)
		}
		out.Partitions++
		out.PartitionRows += int64(max(est, 0))
	}
	const pick = `SELECT transaction_id FROM ` + defaultPart + ` WHERE event_time < $1 ORDER BY event_time LIMIT $2`
	n, err := s.DeleteInBatches(ctx, "transactions of the default partition before "+before.UTC().Format(time.RFC3339), batch, []string{
		`DELETE FROM labels WHERE transaction_id IN (` + pick + `)`,
		`DELETE FROM label_events WHERE transaction_id IN (` + pick + `)`,
		`DELETE FROM transaction_ids WHERE transaction_id IN (` + pick + `)`,
		// By their place: the table has no index on the id.
		`DELETE FROM ` + defaultPart + ` WHERE ctid = ANY(ARRAY(SELECT ctid FROM ` + defaultPart + ` WHERE event_time < $1 ORDER BY event_time LIMIT $2))`,
	}, before)
	out.Rows = n
	return out, err
}
