package e2e

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/bus"
	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/pgtest"
	"github.com/shopstream/shopstream/internal/store/postgres"
	"github.com/shopstream/shopstream/internal/store/sqlite"
)

// storeEnv is the store a test's processors write to, opened in the test
// too, to read what they wrote.
type storeEnv struct {
	st   store.Store
	args []string // the process flags that select it
	url  string   // PostgreSQL's URL; "" for SQLite
	// query runs a query without parameters and calls row for each row
	// with the function that scans it.
	query func(ctx context.Context, sql string, row func(scan func(dest ...any) error) error) error
}

// postgresStore makes a fresh PostgreSQL database for t.
func postgresStore(t *testing.T) *storeEnv {
	t.Helper()
	url := pgtest.URL(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &storeEnv{st: st, args: []string{"--postgres", url}, url: url,
		query: func(ctx context.Context, sql string, row func(func(...any) error) error) error {
			rows, err := st.Pool().Query(ctx, sql)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				if err := row(rows.Scan); err != nil {
					return err
				}
			}
			return rows.Err()
		}}
}

// sqliteStore makes an SQLite store in a directory of t's.
func sqliteStore(t *testing.T) *storeEnv {
	t.Helper()
	dir := t.TempDir()
	st, err := sqlite.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &storeEnv{st: st, args: []string{"--data-dir", dir},
		query: func(ctx context.Context, sql string, row func(func(...any) error) error) error {
			rows, err := st.DB().QueryContext(ctx, sql)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				if err := row(rows.Scan); err != nil {
					return err
				}
			}
			return rows.Err()
		}}
}

// committed is the number of records the stored offsets cover (every
// partition starts at offset 0).
func (s *storeEnv) committed(ctx context.Context, group, topic string) (int64, error) {
	offs, err := s.st.Offsets(ctx, group, topic)
	var n int64
	for _, o := range offs {
		n += o
	}
	return n, err
}

// rig is what a test's processors share: the broker, the topic, the group
// and the store.
type rig struct {
	k     *kafkaEnv
	s     *storeEnv
	topic string
	group string
	batch int
}

// newRig makes a topic of t's own on k, and a consumer group of its own
// (tests against one real Kafka must not share one), for processors that
// commit batches of at most batch records to s.
func newRig(t *testing.T, k *kafkaEnv, s *storeEnv, batch int) *rig {
	t.Helper()
	topic := k.newTopic(t)
	return &rig{k: k, s: s, topic: topic, group: "group-" + topic, batch: batch}
}

// start starts a `shopstream process` child with extra flags appended.
func (p *rig) start(t *testing.T, name string, extra ...string) *child {
	t.Helper()
	return p.startEnv(t, name, nil, extra...)
}

// startEnv is start with env added to the child's environment.
func (p *rig) startEnv(t *testing.T, name string, env []string, extra ...string) *child {
	t.Helper()
	args := []string{"process",
		"--brokers", strings.Join(p.k.brokers, ","), "--topic", p.topic, "--group", p.group,
		"--batch", strconv.Itoa(p.batch), "--log-level", "info"}
	args = append(args, p.s.args...)
	return startChildEnv(t, name, env, append(args, extra...)...)
}

// committed is the number of records committed so far; -1 when the store
// cannot be read at the moment (the database may be restarting).
func (p *rig) committed() int64 {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n, err := p.s.committed(ctx, p.group, p.topic)
	if err != nil {
		return -1
	}
	return n
}

// waitCommitted waits until more than n records are committed and returns
// the count, failing t after timeout or when one of procs ends.
func (p *rig) waitCommitted(t *testing.T, n int64, timeout time.Duration, procs ...*child) int64 {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if c := p.committed(); c > n {
			return c
		}
		for _, c := range procs {
			c.mustRun(t)
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %d records committed, waiting for more than %d", timeout, p.committed(), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitCaughtUp waits until the stored offsets equal the topic's end offsets.
func (p *rig) waitCaughtUp(t *testing.T, ends map[int32]int64, timeout time.Duration, procs ...*child) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last map[int32]int64
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		offs, err := p.s.st.Offsets(ctx, p.group, p.topic)
		cancel()
		if err == nil {
			last = offs
			if caughtUp(offs, ends) {
				return
			}
		}
		for _, c := range procs {
			c.mustRun(t)
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s the stored offsets are %v, want the end offsets %v (last error: %v)", timeout, last, ends, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// caughtUp reports whether the stored offsets equal the end offsets; a
// partition with no records needs no stored offset.
func caughtUp(offs, ends map[int32]int64) bool {
	for part, end := range ends {
		if o, ok := offs[part]; o != end || (!ok && end != 0) {
			return false
		}
	}
	return true
}

// verify checks, each in a subtest of t, that the store holds exactly what
// was produced:
//
//   - offsets: the stored offsets are the topic's end offsets;
//   - totals: store.Summary, and the rows counted directly, give the
//     expected transactions, cents and quarantined records;
//   - minute_windows: store.Windows per event-time minute;
//   - each_offset_once: every offset is stored once, a good record as the
//     transaction produced there, a bad one in quarantine for the check it
//     was made to fail;
//   - quarantine_labels: a quarantined record keeps its shopstream-bad label;
//   - customers_and_labels: the customers' additive totals and one label per
//     transaction, written in the same database transactions;
//   - dead_letters: one dead-letter message in the outbox per quarantined
//     record.
func (p *rig) verify(t *testing.T, want *expected, ends map[int32]int64) {
	t.Helper()
	var total int64
	for _, e := range ends {
		total += e
	}
	if total != want.records {
		t.Fatalf("the topic's end offsets %v add up to %d records; %d were produced", ends, total, want.records)
	}
	t.Logf("produced %d records: %d good (%d cents), %d bad, over %d event-time minutes",
		want.records, want.stored, want.cents, want.quarantined, len(want.minutes))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	q := func(t *testing.T, sql string, row func(scan func(...any) error) error) {
		t.Helper()
		if err := p.s.query(ctx, sql, row); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	one := func(dest ...any) func(scan func(...any) error) error {
		return func(scan func(...any) error) error { return scan(dest...) }
	}

	t.Run("offsets", func(t *testing.T) {
		offs, err := p.s.st.Offsets(ctx, p.group, p.topic)
		if err != nil {
			t.Fatal(err)
		}
		if !caughtUp(offs, ends) || len(offs) > len(ends) {
			t.Errorf("stored offsets %v, want the end offsets %v", offs, ends)
		}
	})

	t.Run("totals", func(t *testing.T) {
		sum, err := p.s.st.Summary(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if sum.TransactionsTotal != want.stored || sum.RevenueCents != want.cents || sum.QuarantinedTotal != want.quarantined {
			t.Errorf("store.Summary: %d transactions, %d cents, %d quarantined; want %d, %d, %d",
				sum.TransactionsTotal, sum.RevenueCents, sum.QuarantinedTotal, want.stored, want.cents, want.quarantined)
		}
		// The rows, counted directly rather than through the window metrics.
		var rows, cents, quarantined int64
		q(t, "SELECT count(*), CAST(coalesce(sum(total_cents), 0) AS BIGINT) FROM transactions", one(&rows, &cents))
		q(t, "SELECT count(*) FROM quarantine", one(&quarantined))
		if rows != want.stored || cents != want.cents || quarantined != want.quarantined {
			t.Errorf("rows: %d transactions, %d cents, %d quarantined; want %d, %d, %d",
				rows, cents, quarantined, want.stored, want.cents, want.quarantined)
		}
	})

	t.Run("minute_windows", func(t *testing.T) {
		rows, err := p.s.st.Windows(ctx, store.Minute, want.first().Add(-time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		// Summed over channel and payment method.
		got := map[time.Time]window{}
		for _, r := range rows {
			w := got[r.Start.UTC()]
			w.count += r.Count
			w.cents += r.RevenueCents
			got[r.Start.UTC()] = w
		}
		var diffs []string
		for _, m := range slices.SortedFunc(maps.Keys(union(got, want.minutes)), time.Time.Compare) {
			if g, w := got[m], want.minutes[m]; g != w {
				diffs = append(diffs, fmt.Sprintf("%s: %d transactions, %d cents; want %d, %d",
					m.Format("15:04"), g.count, g.cents, w.count, w.cents))
			}
		}
		if len(diffs) > 0 {
			t.Errorf("%d of %d minute windows differ:\n%s", len(diffs), len(want.minutes), strings.Join(diffs[:min(len(diffs), 20)], "\n"))
		}
	})

	// What is stored at each offset, as a transaction or in quarantine.
	type row struct {
		table, id, reason, expected string
	}
	got := map[offset][]row{}
	q(t, "SELECT kafka_partition, kafka_offset, transaction_id FROM transactions", func(scan func(...any) error) error {
		var o offset
		r := row{table: "transactions"}
		err := scan(&o.partition, &o.offset, &r.id)
		got[o] = append(got[o], r)
		return err
	})
	q(t, "SELECT kafka_partition, kafka_offset, reason, expected FROM quarantine", func(scan func(...any) error) error {
		var o offset
		r := row{table: "quarantine"}
		err := scan(&o.partition, &o.offset, &r.reason, &r.expected)
		got[o] = append(got[o], r)
		return err
	})
	want.mu.Lock()
	defer want.mu.Unlock()
	if int64(len(want.at)) != want.records {
		t.Fatalf("the broker acknowledged %d distinct offsets for %d records produced", len(want.at), want.records)
	}
	at := func(o offset, format string, args ...any) string {
		return fmt.Sprintf("partition %d offset %d: ", o.partition, o.offset) + fmt.Sprintf(format, args...)
	}
	fail := func(t *testing.T, list []string, format string, args ...any) {
		t.Helper()
		if len(list) > 0 {
			slices.Sort(list)
			t.Errorf(format+":\n%s", append(args, strings.Join(list[:min(len(list), 10)], "\n"))...)
		}
	}

	t.Run("each_offset_once", func(t *testing.T) {
		var wrong []string
		missing := map[int32][]int64{}
		for o, w := range want.at {
			rows := got[o]
			switch {
			case len(rows) == 0:
				missing[o.partition] = append(missing[o.partition], o.offset)
			case len(rows) > 1:
				wrong = append(wrong, at(o, "stored %d times (%v), want once", len(rows), rows))
			case w.bad == "" && (rows[0].table != "transactions" || rows[0].id != w.id):
				wrong = append(wrong, at(o, "transaction %s stored as %+v", w.id, rows[0]))
			case w.bad != "" && (rows[0].table != "quarantine" || rows[0].reason != string(w.bad)):
				wrong = append(wrong, at(o, "bad record (%s) stored as %+v", w.bad, rows[0]))
			}
		}
		for o, rows := range got {
			if _, ok := want.at[o]; !ok {
				wrong = append(wrong, at(o, "stored (%v), but nothing was produced there", rows))
			}
		}
		var lost []string
		n := 0
		for part, offs := range missing {
			n += len(offs)
			lost = append(lost, fmt.Sprintf("partition %d: offsets %s", part, ranges(offs)))
		}
		fail(t, lost, "%d of %d records are not stored at all", n, want.records)
		fail(t, wrong, "%d of %d offsets are not stored once as what was produced there", len(wrong), want.records)
	})

	t.Run("quarantine_labels", func(t *testing.T) {
		var wrong []string
		for o, w := range want.at {
			if rows := got[o]; w.bad != "" && len(rows) == 1 && rows[0].table == "quarantine" && rows[0].expected != string(w.bad) {
				wrong = append(wrong, at(o, "quarantined for %s with expected=%q; the record's shopstream-bad header says %q",
					rows[0].reason, rows[0].expected, w.bad))
			}
		}
		fail(t, wrong, "%d of %d quarantined records lost the label they were produced with", len(wrong), want.quarantined)
	})

	t.Run("customers_and_labels", func(t *testing.T) {
		var customers, orders, cents, labels int64
		q(t, `SELECT count(*), CAST(coalesce(sum(orders), 0) AS BIGINT), CAST(coalesce(sum(revenue_cents), 0) AS BIGINT)
			FROM customers`, one(&customers, &orders, &cents))
		q(t, "SELECT count(*) FROM labels", one(&labels))
		if customers != int64(len(want.customers)) || orders != want.stored || cents != want.cents {
			t.Errorf("customers: %d with %d orders and %d cents; want %d, %d, %d",
				customers, orders, cents, len(want.customers), want.stored, want.cents)
		}
		// Labels come from the labels topic only (none is produced here):
		// the records' truth headers are never stored as labels.
		if labels != 0 {
			t.Errorf("%d labels stored from the records' truth headers; want none (labels come from the labels topic)", labels)
		}
	})

	t.Run("dead_letters", func(t *testing.T) {
		// The outbox keeps delivered messages, so it holds every one queued.
		var deadLetters int64
		q(t, "SELECT count(*) FROM outbox WHERE kind = 'kafka' AND target = '"+bus.TopicDeadLetter+"'", one(&deadLetters))
		if deadLetters != want.quarantined {
			t.Errorf("%d dead-letter messages in the outbox, want one per quarantined record: %d", deadLetters, want.quarantined)
		}
	})
}

// ranges writes offsets as sorted ranges: "3-9, 12, 20-25".
func ranges(offs []int64) string {
	slices.Sort(offs)
	var b strings.Builder
	for i := 0; i < len(offs); {
		j := i
		for j+1 < len(offs) && offs[j+1] == offs[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		if j == i {
			fmt.Fprint(&b, offs[i])
		} else {
			fmt.Fprintf(&b, "%d-%d (%d)", offs[i], offs[j], j-i+1)
		}
		i = j + 1
	}
	return b.String()
}

// first is the earliest minute with a good record.
func (e *expected) first() time.Time {
	var first time.Time
	for m := range e.minutes {
		if first.IsZero() || m.Before(first) {
			first = m
		}
	}
	return first
}

func union(a, b map[time.Time]window) map[time.Time]bool {
	out := map[time.Time]bool{}
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}
