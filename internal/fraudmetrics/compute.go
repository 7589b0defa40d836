package fraudmetrics

import (
	"sort"
	"time"

	"github.com/shopstream/shopstream/internal/fraud"
	"github.com/shopstream/shopstream/internal/fraud/eval"
	"github.com/shopstream/shopstream/internal/store"
)

// Report is the detection measured over one window of stored outcomes.
// Rates with no meaning for the window (no labelled fraud, nothing
// flagged) are NaN.
type Report struct {
	Window string
	// AsOf is the newest event time stored (from the rollups: the end of
	// the newest minute stored); a named window is the span of event time
	// before it. Since is zero for "all" (and when nothing is stored);
	// Until, when set, ends a window read from the rollups.
	AsOf, Since, Until time.Time
	// RiskBuckets is the resolution PR-AUC and ROC-AUC were computed at:
	// 0 for exact risks, else the number of equal buckets of [0, 1] the
	// risks were rounded down to.
	RiskBuckets int
	// Transactions in the window (or the sample of it); Labelled of them
	// carry the generator's label or an analyst's (AnalystLabelled).
	Transactions, Labelled, AnalystLabelled int
	Fraud                                   int
	// Flagged is how many labelled transactions were held for review or
	// declined: the decisions actually taken.
	Flagged                int
	Precision, Recall, FPR float64
	PRAUC, ROCAUC          float64
	// PerScenario is keyed by the generator's fraud scenario; fraud an
	// analyst confirmed that the generator did not label is "analyst".
	PerScenario map[string]Scenario
	// Thresholds are the scorer's settings in force.
	Thresholds fraud.ScorerConfig
	// Sampled is set when the window held more than SampleLimit
	// transactions: the figures are then over the newest SampleLimit.
	// Reports from the rollups are never sampled (SampleLimit 0).
	Sampled     bool
	SampleLimit int
	Series      []Point
	// Shadow compares the shadow model with the active one on the
	// labelled transactions both scored; nil when there are none.
	Shadow     *Shadow
	ComputedAt time.Time
	// LabelWindow is how long a transaction may still be labelled (a
	// chargeback arrive) after it: an unlabelled transaction older than
	// that, by the newest event time stored, is presumed legitimate
	// (PresumedLegit, counted in Precision, Recall and FPR as a
	// legitimate one); a younger one is Pending. 0: no transaction is
	// presumed anything.
	LabelWindow   time.Duration
	PresumedLegit int
	Pending       Pending
}

// Pending counts the unlabelled transactions of a window still within
// the label window, by the decision taken: their truth is not known yet.
type Pending struct {
	Alerted, Unalerted int
}

// Scenario is the detection of one fraud scenario.
type Scenario struct {
	Fraud, Caught int
	Recall        float64
}

// Point is one bucket of event time of Report.Series.
type Point struct {
	Start                    time.Time
	Labelled, Fraud, Flagged int
	Precision, Recall        float64
}

// Shadow compares shadow and active risks on the same transactions.
type Shadow struct {
	// Version is the shadow model in use, 0 when none is (any more).
	Version            int
	Rows, Fraud        int
	PRAUC, ActivePRAUC float64
}

// Inputs is what Compute needs besides the outcomes.
type Inputs struct {
	Window        string
	Thresholds    fraud.ScorerConfig
	ShadowVersion int // 0: none
	Now           time.Time
	// LabelWindow: see Report.LabelWindow.
	LabelWindow time.Duration
}

// tally counts a labelled outcome into c by the decision taken.
func tally(c *eval.Confusion, o *store.Outcome) {
	flagged := o.Decision != "approve"
	switch {
	case flagged && o.Fraud:
		c.TP++
	case flagged:
		c.FP++
	case o.Fraud:
		c.FN++
	default:
		c.TN++
	}
}

// Compute measures the decisions and risks of out with internal/fraud/eval.
func Compute(out *store.Outcomes, in Inputs) *Report {
	m := &Report{Window: in.Window, Transactions: len(out.Rows), Thresholds: in.Thresholds, Sampled: out.Sampled,
		SampleLimit: store.DefaultOutcomeLimit, PerScenario: map[string]Scenario{}, Series: []Point{},
		AsOf: out.AsOf, Since: out.Since, ComputedAt: in.Now.UTC()}
	var (
		risks, shadowRisks, activeRisks []float64
		labels, shadowLabels            []bool
		c                               eval.Confusion
		shadowFraud                     int
	)
	for i := range out.Rows {
		o := &out.Rows[i]
		if !o.Labelled {
			continue
		}
		m.Labelled++
		if o.Analyst {
			m.AnalystLabelled++
		}
		tally(&c, o)
		risks = append(risks, o.Risk)
		labels = append(labels, o.Fraud)
		if o.HasShadow {
			shadowRisks = append(shadowRisks, o.ShadowRisk)
			activeRisks = append(activeRisks, o.Risk)
			shadowLabels = append(shadowLabels, o.Fraud)
			if o.Fraud {
				shadowFraud++
			}
		}
		if o.Fraud {
			name := o.Scenario
			if name == "" {
				name = "analyst"
			}
			sc := m.PerScenario[name]
			sc.Fraud++
			if o.Decision != "approve" {
				sc.Caught++
			}
			m.PerScenario[name] = sc
		}
	}
	m.Fraud, m.Flagged = c.TP+c.FN, c.TP+c.FP
	m.Precision, m.Recall, m.FPR = c.Precision(), c.Recall(), c.FPR()
	m.PRAUC, m.ROCAUC = eval.PRAUC(risks, labels), eval.ROCAUC(risks, labels)
	for k, sc := range m.PerScenario {
		sc.Recall = float64(sc.Caught) / float64(sc.Fraud)
		m.PerScenario[k] = sc
	}
	if len(shadowRisks) > 0 {
		m.Shadow = &Shadow{Version: in.ShadowVersion, Rows: len(shadowRisks), Fraud: shadowFraud,
			PRAUC: eval.PRAUC(shadowRisks, shadowLabels), ActivePRAUC: eval.PRAUC(activeRisks, shadowLabels)}
	}
	m.Series = series(out)
	return m
}

// bucketSizes are the candidate widths of the series' buckets.
var bucketSizes = []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, time.Hour, 6 * time.Hour, 24 * time.Hour, 7 * 24 * time.Hour}

// series buckets the labelled outcomes by event time, about 24 buckets over
// the span they cover, with precision and recall per bucket.
func series(out *store.Outcomes) []Point {
	var first, last time.Time
	for i := range out.Rows {
		o := &out.Rows[i]
		if !o.Labelled {
			continue
		}
		if first.IsZero() || o.EventTime.Before(first) {
			first = o.EventTime
		}
		if o.EventTime.After(last) {
			last = o.EventTime
		}
	}
	if first.IsZero() {
		return []Point{}
	}
	if !out.Since.IsZero() {
		first = out.Since
	}
	size := bucketSizes[len(bucketSizes)-1]
	for _, b := range bucketSizes {
		if last.Sub(first)/b <= 30 {
			size = b
			break
		}
	}
	byStart := map[int64]*eval.Confusion{}
	for i := range out.Rows {
		o := &out.Rows[i]
		if !o.Labelled {
			continue
		}
		k := o.EventTime.Truncate(size).Unix()
		c := byStart[k]
		if c == nil {
			c = &eval.Confusion{}
			byStart[k] = c
		}
		tally(c, o)
	}
	keys := make([]int64, 0, len(byStart))
	for k := range byStart {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	pts := make([]Point, len(keys))
	for i, k := range keys {
		c := byStart[k]
		pts[i] = Point{Start: time.Unix(k, 0).UTC(), Labelled: c.TP + c.FP + c.TN + c.FN, Fraud: c.TP + c.FN,
			Flagged: c.TP + c.FP, Precision: c.Precision(), Recall: c.Recall()}
	}
	return pts
}
