package store

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"
)

// RiskBuckets is the resolution of the stored risk histograms: risk in
// [0, 1] falls in bucket floor(risk*100), clamped to 0..99, so PR-AUC and
// ROC-AUC computed from the rollups treat risks within 0.01 of each other
// as tied.
const RiskBuckets = 100

// RiskBucket is the histogram bucket of a risk, taken of the risk as
// PostgreSQL stores it (a 32-bit float), so the bucket counted when a
// batch is stored is the one found when an analyst's label moves it. NaN
// falls in bucket 0.
func RiskBucket(risk float64) int {
	r := float64(float32(risk))
	if !(r > 0) {
		return 0
	}
	b := int(r * RiskBuckets)
	return min(b, RiskBuckets-1)
}

// Truths of a rollup row.
const (
	TruthFraud = "fraud"
	TruthLegit = "legit"
	TruthNone  = "none" // unlabelled
)

// Series of a rollup row: the outcome counts, or one of the risk
// histograms of labelled transactions.
const (
	// SeriesOutcomes rows count transactions by truth, scenario, decision
	// and whether an analyst's verdict decided the truth; Bucket is -1.
	SeriesOutcomes = ""
	// SeriesActive rows count transactions by truth (none included) and
	// the bucket of the risk acted on.
	SeriesActive = "active"
	// SeriesShadow and SeriesActiveShadowed count the labelled
	// transactions a shadow model scored too, by the shadow's risk and by
	// the active risk: the shadow comparison on the same transactions.
	SeriesShadow         = "shadow"
	SeriesActiveShadowed = "active_shadowed"
)

// FraudRollup is one row of the detection-quality rollups: a count of
// transactions of one event-time minute or hour. Rows are additive, kept
// up to date in the transaction that stores a batch and in the one that
// records an analyst's label, so they always agree with the stored rows.
type FraudRollup struct {
	Granularity Granularity
	Start       time.Time
	Series      string
	// Bucket is the risk bucket (0..RiskBuckets-1), -1 on outcome rows.
	Bucket int
	Truth  string
	// Scenario is the generator's fraud scenario of fraud ("analyst" when
	// only an analyst called it fraud); empty otherwise and on histogram
	// rows.
	Scenario string
	// Decision and Analyst are set on outcome rows only.
	Decision string
	Analyst  bool
	N        int64
}

// rollupKey is a FraudRollup of one minute without its count: its series
// and truth by their names' order (rankSeries, rankTruth), its scenario
// and decision by their ids in the fold's names. It holds no pointers,
// so a fold's map is hashed as plain memory and not scanned by the
// collector.
type rollupKey struct {
	start              int64 // Unix microseconds of the minute
	scenario, decision uint32
	bucket             int16
	series             uint8
	truth              uint8
	analyst            bool
}

const (
	minuteMicros = int64(time.Minute / time.Microsecond)
	hourMicros   = int64(time.Hour / time.Microsecond)
	dayMicros    = 24 * hourMicros
)

// Day is the rollups' coarsest granularity (UTC days); the windows of
// WindowRow have none.
const Day Granularity = "day"

// floorDiv rounds t down to a multiple of unit, before 1970 too.
func floorDiv(t, unit int64) int64 {
	q := t / unit
	if t%unit < 0 {
		q--
	}
	return q * unit
}

// RollupFold adds outcomes up into rollup rows, each key once, so a
// batch touches each stored row once. It folds by minute; Rows adds the
// minutes up into hours and days.
type RollupFold struct {
	m     map[rollupKey]int64
	names rankedNames
	// since, when cut, is the Unix microsecond before which Rows leaves
	// minute rows out (their hours and days still count them).
	since int64
	cut   bool
}

// Add counts o (n = 1) or takes it away (n = -1).
func (f *RollupFold) Add(o *Outcome, n int64) {
	if f.m == nil {
		f.m = make(map[rollupKey]int64, 256)
	}
	truth := truthNone
	if o.Labelled {
		truth = truthLegit
		if o.Fraud {
			truth = truthFraud
		}
	}
	scenario := ""
	if truth == truthFraud {
		scenario = o.Scenario
		if scenario == "" {
			scenario = "analyst"
		}
	}
	start := floorDiv(o.EventTime.UnixMicro(), minuteMicros)
	f.m[rollupKey{start: start, bucket: -1, series: seriesOutcomes, truth: truth, analyst: o.Analyst,
		scenario: f.names.id(scenario), decision: f.names.id(o.Decision)}] += n
	// The active histogram counts every transaction, unlabelled ones as
	// truth none (the review workload at a threshold counts them all);
	// the shadow comparison only labelled ones. Their scenario and
	// decision are empty.
	empty := f.names.id("")
	f.m[rollupKey{start: start, series: seriesActive, bucket: int16(RiskBucket(o.Risk)), truth: truth, scenario: empty, decision: empty}] += n
	if !o.Labelled {
		return
	}
	if o.HasShadow {
		f.m[rollupKey{start: start, series: seriesShadow, bucket: int16(RiskBucket(o.ShadowRisk)), truth: truth, scenario: empty, decision: empty}] += n
		f.m[rollupKey{start: start, series: seriesActiveShadowed, bucket: int16(RiskBucket(o.Risk)), truth: truth, scenario: empty, decision: empty}] += n
	}
}

// Rows returns the folded rows whose count is not zero, minute and hour
// rows, in key order (so concurrent writers lock shared rows in one
// order).
//
// The order is that of the rows' fields (granularity, start, series,
// bucket, truth, scenario, decision, analyst), compared as their stored
// values. The rows are sorted as compact entries without pointers, each
// name by its rank among the batch's names, and only then made rows: an
// import's batch of one-line orders folds about 90,000 minutes, and
// sorting the rows themselves (sort.Slice, 128-byte rows with strings
// and times) took twice as long as the fold.
func (f *RollupFold) Rows() []FraudRollup {
	if len(f.m) == 0 {
		return []FraudRollup{}
	}
	// Hours and days are the sums of the minutes, those left out
	// included; a minute whose count is zero adds nothing to them.
	entries := make([]rollupEntry, 0, len(f.m)+len(f.m)/4+16)
	coarse := make(map[rollupEntry]int64, len(f.m)/8+16)
	for k, n := range f.m {
		if n == 0 {
			continue
		}
		if !f.cut || k.start >= f.since {
			entries = append(entries, rollupEntry{rollupKey: k, gran: 2, n: n})
		}
		e := rollupEntry{rollupKey: k, gran: 1}
		e.start = floorDiv(k.start, hourMicros)
		coarse[e] += n
		e.gran, e.start = 0, floorDiv(e.start, dayMicros)
		coarse[e] += n
	}
	for e, n := range coarse {
		if n != 0 {
			e.n = n
			entries = append(entries, e)
		}
	}
	rank := f.names.ranks()
	slices.SortFunc(entries, func(a, b rollupEntry) int {
		if c := cmp.Compare(a.gran, b.gran); c != 0 {
			return c
		}
		if c := cmp.Compare(a.start, b.start); c != 0 {
			return c
		}
		if c := cmp.Compare(a.series, b.series); c != 0 {
			return c
		}
		if c := cmp.Compare(a.bucket, b.bucket); c != 0 {
			return c
		}
		if c := cmp.Compare(a.truth, b.truth); c != 0 {
			return c
		}
		if a.scenario != b.scenario {
			return cmp.Compare(rank[a.scenario], rank[b.scenario])
		}
		if a.decision != b.decision {
			return cmp.Compare(rank[a.decision], rank[b.decision])
		}
		switch {
		case a.analyst == b.analyst:
			return 0
		case b.analyst:
			return -1
		}
		return 1
	})
	out := make([]FraudRollup, len(entries))
	for i := range entries {
		e := &entries[i]
		out[i] = FraudRollup{Granularity: rankGranularity[e.gran], Start: time.UnixMicro(e.start).UTC(), Series: rankSeries[e.series],
			Bucket: int(e.bucket), Truth: rankTruth[e.truth], Scenario: f.names.list[e.scenario], Decision: f.names.list[e.decision],
			Analyst: e.analyst, N: e.n}
	}
	return out
}

// rollupEntry is a rollup row as Rows sorts it: its key, granularity
// (rankGranularity) and count.
type rollupEntry struct {
	rollupKey
	n    int64
	gran uint8
}

// The names of granularities, series and truths in their order as
// strings; a rollupKey holds their places.
var (
	rankGranularity = [...]Granularity{Day, Hour, Minute}
	rankSeries      = [...]string{SeriesOutcomes, SeriesActive, SeriesActiveShadowed, SeriesShadow}
	rankTruth       = [...]string{TruthFraud, TruthLegit, TruthNone}
)

// Places in rankSeries and rankTruth.
const (
	seriesOutcomes, seriesActive, seriesActiveShadowed, seriesShadow uint8 = 0, 1, 2, 3
	truthFraud, truthLegit, truthNone                                uint8 = 0, 1, 2
)

// rankedNames numbers the distinct strings it is given, in the order
// first seen; ranks then orders them as strings.
type rankedNames struct {
	list []string
	ids  map[string]uint32
	last uint32 // the id returned last, tried first
}

func (r *rankedNames) id(s string) uint32 {
	if len(r.list) > 0 && r.list[r.last] == s {
		return r.last
	}
	if r.ids == nil {
		r.ids = map[string]uint32{}
	}
	i, ok := r.ids[s]
	if !ok {
		i = uint32(len(r.list))
		r.ids[s] = i
		r.list = append(r.list, s)
	}
	r.last = i
	return i
}

// ranks returns each id's place among the names sorted as strings.
func (r *rankedNames) ranks() []uint32 {
	order := make([]uint32, len(r.list))
	for i := range order {
		order[i] = uint32(i)
	}
	slices.SortFunc(order, func(a, b uint32) int { return strings.Compare(r.list[a], r.list[b]) })
	rank := make([]uint32, len(r.list))
	for place, id := range order {
		rank[id] = uint32(place)
	}
	return rank
}

// RollupDeltas folds a batch's transactions (with their generator labels;
// no analyst has seen them yet) into rollup rows.
func RollupDeltas(parts []Part) []FraudRollup { return RollupDeltasLate(parts, nil, time.Time{}) }

// RollupDeltasSince is RollupDeltas without the minute rows whose minute
// starts before since (none left out when since is zero); the hour and
// day rows still count their transactions.
func RollupDeltasSince(parts []Part, since time.Time) []FraudRollup {
	return RollupDeltasLate(parts, nil, since)
}

// RollupDeltasLate is RollupDeltasSince with the labels of late, by
// transaction id, in place of the generator's: the truth of label events
// that arrived before their transactions and are applied by the batch
// that stores them.
func RollupDeltasLate(parts []Part, late map[string]Label, since time.Time) []FraudRollup {
	return rollupDeltas(parts, late, since)
}

func rollupDeltas(parts []Part, late map[string]Label, since time.Time) []FraudRollup {
	// Two rows a minute at least: the outcomes and the active histogram.
	f := RollupFold{m: make(map[rollupKey]int64, 2*minutesHint(parts))}
	if !since.IsZero() {
		f.since, f.cut = since.UnixMicro(), true
	}
	for i := range parts {
		p := &parts[i]
		// The processor appends labels in the order of their
		// transactions, so a cursor finds them; a map is built only for
		// parts whose labels come otherwise.
		var labels map[string]*Label
		next := 0
		for j := range p.Txs {
			tx := &p.Txs[j]
			o := Outcome{EventTime: tx.EventTime, Risk: tx.Risk, Decision: tx.Decision, ShadowRisk: tx.ShadowRisk, HasShadow: tx.HasShadow}
			var l *Label
			switch {
			case labels != nil:
				l = labels[tx.TransactionID]
			case next < len(p.Labels) && p.Labels[next].TransactionID == tx.TransactionID:
				l = &p.Labels[next]
				next++
			case next < len(p.Labels):
				labels = make(map[string]*Label, len(p.Labels))
				for k := range p.Labels {
					labels[p.Labels[k].TransactionID] = &p.Labels[k]
				}
				l = labels[tx.TransactionID]
			}
			if l != nil {
				o.Labelled, o.Fraud, o.Scenario = true, l.Fraud, l.Scenario
			}
			if late != nil {
				if ll, ok := late[tx.TransactionID]; ok {
					o.Labelled, o.Fraud, o.Scenario = true, ll.Fraud, ll.Scenario
				}
			}
			f.Add(&o, 1)
		}
	}
	return f.Rows()
}

// RollupQuery selects the rollups of a window of event time.
type RollupQuery struct {
	// Since and Until bound the window: [Since, Until), truncated to the
	// minute. Zero Since means from the oldest row; zero Until means to
	// the end of the newest minute stored.
	Since, Until time.Time
	// Span, when set, replaces Since and Until with the span of event
	// time ending at the end of the newest minute stored.
	Span time.Duration
	// OutcomesBy is the coarsest granularity of the outcome rows
	// returned: Minute for series of buckets under an hour, Hour for
	// buckets under a day. Defaults to Day: whole days inside the window
	// come as day rows, whole hours around them as hour rows, and the
	// minutes at the edges as minute rows.
	OutcomesBy Granularity
	// OutcomesFor, when set, chooses OutcomesBy once the window is known
	// (an open end is only known to the store).
	OutcomesFor func(since, until time.Time) Granularity
}

// Rollups is FraudRollups' answer.
type Rollups struct {
	// Oldest is the start of the oldest minute stored and AsOf the end of
	// the newest (zero when nothing is stored); Since and Until are the
	// window read.
	Oldest, AsOf, Since, Until time.Time
	// Outcomes are the outcome rows of the window (minute or hour rows).
	Outcomes []FraudRollup
	// Histograms are the risk histograms summed over the window, by
	// series: counts of fraud and legitimate transactions per bucket.
	Histograms map[string]*Histogram
}

// Histogram counts transactions per risk bucket by truth: labelled
// fraud and legitimate ones, and (in the active series only) unlabelled
// ones.
type Histogram struct {
	Fraud, Legit, None [RiskBuckets]int64
}

// RollupReader is implemented by stores that keep the rollups.
type RollupReader interface {
	FraudRollups(ctx context.Context, q RollupQuery) (*Rollups, error)
}

// RollupRange is a span of rollup rows of one granularity: those
// starting in [From, To).
type RollupRange struct {
	Granularity Granularity
	From, To    time.Time
}

// rollupLevels are the granularities from the coarsest.
var rollupLevels = []struct {
	g    Granularity
	unit time.Duration
}{{Day, 24 * time.Hour}, {Hour, time.Hour}, {Minute, time.Minute}}

// RollupRanges splits [since, until) (minute-aligned) into the rows that
// cover it with the fewest: whole days as day rows, whole hours around
// them as hour rows, the minutes at the edges as minute rows; coarsest
// limits the granularities used (Day, Hour or Minute; empty means Day).
// Nothing is stored before oldest or from asOf on, so a row reaching past
// since when since <= oldest, or past until when until >= asOf, holds
// only rows inside the window and is read whole.
func RollupRanges(since, until, oldest, asOf time.Time, coarsest Granularity) []RollupRange {
	var out []RollupRange
	var split func(lo, hi time.Time, level int)
	split = func(lo, hi time.Time, level int) {
		if !lo.Before(hi) {
			return
		}
		l := rollupLevels[level]
		if l.g == Minute {
			out = append(out, RollupRange{Minute, lo, hi})
			return
		}
		if coarsest == Hour && l.g == Day || coarsest == Minute {
			split(lo, hi, level+1)
			return
		}
		a0 := lo.Truncate(l.unit)
		if a0.Before(lo) && lo.After(oldest) {
			a0 = a0.Add(l.unit)
		}
		a1 := hi.Truncate(l.unit)
		if a1.Before(hi) && !hi.Before(asOf) {
			a1 = a1.Add(l.unit)
		}
		if !a0.Before(a1) {
			split(lo, hi, level+1)
			return
		}
		out = append(out, RollupRange{l.g, a0, a1})
		if lo.Before(a0) {
			split(lo, a0, level+1)
		}
		if a1.Before(hi) {
			split(a1, hi, level+1)
		}
	}
	split(since, until, 0)
	return out
}

// maxTime bounds open-ended ranges far beyond any event time.
var maxTime = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// ResolveRollupWindow fills a query's open ends from the stored span
// (oldest minute start, newest minute end) and truncates to minutes.
func ResolveRollupWindow(q RollupQuery, oldest, asOf time.Time) (since, until time.Time) {
	since, until = q.Since, q.Until
	if q.Span > 0 {
		since, until = asOf.Add(-q.Span), asOf
	}
	if since.IsZero() {
		since = oldest
	}
	if until.IsZero() {
		until = asOf
	}
	since, until = since.UTC().Truncate(time.Minute), until.UTC().Truncate(time.Minute)
	if until.After(maxTime) {
		until = maxTime
	}
	if until.Before(since) {
		until = since
	}
	return since, until
}
