package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/shopstream/shopstream/internal/recommend"
	"github.com/shopstream/shopstream/internal/recsvc"
	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/web"
)

// recommendFlags configure the recommendation service of serve and run.
type recommendFlags struct {
	fold, rebuild time.Duration
	neighbours    int
	similarity    string
	cpuShare      float64
	maxCustomers  int
	maxPairs      int
}

func (f *recommendFlags) register(fs *flag.FlagSet) {
	fs.DurationVar(&f.fold, "recommend-fold-interval", 5*time.Second,
		"how often purchases committed since the last fold are read into the recommendation counts")
	fs.DurationVar(&f.rebuild, "recommend-rebuild-interval", time.Minute,
		"how often the recommendation model is rebuilt from the counts; 0 turns recommendations off (no counts kept, endpoints absent)")
	fs.IntVar(&f.neighbours, "recommend-neighbours", 50, "neighbours kept per product by the item-item model")
	fs.StringVar(&f.similarity, "recommend-similarity", "jaccard", "item-item similarity: jaccard, cosine or lift")
	fs.Float64Var(&f.cpuShare, "recommend-cpu-share", 0.1,
		"most of one core the recommendation service's reads, folds and rebuilds take when behind the store (it rests in between); 1 runs it unpaced")
	fs.IntVar(&f.maxCustomers, "recommend-max-customers", 100_000,
		"most customers whose recent products the recommendation counts keep; beyond, the longest idle are forgotten (0: no bound)")
	fs.IntVar(&f.maxPairs, "recommend-max-pairs", 1_000_000,
		"most pairs of products the recommendation counts keep, about 16 bytes each; beyond, the rarest are dropped (0: no bound)")
}

func (f *recommendFlags) config() (recsvc.Config, error) {
	switch {
	case f.fold <= 0:
		return recsvc.Config{}, usageError{fmt.Errorf("invalid value %v for flag -recommend-fold-interval: must be positive", f.fold)}
	case f.rebuild < 0:
		return recsvc.Config{}, usageError{fmt.Errorf("invalid value %v for flag -recommend-rebuild-interval: must not be negative", f.rebuild)}
	case !(f.cpuShare > 0 && f.cpuShare <= 1):
		return recsvc.Config{}, usageError{fmt.Errorf("invalid value %g for flag -recommend-cpu-share: want a share of one core in (0, 1]", f.cpuShare)}
	case f.neighbours < 1 || f.neighbours > 1000:
		return recsvc.Config{}, usageError{fmt.Errorf("invalid value %d for flag -recommend-neighbours: want 1..1000", f.neighbours)}
	case f.maxCustomers < 0:
		return recsvc.Config{}, usageError{fmt.Errorf("invalid value %d for flag -recommend-max-customers: must not be negative", f.maxCustomers)}
	case f.maxPairs < 0:
		return recsvc.Config{}, usageError{fmt.Errorf("invalid value %d for flag -recommend-max-pairs: must not be negative", f.maxPairs)}
	}
	sim, err := recommend.ParseSimilarity(f.similarity)
	if err != nil {
		return recsvc.Config{}, usageError{fmt.Errorf("invalid value for flag -recommend-similarity: %w", err)}
	}
	unbounded := func(n int) int { // the flags' 0 is the config's -1
		if n == 0 {
			return -1
		}
		return n
	}
	return recsvc.Config{FoldEvery: f.fold, RebuildEvery: f.rebuild, CPUShare: f.cpuShare,
		MaxCustomers: unbounded(f.maxCustomers), MaxPairs: unbounded(f.maxPairs),
		Item: recommend.ItemConfig{Similarity: sim, Neighbours: f.neighbours}}, nil
}

// startRecommendations runs this instance's recommendation service in g
// (tailing the store; see recsvc for why every instance keeps its own) and
// adds its routes to srv, which must not be serving yet; assigner, when
// not nil, puts customers into experiments. A zero rebuild interval runs
// nothing and returns a nil service.
func startRecommendations(ctx context.Context, g *errgroup.Group, srv *web.Server, st store.Store, f *recommendFlags,
	logger *slog.Logger, reg prometheus.Registerer, assigner recsvc.Assigner) (*recsvc.Service, error) {
	cfg, err := f.config()
	if err != nil || f.rebuild == 0 {
		return nil, err
	}
	p, ok := st.(store.Purchases)
	if !ok {
		return nil, fmt.Errorf("store %T does not read purchases back; recommendations need it (or -recommend-rebuild-interval 0)", st)
	}
	cfg.Store, cfg.Logger, cfg.Registerer, cfg.Assigner = p, logger, reg, assigner
	svc, err := recsvc.New(cfg)
	if err != nil {
		return nil, err
	}
	web.RegisterRecommendations(srv, svc)
	g.Go(func() error { return svc.Run(ctx) })
	return svc, nil
}

const recommendUsage = `Usage: shopstream recommend eval --split YYYY-MM-DD [--k 10] [--json] [flags]

Evaluates the recommenders offline over the stored transactions: trains on
the purchases before the split day (UTC), tests on each customer's purchases
after it of products new to them, ranks over all products, and prints
precision@k, recall@k, NDCG@k, hit rate@k and catalogue coverage for
popularity, item-item with each similarity and EASE, with bootstrap 95%
intervals over the test customers.

Flags:
`

func runRecommend(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("recommend", stderr)
	fs.Usage = func() {
		io.WriteString(stderr, recommendUsage)
		fs.PrintDefaults()
	}
	var sf storeFlags
	sf.register(fs)
	splitFlag := fs.String("split", "", "first day of the test period, YYYY-MM-DD (UTC); required")
	k := fs.Int("k", 10, "length of each ranked list")
	boot := fs.Int("bootstrap", 300, "bootstrap resamples of the test customers for the 95% intervals (0: none)")
	seed := fs.Uint64("seed", 1, "seed of the bootstrap")
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	if len(args) == 0 || args[0] != "eval" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
			fs.Usage()
			return flag.ErrHelp
		}
		fs.Usage()
		return usageError{errors.New("recommend: the only subcommand is eval")}
	}
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if *splitFlag == "" {
		return usageError{errors.New("recommend eval: flag -split is required (YYYY-MM-DD)")}
	}
	split, err := time.Parse(time.DateOnly, *splitFlag)
	if err != nil {
		return usageError{fmt.Errorf("invalid value %q for flag -split: want YYYY-MM-DD", *splitFlag)}
	}
	if *k < 1 || *k > 1000 {
		return usageError{fmt.Errorf("invalid value %d for flag -k: want 1..1000", *k)}
	}
	if *boot < 0 {
		return usageError{fmt.Errorf("invalid value %d for flag -bootstrap: must not be negative", *boot)}
	}
	st, err := sf.openToRead(ctx, stderr) // reads only: beside a serve or run too
	if err != nil {
		return err
	}
	defer st.Close()
	p, ok := st.(store.Purchases)
	if !ok {
		return fmt.Errorf("store %T does not read purchases back", st)
	}
	rep, err := evalRecommenders(ctx, p, split, *k, *boot, *seed)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	printEval(stdout, rep)
	return nil
}

// evalReport is what `recommend eval` prints.
type evalReport struct {
	Split         string              `json:"split"`
	K             int                 `json:"k"`
	Lines         int                 `json:"purchase_lines"`
	TrainLines    int                 `json:"train_lines"`
	Products      int                 `json:"products"`
	TestCustomers int                 `json:"test_customers"`
	Bootstrap     int                 `json:"bootstrap"`
	Methods       []recommend.Metrics `json:"methods"`
	// EASEError says why EASE was left out, if it was.
	EASEError string `json:"ease_error,omitempty"`
}

type evalLine struct {
	customer, product, tx string
	at                    time.Time
}

// evalRecommenders reads every stored purchase line, folds those before
// split into counts in event-time order, and evaluates every method on
// the customers' new products after it.
func evalRecommenders(ctx context.Context, p store.Purchases, split time.Time, k, boot int, seed uint64) (*evalReport, error) {
	var lines []evalLine
	_, err := p.PurchaseLines(ctx, nil, 0, func(l *store.PurchaseLine) error {
		lines = append(lines, evalLine{l.CustomerID, l.ProductID, l.TransactionID, l.EventTime})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the stored purchases: %w", err)
	}
	// Event-time order across partitions; lines of one transaction keep
	// their order.
	slices.SortStableFunc(lines, func(a, b evalLine) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return strings.Compare(a.tx, b.tx)
	})
	c := recommend.NewCounts(0)
	bought := map[string]map[string]bool{}
	var order []string
	relevant := map[string][]string{}
	train := 0
	for _, l := range lines {
		if l.at.Before(split) {
			c.Add(l.customer, l.product)
			if bought[l.customer] == nil {
				bought[l.customer] = map[string]bool{}
			}
			bought[l.customer][l.product] = true
			train++
			continue
		}
		if b := bought[l.customer]; b != nil && !b[l.product] {
			b[l.product] = true // each new product counts once
			if relevant[l.customer] == nil {
				order = append(order, l.customer)
			}
			relevant[l.customer] = append(relevant[l.customer], l.product)
		}
	}
	slices.Sort(order)
	cases := make([]recommend.Case, 0, len(order))
	for _, cust := range order {
		cases = append(cases, recommend.Case{Customer: cust, History: c.History(cust), Relevant: relevant[cust]})
	}
	rep := &evalReport{Split: split.Format(time.DateOnly), K: k, Lines: len(lines), TrainLines: train, Products: c.Items(),
		TestCustomers: len(cases), Bootstrap: boot}
	if train == 0 {
		return nil, fmt.Errorf("no stored purchase is before the split %s: nothing to train on", rep.Split)
	}
	if len(cases) == 0 {
		return nil, fmt.Errorf("no customer with purchases before %s bought a new product after it: nothing to test on", rep.Split)
	}
	base := c.ItemItem(recommend.ItemConfig{})
	rep.Methods = append(rep.Methods, recommend.Evaluate("popularity", base.Popularity(), cases, k, c.Items(), boot, seed))
	for _, s := range []recommend.Similarity{recommend.Jaccard, recommend.Cosine, recommend.Lift} {
		m := base
		if s != recommend.Jaccard {
			m = c.ItemItem(recommend.ItemConfig{Similarity: s})
		}
		rep.Methods = append(rep.Methods, recommend.Evaluate("item-item "+s.String(), m, cases, k, c.Items(), boot, seed))
	}
	if e, err := c.EASE(recommend.EASEConfig{}); err != nil {
		rep.EASEError = err.Error()
	} else {
		rep.Methods = append(rep.Methods, recommend.Evaluate("EASE", e, cases, k, c.Items(), boot, seed))
	}
	return rep, nil
}

func printEval(w io.Writer, rep *evalReport) {
	fmt.Fprintf(w, "split %s, k = %d: %d purchase lines (%d before the split), %d products, %d test customers, %d bootstrap resamples\n\n",
		rep.Split, rep.K, rep.Lines, rep.TrainLines, rep.Products, rep.TestCustomers, rep.Bootstrap)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "method\tP@%d (95%%)\tR@%d (95%%)\tNDCG@%d (95%%)\tHR@%d (95%%)\tcoverage\n", rep.K, rep.K, rep.K, rep.K)
	ci := func(v float64, i recommend.Interval) string { return fmt.Sprintf("%.4f (%.4f-%.4f)", v, i.Low, i.High) }
	for _, m := range rep.Methods {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%.3f\n", m.Method, ci(m.Precision, m.PrecCI), ci(m.Recall, m.RecallCI),
			ci(m.NDCG, m.NDCGCI), ci(m.HitRate, m.HitCI), m.Coverage)
	}
	tw.Flush()
	if rep.EASEError != "" {
		fmt.Fprintf(w, "\nEASE left out: %s\n", rep.EASEError)
	}
}
