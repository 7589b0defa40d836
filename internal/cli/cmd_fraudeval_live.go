package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/internal/bus"
	"github.com/shopstream/shopstream/internal/evaluate"
	"github.com/shopstream/shopstream/internal/fraud"
	"github.com/shopstream/shopstream/internal/fraud/eval"
	"github.com/shopstream/shopstream/internal/generate"
	"github.com/shopstream/shopstream/internal/store"
)

// liveShopFlags are run's flags fraud-eval --live passes on when given;
// the others keep run's defaults.
var liveShopFlags = []string{"rate", "history", "history-ramp", "seed", "fraud-mix", "fraud-rate", "bad-rate", "customers", "new-per-day", "products", "partitions", "entities", "shutdown-grace"}

// liveRequested reports whether args ask for fraud-eval --live.
func liveRequested(args []string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if strings.HasPrefix(a, "-") && name == "live" {
			return true
		}
	}
	return false
}

// passFlag keeps a flag's value as given, to hand it to run.
type passFlag struct {
	value string
	set   bool
}

func (p *passFlag) String() string { return p.value }
func (p *passFlag) Set(s string) error {
	p.value, p.set = s, true
	return nil
}

// fraudEvalLiveReport is the one JSON object fraud-eval --live --json
// prints: the decisions run's pipeline took on the live records of the
// window, against the generator's truth about each, and the offline
// figures of the same generator seed.
type fraudEvalLiveReport struct {
	Seed     int64   `json:"seed"`
	Rate     float64 `json:"rate"`
	History  string  `json:"history"`
	Duration string  `json:"duration"`
	// Warmup is how long the backfill took to be stored, from run's start.
	Warmup string `json:"warmup"`

	// Generated is every record the generator wrote in the window:
	// Good of them well-formed (Fraud of those fraudulent), Bad made to
	// fail a quality check. Stored and Quarantined are what the store
	// holds of the window's offsets; Unaccounted = Generated - Stored -
	// Quarantined, records neither stored nor quarantined (still in the
	// broker when the shutdown grace ended, or dropped).
	Generated         int            `json:"generated"`
	Good              int            `json:"good"`
	Bad               int            `json:"bad"`
	Fraud             int            `json:"fraud"`
	Stored            int            `json:"stored"`
	Quarantined       int            `json:"quarantined"`
	Unaccounted       int            `json:"unaccounted"`
	QuarantineReasons map[string]int `json:"quarantine_reasons"`
	// GoodNotStored are good records of the window the store has no
	// transaction of; UnknownStored are stored transactions of the
	// window's offsets the generator did not write in it (both 0 when
	// all is well).
	GoodNotStored int `json:"good_not_stored"`
	UnknownStored int `json:"unknown_stored"`

	// Scored is the stored good transactions measured, of which
	// ScoredFraud fraudulent; Decisions counts their decisions. The rates
	// are of review-or-decline decisions.
	Scored         int                `json:"scored"`
	ScoredFraud    int                `json:"scored_fraud"`
	Decisions      map[string]int     `json:"decisions"`
	Flagged        int                `json:"flagged"`
	TruePos        int                `json:"true_positives"`
	FalsePos       int                `json:"false_positives"`
	Precision      jsonNum            `json:"precision"`
	Recall         jsonNum            `json:"recall"`
	FPR            jsonNum            `json:"fpr"`
	PerScenario    map[string]jsonNum `json:"per_scenario"`
	ScenarioCounts map[string]int     `json:"scenario_counts"`
	// FlaggedBy counts, per rule among the reasons of the flagged
	// transactions' alerts ("forest" for the isolation forest's
	// features), the flagged transactions and the fraudulent ones of them.
	FlaggedBy map[string]ruleHit `json:"flagged_by"`
	// Alerted is the flagged transactions with an alert (all of them).
	Alerted int `json:"alerted"`
	// Entities is what the entity stage did: null with --entities=false.
	Entities *liveEntityReport `json:"entities"`

	// Offline is fraud-eval's report of offline_records records of the
	// same seed, fraud rate, bad rate and mix (null with
	// --offline-records 0).
	OfflineRecords int              `json:"offline_records"`
	Offline        *fraudEvalReport `json:"offline"`
}

// liveEntityReport is what the entity stage did in fraud-eval --live's
// window, from what it committed before run stopped (run waits for it to
// catch up within the shutdown grace).
type liveEntityReport struct {
	// Raised counts the window's flagged transactions whose decision the
	// second step raised (their alert carries an entity rule's reason,
	// "step": 2): approvals raised to review or decline and reviews
	// raised to decline. RaisedFraud are fraudulent, RaisedByScenario
	// counts those by scenario.
	Raised           int            `json:"raised"`
	RaisedFraud      int            `json:"raised_fraud"`
	RaisedByScenario map[string]int `json:"raised_by_scenario"`
	// Rings is the rings stored or grown during the window, RingAccounts
	// their member accounts (distinct).
	Rings        int `json:"rings"`
	RingAccounts int `json:"ring_accounts"`
}

// runFraudEvalLive is fraud-eval --live: run's pipeline, as run wires it
// and at its defaults, for a while after the backfill is stored, measured
// against what the generator knows of each live record.
func runFraudEvalLive(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("fraud-eval --live", stderr)
	live := fs.Duration("live", 0, "measure run's pipeline for this long after its backfill is stored (e.g. 30m)")
	asJSON := fs.Bool("json", false, `print one JSON object {"precision", "recall", "fpr", "per_scenario", "generated", "stored", "quarantined", "offline": {...}, ...}`)
	dataDir := fs.String("data-dir", "", "directory of run's store and broker (default: a temporary one, removed afterwards)")
	offlineRecords := fs.Int("offline-records", 100_000, "records of the offline fraud-eval of the same seed shown for comparison (0: none)")
	pass := map[string]*passFlag{}
	for _, name := range liveShopFlags {
		p := &passFlag{}
		pass[name] = p
		fs.Var(p, name, "as run's --"+name+" (default: run's)")
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case *live <= 0:
		return usageError{fmt.Errorf("invalid value %v for flag -live: must be positive", *live)}
	case *offlineRecords != 0 && *offlineRecords < 100:
		return usageError{fmt.Errorf("invalid value %d for flag -offline-records: want 0 or at least 100", *offlineRecords)}
	}
	dir := *dataDir
	if dir == "" {
		d, err := os.MkdirTemp("", "shopstream-fraud-eval-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	runArgs := []string{"--data-dir", dir, "--addr", "127.0.0.1:0"}
	fs.Visit(func(f *flag.Flag) {
		if p, ok := pass[f.Name]; ok && p.set {
			runArgs = append(runArgs, "--"+f.Name+"="+p.value)
		}
	})

	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	started := time.Now()
	t := &liveTruth{stop: stopRun, good: map[string]liveLabel{}, bad: map[string]int{}}
	var rep *fraudEvalLiveReport
	// The hooks below write to stderr from run's goroutines, beside run's
	// own progress lines: one lock for both (runShop keeps this one).
	stderr = &lockedWriter{w: stderr}
	hooks := &runHooks{
		sink: func(next generate.Sink, info runInfo) generate.Sink {
			t.next, t.info = next, info
			return t
		},
		backfillStored: func() {
			if err := t.open(runCtx); err != nil {
				t.fail(err)
				return
			}
			fmt.Fprintf(stderr, "fraud-eval: backfill stored after %s; measuring the live stream for %s\n", time.Since(started).Round(time.Second), *live)
			time.AfterFunc(*live, t.close)
		},
		drained: func(ctx context.Context, st store.Store) error {
			var err error
			rep, err = t.measure(ctx, st)
			return err
		},
	}
	// run's own lines go to stderr: stdout is the report's.
	if err := runShop(runCtx, runArgs, stderr, stderr, hooks); err != nil {
		return err
	}
	if rep == nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return errors.New("fraud-eval --live: run stopped before its backfill was stored")
	}
	rep.Warmup = t.started.Sub(started).Round(time.Second).String()
	rep.OfflineRecords = *offlineRecords
	if *offlineRecords > 0 {
		var erules *fraud.EntityRuleSet
		if t.info.entities {
			erules = fraud.DefaultEntityRules()
		}
		off, err := evaluate.Fraud(ctx, evaluate.Config{Records: *offlineRecords, Seed: t.info.gcfg.Seed, FraudRate: t.info.gcfg.FraudRate,
			BadRate: t.info.gcfg.BadRate, FraudMix: t.info.gcfg.FraudMix, Scorer: fraud.ScorerConfig{}, MaxFPR: 0.01, EntityRules: erules})
		if err != nil {
			return fmt.Errorf("the offline comparison: %w", err)
		}
		o := offlineReport(off, t.info.gcfg.Seed)
		rep.Offline = &o
	}
	if *asJSON {
		b, err := json.Marshal(rep)
		if err != nil {
			return fmt.Errorf("encoding the report: %w", err)
		}
		_, err = fmt.Fprintf(stdout, "%s\n", b)
		return err
	}
	return printFraudEvalLive(stdout, rep)
}

// liveLabel is the generator's truth about a good record.
type liveLabel struct {
	fraud    bool
	scenario string
}

// liveTruth wraps run's generator sink: from open to close it keeps what
// the generator knows of every record it writes, and notes the end
// offsets of the topic at open, so that the window's records are those
// at or after them.
type liveTruth struct {
	next generate.Sink
	info runInfo
	stop context.CancelFunc

	mu             sync.Mutex
	live, closed   bool
	started, ended time.Time
	start          map[int32]int64
	good           map[string]liveLabel
	bad            map[string]int
	records        int
	fraud          int
	repeated       int // good records repeating a transaction id of the window
	err            error
}

// fail stops run with err, which measure returns.
func (t *liveTruth) fail(err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.err = err
	t.stop()
}

func (t *liveTruth) Write(ctx context.Context, r generate.Record) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		if err := ctx.Err(); err != nil {
			return err
		}
		return context.Canceled
	}
	// Not cancelled: what was handed on is delivered when the window
	// closes, and the generator's context ends then.
	if err := t.next.Write(context.WithoutCancel(ctx), r); err != nil {
		return err
	}
	if !t.live {
		return nil
	}
	t.records++
	if r.Bad != "" {
		t.bad[string(r.Bad)]++
		return nil
	}
	if _, ok := t.good[r.TransactionID]; ok {
		t.repeated++
	}
	t.good[r.TransactionID] = liveLabel{fraud: r.Fraud, scenario: r.Scenario}
	if r.Fraud {
		t.fraud++
	}
	return nil
}

func (t *liveTruth) Flush(ctx context.Context) error { return t.next.Flush(ctx) }

// open starts the window: with the generator held, everything written so
// far is flushed to the broker, and the topic's end offsets are where
// the window's records begin.
func (t *liveTruth) open(ctx context.Context) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.next.Flush(ctx); err != nil {
		return err
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(t.info.brokers...))
	if err != nil {
		return err
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, bus.TopicTransactions)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return fmt.Errorf("reading the end offsets of %s: %w", bus.TopicTransactions, err)
	}
	t.start = map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) { t.start[o.Partition] = o.Offset })
	t.live, t.started = true, time.Now()
	return nil
}

// close ends the window and stops run: the generator's next write finds
// its context done.
func (t *liveTruth) close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.closed {
		t.closed, t.ended = true, time.Now()
		t.stop()
	}
}

// measure reads what the store holds of the window's offsets.
func (t *liveTruth) measure(ctx context.Context, st store.Store) (*fraudEvalLiveReport, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.err != nil {
		return nil, t.err
	}
	if !t.live {
		return nil, nil
	}
	if t.ended.IsZero() { // interrupted
		t.closed, t.ended = true, time.Now()
	}
	rep := &fraudEvalLiveReport{Seed: t.info.gcfg.Seed, Rate: t.info.rate, History: t.info.history, Duration: t.ended.Sub(t.started).Round(time.Second).String(),
		Generated: t.records, Good: len(t.good) + t.repeated, Fraud: t.fraud,
		QuarantineReasons: map[string]int{}, Decisions: map[string]int{}, PerScenario: map[string]jsonNum{}, ScenarioCounts: map[string]int{}}
	for _, n := range t.bad {
		rep.Bad += n
	}
	qs, ok := st.(store.Quarantine)
	if !ok {
		return nil, fmt.Errorf("store %T keeps no quarantine", st)
	}
	parts := make([]int32, 0, len(t.start))
	for p := range t.start {
		parts = append(parts, p)
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i] < parts[j] })
	seen := map[string]bool{}
	flaggedTx := map[string]liveLabel{} // flagged ones: the truth
	flaggedBy := map[string]int{}
	var tp, fp, legit int
	for _, p := range parts {
		err := st.RecentTransactions(ctx, p, t.start[p], time.Unix(0, 0), func(tx *store.Tx) error {
			rep.Stored++
			l, ok := t.good[tx.TransactionID]
			if !ok || seen[tx.TransactionID] {
				rep.UnknownStored++
				return nil
			}
			seen[tx.TransactionID] = true
			rep.Scored++
			rep.Decisions[tx.Decision]++
			flagged := tx.Decision == fraud.Review.String() || tx.Decision == fraud.Decline.String()
			if flagged {
				rep.Flagged++
				flaggedTx[tx.TransactionID] = l
			}
			switch {
			case l.fraud:
				rep.ScoredFraud++
				rep.ScenarioCounts[l.scenario]++
				if flagged {
					tp++
					flaggedBy[l.scenario]++
				}
			default:
				legit++
				if flagged {
					fp++
				}
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("reading the window's transactions: %w", err)
		}
		for before := int64(0); ; {
			pp := p
			rows, err := qs.ListQuarantine(ctx, store.QuarantineFilter{Partition: &pp, Topic: bus.TopicTransactions,
				Source: store.SourceStream, Since: t.started, Before: before, Limit: 1000})
			if err != nil {
				return nil, fmt.Errorf("reading the window's quarantined records: %w", err)
			}
			for _, q := range rows {
				if q.Offset >= t.start[p] {
					rep.Quarantined++
					rep.QuarantineReasons[q.Reason]++
				}
			}
			if len(rows) < 1000 {
				break
			}
			before = rows[len(rows)-1].ID
		}
	}
	if err := t.flaggedBy(ctx, st, flaggedTx, rep); err != nil {
		return nil, err
	}
	if t.info.entities {
		if err := t.rings(ctx, st, rep); err != nil {
			return nil, err
		}
	}
	rep.GoodNotStored = rep.Good - rep.Scored
	rep.Unaccounted = rep.Generated - rep.Stored - rep.Quarantined
	rep.TruePos, rep.FalsePos = tp, fp
	c := eval.Confusion{TP: tp, FP: fp, TN: legit - fp, FN: rep.ScoredFraud - tp}
	rep.Precision, rep.Recall, rep.FPR = jsonNum(c.Precision()), jsonNum(c.Recall()), jsonNum(c.FPR())
	for s, n := range rep.ScenarioCounts {
		rep.PerScenario[s] = jsonNum(eval.Confusion{TP: flaggedBy[s], FN: n - flaggedBy[s]}.Recall())
	}
	return rep, nil
}

// rings counts the rings stored or grown since the window began.
func (t *liveTruth) rings(ctx context.Context, st store.Store, rep *fraudEvalLiveReport) error {
	es, ok := st.(store.Entities)
	if !ok {
		return fmt.Errorf("store %T keeps no rings", st)
	}
	members := map[string]bool{}
	f := store.RingFilter{Since: t.started, Limit: 1000}
	for {
		rs, err := es.EntityRings(ctx, f)
		if err != nil {
			return fmt.Errorf("reading the window's rings: %w", err)
		}
		for _, r := range rs {
			rep.Entities.Rings++
			for _, m := range r.Members {
				members[m] = true
			}
		}
		if len(rs) < f.Limit {
			break
		}
		last := rs[len(rs)-1]
		f.After = &store.RingCursor{UpdatedAt: last.UpdatedAt, Key: last.Key}
	}
	rep.Entities.RingAccounts = len(members)
	return nil
}

// flaggedBy counts the reasons of the flagged transactions' alerts, and
// those the entity stage's second step raised.
func (t *liveTruth) flaggedBy(ctx context.Context, st store.Store, flagged map[string]liveLabel, rep *fraudEvalLiveReport) error {
	rep.FlaggedBy = map[string]ruleHit{}
	if t.info.entities {
		rep.Entities = &liveEntityReport{RaisedByScenario: map[string]int{}}
	}
	fs, ok := st.(store.Fraud)
	if !ok {
		return fmt.Errorf("store %T keeps no alerts", st)
	}
	for before := int64(0); ; {
		alerts, err := fs.Alerts(ctx, store.AlertFilter{Since: t.started.Add(-time.Hour), BeforeID: before, Limit: 1000})
		if err != nil {
			return fmt.Errorf("reading the window's alerts: %w", err)
		}
		for _, a := range alerts {
			l, ok := flagged[a.TransactionID]
			if !ok {
				continue
			}
			isFraud := l.fraud
			delete(flagged, a.TransactionID) // once, whatever re-reads
			rep.Alerted++
			var reasons []struct {
				Rule    string `json:"rule"`
				Feature string `json:"feature"`
				Step    int    `json:"step"`
			}
			if err := json.Unmarshal(a.ReasonsJSON, &reasons); err != nil {
				return fmt.Errorf("the reasons of the alert of %s: %w", a.TransactionID, err)
			}
			names := map[string]bool{}
			raised := false
			for _, r := range reasons {
				raised = raised || r.Step == 2
				switch {
				case r.Rule != "":
					names[r.Rule] = true
				case r.Feature != "":
					names["forest"] = true
				}
			}
			if e := rep.Entities; e != nil && raised {
				e.Raised++
				if isFraud {
					e.RaisedFraud++
					e.RaisedByScenario[l.scenario]++
				}
			}
			for n := range names {
				h := rep.FlaggedBy[n]
				h.Hits++
				if isFraud {
					h.Fraud++
				}
				rep.FlaggedBy[n] = h
			}
		}
		if len(alerts) < 1000 {
			return nil
		}
		before = alerts[len(alerts)-1].ID
	}
}

// offlineReport is fraud-eval's JSON report of rep.
func offlineReport(rep *evaluate.Report, seed int64) fraudEvalReport {
	out := fraudEvalReport{
		Seed: seed, Records: rep.Records, Quarantined: rep.Quarantined, Trained: rep.Trained,
		Scored: rep.Scored, Fraud: rep.Fraud,
		ReviewAt: jsonNum(rep.ReviewAt), Precision: jsonNum(rep.Precision), Recall: jsonNum(rep.Recall),
		FPR: jsonNum(rep.FPR), PRAUC: jsonNum(rep.PRAUC), ROCAUC: jsonNum(rep.ROCAUC),
		RecallAt1pctFPR: jsonNum(rep.RecallAtFPR), ThresholdAt1pctFPR: jsonNum(rep.ThresholdAtFPR),
		RulesRecallAt1pctFPR: jsonNum(rep.RulesRecallAtFPR), ModelRecallAt1pctFPR: jsonNum(rep.ModelRecallAtFPR),
		ModelROCAUC:          jsonNum(rep.ModelROCAUC),
		PerScenario:          map[string]jsonNum{},
		PerScenarioAt1pctFPR: map[string]jsonNum{},
		ScenarioCounts:       map[string]int{},
		RuleHits:             map[string]ruleHit{},
		FlaggedBy:            map[string]ruleHit{},
		Entity:               rep.Entity,
	}
	for name, s := range rep.Scenarios {
		out.PerScenario[name] = jsonNum(s.Recall)
		out.PerScenarioAt1pctFPR[name] = jsonNum(s.RecallAtFPR)
		out.ScenarioCounts[name] = s.Count
	}
	for name, h := range rep.RuleHits {
		out.RuleHits[name] = ruleHit{Hits: h.Hits, Fraud: h.Fraud}
		if h.Flagged > 0 {
			out.FlaggedBy[name] = ruleHit{Hits: h.Flagged, Fraud: h.FlaggedFraud}
		}
	}
	return out
}

func printFraudEvalLive(w io.Writer, rep *fraudEvalLiveReport) error {
	var b strings.Builder
	fmt.Fprintf(&b, "fraud-eval --live: run's pipeline, seed %d, %s of history, %g transactions/s; backfill stored after %s, then %s measured\n",
		rep.Seed, rep.History, rep.Rate, rep.Warmup, rep.Duration)
	fmt.Fprintf(&b, "generated %d records live (%d good, %d of them fraud; %d bad): %d stored, %d quarantined, %d unaccounted\n",
		rep.Generated, rep.Good, rep.Fraud, rep.Bad, rep.Stored, rep.Quarantined, rep.Unaccounted)
	if rep.GoodNotStored != 0 || rep.UnknownStored != 0 {
		fmt.Fprintf(&b, "%d good records not stored, %d stored transactions the generator did not write in the window\n", rep.GoodNotStored, rep.UnknownStored)
	}
	fmt.Fprintf(&b, "decisions on the %d stored (%d fraud): %s\n\n", rep.Scored, rep.ScoredFraud, countsLine(rep.Decisions))
	off := rep.Offline
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "review or decline\tprecision\trecall\tFPR\t\n")
	fmt.Fprintf(tw, "live\t%.3f\t%.3f\t%.2f%%\t\n", rep.Precision, rep.Recall, 100*rep.FPR)
	if off != nil {
		fmt.Fprintf(tw, "offline (%d records)\t%.3f\t%.3f\t%.2f%%\t\n", off.Records, off.Precision, off.Recall, 100*off.FPR)
	}
	tw.Flush()
	b.WriteString("\n")
	tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "scenario\tlive records\tlive recall\toffline records\toffline recall\t\n")
	names := map[string]bool{}
	for s := range rep.ScenarioCounts {
		names[s] = true
	}
	if off != nil {
		for s := range off.ScenarioCounts {
			names[s] = true
		}
	}
	sorted := make([]string, 0, len(names))
	for s := range names {
		sorted = append(sorted, s)
	}
	sort.Strings(sorted)
	for _, s := range sorted {
		fmt.Fprintf(tw, "%s\t%d\t%s\t", s, rep.ScenarioCounts[s], rateCell(rep.PerScenario, s))
		if off != nil {
			fmt.Fprintf(tw, "%d\t%s\t", off.ScenarioCounts[s], rateCell(off.PerScenario, s))
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	if len(rep.FlaggedBy) > 0 {
		b.WriteString("\n")
		rules := make([]string, 0, len(rep.FlaggedBy))
		for n := range rep.FlaggedBy {
			rules = append(rules, n)
		}
		sort.Strings(rules)
		tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "live flagged by\ttransactions\tfraud\tprecision\t\n")
		for _, n := range rules {
			h := rep.FlaggedBy[n]
			fmt.Fprintf(tw, "%s\t%d\t%d\t%.3f\t\n", n, h.Hits, h.Fraud, float64(h.Fraud)/float64(h.Hits))
		}
		tw.Flush()
	}
	if e := rep.Entities; e != nil {
		fmt.Fprintf(&b, "\nentity stage: %d flagged transactions raised by the second step (%d fraud: %s); %d rings of %d accounts stored or grown\n",
			e.Raised, e.RaisedFraud, countsLine(e.RaisedByScenario), e.Rings, e.RingAccounts)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// countsLine is "a 3, b 2" by name.
func countsLine(m map[string]int) string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s %d", n, m[n])
	}
	return strings.Join(parts, ", ")
}

// rateCell is m[k] to three decimals, "-" when absent or NaN.
func rateCell(m map[string]jsonNum, k string) string {
	v, ok := m[k]
	if !ok || math.IsNaN(float64(v)) {
		return "-"
	}
	return fmt.Sprintf("%.3f", float64(v))
}
