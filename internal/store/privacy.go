package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"
)

// Privacy erases customers' personal data and keeps the record of it
// (erase.go in sqlstore; docs/security.md). Both stores implement it.
type Privacy interface {
	// EraseCustomer replaces customerID by a pseudonym in every table,
	// clears the device, IP address and card fields of its transactions
	// and scrubs its quarantined records and queued messages, keeping
	// every aggregate (windows, customer totals, cohorts, revenue) as it
	// was, and records the erasure, all in one transaction. Erasing a
	// customer erased before applies the same pseudonym again (to
	// anything that arrived in between) and reports Again.
	EraseCustomer(ctx context.Context, customerID, actor string) (*Erasure, error)
	// Erasures returns the erasures recorded after the one with ID
	// afterID, oldest first, at most limit (1000 when limit <= 0).
	Erasures(ctx context.Context, afterID int64, limit int) ([]Erasure, error)
}

// Erasure is one recorded erasure.
type Erasure struct {
	ID int64 `json:"id"`
	// Key is ErasureKey of the customer's id: the id itself is not kept.
	Key       string    `json:"-"`
	Pseudonym string    `json:"pseudonym"`
	ErasedAt  time.Time `json:"erased_at"`
	Actor     string    `json:"actor"`
	// Rows counts the rows the erasure changed, per table.
	Rows map[string]int64 `json:"rows"`
	// Again reports a customer erased before.
	Again bool `json:"again"`
}

// ErasureKey is what identifies an erased customer in the erasures
// table: the SHA-256 of the id, hex. Records coming in are compared with
// it, so a replay of an erased customer's records is pseudonymised.
func ErasureKey(customerID string) string {
	h := sha256.Sum256([]byte(customerID))
	return hex.EncodeToString(h[:])
}

// NewPseudonym returns a random pseudonym for an erased customer:
// "erased-" and 16 random hex digits. It says nothing of the id.
func NewPseudonym() string {
	var b [8]byte
	rand.Read(b[:]) //nolint:errcheck // never fails (crypto/rand)
	return "erased-" + hex.EncodeToString(b[:])
}

// personalFields are the fields of a transaction record that an erasure
// clears (the customer id is replaced instead).
var personalFields = []string{"device_id", "ip_address", "card"}

// ScrubJSON returns b with the customer id replaced by pseudonym and the
// device, IP address and card fields removed, when b is a JSON object
// whose customer_id is id (a transaction record or an alert); otherwise,
// when b holds the id as a JSON string anywhere, with every such string
// replaced by the pseudonym (a record too malformed to decode). It
// reports whether it changed anything.
func ScrubJSON(b []byte, id, pseudonym string) ([]byte, bool) {
	quoted, _ := json.Marshal(id)
	if id == pseudonym || !bytes.Contains(b, quoted) {
		return b, false
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(b, &obj); err == nil {
		var cur string
		if json.Unmarshal(obj["customer_id"], &cur) == nil && cur == id {
			obj["customer_id"], _ = json.Marshal(pseudonym)
			for _, f := range personalFields {
				delete(obj, f)
			}
			if out, err := json.Marshal(obj); err == nil && !bytes.Contains(out, quoted) {
				return out, true
			}
		}
	}
	// Occurrences may overlap ("a"a" holds "a" twice): replace until none
	// is left. Each round removes at least one copy of the id, which the
	// pseudonym does not contain, so this ends.
	p, _ := json.Marshal(pseudonym)
	for range len(b) {
		if !bytes.Contains(b, quoted) {
			break
		}
		b = bytes.ReplaceAll(b, quoted, p)
	}
	return b, true
}

// Pseudonymise applies erasures (by ErasureKey) to what b would store:
// each transaction of an erased customer gets the pseudonym and loses its
// device, IP address, card and shipping address fields (as EraseCustomer
// clears them of the stored rows); its alerts, queued messages and raw
// bytes are scrubbed, and its messages that carry those fields
// (OutboxMsg.Identifying) are dropped. It reports how many transactions it
// changed. The
// processor does it before a record reaches the partition's state; the
// stores do it again in WriteBatch for erasures recorded since
// (Batch.ErasedUpTo), so no record stored after an erasure commits
// carries the id.
func Pseudonymise(b *Batch, erased map[string]string) int {
	if len(erased) == 0 {
		return 0
	}
	n := 0
	for i := range b.Parts {
		p := &b.Parts[i]
		ids := map[string]string{} // customer id -> pseudonym, of this part
		var txs map[string]bool    // the pseudonymised transactions, by id
		for j := range p.Txs {
			t := &p.Txs[j]
			ps, ok := erased[ErasureKey(t.CustomerID)]
			if !ok {
				continue
			}
			ids[t.CustomerID] = ps
			if t.Raw != nil {
				t.Raw, _ = ScrubJSON(t.Raw, t.CustomerID, ps)
			}
			t.CustomerID, t.DeviceID, t.IPAddress, t.CardBIN, t.CardLast4, t.ShippingAddress = ps, "", "", "", "", ""
			if txs == nil {
				txs = map[string]bool{}
			}
			txs[t.TransactionID] = true
			n++
		}
		if txs != nil {
			// Messages carrying a cleared field of their transaction
			// (its device, card, IP or address) are not sent.
			kept := p.Outbox[:0]
			for _, o := range p.Outbox {
				if !o.Identifying || !txs[o.Ref] {
					kept = append(kept, o)
				}
			}
			clear(p.Outbox[len(kept):])
			p.Outbox = kept
		}
		for j := range p.Alerts {
			if ps, ok := ids[p.Alerts[j].CustomerID]; ok {
				p.Alerts[j].CustomerID = ps
			}
		}
		for j := range p.Quarantined {
			q := &p.Quarantined[j]
			var rec struct {
				CustomerID string `json:"customer_id"`
			}
			if json.Unmarshal(q.Raw, &rec) == nil && rec.CustomerID != "" {
				if ps, ok := erased[ErasureKey(rec.CustomerID)]; ok {
					q.Raw, _ = ScrubJSON(q.Raw, rec.CustomerID, ps)
					ids[rec.CustomerID] = ps
				}
			}
		}
		for id, ps := range ids {
			for j := range p.Outbox {
				o := &p.Outbox[j]
				o.Payload, _ = ScrubJSON(o.Payload, id, ps)
				if string(o.Key) == id {
					o.Key = []byte(ps)
				}
			}
		}
	}
	return n
}
