package store

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/shopstream/shopstream/internal/fraud"
)

// Entities is implemented by stores that keep the entity stage's state
// (internal/entitystage): the transactions re-keyed by device, card and
// address, with each entity's global counts, and the rings of accounts
// they join, written exactly once with the repartition topic's offsets.
type Entities interface {
	// WriteEntityBatch stores b's events and rings and advances its
	// partitions' offsets in one transaction, fenced as WriteBatch is
	// (*FencedError, ErrAlreadyCommitted). Events older than a part's
	// PruneBefore are deleted from its partition in the same transaction.
	WriteEntityBatch(ctx context.Context, b *EntityBatch) error
	// EntityEvents calls fn for the stored events of a partition of the
	// repartition topic with event time at or after since, in event-time
	// order: the state to rebuild when the partition is assigned.
	EntityEvents(ctx context.Context, partition int32, since time.Time, fn func(*EntityEvent) error) error
	// LatestEntityEvent is the latest event time stored for a partition
	// (zero when none).
	LatestEntityEvent(ctx context.Context, partition int32) (time.Time, error)
	// EntityRings returns the rings f selects, updated most recently
	// first (then by key). Stored rings of f's time range that share a
	// member are one ring (MergeEntityRings): the stage finds rings per
	// partition of the repartition topic, so accounts joined through
	// entities of two partitions are stored as two rings, and one ring
	// found on two partitions under two keys.
	EntityRings(ctx context.Context, f RingFilter) ([]EntityRing, error)
	// CountEntityRings counts the rings f selects, and the accounts they
	// join, whatever f's Limit and After: the totals of the list's pages.
	// Rings are merged as EntityRings merges them.
	CountEntityRings(ctx context.Context, f RingFilter) (RingCount, error)
	// EntityRingPage is EntityRings and CountEntityRings from one read of
	// the rings: what a page of the API shows.
	EntityRingPage(ctx context.Context, f RingFilter) ([]EntityRing, RingCount, error)
}

// RingCount is how many rings a filter selects, and the accounts they join
// (summed over the rings: an account in two rings counts twice).
type RingCount struct {
	Rings, Accounts int64
}

// RingFilter selects rings of accounts. Since and Until select the stored
// rings that are merged; Member and Entity select merged rings.
type RingFilter struct {
	// Limit is the most rings returned; 0 means 100.
	Limit int
	// Member and Entity, when set, keep the rings that join that customer
	// or share that entity ("device:d1", "card:411111:1234").
	Member, Entity string
	// Since and Until, when not zero, keep the rings last updated at or
	// after Since and before Until.
	Since, Until time.Time
	// After, when set, returns the rings that come after it in the order:
	// the next page of an earlier answer.
	After *RingCursor
}

// RingCursor is the place of a ring in the order of EntityRings.
type RingCursor struct {
	UpdatedAt time.Time
	Key       string
}

// EntityBatch is what the entity stage commits in one transaction.
type EntityBatch struct {
	Group, Topic string
	// Owner and Generation fence the batch as Batch's do.
	Owner      string
	Generation int32
	Parts      []EntityPart
	// BeforeCommit, when set, is called in the batch's transaction after
	// its last write and before its commit; an error rolls the batch
	// back. Tests use it to hold a batch in flight (the entity stage's
	// Config.BeforeCommit).
	BeforeCommit func(ctx context.Context) error
}

// EntityPart is one partition's share of an entity batch: the records
// with offsets in [From, To) and what they changed.
type EntityPart struct {
	Partition int32
	From, To  int64
	Events    []EntityEvent
	Rings     []EntityRing
	// Outbox are messages to deliver once the part commits (the rings'
	// alerts).
	Outbox []OutboxMsg
	// PruneBefore, when not zero, deletes the partition's stored events
	// older than it (they left the window).
	PruneBefore time.Time
	// Upgrades are the second step's decisions: transactions whose
	// decision the entity rules raise.
	Upgrades []EntityUpgrade
}

// EntityUpgrade raises a stored transaction's decision in the second
// step of scoring (the entity rules). The store applies it only when the
// stored decision is below Decision (approve < review < decline), moving
// the transaction's detection-quality rollups from the stored decision
// and risk to the new ones, adding ReasonsJSON to the transaction's
// reasons and its alert's (inserting the alert when there was none), and
// queuing Alert: so an upgrade applied once is never applied again,
// whichever partition, replay or redelivery brings it back.
type EntityUpgrade struct {
	TransactionID string
	// EventTime is the transaction's (it finds the row's partition).
	EventTime time.Time
	// Risk and Decision are the raised ones; the stored risk is kept
	// when higher.
	Risk     float64
	Decision string
	// ReasonsJSON are the reasons to add: JSON objects separated by
	// commas, without brackets.
	ReasonsJSON []byte
	// Alert, when set, is queued once the upgrade applies.
	Alert *OutboxMsg
	// ProducedAt is when the transaction was produced (not stored: the
	// start of the second step's latency).
	ProducedAt time.Time
	// Applied is set by the store when it applied the upgrade in the
	// batch it committed.
	Applied bool
}

// EntityEvent is a transaction seen on an entity, with the entity's
// global counts within the window as of it.
type EntityEvent struct {
	Partition     int32
	Entity        string
	TransactionID string
	CustomerID    string
	Card          string
	EventTime     time.Time
	Customers     int
	Transactions  int
	Cards         int
}

// EntityRing is a ring of accounts joined by shared entities.
type EntityRing struct {
	Key       string
	Partition int32
	Members   []string
	Entities  []string
	Reason    string
	// TransactionID is the transaction that last grew the ring, and
	// ProducedAt when it was produced to the transactions topic.
	TransactionID string
	ProducedAt    time.Time
	// FirstEventTime and LastEventTime span the ring's transactions seen.
	FirstEventTime, LastEventTime time.Time
	// DetectedAt is when the ring was first stored, UpdatedAt when last.
	DetectedAt, UpdatedAt time.Time
}

// OutboxBatchDeliverer is implemented by stores that can hand the due
// outbox messages to their sender all at once (Store.DeliverOutbox hands
// them one by one), so that a deliverer can produce them to Kafka together:
// the repartition records are several per transaction.
type OutboxBatchDeliverer interface {
	// DeliverOutboxBatch is DeliverOutbox with one call of send for the
	// claimed messages, in id order; send returns one error (nil when
	// sent) per message.
	DeliverOutboxBatch(ctx context.Context, limit int, send func([]OutboxMsg) []error) (delivered, failed int, err error)
}

// MergeEntityRings joins the stored rings that share a member into one
// ring (fraud.MergeRings), updated most recently first, then by key. A
// merged ring takes the smallest key of its rings, the union of their
// members and entities, a reason naming them (a ring alone keeps its
// stored reason), the earliest first event and detection, the latest last
// event and update, and the partition, transaction and produce time of the
// ring updated last.
func MergeEntityRings(stored []EntityRing) []EntityRing {
	rs := make([]fraud.Ring, len(stored))
	for i, g := range stored {
		rs[i] = fraud.Ring{Members: g.Members, Entities: g.Entities}
	}
	merged, from := fraud.MergeRings(rs)
	out := make([]EntityRing, len(merged))
	for k, idx := range from {
		g := stored[idx[0]]
		if len(idx) > 1 {
			last := g
			for _, i := range idx[1:] {
				o := stored[i]
				if o.UpdatedAt.After(last.UpdatedAt) || o.UpdatedAt.Equal(last.UpdatedAt) && o.Key < last.Key {
					last = o
				}
				g.Key = min(g.Key, o.Key)
				g.FirstEventTime = earlier(g.FirstEventTime, o.FirstEventTime)
				g.DetectedAt = earlier(g.DetectedAt, o.DetectedAt)
				if o.LastEventTime.After(g.LastEventTime) {
					g.LastEventTime = o.LastEventTime
				}
			}
			g.Partition, g.TransactionID, g.ProducedAt, g.UpdatedAt = last.Partition, last.TransactionID, last.ProducedAt, last.UpdatedAt
			g.Members, g.Entities = merged[k].Members, merged[k].Entities
			g.Reason = merged[k].Reason()
		}
		out[k] = g
	}
	slices.SortFunc(out, func(a, b EntityRing) int {
		if c := b.UpdatedAt.Compare(a.UpdatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.Key, b.Key)
	})
	return out
}

// earlier is the earlier of two times, zero counting as unknown.
func earlier(a, b time.Time) time.Time {
	if a.IsZero() || !b.IsZero() && b.Before(a) {
		return b
	}
	return a
}
