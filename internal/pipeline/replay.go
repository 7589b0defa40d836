package pipeline

import (
	"strconv"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/internal/store"
)

// HeaderReplayOf marks a record produced again from quarantine (shopstream
// quarantine replay): its value is the quarantine row's ID in decimal.
//
// The processor treats such a record like any other (the checks in force
// now, the dedup window, the fraud score), except for where its outcome
// goes: the row it names is marked, in the same database transaction as
// the batch, "stored", "quarantined" again (with the new reason) or
// "duplicate", and no new quarantine row or dead-letter message is made.
// The store never changes a row already marked stored or duplicate, so a
// replay produced twice changes nothing the second time (see
// store.Quarantine). A header that is not a positive number is ignored: the
// record is then an ordinary one.
const HeaderReplayOf = "shopstream-replay-of"

// replayOf returns the quarantine row r replays, or 0.
func replayOf(r *kgo.Record) int64 {
	for _, h := range r.Headers {
		if h.Key == HeaderReplayOf {
			id, err := strconv.ParseInt(string(h.Value), 10, 64)
			if err != nil || id <= 0 {
				return 0
			}
			return id
		}
	}
	return 0
}

// ReplayStats count the replayed records committed since start, by their
// outcome as the processor saw it. A replay of a row already final counts
// as Duplicate (the dedup window or the store found its transaction) and
// leaves the row as it was.
type ReplayStats struct {
	Stored, Quarantined, Duplicate int64
}

type replayCounts struct{ stored, quarantined, duplicate atomic.Int64 }

// ReplayStats returns the replayed records committed so far.
func (p *Processor) ReplayStats() ReplayStats {
	return ReplayStats{Stored: p.replays.stored.Load(), Quarantined: p.replays.quarantined.Load(), Duplicate: p.replays.duplicate.Load()}
}

// noteReplays counts the replayed records of a committed batch.
func (p *Processor) noteReplays(b *store.Batch) {
	for i := range b.Parts {
		for _, t := range b.Parts[i].Txs {
			if t.ReplayOf != 0 {
				p.replays.stored.Add(1)
			}
		}
		for _, q := range b.Parts[i].Quarantined {
			switch {
			case q.ReplayOf == 0:
			case q.Reason == store.ReplayDuplicateReason:
				p.replays.duplicate.Add(1)
			default:
				p.replays.quarantined.Add(1)
			}
		}
	}
}
