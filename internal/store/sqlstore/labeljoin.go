package sqlstore

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"

	"github.com/shopstream/shopstream/internal/store"
)

// maxPendingHint bounds the transaction ids the store remembers as having
// pending label events: past it, further ones are left to the sweeps.
const maxPendingHint = 1 << 18

// pendingHint is the transactions of pending label events this store
// wrote (store.LabelJoiner): a hint, never the truth. A transaction in it
// may have none left (applied by a sweep, expired), and one with pending
// events may be missing from it; the batch's lookup and the sweeps decide.
type pendingHint struct {
	mu      sync.Mutex
	applied func(n int) // nil: the join is off
	ids     map[string]struct{}
}

// JoinPendingLabels implements store.LabelJoiner.
func (s *Store) JoinPendingLabels(applied func(n int)) {
	h := s.hint
	h.mu.Lock()
	defer h.mu.Unlock()
	h.applied = applied
	if applied == nil {
		h.ids = nil
	} else if h.ids == nil {
		h.ids = map[string]struct{}{}
	}
}

// on says whether the join is on.
func (h *pendingHint) on() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.applied != nil
}

// add remembers ids (when the join is on).
func (h *pendingHint) add(ids []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.applied == nil {
		return
	}
	for _, id := range ids {
		if len(h.ids) >= maxPendingHint {
			return
		}
		h.ids[id] = struct{}{}
	}
}

// reset replaces what is remembered with ids (a full sweep's view).
func (h *pendingHint) reset(ids []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.applied == nil {
		return
	}
	h.ids = make(map[string]struct{}, len(ids))
	for _, id := range ids[:min(len(ids), maxPendingHint)] {
		h.ids[id] = struct{}{}
	}
}

// among is the transactions of parts that are remembered.
func (h *pendingHint) among(parts []store.Part) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.ids) == 0 {
		return nil
	}
	var out []string
	for i := range parts {
		for j := range parts[i].Txs {
			if _, ok := h.ids[parts[i].Txs[j].TransactionID]; ok {
				out = append(out, parts[i].Txs[j].TransactionID)
			}
		}
	}
	return out
}

// done forgets the ids a committed batch looked up and reports the events
// it applied.
func (h *pendingHint) done(j *labelJoin) {
	if len(j.looked) == 0 {
		return
	}
	h.mu.Lock()
	for _, id := range j.looked {
		delete(h.ids, id)
	}
	applied := h.applied
	h.mu.Unlock()
	if applied != nil && j.applied > 0 {
		applied(j.applied)
	}
}

// labelJoin is what one batch's join did: the transactions it looked up,
// the events it applied, and the truth of each transaction they labelled.
type labelJoin struct {
	looked  []string
	applied int
	late    map[string]store.Label
}

// joinPendingLabels applies, in the batch's transaction, the pending label
// events of the batch's remembered transactions (store.LabelJoiner): it
// marks them applied, only those still pending, and returns each labelled
// transaction's truth from its events (store.LabelTruth), to be stored
// with the transaction (its labels row, its alert's scenario, its rollup
// rows) in place of the generator's label. The events are marked by
// transaction id through its index; the label writer locks them in the
// same order (label events, then rollup rows), so neither waits for the
// other in a cycle.
func (s *Store) joinPendingLabels(ctx context.Context, tx DB, parts []store.Part, j *labelJoin) error {
	*j = labelJoin{looked: s.hint.among(parts)}
	if len(j.looked) == 0 {
		return nil
	}
	ids := slices.Clone(j.looked)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	var claimed []string
	err := inChunks(ids, func(list string, args []any) error {
		return each(ctx, tx, `UPDATE label_events SET state = `+strconv.Itoa(labelApplied)+` WHERE state = `+strconv.Itoa(labelPending)+`
			AND transaction_id IN (`+list+`) RETURNING transaction_id`, args, func(r Rows) error {
			var id string
			err := r.Scan(&id)
			claimed = append(claimed, id)
			j.applied++
			return err
		})
	})
	if err != nil {
		return fmt.Errorf("applying the pending labels of the batch's transactions: %w", err)
	}
	if len(claimed) == 0 {
		return nil
	}
	slices.Sort(claimed)
	claimed = slices.Compact(claimed)
	// Every event of these transactions that counts: those just marked,
	// and any applied before (a transaction stored again after its
	// removal), as a sweep reads them.
	events := map[string][]store.LabelEvent{}
	err = inChunks(claimed, func(list string, args []any) error {
		return each(ctx, tx, `SELECT transaction_id, label_id, fraud, scenario, event_time FROM label_events
			WHERE state = `+strconv.Itoa(labelApplied)+` AND transaction_id IN (`+list+`)`, args, func(r Rows) error {
			var e store.LabelEvent
			if err := r.Scan(&e.TransactionID, &e.LabelID, &e.Fraud, &e.Scenario, &e.EventTime); err != nil {
				return err
			}
			events[e.TransactionID] = append(events[e.TransactionID], e)
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("reading the label events of the batch's transactions: %w", err)
	}
	// The generator's label of the transaction, if its batch carries one:
	// a verdict without a scenario keeps the scenario it named, as a
	// sweep keeps the stored label's.
	inline := map[string]store.Label{}
	for i := range parts {
		for _, l := range parts[i].Labels {
			if _, ok := events[l.TransactionID]; ok {
				inline[l.TransactionID] = l
			}
		}
	}
	j.late = make(map[string]store.Label, len(events))
	for id, evs := range events {
		fraud, scenario, ok := store.LabelTruth(evs)
		if !ok {
			continue
		}
		if l, had := inline[id]; had && scenario == "" && fraud && l.Fraud {
			scenario = l.Scenario
		}
		j.late[id] = store.Label{TransactionID: id, Fraud: fraud, Scenario: scenario}
	}
	return nil
}
