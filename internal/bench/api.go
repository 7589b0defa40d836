package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/shopstream/shopstream/internal/abtest"
	"github.com/shopstream/shopstream/internal/detector"
	"github.com/shopstream/shopstream/internal/event"
	"github.com/shopstream/shopstream/internal/generate"
	"github.com/shopstream/shopstream/internal/jobs"
	"github.com/shopstream/shopstream/internal/pipeline"
	"github.com/shopstream/shopstream/internal/quality/monitor"
	"github.com/shopstream/shopstream/internal/recsvc"
	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/postgres"
	"github.com/shopstream/shopstream/internal/store/sqlite"
	"github.com/shopstream/shopstream/internal/web"
)

// APIConfig configures the API phase: how fast the dashboard's API
// answers over a store holding many transactions.
type APIConfig struct {
	// PostgresURL is the server to fill, in a schema of its own dropped
	// afterwards. Required unless SQLiteDir is set.
	PostgresURL string
	// SQLiteDir, when set, fills an embedded store in this directory
	// instead.
	SQLiteDir string
	// Records is how many generated transactions are stored. Defaults to
	// 1,000,000.
	Records int
	// Customers in the generated shop. Defaults to Records / 20.
	Customers int
	// Span is the event time the records cover, ending now, so the
	// pages' "last hour" and "last day" hold data, and the CLV model has
	// the 8 weeks of repeat purchases it needs. Defaults to 90 days.
	Span time.Duration
	// Seed of the generator. Defaults to 1.
	Seed int64
	// Batch is the records per stored batch. Defaults to 10,000.
	Batch int
	// Partitions the records are spread over. Defaults to 6.
	Partitions int
	// Requests per route measured, after three not measured. Defaults to
	// 100.
	Requests int
	// Detector scores the records as the processor does (one scorer per
	// partition) and serves the fraud API. Required.
	Detector *detector.Detector
	// NewScorer is the processor's fraud scorer factory. Required.
	NewScorer func(partition int32) pipeline.Scorer
	// SkipRefresh leaves out the customer-analytics refresh (RFM, CLV,
	// cohorts) after the fill.
	SkipRefresh bool
	// Exposures is how many customers the benchmark's experiment exposes
	// (each at their first transaction in its last 30 days, so their
	// purchases fall in the conversion window), for the Products page's
	// experiment results. Defaults to Customers / 5; -1 for none.
	Exposures int
	// MeasureAt are record counts below Records at which the fill pauses
	// to refresh the analytics (unless SkipRefresh) and time every route
	// as at the end, so one fill measures several sizes. None by default.
	MeasureAt []int
	// Logger receives progress. Defaults to slog.Default().
	Logger *slog.Logger
}

// APIResult is what the API phase measured.
type APIResult struct {
	Store     string `json:"store"`
	Records   int    `json:"records"`
	Alerts    int    `json:"alerts"`
	Customers int    `json:"customers"`
	// Exposures are the experiment's exposed customers, DriftSamples the
	// drift detector's samples stored (a week of them, as the Data quality
	// page's trend reads).
	Exposures    int     `json:"exposures"`
	DriftSamples int     `json:"drift_samples"`
	FillS        float64 `json:"fill_s"`
	RefreshS     float64 `json:"refresh_s"`
	// ProductFoldS is the product fold's catch-up over the whole fill
	// (the top products' rollup, off the write path), ProductFoldTxs what
	// it folded.
	ProductFoldS   float64 `json:"product_fold_s"`
	ProductFoldTxs int     `json:"product_fold_transactions"`
	Requests       int     `json:"requests"`
	// Routes in the order the pages call them.
	Routes []APIRoute `json:"routes"`
	// LoadAvg is /proc/loadavg as the routes' timing began and ended.
	LoadAvg [2]string `json:"loadavg"`
	// Earlier are the measurements at MeasureAt, smallest first.
	Earlier []APIMeasure `json:"earlier,omitempty"`
}

// APIMeasure is the routes timed part-way through the fill.
type APIMeasure struct {
	Records  int     `json:"records"`
	Alerts   int     `json:"alerts"`
	RefreshS float64 `json:"refresh_s"`
	// ProductFoldS is the product fold's catch-up since the last measure.
	ProductFoldS   float64    `json:"product_fold_s"`
	ProductFoldTxs int        `json:"product_fold_transactions"`
	Routes         []APIRoute `json:"routes"`
	LoadAvg        [2]string  `json:"loadavg"`
}

// APIRoute is the latency of one GET as a page sends it.
type APIRoute struct {
	Page  string `json:"page"`
	Route string `json:"route"`
	// FirstMs is the first (cold) request's; P50, P95 and Max are of the
	// measured requests that follow.
	FirstMs float64 `json:"first_ms"`
	P50Ms   float64 `json:"p50_ms"`
	P95Ms   float64 `json:"p95_ms"`
	MaxMs   float64 `json:"max_ms"`
	Bytes   int     `json:"bytes"`
}

func (c APIConfig) withDefaults() APIConfig {
	if c.Records == 0 {
		c.Records = 1_000_000
	}
	if c.Customers == 0 {
		c.Customers = max(1000, c.Records/20)
	}
	if c.Span == 0 {
		c.Span = 90 * 24 * time.Hour
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.Exposures == 0 {
		c.Exposures = c.Customers / 5
	}
	if c.Batch == 0 {
		c.Batch = 10_000
	}
	if c.Partitions == 0 {
		c.Partitions = 6
	}
	if c.Requests == 0 {
		c.Requests = 100
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// RunAPI fills a throwaway store with cfg.Records generated transactions,
// stored as the processor stores them (scored, with the generator's
// labels, alerts, windows and detection rollups, through the store's own
// batch write), runs the customer-analytics refresh once, then requests
// every GET a dashboard page sends, with the page's query strings, over
// loopback, and returns their latencies; likewise part-way through the
// fill at cfg.MeasureAt.
func RunAPI(ctx context.Context, cfg APIConfig) (*APIResult, error) {
	cfg = cfg.withDefaults()
	if cfg.Detector == nil || cfg.NewScorer == nil {
		return nil, errors.New("bench api: Detector and NewScorer are required")
	}
	log := cfg.Logger.With("phase", "api")
	res := &APIResult{Records: cfg.Records, Requests: cfg.Requests}
	var st interface {
		store.Store
		store.Fraud
		store.Analytics
		store.Quality
		store.Quarantine
		store.AlertDeliveries
		store.Experiments
		store.Purchases
		store.QualityDrift
	}
	switch {
	case cfg.SQLiteDir != "":
		s, err := sqlite.Open(ctx, cfg.SQLiteDir)
		if err != nil {
			return nil, err
		}
		defer s.Close()
		st, res.Store = s, "sqlite"
	case cfg.PostgresURL != "":
		u, drop, err := schemaURL(ctx, cfg.PostgresURL, "bench_api")
		if err != nil {
			return nil, err
		}
		defer drop()
		s, err := postgres.Open(ctx, u)
		if err != nil {
			return nil, err
		}
		defer s.Close()
		st, res.Store = s, "postgres"
	default:
		return nil, errors.New("bench api: PostgresURL or SQLiteDir is required")
	}

	// No rate limit: one client sends every request, as fast as answered.
	srv, err := web.New(web.Config{Store: st, Logger: slog.New(slog.DiscardHandler), Limits: web.Limits{AddrRate: -1, TokenRate: -1}})
	if err != nil {
		return nil, err
	}
	// Detection figures are computed per request, as a first dashboard
	// after a quiet spell finds them (the API reuses one for 10 s).
	web.RegisterFraud(srv, web.FraudDeps{Store: st, Detector: cfg.Detector, MetricsTTL: time.Nanosecond})
	web.RegisterAnalytics(srv, st)
	web.RegisterQuality(srv, st, nil)
	web.RegisterQuarantine(srv, st, nil)
	web.RegisterDeliveries(srv, st)
	exps, err := abtest.New(abtest.Config{Store: st, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, err
	}
	web.RegisterExperiments(srv, exps)
	now := time.Now()
	var exp *benchExperiment
	if cfg.Exposures > 0 {
		d, err := exps.Create(ctx, abtest.Definition{Name: benchExperimentName, Start: now.Add(-benchExperimentSpan),
			Window: abtest.Duration(time.Hour), Variants: []abtest.Variant{
				{Name: "control", Weight: 0.5, Recommender: "item-item"}, {Name: "popular", Weight: 0.5, Recommender: "popularity"}}})
		if err != nil {
			return nil, fmt.Errorf("creating the benchmark's experiment: %w", err)
		}
		exp = &benchExperiment{st: st, name: d.Name, start: d.Start, window: time.Duration(d.Window), limit: cfg.Exposures, seen: map[string]bool{}}
	}
	if res.DriftSamples, err = fillDrift(ctx, st, now); err != nil {
		return nil, err
	}
	// The Products page's and the customer page's recommendations, from
	// a service that folds what is stored before each measure, as the
	// dashboard's server does as it tails the store.
	recs, err := recsvc.New(recsvc.Config{Store: st, Assigner: exps, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, err
	}
	web.RegisterRecommendations(srv, recs)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	// Served as the product serves: its read, write and idle timeouts.
	sctx, stopServe := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(sctx, ln) }()
	defer func() {
		stopServe()
		<-served
	}()
	base := "http://" + ln.Addr().String()

	// measure refreshes the analytics (unless skipped) and times every
	// route over what is stored so far.
	measure := func(m *APIMeasure, sample apiSample) error {
		if !cfg.SkipRefresh {
			start := time.Now()
			r, err := jobs.NewRefresh(jobs.RefreshConfig{Store: st, Logger: log})
			if err != nil {
				return err
			}
			if _, err := r.RunOnce(ctx); err != nil {
				return fmt.Errorf("the analytics refresh: %w", err)
			}
			m.RefreshS = time.Since(start).Seconds()
			log.Info("analytics refreshed", "records", m.Records, "took", time.Since(start).Round(time.Second))
		}
		// The top products' rollup is folded off the write path, as the
		// leader's product fold job does: timed, in its default chunks.
		if fs, ok := st.(jobs.ProductFoldStore); ok {
			start := time.Now()
			pf, err := jobs.NewProductFold(jobs.ProductFoldConfig{Store: fs, Logger: log})
			if err != nil {
				return err
			}
			rep, err := pf.RunOnce(ctx)
			if err != nil {
				return fmt.Errorf("the product fold: %w", err)
			}
			m.ProductFoldS, m.ProductFoldTxs = time.Since(start).Seconds(), rep.Transactions
			log.Info("products folded", "records", m.Records, "transactions", rep.Transactions, "took", time.Since(start).Round(time.Millisecond))
		}
		if _, err := recs.Fold(ctx); err != nil {
			return fmt.Errorf("folding the recommendations: %w", err)
		}
		recs.Rebuild()
		m.LoadAvg[0] = loadAvg()
		for _, rt := range apiRoutes(time.Now(), sample.latest, sample, exp != nil) {
			r, err := measureRoute(ctx, base, rt, cfg.Requests)
			if err != nil {
				return err
			}
			log.Info("route measured", "records", m.Records, "route", r.Route, "p50_ms", r.P50Ms, "p95_ms", r.P95Ms, "max_ms", r.MaxMs)
			m.Routes = append(m.Routes, *r)
		}
		m.LoadAvg[1] = loadAvg()
		return nil
	}
	at := slices.Sorted(slices.Values(cfg.MeasureAt))
	var paused time.Duration
	checkpoint := func(done int, sample apiSample) error {
		if len(at) == 0 || done < at[0] || done >= cfg.Records {
			return nil
		}
		for len(at) > 0 && at[0] <= done {
			at = at[1:]
		}
		t0 := time.Now()
		m := APIMeasure{Records: done, Alerts: res.Alerts}
		if err := measure(&m, sample); err != nil {
			return err
		}
		res.Earlier = append(res.Earlier, m)
		paused += time.Since(t0)
		return nil
	}

	start := time.Now()
	log.Info("filling the store", "records", cfg.Records, "customers", cfg.Customers, "span", cfg.Span)
	sample, err := fillAPI(ctx, cfg, st, res, exp, log, checkpoint)
	if err != nil {
		return nil, err
	}
	if exp != nil {
		res.Exposures = len(exp.seen)
	}
	res.FillS = (time.Since(start) - paused).Seconds() // the pauses to measure are not the fill's
	log.Info("store filled", "took", time.Since(start).Round(time.Second), "alerts", res.Alerts)
	final := APIMeasure{Records: res.Records, Alerts: res.Alerts}
	if err := measure(&final, sample); err != nil {
		return nil, err
	}
	res.RefreshS, res.Routes, res.LoadAvg = final.RefreshS, final.Routes, final.LoadAvg
	res.ProductFoldS, res.ProductFoldTxs = final.ProductFoldS, final.ProductFoldTxs
	for _, m := range res.Earlier {
		res.ProductFoldS += m.ProductFoldS
		res.ProductFoldTxs += m.ProductFoldTxs
	}
	return res, nil
}

// loadAvg is /proc/loadavg without its newline, "" where there is none.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// apiSample is what the routes need from the stored data: a customer, a
// rule that fired, a scenario, the newest alert's transaction and the
// newest event time stored.
type apiSample struct {
	customer, rule, scenario, alert, product string
	latest                                   time.Time
}

// fillAPI stores the generated history, partition by partition in
// batches of cfg.Batch, as the processor would have.
func fillAPI(ctx context.Context, cfg APIConfig, st store.Store, res *APIResult, exp *benchExperiment, log *slog.Logger,
	checkpoint func(done int, sample apiSample) error) (apiSample, error) {
	var sample apiSample
	g, err := generate.New(generate.Config{Seed: cfg.Seed, Customers: cfg.Customers})
	if err != nil {
		return sample, err
	}
	res.Customers = cfg.Customers
	scorers := make([]pipeline.Scorer, cfg.Partitions)
	for p := range scorers {
		scorers[p] = cfg.NewScorer(int32(p))
	}
	begin := time.Now().Add(-cfg.Span)
	step := cfg.Span / time.Duration(cfg.Records)
	next := make([]int64, cfg.Partitions)
	produced := time.Now()
	var t event.Transaction
	lastLog := time.Now()
	for done := 0; done < cfg.Records; {
		k := min(cfg.Batch, cfg.Records-done)
		parts := make([]store.Part, cfg.Partitions)
		for p := range parts {
			parts[p] = store.Part{Partition: int32(p), From: next[p]}
		}
		for i := range k {
			at := begin.Add(time.Duration(done+i) * step)
			sample.latest = at
			r := g.NextAt(at)
			if r.Bad != "" || event.Decode(r.Value, &t) != nil {
				continue // the bad records' quarantine is not what the pages read most
			}
			p := int(fnv32(r.Key) % uint32(cfg.Partitions))
			part := &parts[p]
			row := pipeline.NewTx(&t, int32(p), part.From+int64(len(part.Txs)), produced, nil)
			scorers[p].Score(&t, &row)
			part.Txs = append(part.Txs, row)
			if r.Fraud { // labels exist only where fraud was reported: here, all of it
				part.Labels = append(part.Labels, store.Label{TransactionID: row.TransactionID, Fraud: true, Scenario: r.Scenario})
			}
			if row.Decision != "approve" {
				part.Alerts = append(part.Alerts, store.Alert{TransactionID: row.TransactionID, CustomerID: row.CustomerID,
					EventTime: row.EventTime, Risk: row.Risk, Decision: row.Decision, ReasonsJSON: row.ReasonsJSON, AmountCents: row.TotalCents,
					ModelVersion: row.ModelVersion})
				res.Alerts++
				sample.alert = row.TransactionID
				if sample.rule == "" {
					sample.rule = firstRule(row.ReasonsJSON)
				}
			}
			if r.Fraud && sample.scenario == "" {
				sample.scenario = r.Scenario
			}
			if sample.customer == "" {
				sample.customer = row.CustomerID
			}
			if sample.product == "" && len(t.Items) > 0 {
				sample.product = t.Items[0].ProductID
			}
			exp.consider(&t, sample.product)
		}
		b := &store.Batch{Group: "bench-api", Topic: "transactions", Generation: -1}
		for p := range parts {
			if len(parts[p].Txs) == 0 {
				continue
			}
			parts[p].To = parts[p].From + int64(len(parts[p].Txs))
			next[p] = parts[p].To
			b.Parts = append(b.Parts, parts[p])
		}
		if err := st.WriteBatch(ctx, b); err != nil {
			return sample, fmt.Errorf("storing records %d..%d: %w", done, done+k, err)
		}
		if err := exp.flush(ctx); err != nil {
			return sample, err
		}
		done += k
		if err := checkpoint(done, sample); err != nil {
			return sample, err
		}
		if time.Since(lastLog) > 30*time.Second {
			log.Info("filling", "stored", done, "of", cfg.Records)
			lastLog = time.Now()
		}
	}
	return sample, nil
}

// fnv32 spreads keys over partitions as a Kafka client's hash would: one
// customer's records stay in one partition.
func fnv32(b []byte) uint32 {
	h := uint32(2166136261)
	for _, c := range b {
		h ^= uint32(c)
		h *= 16777619
	}
	return h
}

// firstRule is the name of the first rule among reasons, "" when none.
func firstRule(reasons []byte) string {
	const key = `{"rule":"`
	s := string(reasons)
	j := strings.Index(s, key)
	if j < 0 {
		return ""
	}
	s = s[j+len(key):]
	if k := strings.IndexByte(s, '"'); k > 0 {
		return s[:k]
	}
	return ""
}

// apiRoute is one GET a page sends.
type apiRoute struct{ page, path string }

// apiRoutes are the GETs the dashboard's pages send on load, with the
// query strings they build for the default range (the last hour) and
// for the last day and week. The ranges of event time (windows, alerts)
// end at the newest event stored, as a live shop's end now, whether the
// fill paused part-way or took an hour of wall-clock time; the quality
// counts and the quarantine are kept by wall-clock time, so theirs end
// now.
func apiRoutes(now, latest time.Time, s apiSample, experiment bool) []apiRoute {
	if latest.IsZero() {
		latest = now
	}
	iso := func(d time.Duration) string { return url.QueryEscape(now.Add(-d).UTC().Format(time.RFC3339)) }
	at := url.QueryEscape(now.Add(time.Minute).UTC().Format(time.RFC3339))
	evIso := func(d time.Duration) string { return url.QueryEscape(latest.Add(-d).UTC().Format(time.RFC3339)) }
	evAt := url.QueryEscape(latest.Add(time.Minute).UTC().Format(time.RFC3339))
	evHourAt := url.QueryEscape(latest.Add(time.Hour).UTC().Format(time.RFC3339))
	// The quality page's span, in the whole minutes the API counts.
	minute := now.UTC().Truncate(time.Minute).Add(time.Minute)
	rs := []apiRoute{
		{"overview", "/api/v1/summary"},
		{"overview", "/api/v1/windows?granularity=minute&step=60&by=currency&since=" + evIso(2*time.Hour) + "&until=" + evAt},
		{"overview", "/api/v1/windows?granularity=hour&step=3600&by=currency&since=" + evIso(48*time.Hour) + "&until=" + evHourAt},
		{"overview", "/api/v1/quality?from=" + iso(time.Hour) + "&to=" + iso(0)},
		{"fraud", "/api/v1/alerts?limit=100"},
		{"fraud", "/api/v1/alerts?decision=decline&limit=100"},
		{"fraud", "/api/v1/alerts?status=open&min_amount=500&limit=100"},
		{"fraud", "/api/v1/alerts?since=" + evIso(30*time.Minute) + "&until=" + evIso(0) + "&limit=100"},
		{"fraud", "/api/v1/fraud/rules"},
		{"fraud", "/api/v1/fraud/metrics?window=1h"},
		{"fraud", "/api/v1/fraud/metrics?window=24h"},
		{"fraud", "/api/v1/fraud/metrics?window=all"},
		{"fraud", "/api/v1/fraud/series?span=3600s"},
		{"fraud", "/api/v1/fraud/series?span=86400s"},
		{"fraud", "/api/v1/fraud/series?span=604800s"},
		{"fraud", "/api/v1/fraud/cost?window=1h"},
		{"fraud", "/api/v1/fraud/cost?window=24h"},
		{"fraud", "/api/v1/fraud/cost?window=all"},
		{"fraud", "/api/v1/fraud/models"},
		{"fraud", "/api/v1/fraud/rings?limit=20&since=" + iso(time.Hour)},
		{"customers", "/api/v1/segments"},
		{"customers", "/api/v1/cohorts"},
		{"customers", "/api/v1/segments/movement?limit=1"},
		{"customers", "/api/v1/clv/distribution"},
		{"quality", "/api/v1/quality?from=" + url.QueryEscape(minute.Add(-7*24*time.Hour).Format(time.RFC3339)) + "&to=" + url.QueryEscape(minute.Format(time.RFC3339))},
		{"quality", "/api/v1/quarantine?limit=50&since=" + iso(time.Hour) + "&until=" + at},
		{"system", "/api/v1/alerts/deliveries?limit=20"},
		{"system", "/api/v1/audit?limit=100"},
		{"experiments", "/api/v1/experiments"},
		{"products", "/api/v1/products/top?n=10"},
		// The Products page's top products of its range, from the product
		// rollup (migration 0029).
		{"products", "/api/v1/products/top?n=10&sort=units&since=" + evIso(time.Hour) + "&until=" + evAt},
		{"products", "/api/v1/products/top?n=10&sort=units&since=" + evIso(24*time.Hour) + "&until=" + evAt},
		{"products", "/api/v1/products/top?n=10&sort=units&since=" + evIso(30*24*time.Hour) + "&until=" + evAt},
		{"products", "/api/v1/products/top?n=10&sort=revenue&since=" + evIso(30*24*time.Hour) + "&until=" + evAt},
		{"products", "/api/v1/products/top?n=10&sort=customers&since=" + evIso(30*24*time.Hour) + "&until=" + evAt},
		// The 30-day range: 3-hour steps of event time per currency with
		// the previous period (as the page asks; and every stored hour,
		// channel and payment method as it asked before, to compare),
		// detection quality over time, the figures and the cost.
		{"overview", "/api/v1/windows?granularity=hour&step=10800&by=currency&since=" + evIso(60*24*time.Hour) + "&until=" + evHourAt},
		{"overview", "/api/v1/windows?granularity=hour&since=" + evIso(60*24*time.Hour) + "&until=" + evHourAt},
		{"fraud", "/api/v1/fraud/series?span=2592000s"},
		{"fraud", "/api/v1/fraud/metrics?window=30d"},
		{"fraud", "/api/v1/fraud/cost?window=30d"},
		// The server's own samples: the Overview's tx/s and p95 tiles, the
		// System page's charts (answered from memory, whatever is stored).
		{"overview", "/api/v1/metrics/series?name=dashboard:stored_transactions_total&since=" + iso(time.Hour)},
		{"overview", "/api/v1/metrics/histograms?name=shopstream_e2e_latency_seconds&quantile=0.95&since=" + iso(time.Hour)},
		{"system", "/api/v1/metrics/series?name=shopstream_store_size_bytes&name=dashboard:consumer_lag&quantile=0.5&quantile=0.95&since=" + iso(time.Hour)},
		// The processes whose samples are saved (the System page's picker).
		{"system", "/api/v1/metrics/instances"},
		// The Data quality page's drift trend over its 1 h default, a day
		// and a week (the most one answer reads per processor).
		{"quality", "/api/v1/quality/drift?since=" + iso(time.Hour) + "&until=" + at},
		{"quality", "/api/v1/quality/drift?since=" + iso(24*time.Hour) + "&until=" + at},
		{"quality", "/api/v1/quality/drift?since=" + url.QueryEscape(minute.Add(-7*24*time.Hour).Format(time.RFC3339)) + "&until=" + url.QueryEscape(minute.Format(time.RFC3339))},
	}
	if experiment {
		rs = append(rs, apiRoute{"experiments", "/api/v1/experiments/" + benchExperimentName})
	}
	if s.product != "" {
		rs = append(rs, apiRoute{"products", "/api/v1/products/" + url.PathEscape(s.product) + "/similar?n=10"})
	}
	if s.rule != "" {
		rs = append(rs, apiRoute{"fraud", "/api/v1/alerts?reason=" + url.QueryEscape(s.rule) + "&limit=100"})
	}
	if s.scenario != "" {
		rs = append(rs, apiRoute{"fraud", "/api/v1/alerts?scenario=" + url.QueryEscape(s.scenario) + "&limit=100"},
			apiRoute{"fraud", "/api/v1/alerts?scenario=" + url.QueryEscape(s.scenario) + "&decision=review&limit=100"})
	}
	if s.alert != "" {
		rs = append(rs, apiRoute{"fraud", "/api/v1/alerts/" + url.PathEscape(s.alert)})
	}
	if s.customer != "" {
		// The customer list: a segment's (drilled down from the segments
		// table) and a search by the first characters of an ID.
		prefix := s.customer[:max(1, len(s.customer)-2)]
		rs = append(rs, apiRoute{"customers", "/api/v1/customers?segment=Champions&limit=50"},
			apiRoute{"customers", "/api/v1/customers?segment=" + url.QueryEscape("At Risk") + "&limit=50"},
			apiRoute{"customers", "/api/v1/customers?prefix=" + url.QueryEscape(prefix) + "&limit=50"},
			apiRoute{"customers", "/api/v1/customers?sort=clv&limit=50"},
			apiRoute{"customers", "/api/v1/customers?segment=" + url.QueryEscape("At Risk") + "&sort=clv&limit=50"})
		rs = append(rs, apiRoute{"customers", "/api/v1/customers/" + url.PathEscape(s.customer)},
			apiRoute{"customers", "/api/v1/customers/" + url.PathEscape(s.customer) + "/transactions?limit=25"},
			apiRoute{"customers", "/api/v1/alerts?customer=" + url.QueryEscape(s.customer) + "&limit=20"},
			apiRoute{"customers", "/api/v1/customers/" + url.PathEscape(s.customer) + "/recommendations?n=5&preview=true"},
			apiRoute{"fraud", "/api/v1/fraud/rings?member=" + url.QueryEscape(s.customer) + "&limit=20"})
	}
	return rs
}

// measureRoute sends three requests not measured, then n measured, one
// at a time, each read to its end; any status but 200 fails the phase.
func measureRoute(ctx context.Context, base string, rt apiRoute, n int) (*APIRoute, error) {
	out := &APIRoute{Page: rt.page, Route: rt.path}
	get := func() (time.Duration, int, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+rt.path, nil)
		if err != nil {
			return 0, 0, err
		}
		t0 := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, 0, err
		}
		nb, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		d := time.Since(t0)
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("GET %s: status %d", rt.path, resp.StatusCode)
		}
		return d, int(nb), err
	}
	var ds []float64
	for i := range n + 3 {
		d, nb, err := get()
		if err != nil {
			return nil, err
		}
		ms := float64(d.Microseconds()) / 1000
		switch {
		case i == 0:
			out.FirstMs, out.Bytes = ms, nb
		case i >= 3:
			ds = append(ds, ms)
		}
	}
	slices.Sort(ds)
	out.P50Ms, out.P95Ms, out.MaxMs = quantileMs(ds, 0.5), quantileMs(ds, 0.95), ds[len(ds)-1]
	return out, nil
}

// quantileMs is the q-quantile of sorted values (nearest rank).
func quantileMs(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*q+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// The benchmark's experiment: two recommenders, running for the last
// 30 days of the fill.
const (
	benchExperimentName = "bench-recommenders"
	benchExperimentSpan = 30 * 24 * time.Hour
)

// benchExperiment exposes customers to the benchmark's experiment as the
// fill stores their transactions: each customer a minute before their
// first transaction after the experiment's start, up to limit
// customers, half to each variant. The product shown is that
// transaction's first for every third customer (a conversion), another
// for the rest.
type benchExperiment struct {
	st      store.Experiments
	name    string
	start   time.Time
	window  time.Duration
	limit   int
	seen    map[string]bool
	pending []store.Exposure
}

// consider exposes t's customer if t is their first transaction in the
// experiment; other is a product to show those who do not convert. A nil
// experiment exposes nobody.
func (e *benchExperiment) consider(t *event.Transaction, other string) {
	if e == nil || len(e.seen) >= e.limit || len(t.Items) == 0 || e.seen[t.CustomerID] {
		return
	}
	at := t.EventTime.Add(-time.Minute)
	if at.Before(e.start) {
		return
	}
	e.seen[t.CustomerID] = true
	h := fnv32([]byte(t.CustomerID))
	shown := other
	if h%3 == 0 {
		shown = t.Items[0].ProductID
	}
	e.pending = append(e.pending, store.Exposure{Experiment: e.name, CustomerID: t.CustomerID, Variant: int(h>>8) % 2,
		ExposedAt: at, WindowEnd: at.Add(e.window), Items: []string{shown}})
}

// flush stores the exposures considered since the last flush.
func (e *benchExperiment) flush(ctx context.Context) error {
	if e == nil {
		return nil
	}
	for i := range e.pending {
		if _, err := e.st.RecordExposure(ctx, &e.pending[i]); err != nil {
			return fmt.Errorf("storing the experiment's exposures: %w", err)
		}
	}
	e.pending = e.pending[:0]
	return nil
}

// fillDrift stores a week of the drift detector's samples, one a minute
// per field from each of two processors, ending now: what the Data
// quality page's trend reads over its longest range, however many
// transactions are stored. It returns how many it stored.
func fillDrift(ctx context.Context, st store.QualityDrift, now time.Time) (int, error) {
	end := now.UTC().Truncate(time.Minute)
	fields := []string{monitor.FieldAmount, monitor.FieldItems, monitor.FieldChannel}
	var batch []store.DriftSample
	n := 0
	for m := 7 * 24 * 60; m >= 0; m-- {
		at := end.Add(-time.Duration(m) * time.Minute)
		for s, src := range []string{"bench-process-0", "bench-process-1"} {
			for f, field := range fields {
				// A small PSI that moves over the day.
				psi := 0.02 + 0.01*float64((m/60+s+f)%24)/24
				batch = append(batch, store.DriftSample{At: at, Source: src, Field: field, PSI: psi, Ref: 60_000, Cur: 1_000})
			}
		}
		if len(batch) >= 6000 || m == 0 {
			if err := st.AddDriftSamples(ctx, batch); err != nil {
				return n, fmt.Errorf("storing drift samples: %w", err)
			}
			n += len(batch)
			batch = batch[:0]
		}
	}
	return n, nil
}
