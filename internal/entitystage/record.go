package entitystage

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/shopstream/shopstream/internal/fraud"
	"github.com/shopstream/shopstream/internal/store"
)

// DefaultTopic is the repartition topic.
const DefaultTopic = "transactions.entities"

// DefaultGroup is the entity stage's consumer group.
const DefaultGroup = "shopstream-entities"

// Record is one transaction seen on one entity: the value of a
// repartition record, whose key is the entity.
type Record struct {
	Entity        string    `json:"entity"`
	TransactionID string    `json:"transaction_id"`
	CustomerID    string    `json:"customer_id"`
	Card          string    `json:"card,omitempty"`
	EventTime     time.Time `json:"event_time"`
	// ProducedAt is when the transaction was produced to the
	// transactions topic: the start of the latency to its entity results.
	ProducedAt time.Time `json:"produced_at"`
	// Risk and Decision are the first step's (the processor's) verdict,
	// which the entity rules may raise; a record without a decision
	// (written before they were carried) is counted but not scored.
	Risk     float64 `json:"risk,omitempty"`
	Decision string  `json:"decision,omitempty"`
	// AmountCents and Currency go to a raised decision's alert.
	AmountCents int64  `json:"amount_cents,omitempty"`
	Currency    string `json:"currency,omitempty"`
}

// Messages returns the processor's hook (pipeline.Config.Repartition): it
// appends to out one outbox message for topic per entity of row, keyed by
// the entity.
func Messages(topic string) func(row *store.Tx, out []store.OutboxMsg) []store.OutboxMsg {
	if topic == "" {
		topic = DefaultTopic
	}
	return func(row *store.Tx, out []store.OutboxMsg) []store.OutboxMsg {
		card := fraud.CardKey(row.CardBIN, row.CardLast4)
		var keys [4]string
		for _, k := range fraud.EntityKeys(keys[:0], row.DeviceID, card, row.IPAddress, row.ShippingAddress) {
			b, _ := json.Marshal(Record{Entity: k, TransactionID: row.TransactionID, CustomerID: row.CustomerID, Card: card,
				EventTime: row.EventTime, ProducedAt: row.ProducedAt, Risk: row.Risk, Decision: row.Decision,
				AmountCents: row.TotalCents, Currency: row.Currency})
			out = append(out, store.OutboxMsg{Kind: "kafka", Target: topic, Key: []byte(k), Payload: b, Ref: row.TransactionID, Identifying: true})
		}
		return out
	}
}

// ErrBadRecord reports a repartition record that does not decode.
var ErrBadRecord = errors.New("bad entity record")

// DecodeRecord decodes a repartition record's value, checking that it
// names an entity of a known kind, a transaction, an account and an
// event time, and that key (when given) is its entity.
func DecodeRecord(key, value []byte, r *Record) error {
	*r = Record{}
	if err := json.Unmarshal(value, r); err != nil {
		return fmt.Errorf("%w: %v", ErrBadRecord, err)
	}
	switch fraud.EntityKind(r.Entity) {
	case fraud.EntityDevice, fraud.EntityCard, fraud.EntityIP, fraud.EntityAddress:
	default:
		return fmt.Errorf("%w: entity %q is of no known kind (device, card, ip, address)", ErrBadRecord, r.Entity)
	}
	switch {
	case key != nil && string(key) != r.Entity:
		return fmt.Errorf("%w: key %q is not its entity %q", ErrBadRecord, key, r.Entity)
	case r.TransactionID == "":
		return fmt.Errorf("%w: no transaction_id", ErrBadRecord)
	case r.CustomerID == "":
		return fmt.Errorf("%w: no customer_id", ErrBadRecord)
	case r.EventTime.IsZero():
		return fmt.Errorf("%w: no event_time", ErrBadRecord)
	}
	r.EventTime = r.EventTime.UTC()
	return nil
}
