package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"golang.org/x/sync/errgroup"

	"github.com/shopstream/shopstream/internal/bus"
	"github.com/shopstream/shopstream/internal/event"
	"github.com/shopstream/shopstream/internal/quality"
	"github.com/shopstream/shopstream/internal/store"
)

// Scorer owns one partition's fraud state and scores its transactions in
// offset order. It is used by one goroutine at a time.
type Scorer interface {
	// Score sets row's Risk, Decision, ReasonsJSON, Features and
	// ModelVersion from t and the partition's state, then folds t into
	// the state.
	Score(t *event.Transaction, row *store.Tx)
	// Replay folds a stored transaction into the state without scoring it;
	// the processor calls it to rebuild state after an assignment.
	Replay(row *store.Tx)
}

// Privacy rewrites records before they reach a partition's state and the
// store (package privacy): erased customers' records are pseudonymised,
// IP addresses hashed with a key.
type Privacy interface {
	// View returns the rules in force now; one view serves a whole
	// batch, and the batch carries its ErasedUpTo (store.Batch).
	View() PrivacyView
}

// PrivacyView is a Privacy's rules at one moment.
type PrivacyView interface {
	// ErasedUpTo is the last erasure the view knows.
	ErasedUpTo() int64
	// Transaction rewrites t in place and returns raw rewritten to match.
	Transaction(t *event.Transaction, raw []byte) []byte
	// Quarantined returns the raw bytes of a record that failed a check
	// rewritten, given t as far as it was decoded.
	Quarantined(t *event.Transaction, raw []byte) []byte
}

// QualityObserver sees the outcome of every record the processor checks,
// for the stream's quality monitor (package quality/monitor). Begin is
// called once per partition and poll from that partition's goroutine; the
// recorder it returns is used by that goroutine alone, so observing a
// record need take no lock.
type QualityObserver interface {
	Begin(partition int32, now time.Time) QualityRecorder
}

// QualityRecorder observes one partition's records of one poll.
type QualityRecorder interface {
	// Observe is called once per record with the check it failed
	// (quality.OK when it passed), the checks that warned about it, the
	// decoded transaction (meaningful only when it passed) and the Kafka
	// produce time. Records the store later refuses as duplicates or
	// rejects are observed as passed; the stored counts (quality_minutes)
	// have their final outcome.
	Observe(failed quality.Reason, warnings []string, t *event.Transaction, produced time.Time)
	// Done ends the poll's observations.
	Done()
}

// The write shape of a store that does not say its own (store.WriteShape).
const (
	DefaultMaxBatch = 5000
	DefaultWriters  = 2
)

// How a processor's fetches gather records by default (Config.FetchMaxWait,
// Config.FetchMinBytes): a broker answers a fetch once it holds a MiB for
// it, or after 50 ms. Answering at the first record (Kafka's own default,
// fetch.min.bytes 1) made a batch of every few records once the stream ran
// below the processor's speed: at 5,000 records/s, batches of about 20, each
// a database transaction, and the processor and PostgreSQL spent 3 to 5
// times the CPU per record they spend at full speed, twice what they spend
// now (docs/benchmarks.md).
const (
	DefaultFetchMaxWait  = 50 * time.Millisecond
	DefaultFetchMinBytes = 1 << 20
)

// Bounds of Config.FetchMaxWait and Config.FetchMinBytes: the Kafka
// client refuses a wait under 10 ms, a wait beyond 10 s would pass for a
// stall, and a fetch answers with 50 MiB at most (the client's
// fetch.max.bytes), so more could never be waited for.
const (
	MinFetchMaxWait  = 10 * time.Millisecond
	MaxFetchMaxWait  = 10 * time.Second
	MaxFetchMinBytes = 50 << 20
)

// Config configures a Processor.
type Config struct {
	// Brokers are the Kafka seed brokers. Required.
	Brokers []string
	// Topic is the transactions topic. Defaults to "transactions".
	Topic string
	// Group is the consumer group; processors in one group share the
	// partitions. Defaults to "shopstream".
	Group string
	// InstanceID is the processor's stable identity. Every batch carries
	// it as its Owner (with the group generation), so the store can refuse
	// a zombie's commit and tell a lost reply of its own from another
	// owner's commit; and the processor joins the group as a static member
	// with it (kgo.InstanceID), so one restarted after a crash takes its
	// partitions back at once instead of after the session timeout. A
	// processor that stops cleanly leaves the group, so its partitions move
	// at once. Two processors running at the same time must not share it.
	// Defaults to none: a dynamic member, owner "<host>-<random>".
	InstanceID string
	// Store receives the batches. Required.
	Store store.Store
	// MaxBatch bounds the records in one batch. Defaults to the store's
	// store.WriteShape, else 5000.
	MaxBatch int
	// FetchMaxWait and FetchMinBytes are how long a broker may hold a
	// fetch and how many bytes of records it waits for (Kafka's
	// fetch.max.wait.ms and fetch.min.bytes): it answers once it holds
	// FetchMinBytes for the fetch's partitions, or after FetchMaxWait with
	// what it has. A record arriving while the stream is slow waits up to
	// FetchMaxWait, and in exchange arrives with the others of that time,
	// in one batch and one database transaction. Default
	// DefaultFetchMaxWait and DefaultFetchMinBytes; FetchMaxWait at least
	// 10 ms (the client's floor), FetchMinBytes at least 1 (answer at the
	// first record).
	FetchMaxWait  time.Duration
	FetchMinBytes int32
	// Writers is how many database transactions may be in flight at once.
	// Partitions are divided among the writers (partition mod Writers), so
	// each partition's batches still commit in order. Defaults to the
	// store's store.WriteShape, else 2.
	Writers int
	// Quality is the data-quality contract records are checked by; SetQuality
	// replaces it while running. Defaults to quality.Default().
	Quality *quality.Contract
	// DedupWindow is how many recent transaction ids each partition
	// remembers for the duplicate check. Defaults to 100,000.
	DedupWindow int
	// Restores is how many newly assigned partitions have their state
	// built at once (restore.go). Defaults to one fewer than GOMAXPROCS,
	// at least one: restoring is CPU-bound, and a core is left to the
	// partitions already running.
	Restores int
	// NewScorer creates a partition's fraud scorer. Defaults to none:
	// every transaction is approved with risk 0.
	NewScorer func(partition int32) Scorer
	// StateWindow is how much stored history is replayed into a new
	// partition's scorer. Defaults to 24 hours, the longest feature window.
	StateWindow time.Duration
	// StateMaxRecords bounds the replay to a partition's last this many
	// records, so a rebalance stays quick at high rates. Defaults to 1,000,000.
	StateMaxRecords int64
	// CheckpointRecords and CheckpointInterval say how often a partition's
	// state (fraud features, dedup window) is stored with its offsets, so
	// a new owner replays only what came after (see StatefulScorer): after
	// this many records or this much time, whichever comes first. Default
	// to 200,000 records and 1 minute; a negative value turns that trigger
	// off.
	CheckpointRecords  int64
	CheckpointInterval time.Duration
	// DeadLetterTopic receives quarantined records through the outbox.
	// Defaults to "transactions.dlq".
	DeadLetterTopic string
	// AlertsTopic receives alerts through the outbox. Defaults to "alerts".
	AlertsTopic string
	// Webhooks are names of webhook targets each alert is also queued for.
	// Defaults to none.
	Webhooks []string
	// StallTimeout is how long nothing may commit while batches wait
	// before the processor reports itself stalled (Health, /readyz, the
	// shopstream_pipeline_stalled gauge). Defaults to 30 s.
	StallTimeout time.Duration
	// BehindAfter is how long a writer may have batches to write without
	// a pause before the processor counts as behind (Behind) although
	// fewer than two batches' worth of records wait: the stream then
	// arrives faster than it is written, and its records wait longer than
	// a batch's write. Defaults to 250 ms; negative: only the records
	// waiting count.
	BehindAfter time.Duration
	// RetryStuckAfter is how long a write may keep failing before its
	// partitions count as stuck retrying. Defaults to 10 s.
	RetryStuckAfter time.Duration
	// ShutdownGrace bounds how long in-flight batches may take to commit
	// after the context is cancelled. Defaults to 10 s.
	ShutdownGrace time.Duration
	// Now is the clock. Defaults to time.Now.
	Now func() time.Time
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Metrics, when set, receive the processor's metrics.
	Metrics *Metrics
	// Tracer traces each batch: a shopstream.batch span with children
	// poll, process and write (the store transaction, with a commit child
	// for what follows it). Defaults to a no-op tracer.
	Tracer trace.Tracer
	// OnCommit, when set, is called after every committed batch with the
	// batch and the commit time (used by the benchmark for latencies).
	OnCommit func(b *store.Batch, at time.Time)
	// OnFetch, when set, is called after every poll that returned records,
	// with their number and the time (used by the benchmark).
	OnFetch func(n int, at time.Time)
	// QualityObserver, when set, sees every checked record. Defaults to
	// none.
	QualityObserver QualityObserver
	// Privacy, when set, rewrites every record before the partition's
	// state and the store see it. Defaults to none.
	Privacy Privacy
	// AddressKey is the deployment's secret the shipping address is keyed
	// with before it is stored (event.AddressKey): the same key the
	// fraud state's StateConfig.AddressKey holds, in every process of the
	// deployment. Defaults to nil: unkeyed (tests).
	AddressKey []byte
	// TruthHeaders stores the generator's whole truth, from a record's
	// label headers, as the transaction's label the moment it is stored
	// (a row per transaction, legitimate ones included), to measure live
	// detection against the full truth in tests and offline evaluation.
	// Defaults to false, and process and run never set it: labels come
	// only from the labels topic (LabelConsumer), days later in event
	// time, as in a real shop, and exist only where something was
	// reported.
	TruthHeaders bool
	// KafkaOpts are extra franz-go options (tests use them for timeouts).
	KafkaOpts []kgo.Opt
	// Repartition, when set, appends outbox messages for each stored
	// transaction, queued in the transaction that stores it: the entity
	// stage's repartition records (entitystage.Messages). Defaults to none.
	Repartition func(row *store.Tx, out []store.OutboxMsg) []store.OutboxMsg
	// ConnOpts are how every client of the processor (consumer, admin)
	// reaches the brokers: TLS and SASL (bus.Security.Opts). Defaults to
	// none: plaintext.
	ConnOpts []kgo.Opt
}

func (c Config) withDefaults() Config {
	if c.Tracer == nil {
		c.Tracer = noop.NewTracerProvider().Tracer("")
	}
	if c.Topic == "" {
		c.Topic = bus.TopicTransactions
	}
	if c.Group == "" {
		c.Group = "shopstream"
	}
	if c.MaxBatch == 0 {
		c.MaxBatch = DefaultMaxBatch
		if ws, ok := c.Store.(store.WriteShape); ok {
			c.MaxBatch = ws.BatchRecords()
		}
	}
	if c.Writers == 0 {
		c.Writers = DefaultWriters
		if ws, ok := c.Store.(store.WriteShape); ok {
			c.Writers = ws.Writers()
		}
	}
	if c.FetchMaxWait == 0 {
		c.FetchMaxWait = DefaultFetchMaxWait
	}
	if c.FetchMinBytes == 0 {
		c.FetchMinBytes = DefaultFetchMinBytes
	}
	if c.DedupWindow == 0 {
		c.DedupWindow = 100_000
	}
	if c.Restores <= 0 {
		c.Restores = max(1, runtime.GOMAXPROCS(0)-1)
	}
	if c.StateWindow == 0 {
		c.StateWindow = 24 * time.Hour
	}
	if c.StateMaxRecords == 0 {
		c.StateMaxRecords = 1_000_000
	}
	c = c.checkpointDefaults()
	if c.DeadLetterTopic == "" {
		c.DeadLetterTopic = bus.TopicDeadLetter
	}
	if c.AlertsTopic == "" {
		c.AlertsTopic = bus.TopicAlerts
	}
	if c.StallTimeout == 0 {
		c.StallTimeout = 30 * time.Second
	}
	if c.BehindAfter == 0 {
		c.BehindAfter = 250 * time.Millisecond
	}
	if c.RetryStuckAfter == 0 {
		c.RetryStuckAfter = 10 * time.Second
	}
	if c.ShutdownGrace == 0 {
		c.ShutdownGrace = 10 * time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

func (c Config) validate() error {
	switch {
	case len(c.Brokers) == 0:
		return errors.New("pipeline: no Kafka brokers given (--brokers)")
	case c.Store == nil:
		return errors.New("pipeline: no store given")
	case c.MaxBatch < 1:
		return fmt.Errorf("pipeline: batch size %d must be at least 1", c.MaxBatch)
	case c.Writers < 1 || c.Writers > 64:
		return fmt.Errorf("pipeline: %d writers, want 1..64", c.Writers)
	case c.FetchMaxWait < MinFetchMaxWait || c.FetchMaxWait > MaxFetchMaxWait:
		return fmt.Errorf("pipeline: fetch max wait %v, want %v..%v", c.FetchMaxWait, MinFetchMaxWait, MaxFetchMaxWait)
	case c.FetchMinBytes < 1 || c.FetchMinBytes > MaxFetchMinBytes:
		return fmt.Errorf("pipeline: fetch min bytes %d, want 1..%d", c.FetchMinBytes, MaxFetchMinBytes)
	}
	return nil
}

// partState is what the processor keeps per owned partition.
type partState struct {
	pos   int64 // next offset expected; -1 when unknown (start of log)
	dedup *quality.Dedup
	// items is the block the items JSON of this partition's rows is
	// written into (newTx); touched only by the partition's goroutine.
	items  []byte
	scorer Scorer
	// lost, when set, is a range from pos on that the log no longer holds
	// (the broker's log start moved past it): the next batch of the
	// partition moves its offset past the range and carries the alert.
	lost *lostRange
	cp   checkpointClock // when the state is next stored (checkpoint.go)
	// beyondEnd is set while the stored offset lies past the log end.
	beyondEnd bool
}

// lostRange is a stretch [from, to) of a partition's offsets that
// retention deleted before they were stored.
type lostRange struct{ from, to int64 }

// Processor consumes, checks, scores and stores transactions exactly once.
type Processor struct {
	cfg   Config
	log   *slog.Logger
	cl    *kgo.Client
	adm   *kadm.Client
	owner string // Config.InstanceID, or a name of this run

	mu    sync.Mutex // guards parts and restoring between the poll loop and rebalance callbacks
	parts map[int32]*partState
	// restoring are the assigned partitions whose state is being built in
	// the background (restore.go); their fetching is paused until then.
	restoring  map[int32]*restore
	restores   sync.WaitGroup
	restoreSem chan struct{}   // bounds the restores running at once
	runCtx     context.Context // ends when Run returns; restores derive from it
	// kcl is the consumer as handed to the assignment callback, which runs
	// before the first fetch and possibly before Run has set cl.
	kcl atomic.Pointer[kgo.Client]

	fencedMu sync.Mutex
	fenced   map[int32]bool // partitions the store fenced; reset by the poll loop
	wake     chan struct{}  // a writer's call to the poll loop to reset fenced partitions

	writers     []*writer        // partition mod len(writers) writes a partition's batches
	cps         *checkpointSaver // nil: checkpoints are written with their batches
	groupCommit *groupCommitter
	health      *healthState
	kafka       *kafkaContact
	quality     *qualityState

	stored, quarantined, batches, lostTotal atomic.Int64
	replays                                 replayCounts // replay.go
	// epoch is the ownership epoch of the latest Store.Claim: every batch
	// carries it as its Generation, so the store refuses the batches of a
	// processor whose partitions another has claimed since.
	epoch   atomic.Int32
	running atomic.Bool
}

// New validates cfg and returns a Processor.
func New(cfg Config) (*Processor, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	p := &Processor{
		cfg:        cfg,
		log:        cfg.Logger.With("component", "processor"),
		parts:      map[int32]*partState{},
		restoring:  map[int32]*restore{},
		restoreSem: make(chan struct{}, cfg.Restores),
		runCtx:     context.Background(),
		fenced:     map[int32]bool{},
		owner:      cfg.InstanceID,
		health:     newHealthState(),
		kafka:      newKafkaContact(cfg.Now),
		wake:       make(chan struct{}, 1),
		quality:    newQualityState(cfg.Quality, cfg.Metrics),
	}
	if p.owner == "" {
		host, _ := os.Hostname()
		p.owner = fmt.Sprintf("%s-%08x", host, rand.Uint32())
	}
	for range cfg.Writers {
		p.writers = append(p.writers, newWriter(p))
	}
	p.groupCommit = newGroupCommitter(p)
	if cs, ok := cfg.Store.(store.CheckpointSaver); ok {
		p.cps = newCheckpointSaver(p, cs)
	}
	return p, nil
}

// Stats are running counts since start.
type Stats struct {
	Stored, Quarantined, Batches int64
	// Lost counts offsets recorded as lost to retention (see LossAlert).
	Lost int64
}

// Stats returns counts of committed records.
func (p *Processor) Stats() Stats {
	return Stats{Stored: p.stored.Load(), Quarantined: p.quarantined.Load(), Batches: p.batches.Load(), Lost: p.lostTotal.Load()}
}

// Healthy reports an error unless the processor is running.
func (p *Processor) Healthy(context.Context) error {
	if !p.running.Load() {
		return errors.New("processor is not running")
	}
	return nil
}

// Run consumes until ctx is cancelled, then commits what is in flight
// within the shutdown grace period and leaves the group. The poll loop and
// the writers run in one errgroup: the poll loop owns the writers' channels
// and closes them when it stops; each writer drains its channel; a writer
// that fails stops the poll loop.
func (p *Processor) Run(ctx context.Context) error {
	runCtx, endRestores := context.WithCancel(ctx)
	defer endRestores()
	p.runCtx = runCtx
	opts := append(append(bus.ClientOpts(p.cfg.Brokers, p.cfg.Logger), p.cfg.ConnOpts...),
		kgo.ConsumerGroup(p.cfg.Group),
		kgo.ConsumeTopics(p.cfg.Topic),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		// Records of aborted transactions never reach the processor, and
		// records of open ones only once committed.
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// An offset the log no longer holds is reported, not silently
		// reset: the processor asks the broker and makes the loss explicit.
		// Partitions with no stored offset are sought to the log start by
		// adjustOffsets.
		kgo.ConsumeResetOffset(kgo.NoResetOffset()),
		kgo.AdjustFetchOffsetsFn(p.adjustOffsets),
		kgo.OnPartitionsAssigned(p.assigned),
		kgo.OnPartitionsRevoked(p.revoked),
		kgo.OnPartitionsLost(p.lost),
		kgo.FetchMaxWait(p.cfg.FetchMaxWait),
		kgo.FetchMinBytes(p.cfg.FetchMinBytes),
		kgo.WithHooks(p.kafka),
	)
	p.kafka.ok.Store(p.cfg.Now().UnixNano())
	if p.cfg.InstanceID != "" {
		opts = append(opts, kgo.InstanceID(p.cfg.InstanceID))
	}
	opts = append(opts, p.cfg.KafkaOpts...)
	// The admin client exists before the consumer, whose assignment
	// callbacks use it as soon as it joins.
	admCl, err := kgo.NewClient(append(bus.ClientOpts(p.cfg.Brokers, p.cfg.Logger), p.cfg.ConnOpts...)...)
	if err != nil {
		return fmt.Errorf("creating Kafka admin client: %w", err)
	}
	defer admCl.Close()
	p.adm = kadm.NewClient(admCl)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("creating Kafka consumer: %w", err)
	}
	p.cl = cl

	// The writers outlive ctx by the grace period so in-flight batches commit.
	writeCtx, cancelWrite := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWrite()
	stopGrace := context.AfterFunc(ctx, func() {
		t := time.NewTimer(p.cfg.ShutdownGrace)
		defer t.Stop()
		select {
		case <-t.C:
			p.log.Warn("shutdown grace period over; abandoning uncommitted batches (they will be replayed)")
			cancelWrite()
		case <-writeCtx.Done():
		}
	})
	defer stopGrace()

	p.running.Store(true)
	defer p.running.Store(false)
	p.log.Info("processor started", "topic", p.cfg.Topic, "group", p.cfg.Group, "brokers", p.cfg.Brokers,
		"owner", p.owner, "static_member", p.cfg.InstanceID != "")
	// The group committer stops after the writers, to mirror their last
	// commits to the group too.
	commitCtx, stopCommit := context.WithCancel(context.WithoutCancel(ctx))
	var outer errgroup.Group
	outer.Go(func() error { return p.groupCommit.Run(commitCtx) })
	outer.Go(func() error { return p.monitor(commitCtx, time.Second) })
	if p.cps != nil {
		// It stores what the writers' last batches carried, within the
		// grace period.
		outer.Go(func() error { return p.cps.run(commitCtx, writeCtx) })
	}
	outer.Go(func() error {
		defer stopCommit()
		g, gctx := errgroup.WithContext(writeCtx)
		for _, w := range p.writers {
			g.Go(func() error { return w.Run(gctx) })
		}
		g.Go(func() error {
			defer func() {
				for _, w := range p.writers {
					close(w.ch)
				}
			}()
			return p.poll(ctx, gctx)
		})
		return g.Wait()
	})
	err = outer.Wait()
	cancelWrite()
	// Leave the group only after the writers are done: revoke callbacks flush.
	cl.Close()
	endRestores()
	p.restores.Wait()
	if p.cfg.InstanceID != "" && ctx.Err() != nil {
		p.leaveGroup()
	}
	p.log.Info("processor stopped", "stored", p.stored.Load(), "quarantined", p.quarantined.Load())
	return err
}

// leaveGroup makes a static member leave the group after a clean stop
// (franz-go does not, so that a restart finds its partitions waiting), so
// that its partitions move to the other processors at once.
func (p *Processor) leaveGroup() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(append(bus.ClientOpts(p.cfg.Brokers, nil), p.cfg.ConnOpts...)...)
	if err == nil {
		defer cl.Close()
		var resp kadm.LeaveGroupResponses
		resp, err = kadm.NewClient(cl).LeaveGroup(ctx, kadm.LeaveGroup(p.cfg.Group).InstanceIDs(p.cfg.InstanceID).Reason("shopstream processor stopped"))
		if err == nil {
			err = resp.Error()
		}
	}
	if err != nil {
		p.log.Warn("leaving the group as a static member; its partitions move after the session timeout", "instance_id", p.cfg.InstanceID, "err", err)
	}
}

// pollOnce polls, returning early (with no records) when a writer wakes
// the poll loop: a fenced partition must be re-sought even when no new
// record arrives anywhere.
func (p *Processor) pollOnce(ctx context.Context) kgo.Fetches {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-p.wake:
			cancel()
		case <-done:
		}
	}()
	return p.cl.PollRecords(ctx, p.cfg.MaxBatch)
}

// poll fetches, builds and hands out batches until ctx ends (a clean stop)
// or wctx ends (a writer failed, or the grace period ran out).
func (p *Processor) poll(ctx, wctx context.Context) error {
	pctx, stop := context.WithCancel(ctx)
	defer stop()
	defer context.AfterFunc(wctx, stop)()
	m := p.cfg.Metrics
	for {
		polled := time.Now()
		fetches := p.pollOnce(pctx)
		fetched := time.Now()
		if m != nil {
			m.StageDuration.WithLabelValues("poll").Observe(fetched.Sub(polled).Seconds())
		}
		if fetches.IsClientClosed() || pctx.Err() != nil {
			// A clean stop, or a writer failed: its error is the group's.
			p.cl.AllowRebalance()
			return nil
		}
		var outOfRange []int32
		fetches.EachError(func(topic string, part int32, err error) {
			switch {
			case errors.Is(err, kerr.OffsetOutOfRange) && topic == p.cfg.Topic:
				outOfRange = append(outOfRange, part)
				if m != nil {
					m.Errors.WithLabelValues("fetch", "offset_out_of_range").Inc()
				}
			case !errors.Is(err, context.Canceled):
				p.log.Warn("fetch error (retrying)", "topic", topic, "partition", part, "err", err)
				if m != nil {
					m.Errors.WithLabelValues("fetch", "broker").Inc()
				}
			}
		})
		if p.cfg.OnFetch != nil {
			if n := fetches.NumRecords(); n > 0 {
				p.cfg.OnFetch(n, p.cfg.Now())
			}
		}
		p.mu.Lock()
		reset := p.resetFenced(ctx)
		if len(outOfRange) > 0 {
			p.outOfRange(ctx, outOfRange)
		}
		b := p.build(fetches, reset)
		processed := time.Now()
		if m != nil && b != nil {
			m.StageDuration.WithLabelValues("process").Observe(processed.Sub(fetched).Seconds())
		}
		if b != nil {
			// The epoch the store handed out when the fetched partitions
			// were last claimed (rebalances wait for AllowRebalance).
			b.Generation = p.epoch.Load()
			b.Owner = p.owner
		}
		subs := p.split(b)
		p.mu.Unlock()
		bt := p.traceBatch(b, subs, polled, fetched, processed)
		for i, sub := range subs {
			if sub == nil {
				continue
			}
			if err := p.writers[i].enqueue(wctx, sub, bt); err != nil {
				bt.done()
				p.cl.AllowRebalance()
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("handing a batch to writer %d: %w", i, err)
			}
		}
		p.cl.AllowRebalance()
	}
}

// split divides b among the writers by partition; nil where a writer gets
// nothing. Each writer's batch carries the writer's slot in the shared
// rollups (store.Batch.Slot): one more than the smallest partition the
// writer owns, the same for every batch whichever of its partitions the
// batch holds, so a writer adds to one slot's rows (and every writer in
// the group to its own). The caller holds p.mu.
func (p *Processor) split(b *store.Batch) []*store.Batch {
	out := make([]*store.Batch, len(p.writers))
	if b == nil {
		return out
	}
	slots := make([]int32, len(out))
	for part := range p.parts {
		i := int(part) % len(out)
		if slots[i] == 0 || part+1 < slots[i] {
			slots[i] = part + 1
		}
	}
	if len(out) == 1 {
		out[0] = b
		b.Slot = slots[0]
		return out
	}
	for _, part := range b.Parts {
		i := int(part.Partition) % len(out)
		if out[i] == nil {
			out[i] = &store.Batch{Group: b.Group, Topic: b.Topic, Owner: b.Owner, Generation: b.Generation, Slot: slots[i]}
		}
		out[i].Parts = append(out[i].Parts, part)
	}
	return out
}

// build turns fetched records into one batch. Partitions are processed in
// parallel, one goroutine each: every partition's state is touched only by
// its own goroutine, so nothing is locked; records within a partition keep
// their order.
func (p *Processor) build(fetches kgo.Fetches, reset map[int32]bool) *store.Batch {
	type job struct {
		ps   *partState
		recs []*kgo.Record
		part store.Part
	}
	var jobs []job
	fetches.EachPartition(func(ft kgo.FetchTopicPartition) {
		if len(ft.Records) == 0 {
			return
		}
		if m := p.cfg.Metrics; m != nil {
			m.ConsumerRecords.WithLabelValues(partitionLabel(ft.Partition)).Add(float64(len(ft.Records)))
		}
		ps := p.parts[ft.Partition]
		if ps != nil {
			end := ft.LastStableOffset
			if end < 0 {
				end = ft.HighWatermark
			}
			p.health.noteEnd(ft.Partition, end)
		}
		if ps == nil || reset[ft.Partition] {
			return // records of a partition we do not (or no longer) own, or fetched before a seek
		}
		jobs = append(jobs, job{ps: ps, recs: ft.Records, part: store.Part{Partition: ft.Partition}})
	})
	if len(jobs) == 0 {
		return nil
	}
	now := p.cfg.Now()
	contract := p.quality.contract.Load() // one contract for the whole batch
	var priv PrivacyView
	if p.cfg.Privacy != nil {
		priv = p.cfg.Privacy.View() // one view too: the batch says which erasures it knew
	}
	run := func(j *job) {
		var t event.Transaction
		var res quality.Result
		ps, part := j.ps, &j.part
		part.From = ps.pos
		part.CheckedAt = now
		recs := j.recs
		for len(recs) > 0 && ps.pos >= 0 && recs[0].Offset < ps.pos {
			recs = recs[1:] // fetched before a re-seek; already handled
		}
		if len(recs) == 0 {
			return
		}
		// Records beyond ps.pos are normal: transaction markers, aborted
		// records and compaction leave gaps. Only the broker's log start
		// says what retention deleted (see outOfRange and adjustOffsets).
		if ps.lost != nil {
			p.lostAlert(part, *ps.lost)
			ps.lost = nil
		}
		if ps.beyondEnd {
			p.health.noteBeyondEnd(part.Partition, "")
			ps.beyondEnd = false
		}
		// Every record is usually a stored transaction: sized once, the
		// part's rows are not copied again as it grows.
		part.Txs = make([]store.Tx, 0, len(recs))
		var rec QualityRecorder
		if p.cfg.QualityObserver != nil {
			rec = p.cfg.QualityObserver.Begin(part.Partition, now)
			defer rec.Done()
		}
		for _, r := range recs {
			if part.From < 0 {
				part.From = r.Offset
			}
			p.process(ps, r, now, contract, priv, &t, &res, part, rec)
			part.To = r.Offset + 1
			ps.pos = part.To
		}
		p.maybeCheckpoint(ps, part, now)
	}
	if len(jobs) == 1 {
		run(&jobs[0])
	} else {
		var wg sync.WaitGroup
		for i := range jobs {
			wg.Go(func() { run(&jobs[i]) })
		}
		wg.Wait()
	}
	b := &store.Batch{Group: p.cfg.Group, Topic: p.cfg.Topic}
	if priv != nil {
		b.ErasedUpTo = priv.ErasedUpTo()
	}
	for i := range jobs {
		if part := jobs[i].part; part.To > part.From {
			b.Parts = append(b.Parts, part)
		}
	}
	if len(b.Parts) == 0 {
		return nil
	}
	return b
}

// Label header keys set by the generator. Only evaluation (and a
// processor with Config.TruthHeaders) reads them.
const (
	HeaderLabel    = event.HeaderLabel
	HeaderScenario = event.HeaderScenario
	HeaderBad      = event.HeaderBad
)

func (p *Processor) process(ps *partState, r *kgo.Record, now time.Time, contract *quality.Contract, priv PrivacyView,
	t *event.Transaction, res *quality.Result, part *store.Part, rec QualityRecorder) {
	var label, scenario, bad string
	for _, h := range r.Headers {
		switch h.Key {
		case HeaderLabel:
			label = string(h.Value)
		case HeaderScenario:
			scenario = string(h.Value)
		case HeaderBad:
			bad = string(h.Value)
		}
	}
	contract.Decode(r.Value, now, t, res)
	fail := res.Failure
	if fail == nil {
		fail = ps.dedup.Check(t.TransactionID)
	}
	replay := replayOf(r)
	raw := r.Value
	if fail != nil {
		p.quality.observe(res, fail.Reason)
		if rec != nil {
			rec.Observe(fail.Reason, nil, nil, r.Timestamp)
		}
		if priv != nil {
			raw = priv.Quarantined(t, raw)
		}
		p.addQuarantined(part, store.Quarantined{Reason: string(fail.Reason), Detail: fail.Detail, Raw: raw,
			Partition: r.Partition, Offset: r.Offset, Expected: bad, ReplayOf: replay})
		return
	}
	p.quality.observe(res, quality.OK)
	warnings := WarningReasons(res.Warnings)
	if rec != nil {
		rec.Observe(quality.OK, warnings, t, r.Timestamp)
	}
	if priv != nil {
		raw = priv.Transaction(t, raw)
	}
	row := newTx(t, r.Partition, r.Offset, r.Timestamp, raw, &ps.items, p.cfg.AddressKey)
	row.ExpectedBad, row.ReplayOf, row.QualityWarnings = bad, replay, warnings
	// The scorer's state compares the address by its key (a stored row's
	// form, fraud.StateConfig.addressID): hand it the key newTx computed,
	// so the HMAC runs once per transaction, not twice.
	t.ShippingAddress = row.ShippingAddress
	if ps.scorer != nil {
		ps.scorer.Score(t, &row)
	}
	part.Txs = append(part.Txs, row)
	if p.cfg.Repartition != nil {
		part.Outbox = p.cfg.Repartition(&row, part.Outbox)
	}
	if p.cfg.TruthHeaders && (label == "fraud" || label == "legit") {
		part.Labels = append(part.Labels, store.Label{TransactionID: t.TransactionID, Fraud: label == "fraud", Scenario: scenario})
	}
	if row.Decision != "approve" {
		p.alert(part, &row)
	}
}

// addQuarantined adds a quarantined record to part, with its dead-letter
// message in the outbox.
func (p *Processor) addQuarantined(part *store.Part, q store.Quarantined) {
	// No full card number is stored or sent: masked in the raw bytes and
	// in the detail, which may quote a field.
	q.Raw = quality.MaskPANs(q.Raw)
	q.Detail = string(quality.MaskPANs([]byte(q.Detail)))
	part.Quarantined = append(part.Quarantined, q)
	if q.ReplayOf != 0 {
		return // a replay marks its row; its record went to the dead-letter topic when first quarantined
	}
	hdr, _ := json.Marshal(map[string]string{
		"shopstream-reason": q.Reason, "shopstream-detail": q.Detail,
		"shopstream-partition": fmt.Sprint(q.Partition), "shopstream-offset": fmt.Sprint(q.Offset),
	})
	part.Outbox = append(part.Outbox, store.OutboxMsg{Kind: "kafka", Target: p.cfg.DeadLetterTopic, Key: []byte(q.Reason), Headers: hdr, Payload: q.Raw})
}

// AlertPayload is the JSON sent to the alerts topic and webhooks.
type AlertPayload struct {
	TransactionID string    `json:"transaction_id"`
	CustomerID    string    `json:"customer_id"`
	EventTime     time.Time `json:"event_time"`
	// Amount is in Currency's major units, with its decimals
	// (event.Cents.Decimal): 150.50 EUR, 15050 JPY.
	Amount   json.Number     `json:"amount"`
	Currency string          `json:"currency"`
	Risk     float64         `json:"risk"`
	Decision string          `json:"decision"`
	Reasons  json.RawMessage `json:"reasons"`
}

func (p *Processor) alert(part *store.Part, row *store.Tx) {
	part.Alerts = append(part.Alerts, store.Alert{
		TransactionID: row.TransactionID, CustomerID: row.CustomerID, EventTime: row.EventTime,
		Risk: row.Risk, Decision: row.Decision, ReasonsJSON: row.ReasonsJSON, AmountCents: row.TotalCents,
		Currency: row.Currency, ModelVersion: row.ModelVersion,
	})
	payload, _ := json.Marshal(AlertPayload{TransactionID: row.TransactionID, CustomerID: row.CustomerID, EventTime: row.EventTime,
		Amount: event.Cents(row.TotalCents).Decimal(row.Currency), Currency: row.Currency, Risk: row.Risk, Decision: row.Decision, Reasons: row.ReasonsJSON})
	part.Outbox = append(part.Outbox, store.OutboxMsg{Kind: "kafka", Target: p.cfg.AlertsTopic, Key: []byte(row.CustomerID), Payload: payload, Ref: row.TransactionID})
	for _, w := range p.cfg.Webhooks {
		part.Outbox = append(part.Outbox, store.OutboxMsg{Kind: "webhook", Target: w, Payload: payload, Ref: row.TransactionID})
	}
}

// NoReasons is the stored reasons of a transaction nothing was found
// against. Shared by every such row: read it, never write into it.
var NoReasons = []byte("[]")

// NewTx is the stored row of a checked transaction, approved with risk 0
// until a scorer says otherwise; its shipping address keyed without a
// secret (Config.AddressKey nil).
func NewTx(t *event.Transaction, partition int32, offset int64, produced time.Time, raw []byte) store.Tx {
	return newTx(t, partition, offset, produced, raw, nil, nil)
}

// itemsChunk is the size of the blocks the items JSON of a partition's
// rows is written into, one after the other, instead of an allocation
// (and its growth) per row. A block is freed once every batch holding a
// row in it is written.
const itemsChunk = 64 << 10

// newTx is NewTx with the row's items JSON written into *arena (nil: an
// allocation of its own), which it starts anew when less than a kilobyte
// is left, and its shipping address keyed with addrKey.
func newTx(t *event.Transaction, partition int32, offset int64, produced time.Time, raw []byte, arena *[]byte, addrKey []byte) store.Tx {
	var items []byte
	if arena == nil {
		items = event.AppendItemsJSONIn(nil, t.Items, t.Currency)
	} else {
		if cap(*arena)-len(*arena) < 1<<10 {
			*arena = make([]byte, 0, itemsChunk)
		}
		start := len(*arena)
		*arena = event.AppendItemsJSONIn(*arena, t.Items, t.Currency)
		items = (*arena)[start:len(*arena):len(*arena)]
	}
	return store.Tx{
		TransactionID: t.TransactionID, CustomerID: t.CustomerID, EventTime: t.EventTime.UTC(),
		TotalCents: int64(t.TotalCents), Currency: t.Currency, PaymentMethod: t.PaymentMethod, Channel: t.Channel,
		CardBIN: t.Card.BIN, CardLast4: t.Card.Last4, DeviceID: t.DeviceID, IPAddress: t.IPAddress,
		IPCountry: t.IPCountry, IPHosting: t.IPHosting, BillingCountry: t.BillingCountry, ShippingCountry: t.ShippingCountry,
		ShippingAddress: event.AddressKey(addrKey, t.ShippingAddress), ItemsJSON: items, Partition: partition, Offset: offset,
		Decision: "approve", ReasonsJSON: NoReasons, ProducedAt: produced, Raw: raw,
	}
}
