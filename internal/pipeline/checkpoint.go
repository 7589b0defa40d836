package pipeline

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"time"

	"github.com/shopstream/shopstream/internal/quality"
	"github.com/shopstream/shopstream/internal/store"
)

// StatefulScorer is a Scorer whose state can be checkpointed. The processor
// stores a partition's state with its offsets every so often
// (Config.CheckpointRecords, Config.CheckpointInterval) and, when it is
// assigned the partition again, restores it and replays only the records
// stored after it, so recovery takes the same time whatever the history.
// A Scorer that does not implement it is rebuilt by replay.
type StatefulScorer interface {
	Scorer
	// AppendState appends the scorer's encoded state to b.
	AppendState(b []byte) []byte
	// RestoreState replaces the state by the one encoded in b. On error
	// the scorer is unchanged.
	RestoreState(b []byte) error
}

// StateCounter is a StatefulScorer that says how many records its state
// holds. A partition's checkpoint buffer is then sized by the bytes per
// record of its last checkpoint, not by that checkpoint's size alone: a
// state growing from 12 to 22 MB between two checkpoints grew its buffer
// by append three times, copying it and leaving each copy to the
// collector (more than half of the encoding's CPU in a profile of
// `process` at a million customers).
type StateCounter interface {
	StateRecords() int
}

// Checkpoint defaults; see Config.
const (
	DefaultCheckpointRecords  = 200_000
	DefaultCheckpointInterval = time.Minute
)

// checkpointDefaults sets the checkpoint fields of c left zero.
func (c Config) checkpointDefaults() Config {
	if c.CheckpointRecords == 0 {
		c.CheckpointRecords = DefaultCheckpointRecords
	}
	if c.CheckpointInterval == 0 {
		c.CheckpointInterval = DefaultCheckpointInterval
	}
	return c
}

// checkpointClock tells when a partition's state is due for a checkpoint.
type checkpointClock struct {
	at      time.Time // last checkpoint (or restore); zero: due now
	records int64     // records processed since
	size    int       // bytes of the last checkpoint, 0 before the first
	units   int       // records it held: dedup ids, and the scorer's (StateCounter)
}

// checkpointSlots is how many parts of CheckpointInterval and
// CheckpointRecords the partitions' checkpoints are spread over.
const checkpointSlots = 8

// staggered is the clock of a partition whose state was checkpointed or
// restored at now, with records processed since, moved ahead by a part of
// the interval and of the records that depends on the partition: the
// partitions of one processor are assigned, restored and fed together,
// and each checkpoint holds a copy of the partition's state (and the
// database driver another) until written, so all partitions due at once
// would add them all to the process's memory at the same moment. Later
// checkpoints keep the spacing.
func (p *Processor) staggered(part int32, now time.Time, records int64) checkpointClock {
	slot := int64(uint32(part) * 5 % checkpointSlots)
	return checkpointClock{at: now.Add(-p.cfg.CheckpointInterval * time.Duration(slot) / checkpointSlots),
		records: records + p.cfg.CheckpointRecords*slot/checkpointSlots}
}

// maybeCheckpoint sets part.Checkpoint to the partition's state as of
// part.To when a checkpoint is due. It runs on the partition's goroutine,
// which alone touches the state.
func (p *Processor) maybeCheckpoint(ps *partState, part *store.Part, now time.Time) {
	ps.cp.records += int64(part.Len())
	byRecords := p.cfg.CheckpointRecords > 0 && ps.cp.records >= p.cfg.CheckpointRecords
	byTime := p.cfg.CheckpointInterval > 0 && now.Sub(ps.cp.at) >= p.cfg.CheckpointInterval
	if !byRecords && !byTime || part.To <= part.From {
		return
	}
	var sc StatefulScorer
	if ps.scorer != nil {
		var ok bool
		if sc, ok = ps.scorer.(StatefulScorer); !ok {
			return // its state cannot be saved: replay is the only way
		}
	}
	// Room for the last checkpoint's bytes per record times the records
	// held now (or its size, when the scorer does not count them), and an
	// eighth: grown by append from nothing, a checkpoint of tens of
	// megabytes is copied into each larger buffer in turn, and all of
	// them are garbage at once.
	began := time.Now()
	units := stateUnits(ps.dedup, ps.scorer)
	want := ps.cp.size
	if ps.cp.units > 0 && units > ps.cp.units {
		want = int(int64(ps.cp.size) * int64(units) / int64(ps.cp.units))
	}
	part.Checkpoint = encodePartState(make([]byte, 0, want+want/8), ps.dedup, sc)
	took := time.Since(began)
	if ps.cp.at.IsZero() {
		ps.cp = p.staggered(part.Partition, now, 0)
	} else {
		ps.cp = checkpointClock{at: now}
	}
	ps.cp.size, ps.cp.units = len(part.Checkpoint), units
	p.log.Debug("partition state checkpointed", "partition", part.Partition, "offset", part.To, "bytes", len(part.Checkpoint),
		"dedup_ids", ps.dedup.Len(), "took", took)
}

// stateUnits is the records a partition's checkpoint holds: the dedup
// window's ids, and the scorer's when it counts them (StateCounter).
func stateUnits(dedup *quality.Dedup, scorer Scorer) int {
	n := dedup.Len()
	if c, ok := scorer.(StateCounter); ok {
		n += c.StateRecords()
	}
	return n
}

// restoreCheckpoint builds a partition's state from its stored checkpoint
// and the transactions stored after it (up to pos, the stored next
// offset). It reports false, having logged why, when there is no usable
// checkpoint; the caller then rebuilds the state by replay.
func (p *Processor) restoreCheckpoint(ctx context.Context, ps *partState, part int32, pos int64) bool {
	if pos < 0 {
		return false // nothing stored, nothing to restore
	}
	start := time.Now()
	cp, err := p.cfg.Store.Checkpoint(ctx, p.cfg.Group, p.cfg.Topic, part)
	switch {
	case err != nil:
		p.log.Warn("reading the partition's checkpoint failed; replaying stored history instead", "partition", part, "err", err)
		return false
	case cp == nil:
		p.log.Info("no checkpoint stored for the partition; replaying stored history", "partition", part)
		return false
	case cp.Offset > pos || cp.Offset < 0:
		p.log.Warn("checkpoint lies beyond the stored offset; replaying stored history instead",
			"partition", part, "checkpoint_offset", cp.Offset, "stored_offset", pos)
		return false
	}
	read := time.Since(start)
	ids, scorerState, err := decodePartState(cp.State)
	if err != nil {
		p.log.Warn("checkpoint is corrupt; replaying stored history instead", "partition", part, "offset", cp.Offset, "err", err)
		return false
	}
	dedup := quality.NewDedup(p.cfg.DedupWindow)
	for _, id := range ids {
		dedup.Check(id)
	}
	var scorer Scorer
	if p.cfg.NewScorer != nil {
		scorer = p.cfg.NewScorer(part)
		sc, ok := scorer.(StatefulScorer)
		if !ok || scorerState == nil {
			p.log.Info("checkpoint holds no scorer state; replaying stored history", "partition", part)
			return false
		}
		if err := sc.RestoreState(scorerState); err != nil {
			p.log.Warn("checkpoint's scorer state is corrupt; replaying stored history instead", "partition", part, "offset", cp.Offset, "err", err)
			return false
		}
	}
	decoded := time.Since(start)
	units := stateUnits(dedup, scorer) // what cp.State holds, before the tail
	n := 0
	err = p.cfg.Store.RecentTransactions(ctx, part, cp.Offset, time.Time{}, func(t *store.Tx) error {
		if t.Offset >= pos {
			return nil
		}
		if scorer != nil {
			scorer.Replay(t)
		}
		dedup.Check(t.TransactionID)
		n++
		return nil
	})
	if err != nil {
		p.log.Warn("replaying the tail after the checkpoint failed; replaying stored history instead", "partition", part, "err", err)
		return false
	}
	ps.dedup, ps.scorer = dedup, scorer
	ps.cp = p.staggered(part, p.cfg.Now(), int64(n))
	ps.cp.size, ps.cp.units = len(cp.State), units
	p.log.Info("partition state restored from checkpoint", "partition", part, "checkpoint_offset", cp.Offset,
		"checkpoint_bytes", len(cp.State), "tail_transactions", n, "took", time.Since(start).Round(time.Millisecond),
		"read", read.Round(time.Millisecond), "decode", (decoded - read).Round(time.Millisecond), "tail", time.Since(start.Add(decoded)).Round(time.Millisecond))
	return true
}

// The partition checkpoint, version 1: "SSPC", the version byte, the
// dedup window's ids oldest first (uvarint count, then uvarint length and
// bytes each), a flag byte (1 when a scorer's state follows) and the
// scorer's state (uvarint length and bytes), then a CRC-32C of all of it.
const (
	partCheckpointMagic   = "SSPC"
	partCheckpointVersion = 1
)

var partCRC = crc32.MakeTable(crc32.Castagnoli)

// errBadCheckpoint is wrapped by every error about a stored checkpoint.
var errBadCheckpoint = errors.New("invalid partition checkpoint")

func encodePartState(b []byte, dedup *quality.Dedup, sc StatefulScorer) []byte {
	start := len(b)
	b = append(b, partCheckpointMagic...)
	b = append(b, partCheckpointVersion)
	b = binary.AppendUvarint(b, uint64(dedup.Len()))
	for id := range dedup.IDs() {
		b = binary.AppendUvarint(b, uint64(len(id)))
		b = append(b, id...)
	}
	if sc == nil {
		b = append(b, 0)
	} else {
		b = append(b, 1)
		// The state is appended in place after room for its length's
		// uvarint, then moved back over what the length did not use: no
		// copy of the whole state beside b (tens of megabytes a partition
		// of a large shop, all partitions' at once).
		at := len(b)
		b = sc.AppendState(append(b, make([]byte, binary.MaxVarintLen64)...))
		n := len(b) - at - binary.MaxVarintLen64
		w := binary.PutUvarint(b[at:], uint64(n))
		b = b[:at+w+copy(b[at+w:], b[at+binary.MaxVarintLen64:])]
	}
	return binary.LittleEndian.AppendUint32(b, crcOf(b[start:]))
}

// decodePartState reads a partition checkpoint. The ids and the scorer's
// state alias b. scorer is nil when none was stored.
func decodePartState(b []byte) (ids []string, scorer []byte, err error) {
	if len(b) < len(partCheckpointMagic)+1+4 || string(b[:len(partCheckpointMagic)]) != partCheckpointMagic {
		return nil, nil, fmt.Errorf("%w: no header", errBadCheckpoint)
	}
	if v := b[len(partCheckpointMagic)]; v != partCheckpointVersion {
		return nil, nil, fmt.Errorf("%w: version %d, this build reads version %d", errBadCheckpoint, v, partCheckpointVersion)
	}
	body, sum := b[:len(b)-4], binary.LittleEndian.Uint32(b[len(b)-4:])
	if got := crcOf(body); got != sum {
		return nil, nil, fmt.Errorf("%w: checksum %08x, want %08x", errBadCheckpoint, got, sum)
	}
	r := body[len(partCheckpointMagic)+1:]
	next := func(what string) ([]byte, error) {
		l, k := binary.Uvarint(r)
		if k <= 0 || l > uint64(len(r)-k) {
			return nil, fmt.Errorf("%w: truncated %s", errBadCheckpoint, what)
		}
		v := r[k : k+int(l)]
		r = r[k+int(l):]
		return v, nil
	}
	n, k := binary.Uvarint(r)
	if k <= 0 || n > uint64(len(r)) {
		return nil, nil, fmt.Errorf("%w: bad id count", errBadCheckpoint)
	}
	r = r[k:]
	ids = make([]string, 0, n)
	for range n {
		id, err := next("transaction id")
		if err != nil {
			return nil, nil, err
		}
		if len(id) == 0 {
			return nil, nil, fmt.Errorf("%w: empty transaction id", errBadCheckpoint)
		}
		ids = append(ids, string(id))
	}
	if len(r) == 0 {
		return nil, nil, fmt.Errorf("%w: truncated before the scorer flag", errBadCheckpoint)
	}
	flag := r[0]
	r = r[1:]
	switch flag {
	case 0:
	case 1:
		if scorer, err = next("scorer state"); err != nil {
			return nil, nil, err
		}
		if scorer == nil {
			scorer = []byte{}
		}
	default:
		return nil, nil, fmt.Errorf("%w: scorer flag %d", errBadCheckpoint, flag)
	}
	if len(r) > 0 {
		return nil, nil, fmt.Errorf("%w: %d bytes after the end", errBadCheckpoint, len(r))
	}
	return ids, scorer, nil
}

func crcOf(b []byte) uint32 { return crc32.Checksum(b, partCRC) }
