package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/shopstream/shopstream/internal/evaluate"
	"github.com/shopstream/shopstream/internal/fraud"
	"github.com/shopstream/shopstream/internal/generate"
)

// fraudEvalReport is the one JSON object `shopstream fraud-eval --json`
// prints. Rates with no meaning for the run (no fraud, nothing flagged)
// are null.
type fraudEvalReport struct {
	Seed        int64 `json:"seed"`
	Records     int   `json:"records"`
	Quarantined int   `json:"quarantined"`
	Trained     int   `json:"trained"`
	Scored      int   `json:"scored"`
	Fraud       int   `json:"fraud"`

	ReviewAt  jsonNum `json:"review_at"`
	Precision jsonNum `json:"precision"`
	Recall    jsonNum `json:"recall"`
	FPR       jsonNum `json:"fpr"`
	PRAUC     jsonNum `json:"pr_auc"`
	ROCAUC    jsonNum `json:"roc_auc"`

	RecallAt1pctFPR      jsonNum `json:"recall_at_1pct_fpr"`
	ThresholdAt1pctFPR   jsonNum `json:"threshold_at_1pct_fpr"`
	RulesRecallAt1pctFPR jsonNum `json:"rules_recall_at_1pct_fpr"`
	ModelRecallAt1pctFPR jsonNum `json:"model_recall_at_1pct_fpr"`
	ModelROCAUC          jsonNum `json:"model_roc_auc"`

	// PerScenario is each scenario's recall at the review threshold;
	// PerScenarioAt1pctFPR at the 1%-FPR threshold.
	PerScenario          map[string]jsonNum `json:"per_scenario"`
	PerScenarioAt1pctFPR map[string]jsonNum `json:"per_scenario_at_1pct_fpr"`
	ScenarioCounts       map[string]int     `json:"scenario_counts"`
	RuleHits             map[string]ruleHit `json:"rule_hits"`
	// FlaggedBy is RuleHits among the transactions held for review or
	// declined, as fraud-eval --live's flagged_by.
	FlaggedBy map[string]ruleHit `json:"flagged_by"`
	// Entity is what the entity rules (--entity-rules) changed: absent
	// without them.
	Entity *evaluate.EntityReport `json:"entity,omitempty"`
}

type ruleHit struct {
	Hits  int `json:"hits"`
	Fraud int `json:"fraud"`
}

// jsonNum is a rate rounded to six decimals, null when NaN or infinite
// (which JSON cannot carry).
type jsonNum float64

func (n jsonNum) MarshalJSON() ([]byte, error) {
	v := float64(n)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, math.Round(v*1e6)/1e6, 'f', -1, 64), nil
}

// runFraudEval measures the fraud scoring chain on the synthetic shop's
// labelled stream: every record through the quality checks, the features
// from per-partition state, the rules and the isolation forest (trained
// on the first part of the stream without labels), and reports precision,
// recall, false-positive rate, PR-AUC and ROC-AUC, recall at a 1%
// false-positive rate, and recall per fraud scenario.
func runFraudEval(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if liveRequested(args) {
		return runFraudEvalLive(ctx, args, stdout, stderr)
	}
	fs := newFlagSet("fraud-eval", stderr)
	fs.Duration("live", 0, "measure run's pipeline instead, for this long after its backfill is stored, against the generator's truth (fraud-eval --live 1m -h lists its flags)")
	count := fs.Int("count", 100_000, "records to generate; the first --train-fraction of them train the isolation forest, the rest are measured")
	seed := fs.Int64("seed", 42, "seed of the generator and the forest (the default rules were tuned on seeds 1-3)")
	fraudRate := fs.Float64("fraud-rate", 0, "share of fraudulent records; 0 means the generator's default (0.01), negative none")
	badRate := fs.Float64("bad-rate", 0, "share of bad records, quarantined by the quality checks before scoring")
	customers := fs.Int("customers", 0, "size of the customer base; 0 means the generator's default (10,000)")
	trainFraction := fs.Float64("train-fraction", 0.2, "leading share of the records whose unflagged transactions train the forest")
	rulesPath := fs.String("rules", "", "rules file (JSON); default: the embedded default rules")
	reviewAt := fs.Float64("review-at", 0, "risk at or above which a transaction is held for review; 0 means the default (0.4)")
	declineAt := fs.Float64("decline-at", 0, "risk at or above which a transaction is declined; 0 means the default (0.9)")
	modelWeight := fs.Float64("model-weight", 0, "weight of the isolation forest's evidence; 0 means the default (0.3)")
	noModel := fs.Bool("no-model", false, "score with the rules alone")
	maxCustomers := fs.Int("fraud-max-customers", 0, "most customers whose history the feature state keeps, as the processor's flag of the same name per partition (0: the state's default, 500,000)")
	maxEntities := fs.Int("fraud-max-entities", 0, "most devices, cards and IP addresses each that the feature state keeps (0: the state's default, 500,000)")
	asJSON := fs.Bool("json", false, `print one JSON object {"precision", "recall", "fpr", "pr_auc", "roc_auc", "recall_at_1pct_fpr", "per_scenario", ...}`)
	var fraudMix fraudMixFlag
	fs.Var(&fraudMix, "fraud-mix", fraudMixUsage)
	entityRules := fs.String("entity-rules", "", `add the entity stage's second step: "default" for the built-in entity rules, or an entity rules file (JSON); "none" or empty: the first step alone (with --demo, empty means "default", as run's live phase has the entity stage on)`)
	entityWindow := fs.Duration("entity-window", 24*time.Hour, "the entity state's sliding window of event time (with --entity-rules)")
	entityModel := fs.Bool("entity-model", false, "with --entity-rules, add the entity forest to the second step: an isolation forest per kind of entity over the global counts, trained with the main forest on the entity events of the transactions the first step approved (docs/fraud.md)")
	entityModelWeight := fs.Float64("entity-model-weight", fraud.DefaultEntityModelWeight, "weight of the entity forest's evidence (with --entity-model)")
	demo := fs.Duration("demo", 0, "evaluate run's shop on the simulated clock instead: its 540-day history at its defaults (--customers 1000000, --bad-rate 0.001, run's --fraud-mix with rings, and the default entity rules, unless given) warms the state and trains the forest, then this long of its live phase at 10/s is measured (e.g. 30m); --count and --train-fraction are unused")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	var demoShop *evaluate.Demo
	if *demo < 0 {
		return usageError{fmt.Errorf("invalid value %v for flag -demo: must not be negative", *demo)}
	} else if *demo > 0 {
		demoShop = evaluate.DemoDefaults()
		demoShop.Live = *demo
		given := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
		if !given["customers"] {
			*customers = 1_000_000
		}
		if !given["bad-rate"] {
			*badRate = 0.001
		}
		// run's shop: its mix, with the cross-account scenarios, and its
		// entity stage's second step.
		fraudMix.base = runFraudMix
		if *entityRules == "" {
			*entityRules = "default"
		}
	}
	if *maxCustomers < 0 || *maxEntities < 0 {
		return usageError{fmt.Errorf("invalid values %d and %d for flags -fraud-max-customers and -fraud-max-entities: must not be negative", *maxCustomers, *maxEntities)}
	}
	if *count < 100 {
		return usageError{fmt.Errorf("invalid value %d for flag -count: want at least 100", *count)}
	}
	if !(*trainFraction > 0 && *trainFraction < 1) {
		return usageError{fmt.Errorf("invalid value %v for flag -train-fraction: want a share between 0 and 1", *trainFraction)}
	}
	gcfg := generate.Config{Seed: *seed, FraudRate: *fraudRate, BadRate: *badRate, Customers: *customers}
	if err := gcfg.WithDefaults().Validate(); err != nil {
		return usageError{fmt.Errorf("flags -fraud-rate, -bad-rate, -customers: %w", err)}
	}
	scfg := fraud.ScorerConfig{ReviewAt: *reviewAt, DeclineAt: *declineAt, ModelWeight: *modelWeight}
	if err := scfg.WithDefaults().Validate(); err != nil {
		return usageError{fmt.Errorf("flags -review-at, -decline-at, -model-weight: %w", err)}
	}
	var rules *fraud.RuleSet
	if *rulesPath != "" {
		b, err := os.ReadFile(*rulesPath)
		if err != nil {
			return fmt.Errorf("reading --rules: %w", err)
		}
		if rules, err = fraud.ParseRules(b); err != nil {
			return fmt.Errorf("%s: %w", *rulesPath, err)
		}
	}

	var erules *fraud.EntityRuleSet
	switch *entityRules {
	case "", "none":
	case "default":
		erules = fraud.DefaultEntityRules()
	default:
		b, err := os.ReadFile(*entityRules)
		if err != nil {
			return fmt.Errorf("reading --entity-rules: %w", err)
		}
		if erules, err = fraud.ParseEntityRules(b); err != nil {
			return fmt.Errorf("%s: %w", *entityRules, err)
		}
	}
	if *entityModel && erules == nil {
		return usageError{errors.New("flag -entity-model needs -entity-rules (the entity forest is part of the second step)")}
	}
	if !(*entityModelWeight > 0 && *entityModelWeight < 1) {
		return usageError{fmt.Errorf("invalid value %v for flag -entity-model-weight: must be above 0 and below 1", *entityModelWeight)}
	}
	if *entityWindow < time.Minute {
		return usageError{fmt.Errorf("invalid value %v for flag -entity-window: must be at least 1m", *entityWindow)}
	}

	rep, err := evaluate.Fraud(ctx, evaluate.Config{
		FraudMix: fraudMix.mix(), EntityRules: erules, EntityWindow: *entityWindow, EntityModel: *entityModel, EntityModelWeight: *entityModelWeight,
		Records: *count, Seed: *seed, FraudRate: *fraudRate, BadRate: *badRate, Customers: *customers,
		TrainFraction: *trainFraction, NoModel: *noModel, Rules: rules, Scorer: scfg, MaxFPR: 0.01,
		MaxCustomers: *maxCustomers, MaxEntities: *maxEntities, Demo: demoShop,
	})
	if errors.Is(err, fraud.ErrInvalidConfig) {
		return usageError{err}
	}
	if err != nil {
		return err
	}
	out := offlineReport(rep, *seed)
	if *asJSON {
		b, err := json.Marshal(out)
		if err != nil {
			return fmt.Errorf("encoding the report: %w", err)
		}
		_, err = fmt.Fprintf(stdout, "%s\n", b)
		return err
	}
	return printFraudEval(stdout, rep, *seed, *trainFraction, demoShop)
}

func printFraudEval(w io.Writer, rep *evaluate.Report, seed int64, trainFraction float64, demo *evaluate.Demo) error {
	var b strings.Builder
	fmt.Fprintf(&b, "fraud-eval: seed %d, %d records, %d quarantined by the quality checks\n", seed, rep.Records, rep.Quarantined)
	if demo != nil {
		fmt.Fprintf(&b, "run's shop: %.0f days of history, then %s live at %g/s (simulated clock)\n", demo.History.Hours()/24, demo.Live, demo.Rate)
	}
	if rep.Trained > 0 && demo != nil {
		fmt.Fprintf(&b, "forest trained on the history's newest %d transactions no rule fired on\n", rep.Trained)
	} else if rep.Trained > 0 {
		fmt.Fprintf(&b, "forest trained on %d unflagged transactions of the first %.0f%%\n", rep.Trained, 100*trainFraction)
	} else {
		b.WriteString("rules only, no forest\n")
	}
	fmt.Fprintf(&b, "measured on the remaining %d transactions, %d of them fraud (%.2f%%)\n\n", rep.Scored, rep.Fraud, 100*float64(rep.Fraud)/float64(max(rep.Scored, 1)))
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "at the review threshold (risk >= %.2f):\tprecision %.3f\trecall %.3f\tFPR %.2f%%\n", rep.ReviewAt, rep.Precision, rep.Recall, 100*rep.FPR)
	fmt.Fprintf(tw, "at FPR <= 1%% (risk >= %.3f):\trecall %.3f\trules alone %.3f\tforest alone %.3f\n", rep.ThresholdAtFPR, rep.RecallAtFPR, rep.RulesRecallAtFPR, rep.ModelRecallAtFPR)
	fmt.Fprintf(tw, "ranking:\tPR-AUC %.3f\tROC-AUC %.3f\tforest alone ROC-AUC %.3f\n", rep.PRAUC, rep.ROCAUC, rep.ModelROCAUC)
	tw.Flush()

	b.WriteString("\n")
	tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "scenario\trecords\trecall at review\trecall at FPR <= 1%%\t\n")
	for _, name := range generate.AllScenarios {
		s, ok := rep.Scenarios[name]
		if !ok || s.Count == 0 && !slices.Contains(generate.Scenarios, name) {
			continue // a cross-account scenario --fraud-mix left off
		}
		fmt.Fprintf(tw, "%s\t%d\t%.3f\t%.3f\t\n", name, s.Count, s.Recall, s.RecallAtFPR)
	}
	tw.Flush()

	b.WriteString("\n")
	names := make([]string, 0, len(rep.RuleHits))
	for n := range rep.RuleHits {
		names = append(names, n)
	}
	sort.Strings(names)
	tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "rule\thits\tfraud\tprecision\tflagged\tfraud\tprecision\t\n")
	for _, n := range names {
		h := rep.RuleHits[n]
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.3f\t%d\t%d\t%.3f\t\n", n, h.Hits, h.Fraud, float64(h.Fraud)/float64(h.Hits),
			h.Flagged, h.FlaggedFraud, float64(h.FlaggedFraud)/float64(max(h.Flagged, 1)))
	}
	tw.Flush()
	if e := rep.Entity; e != nil {
		fmt.Fprintf(&b, "\nentity rules (second step): %d approvals raised (%d fraud, %d legit), %d reviews raised to decline\n",
			e.Raised, e.RaisedFraud, e.Raised-e.RaisedFraud, e.Escalated)
		tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "entity rule	hits	fraud	precision	raised	fraud	precision	\n")
		for _, n := range slices.Sorted(maps.Keys(e.RuleHits)) {
			h := e.RuleHits[n]
			fmt.Fprintf(tw, "%s\t%d\t%d\t%.3f\t%d\t%d\t%.3f\t\n", n, h.Hits, h.Fraud, float64(h.Fraud)/float64(max(h.Hits, 1)),
				h.Flagged, h.FlaggedFraud, float64(h.FlaggedFraud)/float64(max(h.Flagged, 1)))
		}
		tw.Flush()
		if e.ModelTrained != nil {
			fmt.Fprintf(&b, "entity forest: trained on")
			for _, k := range slices.Sorted(maps.Keys(e.ModelTrained)) {
				fmt.Fprintf(&b, " %s %d", k, e.ModelTrained[k])
			}
			fmt.Fprintf(&b, " entity events; %d decisions raised only with its hit (%d fraud)\n", e.ModelOnly, e.ModelOnlyFraud)
		}
		fmt.Fprintf(&b, "legit approvals raised, by what makes them look odd:")
		for _, k := range slices.Sorted(maps.Keys(e.RaisedLegitByHonest)) {
			fmt.Fprintf(&b, " %s %d", k, e.RaisedLegitByHonest[k])
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}
