package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/shopstream/shopstream/internal/analyticsview"
	"github.com/shopstream/shopstream/internal/jobs"
	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/web"
)

// analyticsFlags configure the analytics refresh: in `shopstream analytics`
// without a prefix, in the long-running commands prefixed "analytics-".
type analyticsFlags struct {
	prefix    string
	interval  time.Duration
	seed      uint64
	k         int
	discount  float64
	clvMonths int
	// foldMax bounds the customers the refresh keeps in memory
	// (jobs.RefreshConfig.FoldMaxCustomers; 0: no bound).
	foldMax int
	// busy and busyShare, set by process (not flags), bound the refresh
	// while its processor is behind (jobs.Job.BusyShare,
	// jobs.RefreshConfig.Busy).
	busy      func() bool
	busyShare float64
	// catchUp is the refresh's catch-up delay
	// (jobs.RefreshConfig.CatchUp): 0 its default, set negative by
	// process (not a flag), whose batches' latency each catch-up run of a
	// growing shop held back.
	catchUp time.Duration
	// reported, set by the one-shot refreshes (not a flag), says that
	// the caller prints the refresh's report (jobs.RefreshConfig.Reported).
	reported bool
}

func (f *analyticsFlags) register(fs *flag.FlagSet, prefix string) {
	f.prefix = prefix
	if prefix != "" {
		fs.DurationVar(&f.interval, prefix+"interval", time.Minute,
			"how often the customer-analytics refresh (RFM, CLV, clusters, cohorts) runs (run: sooner while it catches up with a growing population; process: every interval); one instance at a time; 0 turns it off")
	}
	fs.Uint64Var(&f.seed, prefix+"seed", 1, "seed of the k-means sample and starts (same data and seed, same clusters)")
	fs.IntVar(&f.k, prefix+"k", 0, "number of behavioural clusters (0: choose 2..8 by silhouette)")
	fs.Float64Var(&f.discount, prefix+"discount-rate", 0.10, "annual discount rate of predicted CLV")
	fs.IntVar(&f.clvMonths, prefix+"clv-months", 12, "CLV horizon in months")
	f.foldMax = 1_000_000
	if prefix != "" {
		fs.IntVar(&f.foldMax, prefix+"fold-max-customers", f.foldMax,
			"most customers whose purchase days the refresh keeps in memory between runs, to read only what was stored since (about 250 bytes each); beyond, it keeps none and reads every purchase from the store each run (0: no bound)")
	}
}

func (f *analyticsFlags) validate() error {
	switch {
	case f.interval < 0:
		return usageError{fmt.Errorf("invalid value %v for flag -%sinterval: must not be negative", f.interval, f.prefix)}
	case f.k < 0 || f.k > 100:
		return usageError{fmt.Errorf("invalid value %d for flag -%sk: want 0..100", f.k, f.prefix)}
	case !(f.discount > -1 && f.discount < 10):
		return usageError{fmt.Errorf("invalid value %v for flag -%sdiscount-rate: want a rate above -1 and below 10", f.discount, f.prefix)}
	case f.foldMax < 0:
		return usageError{fmt.Errorf("invalid value %d for flag -%sfold-max-customers: must not be negative", f.foldMax, f.prefix)}
	case f.clvMonths < 1 || f.clvMonths > 1200:
		return usageError{fmt.Errorf("invalid value %d for flag -%sclv-months: want 1..1200", f.clvMonths, f.prefix)}
	}
	return nil
}

func (f *analyticsFlags) refresh(a store.Analytics, logger *slog.Logger, reg prometheus.Registerer) (*jobs.Refresh, error) {
	foldMax := f.foldMax
	if foldMax == 0 {
		foldMax = -1 // the flag's 0 is the config's -1: no bound
	}
	return jobs.NewRefresh(jobs.RefreshConfig{Store: a, Logger: logger, Seed: f.seed, K: f.k,
		DiscountRate: f.discount, NoDiscount: f.discount == 0, CLVMonths: f.clvMonths,
		FoldMaxCustomers: foldMax, Registerer: reg, Busy: f.busy, BusyShare: f.busyShare, CatchUp: f.catchUp, Reported: f.reported})
}

// analyticsOf returns the store's analytics side.
func analyticsOf(st store.Store) (store.Analytics, error) {
	a, ok := st.(store.Analytics)
	if !ok {
		return nil, fmt.Errorf("store %T does not support customer analytics", st)
	}
	return a, nil
}

// registerAnalyticsAPI adds the customer-analytics routes to srv.
func registerAnalyticsAPI(srv *web.Server, st store.Store) error {
	a, err := analyticsOf(st)
	if err != nil {
		return err
	}
	web.RegisterAnalytics(srv, a)
	return nil
}

// startAnalyticsJob runs the analytics refresh in g every --analytics-interval
// (the first run after 5 seconds, or one interval if shorter; every 10 s
// while it catches up unless f.catchUp is negative, see
// jobs.RefreshConfig.CatchUp) until ctx ends; a
// zero interval runs nothing.
// Every instance may run it: the store's leader lock lets one refresh at a
// time and the others skip. While f.busy reports true (nil: never), the
// refresh takes at most f.busyShare of the time (jobs.Job.BusyShare).
func startAnalyticsJob(ctx context.Context, g *errgroup.Group, st store.Store, logger *slog.Logger, reg prometheus.Registerer, f *analyticsFlags) error {
	if err := f.validate(); err != nil {
		return err
	}
	if f.interval == 0 {
		return nil
	}
	a, err := analyticsOf(st)
	if err != nil {
		return err
	}
	r, err := f.refresh(a, logger, reg)
	if err != nil {
		return usageError{err}
	}
	job := r.Job(f.interval, min(5*time.Second, f.interval))
	job.BusyShare = f.busyShare
	runner, err := jobs.NewRunner(jobs.Config{Logger: logger, Registerer: reg, Busy: f.busy}, job)
	if err != nil {
		return err
	}
	g.Go(func() error { return runner.Run(ctx) })
	return nil
}

const analyticsUsage = `Usage: shopstream analytics rfm|cohorts|clv|segments|movement [flags]

Shows the customer analytics the periodic refresh stored:
  rfm       customers per RFM segment, with revenue and mean CLV
  cohorts   acquisition cohorts: retention by month since first purchase
  clv       the CLV model's parameters and fit, and the top customers by CLV
  segments  behavioural clusters (k-means) and their profiles
  movement  how customers moved between RFM segments at the latest refresh

--refresh runs the refresh first (as the one leader; skipped if another
instance is refreshing). --json prints what the REST API serves.

clv --as-of DAY fits the models on the stored purchases of the calibration
period ending that day; clv --summary FILE fits them on a per-customer
(x, t_x, T[, monetary]) summary like lifetimes', without a store. Both
print the parameters, and --predictions FILE writes each customer's
P(alive), expected purchases and expected spend. clv --validate --as-of DAY
[--holdout-end DAY] is the calibration/holdout check: the fit on the
purchases up to DAY, and its predicted against the actual repeat purchases
after it, per calibration frequency.

Flags:
`

func runAnalytics(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("analytics", stderr)
	fs.Usage = func() {
		io.WriteString(stderr, analyticsUsage)
		fs.PrintDefaults()
	}
	var sf storeFlags
	var af analyticsFlags
	var lf logFlags
	sf.register(fs)
	af.register(fs, "")
	lf.register(fs, "warn")
	asJSON := fs.Bool("json", false, "print JSON (the REST API's shape) instead of a table")
	refresh := fs.Bool("refresh", false, "run the analytics refresh once before showing")
	top := fs.Int("top", 10, "customers listed by the clv view, flows by the movement view")
	months := fs.Int("months", 12, "months since acquisition shown by the cohorts view (the JSON has all)")
	var cf clvFitFlags
	cf.register(fs)
	rfmCustomers := fs.String("customers", "", "rfm: compute every customer's RFM values, scores and segment as of --as-of (default: the last stored purchase's day) and write them to this CSV")
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
			fs.Usage()
			return flag.ErrHelp
		}
		fs.Usage()
		return usageError{errors.New("analytics: name what to show: rfm, cohorts, clv, segments or movement")}
	}
	what := args[0]
	switch what {
	case "rfm", "cohorts", "clv", "segments", "movement":
	default:
		fs.Usage()
		return usageError{fmt.Errorf("analytics: unknown view %q: want rfm, cohorts, clv, segments or movement", what)}
	}
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if err := af.validate(); err != nil {
		return err
	}
	if *top < 1 || *months < 1 {
		return usageError{fmt.Errorf("flags -top and -months must be at least 1")}
	}
	if (*cf.summary != "" || *cf.validate || (*cf.asOf != "" && what != "rfm")) && what != "clv" {
		return usageError{fmt.Errorf("flags -summary, -validate and -as-of go with the clv view (and -as-of with rfm --customers), not %s", what)}
	}
	if *rfmCustomers != "" && what != "rfm" {
		return usageError{fmt.Errorf("flag -customers goes with the rfm view, not %s", what)}
	}
	if what == "rfm" && *cf.asOf != "" && *rfmCustomers == "" {
		return usageError{errors.New("analytics rfm: flag -as-of needs -customers FILE (the stored scores are as of the last refresh)")}
	}
	if *cf.summary != "" {
		return runCLVFit(ctx, &cf, nil, stdout, *asJSON)
	}
	logger, err := lf.logger(stderr)
	if err != nil {
		return err
	}
	// Showing reads only: beside a `serve` or `run` holding the embedded
	// store, it reads the store read-only; a refresh writes.
	open := sf.open
	if !*refresh {
		open = func(ctx context.Context) (store.Store, error) { return sf.openToRead(ctx, stderr) }
	}
	st, err := open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	a, err := analyticsOf(st)
	if err != nil {
		return err
	}
	if *refresh {
		af.reported = true
		r, err := af.refresh(a, logger, nil)
		if err != nil {
			return usageError{err}
		}
		rep, err := r.RunOnce(ctx)
		switch {
		case errors.Is(err, jobs.ErrSkipped):
			fmt.Fprintln(stderr, "refresh skipped: another instance is refreshing; showing what is stored")
		case err != nil:
			return err
		default:
			printRefreshReport(stderr, rep)
		}
	}
	if *rfmCustomers != "" {
		return writeRFMCustomers(ctx, a, *cf.asOf, *rfmCustomers, stdout)
	}
	if cf.active() {
		return runCLVFit(ctx, &cf, a, stdout, *asJSON)
	}
	switch what {
	case "rfm":
		return showRFM(ctx, a, stdout, *asJSON)
	case "cohorts":
		return showCohorts(ctx, a, stdout, *asJSON, *months)
	case "clv":
		return showCLV(ctx, a, stdout, *asJSON, *top)
	case "movement":
		return showMovement(ctx, a, stdout, *asJSON, *top)
	default:
		return showSegments(ctx, a, stdout, *asJSON)
	}
}

func printRefreshReport(w io.Writer, r *jobs.RefreshReport) {
	if r.Customers == 0 {
		fmt.Fprintln(w, "refresh: no purchases stored yet")
		return
	}
	fmt.Fprintf(w, "refresh: %s customers as of %s in %.1fs", withThousands(int64(r.Customers)), r.AsOf.Format(time.RFC3339), r.Seconds)
	switch {
	case r.CLVFitted && r.CLVNote != "":
		// A degenerate fit is stored, so that the API says why there
		// is no CLV: "fitted" alone read as a CLV.
		fmt.Fprintf(w, "; CLV model %d fitted but degenerate, no CLV (%s)", r.CLVVersion, r.CLVNote)
	case r.CLVFitted:
		fmt.Fprintf(w, "; CLV model %d fitted", r.CLVVersion)
	case r.CLVVersion > 0:
		fmt.Fprintf(w, "; CLV model %d kept (%s)", r.CLVVersion, r.CLVNote)
	default:
		fmt.Fprintf(w, "; no CLV (%s)", r.CLVNote)
	}
	if r.SegmentsVersion > 0 {
		fmt.Fprintf(w, "; %d clusters", r.K)
	} else {
		fmt.Fprintf(w, "; no clusters (%s)", r.SegmentsNote)
	}
	fmt.Fprintf(w, "; %s new, %s moved segment, %s left", withThousands(r.CustomersNew), withThousands(r.CustomersMoved), withThousands(r.CustomersLeft))
	fmt.Fprintln(w)
}

// showMovement prints the latest refresh's segment movement: its totals,
// the top largest flows between segments and each segment's net change.
func showMovement(ctx context.Context, a store.Analytics, w io.Writer, asJSON bool, top int) error {
	ms, err := analyticsview.ReadSegmentMovements(ctx, a, 1)
	if err != nil {
		return err
	}
	if asJSON {
		return writeJSONTo(w, ms)
	}
	if len(ms.Movements) == 0 {
		fmt.Fprintln(w, noRefreshYet)
		return nil
	}
	m := ms.Movements[0]
	since := "the first refresh recorded: every customer scored before counts as stored then"
	if m.PreviousComputedAt != nil {
		since = "since the refresh of " + m.PreviousComputedAt.Format(time.RFC3339)
	}
	fmt.Fprintf(w, "segment movement at the refresh of %s (as of %s), %s\n", m.ComputedAt.Format(time.RFC3339), m.AsOf.Format(time.RFC3339), since)
	fmt.Fprintf(w, "%s customers: %s moved, %s new, %s left, %s stayed\n\n", withThousands(m.Customers), withThousands(m.Moved),
		withThousands(m.Entered), withThousands(m.Left), withThousands(m.Stayed))
	name := func(s *string, none string) string {
		if s == nil {
			return none
		}
		return *s
	}
	before := map[string]int64{}
	for _, s := range m.Segments {
		before[s.Segment] = s.Before
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "from\tto\tcustomers\tshare of from\t")
	shown := 0
	for _, f := range m.Flows {
		if shown == top {
			break
		}
		if f.From != nil && f.To != nil && *f.From == *f.To {
			continue
		}
		share := "-"
		if b := before[name(f.From, "")]; f.From != nil && b > 0 {
			share = fmt.Sprintf("%.1f%%", 100*float64(f.Customers)/float64(b))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\n", name(f.From, "(new)"), name(f.To, "(left)"), withThousands(f.Customers), share)
		shown++
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "segment\tbefore\tafter\tin\tout\tnet\t")
	for _, s := range m.Segments {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%+d\t\n", s.Segment, withThousands(s.Before), withThousands(s.After), withThousands(s.In), withThousands(s.Out), s.Net)
	}
	return tw.Flush()
}

func writeJSONTo(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

const noRefreshYet = "nothing computed yet: run with --refresh, or wait for the periodic refresh of a running shopstream"

func showRFM(ctx context.Context, a store.Analytics, w io.Writer, asJSON bool) error {
	s, err := analyticsview.ReadSegments(ctx, a)
	if err != nil {
		return err
	}
	minorPer, err := analyticsview.MinorPer(ctx, a)
	if err != nil {
		return err
	}
	if asJSON {
		return writeJSONTo(w, struct {
			Customers int64                      `json:"customers"`
			RFM       []analyticsview.SegmentRow `json:"rfm"`
			Notes     []string                   `json:"notes"`
		}{s.Customers, s.RFM, s.Notes})
	}
	if s.Customers == 0 {
		fmt.Fprintln(w, noRefreshYet)
		return nil
	}
	fmt.Fprintf(w, "RFM segments of %s customers\n\n", withThousands(s.Customers))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "segment\tcustomers\tshare\trevenue\tmean CLV\t")
	for _, r := range s.RFM {
		clv := "-"
		if r.MeanCLV != nil {
			clv = amountText(*r.MeanCLV, minorPer)
		}
		fmt.Fprintf(tw, "%s\t%s\t%.1f%%\t%s\t%s\t\n", r.Segment, withThousands(r.Customers), 100*r.Share, amountText(r.Revenue, minorPer), clv)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, n := range s.Notes {
		fmt.Fprintln(w, "\n"+n)
	}
	return nil
}

func showCohorts(ctx context.Context, a store.Analytics, w io.Writer, asJSON bool, months int) error {
	cells, at, err := a.Cohorts(ctx)
	if err != nil {
		return err
	}
	minorPer, err := analyticsview.MinorPer(ctx, a)
	if err != nil {
		return err
	}
	m := analyticsview.CohortMatrix(cells, at, minorPer)
	if asJSON {
		return writeJSONTo(w, m)
	}
	if len(m.Cohorts) == 0 {
		fmt.Fprintln(w, noRefreshYet)
		return nil
	}
	fmt.Fprintf(w, "retention by month since first purchase (computed %s)\n", at.ComputedAt.Format(time.RFC3339))
	if p := m.Partial; p != nil {
		fmt.Fprintf(w, "%s is unfinished (%d of %d days): its cells, marked *, are month to date\n", p.Month, p.Days, p.DaysInMonth)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "cohort\tsize\t")
	for k := range months {
		fmt.Fprintf(tw, "m%d\t", k)
	}
	fmt.Fprintln(tw, "revenue\t")
	for _, c := range m.Cohorts {
		fmt.Fprintf(tw, "%s\t%s\t", c.Month, withThousands(c.Size))
		var rev float64
		for k, r := range c.Retention {
			rev += c.Revenue[k]
			if k < months {
				mark := ""
				if c.PartialOffset != nil && *c.PartialOffset == k {
					mark = "*"
				}
				fmt.Fprintf(tw, "%.0f%%%s\t", 100*r, mark)
			}
		}
		for k := len(c.Retention); k < months; k++ {
			fmt.Fprint(tw, "\t")
		}
		fmt.Fprintf(tw, "%s\t\n", amountText(rev, minorPer))
	}
	return tw.Flush()
}

func showCLV(ctx context.Context, a store.Analytics, w io.Writer, asJSON bool, top int) error {
	m, err := analyticsview.ReadCLVModel(ctx, a)
	if err != nil && !errors.Is(err, store.ErrNoModel) {
		return err
	}
	rows, err2 := a.TopCustomers(ctx, top)
	if err2 != nil {
		return err2
	}
	customers := make([]analyticsview.Customer, len(rows))
	for i := range rows {
		customers[i] = analyticsview.CustomerOf(&rows[i])
	}
	if asJSON {
		return writeJSONTo(w, struct {
			Model        *analyticsview.CLVModel  `json:"model"`
			TopCustomers []analyticsview.Customer `json:"top_customers"`
		}{m, customers})
	}
	if m == nil {
		fmt.Fprintln(w, "no CLV model fitted yet (it needs 100 customers, 20 with a repeat purchase); "+noRefreshYet)
		return nil
	}
	minorPer, err := analyticsview.MinorPer(ctx, a)
	if err != nil {
		return err
	}
	p, met := m.Params, m.Metrics
	fmt.Fprintf(w, "CLV model %d, fitted %s on %s customers as of %s\n", m.Version, m.CreatedAt.Format(time.RFC3339),
		withThousands(int64(met.Customers)), met.AsOf.Format("2006-01-02"))
	fmt.Fprintf(w, "  BG/NBD        r = %.4g, α = %.4g, a = %.4g, b = %.4g (weeks); log-likelihood %.1f\n",
		p.BGNBD.R, p.BGNBD.Alpha, p.BGNBD.A, p.BGNBD.B, met.BGNBDLogLikelihood)
	fmt.Fprintf(w, "  Gamma-Gamma   p = %.4g, q = %.4g, γ = %.4g on %s repeat customers; population mean order %s\n",
		p.GammaGamma.P, p.GammaGamma.Q, p.GammaGamma.Gamma, withThousands(int64(met.RepeatCustomers)), amountText(met.PopulationMeanSpend, minorPer))
	fmt.Fprintf(w, "  frequency/spend correlation %.3f (Gamma-Gamma assumes about 0)\n", met.FrequencyMonetaryCorrelation)
	if fc := met.FitCheck; fc != nil && fc.Degenerate {
		fmt.Fprintf(w, "  DEGENERATE FIT: no CLV from this model\n")
		for _, p := range fc.Problems {
			fmt.Fprintf(w, "    - %s\n", p)
		}
		return nil
	}
	if met.MeanCLV != nil && met.TotalCLV != nil && met.MeanProbAlive != nil {
		fmt.Fprintf(w, "  %d-month CLV at %.0f%% a year: mean %s, total %s; mean P(alive) %.3f\n\n",
			met.HorizonMonths, 100*met.DiscountRate, amountText(*met.MeanCLV, minorPer), amountText(*met.TotalCLV, minorPer), *met.MeanProbAlive)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "customer\tP(alive)\tpurchases\tavg order\tCLV\tsegment\t")
	for _, c := range customers {
		fmt.Fprintf(tw, "%s\t%.3f\t%.2f\t%s\t%s\t%s\t\n", c.CustomerID, c.CLV.ProbAlive, c.CLV.ExpectedPurchases, amountText(c.CLV.ExpectedAOV, minorPer),
			amountText(c.CLV.Value, minorPer), c.Segment)
	}
	return tw.Flush()
}

func showSegments(ctx context.Context, a store.Analytics, w io.Writer, asJSON bool) error {
	s, err := analyticsview.ReadSegments(ctx, a)
	if err != nil {
		return err
	}
	if asJSON {
		return writeJSONTo(w, s.Clusters)
	}
	minorPer, err := analyticsview.MinorPer(ctx, a)
	if err != nil {
		return err
	}
	c := s.Clusters
	if c == nil {
		fmt.Fprintln(w, "no behavioural clustering yet; "+noRefreshYet)
		return nil
	}
	sil := "n/a"
	if c.Silhouette != nil {
		sil = fmt.Sprintf("%.3f", *c.Silhouette)
	}
	fmt.Fprintf(w, "%d clusters (model %d, %s), mean silhouette %s", c.K, c.Version, c.CreatedAt.Format(time.RFC3339), sil)
	if len(c.Candidates) > 0 {
		var cands []string
		for _, k := range c.Candidates {
			cands = append(cands, fmt.Sprintf("k=%d %.3f", k.K, k.Silhouette))
		}
		fmt.Fprintf(w, " (tried %s)", strings.Join(cands, ", "))
	}
	fmt.Fprintf(w, "\nfeatures: %s\n\n", strings.Join(c.Features, ", "))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "cluster\tcustomers\tshare\trecency (days)\tpurchase days\tspend\tmean CLV\ttop categories")
	for _, p := range c.Profiles {
		clv := "-"
		if p.MeanCLV != nil {
			clv = amountText(*p.MeanCLV, minorPer)
		}
		var cats []string
		for _, t := range p.TopCategories {
			cats = append(cats, fmt.Sprintf("%s %.0f%%", t.Category, 100*t.Share))
		}
		fmt.Fprintf(tw, "%d\t%s\t%.1f%%\t%.0f\t%.1f\t%s\t%s\t%s\n", p.Cluster, withThousands(int64(p.Size)), 100*p.Share,
			p.MeanRecencyDays, p.MeanFrequency, amountText(p.MeanMonetary, minorPer), clv, strings.Join(cats, ", "))
	}
	return tw.Flush()
}

// amountText writes an amount in major units of a currency of minorPer
// minor units a major one, with that currency's decimals and thousands
// separators: 1,744,238.40 for pounds, 15,050 for yen, 15.050 for dinars.
func amountText(v, minorPer float64) string {
	digits := max(0, int(math.Round(math.Log10(minorPer))))
	s := strconv.FormatFloat(math.Abs(v), 'f', digits, 64)
	whole, frac, _ := strings.Cut(s, ".")
	n, _ := strconv.ParseInt(whole, 10, 64)
	out := withThousands(n)
	if frac != "" {
		out += "." + frac
	}
	if v < 0 && strings.Trim(s, "0.") != "" {
		out = "-" + out
	}
	return out
}
