package store

import (
	"context"
	"time"
)

// LabelEvent is a label event of the labels topic as stored: what became
// known about one transaction, and when (event.Label).
type LabelEvent struct {
	LabelID       string
	TransactionID string
	// Kind is event.LabelChargeback, LabelAnalyst or LabelDispute.
	Kind       string
	Fraud      bool
	Scenario   string
	ReasonCode string
	EventTime  time.Time
	// Partition and Offset are where the event was read.
	Partition int32
	Offset    int64
}

// Labeller is implemented by stores that take the labels topic's events.
type Labeller interface {
	// WriteLabels stores the label events of b's parts (Part.LabelEvents;
	// Part.Quarantined for the records that are no label) and advances
	// the parts' offsets on b.Topic, in one transaction, fenced like
	// WriteBatch (a part with From == To only sweeps). A label id stored
	// before is a duplicate and changes nothing. In the same transaction
	// the pending events of the batch's transactions that are stored now
	// are applied, and, when o.Sweep, those of the parts' partitions
	// (LabelOptions): a transaction's truth becomes the verdict of its
	// latest event (by event time, then label id), its labels row and the
	// fraud rollups move with it (an analyst's verdict on its alert still
	// wins). Events of the parts' partitions pending since before
	// o.ExpireBefore are expired: kept, counted, never applied.
	WriteLabels(ctx context.Context, b *Batch, o LabelOptions) (LabelResult, error)
	// LabelStatus counts the stored label events by state.
	LabelStatus(ctx context.Context) (LabelStatus, error)
}

// LabelJoiner is implemented by stores whose stream batches
// (Store.WriteBatch) can apply the pending label events of their own
// transactions, in the transaction that stores them. While the labels
// topic runs ahead of the transactions (a consumer trailing a backlog),
// most labels arrive first and wait pending; a batch that joins them
// spares the sweeps their lookups, and the labels path its own writes of
// the rollup rows the batches write too (each batch counts its
// transactions with their truth at once).
//
// The store remembers the transactions of the pending events its
// WriteLabels stored (and those a full sweep finds pending); a batch
// looks up only those among its transactions, and marks the events
// applied (only those still pending: a sweep or another batch that
// applied one first wins) with the rows and offsets it commits, so each
// event is applied exactly once. What the store did not remember (events
// written by another process, or committed while the batch was written)
// stays pending for the sweeps, as without the join.
type LabelJoiner interface {
	// JoinPendingLabels turns the join on, applied receiving the number
	// of events each committed batch applied; nil turns it off.
	JoinPendingLabels(applied func(n int))
}

// LabelOptions says what one WriteLabels does besides storing the
// batch's events and applying those whose transactions are stored.
type LabelOptions struct {
	// ExpireBefore: events pending since before it are expired.
	ExpireBefore time.Time
	// Sweep applies the pending events of the parts' partitions whose
	// transactions are stored now. With Since nil it probes every pending
	// event (a full sweep). Otherwise Since is the processors' offsets
	// (TxGroup, TxTopic) as the previous sweep read them
	// (LabelResult.Swept): the sweep then looks only at the transactions
	// stored from those offsets on, or probes every pending event when
	// there are fewer of those, so that a sweep costs at most what was
	// stored since the last one. A label written after the previous sweep
	// began whose transaction was not stored then is found: its
	// transaction is stored past Since. Transactions stored other than
	// by the processors (an import) are found by full sweeps only.
	Sweep            bool
	Since            map[int32]int64
	TxGroup, TxTopic string
	// Lazy lets a sweep from Since wait (apply nothing, Swept = Since,
	// Deferred) while more labels are pending than a quarter of the
	// transactions stored since: probing every pending label costs a
	// probe each however few of them were stored since, so a sweep that
	// waits for more to be stored costs at most a quarter of a probe per
	// stored transaction. The transactions stored meanwhile are looked at
	// by the next sweep.
	Lazy bool
}

// LabelResult is what one WriteLabels did.
type LabelResult struct {
	// Stored events are new; Duplicates were stored before.
	Stored, Duplicates int
	// Applied events found their transaction (in this batch or pending
	// before); Changed transactions changed truth.
	Applied, Changed int
	// Expired events were pending too long.
	Expired int
	// Swept is, after a sweep, the processors' offsets read at its start:
	// the next sweep's LabelOptions.Since. SweptAll says the sweep probed
	// every pending event.
	Swept    map[int32]int64
	SweptAll bool
	// Deferred says a lazy sweep waited (LabelOptions.Lazy).
	Deferred bool
}

// LabelStatus counts the stored label events by state.
type LabelStatus struct {
	Pending, Applied, Expired int64
	// OldestPending is when the oldest pending event was received.
	OldestPending *time.Time
}

// LabelTruth is a transaction's truth from its label events: the verdict of the latest
// by event time, then label id. ok is false when there is none.
func LabelTruth(events []LabelEvent) (fraud bool, scenario string, ok bool) {
	var last *LabelEvent
	for i := range events {
		e := &events[i]
		if last == nil || e.EventTime.After(last.EventTime) || e.EventTime.Equal(last.EventTime) && e.LabelID > last.LabelID {
			last = e
		}
	}
	if last == nil {
		return false, "", false
	}
	if !last.Fraud {
		return false, "", true
	}
	scenario = last.Scenario
	for i := range events {
		if scenario == "" && events[i].Fraud {
			scenario = events[i].Scenario // a verdict without one keeps the scenario an earlier label named
		}
	}
	return true, scenario, true
}
