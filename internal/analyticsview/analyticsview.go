// Package analyticsview reads the customer analytics the periodic refresh
// stored and arranges them for people: the RFM segments with the latest
// clustering, the cohort matrix, the CLV model, a customer's figures. The
// REST API (internal/web) and the command line (internal/cli) show the
// same views, so they share this package and its JSON form rather than
// one rendering through the other; the store's rows are converted here.
package analyticsview

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/shopstream/shopstream/internal/analytics"
	"github.com/shopstream/shopstream/internal/event"
	"github.com/shopstream/shopstream/internal/modeldoc"
	"github.com/shopstream/shopstream/internal/store"
)

// Segments is the customers per RFM segment and the latest clustering
// (GET /api/v1/segments, `shopstream analytics rfm|segments`).
type Segments struct {
	// Customers is how many customers the refresh scored.
	Customers int64 `json:"customers"`
	// RFM lists every conventional segment, best first, empty ones too.
	RFM []SegmentRow `json:"rfm"`
	// Clusters is the latest behavioural clustering, null before the
	// first.
	Clusters *Clusters `json:"clusters"`
	// Notes explain empty segments: a score no customer has, and the tie
	// that took it (ScoreNotes). Empty when every score has customers.
	Notes []string `json:"notes"`
}

// SegmentRow is one RFM segment.
type SegmentRow struct {
	Segment   string   `json:"segment"`
	Customers int64    `json:"customers"`
	Share     float64  `json:"share"`
	Revenue   float64  `json:"revenue"`
	MeanCLV   *float64 `json:"mean_clv"`
}

// Clusters is a stored clustering and its cluster profiles.
type Clusters struct {
	Version    int                       `json:"version"`
	CreatedAt  time.Time                 `json:"created_at"`
	K          int                       `json:"k"`
	Silhouette *float64                  `json:"silhouette"`
	Candidates []modeldoc.KSilhouette    `json:"candidates"`
	Features   []string                  `json:"features"`
	Centroids  [][]float64               `json:"centroids"`
	Profiles   []modeldoc.ClusterProfile `json:"profiles"`
}

// ReadSegments reads the customers per RFM segment and the latest
// clustering.
func ReadSegments(ctx context.Context, a store.Analytics) (Segments, error) {
	stats, err := a.SegmentStats(ctx)
	if err != nil {
		return Segments{}, err
	}
	out := Segments{RFM: []SegmentRow{}}
	by := map[string]store.SegmentStat{}
	for _, s := range stats {
		by[s.Segment] = s
		out.Customers += s.Customers
	}
	names := make([]string, 0, len(analytics.Segments))
	for _, s := range analytics.Segments {
		names = append(names, string(s))
	}
	for _, s := range stats { // any segment not in the conventional list
		if !slices.Contains(names, s.Segment) {
			names = append(names, s.Segment)
		}
	}
	out.Notes = []string{}
	if out.Customers > 0 {
		sc, err := a.ScoreCounts(ctx)
		if err != nil {
			return Segments{}, err
		}
		var empty []string
		for _, s := range analytics.Segments {
			if by[string(s)].Customers == 0 {
				empty = append(empty, string(s))
			}
		}
		out.Notes = ScoreNotes(sc, empty)
	}
	byCurrency, err := currencies(ctx, a)
	if err != nil {
		return Segments{}, err
	}
	if n := CurrencyNote(byCurrency); n != "" && out.Customers > 0 {
		out.Notes = append(out.Notes, n)
	}
	minorPer := event.MinorPerMajor(byCurrency)
	for _, name := range names {
		s := by[name]
		row := SegmentRow{Segment: name, Customers: s.Customers, Revenue: float64(s.RevenueCents) / minorPer, MeanCLV: s.MeanCLV}
		if out.Customers > 0 {
			row.Share = float64(s.Customers) / float64(out.Customers)
		}
		out.RFM = append(out.RFM, row)
	}
	m, err := a.LatestModelVersion(ctx, store.ModelSegments)
	if errors.Is(err, store.ErrNoModel) {
		return out, nil
	}
	if err != nil {
		return Segments{}, err
	}
	var p modeldoc.SegmentsParams
	var met modeldoc.SegmentsMetrics
	if err := errors.Join(json.Unmarshal(m.Params, &p), json.Unmarshal(m.Metrics, &met)); err != nil {
		return Segments{}, fmt.Errorf("decoding segments model %d: %w", m.Version, err)
	}
	out.Clusters = &Clusters{Version: m.Version, CreatedAt: m.CreatedAt, K: p.K, Silhouette: met.Silhouette,
		Candidates: met.Candidates, Features: p.Features, Centroids: p.Centroids, Profiles: met.Clusters}
	return out, nil
}

// Cohorts is the acquisition-cohort matrix (GET /api/v1/cohorts,
// `shopstream analytics cohorts`).
type Cohorts struct {
	// ComputedAt is when the refresh built the matrix; null before the
	// first refresh.
	ComputedAt *time.Time `json:"computed_at"`
	// AsOf is the instant the matrix counts purchases to (the refresh's
	// as-of); null before the first refresh, and for a matrix stored by
	// an older version.
	AsOf *time.Time `json:"as_of"`
	// Partial is the unfinished month, that of AsOf: each cohort's cell
	// of that month counts only its first days, so a lower retention
	// there is no drop. Null when AsOf is.
	Partial *PartialMonth `json:"partial"`
	Cohorts []CohortRow   `json:"cohorts"`
}

// PartialMonth is the month the matrix covers only part of.
type PartialMonth struct {
	// Month is "2006-01".
	Month string `json:"month"`
	// Days is how many of its days are covered (the as-of day counts
	// whole, as the refresh counts it), of DaysInMonth.
	Days        int `json:"days"`
	DaysInMonth int `json:"days_in_month"`
}

// CohortRow is one acquisition cohort; element k of each array is the
// cohort's k-th month (0 = the month of first purchase).
type CohortRow struct {
	// Month is the acquisition month, "2006-01".
	Month     string    `json:"month"`
	Size      int64     `json:"size"`
	Active    []int64   `json:"active"`
	Retention []float64 `json:"retention"`
	Revenue   []float64 `json:"revenue"`
	// PartialOffset is the k whose month is the unfinished one
	// (Cohorts.Partial), null when the row has no cell of that month.
	PartialOffset *int `json:"partial_offset"`
}

// CohortMatrix arranges stored cohort cells (ordered by month and offset)
// as rows, marking the cells of the unfinished month; revenue in major units
// of minorPer minor units each (MinorPer).
func CohortMatrix(cells []store.CohortCell, at store.CohortTimes, minorPer float64) Cohorts {
	out := Cohorts{Cohorts: []CohortRow{}}
	if !at.ComputedAt.IsZero() {
		c := at.ComputedAt
		out.ComputedAt = &c
	}
	var partial time.Time // first instant of the unfinished month
	if !at.AsOf.IsZero() {
		a := at.AsOf.UTC()
		out.AsOf = &a
		partial = time.Date(a.Year(), a.Month(), 1, 0, 0, 0, 0, time.UTC)
		out.Partial = &PartialMonth{Month: partial.Format("2006-01"), Days: a.Day(), DaysInMonth: partial.AddDate(0, 1, -1).Day()}
	}
	for _, c := range cells {
		month := c.Month.UTC().Format("2006-01")
		if n := len(out.Cohorts); n == 0 || out.Cohorts[n-1].Month != month {
			out.Cohorts = append(out.Cohorts, CohortRow{Month: month, Size: c.Size, Active: []int64{}, Retention: []float64{}, Revenue: []float64{}})
		}
		row := &out.Cohorts[len(out.Cohorts)-1]
		ret := 0.0
		if c.Size > 0 {
			ret = float64(c.Active) / float64(c.Size)
		}
		if !partial.IsZero() && c.Month.UTC().AddDate(0, c.MonthOffset, 0).Equal(partial) {
			k := len(row.Retention)
			row.PartialOffset = &k
		}
		row.Active = append(row.Active, c.Active)
		row.Retention = append(row.Retention, ret)
		row.Revenue = append(row.Revenue, float64(c.RevenueCents)/minorPer)
	}
	return out
}

// CLVModel is the CLV model in force (GET /api/v1/clv/model,
// `shopstream analytics clv`).
type CLVModel struct {
	Version   int                 `json:"version"`
	Status    string              `json:"status"`
	CreatedAt time.Time           `json:"created_at"`
	Params    modeldoc.CLVParams  `json:"params"`
	Metrics   modeldoc.CLVMetrics `json:"metrics"`
}

// ReadCLVModel reads the CLV model in force; the error wraps
// store.ErrNoModel before the first fit.
func ReadCLVModel(ctx context.Context, a store.Analytics) (*CLVModel, error) {
	m, err := a.LatestModelVersion(ctx, store.ModelCLV)
	if err != nil {
		return nil, err
	}
	out := &CLVModel{Version: m.Version, Status: m.Status, CreatedAt: m.CreatedAt}
	if err := errors.Join(json.Unmarshal(m.Params, &out.Params), json.Unmarshal(m.Metrics, &out.Metrics)); err != nil {
		return nil, fmt.Errorf("decoding CLV model %d: %w", m.Version, err)
	}
	// A degenerate fit predicts nobody: no mean or total to show. Models
	// stored before 2026-12-07 wrote 0 for them, which read as a CLV of 0.
	if fc := out.Metrics.FitCheck; fc != nil && fc.Degenerate {
		out.Metrics.MeanProbAlive, out.Metrics.MeanCLV, out.Metrics.TotalCLV = nil, nil, nil
	}
	return out, nil
}

// CLV is a customer's CLV prediction.
type CLV struct {
	// ProbAlive is the probability the customer is still active.
	ProbAlive float64 `json:"p_alive"`
	// ExpectedPurchases is the expected number of purchases in the horizon.
	ExpectedPurchases float64 `json:"expected_purchases"`
	// ExpectedAOV is the expected value of one order.
	ExpectedAOV float64 `json:"expected_aov"`
	// Value is the discounted CLV over the horizon.
	Value float64 `json:"value"`
	// ModelVersion is the CLV model that predicted it.
	ModelVersion int `json:"model_version"`
}

// CLVOf converts a stored prediction; nil stays nil.
func CLVOf(c *store.CLVFigures) *CLV {
	if c == nil {
		return nil
	}
	return &CLV{ProbAlive: c.ProbAlive, ExpectedPurchases: c.ExpectedPurchases, ExpectedAOV: c.ExpectedAOV,
		Value: c.Value, ModelVersion: c.ModelVersion}
}

// Customer is one customer's refreshed figures: RFM values, scores and
// segment, cluster and CLV.
type Customer struct {
	CustomerID    string  `json:"customer_id"`
	RecencyDays   float64 `json:"recency_days"`
	FrequencyDays int64   `json:"frequency_days"`
	MonetaryCents int64   `json:"monetary_cents"`
	R             int     `json:"r"`
	F             int     `json:"f"`
	M             int     `json:"m"`
	Segment       string  `json:"segment"`
	// Cluster and CLV are null until a clustering or CLV model exists.
	Cluster   *int      `json:"cluster"`
	CLV       *CLV      `json:"clv"`
	UpdatedAt time.Time `json:"updated_at"`
}

// CustomerOf converts a stored customer row.
func CustomerOf(a *store.CustomerAnalytics) Customer {
	return Customer{CustomerID: a.CustomerID, RecencyDays: a.RecencyDays, FrequencyDays: a.FrequencyDays,
		MonetaryCents: a.MonetaryCents, R: a.R, F: a.F, M: a.M, Segment: a.Segment, Cluster: a.Cluster,
		CLV: CLVOf(a.CLV), UpdatedAt: a.UpdatedAt}
}

// currencies is the store's revenue by currency (its summary's), nil for
// a store that does not say.
func currencies(ctx context.Context, a any) (map[string]int64, error) {
	sr, ok := a.(interface {
		Summary(context.Context) (store.Summary, error)
	})
	if !ok {
		return nil, nil
	}
	sum, err := sr.Summary(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the store's currencies: %w", err)
	}
	return sum.RevenueByCurrency, nil
}

// MinorPer is the minor units per major unit of the store's one currency
// (event.MinorPerMajor: 100 for EUR, 1 for JPY; 100 with several): the
// customer analytics' amounts, stored in minor units, are shown in major
// units by it.
func MinorPer(ctx context.Context, a any) (float64, error) {
	by, err := currencies(ctx, a)
	if err != nil {
		return 0, err
	}
	return event.MinorPerMajor(by), nil
}

// CurrencyNote says, when the store holds amounts in more than one
// currency (revenue by currency, as the summary has it), that the
// customer analytics add them as one: a customer's revenue, RFM monetary,
// a segment's revenue and the CLV models sum minor units whatever their
// currency, since the analytics assume the shop's one settlement
// currency. Empty for one currency or none.
func CurrencyNote(byCurrency map[string]int64) string {
	if len(byCurrency) < 2 {
		return ""
	}
	curs := make([]string, 0, len(byCurrency))
	for c := range byCurrency {
		curs = append(curs, c)
	}
	slices.SortFunc(curs, func(a, b string) int {
		return cmp.Or(cmp.Compare(byCurrency[b], byCurrency[a]), strings.Compare(a, b))
	})
	return fmt.Sprintf("The store holds amounts in %d currencies (%s, by revenue): customer revenue, RFM monetary, "+
		"segment revenue and CLV add their minor units as if they were one currency. The customer analytics assume "+
		"one settlement currency; convert or split the stream by currency for them to mean money.", len(curs), strings.Join(curs, ", "))
}

// ScoreNotes says which R, F or M scores no customer has, and why: the
// mid-rank quintile rule gives equal values equal scores, so a tie larger
// than a fifth takes the score of its middle as a whole, and the score at
// its end goes unused (docs/analytics.md). Every segment that needs that
// score is then empty; empty lists the empty segments. Two ties are
// named with their size: the customers who last bought on the newest day
// (a demo whose live pace is thousands of times its size has many), and
// those who bought on the fewest days.
func ScoreNotes(sc *store.ScoreCounts, empty []string) []string {
	notes := []string{}
	if sc == nil || sc.Customers == 0 || len(empty) == 0 {
		return notes // a score unused while every segment has customers says nothing a reader needs
	}
	pct := func(n int64) string { return fmt.Sprintf("%.0f%%", 100*float64(n)/float64(sc.Customers)) }
	for _, d := range []struct {
		name   string
		counts [5]int64
	}{{"R", sc.R}, {"F", sc.F}, {"M", sc.M}} {
		var missing []string
		for i, n := range d.counts {
			if n == 0 {
				missing = append(missing, fmt.Sprintf("%s = %d", d.name, i+1))
			}
		}
		if len(missing) == 0 {
			continue
		}
		why := "ties across the quintile boundaries take the score of their middle (equal values, equal scores)"
		switch {
		case d.name == "R" && d.counts[4] == 0 && sc.NewestDay*5 > sc.Customers:
			why = fmt.Sprintf("%s of the customers (%d) last bought on the newest day, a tie larger than a fifth, and all of them take the score of its middle", pct(sc.NewestDay), sc.NewestDay)
		case d.name == "F" && d.counts[0] == 0 && sc.LeastFrequency*5 > sc.Customers:
			why = fmt.Sprintf("%s of the customers (%d) bought on the fewest days, a tie larger than a fifth, and all of them take the score of its middle", pct(sc.LeastFrequency), sc.LeastFrequency)
		}
		notes = append(notes, "No customer scores "+strings.Join(missing, " or ")+": "+why+".")
	}
	if len(notes) > 0 {
		notes = append(notes, "So these segments are empty: "+strings.Join(empty, ", ")+".")
	}
	return notes
}

// SegmentMovements is how the customers moved between RFM segments at the
// latest refreshes, newest first (GET /api/v1/segments/movement).
type SegmentMovements struct {
	Movements []SegmentMovement `json:"movements"`
	// NextCursor is the cursor of the next (older) page; absent on the
	// last.
	NextCursor string `json:"next_cursor,omitempty"`
}

// SegmentMovement is one refresh's transition matrix against the refresh
// before it.
type SegmentMovement struct {
	ID         int64     `json:"id"`
	AsOf       time.Time `json:"as_of"`
	ComputedAt time.Time `json:"computed_at"`
	// PreviousComputedAt is when the refresh compared against ran; null
	// when it is not known (the first movement recorded: every customer
	// then counts as new, or is compared against segments stored before).
	PreviousComputedAt *time.Time `json:"previous_computed_at"`
	// Customers is how many the refresh scored: Entered of them new since
	// the refresh before, Moved to another segment, Stayed in theirs;
	// Left is how many the refresh before scored and this one did not.
	Customers int64 `json:"customers"`
	Entered   int64 `json:"entered"`
	Left      int64 `json:"left"`
	Moved     int64 `json:"moved"`
	Stayed    int64 `json:"stayed"`
	// Flows are the non-empty cells, largest first; from is null for new
	// customers, to for those who left.
	Flows []MovementFlow `json:"flows"`
	// Segments are each segment's size before and after, with what came
	// in and went out, in the order of /api/v1/segments.
	Segments []SegmentNet `json:"segments"`
}

// MovementFlow is one cell of the transition matrix.
type MovementFlow struct {
	From      *string `json:"from"`
	To        *string `json:"to"`
	Customers int64   `json:"customers"`
}

// SegmentNet is one segment's change: Net = After − Before = In − Out.
type SegmentNet struct {
	Segment string `json:"segment"`
	Before  int64  `json:"before"`
	After   int64  `json:"after"`
	In      int64  `json:"in"`
	Out     int64  `json:"out"`
	Net     int64  `json:"net"`
}

// MovementOf arranges a stored movement.
func MovementOf(m store.SegmentMovement) SegmentMovement {
	flows := make([]analytics.SegmentFlow, len(m.Flows))
	for i, f := range m.Flows {
		flows[i] = analytics.SegmentFlow{From: analytics.Segment(f.From), To: analytics.Segment(f.To), Customers: f.Customers}
	}
	mv := analytics.NewMovement(flows)
	out := SegmentMovement{ID: m.ID, AsOf: m.AsOf, ComputedAt: m.ComputedAt, PreviousComputedAt: m.PreviousComputedAt,
		Customers: mv.Customers, Entered: mv.Entered, Left: mv.Left, Moved: mv.Moved, Stayed: mv.Stayed,
		Flows: make([]MovementFlow, len(mv.Flows)), Segments: []SegmentNet{}}
	name := func(s analytics.Segment) *string {
		if s == "" {
			return nil
		}
		v := string(s)
		return &v
	}
	for i, f := range mv.Flows {
		out.Flows[i] = MovementFlow{From: name(f.From), To: name(f.To), Customers: f.Customers}
	}
	for _, c := range mv.Changes() {
		out.Segments = append(out.Segments, SegmentNet{Segment: string(c.Segment), Before: c.Before, After: c.After,
			In: c.In, Out: c.Out, Net: c.After - c.Before})
	}
	return out
}

// ReadSegmentMovements reads up to limit movements, newest first.
func ReadSegmentMovements(ctx context.Context, a store.Analytics, limit int) (SegmentMovements, error) {
	ms, err := a.SegmentMovements(ctx, limit)
	if err != nil {
		return SegmentMovements{}, err
	}
	out := SegmentMovements{Movements: make([]SegmentMovement, len(ms))}
	for i, m := range ms {
		out.Movements[i] = MovementOf(m)
	}
	return out, nil
}
