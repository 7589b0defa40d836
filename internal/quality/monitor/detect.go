package monitor

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"time"

	"gonum.org/v1/gonum/stat"
)

// Severity of a finding.
type Severity string

// Severities, from least to most urgent.
const (
	Warning  Severity = "warning"
	Critical Severity = "critical"
)

// Detector names.
const (
	DetectFreshness   = "freshness"
	DetectVolume      = "volume"
	DetectFailureRise = "failure_rise"
	DetectDrift       = "drift"
)

// Finding is one thing a detector found wrong with the stream.
type Finding struct {
	// Detector is one of the Detect names; Subject what it is about (the
	// lag, the check, the field).
	Detector, Subject string
	Severity          Severity
	// Value is what was measured, Threshold the bound it crossed, both in
	// the unit Message names.
	Value, Threshold float64
	Message          string
	// At is when the detector ran.
	At time.Time
}

// Key identifies a finding's episode: one detector on one subject.
func (f Finding) Key() string { return f.Detector + "/" + f.Subject }

func rank(s Severity) int {
	switch s {
	case Critical:
		return 2
	case Warning:
		return 1
	}
	return 0
}

// grade returns the severity of v against the warning and critical
// bounds (v above them), and the bound crossed.
func grade(v, warn, crit float64) (Severity, float64) {
	switch {
	case v >= crit:
		return Critical, crit
	case v >= warn:
		return Warning, warn
	}
	return "", 0
}

// Freshness judges the median lags of recently checked records.
func Freshness(l Lags, cfg Config) []Finding {
	cfg = cfg.WithDefaults()
	if l.Records == 0 {
		return nil
	}
	var out []Finding
	check := func(subject, what string, d, warn, crit time.Duration) {
		sev, bound := grade(d.Seconds(), warn.Seconds(), crit.Seconds())
		if sev == "" {
			return
		}
		out = append(out, Finding{Detector: DetectFreshness, Subject: subject, Severity: sev, Value: d.Seconds(), Threshold: bound,
			Message: fmt.Sprintf("median %s lag %s, above %s (seconds)", what, d.Round(time.Second), time.Duration(bound*float64(time.Second)))})
	}
	check("event_time_lag", "event-time", l.Event, cfg.EventLagWarn, cfg.EventLagCritical)
	if l.Processing > 0 {
		check("processing_lag", "processing", l.Processing, cfg.ProcLagWarn, cfg.ProcLagCritical)
	}
	return out
}

// weightedQuantile is the p-quantile of values x (sorted) weighted by w,
// with gonum's empirical quantile; false when every weight is zero.
func weightedQuantile(p float64, x, w []float64) (float64, bool) {
	var total float64
	for _, v := range w {
		total += v
	}
	if total == 0 {
		return 0, false
	}
	return stat.Quantile(p, stat.Empirical, x, w), true
}

// PSI is the population stability index of the distribution cur against
// ref, given as counts over the same bins: Σ (c − r) · ln(c / r) over the
// bins' shares, each share at least 0.0001 so an empty bin is finite.
func PSI(ref, cur []float64) float64 {
	var nr, nc float64
	for i := range ref {
		nr += ref[i]
		nc += cur[i]
	}
	if nr == 0 || nc == 0 {
		return 0
	}
	const floor = 1e-4
	var psi float64
	for i := range ref {
		r, c := max(ref[i]/nr, floor), max(cur[i]/nc, floor)
		psi += (c - r) * math.Log(c/r)
	}
	return psi
}

// FieldDrift is the drift of one field between the reference and the
// current window.
type FieldDrift struct {
	Field string
	// PSI is the population stability index; Ref and Cur the records
	// counted on each side.
	PSI      float64
	Ref, Cur int64
}

// Fields compared by the drift detector.
const (
	FieldAmount  = "amount"
	FieldItems   = "items_per_order"
	FieldChannel = "channel"
)

// driftOf compares the distributions of the current window with the
// reference's: the amount over the reference's deciles (the fine bins
// grouped at the reference's decile edges), items per order over their
// bins, the channel shares over the channels either side saw.
func driftOf(ref, cur *streamStats) []FieldDrift {
	var out []FieldDrift
	// Amount: group the fine bins at the reference's deciles.
	idx := make([]float64, amountBins)
	w := make([]float64, amountBins)
	for i := range idx {
		idx[i], w[i] = float64(i), float64(ref.amount[i])
	}
	nRef, nCur := sum32(ref.amount[:]), sum32(cur.amount[:])
	var edges []int // a group ends after each edge bin
	for k := 1; k < 10; k++ {
		q, ok := weightedQuantile(float64(k)/10, idx, w)
		if !ok {
			break
		}
		if e := int(q); len(edges) == 0 || e > edges[len(edges)-1] {
			edges = append(edges, e)
		}
	}
	edges = append(edges, amountBins-1)
	r, c := make([]float64, len(edges)), make([]float64, len(edges))
	g := 0
	for i := range amountBins {
		for i > edges[g] {
			g++
		}
		r[g] += float64(ref.amount[i])
		c[g] += float64(cur.amount[i])
	}
	out = append(out, FieldDrift{Field: FieldAmount, PSI: PSI(r, c), Ref: nRef, Cur: nCur})

	r, c = make([]float64, itemBins), make([]float64, itemBins)
	for i := range itemBins {
		r[i], c[i] = float64(ref.items[i]), float64(cur.items[i])
	}
	out = append(out, FieldDrift{Field: FieldItems, PSI: PSI(r, c), Ref: sum32(ref.items[:]), Cur: sum32(cur.items[:])})

	var names []string
	for ch := range ref.channels {
		names = append(names, ch)
	}
	for ch := range cur.channels {
		if _, ok := ref.channels[ch]; !ok {
			names = append(names, ch)
		}
	}
	slices.Sort(names)
	r, c = make([]float64, len(names)), make([]float64, len(names))
	for i, ch := range names {
		r[i], c[i] = float64(ref.channels[ch]), float64(cur.channels[ch])
	}
	out = append(out, FieldDrift{Field: FieldChannel, PSI: PSI(r, c), Ref: nRef, Cur: nCur})
	return out
}

// Drift judges the fields' PSI, each only with enough records either side.
func Drift(ds []FieldDrift, cfg Config) []Finding {
	cfg = cfg.WithDefaults()
	var out []Finding
	for _, d := range ds {
		if d.Ref < cfg.DriftMinRecords || d.Cur < cfg.DriftMinRecords {
			continue
		}
		sev, bound := grade(d.PSI, cfg.PSIWarn, cfg.PSICritical)
		if sev == "" {
			continue
		}
		out = append(out, Finding{Detector: DetectDrift, Subject: d.Field, Severity: sev, Value: d.PSI, Threshold: bound,
			Message: fmt.Sprintf("%s distribution drifted: PSI %.3f of the last %d records against the %d before, above %.2f",
				d.Field, d.PSI, d.Cur, d.Ref, bound)})
	}
	return out
}

// VolumeConfig holds the volume detector's settings. Zero fields take the
// defaults named in their comments.
type VolumeConfig struct {
	// Warn and Critical bound the robust z. Default to 6 and 10.
	Warn, Critical float64
	// MinDays is the fewest previous days with data for the seasonal
	// band. Defaults to 3.
	MinDays int
	// Spread is how many minutes either side of the same minute of day
	// count on each previous day. Defaults to 2.
	Spread int
	// Days is how many previous days are looked at. Defaults to 7.
	Days int
	// Rolling is how many previous minutes the fallback band is made of.
	// Defaults to 60.
	Rolling int
	// MinRolling is the fewest of those with data. Defaults to 30.
	MinRolling int
	// RollingOnly judges against the previous minutes only, never the
	// same minutes of earlier days: for a stream whose earlier days ran
	// at another pace by design (`shopstream run`'s demo backfills a
	// shop's history at its own pace and then streams thousands of times
	// faster, so every live minute was hundreds of robust z above the same
	// minute of the days before).
	RollingOnly bool
	// MinRelScale is the least scale as a share of the median: a few
	// days' MAD understates how much one day differs from another.
	// Defaults to 0.05.
	MinRelScale float64
}

// WithDefaults returns c with zero fields set to their defaults.
func (c VolumeConfig) WithDefaults() VolumeConfig {
	if c.Warn == 0 {
		c.Warn = 6
	}
	if c.Critical == 0 {
		c.Critical = 10
	}
	if c.MinDays == 0 {
		c.MinDays = 3
	}
	if c.Spread == 0 {
		c.Spread = 2
	}
	if c.Days == 0 {
		c.Days = 7
	}
	if c.Rolling == 0 {
		c.Rolling = 60
	}
	if c.MinRolling == 0 {
		c.MinRolling = 30
	}
	if c.MinRelScale == 0 {
		c.MinRelScale = 0.05
	}
	return c
}

// VolumeHistory is the past a minute's count is judged against: per
// previous day (most recent first) the counts of the same minute of day
// ±Spread, and the counts of the previous Rolling minutes. A minute with
// no data is absent, not zero: the store has no row for it.
type VolumeHistory struct {
	Days    [][]float64
	Rolling []float64
}

// VolumeBand is the band a count was judged against.
type VolumeBand struct {
	// Method is "seasonal" (same minute of day on previous days) or
	// "rolling" (the previous minutes); "" when there was too little
	// history to judge.
	Method        string
	Median, Scale float64
	// Z is the robust z of the count: (count − Median) / Scale.
	Z float64
}

// Volume judges the transactions counted in minute against h: see the
// package documentation for the method.
func Volume(minute time.Time, count float64, h VolumeHistory, cfg VolumeConfig) (VolumeBand, []Finding) {
	cfg = cfg.WithDefaults()
	var xs []float64
	var b VolumeBand
	days := 0
	for _, d := range h.Days {
		if len(d) > 0 {
			days++
			xs = append(xs, d...)
		}
	}
	switch {
	case days >= cfg.MinDays && !cfg.RollingOnly:
		b.Method = "seasonal"
	case len(h.Rolling) >= cfg.MinRolling:
		b.Method = "rolling"
		xs = slices.Clone(h.Rolling)
	default:
		return b, nil
	}
	b.Median, b.Scale = medianMAD(xs)
	b.Scale = max(b.Scale, math.Sqrt(b.Median), cfg.MinRelScale*b.Median, 1)
	b.Z = (count - b.Median) / b.Scale
	sev, bound := grade(math.Abs(b.Z), cfg.Warn, cfg.Critical)
	if sev == "" {
		return b, nil
	}
	dir := "above"
	if b.Z < 0 {
		dir = "below"
	}
	return b, []Finding{{Detector: DetectVolume, Subject: "transactions_per_minute", Severity: sev, Value: b.Z, Threshold: bound,
		Message: fmt.Sprintf("%.0f transactions in the minute of %s, %s the %s band: median %.0f, robust z %.1f beyond ±%.0f",
			count, minute.UTC().Format("15:04"), dir, b.Method, b.Median, b.Z, bound)}}
}

// medianMAD returns the median of xs and its median absolute deviation
// scaled by 1.4826 (a standard deviation for normal data).
func medianMAD(xs []float64) (float64, float64) {
	s := slices.Clone(xs)
	sort.Float64s(s)
	med := stat.Quantile(0.5, stat.LinInterp, s, nil)
	for i := range s {
		s[i] = math.Abs(s[i] - med)
	}
	sort.Float64s(s)
	return med, 1.4826 * stat.Quantile(0.5, stat.LinInterp, s, nil)
}

// RiseConfig holds the failure-rise detector's settings. Zero fields take
// the defaults named in their comments.
type RiseConfig struct {
	// Recent and Baseline are the minutes compared: the last Recent
	// against the Baseline before them. Default to 5 and 60.
	Recent, Baseline int
	// MinFailures is the fewest failures in the recent window. Defaults
	// to 10.
	MinFailures int64
	// Ratio is how many times the baseline's rate the recent rate must
	// be (Critical for a critical finding). Default to 2 and 5.
	Ratio, Critical float64
	// Z is the least one-sided binomial z of the excess. Defaults to 5.
	Z float64
}

// WithDefaults returns c with zero fields set to their defaults.
func (c RiseConfig) WithDefaults() RiseConfig {
	if c.Recent == 0 {
		c.Recent = 5
	}
	if c.Baseline == 0 {
		c.Baseline = 60
	}
	if c.MinFailures == 0 {
		c.MinFailures = 10
	}
	if c.Ratio == 0 {
		c.Ratio = 2
	}
	if c.Critical == 0 {
		c.Critical = 5
	}
	if c.Z == 0 {
		c.Z = 5
	}
	return c
}

// FailureRise judges each check's failure rate in the recent window
// against the baseline's, given each window's counts per check.
func FailureRise(baseline, recent map[string]Counts, cfg RiseConfig) []Finding {
	cfg = cfg.WithDefaults()
	var out []Finding
	checks := make([]string, 0, len(recent))
	for c := range recent {
		checks = append(checks, c)
	}
	slices.Sort(checks)
	for _, check := range checks {
		cur, base := recent[check], baseline[check]
		if cur.Failed < cfg.MinFailures || cur.Checked == 0 {
			continue
		}
		p0 := float64(base.Failed+1) / float64(base.Checked+2)
		p1 := float64(cur.Failed) / float64(cur.Checked)
		ratio := p1 / p0
		z := (p1 - p0) / math.Sqrt(p0*(1-p0)/float64(cur.Checked))
		if ratio < cfg.Ratio || z < cfg.Z {
			continue
		}
		sev, bound := Warning, cfg.Ratio
		if ratio >= cfg.Critical {
			sev, bound = Critical, cfg.Critical
		}
		out = append(out, Finding{Detector: DetectFailureRise, Subject: check, Severity: sev, Value: ratio, Threshold: bound,
			Message: fmt.Sprintf("%s failures rose to %.2f%% of %d records in the last %d minutes from %.2f%% before: %.1f times, z %.1f",
				check, 100*p1, cur.Checked, cfg.Recent, 100*p0, ratio, z)})
	}
	return out
}

// Tracker turns evaluations into episodes: a finding starts an episode of
// its detector and subject, the episode lasts while evaluations keep
// finding it, and ends at the first evaluation that does not. It is not
// safe for concurrent use.
type Tracker struct {
	active map[string]Severity
}

// Update records one evaluation's findings and returns those that start
// an episode or raise its severity: the ones to alert on.
func (t *Tracker) Update(findings []Finding) []Finding {
	if t.active == nil {
		t.active = map[string]Severity{}
	}
	var news []Finding
	seen := map[string]bool{}
	for _, f := range findings {
		k := f.Key()
		seen[k] = true
		if prev, ok := t.active[k]; !ok || rank(f.Severity) > rank(prev) {
			news = append(news, f)
		}
		t.active[k] = f.Severity
	}
	for k := range t.active {
		if !seen[k] {
			delete(t.active, k)
		}
	}
	return news
}
