package monitor

import (
	"math"
	"sync"
	"time"

	"github.com/shopstream/shopstream/internal/event"
	"github.com/shopstream/shopstream/internal/quality"
)

// Histogram bins. Amounts and lags are binned on a log10 scale, fine
// enough (12% and 26% wide) that deciles and medians taken from the bins
// are close to those of the values, and coarse enough to merge cheaply.
const (
	amountBins    = 200 // log10 of the amount in minor units, [0, 10) by 0.05
	amountPerUnit = 20
	itemBins      = 12 // 1 … 10 items, 11–20, more (0 goes with 1)
	lagBins       = 92 // log10 of the lag in seconds, [-2, 7) by 0.1; under and over flow at the ends
	lagPerUnit    = 10
	lagMinLog     = -2
)

func amountBin(minor int64) int {
	if minor <= 1 {
		return 0
	}
	return min(int(math.Log10(float64(minor))*amountPerUnit), amountBins-1)
}

func itemBin(n int) int {
	switch {
	case n <= 1:
		return 0
	case n <= 10:
		return n - 1
	case n <= 20:
		return 10
	}
	return 11
}

func lagBin(d time.Duration) int {
	s := d.Seconds()
	if s <= 0.01 {
		return 0
	}
	return min(int((math.Log10(s)-lagMinLog)*lagPerUnit)+1, lagBins-1)
}

// lagUpper is the upper edge of lag bin i, in seconds.
func lagUpper(i int) float64 {
	return math.Pow(10, float64(i)/lagPerUnit+lagMinLog)
}

// Sketch is what one partition's goroutine observed in one poll: a tally
// of outcomes and, of the records that passed, their lags and the
// distributions of amount, items and channel. It is owned by one goroutine
// until [Monitor.Done], so observing a record takes no lock.
type Sketch struct {
	m      *Monitor
	now    time.Time
	tally  Tally
	stream streamStats
	minute time.Time
}

// streamStats are the distributions the stream detectors compare.
type streamStats struct {
	eventLag, procLag [lagBins]uint32
	amount            [amountBins]uint32
	items             [itemBins]uint32
	channels          map[string]int64
}

func (s *streamStats) merge(o *streamStats) {
	for i, n := range o.eventLag {
		s.eventLag[i] += n
	}
	for i, n := range o.procLag {
		s.procLag[i] += n
	}
	for i, n := range o.amount {
		s.amount[i] += n
	}
	for i, n := range o.items {
		s.items[i] += n
	}
	if len(o.channels) > 0 && s.channels == nil {
		s.channels = map[string]int64{}
	}
	for c, n := range o.channels {
		s.channels[c] += n
	}
}

// Observe counts one checked record: failed is the check it failed
// (quality.OK when it passed), warnings the checks that warned about it,
// t the decoded transaction (read only when it passed) and produced the
// Kafka produce time (zero when unknown).
func (s *Sketch) Observe(failed quality.Reason, warnings []string, t *event.Transaction, produced time.Time) {
	s.tally.Add(failed, warnings)
	if failed != quality.OK || t == nil {
		return
	}
	st := &s.stream
	st.eventLag[lagBin(s.now.Sub(t.EventTime))]++
	if !produced.IsZero() {
		st.procLag[lagBin(s.now.Sub(produced))]++
	}
	st.amount[amountBin(int64(t.TotalCents))]++
	st.items[itemBin(len(t.Items))]++
	if st.channels == nil {
		st.channels = make(map[string]int64, 4)
	}
	st.channels[t.Channel]++
}

// Done hands the sketch back to its monitor, which adds it to the minute
// it was begun in. The sketch must not be used afterwards.
func (s *Sketch) Done() { s.m.done(s) }

// Config holds the monitor's thresholds. Zero fields take the defaults
// named in their comments.
type Config struct {
	// EventLagWarn and EventLagCritical bound the median event-time lag.
	// Default to 5 and 30 minutes.
	EventLagWarn, EventLagCritical time.Duration
	// ProcLagWarn and ProcLagCritical bound the median processing lag.
	// Default to 30 s and 5 minutes.
	ProcLagWarn, ProcLagCritical time.Duration
	// PSIWarn and PSICritical bound the population stability index of a
	// field. Default to 0.1 and 0.25.
	PSIWarn, PSICritical float64
	// DriftCurrent and DriftReference are the minutes compared by the
	// drift detector (the last DriftCurrent against the DriftReference
	// before them). Default to 15 and 60.
	DriftCurrent, DriftReference int
	// DriftMinRecords is the fewest records either side needs. Defaults
	// to 1,000.
	DriftMinRecords int64
}

// WithDefaults returns c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.EventLagWarn, 5*time.Minute)
	def(&c.EventLagCritical, 30*time.Minute)
	def(&c.ProcLagWarn, 30*time.Second)
	def(&c.ProcLagCritical, 5*time.Minute)
	if c.PSIWarn == 0 {
		c.PSIWarn = 0.1
	}
	if c.PSICritical == 0 {
		c.PSICritical = 0.25
	}
	if c.DriftCurrent == 0 {
		c.DriftCurrent = 15
	}
	if c.DriftReference == 0 {
		c.DriftReference = 60
	}
	if c.DriftMinRecords == 0 {
		c.DriftMinRecords = 1000
	}
	return c
}

// keptMinutes is how many minutes a Monitor keeps: enough for the drift
// detector's windows and a few more.
const keptMinutes = 128

type minuteStats struct {
	start  time.Time
	tally  Tally
	stream streamStats
}

// Monitor collects the sketches of one processor's partitions into
// minutes (by the clock the processor checked them by), keeps the last
// 128 minutes and running totals per check, and evaluates the freshness
// and drift detectors on them. It is safe for concurrent use; its lock is
// taken once per sketch, not per record.
type Monitor struct {
	cfg  Config
	pool sync.Pool

	mu      sync.Mutex
	minutes [keptMinutes]minuteStats
	totals  map[string]Counts
	last    time.Time // the latest minute observed
}

// New returns a Monitor with cfg's thresholds.
func New(cfg Config) *Monitor {
	m := &Monitor{cfg: cfg.WithDefaults(), totals: map[string]Counts{}}
	m.pool.New = func() any { return &Sketch{m: m} }
	return m
}

// Config returns the monitor's thresholds, defaults filled in.
func (m *Monitor) Config() Config { return m.cfg }

// Begin returns an empty sketch for records checked at now.
func (m *Monitor) Begin(now time.Time) *Sketch {
	s := m.pool.Get().(*Sketch)
	s.now = now
	s.minute = now.UTC().Truncate(time.Minute)
	return s
}

func (m *Monitor) done(s *Sketch) {
	m.mu.Lock()
	ms := m.slot(s.minute)
	ms.tally.Merge(&s.tally)
	ms.stream.merge(&s.stream)
	for _, r := range s.tally.Rows(s.minute) {
		m.totals[r.Check] = m.totals[r.Check].Add(r.Counts)
	}
	if s.minute.After(m.last) {
		m.last = s.minute
	}
	m.mu.Unlock()
	ch := s.stream.channels
	clear(ch)
	*s = Sketch{m: m, stream: streamStats{channels: ch}}
	m.pool.Put(s)
}

// slot returns the kept minute starting at minute, emptied if it held an
// older one. Called with mu held.
func (m *Monitor) slot(minute time.Time) *minuteStats {
	i := int(minute.Unix()/60) % keptMinutes
	ms := &m.minutes[i]
	if !ms.start.Equal(minute) {
		*ms = minuteStats{start: minute}
	}
	return ms
}

// window sums the kept minutes in [from, to). Called with mu held.
func (m *Monitor) window(from, to time.Time) (Tally, streamStats) {
	var t Tally
	var s streamStats
	for i := range m.minutes {
		ms := &m.minutes[i]
		if ms.start.IsZero() || ms.start.Before(from) || !ms.start.Before(to) {
			continue
		}
		t.Merge(&ms.tally)
		s.merge(&ms.stream)
	}
	return t, s
}

// Totals returns the counts per check since the monitor started.
func (m *Monitor) Totals() map[string]Counts {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]Counts, len(m.totals))
	for k, v := range m.totals {
		out[k] = v
	}
	return out
}

// Recent returns the counts per check of the records checked in the
// minutes of [now-d, now].
func (m *Monitor) Recent(now time.Time, d time.Duration) map[string]Counts {
	m.mu.Lock()
	t, _ := m.window(now.Add(-d).UTC().Truncate(time.Minute), now.Add(time.Minute))
	m.mu.Unlock()
	return Summarize(t.Rows(time.Time{}))
}

// Lags are the median lags of the records checked in a span of time.
type Lags struct {
	// Records is how many passing records the medians are of.
	Records int64
	// Event is the median of the clock minus the event time; Processing
	// of the clock minus the Kafka produce time (of records that had one).
	Event, Processing time.Duration
}

// Evaluate runs the freshness and drift detectors on the minutes kept, as
// of now, and returns their findings with what they measured.
func (m *Monitor) Evaluate(now time.Time) Evaluation {
	cur := now.UTC().Truncate(time.Minute)
	m.mu.Lock()
	_, fresh := m.window(cur.Add(-time.Minute), cur.Add(time.Minute))
	driftFrom := cur.Add(-time.Duration(m.cfg.DriftCurrent-1) * time.Minute)
	_, current := m.window(driftFrom, cur.Add(time.Minute))
	_, ref := m.window(driftFrom.Add(-time.Duration(m.cfg.DriftReference)*time.Minute), driftFrom)
	m.mu.Unlock()

	var ev Evaluation
	ev.Lags = Lags{Records: sum32(fresh.eventLag[:]), Event: lagMedian(fresh.eventLag[:]), Processing: lagMedian(fresh.procLag[:])}
	ev.Findings = append(ev.Findings, Freshness(ev.Lags, m.cfg)...)
	ev.Drift = driftOf(&ref, &current)
	ev.Findings = append(ev.Findings, Drift(ev.Drift, m.cfg)...)
	for i := range ev.Findings {
		ev.Findings[i].At = now
	}
	return ev
}

// Evaluation is one run of a monitor's detectors.
type Evaluation struct {
	Lags     Lags
	Drift    []FieldDrift
	Findings []Finding
}

func sum32(xs []uint32) int64 {
	var n int64
	for _, x := range xs {
		n += int64(x)
	}
	return n
}

// lagMedian is the median of a lag histogram (0 when empty).
func lagMedian(h []uint32) time.Duration {
	x := make([]float64, len(h))
	w := make([]float64, len(h))
	for i := range h {
		x[i], w[i] = lagUpper(i), float64(h[i])
	}
	q, ok := weightedQuantile(0.5, x, w)
	if !ok {
		return 0
	}
	return time.Duration(q * float64(time.Second))
}
