package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/sync/errgroup"

	"github.com/shopstream/shopstream/internal/alert"
	"github.com/shopstream/shopstream/internal/analytics"
	"github.com/shopstream/shopstream/internal/bus"
	"github.com/shopstream/shopstream/internal/detector"
	"github.com/shopstream/shopstream/internal/fraud"
	"github.com/shopstream/shopstream/internal/jobs"
	"github.com/shopstream/shopstream/internal/pipeline"
	"github.com/shopstream/shopstream/internal/quality/monitor"
	"github.com/shopstream/shopstream/internal/qualityfile"
	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/web"
)

// kafkaFlags are the flags of commands that talk to Kafka.
type kafkaFlags struct {
	brokers  string
	topic    string
	security kafkaSecurityFlags
}

func (f *kafkaFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.brokers, "brokers", "", "Kafka seed brokers, comma-separated host:port")
	fs.StringVar(&f.topic, "topic", bus.TopicTransactions, "transactions topic")
	f.security.register(fs)
}

func (f *kafkaFlags) list() ([]string, error) {
	b := bus.SplitBrokers(f.brokers)
	if len(b) == 0 {
		return nil, usageError{fmt.Errorf("flag -brokers is required (or set %s)", EnvName("brokers"))}
	}
	return b, nil
}

// processFlags configure the stream processor.
type processFlags struct {
	group     string
	batch     int
	webhooks  multiFlag
	grace     time.Duration
	rules     string
	reviewAt  float64
	declineAt float64
	// fraudMaxCustomers, fraudMaxEntities: see fraud.StateConfig (0:
	// no bound).
	fraudMaxCustomers, fraudMaxEntities int
	// autoPromote: see detector.TrainConfig.AutoPromoteAfter.
	autoPromote time.Duration
	// instanceID: see pipeline.Config.InstanceID; resolveInstanceID fills
	// in the default.
	instanceID string
	// checkpointRecords, checkpointEvery, restores: see pipeline.Config.
	checkpointRecords int64
	restores          int
	checkpointEvery   time.Duration
	// stallTimeout: see pipeline.Config.StallTimeout.
	stallTimeout time.Duration
	// fetchMaxWait, fetchMinBytes: see pipeline.Config.FetchMaxWait and
	// FetchMinBytes.
	fetchMaxWait  time.Duration
	fetchMinBytes sizeFlag
	// alertRoutes is the routes file (alert.RoutesFile); empty keeps the
	// alerts going where the processor queues them.
	alertRoutes string
	// qualityConfig is the data-quality contract file, re-read when it
	// changes; "" for the default contract.
	qualityConfig string
	// ipHash is the key IP addresses are hashed with before they reach
	// the state and the store (privacy.go).
	ipHash ipHashFlags
	// addrKey is the key shipping addresses are keyed with
	// (addresskey.go).
	addrKey addressKeyFlags
	// geo: the real-world lookups' files (geoflags.go).
	geo geoFlags
	// labelsTopic is the labels topic the label consumer reads ("" for
	// none); labelRetention its pending bound (pipeline.LabelConfig).
	labelsTopic    string
	labelRetention time.Duration
	// entities configure the entity stage (entities.go); registered by
	// each command with its own default.
	entities entityFlags
}

func (f *processFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.group, "group", "shopstream", "consumer group; processors in one group share the partitions")
	fs.IntVar(&f.batch, "batch", 0, "most records per database transaction (default: 5000 with PostgreSQL, 20000 with SQLite)")
	fs.Var(&f.webhooks, "webhook", "alert webhook as [name=]URL (Slack-compatible JSON); repeatable")
	fs.DurationVar(&f.grace, "shutdown-grace", 10*time.Second, "how long in-flight batches may take to commit at shutdown")
	fs.StringVar(&f.rules, "rules", "", "fraud rules file (JSON, re-read when it changes; default: the built-in rules)")
	fs.Float64Var(&f.reviewAt, "review-at", 0.4, "risk at or above which a transaction is held for review and alerted on")
	fs.Float64Var(&f.declineAt, "decline-at", 0.9, "risk at or above which a transaction is declined")
	fs.IntVar(&f.fraudMaxCustomers, "fraud-max-customers", 500_000, "most customers whose history the fraud features keep per partition, about 250 bytes each; beyond, the least recently seen is forgotten (0: no bound but the 90-day idle time)")
	fs.IntVar(&f.fraudMaxEntities, "fraud-max-entities", 500_000, "most devices, cards and IP addresses each that the fraud features keep per partition, about 80 bytes each (140-180 once seen twice within the day); beyond, the least recently seen is forgotten (0: no bound but the 24-hour idle time)")
	fs.StringVar(&f.instanceID, "instance-id", "", "this processor's stable id: the owner of its commits and its static consumer-group membership, so a restart takes its partitions back at once; processors running at the same time need different ids (default: host name and a hash of the store and group)")
	fs.IntVar(&f.restores, "restores", max(1, runtime.GOMAXPROCS(0)-1), "newly assigned partitions whose state is restored at once; each is fetched as soon as its own state is ready")
	fs.Int64Var(&f.checkpointRecords, "checkpoint-records", pipeline.DefaultCheckpointRecords, "store each partition's state (fraud features, dedup window) with its offsets after this many records (negative: never by count)")
	fs.DurationVar(&f.checkpointEvery, "checkpoint-interval", pipeline.DefaultCheckpointInterval, "store each partition's state with its offsets at least this often (negative: never by time)")
	fs.DurationVar(&f.fetchMaxWait, "fetch-max-wait", pipeline.DefaultFetchMaxWait, "how long a broker may hold the processor's fetch while it gathers --fetch-min-bytes of records (Kafka's fetch.max.wait.ms; 10ms to 10s): the most a record waits to be fetched while the stream is slow, in exchange for fewer, larger database transactions")
	f.fetchMinBytes = pipeline.DefaultFetchMinBytes
	fs.Var(&f.fetchMinBytes, "fetch-min-bytes", "records, a `size` (1MiB, 64KiB, 1: at once), a broker gathers for the processor's fetch before it answers, unless --fetch-max-wait passes first (Kafka's fetch.min.bytes; at most 50MiB)")
	fs.DurationVar(&f.stallTimeout, "stall-timeout", 30*time.Second, "report the processor stalled (/readyz 503, shopstream_pipeline_stalled 1) when nothing commits this long while batches wait, or Kafka does not answer this long")
	fs.StringVar(&f.alertRoutes, "alert-routes", "", "route alerts by this routes file (YAML or JSON, re-read when it changes; docs/alerts.md) to dashboard, Slack, signed webhook and Kafka destinations, instead of sending each to the alerts topic and every -webhook")
	fs.StringVar(&f.qualityConfig, "quality-config", "", "data-quality contract file (YAML or JSON, re-read when it changes; see docs/event-schema.md; default: the built-in contract)")
	f.ipHash.register(fs, "`file` holding a secret key (at least 32 bytes; a trailing newline is ignored): IP addresses are then stored as their HMAC-SHA256 with it, their country kept for the fraud features (docs/security.md); default: stored as they come")
	f.addrKey.register(fs)
	f.geo.register(fs)
	fs.StringVar(&f.labelsTopic, "labels-topic", bus.TopicLabels, "topic of the label events (chargebacks, analysts' decisions, dispute outcomes) joined to the stored transactions; empty: none are read")
	fs.DurationVar(&f.labelRetention, "label-pending-retention", 7*24*time.Hour, "how long a label whose transaction is not stored stays pending before it is expired (kept and counted, never applied)")
	fs.DurationVar(&f.autoPromote, "auto-promote-after", 0, "promote a shadow fraud model after this long in shadow if its PR-AUC against the labels is not worse (0: promote by hand through the API)")
}

// resolveInstanceID sets the default instance id: the host name and a short
// hash of the store's location (URL or data directory) and the group, stable
// across restarts of the same processor.
func (f *processFlags) resolveInstanceID(storeLocation string) {
	if f.instanceID != "" {
		return
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "shopstream"
	}
	sum := sha256.Sum256([]byte(storeLocation + "\x00" + f.group))
	f.instanceID = host + "-" + hex.EncodeToString(sum[:4])
}

func (f *processFlags) validate() error {
	switch {
	case f.batch < 0:
		return usageError{fmt.Errorf("invalid value %d for flag -batch: must be at least 1 (0: the store's default)", f.batch)}
	case !(f.reviewAt > 0 && f.reviewAt <= 1):
		return usageError{fmt.Errorf("invalid value %v for flag -review-at: want a risk in (0, 1]", f.reviewAt)}
	case !(f.declineAt >= f.reviewAt && f.declineAt <= 1):
		return usageError{fmt.Errorf("invalid value %v for flag -decline-at: want a risk in [review-at, 1]", f.declineAt)}
	case f.restores < 1:
		return usageError{fmt.Errorf("invalid value %d for flag -restores: must be at least 1", f.restores)}
	case f.fraudMaxCustomers < 0:
		return usageError{fmt.Errorf("invalid value %d for flag -fraud-max-customers: must not be negative", f.fraudMaxCustomers)}
	case f.fraudMaxEntities < 0:
		return usageError{fmt.Errorf("invalid value %d for flag -fraud-max-entities: must not be negative", f.fraudMaxEntities)}
	case f.checkpointRecords == 0:
		return usageError{fmt.Errorf("invalid value 0 for flag -checkpoint-records: want a count, or negative for never")}
	case f.checkpointEvery == 0:
		return usageError{fmt.Errorf("invalid value 0 for flag -checkpoint-interval: want a duration, or negative for never")}
	case f.fetchMaxWait < pipeline.MinFetchMaxWait || f.fetchMaxWait > pipeline.MaxFetchMaxWait:
		return usageError{fmt.Errorf("invalid value %v for flag -fetch-max-wait: want %v to %v", f.fetchMaxWait, pipeline.MinFetchMaxWait, pipeline.MaxFetchMaxWait)}
	case f.fetchMinBytes < 1 || f.fetchMinBytes > pipeline.MaxFetchMinBytes:
		return usageError{fmt.Errorf("invalid value %v for flag -fetch-min-bytes: want 1 to 50MiB", f.fetchMinBytes.String())}
	case f.stallTimeout <= 0:
		return usageError{fmt.Errorf("invalid value %v for flag -stall-timeout: must be above 0", f.stallTimeout)}
	case f.autoPromote < 0:
		return usageError{fmt.Errorf("invalid value %v for flag -auto-promote-after: must not be negative", f.autoPromote)}
	case f.alertRoutes != "" && len(f.webhooks) > 0:
		return usageError{fmt.Errorf("flags -webhook and -alert-routes: with a routes file, declare webhooks as its destinations")}
	}
	if err := f.entities.validate(); err != nil {
		return err
	}
	if err := f.addrKey.validate(); err != nil {
		return err
	}
	return f.ipHash.validate()
}

// pipelineDeps is what a processor needs from its surroundings.
type pipelineDeps struct {
	brokers []string
	// conn are how clients reach the brokers: TLS, SASL (nil: plaintext).
	conn   []kgo.Opt
	topic  string
	store  store.Store
	logger *slog.Logger
	reg    *prometheus.Registry
	// tracer traces batches; nil for none.
	tracer trace.TracerProvider
	// volume sets the stream's volume detector (zero: its defaults).
	volume monitor.VolumeConfig
	// streamAfter, if set, holds the stream's quality detectors (volume,
	// failure rise) until it is closed: run's, until its backfill is
	// stored.
	streamAfter <-chan struct{}
	// feed, if set, is given every committed batch and told which
	// partitions the processor owns, and sums the batches in g
	// (jobs.ProductFeed).
	feed *jobs.ProductFeed
}

// startPipeline builds the processor, the outbox deliverer and the fraud
// model jobs (the watcher that hot-swaps the stored active and shadow
// versions, and the training job, which runs on the leader only), runs them
// in g until ctx ends, and returns the processor and what the fraud API needs.
func startPipeline(ctx context.Context, g *errgroup.Group, d pipelineDeps, f *processFlags) (*pipeline.Processor, web.FraudDeps, error) {
	hooks, err := parseWebhooks(f.webhooks)
	if err != nil {
		return nil, web.FraudDeps{}, err
	}
	// The privacy step is also the score API's IP hashing, so it comes
	// before the detector.
	priv, err := newPrivacyFilter(ctx, d, f)
	if err != nil {
		return nil, web.FraudDeps{}, err
	}
	akey, err := f.addrKey.key(ctx, d.store, d.logger)
	if err != nil {
		return nil, web.FraudDeps{}, err
	}
	det, err := newDetector(d, f, priv, akey)
	if err != nil {
		return nil, web.FraudDeps{}, err
	}
	fst, ok := d.store.(store.Fraud)
	if !ok {
		return nil, web.FraudDeps{}, fmt.Errorf("store %T keeps no fraud models", d.store)
	}
	models := detector.NewModelWatcher(det, fst, detector.WatchConfig{Logger: d.logger, Registerer: d.reg})
	if err := models.Sync(ctx); err != nil { // score the first batch with the stored model
		return nil, web.FraudDeps{}, fmt.Errorf("reading the fraud models in use: %w", err)
	}
	trainer, err := detector.NewTrainer(det, fst, detector.TrainConfig{AutoPromoteAfter: f.autoPromote, Logger: d.logger, Registerer: d.reg})
	if err != nil {
		return nil, web.FraudDeps{}, usageError{err}
	}
	names := make([]string, 0, len(hooks))
	for n := range hooks {
		names = append(names, n)
	}
	mon := monitor.New(monitor.Config{})
	pcfg := pipeline.Config{
		Brokers: d.brokers, ConnOpts: d.conn, Topic: d.topic, Group: f.group, Store: d.store, MaxBatch: f.batch,
		Webhooks: names, ShutdownGrace: f.grace, Logger: d.logger, Metrics: pipeline.NewMetrics(d.reg),
		NewScorer: partitionScorers(det), InstanceID: f.instanceID, StallTimeout: f.stallTimeout,
		CheckpointRecords: f.checkpointRecords, CheckpointInterval: f.checkpointEvery, Restores: f.restores,
		FetchMaxWait: f.fetchMaxWait, FetchMinBytes: int32(f.fetchMinBytes),
		QualityObserver: qualityObserver{mon}, Privacy: priv, KafkaOpts: []kgo.Opt{bus.Metrics(d.reg, "consumer")}, Tracer: tracerOf(d.tracer),
		Repartition: f.entities.repartition(), AddressKey: akey,
	}
	if d.feed != nil {
		pcfg.OnCommit = d.feed.Commit
	}
	proc, err := pipeline.New(pcfg)
	if err != nil {
		return nil, web.FraudDeps{}, err
	}
	if d.feed != nil {
		d.feed.SetOwns(proc.Owns)
		d.feed.SetBusy(proc.Behind)
		// The feed sums the committed batches for the product fold as
		// they come, on its own goroutine, while the processor keeps up.
		g.Go(func() error { return d.feed.Run(ctx) })
	}
	d.reg.MustRegister(proc.Collector())
	if f.qualityConfig != "" {
		qw, err := qualityfile.NewWatcher(qualityfile.Config{Path: f.qualityConfig, Apply: proc.SetQuality, Logger: d.logger, Registerer: d.reg})
		if err != nil {
			return nil, web.FraudDeps{}, usageError{err}
		}
		g.Go(func() error { return qw.Run(ctx) })
	}
	producer, err := kgo.NewClient(append(append(bus.ClientOpts(d.brokers, d.logger), d.conn...), kgo.ProducerLinger(5*time.Millisecond),
		bus.Metrics(d.reg, "outbox"))...)
	if err != nil {
		return nil, web.FraudDeps{}, fmt.Errorf("creating Kafka producer for the outbox: %w", err)
	}
	ectx, cancel := context.WithTimeout(ctx, 30*time.Second)
	topics := append([]string{bus.TopicAlerts, bus.TopicDeadLetter}, f.entities.topics()...)
	if f.labelsTopic != "" {
		topics = append(topics, f.labelsTopic)
	}
	if err := bus.EnsureTopics(ectx, producer, topics...); err != nil {
		d.logger.Warn("the outbox's topics could not be created; deliveries to them are retried until they exist", "err", err)
	}
	cancel()
	// Delivered messages are deleted by the retention job (--retain-outbox).
	acfg := alert.Config{Store: d.store, Kafka: producer, Webhooks: hooks, Logger: d.logger, Registerer: d.reg,
		Topics: append([]string{bus.TopicAlerts, bus.TopicDeadLetter}, f.entities.topics()...), PruneAfter: -1} // what the processor queues for
	var routes *alert.RoutesFile
	if f.alertRoutes != "" {
		if routes, err = alert.NewRoutesFile(alert.RoutesFileConfig{Path: f.alertRoutes, Logger: d.logger, Registerer: d.reg}); err != nil {
			producer.Close()
			return nil, web.FraudDeps{}, usageError{fmt.Errorf("flag -alert-routes: %w", err)}
		}
		acfg.Routes = routes.Current
		ectx, cancel := context.WithTimeout(ctx, 30*time.Second)
		if ts := routes.Current().Topics(); len(ts) > 0 {
			if err := bus.EnsureTopics(ectx, producer, ts...); err != nil {
				d.logger.Warn("the alert routes' topics could not be created; deliveries to them are retried until they exist", "err", err)
			}
		}
		cancel()
	}
	deliverer, err := alert.New(acfg)
	if err != nil {
		producer.Close()
		return nil, web.FraudDeps{}, err
	}
	if err := startQualityWatch(ctx, g, d.store, mon, f.instanceID, d.volume, d.streamAfter, d.logger, d.reg); err != nil {
		producer.Close()
		return nil, web.FraudDeps{}, err
	}
	if err := f.entities.start(ctx, g, d, f.instanceID, fraud.ScorerConfig{ReviewAt: f.reviewAt, DeclineAt: f.declineAt}); err != nil {
		producer.Close()
		return nil, web.FraudDeps{}, err
	}
	if routes != nil {
		g.Go(func() error { return routes.Run(ctx) })
	}
	g.Go(func() error { return proc.Run(ctx) })
	if f.labelsTopic != "" {
		lc, err := pipeline.NewLabelConsumer(pipeline.LabelConfig{Brokers: d.brokers, ConnOpts: d.conn, Topic: f.labelsTopic, TxTopic: d.topic,
			Group: f.group, InstanceID: f.instanceID, Store: d.store, MaxBatch: f.batch, PendingRetention: f.labelRetention,
			Logger: d.logger, Registerer: d.reg, KafkaOpts: []kgo.Opt{bus.Metrics(d.reg, "labels")}})
		if err != nil {
			producer.Close()
			return nil, web.FraudDeps{}, usageError{err}
		}
		g.Go(func() error { return lc.Run(ctx) })
	}
	g.Go(func() error { return priv.Run(ctx) })
	g.Go(func() error { return det.WatchRules(ctx) })
	g.Go(func() error { return models.Run(ctx) })
	g.Go(func() error { return trainer.Run(ctx) })
	g.Go(func() error {
		defer producer.Close()
		return deliverer.Run(ctx)
	})
	return proc, web.FraudDeps{Store: fst, Detector: det, Models: models}, nil
}

// readiness reports the processor's Health for /readyz; proc returns nil
// until the processor exists.
func readiness(proc func() *pipeline.Processor) func(context.Context) web.Readiness {
	return func(context.Context) web.Readiness {
		p := proc()
		if p == nil {
			return web.Readiness{Reasons: []string{"processor not started yet"}}
		}
		h := p.Health()
		rd := web.Readiness{Ready: h.Ready, Reasons: h.Reasons, Detail: h}
		if !h.StalledSince.IsZero() {
			rd.StalledSince = &h.StalledSince
		}
		return rd
	}
}

// registerDeliveries adds GET /api/v1/alerts/deliveries when the store
// keeps the record of routed alerts.
func registerDeliveries(srv *web.Server, st store.Store) {
	if ds, ok := st.(store.AlertDeliveries); ok {
		web.RegisterDeliveries(srv, ds)
	}
}

// tracerOf is tp's tracer of the pipeline; nil when tp is.
func tracerOf(tp trace.TracerProvider) trace.Tracer {
	if tp == nil {
		return nil
	}
	return tp.Tracer("github.com/shopstream/shopstream/internal/pipeline")
}

// newRegistry is a process's registry: Go runtime, process and build
// metrics, and the size of st when it can say (store.Size; st may be nil).
func newRegistry(st store.Store) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), buildInfoGauge())
	if sz, ok := st.(store.Size); ok {
		reg.MustRegister(newStoreSizeCollector(sz))
	}
	return reg
}

func runProcess(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("process", stderr)
	var kf kafkaFlags
	var sf storeFlags
	var pf processFlags
	var lf logFlags
	kf.register(fs)
	sf.register(fs)
	sf.registerWait(fs)
	pf.register(fs)
	pf.entities.register(fs, false)
	var af analyticsFlags
	af.register(fs, "analytics-")
	var retf retentionFlags
	retf.register(fs)
	lf.register(fs, "info")
	var tf traceFlags
	tf.register(fs)
	var wf webFlags
	wf.register(fs, "", "serve /metrics, /healthz and the API on this address (default: off; other than loopback only with an API token or --insecure-allow-unauthenticated)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the processor to this `file` until it stops (go tool pprof)")
	memProfile := fs.String("memprofile", "", "write a heap profile to this `file` when the processor stops (go tool pprof; what holds memory)")
	memProfileEvery := fs.Duration("memprofile-every", 0, "with --memprofile, also write a heap profile every this long while running, to FILE.<minutes> (e.g. heap.prof.2m)")
	memLimit := memoryLimit{bytes: defaultMemoryLimit}
	fs.Var(&memLimit, "memory-limit", "soft limit of the Go heap and runtime, a `size` as GOMEMLIMIT takes it (900MiB, 2GiB; 0: none); the collector works harder near it instead of growing; GOMEMLIMIT in the environment wins over the default, not over this flag")
	backgroundShare := fs.Float64("background-share", 0.1, "while this processor is behind (two batches or more wait in its partitions, or a writer has had batches to write for 250 ms without a pause), the analytics refresh and the product fold it leads take at most this `share` of the time, and catch up once the backlog is stored (1: no bound)")
	analyticsWorkers := fs.Int("analytics-workers", max(1, runtime.GOMAXPROCS(0)-1), "the most `goroutines` the analytics refresh fits and predicts on at once (default one fewer than the cores, at least 1, leaving the stream a core)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *analyticsWorkers < 1 {
		return usageError{fmt.Errorf("invalid value %d for flag -analytics-workers: must be at least 1", *analyticsWorkers)}
	}
	analytics.SetParallelism(*analyticsWorkers)
	if !(*backgroundShare > 0 && *backgroundShare <= 1) {
		return usageError{fmt.Errorf("invalid value %v for flag -background-share: must be above 0 and at most 1", *backgroundShare)}
	}
	if *memProfileEvery < 0 || (*memProfileEvery > 0 && *memProfile == "") {
		return usageError{fmt.Errorf("invalid value %v for flag -memprofile-every: must not be negative, and needs --memprofile", *memProfileEvery)}
	}
	memLimit.apply(os.Getenv("GOMEMLIMIT"))
	if *cpuProfile != "" {
		stop, err := startCPUProfile(*cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	if *memProfile != "" {
		stop, err := startHeapProfiles(ctx, *memProfile, *memProfileEvery, stderr)
		if err != nil {
			return err
		}
		defer stop()
	}
	brokers, err := kf.list()
	if err != nil {
		return err
	}
	conn, err := kf.security.opts()
	if err != nil {
		return err
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
	if err := retf.validate(); err != nil {
		return err
	}
	logger, err := lf.logger(stderr)
	if err != nil {
		return err
	}
	tp, stopTracing, err := tf.provider(ctx, "shopstream-process")
	if err != nil {
		return err
	}
	defer stopTracing()
	pf.resolveInstanceID(sf.location())
	st, err := sf.openWaiting(ctx, logger)
	if err != nil {
		return err
	}
	defer st.Close()
	logger.Info("store opened", "store", sf.describe())
	var wcfg web.Config
	if wf.addr != "" {
		// Checked before the pipeline starts: a refused address fails at once.
		if wcfg, err = wf.config(ctx, st, "shopstream process"); err != nil {
			return err
		}
	}
	reg := newRegistry(st)
	g, gctx := errgroup.WithContext(ctx)
	retf.feed = jobs.NewProductFeed(jobs.ProductFeedConfig{})
	proc, fraudDeps, err := startPipeline(gctx, g, pipelineDeps{brokers: brokers, conn: conn, topic: kf.topic, store: st, logger: logger, reg: reg,
		tracer: tp, feed: retf.feed}, &pf)
	if err != nil {
		return err
	}
	// The processor's backlog comes first: the background jobs that
	// share its database give way while it is behind.
	af.busy, af.busyShare, af.catchUp = proc.Behind, *backgroundShare, -1
	retf.busy, retf.busyShare = proc.Behind, *backgroundShare
	if err := startAnalyticsJob(gctx, g, st, logger, reg, &af); err != nil {
		return err
	}
	if err := retf.start(gctx, g, st, logger, reg); err != nil {
		return err
	}
	if wf.addr != "" {
		wcfg.Store, wcfg.Gatherer, wcfg.Logger, wcfg.Health = st, reg, logger, proc.Healthy
		wcfg.SampleInstance = pf.instanceID // the System page's history outlives a restart
		wcfg.Tracer = tp.Tracer("github.com/shopstream/shopstream/internal/web")
		wcfg.Ready = readiness(func() *pipeline.Processor { return proc })
		wcfg.Lookups = pf.geo.webLookups()
		srv, err := web.New(wcfg)
		if err != nil {
			return err
		}
		if err := registerAnalyticsAPI(srv, st); err != nil {
			return err
		}
		web.RegisterFraud(srv, fraudDeps)
		registerDeliveries(srv, st)
		registerErasure(srv, st)
		if err := registerQualityAPI(srv, st); err != nil {
			return err
		}
		ln, err := srv.Listen()
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "metrics and API on %s (%s)\n", serverURL(srv, ln), wf.accessNote(wcfg))
		g.Go(func() error { return srv.Serve(gctx, ln) })
	} else if ss, ok := st.(store.SystemSamples); ok {
		// Serving nothing, the process still samples its metrics and saves
		// the coarse samples under its id, as the server would: the System
		// page of serve shows its history (docs/dashboard.md).
		g.Go(func() error {
			return web.RunSampler(gctx, web.SamplerConfig{Gatherer: reg, Store: ss, Instance: pf.instanceID, Logger: logger})
		})
	}
	return g.Wait()
}
