package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"

	"github.com/shopstream/shopstream/internal/bus"
	"github.com/shopstream/shopstream/internal/entitystage"
	"github.com/shopstream/shopstream/internal/generate"
	"github.com/shopstream/shopstream/internal/jobs"
	"github.com/shopstream/shopstream/internal/pipeline"
	"github.com/shopstream/shopstream/internal/quality/monitor"
	"github.com/shopstream/shopstream/internal/recsvc"
	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/web"
)

// runAll is `shopstream run`: the embedded broker, the generator, the
// processor, the SQLite store and the web server in one process.
func runAll(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	err := runEverything(ctx, args, stdout, stderr)
	if err != nil && ctx.Err() != nil && errors.Is(err, context.Canceled) {
		return nil // stopped (Ctrl-C) while starting: what was stored stays
	}
	return err
}

func runEverything(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runShop(ctx, args, stdout, stderr, nil)
}

// runHooks let another command run run's pipeline, as run wires it, and
// watch it: fraud-eval --live. Every field may be nil.
type runHooks struct {
	// sink wraps the generator's sink (the embedded broker's topic, with
	// the labels and the simulated site) once the pipeline has started.
	sink func(next generate.Sink, info runInfo) generate.Sink
	// backfillStored is called once when the history backfill is stored,
	// or before the first record when there is none, from a goroutine
	// of run's.
	backfillStored func()
	// drained is called with the store once the generator has stopped
	// and the pipeline has committed what it could within the shutdown
	// grace, before the store closes; its error is run's.
	drained func(ctx context.Context, st store.Store) error
}

// runInfo is what runHooks.sink learns of the run.
type runInfo struct {
	brokers []string        // the embedded broker's addresses
	gcfg    generate.Config // the generator's
	rate    float64         // --rate
	history string          // --history (0 when resuming)
	// entities is whether the entity stage runs (--entities).
	entities bool
}

// runShop is run, with hooks (nil for run itself).
func runShop(ctx context.Context, args []string, stdout, stderr io.Writer, hooks *runHooks) error {
	if hooks == nil {
		hooks = &runHooks{}
	}
	fs := newFlagSet("run", stderr)
	var lf logFlags
	var pf processFlags
	pf.geo.demo = true // no GeoIP file: the synthetic shop's own tables
	lf.register(fs, "warn")
	var tf traceFlags
	tf.register(fs)
	pf.register(fs)
	// The entity stage is on in the live phase (its backfill repartitions
	// only the history's last window: entityFlags.since).
	pf.entities.register(fs, true)
	var rf recommendFlags
	rf.register(fs)
	var ef experimentFlags
	ef.register(fs)
	var sf siteFlags
	sf.register(fs)
	var af analyticsFlags
	af.register(fs, "analytics-")
	// What run keeps in memory per customer and per entity is bounded for
	// the demo: its live stream brings about 1,400 customers new to the
	// fraud state, 900 to the recommendation counts and 2,000-3,000
	// devices, cards and IP addresses a minute (the shop's clock runs
	// thousands of times faster than its customers'), so bounds sized for
	// a shop (process, serve) would take hours to fill while memory grew.
	// See docs/operations.md, "Soak", and docs/fraud.md for what it costs.
	for name, v := range runMemoryBounds {
		setDefault(fs, name, v)
	}
	var retf retentionFlags
	retf.registerWith(fs, runRetention)
	retainBroker := fs.Duration("retain-broker", 0, "delete the embedded broker's records this long after they were written, once the processor has committed past them (0: only the 32 MiB cap per partition)")
	var wf webFlags
	wf.register(fs, "127.0.0.1:8050", "listen address of the dashboard, API and /metrics: this machine only by default; :8050 opens it to others (needs an API token or --insecure-allow-unauthenticated)")
	dataDir := fs.String("data-dir", "./data", "directory for the embedded store and broker data")
	rate := fs.Float64("rate", 10, "generated transactions per second, live (a demo's pace, thousands of times a real shop of this size: faster, the base of --new-per-day customers cannot keep each to one order a day, and honest customers order again within the hour)")
	duration := fs.Duration("duration", 0, "stop after this long (0 = until interrupted)")
	seed := fs.Int64("seed", 1, "generator seed")
	customers := fs.Int("customers", 1_000_000, "most customers the synthetic shop keeps (with --new-per-day, it grows to this by acquisition)")
	newPerDay := fs.Float64("new-per-day", generate.DemoLifecycle.NewPerDay, "new customers a day of history (the shop grows by acquisition, buy-till-you-die customers as in BG/NBD); 0 for the older stationary base of --customers customers")
	historyFlag := fs.String("history", "540d", "backfill this much past purchase history first, as fast as possible (e.g. 30d; 0 for none)")
	historyRamp := fs.Bool("history-ramp", true, "end the history at the live pace: its last 100 minutes grow to --rate and hold it (about 30,000 records at 10/s, at most about 60,000), so going live is no volume jump; false: the history ends at its own pace")
	products := fs.Int("products", 2000, "products in the synthetic catalogue")
	fraudRate := fs.Float64("fraud-rate", 0.01, "share of generated transactions that are fraud")
	badRate := fs.Float64("bad-rate", 0.001, "share of generated records that are malformed or invalid")
	fraudMix := fraudMixFlag{base: runFraudMix}
	fs.Var(&fraudMix, "fraud-mix", runFraudMixUsage)
	partitions := fs.Int("partitions", 4, "partitions of the embedded topics")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this `file` when it stops (go tool pprof; where the backfill's and the live stream's CPU goes)")
	memProfile := fs.String("memprofile", "", "write a heap profile to this `file` when run stops (go tool pprof; what holds memory after a long run)")
	memProfileEvery := fs.Duration("memprofile-every", 0, "with --memprofile, also write a heap profile every this long while running, to FILE.<minutes> (e.g. heap.prof.12m; go tool pprof -diff_base shows what grew between two)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	// The loading and progress lines and the logger write from goroutines
	// of their own: one line at a time. (Wrapped only now: config print
	// hands the flag set a stderr of its own kind.)
	// A caller that writes to it too (fraud-eval --live's hooks) passes a
	// lockedWriter already: the same lock for both.
	if _, ok := stderr.(*lockedWriter); !ok {
		stderr = &lockedWriter{w: stderr}
	}
	switch {
	case *rate <= 0:
		return usageError{fmt.Errorf("invalid value %v for flag -rate: must be above 0", *rate)}
	case *newPerDay < 0:
		return usageError{fmt.Errorf("invalid value %v for flag -new-per-day: must not be negative", *newPerDay)}
	case *duration < 0:
		return usageError{fmt.Errorf("invalid value %v for flag -duration: must not be negative", *duration)}
	case *retainBroker < 0:
		return usageError{fmt.Errorf("invalid value %v for flag -retain-broker: must not be negative", *retainBroker)}
	case *memProfileEvery < 0 || (*memProfileEvery > 0 && *memProfile == ""):
		return usageError{fmt.Errorf("invalid value %v for flag -memprofile-every: must not be negative, and needs --memprofile", *memProfileEvery)}
	case *partitions < 1 || *partitions > 256:
		return usageError{fmt.Errorf("invalid value %d for flag -partitions: want 1..256", *partitions)}
	}
	if err := pf.validate(); err != nil {
		return err
	}
	if err := wf.validate(); err != nil {
		return err
	}
	if err := af.validate(); err != nil {
		return err
	}
	if err := sf.validate(); err != nil {
		return err
	}
	if err := retf.validate(); err != nil {
		return err
	}
	history, err := parseDayDuration(*historyFlag)
	if err != nil || history < 0 {
		return usageError{fmt.Errorf("invalid value %q for flag -history: want a duration like 7d or 36h", *historyFlag)}
	}
	logger, err := lf.logger(stderr)
	if err != nil {
		return err
	}
	tp, stopTracing, err := tf.provider(ctx, "shopstream-run")
	if err != nil {
		return err
	}
	defer stopTracing()
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return usageError{fmt.Errorf("-cpuprofile: %w", err)}
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return usageError{fmt.Errorf("-cpuprofile: %w", err)}
		}
		defer func() {
			pprof.StopCPUProfile()
			f.Close()
		}()
	}
	if *memProfile != "" {
		stop, err := startHeapProfiles(ctx, *memProfile, *memProfileEvery, stderr)
		if err != nil {
			return err
		}
		defer stop()
	}
	pf.resolveInstanceID((&storeFlags{dataDir: *dataDir}).location())
	// The history's transactions older than the entity window before the
	// live phase are stored without repartition records: the stage would
	// count them only to expire them, at 3-4 times the CPU of the backfill
	// (docs/fraud.md). The last window is repartitioned, so the live
	// phase's counts and rings start from it (exactly once, as every
	// repartition record is queued with its transaction). The generator's
	// history ends at its own start, a moment after this.
	pf.entities.since = time.Now().Add(-pf.entities.window)
	gcfg := generate.Config{Seed: *seed, Customers: *customers, Products: *products, FraudRate: *fraudRate, BadRate: *badRate,
		FraudMix: fraudMix.mix()}
	if *newPerDay > 0 {
		lc := generate.DemoLifecycle
		lc.NewPerDay = *newPerDay
		gcfg.Lifecycle = &lc
	}
	st, err := openEmbedded(ctx, *dataDir, "shopstream run")
	if err != nil {
		return fmt.Errorf("--data-dir: %w", err)
	}
	defer st.Close()
	// A restart on the same data must not replay the same transaction ids,
	// nor backfill history again; but its customers must be the stored
	// ones, with their devices, cards and countries: the seed stays, and
	// the transactions' sequence starts beyond every earlier run's (each
	// generated fewer than 2^32 records, and the stored count grows
	// between restarts). With the seed moved on, every returning customer
	// came back on a new device to a new country, and the alert rate
	// went from 3% to 7% at once (new_device_new_destination,
	// account_takeover).
	var resumed int64
	if sum, err := st.Summary(ctx); err == nil && sum.TransactionsTotal > 0 {
		resumed = sum.TransactionsTotal + sum.QuarantinedTotal
		gcfg.SeqBase = uint64(resumed) << 32
		history = 0
		logger.Info("resuming on existing data: the same customers, new transaction ids, no history backfill", "seq_base", gcfg.SeqBase)
	}
	// The simulated site: a share of the buyers is shown recommendations,
	// and the generator's customers respond to what they were shown.
	var simSite *site
	if sf.share > 0 && rf.rebuild > 0 {
		simSite = newSite(nil, sf.share, 3*rf.fold, gcfg.Seed)
		gcfg.Response = generate.Response{Exposures: simSite, Rate: sf.rate, Better: recsvc.MethodItemItem, Uplift: sf.uplift, Delay: sf.delay}
	}
	if err := pf.geo.setup(logger); err != nil {
		return err
	}
	if gcfg.Geography, err = pf.geo.geography(); err != nil {
		return err
	}
	gen, err := generate.New(gcfg)
	if err != nil {
		return usageError{err}
	}
	if resumed > 0 && gcfg.Lifecycle != nil {
		// The base grows by acquisition: rebuild one, without sending its
		// history again, so that live buyers are not all newcomers, from
		// where the stored history began, as the first run's backfill did:
		// the customers are drawn in the same order, so each stored
		// customer comes back with their own devices, cards and countries.
		// Newcomers then take numbers after the stored customers'.
		h, _ := parseDayDuration(*historyFlag)
		now := time.Now()
		from := now.Add(-h)
		if t, err := st.FirstEventTime(ctx); err != nil {
			logger.Warn("the stored history's start is unknown: the rebuilt customers differ from the stored ones", "err", err)
		} else if t != nil {
			from = *t
		}
		gen.Warm(from, now)
		if last, err := st.MaxCustomerID(ctx); err != nil {
			logger.Warn("the stored customers' last number is unknown: newcomers may take stored customers' numbers", "err", err)
		} else {
			gen.ContinueCustomers(last)
		}
	}
	// 32 MiB per partition keeps a long run's memory flat; retention never
	// deletes what the processor has not committed to the group. Disk is
	// freed a whole segment file at a time, and kfake starts a new one
	// only when the last is full (by size, never by age): 1 MiB segments
	// keep the directory within a segment per partition of the cap or of
	// --retain-broker (kfake's 100 MiB would hold up to 132 MiB a
	// partition), and at the default rate (about 0.3 MiB a minute a
	// partition) a segment fills in minutes, where 8 MiB took 27 and made
	// the directory a saw-tooth longer than a 30-minute soak.
	// The alerts and dead-letter topics are written by the pipeline and
	// read by no group of its own: the same cap and age apply to them
	// whatever a consumer committed, or they would grow without bound.
	written := bus.Retention{Bytes: 32 << 20, Time: *retainBroker, DeleteUnread: true}
	broker, err := bus.StartEmbedded(bus.EmbeddedConfig{Partitions: int32(*partitions), DataDir: filepath.Join(*dataDir, "kafka"), Logger: logger,
		RetentionBytes: 32 << 20, RetentionTime: *retainBroker, SegmentBytes: 1 << 20,
		TopicRetention: map[string]bus.Retention{bus.TopicAlerts: written, bus.TopicDeadLetter: written}})
	if err != nil {
		return err
	}
	defer broker.Close()
	brokers := broker.Addrs()

	reg := newRegistry(st)
	var proc *pipeline.Processor
	wcfg, err := wf.config(ctx, st, "shopstream run")
	if err != nil {
		return err
	}
	wcfg.Store, wcfg.Gatherer, wcfg.Logger = st, reg, logger
	// The System page's coarse samples are saved under the processor's
	// stable id, and restored from it after a restart.
	wcfg.SampleInstance = pf.instanceID
	wcfg.Tracer = tp.Tracer("github.com/shopstream/shopstream/internal/web")
	wcfg.Health = func(ctx context.Context) error {
		if proc == nil {
			return errors.New("processor not started yet")
		}
		return proc.Healthy(ctx)
	}
	wcfg.Ready = readiness(func() *pipeline.Processor { return proc })
	loading := newLoadTracker(history, time.Now(), af.interval > 0)
	wcfg.Loading = loading.snapshot
	wcfg.Lookups = pf.geo.webLookups()
	srv, err := web.New(wcfg)
	if err != nil {
		return err
	}
	if err := registerAnalyticsAPI(srv, st); err != nil {
		return err
	}
	if err := registerQualityAPI(srv, st); err != nil {
		return err
	}
	ln, err := srv.Listen()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "shopstream is running: dashboard on %s, API on %s/api/v1/summary\n", serverURL(srv, ln), serverURL(srv, ln))
	fmt.Fprintf(stdout, "access: %s\n", wf.accessNote(wcfg))
	if history > 0 && resumed == 0 {
		fmt.Fprintf(stdout, "backfilling %s of purchase history first, then ", *historyFlag)
	}
	fmt.Fprintf(stdout, "generating %.0f transactions/s; embedded Kafka on %s, SQLite store in %s. Ctrl-C stops.\n", *rate, strings.Join(brokers, ","), *dataDir)

	sink, err := newKafkaSink(ctx, brokers, nil, bus.TopicTransactions, logger)
	if err != nil {
		return err
	}
	defer sink.(*kafkaSink).Close()

	// The generator stops first; the processor then drains what was produced
	// before everything else stops.
	pipeCtx, stopPipe := context.WithCancel(context.WithoutCancel(ctx))
	defer stopPipe()
	g, gctx := errgroup.WithContext(pipeCtx)
	retf.feed = jobs.NewProductFeed(jobs.ProductFeedConfig{})
	proc, fraudDeps, err := startPipeline(gctx, g, pipelineDeps{brokers: brokers, topic: bus.TopicTransactions, store: st, logger: logger, reg: reg, tracer: tp,
		// The demo's history runs at a shop's pace and its live stream far
		// faster: the same minutes of earlier days are no baseline.
		volume: monitor.VolumeConfig{RollingOnly: true},
		// The stored counts of the last minutes are the backfill's
		// progress until it is stored.
		streamAfter: loading.stored, feed: retf.feed}, &pf)
	if err != nil {
		return err
	}
	if history > 0 && pf.qualityConfig == "" {
		if err := checkHistoryAsHistory(gctx, g, proc, history, loading.stored); err != nil {
			return err
		}
	}
	web.RegisterFraud(srv, fraudDeps)
	registerDeliveries(srv, st)
	registerErasure(srv, st)
	web.RegisterQuarantine(srv, st, quarantineReplayer(st, brokers, nil, bus.TopicTransactions, logger))
	exps, err := startExperiments(gctx, g, srv, st, &ef, logger, reg)
	if err != nil {
		return err
	}
	if sf.defaults {
		if err := ensureDefaultExperiments(ctx, exps, sf.window); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "experiments %s (popularity against item-item) and %s (A/A) running: results on the dashboard and at %s/api/v1/experiments/%s\n",
			defaultAB, defaultAA, dashboardURL(ln.Addr().String()), defaultAB)
	}
	recs, err := startRecommendations(gctx, g, srv, st, &rf, logger, reg, exps)
	if err != nil {
		return err
	}
	var genSink generate.Sink = sink
	if simSite != nil && recs != nil {
		simSite.Sink = sink
		genSink = simSite
		for range 2 {
			g.Go(func() error { return simSite.run(gctx, recs) })
		}
	}
	g.Go(func() error { return srv.Serve(gctx, ln) })
	if err := startAnalyticsAfterBackfill(gctx, g, st, logger, reg, &af, loading); err != nil {
		return err
	}
	if err := retf.startAfter(gctx, g, st, logger, reg, loading.stored, loading.loaded); err != nil {
		return err
	}

	ks := sink.(*kafkaSink)
	if pf.labelsTopic != "" {
		// Chargebacks and analysts' decisions follow the stream's event
		// time to the labels topic, which the processor joins.
		sched, err := generate.NewLabelSchedule(generate.LabelConfig{Seed: gcfg.Seed})
		if err != nil {
			return err
		}
		genSink = generate.WithLabels(genSink, ks.labels(pf.labelsTopic), sched)
	}
	if hooks.sink != nil {
		h := *historyFlag
		if history == 0 {
			h = "0"
		}
		genSink = hooks.sink(genSink, runInfo{brokers: brokers, gcfg: gcfg, rate: *rate, history: h, entities: pf.entities.on})
	}
	genDone := make(chan error, 1)
	go func() {
		if history == 0 && hooks.backfillStored != nil {
			hooks.backfillStored()
		}
		// The history ends at the live pace (generate.DemoRamp): its last
		// hour is the volume detector's baseline for the first live
		// minutes, which were a hundred times the shop's own pace.
		ramp := generate.DemoRamp
		if !*historyRamp {
			ramp = generate.Ramp{}
		}
		err := generate.Run(ctx, gen, genSink, generate.RunConfig{Rate: *rate, History: history, Ramp: ramp,
			Progress: loading.progress,
			HistoryDone: func(n int64) {
				loading.historyDone(n)
				if err := sink.Flush(ctx); err != nil {
					return // the run's own flush reports it
				}
				go func() {
					if err := waitBackfillStored(gctx, brokers, st, pf.group, bus.TopicTransactions); err == nil {
						loading.backfillStored(time.Now())
						if hooks.backfillStored != nil {
							hooks.backfillStored()
						}
					}
				}()
			}})
		if ferr := sink.Flush(context.WithoutCancel(ctx)); err == nil {
			err = ferr
		}
		genDone <- err
	}()
	go loading.printLoading(gctx, stderr, func() int64 { return proc.Stats().Stored })
	progressDone := make(chan struct{})
	go func() {
		defer close(progressDone)
		printProgress(gctx, stderr, ks.written.Load, func() (int64, int64, int64) {
			s := proc.Stats()
			return s.Stored, s.Quarantined, 0
		})
	}()

	var genErr error
	select {
	case genErr = <-genDone:
	case <-gctx.Done():
		// The pipeline failed; stop the generator too.
		stopPipe()
		<-genDone
	}
	if genErr != nil && ctx.Err() == nil {
		logger.Error("generator stopped", "err", genErr)
	}
	if gctx.Err() == nil {
		fmt.Fprintln(stderr, "\nstopping: committing what was produced…")
		if err := waitCaughtUp(gctx, brokers, st, pf.group, bus.TopicTransactions, pf.grace); err != nil {
			logger.Warn("not everything produced was committed before the grace period ended; it will be processed on the next start", "err", err)
		} else if pf.entities.on {
			// And the second step: what was stored is counted, its rings
			// found and its raised decisions committed.
			if err := waitEntitiesCaughtUp(gctx, brokers, st, pf.grace); err != nil {
				logger.Warn("the entity stage did not catch up before the grace period ended; it resumes on the next start", "err", err)
			}
		}
	}
	stopPipe()
	err = g.Wait()
	<-progressDone
	if hooks.drained != nil {
		if herr := hooks.drained(context.WithoutCancel(ctx), st); herr != nil {
			return herr
		}
	}
	sum, serr := st.Summary(context.WithoutCancel(ctx))
	if serr == nil {
		var rev []string
		for _, a := range web.Amounts(sum.RevenueByCurrency) {
			rev = append(rev, a.Amount+" "+a.Currency)
		}
		if len(rev) == 0 {
			rev = []string{"none"}
		}
		fmt.Fprintf(stdout, "stored %d transactions (revenue %s), %d fraud alerts, %d quarantined records\n",
			sum.TransactionsTotal, strings.Join(rev, ", "), sum.FraudAlertsTotal, sum.QuarantinedTotal)
	}
	if err != nil && ctx.Err() == nil {
		return err
	}
	return nil
}

// dashboardURL turns a listen address into a URL a browser can open.
func dashboardURL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr
	}
	if host == "" || host == "::" || host == "0.0.0.0" {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// waitCaughtUp waits until the stored offsets of group reach the end of
// every partition of topic, or timeout passes.
func waitCaughtUp(ctx context.Context, brokers []string, st store.Store, group, topic string, timeout time.Duration) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		ends, err := adm.ListEndOffsets(ctx, topic)
		if err == nil {
			stored, serr := st.Offsets(ctx, group, topic)
			if serr == nil {
				behind := int64(0)
				ends.Each(func(o kadm.ListedOffset) {
					if d := o.Offset - stored[o.Partition]; d > 0 {
						behind += d
					}
				})
				if behind == 0 {
					return nil
				}
				err = fmt.Errorf("%d records not yet committed", behind)
			} else {
				err = serr
			}
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// waitEntitiesCaughtUp waits, once the processor has caught up, until the
// outbox has delivered what it queued (the repartition records among it)
// and the entity stage's stored offsets reach the end of the repartition
// topic, or timeout passes.
//
// It asks whether any message is pending (one index row) rather than
// counting them: counting reads every pending row, and polled every
// 100 ms the count of the history's last day's backlog took a quarter of
// a -race run's CPU (39 s of 142), more than the relay that empties it.
func waitEntitiesCaughtUp(ctx context.Context, brokers []string, st store.Store, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if ob, ok := st.(store.OutboxBacklog); ok {
		for {
			drained, err := ob.OutboxDrained(ctx)
			if err == nil && drained {
				break
			}
			if err == nil {
				err = errors.New("outbox messages not yet delivered")
			}
			select {
			case <-ctx.Done():
				return err
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return waitCaughtUp(ctx, brokers, st, entitystage.DefaultGroup, entitystage.DefaultTopic, timeout)
}

// printProgress writes a one-line live report every second: on a terminal
// it rewrites the line, elsewhere it prints a line every 10 s.
func printProgress(ctx context.Context, w io.Writer, generated func() int64, stats func() (stored, quarantined, alerts int64)) {
	tty := isTerminal(w)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	start := time.Now()
	var lastStored int64
	lastAt := start
	for i := 1; ; i++ {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			stored, quar, _ := stats()
			rate := float64(stored-lastStored) / now.Sub(lastAt).Seconds()
			lastStored, lastAt = stored, now
			line := fmt.Sprintf("%s  generated %d · stored %d · quarantined %d · %.0f tx/s",
				time.Since(start).Round(time.Second), generated(), stored, quar, rate)
			if tty {
				fmt.Fprintf(w, "\r\033[K%s", line)
			} else if i%10 == 0 {
				fmt.Fprintln(w, line)
			}
		}
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// lockedWriter serialises the writes of several goroutines to one writer.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// writeHeapProfiles writes a heap profile to base.<minutes since start>m
// every interval until ctx ends, so what grows during a run can be diffed.
// startHeapProfiles writes a heap profile to path when the returned stop
// is called (as the command starts to stop, while what it holds is still
// live), and with every > 0 one every that long meanwhile (see
// writeHeapProfiles).
func startHeapProfiles(ctx context.Context, path string, every time.Duration, stderr io.Writer) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, usageError{fmt.Errorf("-memprofile: %w", err)}
	}
	pctx, cancel := context.WithCancel(ctx)
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		<-pctx.Done()
		runtime.GC() // what is live, not what awaits collection
		if err := pprof.WriteHeapProfile(f); err != nil {
			fmt.Fprintf(stderr, "shopstream: -memprofile: %v\n", err)
		}
		f.Close()
	}()
	if every > 0 {
		go writeHeapProfiles(pctx, path, every, stderr)
	}
	return func() { cancel(); <-wrote }, nil
}

func writeHeapProfiles(ctx context.Context, base string, every time.Duration, stderr io.Writer) {
	start := time.Now()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			name := fmt.Sprintf("%s.%dm", base, int(now.Sub(start).Round(time.Minute)/time.Minute))
			f, err := os.Create(name)
			if err != nil {
				fmt.Fprintf(stderr, "shopstream: -memprofile-every: %v\n", err)
				return
			}
			runtime.GC()
			if err := pprof.WriteHeapProfile(f); err != nil {
				fmt.Fprintf(stderr, "shopstream: -memprofile-every: %v\n", err)
			}
			f.Close()
		}
	}
}

// runMemoryBounds are run's defaults of the flags that bound what it keeps
// in memory, where they differ from process's and serve's.
//
// The fraud state's customers keep process's bound: at 10,000 per partition
// the demo forgot most returning customers and held about twice as many
// honest orders for review (docs/fraud.md), so that bound stays sized for a
// shop and its memory grows, about 0.4 MB a minute, until it binds.
var runMemoryBounds = map[string]string{
	"fraud-max-entities":      "5000",
	"recommend-max-customers": "60000",
	"recommend-max-pairs":     "750000",
	// The entity stage's window: its live stream brings about 40 events
	// (a transaction on a device, card, IP and shipping address) a second
	// at the default rate, so 200,000 per partition (about 40 MB) hold the
	// full 24 hours for about 5.5 hours of a run, then the window shortens.
	"entity-max-events": "200000",
}

// setDefault changes a registered flag's default, in its value and in what
// -h prints.
func setDefault(fs *flag.FlagSet, name, value string) {
	f := fs.Lookup(name)
	if f == nil {
		panic("no flag -" + name)
	}
	if err := f.Value.Set(value); err != nil {
		panic(err)
	}
	f.DefValue = value
}
