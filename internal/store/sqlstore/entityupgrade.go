package sqlstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/shopstream/shopstream/internal/store"
)

// decisionRank orders decisions by severity; an unknown one ranks as
// approve.
func decisionRank(d string) int {
	switch d {
	case "review":
		return 1
	case "decline":
		return 2
	}
	return 0
}

// appendReasons adds more (JSON objects separated by commas) to a JSON
// array of reasons.
func appendReasons(reasons string, more []byte) string {
	r := bytes.TrimSpace([]byte(reasons))
	if len(r) < 2 || r[len(r)-1] != ']' {
		return "[" + string(more) + "]"
	}
	out := append([]byte(nil), r[:len(r)-1]...)
	if len(bytes.TrimSpace(out)) > 1 {
		out = append(out, ',')
	}
	out = append(out, more...)
	return string(append(out, ']'))
}

// writeEntityUpgrades applies the second step's upgrades of an entity
// batch (store.EntityUpgrade) in its transaction, and returns the
// rollup moves and the alerts to queue. The batch's alert rows are locked
// first, in id order (as the label writer and LabelAlert lock them), then
// each transaction's row in id order (which the label writer locks too),
// and each decision is read under those locks,
// so a label applied concurrently moves the counts from the decision it
// finds and this from the truth it finds, and an upgrade whose decision
// is not above the stored one changes nothing.
func (s *Store) writeEntityUpgrades(ctx context.Context, tx DB, parts []store.EntityPart, fold *store.RollupFold) ([][]any, error) {
	type ref struct{ p, i int }
	var refs []ref
	for p := range parts {
		for i := range parts[p].Upgrades {
			parts[p].Upgrades[i].Applied = false
			refs = append(refs, ref{p, i})
		}
	}
	if len(refs) == 0 {
		return nil, nil
	}
	up := func(r ref) *store.EntityUpgrade { return &parts[r.p].Upgrades[r.i] }
	sort.SliceStable(refs, func(a, b int) bool { return up(refs[a]).TransactionID < up(refs[b]).TransactionID })
	now := s.now()
	forUpdate := s.d.SQL().ForUpdate
	var outbox [][]any
	// Every alert row first, then the transactions rows, as the label
	// writer takes them (applyLabels): locking each transaction's alert
	// and then its row, one transaction after the other, a raise holding
	// one's row could wait for the next one's alert while a label writer
	// holding that alert waits for the row, and PostgreSQL would abort
	// one of them (TestUpgradeLockOrder).
	for i, r := range refs {
		id := up(r).TransactionID
		if i > 0 && id == up(refs[i-1]).TransactionID {
			continue
		}
		if _, err := tx.Exec(ctx, `UPDATE alerts SET status = status WHERE transaction_id = $1`, id); err != nil {
			return nil, fmt.Errorf("locking the alert of %s: %w", id, err)
		}
	}
	for _, r := range refs {
		u := up(r)
		// By id (Queries.TxByID), and by event time, so that a row
		// stored under the same id at another time is not taken; the
		// record's time may carry more digits than the stored
		// microseconds.
		var o store.Outcome
		var customer, reasons, currency string
		var amount int64
		var shadow *float64
		var part int32
		var offset int64
		err := tx.QueryRow(ctx, `SELECT t.customer_id, t.event_time, t.total_cents, t.currency, t.risk, t.decision, CAST(t.reasons AS TEXT),
			t.shadow_risk, t.kafka_partition, t.kafka_offset
			FROM `+s.q.TxByID+` WHERE `+s.q.TxKey+` = $1 AND t.event_time >= $2 AND t.event_time <= $3`+lockOf(forUpdate, "t"),
			u.TransactionID, u.EventTime.Add(-time.Microsecond), u.EventTime.Add(time.Microsecond)).
			Scan(&customer, &o.EventTime, &amount, &currency, &o.Risk, &o.Decision, &reasons, &shadow, &part, &offset)
		if errors.Is(err, ErrNoRows) {
			continue // erased or pruned meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("reading transaction %s: %w", u.TransactionID, err)
		}
		if decisionRank(u.Decision) <= decisionRank(o.Decision) {
			continue // applied already, or decided as high by the first step
		}
		o.EventTime = o.EventTime.UTC()
		if shadow != nil {
			o.ShadowRisk, o.HasShadow = *shadow, true
		}
		var fraud *bool
		var scenario *string
		err = tx.QueryRow(ctx, `SELECT fraud, scenario FROM labels WHERE transaction_id = $1`, u.TransactionID).Scan(&fraud, &scenario)
		if err != nil && !errors.Is(err, ErrNoRows) {
			return nil, fmt.Errorf("reading the label of %s: %w", u.TransactionID, err)
		}
		if fraud != nil {
			o.Labelled, o.Fraud = true, *fraud
		}
		if scenario != nil {
			o.Scenario = *scenario
		}
		var status, alertReasons *string
		err = tx.QueryRow(ctx, `SELECT status, CAST(reasons AS TEXT) FROM alerts WHERE transaction_id = $1`, u.TransactionID).Scan(&status, &alertReasons)
		if err != nil && !errors.Is(err, ErrNoRows) {
			return nil, fmt.Errorf("reading the alert of %s: %w", u.TransactionID, err)
		}
		before, after := o, o
		after.Risk, after.Decision = max(o.Risk, u.Risk), u.Decision
		newReasons := appendReasons(reasons, u.ReasonsJSON)
		// By its day, partition and offset: the (kafka_partition,
		// kafka_offset) index of the day's table in PostgreSQL, where no
		// index has the id.
		if _, err := tx.Exec(ctx, `UPDATE transactions SET risk = $1, decision = $2, reasons = $3
			WHERE event_time = $5 AND kafka_partition = $6 AND kafka_offset = $7 AND transaction_id = $4`,
			after.Risk, after.Decision, newReasons, u.TransactionID, o.EventTime, part, offset); err != nil {
			return nil, fmt.Errorf("raising the decision of %s: %w", u.TransactionID, err)
		}
		if status != nil {
			_, err = tx.Exec(ctx, `UPDATE alerts SET risk = $1, decision = $2, reasons = $3 WHERE transaction_id = $4`,
				after.Risk, after.Decision, appendReasons(*alertReasons, u.ReasonsJSON), u.TransactionID)
			store.ApplyAnalystLabel(&before, *status)
			store.ApplyAnalystLabel(&after, *status)
		} else {
			sc := ""
			if scenario != nil {
				sc = *scenario
			}
			err = s.d.Insert(ctx, tx, "alerts", []string{"transaction_id", "customer_id", "event_time", "risk", "decision", "reasons",
				"amount_cents", "created_at", "scenario", "currency"}, [][]any{{u.TransactionID, customer, o.EventTime, after.Risk, after.Decision,
				newReasons, amount, now, sc, currency}})
		}
		if err != nil {
			return nil, fmt.Errorf("writing the alert of %s: %w", u.TransactionID, err)
		}
		fold.Add(&before, -1)
		fold.Add(&after, 1)
		u.Applied = true
		if a := u.Alert; a != nil {
			outbox = append(outbox, []any{a.Kind, a.Target, a.Key, a.Headers, a.Payload, now, now})
		}
	}
	return outbox, nil
}

// lockOf locks the rows of table alias of a SELECT with forUpdate (the
// dialect's ForUpdate): "" where the dialect needs none.
func lockOf(forUpdate, alias string) string {
	if forUpdate == "" {
		return ""
	}
	return forUpdate + " OF " + alias
}
