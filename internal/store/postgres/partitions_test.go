package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/storetest"
)

// Days get partitions of their own (ahead of the stream, and out of the
// default partition for rows stored before), retention drops whole days
// and deletes row by row only in the default partition, and an id stays
// unique across days.
func TestPartitionsByDay(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	pool := s.Pool()
	count := func(q string, args ...any) int64 {
		t.Helper()
		var n int64
		if err := pool.QueryRow(ctx, q, args...).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	now := time.Date(2026, 6, 10, 12, 0, 0, 0, time.UTC)
	var txs []store.Tx
	var labels []store.Label
	// Two a day from 5 days ago to today, stored before any partition
	// exists: all in the default partition.
	for d := 5; d >= 0; d-- {
		for h := range 2 {
			id := fmt.Sprintf("d%d-%d", d, h)
			txs = append(txs, storetest.Tx(id, "c1", now.AddDate(0, 0, -d).Add(time.Duration(h)*time.Hour), 100, 0, int64(len(txs))))
			labels = append(labels, store.Label{TransactionID: id, Scenario: "legit"})
		}
	}
	if err := s.WriteBatch(ctx, &store.Batch{Group: "g", Topic: "transactions",
		Parts: []store.Part{{Partition: 0, From: 0, To: int64(len(txs)), Txs: txs, Labels: labels}}}); err != nil {
		t.Fatal(err)
	}
	if n := count("SELECT count(*) FROM transactions_default"); n != 12 {
		t.Fatalf("default partition holds %d rows, want 12", n)
	}

	// Yesterday to 3 days ahead: 5 partitions; yesterday's and today's
	// rows move out of the default partition.
	created, err := s.EnsurePartitions(ctx, now, 3)
	if err != nil || created != 5 {
		t.Fatalf("EnsurePartitions = %d, %v; want 5 created", created, err)
	}
	if n := count("SELECT count(*) FROM transactions_p20260610"); n != 2 {
		t.Fatalf("today's partition holds %d rows, want 2", n)
	}
	if n := count("SELECT count(*) FROM transactions_default"); n != 8 {
		t.Fatalf("default partition holds %d rows after the split, want 8", n)
	}
	if created, err := s.EnsurePartitions(ctx, now, 3); err != nil || created != 0 {
		t.Fatalf("EnsurePartitions again = %d, %v; want none", created, err)
	}

	// The same id with another event time is still a duplicate.
	dup := storetest.Tx("d5-0", "c1", now, 100, 0, 12)
	err = s.WriteBatch(ctx, &store.Batch{Group: "g", Topic: "transactions", Parts: []store.Part{{Partition: 0, From: 12, To: 13, Txs: []store.Tx{dup}}}})
	if _, ok := store.IsDuplicate(err); !ok {
		t.Fatalf("an id stored 5 days earlier, again today: %v; want a *DuplicateError", err)
	}

	// Keep from 36 hours ago: yesterday's partition ends after the
	// cutoff and stays; days 2..5 go from the default partition row by
	// row, and their labels and dedup ids with them.
	p, err := s.PruneTransactions(ctx, now.Add(-36*time.Hour), 3)
	if err != nil || p.Rows != 8 || p.Partitions != 0 {
		t.Fatalf("PruneTransactions = %+v, %v; want 8 rows from the default partition", p, err)
	}
	// Keep from today: yesterday's partition is dropped whole.
	p, err = s.PruneTransactions(ctx, now.Truncate(24*time.Hour), 1)
	if err != nil || p.Rows != 0 || p.Partitions != 1 {
		t.Fatalf("PruneTransactions = %+v, %v; want one partition dropped", p, err)
	}
	if n := count("SELECT count(*) FROM pg_class WHERE relname = 'transactions_p20260609'"); n != 0 {
		t.Fatal("yesterday's partition is still there")
	}
	if n := count("SELECT count(*) FROM transactions"); n != 2 {
		t.Fatalf("%d transactions left, want today's 2", n)
	}
	if n := count("SELECT count(*) FROM transaction_ids"); n != 2 {
		t.Fatalf("%d dedup ids left, want today's 2", n)
	}
	if n := count("SELECT count(*) FROM labels"); n != 2 {
		t.Fatalf("%d labels left, want today's 2", n)
	}
	// The totals are the windows', kept.
	sum, err := s.Summary(ctx)
	if err != nil || sum.TransactionsTotal != 12 {
		t.Fatalf("summary = %+v, %v; want all 12 counted", sum, err)
	}
}

// BareCopy, the benchmark's yardstick, copies into a plain table shaped
// like the partitioned transactions, and the ids into a copy of
// transaction_ids: the rows with the key that refuses an id stored again.
func TestBareCopyLikePartitioned(t *testing.T) {
	s := open(t)
	at := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	rows := []store.Tx{storetest.Tx("x1", "c", at, 1, 0, 0)}
	if _, err := s.BareCopy(context.Background(), [][]store.Tx{rows}); err != nil {
		t.Fatal(err)
	}
	again := []store.Tx{storetest.Tx("x1", "c", at.Add(time.Hour), 1, 0, 1)}
	if _, err := s.BareCopy(context.Background(), [][]store.Tx{rows, again}); err == nil {
		t.Fatal("BareCopy took an id twice, at two event times; want the ids' key to refuse it")
	}
}

// A transaction stored by CopyTxs is found by its id (Queries.TxByID joins
// transaction_ids to transactions on the event time, partition and
// offset): times with digits below the microsecond, and before 2000,
// PostgreSQL's epoch, included.
func TestStoredFoundByID(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	if _, err := s.EnsurePartitions(ctx, time.Now(), 1); err != nil {
		t.Fatal(err)
	}
	txs := []store.Tx{
		storetest.Tx("ns", "c1", time.Now().Add(-time.Minute).Truncate(time.Second).Add(123456789), 1, 0, 0),
		storetest.Tx("old", "c2", time.Date(1999, 12, 31, 23, 59, 59, 999999999, time.UTC), 1, 0, 1),
		storetest.Tx("neg", "c3", time.Date(1969, 7, 20, 20, 17, 40, 500, time.UTC), 1, 0, 2),
	}
	if err := s.WriteBatch(ctx, &store.Batch{Group: "g", Topic: "t", Parts: []store.Part{{Partition: 0, From: 0, To: 3, Txs: txs}}}); err != nil {
		t.Fatal(err)
	}
	var again []store.Tx
	for i, x := range txs {
		again = append(again, storetest.Tx(x.TransactionID, x.CustomerID, time.Now(), 1, 1, int64(i)))
	}
	err := s.WriteBatch(ctx, &store.Batch{Group: "g", Topic: "t", Parts: []store.Part{{Partition: 1, From: 0, To: 3, Txs: again}}})
	d, ok := store.IsDuplicate(err)
	if !ok {
		t.Fatalf("the ids again: %v; want a *DuplicateError", err)
	}
	if len(d.Copies) != len(txs) {
		t.Fatalf("%d copies named, want %d: %+v", len(d.Copies), len(txs), d.Copies)
	}
	for i, c := range d.Copies {
		if want := txs[i]; c.KeptPartition != want.Partition || c.KeptOffset != want.Offset {
			t.Errorf("the kept copy of %s at %d/%d, want %d/%d", c.TransactionID, c.KeptPartition, c.KeptOffset, want.Partition, want.Offset)
		}
	}
}
