package store

import (
	"context"
	"errors"
	"time"
)

// Quarantine is what operators need of the quarantined records: finding
// and reading them, their replay's outcome, and deleting old ones. Both
// stores implement it as part of Store; storetest.Run checks it.
//
// A record is replayed by handing it back to the path it failed on (the
// stream processor or the importer) with ReplayOf set to its row's ID
// (Tx.ReplayOf, Quarantined.ReplayOf). WriteBatch then marks the row in the
// same transaction as the result instead of storing a new quarantine row:
//   - a transaction stored: outcome "stored";
//   - a record failing a check again: outcome "quarantined", with the new
//     reason and detail in ReplayReason and ReplayDetail;
//   - a transaction id stored already (reason duplicate_id): outcome
//     "duplicate".
//
// "stored" and "duplicate" are final: a row with either is never changed
// by a later replay of it, so a replay that arrives twice changes nothing
// the second time. Every mark that changes the row adds one to its
// ReplayAttempts and sets ReplayedAt.
type Quarantine interface {
	// ListQuarantine returns the rows f selects, newest first (by ID), at
	// most f.Limit (100 when <= 0); the next page starts after the last
	// row's ID (f.Before).
	ListQuarantine(ctx context.Context, f QuarantineFilter) ([]QuarantineRow, error)
	// QuarantineRecord returns one row, or ErrQuarantineNotFound.
	QuarantineRecord(ctx context.Context, id int64) (QuarantineRow, error)
	// QuarantineCounts counts the rows f selects (Before and Limit are
	// ignored) by reason and replay outcome, largest first.
	QuarantineCounts(ctx context.Context, f QuarantineFilter) ([]QuarantineCount, error)
	// PurgeQuarantine deletes the rows quarantined before cutoff, at most
	// batch per transaction (1000 when batch <= 0), and returns how many
	// it deleted.
	PurgeQuarantine(ctx context.Context, cutoff time.Time, batch int) (int64, error)
}

// ErrQuarantineNotFound is QuarantineRecord's answer for an unknown ID.
var ErrQuarantineNotFound = errors.New("no quarantined record with that id")

// Sources of a quarantined record.
const (
	// SourceStream is a record the processor consumed from Kafka.
	SourceStream = "stream"
	// SourceImport is a record of an order-history import (partition -1).
	SourceImport = "import"
)

// Replay outcomes (QuarantineRow.ReplayOutcome); "" is never replayed.
const (
	ReplayStored      = "stored"
	ReplayQuarantined = "quarantined"
	ReplayDuplicate   = "duplicate"
)

// ReplayDuplicateReason is the quarantine reason (quality.DuplicateID) that
// makes a replay's outcome ReplayDuplicate.
const ReplayDuplicateReason = "duplicate_id"

// States a QuarantineFilter may select by.
const (
	// StateOpen is every row a replay may still change: never replayed,
	// or quarantined again by its last replay.
	StateOpen = "open"
	// StateNew is the rows never replayed.
	StateNew = "new"
	// StateReplayed is the rows replayed at least once, whatever came of it.
	StateReplayed = "replayed"
)

// QuarantineStates lists the values QuarantineFilter.State takes besides "".
var QuarantineStates = []string{StateOpen, StateNew, StateReplayed, ReplayStored, ReplayQuarantined, ReplayDuplicate}

// QuarantineFilter selects quarantined records; zero fields select all.
type QuarantineFilter struct {
	// Reason is the reason the record was quarantined with.
	Reason string
	// Since and Until bound the time it was quarantined: [Since, Until).
	Since, Until time.Time
	// Partition, when set, is the Kafka partition it came from (-1:
	// imports).
	Partition *int32
	// Source is SourceStream or SourceImport.
	Source string
	// Topic is the topic it came from, "import:<source>" for an import;
	// rows of imports stored before topics were recorded have "".
	Topic string
	// State is one of QuarantineStates, or "" for any.
	State string
	// IDs, when not empty, are the only rows selected.
	IDs []int64
	// Before is the pagination cursor: only rows with a smaller ID.
	Before int64
	// Limit bounds the rows returned: 100 when <= 0.
	Limit int
}

// QuarantineRow is a quarantined record as stored.
type QuarantineRow struct {
	ID     int64
	Reason string
	Detail string
	// Raw is the record as consumed (or, for an import, as read from the
	// file), with card numbers masked.
	Raw       []byte
	Partition int32
	Offset    int64
	// Expected is the bad-record kind the generator labelled it with.
	Expected      string
	QuarantinedAt time.Time
	Source        string
	Topic         string
	// ReplayAttempts counts the replays that changed the row; ReplayedAt
	// is the last one's time, nil before any.
	ReplayAttempts int
	ReplayedAt     *time.Time
	// ReplayOutcome is "" (never replayed), ReplayStored, ReplayQuarantined
	// or ReplayDuplicate; ReplayReason and ReplayDetail are the last
	// replay's reason and detail when it failed.
	ReplayOutcome string
	ReplayReason  string
	ReplayDetail  string
}

// Open reports whether a replay may still change the row.
func (r *QuarantineRow) Open() bool {
	return r.ReplayOutcome != ReplayStored && r.ReplayOutcome != ReplayDuplicate
}

// QuarantineCount is how many rows have a reason and replay outcome.
type QuarantineCount struct {
	Reason  string
	Outcome string
	Count   int64
}
