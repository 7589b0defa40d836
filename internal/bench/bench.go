// Package bench is `shopstream bench`: the reproducible end-to-end
// benchmark. On a fixed seed and data size it measures, in one run and side
// by side:
//
//   - e2e_tps: generator -> Kafka -> full processing -> committed in
//     PostgreSQL, the topic pre-loaded, timed from the processor's first
//     fetch to its last commit;
//   - copy_rows_per_s: the bare PostgreSQL COPY of the same rows, as the
//     processor stores them (scores and reasons included), in the same batch
//     size, into a copy of the transactions table;
//   - ratio = e2e_tps / copy_rows_per_s;
//   - p50/p95/p99 latency from produce to commit with the generator running
//     at a fixed offered rate;
//   - embedded_tps: the same as e2e_tps with the SQLite store;
//   - peak_rss_bytes: the process's peak resident memory (broker included);
//   - recovery_s: with RecoveryRecords transactions stored, the time from
//     the SIGKILL of a `process` child to the first commit of the one
//     started in its place (see recovery.go);
//   - with WithRecommend, e2e_recommend_tps: e2e_tps again with a
//     recommendation service (recsvc) tailing the same store, as `serve`
//     or `run` next to the processor would, the two alternating run by run;
//     recommend_cost, the share of e2e_tps it takes; and how well the
//     service kept up (lines folded per second, lines behind at the last
//     commit, seconds until it caught up; see recommend.go).
//
// Each figure is the median over the runs.
package bench

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/procfs"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/internal/bus"
	"github.com/shopstream/shopstream/internal/event"
	"github.com/shopstream/shopstream/internal/generate"
	"github.com/shopstream/shopstream/internal/pipeline"
	"github.com/shopstream/shopstream/internal/recsvc"
	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/postgres"
	"github.com/shopstream/shopstream/internal/store/sqlite"
)

// Config configures a benchmark.
type Config struct {
	// PostgresURL is the server to measure; each run uses a schema of its
	// own, dropped afterwards. Required.
	PostgresURL string
	// Commit is the measured binary's commit, as its build recorded it;
	// empty: the working directory's git HEAD (as for `go test`, whose
	// binaries record none).
	Commit string
	// Records per throughput run. Defaults to 200,000.
	Records int
	// Customers in the generated shop. Defaults to 100,000.
	Customers int
	// Seed of the generator. Defaults to 1.
	Seed int64
	// Runs, whose median is reported. Defaults to 3.
	Runs int
	// Batch is the most records per database transaction, for the
	// processor and the bare COPY alike. Defaults to 10,000.
	Batch int
	// Writers is the processor's concurrent database transactions.
	// Defaults to the processor's default (2).
	Writers int
	// Partitions of the topic. Defaults to 4.
	Partitions int
	// LatencyRate is the offered rate of the latency run. Defaults to 20,000/s.
	LatencyRate float64
	// LatencyDuration is how long the latency run offers load (the first
	// 20% is warm-up and not counted). Defaults to 10 s.
	LatencyDuration time.Duration
	// SkipEmbedded leaves out the SQLite run.
	SkipEmbedded bool
	// RecoveryRecords are the transactions stored before the recovery
	// phase kills a processor. Defaults to 10,000,000.
	RecoveryRecords int
	// RecoveryCustomers is the shop's size in the recovery phase. Defaults
	// to 1,000,000.
	RecoveryCustomers int
	// RecoveryRate is the live stream's rate in the recovery phase, per
	// second. Defaults to 2,000.
	RecoveryRate float64
	// SkipRecovery leaves out the recovery phase; OnlyRecovery runs it
	// alone (once, whatever Runs says).
	SkipRecovery, OnlyRecovery bool
	// Executable is the shopstream binary the recovery phase starts as
	// `process` children. Defaults to the running executable.
	Executable string
	// WithRecommend adds, to every run, a PostgreSQL end-to-end phase with
	// a recommendation service tailing the store; the phases with and
	// without it alternate which goes first from run to run.
	WithRecommend bool
	// Recommend configures that service; the bench sets Store, Logger and
	// Registerer. FoldEvery defaults to 1 second and RebuildEvery to 5
	// seconds (faster than serve's 5 s and 1 min, so that a phase of a few
	// seconds sees several folds and a rebuild); the rest to recsvc's
	// defaults.
	Recommend recsvc.Config
	// SkipDeployed leaves out the deployed phase (deployed.go): the
	// pipeline as separate `broker`, `generate` and `process` processes.
	SkipDeployed bool
	// SkipSteadyLatency leaves out the deployed phase's second latency
	// run, after the background jobs caught up (DeployedResult.SteadyP99Ms),
	// and the wait for them.
	SkipSteadyLatency bool
	// DeployedRecords is the deployed phase's stream. Defaults to
	// 1,000,000.
	DeployedRecords int
	// DeployedCustomers is the deployed phase's shop. Defaults to
	// 1,000,000.
	DeployedCustomers int
	// Brokers, when given, is a Kafka the deployed phase's processes use
	// instead of a `broker` child.
	Brokers []string
	// KafkaOpts are the client options (TLS, SASL) the bench's own client
	// reaches Brokers with, and KafkaArgs the same settings as flags of
	// the `generate` and `process` children (shopstream's --kafka-*).
	// Both apply only with Brokers: a `broker` child is plaintext.
	KafkaOpts []kgo.Opt
	KafkaArgs []string
	// NewScorer is the processor's fraud scorer factory, as in production.
	NewScorer func(partition int32) pipeline.Scorer
	// Logger receives progress. Defaults to slog.Default().
	Logger *slog.Logger

	// start is the event time of the first generated record; zero means
	// an hour before the records are generated. Tests fix it to generate
	// the same records again.
	start time.Time
}

func (c Config) withDefaults() Config {
	if c.Records == 0 {
		c.Records = 200_000
	}
	if c.Customers == 0 {
		c.Customers = 100_000
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.Runs == 0 {
		c.Runs = 3
	}
	if c.Batch == 0 {
		c.Batch = 10_000
	}
	if c.Partitions == 0 {
		c.Partitions = 4
	}
	if c.LatencyRate == 0 {
		c.LatencyRate = 20_000
	}
	if c.LatencyDuration == 0 {
		c.LatencyDuration = 10 * time.Second
	}
	if c.RecoveryRecords == 0 {
		c.RecoveryRecords = DefaultRecoveryRecords
	}
	if c.RecoveryCustomers == 0 {
		c.RecoveryCustomers = DefaultRecoveryCustomers
	}
	if c.RecoveryRate == 0 {
		c.RecoveryRate = DefaultRecoveryRate
	}
	if c.DeployedRecords == 0 {
		c.DeployedRecords = 1_000_000
	}
	if c.DeployedCustomers == 0 {
		c.DeployedCustomers = 1_000_000
	}
	if c.Recommend.FoldEvery == 0 {
		c.Recommend.FoldEvery = time.Second
	}
	if c.Recommend.RebuildEvery == 0 {
		c.Recommend.RebuildEvery = 5 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Result is what the benchmark prints; each figure is a median over runs.
type Result struct {
	// The deployed phase's figures, of the run with the median
	// deployed_tps; nil when it was skipped.
	*DeployedResult
	DeployedRuns []float64 `json:"deployed_tps_runs,omitempty"`

	E2ETPS       float64 `json:"e2e_tps"`
	CopyRowsPerS float64 `json:"copy_rows_per_s"`
	// CopyGoUsPerRow and CopyPGUsPerRow are the CPU (user + system) of
	// the bare COPY per row: this process's, which encodes the rows and
	// sends them, and the PostgreSQL server's when it runs on this host
	// (0 otherwise). Their sum is what storing a transaction's row and
	// its id costs two cores before any processing.
	CopyGoUsPerRow float64 `json:"copy_go_us_per_row"`
	CopyPGUsPerRow float64 `json:"copy_pg_us_per_row"`
	Ratio          float64 `json:"ratio"`
	P50Ms          float64 `json:"p50_ms"`
	P95Ms          float64 `json:"p95_ms"`
	P99Ms          float64 `json:"p99_ms"`
	LatencyRate    float64 `json:"latency_offered_rate"`
	AchievedRate   float64 `json:"latency_achieved_rate"`
	PeakRSSBytes   int64   `json:"peak_rss_bytes"`
	EmbeddedTPS    float64 `json:"embedded_tps,omitempty"`
	// RecoveryS is SIGKILL to the restarted processor's first commit, with
	// RecoveryRecords stored; 0 when the phase was skipped.
	RecoveryS float64 `json:"recovery_s"`
	// RecoveryRecords is the stored history of the recovery phase.
	RecoveryRecords   int `json:"recovery_records,omitempty"`
	RecoveryCustomers int `json:"recovery_customers,omitempty"`

	Records   int       `json:"records"`
	Customers int       `json:"customers"`
	Runs      int       `json:"runs"`
	Batch     int       `json:"batch"`
	Seed      int64     `json:"seed"`
	Commit    string    `json:"commit"`
	Machine   string    `json:"machine"`
	GoVersion string    `json:"go_version"`
	At        time.Time `json:"at"`

	// The figures of WithRecommend; zero without it.
	Recommend *RecommendResult `json:"recommend,omitempty"`

	// Per-run figures, for the spread.
	E2ERuns      []float64 `json:"e2e_tps_runs"`
	CopyRuns     []float64 `json:"copy_rows_per_s_runs"`
	copyGo       []float64
	copyPG       []float64
	EmbeddedRuns []float64 `json:"embedded_tps_runs,omitempty"`
	P99Runs      []float64 `json:"p99_ms_runs"`
}

// Run executes the benchmark.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	cfg = cfg.withDefaults()
	if cfg.PostgresURL == "" {
		return nil, fmt.Errorf("bench: no PostgreSQL URL")
	}
	log := cfg.Logger
	if cfg.Commit == "" {
		cfg.Commit = commit()
	}
	res := &Result{Records: cfg.Records, Customers: cfg.Customers, Runs: cfg.Runs, Batch: cfg.Batch, Seed: cfg.Seed,
		Commit: cfg.Commit, Machine: machine(), GoVersion: runtime.Version(), At: time.Now().UTC(), LatencyRate: cfg.LatencyRate}

	if cfg.OnlyRecovery {
		res.Runs = 0
		return res, runRecovery(ctx, cfg, res)
	}
	log.Info("generating records", "records", cfg.Records, "customers", cfg.Customers, "seed", cfg.Seed)
	recs, err := prepare(cfg)
	if err != nil {
		return nil, err
	}
	var p50s, p95s, p99s, achieved []float64
	var deps []*DeployedResult
	// Each phase starts on a collected heap, so one phase's garbage (a
	// closed broker's log, say) does not slow the next.
	// PostgreSQL flushes the previous phase's writes first (CHECKPOINT;
	// skipped without the privilege), so a checkpoint does not land inside
	// a timed phase.
	settle := func() {
		runtime.GC()
		debug.FreeOSMemory()
		checkpoint(ctx, cfg.PostgresURL)
	}
	for run := 1; run <= cfg.Runs; run++ {
		settle()
		rows, err := rowsOf(cfg, recs)
		if err != nil {
			return nil, err
		}
		cp, err := bareCopy(ctx, cfg, rows, run)
		rows = nil
		if err != nil {
			return nil, err
		}
		copyRate := cp.rate
		res.CopyRuns = append(res.CopyRuns, copyRate)
		res.copyGo, res.copyPG = append(res.copyGo, cp.goUs), append(res.copyPG, cp.pgUs)
		log.Info("bare COPY", "run", run, "rows_per_s", int(copyRate), "go_us_per_row", cp.goUs, "pg_us_per_row", cp.pgUs)
		settle()

		if !cfg.SkipDeployed {
			d, err := deployed(ctx, cfg, run)
			if err != nil {
				return nil, fmt.Errorf("deployed phase: %w", err)
			}
			d.Ratio = d.TPS / copyRate
			deps = append(deps, d)
			res.DeployedRuns = append(res.DeployedRuns, d.TPS)
			settle()
		}

		// With WithRecommend, odd runs measure the processor alone first
		// and even runs with the service first, so a drift of the host
		// over the invocation weighs on both alike.
		withFirst := cfg.WithRecommend && run%2 == 0
		if withFirst {
			if err := recommendRun(ctx, cfg, recs, run, res); err != nil {
				return nil, err
			}
			settle()
		}
		tps, _, err := throughput(ctx, cfg, recs, run, false, false)
		if err != nil {
			return nil, err
		}
		res.E2ERuns = append(res.E2ERuns, tps)
		log.Info("end to end (PostgreSQL)", "run", run, "tps", int(tps))
		if cfg.WithRecommend && !withFirst {
			settle()
			if err := recommendRun(ctx, cfg, recs, run, res); err != nil {
				return nil, err
			}
		}

		if !cfg.SkipEmbedded {
			settle()
			etps, _, err := throughput(ctx, cfg, recs, run, true, false)
			if err != nil {
				return nil, err
			}
			res.EmbeddedRuns = append(res.EmbeddedRuns, etps)
			log.Info("end to end (SQLite)", "run", run, "tps", int(etps))
		}

		settle()
		lat, rate, err := latency(ctx, cfg, run)
		if err != nil {
			return nil, err
		}
		p50s, p95s, p99s = append(p50s, lat[0]), append(p95s, lat[1]), append(p99s, lat[2])
		achieved = append(achieved, rate)
		log.Info("latency", "run", run, "p50_ms", lat[0], "p95_ms", lat[1], "p99_ms", lat[2], "achieved_rate", int(rate))
	}
	if len(deps) > 0 {
		slices.SortFunc(deps, func(a, b *DeployedResult) int { return cmp.Compare(a.TPS, b.TPS) })
		res.DeployedResult = deps[len(deps)/2]
	}
	res.E2ETPS, res.CopyRowsPerS = median(res.E2ERuns), median(res.CopyRuns)
	res.CopyGoUsPerRow, res.CopyPGUsPerRow = median(res.copyGo), median(res.copyPG)
	res.Ratio = res.E2ETPS / res.CopyRowsPerS
	res.EmbeddedTPS = median(res.EmbeddedRuns)
	if res.Recommend != nil {
		res.Recommend.summarise(res.E2ETPS, res.E2ERuns, cfg.Recommend)
	}
	res.P50Ms, res.P95Ms, res.P99Ms = median(p50s), median(p95s), median(p99s)
	res.P99Runs = p99s
	res.AchievedRate = median(achieved)
	res.PeakRSSBytes = peakRSS()
	if !cfg.SkipRecovery {
		recs = nil
		settle()
		if err := runRecovery(ctx, cfg, res); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// runRecovery runs the recovery phase and records its figures in res.
func runRecovery(ctx context.Context, cfg Config, res *Result) error {
	rec, err := recovery(ctx, cfg)
	if err != nil {
		return fmt.Errorf("recovery phase: %w", err)
	}
	res.RecoveryS, res.RecoveryRecords, res.RecoveryCustomers = rec.Seconds, cfg.RecoveryRecords, cfg.RecoveryCustomers
	cfg.Logger.Info("recovery", "recovery_s", rec.Seconds, "all_partitions_s", rec.AllSeconds,
		"static_membership", rec.StaticMembership, "stored", cfg.RecoveryRecords, "customers", cfg.RecoveryCustomers)
	for _, l := range rec.Restore {
		cfg.Logger.Info("restarted processor", "log", l)
	}
	return nil
}

// prepare generates the records once. Event times are spread over the
// last hour, as a live stream's would be.
func prepare(cfg Config) ([]generate.Record, error) {
	g, err := generate.New(generate.Config{Seed: cfg.Seed, Customers: cfg.Customers})
	if err != nil {
		return nil, err
	}
	recs := make([]generate.Record, cfg.Records)
	start := cfg.start
	if start.IsZero() {
		start = time.Now().Add(-time.Hour)
	}
	step := time.Hour / time.Duration(cfg.Records)
	for i := range recs {
		recs[i] = g.NextAt(start.Add(time.Duration(i) * step))
	}
	return recs, nil
}

// rowsOf builds the stored rows of recs in batches, as the processor
// stores them (scored by cfg.NewScorer, one scorer per partition, so risk,
// reasons and the sampled feature vectors are there too), for the bare
// COPY. They are built per run and dropped after it, so they do not weigh
// on the other phases' heap.
func rowsOf(cfg Config, recs []generate.Record) ([][]store.Tx, error) {
	scorers := make([]pipeline.Scorer, cfg.Partitions)
	if cfg.NewScorer != nil {
		for p := range scorers {
			scorers[p] = cfg.NewScorer(int32(p))
		}
	}
	var rows [][]store.Tx
	var batch []store.Tx
	now := time.Now()
	for i := range recs {
		var t event.Transaction
		if err := event.Decode(recs[i].Value, &t); err != nil {
			return nil, fmt.Errorf("generated record %d does not decode: %w", i, err)
		}
		p := i % cfg.Partitions
		row := pipeline.NewTx(&t, int32(p), int64(i), now, recs[i].Value)
		if sc := scorers[p]; sc != nil {
			sc.Score(&t, &row)
		}
		batch = append(batch, row)
		if len(batch) == cfg.Batch {
			rows = append(rows, batch)
			batch = nil
		}
	}
	if len(batch) > 0 {
		rows = append(rows, batch)
	}
	return rows, nil
}

// schemaURL returns the URL of a fresh schema of its own for one run.
func schemaURL(ctx context.Context, base, name string) (string, func(), error) {
	st, err := postgres.Open(ctx, base)
	if err != nil {
		return "", nil, err
	}
	defer st.Close()
	if _, err := st.Pool().Exec(ctx, "DROP SCHEMA IF EXISTS "+name+" CASCADE; CREATE SCHEMA "+name); err != nil {
		return "", nil, fmt.Errorf("creating schema %s: %w", name, err)
	}
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	drop := func() {
		if st, err := postgres.Open(context.WithoutCancel(ctx), base); err == nil {
			st.Pool().Exec(context.WithoutCancel(ctx), "DROP SCHEMA IF EXISTS "+name+" CASCADE") //nolint:errcheck // best effort
			st.Close()
		}
	}
	return base + sep + "search_path=" + name, drop, nil
}

// copyCost is a bare COPY's rate and CPU per row.
type copyCost struct{ rate, goUs, pgUs float64 }

func bareCopy(ctx context.Context, cfg Config, rows [][]store.Tx, run int) (copyCost, error) {
	url, drop, err := schemaURL(ctx, cfg.PostgresURL, fmt.Sprintf("bench_copy_%d", run))
	if err != nil {
		return copyCost{}, err
	}
	defer drop()
	st, err := postgres.Open(ctx, url)
	if err != nil {
		return copyCost{}, err
	}
	defer st.Close()
	pm := postmasterOf(ctx, st)
	goBefore, pgBefore := selfCPU(), sampleCPU(nil, nil, pm).postgres
	took, err := st.BareCopy(ctx, rows)
	if err != nil {
		return copyCost{}, err
	}
	// BareCopy's table set-up is inside the window too: one CREATE of two
	// tables, nothing beside a million rows.
	n := float64(cfg.Records)
	c := copyCost{rate: n / took.Seconds(), goUs: (selfCPU() - goBefore) / n * 1e6}
	if pm != 0 {
		c.pgUs = (sampleCPU(nil, nil, pm).postgres - pgBefore) / n * 1e6
	}
	return c, nil
}

// selfCPU is this process's CPU seconds (user + system) so far, 0 when
// unknown.
func selfCPU() float64 { return cpuOf(os.Getpid()) }

// cpuOf is process pid's CPU seconds (user + system) so far, 0 when
// unknown.
func cpuOf(pid int) float64 {
	p, err := procfs.NewProc(pid)
	if err != nil {
		return 0
	}
	st, err := p.Stat()
	if err != nil {
		return 0
	}
	return st.CPUTime()
}

// preload starts a broker and fills its topic with recs.
func preload(ctx context.Context, cfg Config, recs []generate.Record) (*bus.Embedded, error) {
	b, err := bus.StartEmbedded(bus.EmbeddedConfig{Partitions: int32(cfg.Partitions), RetentionBytes: 8 << 30})
	if err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...), kgo.DefaultProduceTopic(bus.TopicTransactions),
		kgo.ProducerLinger(5*time.Millisecond), kgo.MaxBufferedRecords(50_000), kgo.ProducerBatchCompression(kgo.NoCompression()))
	if err != nil {
		b.Close()
		return nil, err
	}
	defer cl.Close()
	var perr atomic.Value
	for i := range recs {
		cl.Produce(ctx, &kgo.Record{Key: recs[i].Key, Value: recs[i].Value}, func(_ *kgo.Record, err error) {
			if err != nil {
				perr.Store(err)
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		b.Close()
		return nil, err
	}
	if err, _ := perr.Load().(error); err != nil {
		b.Close()
		return nil, fmt.Errorf("pre-loading the topic: %w", err)
	}
	return b, nil
}

// throughput runs the processor over a pre-loaded topic until every record
// is committed and returns records per second from first fetch to last
// commit. With recommend (PostgreSQL only), a recommendation service tails
// the store meanwhile, and what it did is returned too.
func throughput(ctx context.Context, cfg Config, recs []generate.Record, run int, embedded, recommend bool) (float64, *recommendRun1, error) {
	b, err := preload(ctx, cfg, recs)
	if err != nil {
		return 0, nil, err
	}
	defer b.Close()
	var st store.Store
	if embedded {
		dir, err := os.MkdirTemp("", "shopstream-bench-")
		if err != nil {
			return 0, nil, err
		}
		defer os.RemoveAll(dir)
		s, err := sqlite.Open(ctx, dir)
		if err != nil {
			return 0, nil, err
		}
		st = s
	} else {
		name := fmt.Sprintf("bench_e2e_%d", run)
		if recommend {
			name = fmt.Sprintf("bench_e2e_rec_%d", run)
		}
		url, drop, err := schemaURL(ctx, cfg.PostgresURL, name)
		if err != nil {
			return 0, nil, err
		}
		defer drop()
		s, err := postgres.Open(ctx, url)
		if err != nil {
			return 0, nil, err
		}
		st = s
	}
	defer st.Close()

	var tail *tailer
	if recommend {
		if tail, err = startTailer(ctx, cfg, st); err != nil {
			return 0, nil, err
		}
		defer tail.stop()
	}

	var mu sync.Mutex
	var first, last time.Time
	var committed int
	var foldedAtLast int64
	done := make(chan struct{})
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	p, err := pipeline.New(pipeline.Config{
		Brokers: b.Addrs(), Store: st, Group: "bench", MaxBatch: cfg.Batch, Writers: cfg.Writers, NewScorer: cfg.NewScorer,
		Logger: slog.New(slog.DiscardHandler),
		OnFetch: func(_ int, at time.Time) {
			mu.Lock()
			if first.IsZero() {
				first = at
			}
			mu.Unlock()
		},
		OnCommit: func(bt *store.Batch, at time.Time) {
			mu.Lock()
			defer mu.Unlock()
			for i := range bt.Parts {
				committed += bt.Parts[i].Len()
			}
			last = at
			if committed >= len(recs) {
				select {
				case <-done:
				default:
					if tail != nil {
						foldedAtLast = tail.svc.Folded()
					}
					close(done)
				}
			}
		},
	})
	if err != nil {
		return 0, nil, err
	}
	errc := make(chan error, 1)
	go func() { errc <- p.Run(pctx) }()
	select {
	case <-done:
	case err := <-errc:
		return 0, nil, fmt.Errorf("processor stopped: %w", err)
	case <-ctx.Done():
		return 0, nil, ctx.Err()
	}
	cancel()
	if err := <-errc; err != nil {
		return 0, nil, err
	}
	mu.Lock()
	defer mu.Unlock()
	window := last.Sub(first)
	tps := float64(committed) / window.Seconds()
	if tail == nil {
		return tps, nil, nil
	}
	rr, err := tail.finish(ctx, st, window, last, foldedAtLast)
	return tps, rr, err
}

// latency offers generated records at cfg.LatencyRate for LatencyDuration
// while the processor runs, and returns the p50, p95 and p99 of produce to
// commit in milliseconds (after a 20% warm-up), and the rate achieved.
func latency(ctx context.Context, cfg Config, run int) ([3]float64, float64, error) {
	var out [3]float64
	b, err := bus.StartEmbedded(bus.EmbeddedConfig{Partitions: int32(cfg.Partitions), RetentionBytes: 8 << 30})
	if err != nil {
		return out, 0, err
	}
	defer b.Close()
	url, drop, err := schemaURL(ctx, cfg.PostgresURL, fmt.Sprintf("bench_lat_%d", run))
	if err != nil {
		return out, 0, err
	}
	defer drop()
	st, err := postgres.Open(ctx, url)
	if err != nil {
		return out, 0, err
	}
	defer st.Close()

	var mu sync.Mutex
	var lats []float64
	var batches, records int
	warm := time.Now().Add(cfg.LatencyDuration / 5)
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	p, err := pipeline.New(pipeline.Config{
		Brokers: b.Addrs(), Store: st, Group: "bench", MaxBatch: cfg.Batch, Writers: cfg.Writers, NewScorer: cfg.NewScorer,
		Logger: slog.New(slog.DiscardHandler),
		OnCommit: func(bt *store.Batch, at time.Time) {
			mu.Lock()
			defer mu.Unlock()
			batches++
			for i := range bt.Parts {
				records += bt.Parts[i].Len()
				for j := range bt.Parts[i].Txs {
					if pt := bt.Parts[i].Txs[j].ProducedAt; pt.After(warm) {
						lats = append(lats, at.Sub(pt).Seconds()*1000)
					}
				}
			}
		},
	})
	if err != nil {
		return out, 0, err
	}
	errc := make(chan error, 1)
	go func() { errc <- p.Run(pctx) }()

	g, err := generate.New(generate.Config{Seed: cfg.Seed + int64(run), Customers: cfg.Customers})
	if err != nil {
		return out, 0, err
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...), kgo.DefaultProduceTopic(bus.TopicTransactions), kgo.ProducerLinger(0),
		kgo.ProducerBatchCompression(kgo.NoCompression()))
	if err != nil {
		return out, 0, err
	}
	defer cl.Close()
	// Pace in 1 ms ticks so the offered load is smooth.
	start := time.Now()
	sent := 0
	tick := time.NewTicker(time.Millisecond)
	for now := range tick.C {
		el := now.Sub(start)
		if el >= cfg.LatencyDuration || ctx.Err() != nil {
			break
		}
		due := int(el.Seconds() * cfg.LatencyRate)
		for ; sent < due; sent++ {
			r := g.NextAt(now)
			cl.Produce(ctx, &kgo.Record{Key: r.Key, Value: r.Value}, nil)
		}
	}
	tick.Stop()
	achieved := float64(sent) / time.Since(start).Seconds()
	if err := cl.Flush(ctx); err != nil {
		return out, 0, err
	}
	// Wait for the tail to commit.
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if s := p.Stats(); s.Stored+s.Quarantined >= int64(sent) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-errc; err != nil {
		return out, 0, err
	}
	mu.Lock()
	defer mu.Unlock()
	if len(lats) == 0 {
		return out, 0, fmt.Errorf("no latencies measured")
	}
	cfg.Logger.Info("latency run batches", "run", run, "batches", batches, "mean_records", records/max(batches, 1))
	return quantiles(lats), achieved, nil
}

// quantiles sorts lats and returns their p50, p95 and p99.
func quantiles(lats []float64) [3]float64 {
	var out [3]float64
	slices.Sort(lats)
	for i, q := range []float64{0.50, 0.95, 0.99} {
		out[i] = lats[min(len(lats)-1, int(q*float64(len(lats))))]
	}
	return out
}

func checkpoint(ctx context.Context, url string) {
	st, err := postgres.Open(ctx, url)
	if err != nil {
		return
	}
	defer st.Close()
	st.Pool().Exec(ctx, "CHECKPOINT") //nolint:errcheck // needs superuser or pg_checkpoint; best effort
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func commit() string {
	out, err := exec.Command("git", "rev-parse", "--short=12", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	c := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(st) > 0 {
		c += "-dirty"
	}
	return c
}

func machine() string {
	model := "unknown CPU"
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		fmt.Sscanf(strings.TrimPrefix(strings.SplitN(string(b), "\n", 2)[0], "MemTotal:"), "%d", &kb)
		mem = fmt.Sprintf(", %.0f GiB", float64(kb)/(1<<20))
	}
	return fmt.Sprintf("%s, %d cores%s, %s/%s", model, runtime.NumCPU(), mem, runtime.GOOS, runtime.GOARCH)
}

// peakRSS is the process's peak resident set (VmHWM), in bytes.
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int64
			fmt.Sscanf(strings.TrimSpace(v), "%d", &kb)
			return kb << 10
		}
	}
	return 0
}
