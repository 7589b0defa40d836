package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/shopstream/shopstream/internal/bench"
	"github.com/shopstream/shopstream/internal/bus"
	"github.com/shopstream/shopstream/internal/detector"
	"github.com/shopstream/shopstream/internal/fraud"
	"github.com/shopstream/shopstream/internal/recsvc"
	"github.com/shopstream/shopstream/internal/shopgeo"
)

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench", stderr)
	var lf logFlags
	lf.register(fs, "info")
	pg := fs.String("postgres", "", "PostgreSQL URL to measure (default: start a throwaway cluster, fsync on)")
	records := fs.Int("records", 200_000, "records per throughput run")
	customers := fs.Int("customers", 100_000, "customers in the generated shop")
	seed := fs.Int64("seed", 1, "generator seed")
	runs := fs.Int("runs", 3, "runs; each figure is the median")
	batch := fs.Int("batch", 10_000, "most records per database transaction (processor and bare COPY alike)")
	latRate := fs.Float64("latency-rate", 20_000, "offered rate of the latency run, transactions/s")
	latDur := fs.Duration("latency-duration", 10*time.Second, "length of the latency run")
	writers := fs.Int("writers", 0, "database transactions the processor keeps in flight (default: 2 with PostgreSQL, 1 with SQLite)")
	skipEmbedded := fs.Bool("skip-embedded", false, "leave out the embedded (SQLite) run")
	recRecords := fs.Int("recovery-records", bench.DefaultRecoveryRecords, "transactions stored before the recovery phase kills a processor")
	recCustomers := fs.Int("recovery-customers", bench.DefaultRecoveryCustomers, "customers in the recovery phase's shop")
	skipRecovery := fs.Bool("skip-recovery", false, "leave out the recovery phase (recovery_s)")
	onlyRecovery := fs.Bool("recovery-only", false, "run the recovery phase alone")
	withRec := fs.Bool("with-recommend", false, "also measure end to end (PostgreSQL) with a recommendation service tailing the store, alternating with the runs without it")
	recFold := fs.Duration("recommend-fold-interval", time.Second, "with -with-recommend: how often the service folds what was committed since its last fold")
	recShare := fs.Float64("recommend-cpu-share", 0.1, "with -with-recommend: the most of one core the service takes when behind (1: unpaced)")
	recRebuild := fs.Duration("recommend-rebuild-interval", 5*time.Second, "with -with-recommend: how often the service rebuilds its model")
	skipDeployed := fs.Bool("skip-deployed", false, "leave out the deployed phase (separate broker, generate and process processes)")
	skipSteady := fs.Bool("skip-steady-latency", false, "in the deployed phase, leave out the second latency run, made once the background jobs have caught up with the backlog")
	depRecords := fs.Int("deployed-records", 1_000_000, "records the deployed phase's generator produces at full speed")
	depCustomers := fs.Int("deployed-customers", 1_000_000, "customers in the deployed phase's shop")
	brokers := fs.String("brokers", "", "with the deployed phase: comma-separated host:port of a Kafka to use instead of a `shopstream broker` child")
	var ksf kafkaSecurityFlags
	ksf.register(fs)
	asJSON := fs.Bool("json", false, "print the result as one JSON object on the last line")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole benchmark to this file (go tool pprof)")
	var af apiBenchFlags
	af.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := af.validate(fs); err != nil {
		return err
	}
	switch {
	case *records < 1000:
		return usageError{fmt.Errorf("invalid value %d for flag -records: at least 1000", *records)}
	case *runs < 1:
		return usageError{fmt.Errorf("invalid value %d for flag -runs: at least 1", *runs)}
	case *writers < 0 || *writers > 64:
		return usageError{fmt.Errorf("invalid value %d for flag -writers: want 1..64 (0: the store's default)", *writers)}
	case *batch < 1:
		return usageError{fmt.Errorf("invalid value %d for flag -batch: at least 1", *batch)}
	case *latRate <= 0:
		return usageError{fmt.Errorf("invalid value %v for flag -latency-rate: must be above 0", *latRate)}
	case *recRecords < 1000:
		return usageError{fmt.Errorf("invalid value %d for flag -recovery-records: at least 1000", *recRecords)}
	case *recCustomers < 1:
		return usageError{fmt.Errorf("invalid value %d for flag -recovery-customers: at least 1", *recCustomers)}
	case *skipRecovery && *onlyRecovery:
		return usageError{fmt.Errorf("flags -skip-recovery and -recovery-only exclude each other")}
	case *latDur < time.Second:
		return usageError{fmt.Errorf("invalid value %v for flag -latency-duration: at least 1s", *latDur)}
	case *depRecords < 1000:
		return usageError{fmt.Errorf("invalid value %d for flag -deployed-records: at least 1000", *depRecords)}
	case *depCustomers < 1:
		return usageError{fmt.Errorf("invalid value %d for flag -deployed-customers: at least 1", *depCustomers)}
	case *brokers != "" && *skipDeployed:
		return usageError{fmt.Errorf("flag -brokers is for the deployed phase, which -skip-deployed leaves out")}
	case ksf.given() && *brokers == "":
		return usageError{fmt.Errorf("the -kafka-* flags are for the Kafka of -brokers (the deployed phase's own broker child is plaintext)")}
	case *recFold <= 0:
		return usageError{fmt.Errorf("invalid value %v for flag -recommend-fold-interval: must be positive", *recFold)}
	case !(*recShare > 0 && *recShare <= 1):
		return usageError{fmt.Errorf("invalid value %g for flag -recommend-cpu-share: want a share of one core in (0, 1]", *recShare)}
	case *recRebuild <= 0:
		return usageError{fmt.Errorf("invalid value %v for flag -recommend-rebuild-interval: must be positive", *recRebuild)}
	case *withRec && *onlyRecovery:
		return usageError{fmt.Errorf("flags -with-recommend and -recovery-only exclude each other")}
	}
	if !*withRec {
		var set []string
		fs.Visit(func(f *flag.Flag) {
			if f.Name == "recommend-fold-interval" || f.Name == "recommend-rebuild-interval" {
				set = append(set, "-"+f.Name)
			}
		})
		if len(set) > 0 {
			return usageError{fmt.Errorf("flag %s needs -with-recommend", strings.Join(set, ", "))}
		}
	}
	kafkaOpts, err := ksf.opts()
	if err != nil {
		return err
	}
	logger, err := lf.logger(stderr)
	if err != nil {
		return err
	}
	if af.only {
		return runAPIBench(ctx, &af, *pg, *seed, *batch, *asJSON, logger, stdout)
	}
	url := *pg
	if url == "" {
		u, stop, err := throwawayPostgres(ctx, logger)
		if err != nil {
			return err
		}
		defer stop()
		url = u
	}
	if *cpuProfile != "" {
		stop, err := startCPUProfile(*cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	det, err := detector.New(detector.Config{State: shopgeo.Lookups(fraud.StateConfig{}), Logger: logger})
	if err != nil {
		return err
	}
	// Full processing includes the isolation forest, so the benchmark
	// scores with a model trained as the training job would.
	if err := bench.TrainModel(det, *seed); err != nil {
		return err
	}
	res, err := bench.Run(ctx, bench.Config{
		Commit: benchCommit(Build().Commit), PostgresURL: url, Records: *records, Customers: *customers, Seed: *seed, Runs: *runs, Batch: *batch,
		LatencyRate: *latRate, LatencyDuration: *latDur, SkipEmbedded: *skipEmbedded, Writers: *writers,
		NewScorer: partitionScorers(det), Logger: logger,
		RecoveryRecords: *recRecords, RecoveryCustomers: *recCustomers, SkipRecovery: *skipRecovery, OnlyRecovery: *onlyRecovery,
		SkipDeployed: *skipDeployed || *onlyRecovery, SkipSteadyLatency: *skipSteady, DeployedRecords: *depRecords, DeployedCustomers: *depCustomers,
		Brokers: bus.SplitBrokers(*brokers), KafkaOpts: kafkaOpts, KafkaArgs: ksf.args(),
		WithRecommend: *withRec, Recommend: recsvc.Config{FoldEvery: *recFold, RebuildEvery: *recRebuild, CPUShare: *recShare},
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "shopstream bench  commit %s  %s  %s\n", res.Commit, res.Machine, res.GoVersion)
	if *onlyRecovery {
		printRecovery(stdout, res)
		if *asJSON {
			b, _ := json.Marshal(res)
			fmt.Fprintf(stdout, "%s\n", b)
		}
		return nil
	}
	if d := res.DeployedResult; d != nil {
		printDeployed(stdout, res)
	}
	fmt.Fprintf(stdout, "in process (generator, broker and processor in this process): %d records, %d customers, seed %d, batch %d, median of %d runs\n\n",
		res.Records, res.Customers, res.Seed, res.Batch, res.Runs)
	fmt.Fprintf(stdout, "  end to end, PostgreSQL    %10.0f tx/s     runs %s\n", res.E2ETPS, runsList(res.E2ERuns))
	fmt.Fprintf(stdout, "  bare COPY, same rows      %10.0f rows/s   runs %s\n", res.CopyRowsPerS, runsList(res.CopyRuns))
	if res.CopyPGUsPerRow > 0 {
		fmt.Fprintf(stdout, "  bare COPY's CPU per row   %10.1f us       (this process %.1f, PostgreSQL %.1f)\n",
			res.CopyGoUsPerRow+res.CopyPGUsPerRow, res.CopyGoUsPerRow, res.CopyPGUsPerRow)
	}
	fmt.Fprintf(stdout, "  ratio                     %10.2f          (target >= 0.5)\n", res.Ratio)
	if r := res.Recommend; r != nil {
		printRecommend(stdout, r)
	}
	if !*skipEmbedded {
		fmt.Fprintf(stdout, "  end to end, SQLite        %10.0f tx/s     runs %s\n", res.EmbeddedTPS, runsList(res.EmbeddedRuns))
	}
	fmt.Fprintf(stdout, "  latency at %.0f/s offered (%.0f/s achieved): p50 %.1f ms, p95 %.1f ms, p99 %.1f ms\n",
		res.LatencyRate, res.AchievedRate, res.P50Ms, res.P95Ms, res.P99Ms)
	fmt.Fprintf(stdout, "  peak RSS (whole process, embedded broker included) %.0f MiB\n", float64(res.PeakRSSBytes)/(1<<20))
	if !*skipRecovery {
		printRecovery(stdout, res)
	}
	if *asJSON {
		b, _ := json.Marshal(res)
		fmt.Fprintf(stdout, "%s\n", b)
	}
	return nil
}

// startCPUProfile writes a CPU profile to path until the returned stop is
// called.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("-cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("-cpuprofile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

func printDeployed(w io.Writer, res *bench.Result) {
	d := res.DeployedResult
	fmt.Fprintf(w, "deployed (%s, `generate` at full speed and `process` with its default flags, each its own OS process): %d records, %d customers, median of %d runs\n\n",
		d.Kafka, d.Records, d.Customers, len(res.DeployedRuns))
	fmt.Fprintf(w, "  stored, first to last commit  %10.0f tx/s     runs %s  (target >= 60,000)\n", d.TPS, runsList(res.DeployedRuns))
	fmt.Fprintf(w, "  with start-up                 %10.0f tx/s\n", d.TPSWithStartup)
	fmt.Fprintf(w, "  ratio to the bare COPY        %10.2f          (target >= 0.5)\n", d.Ratio)
	fmt.Fprintf(w, "  CPU per transaction           process %.1f µs, PostgreSQL %.1f µs, generate %.1f µs", d.GoUsPerTx, d.PGUsPerTx, d.GeneratorUsPerTx)
	if d.BrokerUsPerTx > 0 {
		fmt.Fprintf(w, ", broker %.1f µs", d.BrokerUsPerTx)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  latency at %.0f/s offered (%.0f/s achieved): p50 %.1f ms, p95 %.1f ms, p99 %.1f ms  (target p99 < 100 ms)\n",
		res.LatencyRate, d.AchievedRate, d.P50Ms, d.P95Ms, d.P99Ms)
	if d.SteadyP99Ms > 0 {
		caught := fmt.Sprintf("after %.0f s, once the background jobs had caught up with the backlog", d.SteadyWaitS)
		if !d.SteadyCaughtUp {
			caught = fmt.Sprintf("after %.0f s, the background jobs not yet caught up with the backlog", d.SteadyWaitS)
		}
		fmt.Fprintf(w, "  again %s: p50 %.1f ms, p95 %.1f ms, p99 %.1f ms\n", caught, d.SteadyP50Ms, d.SteadyP95Ms, d.SteadyP99Ms)
	}
	fmt.Fprintf(w, "  process peak RSS              %10.0f MiB     (target < 1024)\n\n", float64(d.ProcessPeakRSSBytes)/(1<<20))
}

func printRecovery(w io.Writer, res *bench.Result) {
	fmt.Fprintf(w, "  recovery, SIGKILL to first new commit, %d stored over %d customers, seed %d: %.2f s  (target < 5 s)\n",
		res.RecoveryRecords, res.RecoveryCustomers, res.Seed, res.RecoveryS)
}

func printRecommend(w io.Writer, r *bench.RecommendResult) {
	fmt.Fprintf(w, "  end to end, PostgreSQL, with recommendations tailing (fold every %gs, rebuild every %gs)\n", r.FoldEveryS, r.RebuildEveryS)
	fmt.Fprintf(w, "                            %10.0f tx/s     runs %s\n", r.TPS, runsList(r.Runs))
	costs := ""
	for i, c := range r.CostRuns {
		if i > 0 {
			costs += ", "
		}
		costs += fmt.Sprintf("%.1f%%", 100*c)
	}
	fmt.Fprintf(w, "  cost of the service        %9.1f%%          runs %s  (target <= 10%%)\n", 100*r.Cost, costs)
	fmt.Fprintf(w, "  service folded             %10.0f lines/s  of %.0f stored/s; %.0f lines behind at the last commit, caught up %.2f s after it\n",
		r.LinesPerS, r.StoredLinesPerS, r.LagLines, r.CatchUpS)
	fmt.Fprintf(w, "  service busy reading and folding %.0f ns per line\n", r.BusyNsPerLine)
}

func runsList(xs []float64) string {
	s := ""
	for i, x := range xs {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%.0f", x)
	}
	return s
}

// benchCommit is the commit a bench reports: the binary's, shortened to
// 12 hex digits as git's short form, "-dirty" kept; "" when its build
// recorded none (the bench then asks git in the working directory).
func benchCommit(build string) string {
	if build == "" || build == "unknown" {
		return ""
	}
	c, dirty := strings.CutSuffix(build, "-dirty")
	if len(c) > 12 {
		c = c[:12]
	}
	if dirty {
		c += "-dirty"
	}
	return c
}
