package detector

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// partScorerVersion versions the scorer's checkpoint: its sweep clock, then
// the fraud state's own encoding.
const partScorerVersion = 1

// AppendState implements pipeline.StatefulScorer: the feature state and the
// counters that decide when idle keys are swept, so a restored scorer
// sweeps when the one that never stopped would.
func (p *PartitionScorer) AppendState(b []byte) []byte {
	b = append(b, partScorerVersion)
	b = binary.AppendUvarint(b, uint64(p.n))
	if p.expired.IsZero() {
		b = append(b, 0)
	} else {
		b = append(b, 1)
		b = binary.AppendVarint(b, p.expired.UnixNano())
	}
	b, _ = p.state.AppendBinary(b)
	return b
}

// StateRecords implements pipeline.StateCounter: the customers, devices,
// cards and IP addresses the feature state holds.
func (p *PartitionScorer) StateRecords() int {
	c, d, k, i := p.state.Len()
	return c + d + k + i
}

// RestoreState implements pipeline.StatefulScorer. On error the scorer is
// unchanged.
func (p *PartitionScorer) RestoreState(b []byte) error {
	if len(b) == 0 || b[0] != partScorerVersion {
		return errors.New("fraud scorer checkpoint: unknown version")
	}
	b = b[1:]
	n, k := binary.Uvarint(b)
	if k <= 0 || n > 1<<62 {
		return errors.New("fraud scorer checkpoint: bad transaction count")
	}
	b = b[k:]
	var expired time.Time
	switch {
	case len(b) > 0 && b[0] == 0:
		b = b[1:]
	case len(b) > 0 && b[0] == 1:
		exp, k := binary.Varint(b[1:])
		if k <= 0 {
			return errors.New("fraud scorer checkpoint: bad sweep time")
		}
		expired, b = time.Unix(0, exp).UTC(), b[1+k:]
	default:
		return errors.New("fraud scorer checkpoint: bad sweep time")
	}
	if err := p.state.UnmarshalBinary(b); err != nil {
		return fmt.Errorf("fraud scorer checkpoint: %w", err)
	}
	p.n, p.expired = int(n), expired
	p.boundedCusts, p.boundedEnts = p.state.Bounded()
	p.report()
	return nil
}
