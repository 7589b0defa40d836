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
	// WriteBatch (a part with From == To only sweeps its pending labels).
	// A label id stored before is a duplicate and changes nothing. In the
	// same transaction every pending event of the parts' partitions whose
	// transaction is stored now is applied: the transaction's truth
	// becomes the verdict of its latest event (by event time, then label
	// id), its labels row and the fraud rollups move with it (an
	// analyst's verdict on its alert still wins). Events pending since
	// before expireBefore are expired: kept, counted, never applied.
	WriteLabels(ctx context.Context, b *Batch, expireBefore time.Time) (LabelResult, error)
	// LabelStatus counts the stored label events by state.
	LabelStatus(ctx context.Context) (LabelStatus, error)
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
