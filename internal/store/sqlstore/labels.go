package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/shopstream/shopstream/internal/store"
)

// States of a stored label event (label_events.state).
const (
	labelPending = 0
	labelApplied = 1
	labelExpired = 2
)

// KeyedReader is implemented by dialects that can make the rest of a
// transaction read tables by their keys only. The label path looks up a
// few rows by key in tables that grow by the stream (transaction_ids,
// transactions, alerts); PostgreSQL's statistics lag such a table, and
// with a lagging estimate the planner chose to scan transaction_ids
// whole and hash it for a few hundred pending labels, on every write.
type KeyedReader interface {
	KeyedReads(ctx context.Context, tx DB) error
}

// WriteLabels implements store.Labeller.
func (s *Store) WriteLabels(ctx context.Context, b *store.Batch, o store.LabelOptions) (store.LabelResult, error) {
	var res store.LabelResult
	if len(b.Parts) == 0 {
		return res, nil
	}
	var h labelHint
	err := s.d.Tx(ctx, func(tx DB) error {
		res, h = store.LabelResult{}, labelHint{}
		return s.writeLabels(ctx, tx, b, o, &res, &h)
	})
	if err == nil {
		if h.all != nil {
			s.hint.reset(h.all)
		}
		s.hint.add(h.pending)
		return res, nil
	}
	if _, fenced := store.IsFenced(err); fenced || errors.Is(err, store.ErrAlreadyCommitted) {
		return res, err
	}
	if c, msg := s.d.Classify(err); c == Data {
		return res, &store.RejectedError{Message: Sanitize(msg), Err: err}
	}
	n := 0
	for i := range b.Parts {
		n += len(b.Parts[i].LabelEvents)
	}
	return res, fmt.Errorf("writing a batch of %d label events: %w", n, err)
}

// labelHint is what one WriteLabels tells the store's pendingHint: the
// transactions of the events it left pending, and after a full sweep
// (with the join on) those of every event pending, which replace what
// the store remembered.
type labelHint struct {
	pending, all []string
}

func (s *Store) writeLabels(ctx context.Context, tx DB, b *store.Batch, o store.LabelOptions, res *store.LabelResult, h *labelHint) error {
	if k, ok := s.d.(KeyedReader); ok {
		if err := k.KeyedReads(ctx, tx); err != nil {
			return fmt.Errorf("reading by key: %w", err)
		}
	}
	stored, err := s.d.LockOffsets(ctx, tx, b)
	if err != nil {
		return fmt.Errorf("locking offsets: %w", err)
	}
	if err := store.Fence(b, stored); err != nil {
		return err
	}
	if err := s.insertRest(ctx, tx, b.Topic, b.Parts, nil); err != nil {
		return err
	}
	ids, err := s.insertLabelEvents(ctx, tx, b.Parts, res)
	if err != nil {
		return err
	}
	partitions := make([]int32, len(b.Parts))
	for i := range b.Parts {
		partitions[i] = b.Parts[i].Partition
	}
	have, err := s.storedAmong(ctx, tx, ids)
	if err != nil {
		return err
	}
	if len(have) < len(ids) {
		found := make(map[string]bool, len(have))
		for _, id := range have {
			found[id] = true
		}
		for _, id := range ids {
			if !found[id] {
				h.pending = append(h.pending, id)
			}
		}
	}
	ids = have
	if o.Sweep {
		more, err := s.sweepStored(ctx, tx, partitions, o, res)
		if err != nil {
			return err
		}
		ids = append(ids, more...)
	}
	sort.Strings(ids) // lock alerts in one order among writers
	rollups, err := s.applyLabels(ctx, tx, slices.Compact(ids), res)
	if err != nil {
		return err
	}
	in, args := placeholders(partitions, 2)
	n, err := tx.Exec(ctx, `UPDATE label_events SET state = `+strconv.Itoa(labelExpired)+` WHERE state = `+strconv.Itoa(labelPending)+`
		AND received_at < $1 AND kafka_partition IN (`+in+`)`, append([]any{o.ExpireBefore}, args...)...)
	if err != nil {
		return fmt.Errorf("expiring pending labels: %w", err)
	}
	res.Expired = int(n)
	if res.SweptAll && s.hint.on() {
		h.all = []string{}
		err := each(ctx, tx, `SELECT DISTINCT transaction_id FROM label_events WHERE state = `+strconv.Itoa(labelPending)+` LIMIT `+strconv.Itoa(maxPendingHint),
			nil, func(r Rows) error {
				var id string
				err := r.Scan(&id)
				h.all = append(h.all, id)
				return err
			})
		if err != nil {
			return fmt.Errorf("reading the transactions of the pending labels: %w", err)
		}
	}
	if err := s.d.AdvanceOffsets(ctx, tx, b); err != nil {
		return fmt.Errorf("advancing offsets: %w", err)
	}
	// The rollup rows last, in the labels consumer's own slot: the
	// labels consumers of other processes write the same minutes.
	return s.upsertRollups(ctx, tx, store.LabelSlot(b.Parts), rollups)
}

// sweepStored is the ids of the stored transactions with pending events
// of partitions that a sweep finds (store.LabelOptions.Sweep): probing
// every pending one, or among those stored since o.Since when fewer were
// stored than are pending; none when a lazy sweep waits.
func (s *Store) sweepStored(ctx context.Context, tx DB, partitions []int32, o store.LabelOptions, res *store.LabelResult) ([]string, error) {
	// The processors' offsets first: whatever is stored past them is
	// committed after this statement, so the next sweep looks from there.
	cur := map[int32]int64{}
	err := each(ctx, tx, "SELECT partition, next_offset FROM consumer_offsets WHERE group_id = $1 AND topic = $2",
		[]any{o.TxGroup, o.TxTopic}, func(r Rows) error {
			var p int32
			var n int64
			err := r.Scan(&p, &n)
			cur[p] = n
			return err
		})
	if err != nil {
		return nil, fmt.Errorf("reading the processors' offsets: %w", err)
	}
	res.Swept = cur
	in, args := placeholders(partitions, 1)
	full := o.Since == nil
	if !full {
		var since int64 // transactions stored since the last sweep
		for p, n := range cur {
			since += max(0, n-o.Since[p])
		}
		if since == 0 {
			return nil, nil
		}
		var pending int64
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM label_events WHERE state = `+strconv.Itoa(labelPending)+`
			AND kafka_partition IN (`+in+`)`, args...).Scan(&pending); err != nil {
			return nil, fmt.Errorf("counting pending labels: %w", err)
		}
		if pending == 0 {
			return nil, nil
		}
		if o.Lazy && 4*pending > since {
			res.Swept, res.Deferred = maps.Clone(o.Since), true // the next looks from the same offsets
			return nil, nil
		}
		full = pending <= since
	}
	var ids []string
	add := func(r Rows) error {
		var id string
		err := r.Scan(&id)
		ids = append(ids, id)
		return err
	}
	if full {
		res.SweptAll = true
		if err := each(ctx, tx, `SELECT DISTINCT e.transaction_id FROM label_events e
			JOIN `+s.q.StoredIDs+` t ON t.transaction_id = e.transaction_id
			WHERE e.state = `+strconv.Itoa(labelPending)+` AND e.kafka_partition IN (`+in+`)`, args, add); err != nil {
			return nil, fmt.Errorf("finding pending labels of stored transactions: %w", err)
		}
		return ids, nil
	}
	for p, n := range cur {
		from := o.Since[p]
		if n <= from {
			continue
		}
		in, args := placeholders(partitions, 3)
		if err := each(ctx, tx, `SELECT DISTINCT e.transaction_id FROM transactions t
			JOIN label_events e ON e.transaction_id = t.transaction_id
			WHERE t.kafka_partition = $1 AND t.kafka_offset >= $2
			AND e.state = `+strconv.Itoa(labelPending)+` AND e.kafka_partition IN (`+in+`)`,
			append([]any{p, from}, args...), add); err != nil {
			return nil, fmt.Errorf("finding pending labels of the transactions stored since the last sweep: %w", err)
		}
	}
	return ids, nil
}

// storedAmong keeps, of ids, those of stored transactions.
func (s *Store) storedAmong(ctx context.Context, tx DB, ids []string) ([]string, error) {
	var out []string
	err := inChunks(ids, func(list string, args []any) error {
		return each(ctx, tx, `SELECT transaction_id FROM `+s.q.StoredIDs+` WHERE transaction_id IN (`+list+`)`, args, func(r Rows) error {
			var id string
			err := r.Scan(&id)
			out = append(out, id)
			return err
		})
	})
	if err != nil {
		return nil, fmt.Errorf("finding the stored transactions of the labels: %w", err)
	}
	return out, nil
}

// insertLabelEvents stores the parts' events not stored before, pending,
// and returns the ids of the transactions they label.
func (s *Store) insertLabelEvents(ctx context.Context, tx DB, parts []store.Part, res *store.LabelResult) ([]string, error) {
	seen := map[string]bool{}
	var ids []string
	for i := range parts {
		for _, e := range parts[i].LabelEvents {
			if !seen[e.LabelID] {
				seen[e.LabelID] = true
				ids = append(ids, e.LabelID)
			}
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	old := map[string]bool{}
	err := inChunks(ids, func(list string, args []any) error {
		return each(ctx, tx, "SELECT label_id FROM label_events WHERE label_id IN ("+list+")", args, func(r Rows) error {
			var id string
			err := r.Scan(&id)
			old[id] = true
			return err
		})
	})
	if err != nil {
		return nil, fmt.Errorf("looking up label ids: %w", err)
	}
	now := s.now()
	var rows [][]any
	txs := map[string]bool{}
	for i := range parts {
		for _, e := range parts[i].LabelEvents {
			if old[e.LabelID] {
				res.Duplicates++
				continue
			}
			old[e.LabelID] = true // a repeat within the batch is a duplicate too
			txs[e.TransactionID] = true
			res.Stored++
			rows = append(rows, []any{Sanitize(e.LabelID), Sanitize(e.TransactionID), Sanitize(e.Kind), e.Fraud, Sanitize(e.Scenario),
				Sanitize(e.ReasonCode), e.EventTime.UTC(), e.Partition, e.Offset, now, labelPending})
		}
	}
	if len(rows) == 0 {
		return nil, nil
	}
	cols := []string{"label_id", "transaction_id", "kind", "fraud", "scenario", "reason_code", "event_time", "kafka_partition",
		"kafka_offset", "received_at", "state"}
	if err := s.d.Upsert(ctx, tx, "label_events", cols, "ON CONFLICT (label_id) DO NOTHING", rows); err != nil {
		return nil, fmt.Errorf("inserting %d label events: %w", len(rows), err)
	}
	return slices.Collect(maps.Keys(txs)), nil
}

// labelled is a stored transaction that has pending label events, with
// what is stored about its truth.
type labelled struct {
	outcome store.Outcome // with the labels row's truth, no analyst's
	status  string        // its alert's status, "" for none
	events  []store.LabelEvent
}

// applyLabels applies the pending events of the stored transactions ids
// (sorted) and returns the rollup moves to write.
func (s *Store) applyLabels(ctx context.Context, tx DB, ids []string, res *store.LabelResult) ([]store.FraudRollup, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	byID := make(map[string]*labelled, len(ids))
	var pending []string // label ids
	err := inChunks(ids, func(list string, args []any) error {
		// An analyst labelling one of these alerts meanwhile waits for this
		// transaction (and this one for it), so each reads the other's
		// outcome: a no-op update takes the rows' locks in both stores.
		// The transactions rows are locked too: the entity stage's second
		// step raises a decision under that lock (writeEntityUpgrades).
		if _, err := tx.Exec(ctx, "UPDATE alerts SET status = status WHERE transaction_id IN ("+list+")", args...); err != nil {
			return fmt.Errorf("locking alerts: %w", err)
		}
		err := each(ctx, tx, `SELECT t.transaction_id, t.event_time, t.risk, t.decision, t.shadow_risk, l.fraud, l.scenario, a.status
			FROM `+s.q.TxByID+`
			LEFT JOIN labels l ON l.transaction_id = t.transaction_id
			LEFT JOIN alerts a ON a.transaction_id = t.transaction_id
			WHERE `+s.q.TxKey+` IN (`+list+`)`+lockOf(s.d.SQL().ForUpdate, "t"), args, func(r Rows) error {
			var id string
			var lb labelled
			var shadow *float64
			var fraud *bool
			var scenario, status *string
			o := &lb.outcome
			if err := r.Scan(&id, &o.EventTime, &o.Risk, &o.Decision, &shadow, &fraud, &scenario, &status); err != nil {
				return err
			}
			o.EventTime = o.EventTime.UTC()
			if shadow != nil {
				o.ShadowRisk, o.HasShadow = *shadow, true
			}
			if fraud != nil {
				o.Labelled, o.Fraud = true, *fraud
			}
			if scenario != nil {
				o.Scenario = *scenario
			}
			if status != nil {
				lb.status = *status
			}
			byID[id] = &lb
			return nil
		})
		if err != nil {
			return fmt.Errorf("reading labelled transactions: %w", err)
		}
		err = each(ctx, tx, `SELECT transaction_id, label_id, fraud, scenario, event_time, state FROM label_events
			WHERE state <> `+strconv.Itoa(labelExpired)+` AND transaction_id IN (`+list+`)`, args, func(r Rows) error {
			var e store.LabelEvent
			var state int
			if err := r.Scan(&e.TransactionID, &e.LabelID, &e.Fraud, &e.Scenario, &e.EventTime, &state); err != nil {
				return err
			}
			if state == labelPending {
				res.Applied++
				pending = append(pending, e.LabelID)
			}
			if lb := byID[e.TransactionID]; lb != nil {
				lb.events = append(lb.events, e)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("reading label events: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// By label id: the pending events are few of the table, and an IN
	// list of transaction ids against the pending index is a linear
	// search per pending event.
	err = inChunks(pending, func(list string, args []any) error {
		if _, err := tx.Exec(ctx, `UPDATE label_events SET state = `+strconv.Itoa(labelApplied)+` WHERE label_id IN (`+list+`)`, args...); err != nil {
			return fmt.Errorf("marking labels applied: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var fold store.RollupFold
	var rows [][]any
	for _, id := range ids {
		lb := byID[id]
		if lb == nil {
			continue
		}
		fraud, scenario, ok := store.LabelTruth(lb.events)
		before := lb.outcome
		if !ok || before.Labelled && before.Fraud == fraud && (before.Scenario == scenario || scenario == "") {
			continue
		}
		if scenario == "" && fraud && before.Fraud {
			scenario = before.Scenario
		}
		after := before
		after.Labelled, after.Fraud, after.Scenario = true, fraud, scenario
		store.ApplyAnalystLabel(&before, lb.status)
		store.ApplyAnalystLabel(&after, lb.status)
		fold.Add(&before, -1)
		fold.Add(&after, 1)
		rows = append(rows, []any{id, fraud, scenario})
		res.Changed++
	}
	if len(rows) == 0 {
		return nil, nil
	}
	if err := s.d.Upsert(ctx, tx, "labels", []string{"transaction_id", "fraud", "scenario"},
		"ON CONFLICT (transaction_id) DO UPDATE SET fraud = excluded.fraud, scenario = excluded.scenario", rows); err != nil {
		return nil, fmt.Errorf("storing %d labels: %w", len(rows), err)
	}
	return fold.Rows(), nil
}

// placeholders is an IN list of the values ps (partitions, ids),
// numbered from $first, and the values as arguments.
func placeholders[T any](ps []T, first int) (string, []any) {
	var b strings.Builder
	args := make([]any, len(ps))
	for i, p := range ps {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("$" + strconv.Itoa(first+i))
		args[i] = p
	}
	return b.String(), args
}

// LabelStatus implements store.Labeller.
func (s *Store) LabelStatus(ctx context.Context) (store.LabelStatus, error) {
	var st store.LabelStatus
	err := each(ctx, s.d.DB(), `SELECT state, count(*) FROM label_events GROUP BY state`, nil, func(r Rows) error {
		var state int
		var n int64
		if err := r.Scan(&state, &n); err != nil {
			return err
		}
		switch state {
		case labelPending:
			st.Pending = n
		case labelApplied:
			st.Applied = n
		case labelExpired:
			st.Expired = n
		}
		return nil
	})
	if err != nil {
		return st, fmt.Errorf("counting label events: %w", err)
	}
	if st.Pending > 0 {
		var at time.Time
		if err := s.d.DB().QueryRow(ctx, `SELECT received_at FROM label_events WHERE state = `+strconv.Itoa(labelPending)+`
			ORDER BY received_at LIMIT 1`).Scan(&at); err != nil && !errors.Is(err, ErrNoRows) {
			return st, fmt.Errorf("reading the oldest pending label: %w", err)
		}
		if !at.IsZero() {
			at = at.UTC()
			st.OldestPending = &at
		}
	}
	return st, nil
}
