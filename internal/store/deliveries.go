package store

import (
	"context"
	"time"

	"github.com/shopstream/shopstream/internal/alertroute"
)

// AlertDeliveries keeps the record of routed alerts (sqlstore implements
// it): what became of each alert at each destination, and the messages to
// send with their attempts and outcome.
type AlertDeliveries interface {
	// RouteAlert calls route once for the queued alert outboxID, in one
	// transaction that serialises routing among deliverers, with a State
	// over the deliveries whose Add records rows of this alert. It returns
	// false without calling route when the alert was routed already (a
	// deliverer that died before marking its outbox message gets the
	// message again after the lease).
	RouteAlert(ctx context.Context, outboxID int64, route func(st alertroute.State) error) (bool, error)
	// DeliverAlerts hands up to limit due pending messages (groups and
	// digests with their members) to send, claimed with a lease of
	// DeliveryLease, and records each outcome send returns; it counts
	// those sent and those failed (not those deferred). A group or
	// digest collects no more alerts once claimed.
	DeliverAlerts(ctx context.Context, limit int, now time.Time, send func(*Delivery) DeliveryOutcome) (sent, failed int, err error)
	// Deliveries lists the record, newest first.
	Deliveries(ctx context.Context, f DeliveryFilter) ([]Delivery, error)
	// PruneDeliveries deletes the rows made before before that are no
	// longer pending, nor members of a pending group or digest, at most
	// batch per transaction, and returns how many it deleted.
	PruneDeliveries(ctx context.Context, before time.Time, batch int) (int64, error)
}

// DeliveryLease is how long a claimed delivery is not handed to another
// deliverer.
const DeliveryLease = time.Minute

// Delivery is one row of the deliveries record.
type Delivery struct {
	ID int64
	// OutboxID is the queued alert's outbox message; 0 for a group or
	// digest.
	OutboxID    int64
	Destination string
	Rule        string
	Status      alertroute.Status
	Bundle      alertroute.Bundle
	BundleKey   string
	BundleID    int64
	Kind        string
	Key         string
	Severity    string
	Category    string
	Summary     string
	Payload     []byte
	// Members are the alerts a group or digest carries (handed to send
	// only); MemberCount is how many it carried when sent.
	Members     []alertroute.Member
	MemberCount int
	CreatedAt   time.Time
	DueAt       time.Time
	Attempts    int
	LastAttempt *time.Time
	LastError   string
	DeliveredAt *time.Time
}

// DeliveryOutcome is what became of one attempt.
type DeliveryOutcome struct {
	// At is when the attempt ended.
	At time.Time
	// Err is nil when the message was delivered.
	Err error
	// RetryAt is when to try again after an error.
	RetryAt time.Time
	// GiveUp records the message as failed for good.
	GiveUp bool
	// Deferred: no attempt was made (the destination is backing off);
	// the message waits until RetryAt and no attempt is recorded.
	Deferred bool
}

// DeliveryFilter selects deliveries. Zero fields select all.
type DeliveryFilter struct {
	Destination string
	Status      string
	// Since keeps rows created at or after it.
	Since time.Time
	// BeforeID keeps rows with a smaller id (the cursor of the next page).
	BeforeID int64
	// Limit defaults to 100.
	Limit int
}
