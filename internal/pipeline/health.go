package pipeline

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/shopstream/shopstream/internal/quality"
)

// Health is a snapshot of how the processor is doing, for /readyz, the
// dashboard and the stall metrics.
type Health struct {
	// Running is whether Run is consuming.
	Running bool `json:"running"`
	// LastCommit is when a batch last committed; zero before the first.
	LastCommit time.Time `json:"last_commit,omitzero"`
	// Partitions are the owned partitions' positions and lag.
	Partitions []PartitionHealth `json:"partitions"`
	// Lag is the sum of the partitions' lag.
	Lag int64 `json:"lag"`
	// PendingBatches are batches handed to the writers and not committed.
	PendingBatches int64 `json:"pending_batches"`
	// Retrying names the partitions whose write is failing and being
	// retried, since when, and the last error.
	Retrying []RetryHealth `json:"retrying,omitempty"`
	// RebuildFailed maps partitions whose state could not be rebuilt on
	// assignment to the error; they are scored from empty state.
	RebuildFailed map[int32]string `json:"rebuild_failed,omitempty"`
	// Fenced are partitions whose batches the store refused, with no
	// commit of theirs for the stall timeout since.
	Fenced []int32 `json:"fenced,omitempty"`
	// Ready is false when Reasons is not empty.
	Ready bool `json:"ready"`
	// Reasons say why the processor is not ready: nothing committed for
	// the stall timeout while batches wait, a partition stuck retrying or
	// fenced again and again, no answer from Kafka for the stall timeout,
	// a failed state rebuild, or not running.
	Reasons []string `json:"reasons,omitempty"`
	// StalledSince is when the oldest reason began; zero when ready.
	StalledSince time.Time `json:"stalled_since,omitzero"`
	// QualityWarnings counts, by check, the records stored although a
	// data-quality check with action warn failed, since start.
	QualityWarnings map[quality.CheckName]int64 `json:"quality_warnings,omitempty"`
}

// PartitionHealth is one owned partition's position.
type PartitionHealth struct {
	Partition int32 `json:"partition"`
	// Committed is the stored next offset: read on assignment, then
	// moved by each commit; -1 when the partition has none.
	Committed int64 `json:"committed"`
	// End is the partition's last stable offset (the high watermark
	// without open transactions) as of the last fetch.
	End int64 `json:"end"`
	// Lag is End minus Committed (End when nothing is stored). Under
	// read committed a transaction marker at the end of the log counts as
	// one, so a lag never reaches zero behind a transactional producer.
	Lag int64 `json:"lag"`
	// Restoring is set while the partition's state is being built after
	// its assignment; it is not fetched until then.
	Restoring bool `json:"restoring,omitempty"`
}

// RetryHealth is a write that keeps failing.
type RetryHealth struct {
	Partitions []int32   `json:"partitions"`
	Since      time.Time `json:"since"`
	Kind       string    `json:"kind"`
	LastError  string    `json:"last_error"`
	Attempts   int       `json:"attempts"`
}

// healthState is what the processor tracks for Health.
type healthState struct {
	mu         sync.Mutex
	lastCommit time.Time
	committed  map[int32]int64
	end        map[int32]int64
	retrying   map[*writer]*RetryHealth
	rebuild    map[int32]string
	fenced     map[int32]*fenceRun
	beyondEnd  map[int32]string // partitions whose stored offset lies past the log end
	stalled    bool
}

// fenceRun is a partition's fences since its last commit.
type fenceRun struct {
	since time.Time
	count int
}

func newHealthState() *healthState {
	return &healthState{committed: map[int32]int64{}, end: map[int32]int64{},
		retrying: map[*writer]*RetryHealth{}, rebuild: map[int32]string{}, fenced: map[int32]*fenceRun{},
		beyondEnd: map[int32]string{}}
}

// noteRebuild records how the state rebuild of a partition ended.
func (p *Processor) noteRebuild(part int32, err error) {
	h := p.health
	h.mu.Lock()
	defer h.mu.Unlock()
	if err != nil {
		h.rebuild[part] = err.Error()
	} else {
		delete(h.rebuild, part)
	}
}

// forget drops what is kept about a partition given up.
func (h *healthState) forget(part int32) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.committed, part)
	delete(h.end, part)
	delete(h.rebuild, part)
	delete(h.fenced, part)
	delete(h.beyondEnd, part)
}

// noteStored records a partition's stored offset, read on assignment.
func (h *healthState) noteStored(part int32, next int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if next >= 0 {
		h.committed[part] = next
	} else {
		delete(h.committed, part)
	}
}

func (h *healthState) noteEnd(part int32, end int64) {
	h.mu.Lock()
	h.end[part] = end
	h.mu.Unlock()
}

// noteBeyondEnd records (msg != "") or clears a stored offset past the
// log end: the broker lost acknowledged records or the topic was recreated.
func (h *healthState) noteBeyondEnd(part int32, msg string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if msg == "" {
		delete(h.beyondEnd, part)
	} else {
		h.beyondEnd[part] = msg
	}
}

func (h *healthState) noteCommit(at time.Time, parts map[int32]int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lastCommit = at
	for part, to := range parts {
		h.committed[part] = to
		delete(h.fenced, part)
	}
}

func (h *healthState) noteFenced(at time.Time, parts []int32) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, part := range parts {
		f := h.fenced[part]
		if f == nil {
			f = &fenceRun{since: at}
			h.fenced[part] = f
		}
		f.count++
	}
}

func (h *healthState) noteRetry(w *writer, at time.Time, parts []int32, kind string, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.retrying[w]
	if r == nil {
		r = &RetryHealth{Since: at}
		h.retrying[w] = r
	}
	r.Partitions, r.Kind, r.LastError = parts, kind, err.Error()
	r.Attempts++
}

func (h *healthState) noteWritten(w *writer) {
	h.mu.Lock()
	delete(h.retrying, w)
	h.mu.Unlock()
}

// Behind reports whether background work that shares the processor's
// database should give way (jobs.Job.BusyShare): at least two batches'
// worth of records (two MaxBatch) wait in this instance's partitions,
// stored in the topic and not yet committed (the processor is catching
// up), or a writer has had batches to write without a pause for
// Config.BehindAfter (the stream's records wait longer than a batch's
// write: at 20,000 records a second, two batches of 5,000, process's
// default on PostgreSQL, are half a second of the stream, far above the
// latency a live stream should see).
func (p *Processor) Behind() bool {
	if after := p.cfg.BehindAfter; after > 0 {
		now := p.cfg.Now()
		for _, w := range p.writers {
			if n, since := w.backlog(); n > 0 && now.Sub(since) >= after {
				return true
			}
		}
	}
	return p.Health().Lag >= 2*int64(p.cfg.MaxBatch)
}

// Health returns a snapshot of the processor's state. The processor is not
// ready when nothing has committed for Config.StallTimeout while batches
// wait, when a write has been retried for Config.RetryStuckAfter, or when a
// partition's state rebuild failed.
func (p *Processor) Health() Health {
	now := p.cfg.Now()
	out := Health{Running: p.running.Load()}
	if w := p.QualityWarnings(); len(w) > 0 {
		out.QualityWarnings = w
	}
	p.mu.Lock()
	owned := make(map[int32]bool, len(p.parts)+len(p.restoring))
	for part := range p.parts {
		owned[part] = false
	}
	for part := range p.restoring {
		owned[part] = true
	}
	p.mu.Unlock()
	var busySince time.Time
	for _, w := range p.writers {
		n, since := w.backlog()
		out.PendingBatches += n
		if n > 0 && (busySince.IsZero() || since.Before(busySince)) {
			busySince = since
		}
	}

	h := p.health
	h.mu.Lock()
	out.LastCommit = h.lastCommit
	for part, restoring := range owned {
		ph := PartitionHealth{Partition: part, Committed: -1, End: -1, Restoring: restoring}
		if c, ok := h.committed[part]; ok {
			ph.Committed = c
		}
		if e, ok := h.end[part]; ok {
			ph.End = e
			ph.Lag = max(0, e-max(ph.Committed, 0))
		}
		out.Lag += ph.Lag
		out.Partitions = append(out.Partitions, ph)
	}
	for _, r := range h.retrying {
		out.Retrying = append(out.Retrying, *r)
	}
	if len(h.rebuild) > 0 {
		out.RebuildFailed = maps.Clone(h.rebuild)
	}
	var beyond []string
	for part, msg := range h.beyondEnd {
		beyond = append(beyond, fmt.Sprintf("%d (%s)", part, msg))
	}
	var fencedParts []int32
	var fencedSince time.Time
	for part, f := range h.fenced {
		// Fenced and no commit for the stall timeout since: another
		// owner's commits, or a generation the store holds newer than the
		// group's (a recreated group), refuse every batch.
		if now.Sub(f.since) >= p.cfg.StallTimeout {
			fencedParts = append(fencedParts, part)
			if fencedSince.IsZero() || f.since.Before(fencedSince) {
				fencedSince = f.since
			}
		}
	}
	h.mu.Unlock()
	slices.SortFunc(out.Partitions, func(a, b PartitionHealth) int { return int(a.Partition - b.Partition) })
	slices.SortFunc(out.Retrying, func(a, b RetryHealth) int { return a.Since.Compare(b.Since) })

	since := func(t time.Time) {
		if out.StalledSince.IsZero() || t.Before(out.StalledSince) {
			out.StalledSince = t
		}
	}
	if !out.Running {
		out.Reasons = append(out.Reasons, "processor is not running")
		since(now)
	}
	if out.PendingBatches > 0 {
		waiting := busySince
		if out.LastCommit.After(waiting) {
			waiting = out.LastCommit
		}
		if d := now.Sub(waiting); d >= p.cfg.StallTimeout {
			out.Reasons = append(out.Reasons, fmt.Sprintf("nothing committed for %s while %d batches wait", d.Round(time.Second), out.PendingBatches))
			since(waiting)
		}
	}
	for _, r := range out.Retrying {
		if now.Sub(r.Since) >= p.cfg.RetryStuckAfter {
			out.Reasons = append(out.Reasons, fmt.Sprintf("writes failing (%s) for partitions %v since %s, %d attempts: %s",
				r.Kind, r.Partitions, r.Since.UTC().Format(time.TimeOnly), r.Attempts, r.LastError))
			since(r.Since)
		}
	}
	if len(fencedParts) > 0 {
		slices.Sort(fencedParts)
		out.Fenced = fencedParts
		out.Reasons = append(out.Reasons, fmt.Sprintf("the store refuses every batch of partitions %v (fenced) since %s",
			fencedParts, fencedSince.UTC().Format(time.TimeOnly)))
		since(fencedSince)
	}
	if len(beyond) > 0 {
		slices.Sort(beyond)
		out.Reasons = append(out.Reasons, "stored offsets past the log end (records the broker acknowledged are gone, or the topic was recreated) for partitions "+strings.Join(beyond, ", "))
		since(now)
	}
	if d, fail := p.kafka.silence(now); out.Running && d >= p.cfg.StallTimeout {
		r := fmt.Sprintf("no answer from Kafka for %s", d.Round(time.Second))
		if fail != nil {
			r += fmt.Sprintf("; the last error, at %s from %s: %s", fail.at.UTC().Format(time.TimeOnly), fail.addr, fail.err)
		}
		out.Reasons = append(out.Reasons, r)
		since(now.Add(-d))
	}
	if len(out.RebuildFailed) > 0 {
		parts := make([]string, 0, len(out.RebuildFailed))
		for part, err := range out.RebuildFailed {
			parts = append(parts, fmt.Sprintf("%d (%s)", part, err))
		}
		slices.Sort(parts)
		out.Reasons = append(out.Reasons, "state rebuild failed for partitions "+strings.Join(parts, ", "))
		since(now)
	}
	out.Ready = len(out.Reasons) == 0
	if out.Ready {
		out.StalledSince = time.Time{}
	}
	return out
}

// monitor publishes the stall state every interval until ctx ends: the
// shopstream_pipeline_stalled gauge, a count of stalls by kind, and one
// error log line when a stall begins and one when it ends.
func (p *Processor) monitor(ctx context.Context, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		hs := p.Health()
		stalled := !hs.Ready && hs.Running
		h := p.health
		h.mu.Lock()
		was := h.stalled
		h.stalled = stalled
		h.mu.Unlock()
		if m := p.cfg.Metrics; m != nil {
			v := 0.0
			if stalled {
				v = 1
			}
			m.Stalled.Set(v)
		}
		switch {
		case stalled && !was:
			if m := p.cfg.Metrics; m != nil {
				m.Stalls.WithLabelValues(stallKind(hs)).Inc()
			}
			p.log.Error("pipeline stalled", "since", hs.StalledSince, "reasons", hs.Reasons)
		case !stalled && was:
			p.log.Info("pipeline no longer stalled")
		}
	}
}

// stallKind names the first reason of a stall, as a metric label.
func stallKind(h Health) string {
	switch {
	case len(h.Retrying) > 0:
		return "write_retrying"
	case len(h.Fenced) > 0:
		return "fenced"
	case len(h.RebuildFailed) > 0:
		return "rebuild_failed"
	case strings.Contains(strings.Join(h.Reasons, "\n"), "past the log end"):
		return "offset_beyond_end"
	default:
		return "no_commit"
	}
}

// Owns reports whether this instance owns partition now: assigned, its
// state restored, and not fenced by the store. What it commits there is
// then all that is committed there (jobs.ProductFeed).
func (p *Processor) Owns(partition int32) bool {
	p.mu.Lock()
	_, owned := p.parts[partition]
	p.mu.Unlock()
	if !owned {
		return false
	}
	p.fencedMu.Lock()
	defer p.fencedMu.Unlock()
	return !p.fenced[partition]
}
