package pipeline

import (
	"slices"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shopstream/shopstream/internal/quality"
)

// qualityState is the processor's data-quality contract in force, swapped
// whole on a reload, and the counts of what it warned about.
type qualityState struct {
	contract atomic.Pointer[quality.Contract]
	// warned counts warnings by check (index in quality.Checks), since start.
	warned [64]atomic.Int64
	// metrics, resolved once per check so the hot path does no label lookup.
	warnings      [64]prometheus.Counter
	unknownFields *prometheus.CounterVec

	mu         sync.Mutex
	fieldNames map[string]bool // unknown-field labels in use, at most maxFieldLabels
}

// maxFieldLabels bounds the distinct field names of
// shopstream_quality_unknown_fields_total; later names count as "_other".
const maxFieldLabels = 100

// otherField is the label of unknown fields past maxFieldLabels.
const otherField = "_other"

func newQualityState(c *quality.Contract, m *Metrics) *qualityState {
	if c == nil {
		c = quality.Default()
	}
	q := &qualityState{fieldNames: map[string]bool{}}
	q.contract.Store(c)
	if m != nil {
		for i, ci := range quality.Checks {
			q.warnings[i] = m.QualityWarnings.WithLabelValues(string(ci.Name))
		}
		q.unknownFields = m.UnknownFields
	}
	return q
}

// SetQuality puts contract in force: batches built from now on are checked
// by it. The contract file's watcher calls it on every change.
func (p *Processor) SetQuality(contract *quality.Contract) { p.quality.contract.Store(contract) }

// Quality returns the data-quality contract in force.
func (p *Processor) Quality() *quality.Contract { return p.quality.contract.Load() }

// QualityWarnings returns the warnings counted since start, by check: the
// records accepted and stored although a check with action warn failed.
// Counted when checked, so a batch checked again after a rebalance or a
// crash counts again.
func (p *Processor) QualityWarnings() map[quality.CheckName]int64 {
	out := map[quality.CheckName]int64{}
	for i, ci := range quality.Checks {
		if n := p.quality.warned[i].Load(); n > 0 {
			out[ci.Name] = n
		}
	}
	return out
}

// observe counts one checked record's warnings and unknown fields.
func (q *qualityState) observe(res *quality.Result, failed quality.Reason) {
	for _, w := range res.Warnings {
		if failed != quality.OK {
			break // counted as quarantined, not as warned
		}
		for i := range quality.Checks {
			if quality.Checks[i].Name == w {
				q.warned[i].Add(1)
				if c := q.warnings[i]; c != nil {
					c.Inc()
				}
				break
			}
		}
	}
	if len(res.UnknownFields) > 0 && q.unknownFields != nil {
		for _, f := range res.UnknownFields {
			q.unknownFields.WithLabelValues(q.fieldLabel(f)).Inc()
		}
	}
}

// WarningReasons are the reasons of the checks that warned, each once (the
// quality counts are kept by reason, as failures are: quantity and amount
// both warn as out_of_range), for the counts stored with the batch
// (Config.QualityObserver, store.Tx); nil, without allocating, when none
// did.
func WarningReasons(w []quality.CheckName) []string {
	if len(w) == 0 {
		return nil
	}
	out := make([]string, 0, len(w))
	for _, c := range w {
		r := string(c)
		for i := range quality.Checks {
			if quality.Checks[i].Name == c {
				r = string(quality.Checks[i].Reason)
				break
			}
		}
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out
}

// fieldLabel is the metric label of an unknown field's name: the name
// while fewer than maxFieldLabels are in use, then otherField.
func (q *qualityState) fieldLabel(name string) string {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.fieldNames[name] {
		return name
	}
	if len(q.fieldNames) >= maxFieldLabels {
		return otherField
	}
	q.fieldNames[name] = true
	return name
}
