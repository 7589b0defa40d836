package sqlstore

import "context"

// AfterMark is the keyset read of one partition's transactions after a
// row mark, which the product fold, the analytics tail and the
// recommendation service's purchase reader share: cols of the rows with
// kafka_partition $1 after the mark ($2 its offset, $3 its transaction
// ID), at most $4 of them, and when bounded only offsets below $5, in
// the order of the (kafka_partition, kafka_offset) index with ties in
// byte order of the transaction ID (collate is Queries.Collate). Run it
// under Store.inOrder.
func AfterMark(cols, collate string, bounded bool) string {
	bound := ""
	if bounded {
		bound = ` AND kafka_offset < $5`
	}
	return `SELECT ` + cols + `
	FROM transactions
	WHERE kafka_partition = $1 AND kafka_offset >= $2 AND (kafka_offset > $2 OR transaction_id` + collate + ` > $3)` + bound + `
	ORDER BY kafka_offset, transaction_id` + collate + ` LIMIT $4`
}

// OrderedReader is implemented by dialects whose planner has to be kept
// to an index's order for the keyset reads of transactions (AfterMark,
// the restore's read of a partition in offset order, and the training
// sample's backward walk of it). SQLite needs none: with or without
// statistics it searches the (kafka_partition, kafka_offset) index and
// sorts only an offset's ties (EXPLAIN QUERY PLAN: "USE TEMP B-TREE FOR
// RIGHT PART OF ORDER BY").
//
// PostgreSQL stores transactions in a table per day and reads a
// partition's rows by merging each day's (kafka_partition, kafka_offset)
// index. While the statistics of a day's table lag what was stored in
// it (a backlog stored in the minute before autovacuum analysed the
// table, the analyses of a fresh database), the planner estimated a
// handful of matching rows and chose to fetch every row after the mark
// and sort them: 240,586 rows sorted to return 5,000 of them for the
// product fold (0.2 s against 6 ms in index order), an external sort of
// 98 MB on disk to return 10,000 for the analytics tail. Run after a
// backlog, such reads took PostgreSQL's time from the stream for
// seconds at a time.
type OrderedReader interface {
	// ReadInOrder runs fn with a DB whose reads walk indexes in their
	// order rather than sort what they match, where an index serves.
	ReadInOrder(ctx context.Context, fn func(db DB) error) error
}

// inOrder runs fn with the dialect's OrderedReader, or with the pool when
// the dialect has none (SQLite walks the index by itself).
func (s *Store) inOrder(ctx context.Context, fn func(db DB) error) error {
	if o, ok := s.d.(OrderedReader); ok {
		return o.ReadInOrder(ctx, fn)
	}
	return fn(s.d.DB())
}
