package importjob

import (
	"context"
	"fmt"
	"time"

	"github.com/shopstream/shopstream/internal/event"
	"github.com/shopstream/shopstream/internal/pipeline"
	"github.com/shopstream/shopstream/internal/quality"
	"github.com/shopstream/shopstream/internal/store"
)

// replayTopic is where replays of imported records keep their offset. They
// read no file, so every replay batch covers the empty range [0, 0) of its
// partition 0: the offset row only serialises concurrent replays.
const replayTopic = "import-replay"

// ReplayResult accounts for a replay of quarantined imported records.
type ReplayResult struct {
	// Replayed are the rows checked again; each was Stored, found a
	// Duplicate (its transaction id is stored already) or Quarantined
	// again.
	Replayed    int64 `json:"replayed"`
	Stored      int64 `json:"stored"`
	Duplicate   int64 `json:"duplicate"`
	Quarantined int64 `json:"quarantined"`
	// QuarantinedBy counts those quarantined again by their new reason.
	QuarantinedBy map[string]int64 `json:"quarantined_by_reason"`
}

func (r *ReplayResult) add(o ReplayResult) {
	r.Replayed += o.Replayed
	r.Stored += o.Stored
	r.Duplicate += o.Duplicate
	r.Quarantined += o.Quarantined
	for k, v := range o.QuarantinedBy {
		r.QuarantinedBy[k] += v
	}
}

// ReplayQuarantined checks the records earlier imports of this job's source
// quarantined again, with the job's quality checks, and stores those that
// pass (see Replay): a re-import with a new contract picks them up, and
// one with the same contract changes only their replay attempts. Call it
// before Run, which would otherwise have its own rows checked twice.
func (j *Job) ReplayQuarantined(ctx context.Context) (ReplayResult, error) {
	return Replay(ctx, j.cfg.Store, j.cfg.Quality, j.cfg.Now(), store.QuarantineFilter{Topic: j.topic}, j.cfg.Batch)
}

// Replay checks the imported records in quarantine that f selects again
// with q (the default contract when nil; as for an import), as of now, and stores those that pass, batch rows per database
// transaction (5,000 when <= 0). Only rows of imports that a replay may
// still change are selected (f.Source and f.State are overridden). Each row
// is marked with its outcome in the transaction that stores the record
// (store.Quarantine): a transaction is stored at most once (the store's
// unique transaction id), and a row once stored or found a duplicate is
// never selected again, so running Replay twice stores nothing the second
// time.
//
// Imported records never went through Kafka, so they are replayed here,
// through the checks and the store the import used, not produced to the
// transactions topic. They keep their partition (-1) and their ordinal in
// the file as offset.
func Replay(ctx context.Context, st store.Store, q *quality.Contract, now time.Time, f store.QuarantineFilter, batch int) (ReplayResult, error) {
	if batch <= 0 {
		batch = 5000
	}
	if q == nil {
		q = quality.Default()
	}
	q = q.ForImport()
	f.Source, f.State, f.Limit, f.Before = store.SourceImport, store.StateOpen, batch, 0
	total := ReplayResult{QuarantinedBy: map[string]int64{}}
	for {
		rows, err := st.ListQuarantine(ctx, f)
		if err != nil {
			return total, err
		}
		if len(rows) == 0 {
			return total, nil
		}
		res, err := replayRows(ctx, st, q, now, rows)
		if err != nil {
			return total, err
		}
		total.add(res)
		if len(rows) < batch {
			return total, nil
		}
		f.Before = rows[len(rows)-1].ID
	}
}

// replayRows checks rows again and writes the outcome in one transaction.
func replayRows(ctx context.Context, st store.Store, q *quality.Contract, now time.Time, rows []store.QuarantineRow) (ReplayResult, error) {
	part := store.Part{Partition: 0}
	seen := map[string]bool{}
	for _, r := range rows {
		var t event.Transaction
		var res quality.Result
		q.Decode(r.Raw, now, &t, &res)
		fail := res.Failure
		if fail == nil && seen[t.TransactionID] {
			fail = &quality.Failure{Reason: quality.DuplicateID, Detail: fmt.Sprintf("transaction_id %s is replayed from another quarantine row too", t.TransactionID)}
		}
		if fail != nil {
			part.Quarantined = append(part.Quarantined, store.Quarantined{Reason: string(fail.Reason), Detail: fail.Detail, Raw: r.Raw,
				Partition: Partition, Offset: r.Offset, ReplayOf: r.ID})
			continue
		}
		seen[t.TransactionID] = true
		tx := pipeline.NewTx(&t, Partition, r.Offset, now, nil)
		tx.ReplayOf = r.ID
		part.Txs = append(part.Txs, tx)
	}
	for {
		err := st.WriteBatch(ctx, &store.Batch{Group: Group, Topic: replayTopic, Parts: []store.Part{part}})
		d, dup := store.IsDuplicate(err)
		if !dup {
			if err != nil {
				return ReplayResult{}, fmt.Errorf("storing %d replayed records: %w", len(rows), err)
			}
			break
		}
		// Transaction ids are unique within the part, so the store names
		// transactions stored before: those rows are duplicates.
		stored := make(map[string]bool, len(d.IDs))
		for _, id := range d.IDs {
			stored[id] = true
		}
		kept := part.Txs[:0]
		for _, t := range part.Txs {
			if !stored[t.TransactionID] {
				kept = append(kept, t)
				continue
			}
			part.Quarantined = append(part.Quarantined, store.Quarantined{Reason: string(quality.DuplicateID),
				Detail: "transaction_id " + t.TransactionID + " is stored already", Partition: Partition, Offset: t.Offset, ReplayOf: t.ReplayOf})
		}
		if len(kept) == len(part.Txs) {
			return ReplayResult{}, fmt.Errorf("storing %d replayed records: the store reported duplicates not among them: %w", len(rows), err)
		}
		part.Txs = kept
	}
	res := ReplayResult{Replayed: int64(len(rows)), Stored: int64(len(part.Txs)), QuarantinedBy: map[string]int64{}}
	for _, q := range part.Quarantined {
		if q.Reason == string(quality.DuplicateID) {
			res.Duplicate++
			continue
		}
		res.Quarantined++
		res.QuarantinedBy[q.Reason]++
	}
	return res, nil
}
