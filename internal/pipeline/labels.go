package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/internal/bus"
	"github.com/shopstream/shopstream/internal/event"
	"github.com/shopstream/shopstream/internal/store"
)

// ReasonMalformedLabel is the quarantine reason of a labels-topic record
// that is not a version-1 label event.
const ReasonMalformedLabel = "malformed_label"

// LabelConfig configures a LabelConsumer.
type LabelConfig struct {
	// Brokers are the Kafka seed brokers. Required.
	Brokers []string
	// Topic is the labels topic. Defaults to "labels".
	Topic string
	// Group is the processors' consumer group: the label offsets are
	// stored under it (with Topic), and the consumer joins the Kafka group
	// Group + ".labels". Defaults to "shopstream".
	Group string
	// InstanceID is the processor's stable identity (Config.InstanceID);
	// the consumer joins as the static member InstanceID + ".labels".
	// Defaults to none: a dynamic member.
	InstanceID string
	// Store receives the label events; it must implement store.Labeller.
	// Required.
	Store store.Store
	// TxTopic is the processors' transactions topic: a sweep looks at the
	// transactions stored since the last one by the processors' offsets
	// on it (under Group). Defaults to "transactions".
	TxTopic string
	// MaxBatch bounds the records in one batch. Defaults to 5000.
	MaxBatch int
	// SweepInterval is how often the pending labels of the owned
	// partitions are tried again (their transactions may have been stored
	// since), with the next write or on its own: those of the
	// transactions stored since the last sweep, or all of them when fewer
	// are pending (store.LabelOptions). Defaults to 2 s.
	SweepInterval time.Duration
	// FullSweepInterval is how often a sweep tries every pending label
	// whatever was stored since the last one (transactions stored other
	// than by the processors, an import, are found then). The first
	// sweep, and the first after partitions are claimed, is full too.
	// Defaults to 1 minute.
	FullSweepInterval time.Duration
	// SweepDeferral bounds how long sweeps may wait for more transactions
	// to be stored while more labels are pending than a quarter of the
	// transactions stored since the last sweep (store.LabelOptions.Lazy):
	// while the processors trail a backlog with many labels pending, a
	// pending label is probed about once per four times as many stored
	// transactions, instead of every SweepInterval. Defaults to 20 s.
	SweepDeferral time.Duration
	// PendingRetention bounds how long a label whose transaction is not
	// stored stays pending before it is expired (kept, counted, never
	// applied). Defaults to 7 days.
	PendingRetention time.Duration
	// Now is the clock. Defaults to time.Now.
	Now func() time.Time
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Registerer, when set, receives the consumer's metrics.
	Registerer prometheus.Registerer
	// KafkaOpts are extra franz-go options; ConnOpts how the client
	// reaches the brokers (TLS, SASL). Default to none.
	KafkaOpts, ConnOpts []kgo.Opt
}

func (c LabelConfig) withDefaults() LabelConfig {
	if c.Topic == "" {
		c.Topic = bus.TopicLabels
	}
	if c.Group == "" {
		c.Group = "shopstream"
	}
	if c.MaxBatch == 0 {
		c.MaxBatch = 5000
	}
	if c.TxTopic == "" {
		c.TxTopic = bus.TopicTransactions
	}
	if c.SweepInterval == 0 {
		c.SweepInterval = 2 * time.Second
	}
	if c.FullSweepInterval == 0 {
		c.FullSweepInterval = time.Minute
	}
	if c.SweepDeferral == 0 {
		c.SweepDeferral = 20 * time.Second
	}
	if c.PendingRetention == 0 {
		c.PendingRetention = 7 * 24 * time.Hour
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

func (c LabelConfig) validate() error {
	switch {
	case len(c.Brokers) == 0:
		return errors.New("labels: no Kafka brokers given (--brokers)")
	case c.Store == nil:
		return errors.New("labels: no store given")
	case c.MaxBatch < 1:
		return fmt.Errorf("labels: batch size %d must be at least 1", c.MaxBatch)
	case c.SweepInterval < 0 || c.FullSweepInterval < 0 || c.SweepDeferral < 0:
		return fmt.Errorf("labels: sweep intervals %v, %v and %v must not be negative", c.SweepInterval, c.FullSweepInterval, c.SweepDeferral)
	case c.PendingRetention < 0:
		return fmt.Errorf("labels: pending retention %v must not be negative (--label-pending-retention)", c.PendingRetention)
	}
	if _, ok := c.Store.(store.Labeller); !ok {
		return fmt.Errorf("labels: store %T takes no label events", c.Store)
	}
	return nil
}

// LabelConsumer consumes the labels topic and stores each label event
// exactly once: the events of a poll, the quarantined records and the
// partitions' next offsets go to the store in one transaction
// (store.Labeller.WriteLabels), which also joins them to their stored
// transactions. Labels whose transactions are not stored yet wait
// pending: the batch that stores the transaction applies them when it
// shares the store with this consumer (store.LabelJoiner, as in
// `process`), and a sweep every SweepInterval applies the others whose
// transactions have been stored since the last one. Partitions are
// claimed with an ownership epoch and fenced as the transactions' are;
// one goroutine polls and writes, so a revoked partition has nothing in
// flight, and no write runs during a sweep.
type LabelConsumer struct {
	cfg   LabelConfig
	st    store.Labeller
	log   *slog.Logger
	owner string
	m     labelMetrics

	mu    sync.Mutex
	pos   map[int32]int64 // next offset per owned partition; -1 before the first record
	epoch int32
	cl    *kgo.Client
	// since is the processors' offsets the last sweep read at its start,
	// where the next looks from; nil makes the next sweep full (at the
	// start, after a claim or a fence).
	since map[int32]int64
}

type labelMetrics struct {
	events      *prometheus.CounterVec
	quarantined prometheus.Counter
}

// NewLabelConsumer validates cfg and returns a LabelConsumer.
func NewLabelConsumer(cfg LabelConfig) (*LabelConsumer, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	c := &LabelConsumer{cfg: cfg, st: cfg.Store.(store.Labeller), log: cfg.Logger.With("component", "labels"),
		owner: cfg.InstanceID, pos: map[int32]int64{}}
	if c.owner == "" {
		host, _ := os.Hostname()
		c.owner = fmt.Sprintf("%s-%08x", host, rand.Uint32())
	}
	c.owner += ".labels"
	reg := cfg.Registerer
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	f := promauto.With(reg)
	c.m = labelMetrics{
		events: f.NewCounterVec(prometheus.CounterOpts{Name: "shopstream_label_events_total",
			Help: "Label events of the labels topic by outcome: stored, duplicate, applied (joined to their stored transaction), expired (pending past the retention bound)."}, []string{"outcome"}),
		quarantined: f.NewCounter(prometheus.CounterOpts{Name: "shopstream_label_records_quarantined_total",
			Help: "Records of the labels topic that are no label event, quarantined."}),
	}
	for _, o := range []string{"stored", "duplicate", "applied", "expired"} {
		c.m.events.WithLabelValues(o)
	}
	return c, nil
}

// Run consumes until ctx is cancelled.
func (c *LabelConsumer) Run(ctx context.Context) error {
	opts := append(append(bus.ClientOpts(c.cfg.Brokers, c.cfg.Logger), c.cfg.ConnOpts...),
		kgo.ConsumerGroup(c.cfg.Group+".labels"),
		kgo.ConsumeTopics(c.cfg.Topic),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.AdjustFetchOffsetsFn(c.adjustOffsets),
		kgo.OnPartitionsRevoked(c.dropPartitions),
		kgo.OnPartitionsLost(c.dropPartitions),
		kgo.FetchMaxWait(500*time.Millisecond),
	)
	if c.cfg.InstanceID != "" {
		opts = append(opts, kgo.InstanceID(c.cfg.InstanceID+".labels"))
	}
	opts = append(opts, c.cfg.KafkaOpts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("creating the labels consumer: %w", err)
	}
	defer cl.Close()
	c.mu.Lock()
	c.cl = cl
	c.mu.Unlock()
	// The processors' batches in this process apply the pending labels
	// of their own transactions as they store them (store.LabelJoiner);
	// the sweeps find the rest.
	if j, ok := c.cfg.Store.(store.LabelJoiner); ok {
		applied := c.m.events.WithLabelValues("applied")
		j.JoinPendingLabels(func(n int) { applied.Add(float64(n)) })
		defer j.JoinPendingLabels(nil)
	}
	c.log.Info("labels consumer started", "topic", c.cfg.Topic, "group", c.cfg.Group, "owner", c.owner)
	var lastSweep, lastFull, lastDone time.Time // the first write sweeps, fully
	for {
		pctx, cancel := context.WithTimeout(ctx, c.cfg.SweepInterval)
		fetches := cl.PollRecords(pctx, c.cfg.MaxBatch)
		cancel()
		if ctx.Err() != nil || fetches.IsClientClosed() {
			cl.AllowRebalance()
			return nil
		}
		fetches.EachError(func(topic string, part int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				c.log.Warn("fetch error (retrying)", "topic", topic, "partition", part, "err", err)
			}
		})
		b := c.build(fetches)
		o := store.LabelOptions{ExpireBefore: c.cfg.Now().Add(-c.cfg.PendingRetention), TxGroup: c.cfg.Group, TxTopic: c.cfg.TxTopic}
		if time.Since(lastSweep) >= c.cfg.SweepInterval {
			b = c.sweep(b)
			o.Sweep = true
			o.Since = c.sinceForSweep(time.Since(lastFull) >= c.cfg.FullSweepInterval)
			o.Lazy = time.Since(lastDone) < c.cfg.SweepDeferral
		}
		if b != nil {
			res, err := c.write(ctx, b, o)
			if err != nil {
				cl.AllowRebalance()
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
			if o.Sweep && res.Swept != nil {
				c.mu.Lock()
				if c.since != nil || o.Since == nil { // no claim or fence meanwhile
					c.since = res.Swept
				}
				c.mu.Unlock()
				lastSweep = time.Now()
				if !res.Deferred {
					lastDone = lastSweep
				}
				if res.SweptAll {
					lastFull = lastSweep
				}
			}
		}
		cl.AllowRebalance()
	}
}

// sinceForSweep is the next sweep's store.LabelOptions.Since: nil for a
// full sweep, when full or since no sweep since a claim or a fence.
func (c *LabelConsumer) sinceForSweep(full bool) map[int32]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if full {
		c.since = nil
	}
	return c.since
}

// adjustOffsets claims newly assigned partitions and seeks them to the
// offsets stored with the labels; a partition never stored starts at the
// log start.
func (c *LabelConsumer) adjustOffsets(ctx context.Context, offsets map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	if len(offsets[c.cfg.Topic]) == 0 {
		return offsets, nil
	}
	claimed, err := ClaimAssigned(ctx, c.cfg.Store, c.cfg.Group, c.cfg.Topic, c.owner, offsets)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch = max(c.epoch, claimed.Epoch)
	c.since = nil // the claimed partitions' pending labels were swept by another owner, if any
	for _, p := range claimed.Partitions {
		if off, ok := claimed.Stored[p]; ok {
			c.pos[p] = off
		} else {
			c.pos[p] = -1
		}
	}
	c.log.Info("label partitions claimed", "partitions", claimed.Partitions, "epoch", claimed.Epoch)
	return offsets, nil
}

func (c *LabelConsumer) dropPartitions(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range lost[c.cfg.Topic] {
		delete(c.pos, p)
	}
}

// build turns fetched records into a batch: a part per owned partition,
// each record a label event or quarantined.
func (c *LabelConsumer) build(fetches kgo.Fetches) *store.Batch {
	c.mu.Lock()
	defer c.mu.Unlock()
	b := &store.Batch{Group: c.cfg.Group, Topic: c.cfg.Topic, Owner: c.owner, Generation: c.epoch}
	fetches.EachPartition(func(ft kgo.FetchTopicPartition) {
		pos, owned := c.pos[ft.Partition]
		if !owned || len(ft.Records) == 0 || ft.Topic != c.cfg.Topic {
			return
		}
		part := store.Part{Partition: ft.Partition, From: pos}
		var l event.Label
		for _, r := range ft.Records {
			if pos >= 0 && r.Offset < pos {
				continue // fetched before a re-seek
			}
			if part.From < 0 {
				part.From = r.Offset
			}
			if err := event.DecodeLabel(r.Value, &l); err != nil {
				raw := r.Value
				if raw == nil {
					raw = []byte{}
				}
				part.Quarantined = append(part.Quarantined, store.Quarantined{Reason: ReasonMalformedLabel, Detail: err.Error(),
					Raw: raw, Partition: r.Partition, Offset: r.Offset})
			} else {
				part.LabelEvents = append(part.LabelEvents, store.LabelEvent{LabelID: l.LabelID, TransactionID: l.TransactionID,
					Kind: l.Kind, Fraud: l.Fraud, Scenario: l.Scenario, ReasonCode: l.ReasonCode, EventTime: l.EventTime,
					Partition: r.Partition, Offset: r.Offset})
			}
			part.To = r.Offset + 1
		}
		if part.To > part.From && part.From >= 0 {
			c.pos[ft.Partition] = part.To
			b.Parts = append(b.Parts, part)
		}
	})
	if len(b.Parts) == 0 {
		return nil
	}
	return b
}

// sweep adds to b (a new batch when nil) an empty part for every owned
// partition with a stored offset that b has no part of, so that a sweep
// covers all the owned partitions: it applies their pending labels whose
// transactions have been stored since, and expires those pending too
// long. Nil when b is nil and no partition has a stored offset.
func (c *LabelConsumer) sweep(b *store.Batch) *store.Batch {
	c.mu.Lock()
	defer c.mu.Unlock()
	if b == nil {
		b = &store.Batch{Group: c.cfg.Group, Topic: c.cfg.Topic, Owner: c.owner, Generation: c.epoch}
	}
	has := map[int32]bool{}
	for i := range b.Parts {
		has[b.Parts[i].Partition] = true
	}
	for p, pos := range c.pos {
		if pos >= 0 && !has[p] {
			b.Parts = append(b.Parts, store.Part{Partition: p, From: pos, To: pos})
		}
	}
	if len(b.Parts) == 0 {
		return nil
	}
	sort.Slice(b.Parts, func(i, j int) bool { return b.Parts[i].Partition < b.Parts[j].Partition })
	return b
}

// write stores b, retrying transient errors with backoff. A fenced batch
// is dropped and its partitions re-sought to the stored offsets; the
// result is then empty.
func (c *LabelConsumer) write(ctx context.Context, b *store.Batch, o store.LabelOptions) (store.LabelResult, error) {
	bo := newBackOff()
	for {
		res, err := c.st.WriteLabels(ctx, b, o)
		switch {
		case err == nil:
			c.m.events.WithLabelValues("stored").Add(float64(res.Stored))
			c.m.events.WithLabelValues("duplicate").Add(float64(res.Duplicates))
			c.m.events.WithLabelValues("applied").Add(float64(res.Applied))
			c.m.events.WithLabelValues("expired").Add(float64(res.Expired))
			for i := range b.Parts {
				c.m.quarantined.Add(float64(len(b.Parts[i].Quarantined)))
			}
			if res.Expired > 0 {
				c.log.Warn("label events expired: their transactions were not stored within the retention bound",
					"expired", res.Expired, "retention", c.cfg.PendingRetention)
			}
			return res, nil
		case errors.Is(err, store.ErrAlreadyCommitted):
			return store.LabelResult{}, nil
		}
		if f, fenced := store.IsFenced(err); fenced {
			c.log.Warn("label partitions fenced by another owner; re-seeking to the stored offsets", "partitions", f.Partitions)
			c.mu.Lock()
			c.since = nil
			c.mu.Unlock()
			return store.LabelResult{}, c.reseek(ctx, f.Partitions)
		}
		if ctx.Err() != nil {
			return store.LabelResult{}, ctx.Err() // stopping: the batch is read again on the next start
		}
		var rej *store.RejectedError
		if errors.As(err, &rej) && quarantineEvents(b, rej.Message) {
			c.log.Error("the store refused a batch of label events; quarantining its events", "err", err)
			continue
		}
		d := bo.NextBackOff()
		c.log.Warn("writing label events failed; retrying", "err", err, "in", d)
		select {
		case <-ctx.Done():
			return store.LabelResult{}, ctx.Err()
		case <-time.After(d):
		}
	}
}

// reseek moves fenced partitions back to their stored offsets.
func (c *LabelConsumer) reseek(ctx context.Context, parts []int32) error {
	stored, err := c.cfg.Store.Offsets(ctx, c.cfg.Group, c.cfg.Topic)
	if err != nil {
		return fmt.Errorf("reading label offsets after a fence: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	set := map[string]map[int32]kgo.EpochOffset{c.cfg.Topic: {}}
	for _, p := range parts {
		if _, owned := c.pos[p]; !owned {
			continue
		}
		off, ok := stored[p]
		if !ok {
			continue
		}
		c.pos[p] = off
		set[c.cfg.Topic][p] = kgo.EpochOffset{Epoch: -1, Offset: off}
	}
	c.cl.SetOffsets(set)
	return nil
}

// quarantineEvents moves b's label events to quarantine, as
// store_rejected with the store's message, so that a batch the database
// refuses for its data never stalls the labels; false when b holds none.
func quarantineEvents(b *store.Batch, msg string) bool {
	moved := false
	for i := range b.Parts {
		p := &b.Parts[i]
		for _, e := range p.LabelEvents {
			raw, _ := event.MarshalLabel(&event.Label{SchemaVersion: event.LabelSchemaVersion, LabelID: e.LabelID,
				TransactionID: e.TransactionID, Kind: e.Kind, Fraud: e.Fraud, Scenario: e.Scenario, ReasonCode: e.ReasonCode, EventTime: e.EventTime})
			p.Quarantined = append(p.Quarantined, store.Quarantined{Reason: "store_rejected", Detail: msg, Raw: raw,
				Partition: e.Partition, Offset: e.Offset})
			moved = true
		}
		p.LabelEvents = nil
	}
	return moved
}
