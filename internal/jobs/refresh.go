package jobs

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/shopstream/shopstream/internal/analytics"
	"github.com/shopstream/shopstream/internal/store"
)

// RefreshName is the refresh's job name and leader-lock name.
const RefreshName = "analytics-refresh"

// RefreshConfig configures [NewRefresh].
type RefreshConfig struct {
	// Store is read and written. Required.
	Store store.Analytics
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Now is the clock. Defaults to time.Now. The refresh scores customers
	// as of the earlier of now and the latest stored purchase, so an
	// imported history is scored as of its own end rather than today.
	Now func() time.Time
	// CLVMonths is the CLV horizon. Defaults to 12.
	CLVMonths int
	// DiscountRate is the annual discount rate of future revenue. Defaults
	// to 0.10; set NoDiscount for undiscounted values.
	DiscountRate float64
	// NoDiscount makes the discount rate 0.
	NoDiscount bool
	// MinCustomers is the fewest customers the CLV models are refitted on;
	// with fewer the previous model is kept. Defaults to 100.
	MinCustomers int
	// MinRepeatCustomers is the fewest customers with a repeat purchase
	// the Gamma-Gamma model is refitted on. Defaults to 20.
	MinRepeatCustomers int
	// K fixes the number of behavioural clusters. Defaults to 0: k is
	// chosen in [KMin, KMax] by the mean silhouette.
	K int
	// KMin and KMax bound the choice of k. Default to 2 and 8.
	KMin, KMax int
	// Seed makes the k-means sample and starts reproducible: the same data
	// and seed give the same clusters. Zero is a valid seed.
	Seed uint64
	// SampleSize is how many customers k-means is fitted on (a seeded
	// sample without replacement); every customer is then assigned to the
	// nearest centre. Defaults to 20,000.
	SampleSize int
	// Categories is how many of the top-selling item categories enter the
	// clustering as spend shares. Defaults to 8.
	Categories int
}

func (c *RefreshConfig) withDefaults() {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.CLVMonths == 0 {
		c.CLVMonths = 12
	}
	if c.DiscountRate == 0 {
		c.DiscountRate = 0.10
	}
	if c.NoDiscount {
		c.DiscountRate = 0
	}
	if c.MinCustomers == 0 {
		c.MinCustomers = 100
	}
	if c.MinRepeatCustomers == 0 {
		c.MinRepeatCustomers = 20
	}
	if c.K == 0 {
		if c.KMin == 0 {
			c.KMin = 2
		}
		if c.KMax == 0 {
			c.KMax = max(8, c.KMin)
		}
	}
	if c.SampleSize == 0 {
		c.SampleSize = 20_000
	}
	if c.Categories == 0 {
		c.Categories = 8
	}
}

func (c *RefreshConfig) validate() error {
	switch {
	case c.Store == nil:
		return errors.New("no store given")
	case c.CLVMonths < 1 || c.CLVMonths > 1200:
		return fmt.Errorf("CLV months %d not within 1..1200", c.CLVMonths)
	case !(c.DiscountRate > -1 && c.DiscountRate < 10):
		return fmt.Errorf("discount rate %v not within (-1, 10)", c.DiscountRate)
	case c.MinCustomers < 2 || c.MinRepeatCustomers < 2:
		return fmt.Errorf("minimum customers %d and repeat customers %d must be at least 2", c.MinCustomers, c.MinRepeatCustomers)
	case c.K < 0 || c.K > 100:
		return fmt.Errorf("k %d not within 0..100", c.K)
	case c.K == 0 && (c.KMin < 2 || c.KMax < c.KMin || c.KMax > 100):
		return fmt.Errorf("k range %d..%d is not a range within 2..100", c.KMin, c.KMax)
	case c.SampleSize < 10:
		return fmt.Errorf("sample size %d is below 10", c.SampleSize)
	case c.Categories < 0 || c.Categories > 64:
		return fmt.Errorf("categories %d not within 0..64", c.Categories)
	}
	return nil
}

// Refresh is the periodic customer-analytics refresh (see the package
// documentation). It is safe to run from several processes at once: only
// the leader does the work.
type Refresh struct {
	cfg RefreshConfig
	log *slog.Logger
	// testHookLeading, if set, is called while the lead is held.
	testHookLeading func()
}

// NewRefresh validates cfg and returns the refresh.
func NewRefresh(cfg RefreshConfig) (*Refresh, error) {
	cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("analytics refresh: %w", err)
	}
	return &Refresh{cfg: cfg, log: cfg.Logger.With("component", "analytics-refresh")}, nil
}

// Job returns the refresh as a periodic job.
func (r *Refresh) Job(interval, firstDelay time.Duration) Job {
	return Job{Name: RefreshName, Interval: interval, FirstDelay: firstDelay, Run: r.Run}
}

// Run does one refresh; it returns an error wrapping ErrSkipped when
// another instance leads.
func (r *Refresh) Run(ctx context.Context) error {
	_, err := r.RunOnce(ctx)
	return err
}

// RefreshReport says what one refresh did.
type RefreshReport struct {
	// AsOf is the instant customers were scored at.
	AsOf         time.Time `json:"as_of"`
	Customers    int       `json:"customers"`
	PurchaseDays int64     `json:"purchase_days"`
	CohortCells  int       `json:"cohort_cells"`
	// CLVVersion is the CLV model used (0: none); CLVFitted says whether
	// this run fitted it; CLVNote says why not.
	CLVVersion int    `json:"clv_model_version"`
	CLVFitted  bool   `json:"clv_fitted"`
	CLVNote    string `json:"clv_note,omitempty"`
	// SegmentsVersion is the clustering fitted (0: none), with its k and
	// mean silhouette; SegmentsNote says why there is none.
	SegmentsVersion int      `json:"segments_model_version"`
	K               int      `json:"k"`
	Silhouette      *float64 `json:"silhouette"`
	SegmentsNote    string   `json:"segments_note,omitempty"`
	// Seconds is the whole run; the phases are reading (purchase days,
	// category mix, cohorts), CLV (fit and predict), RFM scoring,
	// clustering (fit and assign) and writing the customer rows.
	Seconds         float64 `json:"seconds"`
	ReadSeconds     float64 `json:"read_seconds"`
	CLVSeconds      float64 `json:"clv_seconds"`
	RFMSeconds      float64 `json:"rfm_seconds"`
	SegmentsSeconds float64 `json:"segments_seconds"`
	WriteSeconds    float64 `json:"write_seconds"`
}

// CLVParams is the stored form of a CLV model (models.params, kind "clv").
// Alpha and the model period are in weeks.
type CLVParams struct {
	BGNBD struct {
		R     float64 `json:"r"`
		Alpha float64 `json:"alpha"`
		A     float64 `json:"a"`
		B     float64 `json:"b"`
	} `json:"bgnbd"`
	GammaGamma struct {
		P     float64 `json:"p"`
		Q     float64 `json:"q"`
		Gamma float64 `json:"gamma"`
	} `json:"gamma_gamma"`
	Period string `json:"period"`
}

// CLVMetrics are the fit statistics stored with a CLV model.
type CLVMetrics struct {
	AsOf            time.Time `json:"as_of"`
	Customers       int       `json:"customers"`
	RepeatCustomers int       `json:"repeat_customers"`
	// BGNBDLogLikelihood and GammaGammaLogLikelihood are the maximised
	// log-likelihoods, for comparing fits on the same data.
	BGNBDLogLikelihood      float64 `json:"bgnbd_log_likelihood"`
	GammaGammaLogLikelihood float64 `json:"gamma_gamma_log_likelihood"`
	// FrequencyMonetaryCorrelation is the Pearson correlation of repeat
	// frequency and mean repeat spend; Gamma-Gamma assumes it is near 0.
	FrequencyMonetaryCorrelation float64 `json:"frequency_monetary_correlation"`
	// PopulationMeanSpend is p·γ/(q−1), the expected order value of a
	// customer with no repeat purchase.
	PopulationMeanSpend float64 `json:"population_mean_spend"`
	HorizonMonths       int     `json:"horizon_months"`
	DiscountRate        float64 `json:"discount_rate"`
	MeanProbAlive       float64 `json:"mean_p_alive"`
	MeanCLV             float64 `json:"mean_clv"`
	TotalCLV            float64 `json:"total_clv"`
	FitSeconds          float64 `json:"fit_seconds"`
}

// SegmentsParams is the stored form of a clustering (kind "segments"):
// centroids in the features' original units.
type SegmentsParams struct {
	K          int         `json:"k"`
	Features   []string    `json:"features"`
	Centroids  [][]float64 `json:"centroids"`
	Seed       uint64      `json:"seed"`
	SampleSize int         `json:"sample_size"`
}

// SegmentsMetrics are the statistics stored with a clustering.
type SegmentsMetrics struct {
	AsOf      time.Time `json:"as_of"`
	Customers int       `json:"customers"`
	// Silhouette is the chosen clustering's mean silhouette (on up to
	// 2,000 sampled points), nil when k was fixed at 1.
	Silhouette *float64 `json:"silhouette"`
	// Candidates is the mean silhouette of every k tried.
	Candidates []KSilhouette    `json:"candidates"`
	Clusters   []ClusterProfile `json:"clusters"`
}

// KSilhouette is one candidate k and its mean silhouette.
type KSilhouette struct {
	K          int     `json:"k"`
	Silhouette float64 `json:"silhouette"`
}

// ClusterProfile describes one cluster over all customers assigned to it.
type ClusterProfile struct {
	Cluster         int      `json:"cluster"`
	Size            int      `json:"size"`
	Share           float64  `json:"share"`
	MeanRecencyDays float64  `json:"mean_recency_days"`
	MeanFrequency   float64  `json:"mean_frequency"`
	MeanMonetary    float64  `json:"mean_monetary"`
	MeanCLV         *float64 `json:"mean_clv"`
	// TopCategories are the cluster's three largest categories by share
	// of its spend.
	TopCategories []CategoryShare `json:"top_categories"`
}

// CategoryShare is a category's share of some spend.
type CategoryShare struct {
	Category string  `json:"category"`
	Share    float64 `json:"share"`
}

// population is what the refresh knows of every customer, in customer-ID
// byte order.
type population struct {
	sums  []analytics.Summary
	cents []int64 // total spend per customer, exact
	days  int64   // purchase days read
	// Category spend, sparse: customer i's entries are
	// catIdx/catCents[catStart[i]:catStart[i+1]].
	catStart []int32
	catIdx   []int32
	catCents []int64
	catNames []string
}

// RunOnce does one refresh and reports what it did; it returns an error
// wrapping ErrSkipped when another instance leads.
func (r *Refresh) RunOnce(ctx context.Context) (*RefreshReport, error) {
	st := r.cfg.Store
	release, ok, err := st.TryLead(ctx, RefreshName)
	if err != nil {
		return nil, fmt.Errorf("analytics refresh: %w", err)
	}
	if !ok {
		return nil, fmt.Errorf("analytics refresh: %w: another instance holds the lead", ErrSkipped)
	}
	defer release()
	if r.testHookLeading != nil {
		r.testHookLeading()
	}
	start := time.Now()
	now := r.cfg.Now().UTC()
	latest, err := st.LatestPurchase(ctx)
	if err != nil {
		return nil, fmt.Errorf("analytics refresh: %w", err)
	}
	rep := &RefreshReport{}
	if latest.IsZero() {
		rep.CLVNote, rep.SegmentsNote = "no purchases stored", "no purchases stored"
		r.log.Info("analytics refresh: no purchases stored yet")
		return rep, nil
	}
	asOf := latest
	if now.Before(latest) {
		asOf = now
	}
	rep.AsOf = asOf
	y, m, d := asOf.Date()
	until := time.Date(y, m, d+1, 0, 0, 0, 0, time.UTC) // the whole as-of day counts

	phase := time.Now()
	lap := func(d *float64) {
		*d = time.Since(phase).Seconds()
		phase = time.Now()
	}
	pop, cells, err := r.read(ctx, asOf, until)
	if err != nil {
		return nil, fmt.Errorf("analytics refresh: %w", err)
	}
	rep.Customers, rep.PurchaseDays, rep.CohortCells = len(pop.sums), pop.days, len(cells)
	if err := st.ReplaceCohorts(ctx, cells, now); err != nil {
		return nil, fmt.Errorf("analytics refresh: %w", err)
	}
	lap(&rep.ReadSeconds)

	n := len(pop.sums)
	vals := make([]analytics.RFMValues, n)
	for i, s := range pop.sums {
		vals[i] = s.RFMValues()
	}
	scores, err := analytics.ScoreRFM(vals)
	if err != nil {
		return nil, fmt.Errorf("analytics refresh: %w", err)
	}
	lap(&rep.RFMSeconds)
	preds, clvVersion, err := r.clv(ctx, pop, asOf, rep)
	if err != nil {
		return nil, fmt.Errorf("analytics refresh: %w", err)
	}
	lap(&rep.CLVSeconds)
	labels, err := r.segments(ctx, pop, asOf, preds, rep)
	if err != nil {
		return nil, fmt.Errorf("analytics refresh: %w", err)
	}
	lap(&rep.SegmentsSeconds)

	chunk := make([]store.CustomerAnalytics, 0, store.AnalyticsChunk)
	for i, s := range pop.sums {
		row := store.CustomerAnalytics{
			CustomerID: s.CustomerID, RecencyDays: math.Round((s.Age - s.Recency) * 7), FrequencyDays: int64(s.Frequency) + 1,
			MonetaryCents: pop.cents[i], R: int(scores[i].R), F: int(scores[i].F), M: int(scores[i].M),
			Segment: string(scores[i].Segment), UpdatedAt: now,
		}
		if labels != nil {
			c := labels[i]
			row.Cluster = &c
		}
		if preds != nil && preds[i].ok {
			p := preds[i].p
			row.CLV = &store.CLVFigures{ProbAlive: p.ProbAlive, ExpectedPurchases: p.ExpectedPurchases,
				ExpectedAOV: p.ExpectedSpend, Value: p.Value, ModelVersion: clvVersion}
		}
		chunk = append(chunk, row)
		if len(chunk) == cap(chunk) || i == n-1 {
			if err := st.WriteCustomerAnalytics(ctx, chunk); err != nil {
				return nil, fmt.Errorf("analytics refresh: %w", err)
			}
			chunk = chunk[:0]
		}
	}
	lap(&rep.WriteSeconds)
	rep.Seconds = time.Since(start).Seconds()
	r.log.Info("analytics refreshed", "as_of", asOf, "customers", n, "cohort_cells", len(cells),
		"clv_model", rep.CLVVersion, "clv_fitted", rep.CLVFitted, "k", rep.K, "seconds", rep.Seconds,
		"read_s", rep.ReadSeconds, "clv_s", rep.CLVSeconds, "segments_s", rep.SegmentsSeconds, "write_s", rep.WriteSeconds)
	return rep, nil
}

// read streams every customer's purchase days and category spend into a
// population, and builds the cohort matrix on the way.
func (r *Refresh) read(ctx context.Context, asOf, until time.Time) (*population, []store.CohortCell, error) {
	pop := &population{}
	coh := newCohortBuilder()
	var cur []store.PurchaseDay
	var buf []analytics.Purchase
	flush := func() error {
		if len(cur) == 0 {
			return nil
		}
		buf = buf[:0]
		var cents int64
		for _, d := range cur {
			buf = append(buf, analytics.Purchase{CustomerID: d.CustomerID, Time: d.Day, Amount: float64(d.AmountCents) / 100})
			cents += d.AmountCents
		}
		s, err := analytics.Summarize(buf, asOf, analytics.Week)
		if err != nil {
			return err
		}
		if len(s) != 1 {
			return fmt.Errorf("customer %q: %d summaries from %d purchase days", cur[0].CustomerID, len(s), len(cur))
		}
		pop.sums = append(pop.sums, s[0])
		pop.cents = append(pop.cents, cents)
		coh.add(cur)
		cur = cur[:0]
		return nil
	}
	err := r.cfg.Store.PurchaseDays(ctx, until, func(d *store.PurchaseDay) error {
		pop.days++
		if len(cur) > 0 && d.CustomerID != cur[0].CustomerID {
			if d.CustomerID < cur[0].CustomerID {
				return fmt.Errorf("purchase days out of order: customer %q after %q", d.CustomerID, cur[0].CustomerID)
			}
			if err := flush(); err != nil {
				return err
			}
		}
		cur = append(cur, *d)
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("summarising customers: %w", err)
	}

	// Category spend arrives in the same customer order: walk along.
	catOf := map[string]int32{}
	pop.catStart = make([]int32, len(pop.sums)+1)
	j := 0
	err = r.cfg.Store.CategorySpend(ctx, until, func(c *store.CategorySpend) error {
		for j < len(pop.sums) && pop.sums[j].CustomerID < c.CustomerID {
			j++
			pop.catStart[j] = int32(len(pop.catIdx))
		}
		if j == len(pop.sums) || pop.sums[j].CustomerID != c.CustomerID {
			// A first purchase committed between the two reads: this
			// customer is scored next run.
			return nil
		}
		k, ok := catOf[c.Category]
		if !ok {
			k = int32(len(pop.catNames))
			catOf[c.Category] = k
			pop.catNames = append(pop.catNames, c.Category)
		}
		pop.catIdx = append(pop.catIdx, k)
		pop.catCents = append(pop.catCents, c.Cents)
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("reading category mix: %w", err)
	}
	for j < len(pop.sums) {
		j++
		pop.catStart[j] = int32(len(pop.catIdx))
	}
	return pop, coh.result(), nil
}

type prediction struct {
	p  analytics.CLVPrediction
	ok bool // finite and non-negative
}

// clv refits the CLV models, or falls back to the stored one, and predicts
// every customer. It returns nil predictions when there is no model.
func (r *Refresh) clv(ctx context.Context, pop *population, asOf time.Time, rep *RefreshReport) ([]prediction, int, error) {
	st := r.cfg.Store
	cfg := analytics.CLVConfig{Months: r.cfg.CLVMonths, AnnualDiscountRate: r.cfg.DiscountRate, Period: analytics.Week}
	model, params, metrics, note := r.fitCLV(pop, asOf, cfg)
	version := 0
	if model == nil {
		rep.CLVNote = note
		prev, err := st.LatestModelVersion(ctx, store.ModelCLV)
		if errors.Is(err, store.ErrNoModel) {
			r.log.Info("CLV not refitted and no earlier model: no CLV this run", "reason", note)
			return nil, 0, nil
		}
		if err != nil {
			return nil, 0, err
		}
		var p CLVParams
		if err := json.Unmarshal(prev.Params, &p); err != nil {
			return nil, 0, fmt.Errorf("decoding CLV model %d: %w", prev.Version, err)
		}
		if model, err = p.model(cfg); err != nil {
			return nil, 0, fmt.Errorf("CLV model %d: %w", prev.Version, err)
		}
		version = prev.Version
		r.log.Info("CLV not refitted; keeping the previous model", "reason", note, "version", version)
	}
	raw := model.PredictAll(pop.sums, nil)
	preds := make([]prediction, len(raw))
	var alive, total float64
	bad := 0
	for i, p := range raw {
		ok := finiteNonNeg(p.ProbAlive) && p.ProbAlive <= 1 && finiteNonNeg(p.ExpectedPurchases) && finiteNonNeg(p.ExpectedSpend) && finiteNonNeg(p.Value)
		preds[i] = prediction{p, ok}
		if !ok {
			bad++
			continue
		}
		alive += p.ProbAlive
		total += p.Value
	}
	if bad > 0 {
		r.log.Warn("CLV not finite for some customers; stored without CLV", "customers", bad)
	}
	if version == 0 {
		good := float64(max(len(raw)-bad, 1))
		metrics.MeanProbAlive, metrics.TotalCLV, metrics.MeanCLV = alive/good, total, total/good
		pj, err := json.Marshal(params)
		if err != nil {
			return nil, 0, err
		}
		mj, err := json.Marshal(metrics)
		if err != nil {
			return nil, 0, err
		}
		if version, err = st.SaveModelVersion(ctx, store.ModelCLV, pj, mj); err != nil {
			return nil, 0, err
		}
		rep.CLVFitted = true
	}
	rep.CLVVersion = version
	return preds, version, nil
}

func finiteNonNeg(v float64) bool { return v >= 0 && !math.IsInf(v, 0) }

// fitCLV fits BG/NBD and Gamma-Gamma, or says why it did not.
func (r *Refresh) fitCLV(pop *population, asOf time.Time, cfg analytics.CLVConfig) (*analytics.CLV, CLVParams, CLVMetrics, string) {
	var params CLVParams
	var metrics CLVMetrics
	n := len(pop.sums)
	repeat := 0
	for _, s := range pop.sums {
		if s.Frequency > 0 {
			repeat++
		}
	}
	switch {
	case n < r.cfg.MinCustomers:
		return nil, params, metrics, fmt.Sprintf("%d customers, at least %d needed to fit", n, r.cfg.MinCustomers)
	case repeat < r.cfg.MinRepeatCustomers:
		return nil, params, metrics, fmt.Sprintf("%d repeat customers, at least %d needed to fit Gamma-Gamma", repeat, r.cfg.MinRepeatCustomers)
	}
	start := time.Now()
	bg, err := analytics.FitBGNBD(pop.sums)
	if err != nil {
		return nil, params, metrics, "BG/NBD fit failed: " + err.Error()
	}
	gg, err := analytics.FitGammaGamma(pop.sums)
	if err != nil {
		return nil, params, metrics, "Gamma-Gamma fit failed: " + err.Error()
	}
	model, err := analytics.NewCLV(bg.BGNBD, gg.GammaGamma, cfg)
	if err != nil {
		return nil, params, metrics, "fitted parameters unusable: " + err.Error()
	}
	params.BGNBD.R, params.BGNBD.Alpha, params.BGNBD.A, params.BGNBD.B = bg.R, bg.Alpha, bg.A, bg.B
	params.GammaGamma.P, params.GammaGamma.Q, params.GammaGamma.Gamma = gg.P, gg.Q, gg.Gamma
	params.Period = "week"
	metrics = CLVMetrics{
		AsOf: asOf, Customers: n, RepeatCustomers: gg.Customers,
		BGNBDLogLikelihood: bg.LogLikelihood, GammaGammaLogLikelihood: gg.LogLikelihood,
		FrequencyMonetaryCorrelation: freqMonetaryCorr(pop.sums), PopulationMeanSpend: gg.PopulationMean(),
		HorizonMonths: cfg.Months, DiscountRate: cfg.AnnualDiscountRate, FitSeconds: time.Since(start).Seconds(),
	}
	return model, params, metrics, ""
}

// model rebuilds the predictor of stored parameters.
func (p CLVParams) model(cfg analytics.CLVConfig) (*analytics.CLV, error) {
	if p.Period != "week" {
		return nil, fmt.Errorf("period %q, want week", p.Period)
	}
	bg := analytics.BGNBD{R: p.BGNBD.R, Alpha: p.BGNBD.Alpha, A: p.BGNBD.A, B: p.BGNBD.B}
	gg := analytics.GammaGamma{P: p.GammaGamma.P, Q: p.GammaGamma.Q, Gamma: p.GammaGamma.Gamma}
	return analytics.NewCLV(bg, gg, cfg)
}

// freqMonetaryCorr is the Pearson correlation of x and mean repeat spend
// over repeat customers (0 when undefined).
func freqMonetaryCorr(sums []analytics.Summary) float64 {
	var n, sx, sy, sxx, syy, sxy float64
	for _, s := range sums {
		if s.Frequency == 0 {
			continue
		}
		x, y := float64(s.Frequency), s.MonetaryMean
		n++
		sx, sy, sxx, syy, sxy = sx+x, sy+y, sxx+x*x, syy+y*y, sxy+x*y
	}
	den := math.Sqrt((n*sxx - sx*sx) * (n*syy - sy*sy))
	if n < 2 || !(den > 0) {
		return 0
	}
	return (n*sxy - sx*sy) / den
}

// segments clusters the population and returns every customer's cluster,
// or nil with the reason in rep when it cannot.
func (r *Refresh) segments(ctx context.Context, pop *population, asOf time.Time, preds []prediction, rep *RefreshReport) ([]int, error) {
	n := len(pop.sums)
	top := topCategories(pop, r.cfg.Categories)
	names := []string{"recency_days", "log1p_frequency", "log1p_monetary"}
	for _, k := range top {
		names = append(names, "share:"+pop.catNames[k])
	}
	d := len(names)
	slot := make([]int, len(pop.catNames)) // category -> feature index, or -1
	for i := range slot {
		slot[i] = -1
	}
	for i, k := range top {
		slot[k] = 3 + i
	}
	features := func(i int, dst []float64) {
		clear(dst)
		s := pop.sums[i]
		v := s.RFMValues()
		dst[0], dst[1], dst[2] = math.Round(v.Recency*7), math.Log1p(v.Frequency), math.Log1p(max(v.Monetary, 0))
		var total int64
		for e := pop.catStart[i]; e < pop.catStart[i+1]; e++ {
			total += pop.catCents[e]
		}
		if total <= 0 {
			return
		}
		for e := pop.catStart[i]; e < pop.catStart[i+1]; e++ {
			if f := slot[pop.catIdx[e]]; f >= 0 {
				dst[f] = float64(pop.catCents[e]) / float64(total)
			}
		}
	}

	rng := rand.New(rand.NewPCG(r.cfg.Seed, 0x5e6))
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	if n > r.cfg.SampleSize {
		// Partial Fisher-Yates: the first SampleSize are a uniform sample.
		for i := range r.cfg.SampleSize {
			j := i + rng.IntN(n-i)
			idx[i], idx[j] = idx[j], idx[i]
		}
		idx = idx[:r.cfg.SampleSize]
	}
	flat := make([]float64, len(idx)*d)
	sample := make([][]float64, len(idx))
	for s, i := range idx {
		sample[s] = flat[s*d : (s+1)*d : (s+1)*d]
		features(i, sample[s])
	}
	seg, err := analytics.FitSegments(sample, analytics.SegmentConfig{K: r.cfg.K, KMin: r.cfg.KMin, KMax: r.cfg.KMax, Seed: r.cfg.Seed})
	if err != nil {
		rep.SegmentsNote = "clustering skipped: " + err.Error()
		r.log.Info("behavioural clustering skipped", "reason", err)
		return nil, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	labels := make([]int, n)
	buf := make([]float64, d)
	prof := make([]ClusterProfile, seg.K)
	catSpend := make([][]int64, seg.K)
	clvSum, clvN := make([]float64, seg.K), make([]int, seg.K)
	for c := range prof {
		prof[c].Cluster = c
		catSpend[c] = make([]int64, len(pop.catNames))
	}
	for i := range n {
		features(i, buf)
		c := seg.Predict(buf)
		labels[i] = c
		p := &prof[c]
		p.Size++
		p.MeanRecencyDays += buf[0]
		p.MeanFrequency += float64(pop.sums[i].Frequency + 1)
		p.MeanMonetary += float64(pop.cents[i]) / 100
		if preds != nil && preds[i].ok {
			clvSum[c] += preds[i].p.Value
			clvN[c]++
		}
		for e := pop.catStart[i]; e < pop.catStart[i+1]; e++ {
			catSpend[c][pop.catIdx[e]] += pop.catCents[e]
		}
	}
	for c := range prof {
		p := &prof[c]
		if p.Size > 0 {
			sz := float64(p.Size)
			p.Share, p.MeanRecencyDays, p.MeanFrequency, p.MeanMonetary = sz/float64(n), p.MeanRecencyDays/sz, p.MeanFrequency/sz, p.MeanMonetary/sz
		}
		if clvN[c] > 0 {
			m := clvSum[c] / float64(clvN[c])
			p.MeanCLV = &m
		}
		p.TopCategories = topShares(catSpend[c], pop.catNames, 3)
	}

	params := SegmentsParams{K: seg.K, Features: names, Centroids: seg.Centroids, Seed: r.cfg.Seed, SampleSize: len(idx)}
	metrics := SegmentsMetrics{AsOf: asOf, Customers: n, Clusters: prof, Candidates: []KSilhouette{}}
	if !math.IsNaN(seg.Silhouette) {
		s := seg.Silhouette
		metrics.Silhouette = &s
	}
	for _, c := range seg.Candidates {
		metrics.Candidates = append(metrics.Candidates, KSilhouette{c.K, c.Silhouette})
	}
	pj, err := json.Marshal(params)
	if err != nil {
		return nil, err
	}
	mj, err := json.Marshal(metrics)
	if err != nil {
		return nil, err
	}
	v, err := r.cfg.Store.SaveModelVersion(ctx, store.ModelSegments, pj, mj)
	if err != nil {
		return nil, err
	}
	rep.SegmentsVersion, rep.K, rep.Silhouette = v, seg.K, metrics.Silhouette
	return labels, nil
}

// topCategories returns the indexes of the c categories with the most
// spend over the population, largest first (ties by name).
func topCategories(pop *population, c int) []int {
	total := make([]int64, len(pop.catNames))
	for e, k := range pop.catIdx {
		total[k] += pop.catCents[e]
	}
	order := make([]int, len(total))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		if c := cmp.Compare(total[b], total[a]); c != 0 {
			return c
		}
		return cmp.Compare(pop.catNames[a], pop.catNames[b])
	})
	return order[:min(c, len(order))]
}

// topShares returns the n largest categories of spend with their share.
func topShares(spend []int64, names []string, n int) []CategoryShare {
	var total int64
	order := make([]int, 0, len(spend))
	for k, v := range spend {
		total += v
		if v > 0 {
			order = append(order, k)
		}
	}
	slices.SortFunc(order, func(a, b int) int {
		if c := cmp.Compare(spend[b], spend[a]); c != 0 {
			return c
		}
		return cmp.Compare(names[a], names[b])
	})
	out := []CategoryShare{}
	for _, k := range order[:min(n, len(order))] {
		out = append(out, CategoryShare{names[k], float64(spend[k]) / float64(total)})
	}
	return out
}
