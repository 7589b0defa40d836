package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/procfs"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/internal/bus"
	"github.com/shopstream/shopstream/internal/generate"
	"github.com/shopstream/shopstream/internal/store/postgres"
)

// DeployedResult is what the deployed phase measured: the pipeline as the
// README has users run it, as separate OS processes (a `broker`, unless a
// Kafka is given; `generate`; `process` with its default flags and
// background jobs), against the same PostgreSQL as the other phases.
type DeployedResult struct {
	// TPS is the transactions stored per second from the processor's
	// first commit to its last, while the generator produced
	// concurrently at full speed; TPSWithStartup is from the start of
	// the generator, the processor's start-up included.
	TPS            float64 `json:"deployed_tps"`
	TPSWithStartup float64 `json:"deployed_tps_with_startup"`
	// Ratio is TPS over the bare COPY of the same run (0 when the run
	// measured none).
	Ratio float64 `json:"deployed_ratio"`
	// GoUsPerTx is the CPU the `process` child spent per stored
	// transaction over the timed window; PGUsPerTx the CPU of the
	// server under test over it when it runs on this host (its postmaster,
	// found as the parent of the benchmark's own backend, and the
	// postmaster's children, those that ended in the window included; 0
	// when the server runs elsewhere), so other PostgreSQL servers on a
	// shared host do not count; GeneratorUsPerTx and
	// BrokerUsPerTx the same of the other two children.
	GoUsPerTx        float64 `json:"go_us_per_tx"`
	PGUsPerTx        float64 `json:"pg_us_per_tx"`
	GeneratorUsPerTx float64 `json:"generator_us_per_tx"`
	BrokerUsPerTx    float64 `json:"broker_us_per_tx,omitempty"`
	// P50Ms, P95Ms and P99Ms are produce-to-commit latencies with the
	// generator offering LatencyRate: the time the record was produced
	// (its Kafka timestamp, stored as produced_at) to the first poll of
	// the stored offsets, every 5 ms, that showed it committed.
	P50Ms        float64 `json:"deployed_p50_ms"`
	P95Ms        float64 `json:"deployed_p95_ms"`
	P99Ms        float64 `json:"deployed_p99_ms"`
	AchievedRate float64 `json:"deployed_latency_achieved_rate"`
	// SteadyP50Ms, SteadyP95Ms and SteadyP99Ms are the same latencies
	// of a second run at LatencyRate (the shop continued again), once the background
	// jobs that the backlog left work to have caught up with it: the
	// product fold has folded every stored transaction and an analytics
	// refresh as of the first latency run's last purchase has finished
	// (waitCaughtUp). The jobs still run on their schedules meanwhile, at
	// their steady cost.
	// SteadyWaitS is how long that took; SteadyCaughtUp is false when
	// the wait ended at its bound (SteadyWaitMax) instead.
	SteadyP50Ms    float64 `json:"deployed_steady_p50_ms"`
	SteadyP95Ms    float64 `json:"deployed_steady_p95_ms"`
	SteadyP99Ms    float64 `json:"deployed_steady_p99_ms"`
	SteadyWaitS    float64 `json:"deployed_steady_wait_s"`
	SteadyCaughtUp bool    `json:"deployed_steady_caught_up"`
	// ProcessPeakRSSBytes is the `process` child's peak resident memory.
	ProcessPeakRSSBytes int64 `json:"deployed_process_peak_rss_bytes"`
	// Records and Customers are the throughput phase's stream and shop.
	Records   int `json:"deployed_records"`
	Customers int `json:"deployed_customers"`
	// Stored is the transactions the throughput phase's schema held at
	// its end, counted in SQL (the bench fails when it is not Records).
	Stored int64 `json:"deployed_stored"`
	// Kafka says what the processes talked to.
	Kafka string `json:"deployed_kafka"`
}

// deployedGroup is the `process` child's consumer group (its default).
const deployedGroup = "shopstream"

// deployed runs the deployed phase once.
func deployed(ctx context.Context, cfg Config, run int) (*DeployedResult, error) {
	log := cfg.Logger.With("phase", "deployed", "run", run)
	exe, err := executable(cfg)
	if err != nil {
		return nil, err
	}
	res := &DeployedResult{Records: cfg.DeployedRecords, Customers: cfg.DeployedCustomers}
	var brokers, kafkaArgs []string
	var kafkaOpts []kgo.Opt
	var brokerChild *child
	if len(cfg.Brokers) > 0 {
		brokers, res.Kafka = cfg.Brokers, "Kafka at "+strings.Join(cfg.Brokers, ",")
		kafkaOpts, kafkaArgs = cfg.KafkaOpts, cfg.KafkaArgs
	} else {
		addr, err := freeAddr()
		if err != nil {
			return nil, err
		}
		brokerChild, err = startChild(ctx, exe, []string{"broker", "--addr", addr, "--partitions", fmt.Sprint(cfg.Partitions),
			"--log-level", "warn"}, log, nil)
		if err != nil {
			return nil, err
		}
		defer brokerChild.stop()
		brokers, res.Kafka = []string{addr}, "shopstream broker process"
	}
	adm, topics, err := freshTopics(ctx, brokers, kafkaOpts, int32(cfg.Partitions), run)
	if err != nil {
		return nil, err
	}
	defer adm.Close()
	url, drop, err := schemaURL(ctx, cfg.PostgresURL, fmt.Sprintf("bench_deployed_%d", run))
	if err != nil {
		return nil, err
	}
	defer drop()
	st, err := postgres.Open(ctx, url)
	if err != nil {
		return nil, err
	}
	defer st.Close()

	// Throughput: the generator produces at full speed while the
	// processor, started first, consumes.
	httpAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	proc, err := startChild(ctx, exe, append([]string{"process", "--brokers", strings.Join(brokers, ","), "--postgres", url,
		"--topic", topics[0], "--addr", httpAddr, "--log-level", "warn"}, kafkaArgs...), log, nil)
	if err != nil {
		return nil, err
	}
	defer proc.stop()
	if err := waitHealthy(ctx, proc, "http://"+httpAddr+"/healthz", time.Minute); err != nil {
		return nil, fmt.Errorf("process: %w", err)
	}
	start := simulatedStart(cfg.Seed, cfg.DeployedCustomers, cfg.DeployedRecords, time.Now())
	log.Info("the generator's simulated history", "start", start, "records", cfg.DeployedRecords)
	genStart := time.Now()
	gen, err := startChild(ctx, exe, append([]string{"generate", "--brokers", strings.Join(brokers, ","), "--topic", topics[0],
		"--rate", "0", "--count", fmt.Sprint(cfg.DeployedRecords), "--customers", fmt.Sprint(cfg.DeployedCustomers),
		"--seed", fmt.Sprint(cfg.Seed), "--start", start.Format(time.RFC3339)}, kafkaArgs...), log, nil)
	if err != nil {
		return nil, err
	}
	defer gen.stop()
	// The window opens at the first commit and closes at the commit that
	// stores the last record; CPU is sampled at both ends.
	stored := func() (int64, error) {
		offs, err := st.Offsets(ctx, deployedGroup, topics[0])
		var n int64
		for _, o := range offs {
			n += o
		}
		return n, err
	}
	first, firstN, err := pollUntil(ctx, proc, stored, func(n int64) bool { return n > 0 }, 2*time.Minute)
	if err != nil {
		return nil, fmt.Errorf("waiting for the first commit: %w", err)
	}
	pm := postmasterOf(ctx, st)
	cpu0 := sampleCPU(proc, brokerChild, pm)
	last, _, err := pollUntil(ctx, proc, stored, func(n int64) bool { return n >= int64(cfg.DeployedRecords) }, 30*time.Minute)
	if err != nil {
		return nil, fmt.Errorf("waiting for the processor to store %d records: %w", cfg.DeployedRecords, err)
	}
	cpu1 := sampleCPU(proc, brokerChild, pm)
	if err := st.Pool().QueryRow(ctx, `SELECT count(*) FROM transactions`).Scan(&res.Stored); err != nil {
		return nil, err
	}
	if res.Stored != int64(cfg.DeployedRecords) {
		return nil, fmt.Errorf("the processor committed offsets past %d records but the store holds %d transactions", cfg.DeployedRecords, res.Stored)
	}
	window := last.Sub(first).Seconds()
	txs := float64(int64(cfg.DeployedRecords) - firstN)
	res.TPS = txs / window
	res.TPSWithStartup = float64(cfg.DeployedRecords) / last.Sub(genStart).Seconds()
	perTx := func(a, b float64) float64 { return (b - a) / txs * 1e6 }
	res.GoUsPerTx, res.PGUsPerTx = perTx(cpu0.process, cpu1.process), perTx(cpu0.postgres, cpu1.postgres)
	res.BrokerUsPerTx = perTx(cpu0.broker, cpu1.broker)
	// The generator has produced everything by now; its whole life is
	// its cost (start-up is small next to a million records).
	gen.stop()
	if ps := gen.cmd.ProcessState; ps != nil {
		res.GeneratorUsPerTx = (ps.UserTime() + ps.SystemTime()).Seconds() / float64(cfg.DeployedRecords) * 1e6
	}
	log.Info("deployed throughput", "tps", int(res.TPS), "tps_with_startup", int(res.TPSWithStartup),
		"go_us_per_tx", res.GoUsPerTx, "pg_us_per_tx", res.PGUsPerTx, "generator_us_per_tx", res.GeneratorUsPerTx)

	// Latency: the same processor and topic, a stream of its own at the
	// offered rate once the backlog is stored.
	lat, err := deployedLatency(ctx, cfg, exe, brokers, kafkaArgs, topics[0], proc, st, 1, log)
	if err != nil {
		return nil, err
	}
	res.P50Ms, res.P95Ms, res.P99Ms, res.AchievedRate = lat.p50, lat.p95, lat.p99, lat.achieved
	log.Info("deployed latency", "p50_ms", res.P50Ms, "p95_ms", res.P95Ms, "p99_ms", res.P99Ms, "achieved_rate", int(res.AchievedRate))

	// Steady latency: the same again once the background jobs have
	// caught up with the backlog.
	if !cfg.SkipSteadyLatency {
		waited, caughtUp, err := waitCaughtUp(ctx, st, "http://"+httpAddr+"/metrics", proc, SteadyWaitMax, log)
		if err != nil {
			return nil, err
		}
		res.SteadyWaitS, res.SteadyCaughtUp = waited.Seconds(), caughtUp
		lat, err := deployedLatency(ctx, cfg, exe, brokers, kafkaArgs, topics[0], proc, st, 2, log)
		if err != nil {
			return nil, err
		}
		res.SteadyP50Ms, res.SteadyP95Ms, res.SteadyP99Ms = lat.p50, lat.p95, lat.p99
		log.Info("deployed steady latency", "waited_s", res.SteadyWaitS, "caught_up", caughtUp, "p50_ms", lat.p50, "p95_ms", lat.p95,
			"p99_ms", lat.p99, "achieved_rate", int(lat.achieved))
	}
	res.ProcessPeakRSSBytes = peakRSSOf(proc)
	log.Info("deployed memory", "process_peak_rss_mib", res.ProcessPeakRSSBytes>>20)
	return res, nil
}

// latencyFigures are the quantiles of one latency run and the rate it
// achieved.
type latencyFigures struct{ p50, p95, p99, achieved float64 }

// deployedLatency offers cfg.LatencyRate for cfg.LatencyDuration on topic
// to the running processor, generated as the cont-th continuation of the
// backlog's shop (`generate --continue`: the same customers on their own
// devices and cards, new transaction IDs), and returns the latencies. A
// generator with another seed made another shop under the same customer
// IDs, where every returning customer came on a new device and card: in
// a minute at 20,000/s after a million-record backlog (test/perf/burst.sh,
// docs/benchmarks.md), 15.2% of the orders raised alerts (11.6%
// continued, 0.75% in the backlog), and storing and delivering them took
// 20 s of the database's statement time against 71 s for the
// transactions, customers and ids.
func deployedLatency(ctx context.Context, cfg Config, exe string, brokers, kafkaArgs []string, topic string, proc *child,
	st *postgres.Store, cont int, log *slog.Logger) (latencyFigures, error) {
	var out latencyFigures
	before, err := st.Offsets(ctx, deployedGroup, topic)
	if err != nil {
		return out, err
	}
	type seen struct {
		at   time.Time
		next int64
	}
	history := map[int32][]seen{}
	start := time.Now()
	gen, err := startChild(ctx, exe, append([]string{"generate", "--brokers", strings.Join(brokers, ","), "--topic", topic,
		"--rate", fmt.Sprint(cfg.LatencyRate), "--duration", cfg.LatencyDuration.String(),
		"--customers", fmt.Sprint(cfg.DeployedCustomers), "--seed", fmt.Sprint(cfg.Seed), "--continue", fmt.Sprint(cont)}, kafkaArgs...), log, nil)
	if err != nil {
		return out, err
	}
	defer gen.stop()
	genDone := false
	var quietSince time.Time
	for {
		offs, err := st.Offsets(ctx, deployedGroup, topic)
		if err != nil {
			return out, err
		}
		now := time.Now()
		moved := false
		for p, n := range offs {
			h := history[p]
			if len(h) == 0 || h[len(h)-1].next != n {
				history[p] = append(h, seen{now, n})
				moved = true
			}
		}
		if !genDone {
			select {
			case <-gen.done:
				genDone = true
				quietSince = now
			default:
			}
		}
		// Done once the generator has exited and nothing has moved for a
		// second.
		if moved {
			quietSince = now
		}
		if genDone && now.Sub(quietSince) > time.Second {
			break
		}
		if now.Sub(start) > cfg.LatencyDuration+5*time.Minute {
			return out, errors.New("the latency run did not settle")
		}
		select {
		case <-ctx.Done():
			return out, ctx.Err()
		case <-proc.done:
			return out, fmt.Errorf("the processor exited: %s", proc.lastLines())
		case <-time.After(5 * time.Millisecond):
		}
	}
	warm := start.Add(cfg.LatencyDuration / 5)
	var lats []float64
	bySec := map[int][]float64{} // by second of produce time since the start
	var offered int64
	for p, h := range history {
		rows, err := st.Pool().Query(ctx, `SELECT kafka_offset, produced_at FROM transactions
			WHERE kafka_partition = $1 AND kafka_offset >= $2 ORDER BY kafka_offset`, p, before[p])
		if err != nil {
			return out, err
		}
		for rows.Next() {
			var off int64
			var produced time.Time
			if err := rows.Scan(&off, &produced); err != nil {
				rows.Close()
				return out, err
			}
			offered++
			i, _ := slices.BinarySearchFunc(h, off, func(s seen, off int64) int {
				if s.next <= off {
					return -1
				}
				return 1
			})
			if i < len(h) {
				ms := h[i].at.Sub(produced).Seconds() * 1000
				sec := int(produced.Sub(start).Seconds())
				bySec[sec] = append(bySec[sec], ms)
				if !produced.Before(warm) {
					lats = append(lats, ms)
				}
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return out, err
		}
	}
	if len(lats) == 0 {
		return out, errors.New("the latency run stored nothing after its warm-up")
	}
	// Which seconds made the tail (--log-level debug), the warm-up's
	// seconds too (counted out of the figures).
	for _, sec := range slices.Sorted(maps.Keys(bySec)) {
		v := bySec[sec]
		q := quantiles(v)
		log.Debug("latency by second of produce time", "second", sec, "counted", !start.Add(time.Duration(sec)*time.Second).Before(warm),
			"records", len(v), "p50_ms", q[0], "p99_ms", q[2], "max_ms", slices.Max(v))
	}
	q := quantiles(lats)
	out.p50, out.p95, out.p99 = q[0], q[1], q[2]
	out.achieved = float64(offered) / cfg.LatencyDuration.Seconds()
	return out, nil
}

// freshTopics creates, for run, a transactions topic of its own (a real
// Kafka keeps what earlier runs produced) and returns its name first. opts
// are the client's TLS and SASL options.
func freshTopics(ctx context.Context, brokers []string, opts []kgo.Opt, partitions int32, run int) (*kadm.Client, []string, error) {
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...)}, opts...)...)
	if err != nil {
		return nil, nil, err
	}
	adm := kadm.NewClient(cl)
	name := fmt.Sprintf("%s-bench-%d-%d", bus.TopicTransactions, time.Now().Unix(), run)
	var lastErr error
	for attempt := range 50 {
		if attempt > 0 {
			if ctx.Err() != nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		resp, err := adm.CreateTopics(ctx, partitions, 1, nil, name)
		if err == nil {
			err = resp.Error()
		}
		if lastErr = err; err == nil {
			return adm, []string{name}, nil
		}
	}
	adm.Close()
	return nil, nil, fmt.Errorf("creating topic %s: %w", name, lastErr)
}

// pollUntil polls measure every 5 ms until done holds, and returns when
// and what it measured then.
func pollUntil(ctx context.Context, c *child, measure func() (int64, error), done func(int64) bool, limit time.Duration) (time.Time, int64, error) {
	deadline := time.Now().Add(limit)
	for {
		n, err := measure()
		if err != nil {
			return time.Time{}, 0, err
		}
		now := time.Now()
		if done(n) {
			return now, n, nil
		}
		if now.After(deadline) {
			return time.Time{}, n, fmt.Errorf("still at %d after %s", n, limit)
		}
		select {
		case <-ctx.Done():
			return time.Time{}, 0, ctx.Err()
		case <-c.done:
			return time.Time{}, 0, fmt.Errorf("the processor exited: %s", c.lastLines())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// healthClient gives up on a health check that hangs, so waitHealthy's
// limit holds.
var healthClient = &http.Client{Timeout: 2 * time.Second}

// waitHealthy polls url until it answers 200.
func waitHealthy(ctx context.Context, c *child, url string, limit time.Duration) error {
	_, _, err := pollUntil(ctx, c, func() (int64, error) {
		resp, err := healthClient.Get(url)
		if err != nil {
			return 0, nil
		}
		resp.Body.Close()
		return int64(resp.StatusCode), nil
	}, func(code int64) bool { return code == http.StatusOK }, limit)
	return err
}

// SteadyWaitMax bounds the deployed phase's wait for the background jobs
// to catch up before its steady latency run: two analytics intervals of
// `process` (a run every minute), and a first refresh of a million
// customers, with room.
const SteadyWaitMax = 5 * time.Minute

// waitCaughtUp waits until the processor's background jobs have caught up
// with what it stored: the product fold's count of folded transactions
// at least the stored transactions, and an analytics refresh as of the
// latest purchase stored when the wait began (its cohorts' as_of) that has
// finished (a success of the job, from the process's metrics at
// metricsURL, at or after the cohorts' computed_at). It looks every second
// for at most limit, and returns how long it waited and whether they
// caught up; an error only when the processor exits or ctx ends.
func waitCaughtUp(ctx context.Context, st *postgres.Store, metricsURL string, proc *child, limit time.Duration,
	log *slog.Logger) (time.Duration, bool, error) {
	start := time.Now()
	var latest time.Time
	if err := st.Pool().QueryRow(ctx, `SELECT coalesce(max(last_seen), now()) FROM customers`).Scan(&latest); err != nil {
		return 0, false, fmt.Errorf("reading the latest purchase: %w", err)
	}
	for {
		ok, why, err := caughtUp(ctx, st, metricsURL, latest)
		if err != nil {
			return 0, false, err
		}
		log.Debug("waiting for the background jobs", "caught_up", ok, "why", why)
		if ok {
			return time.Since(start), true, nil
		}
		if time.Since(start) >= limit {
			return time.Since(start), false, nil
		}
		select {
		case <-ctx.Done():
			return 0, false, ctx.Err()
		case <-proc.done:
			return 0, false, fmt.Errorf("the processor exited: %s", proc.lastLines())
		case <-time.After(time.Second):
		}
	}
}

// caughtUp is one look of waitCaughtUp, with what it saw.
func caughtUp(ctx context.Context, st *postgres.Store, metricsURL string, latest time.Time) (bool, string, error) {
	var stored, folded int64
	var asOf, computed *time.Time
	err := st.Pool().QueryRow(ctx, `SELECT (SELECT count(*) FROM transactions), (SELECT transactions FROM product_fold WHERE id = 1),
		(SELECT max(as_of) FROM cohort_cells), (SELECT max(computed_at) FROM cohort_cells)`).Scan(&stored, &folded, &asOf, &computed)
	if err != nil {
		return false, "", fmt.Errorf("reading the background jobs' progress: %w", err)
	}
	if folded < stored {
		return false, fmt.Sprintf("product fold: %d of %d folded", folded, stored), nil
	}
	if asOf == nil || computed == nil || asOf.Before(latest) {
		return false, fmt.Sprintf("analytics refresh: as of %v, not yet %v", asOf, latest), nil
	}
	resp, err := healthClient.Get(metricsURL)
	if err != nil {
		return false, err.Error(), nil // not answering this second
	}
	defer resp.Body.Close()
	const metric = `shopstream_job_last_success_timestamp_seconds{job="analytics-refresh"} `
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), metric); ok {
			at, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return err == nil && at >= float64(computed.UnixMilli())/1000, "analytics refresh: as of the latest purchase, last success " + v, nil
		}
	}
	return false, "analytics refresh: no success yet", nil
}

// freeAddr returns a loopback address with a port free at the time.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// executable is the shopstream binary the children run.
func executable(cfg Config) (string, error) {
	if cfg.Executable != "" {
		return cfg.Executable, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("finding the shopstream binary to start children: %w", err)
	}
	return exe, nil
}

// cpuSample is the CPU seconds of the children and of the PostgreSQL
// server under test at one moment.
type cpuSample struct{ process, broker, postgres float64 }

// postmasterOf is the process id of st's server when it runs on this
// host: the parent of one of its backends. It is 0 when the backend's
// process is not here (a remote server) or is not a child of a process
// named postgres.
func postmasterOf(ctx context.Context, st *postgres.Store) int {
	var backend int
	if err := st.Pool().QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&backend); err != nil {
		return 0
	}
	p, err := procfs.NewProc(backend)
	if err != nil {
		return 0
	}
	s, err := p.Stat()
	if err != nil {
		return 0
	}
	pp, err := procfs.NewProc(s.PPID)
	if err != nil {
		return 0
	}
	if ps, err := pp.Stat(); err != nil || ps.Comm != "postgres" {
		return 0
	}
	return s.PPID
}

// userHZ is the unit of the children's times in /proc/PID/stat.
const userHZ = 100

func sampleCPU(proc, broker *child, postmaster int) cpuSample {
	of := func(c *child) float64 {
		if c == nil {
			return 0
		}
		return cpuOf(c.cmd.Process.Pid)
	}
	s := cpuSample{process: of(proc), broker: of(broker)}
	if postmaster == 0 {
		return s
	}
	// The postmaster's own time, that of its children that ended (reaped
	// into its cutime and cstime) and that of those alive.
	if procs, err := procfs.AllProcs(); err == nil {
		for _, p := range procs {
			st, err := p.Stat()
			switch {
			case err != nil:
			case p.PID == postmaster:
				s.postgres += st.CPUTime() + float64(st.CUTime+st.CSTime)/userHZ
			case st.PPID == postmaster:
				s.postgres += st.CPUTime()
			}
		}
	}
	return s
}

// peakRSSOf is a child's peak resident memory (0 when unknown).
func peakRSSOf(c *child) int64 {
	p, err := procfs.NewProc(c.cmd.Process.Pid)
	if err != nil {
		return 0
	}
	st, err := p.NewStatus()
	if err != nil {
		return 0
	}
	return int64(st.VmHWM)
}

// simulatedStart is where the deployed phase's generator starts its
// simulated clock so that its n records end within the day before now, as
// a shop's recent history does (generate.StartEndingBy): from
// generate.DefaultStart (2026-01-01) they were months old, and process's
// retention (--retain-rollups 30d) deleted the rollup rows each batch had
// just written, a cost no deployment with current event times pays.
func simulatedStart(seed int64, customers, n int, now time.Time) time.Time {
	return generate.StartEndingBy(generate.Config{Seed: seed, Customers: customers}, n, now)
}

// simulatedSpan is the event time from the first to the nth record of a
// generator with the generate command's defaults from start.
func simulatedSpan(seed int64, customers, n int, start time.Time) time.Duration {
	return generate.Span(generate.Config{Seed: seed, Customers: customers}, n, start)
}
