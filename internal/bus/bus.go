package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kslog"
)

// Default topic names.
const (
	TopicTransactions = "transactions"
	TopicDeadLetter   = "transactions.dlq"
	TopicAlerts       = "alerts"
	// TopicLabels carries label events (event.Label), keyed by
	// transaction id: chargebacks, analysts' decisions, dispute outcomes.
	TopicLabels = "labels"
)

// SplitBrokers parses a comma-separated broker list.
func SplitBrokers(s string) []string {
	var out []string
	for _, b := range strings.Split(s, ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	return out
}

// ClientOpts returns the options every shopstream client shares: the seed
// brokers, logging through slog, and retries that outlast a broker restart.
// Retries wait franz-go's default backoff (exponential from 250 ms to 5 s,
// with jitter), so clients that lost a broker together do not retry in step.
func ClientOpts(brokers []string, logger *slog.Logger) []kgo.Opt {
	opts := []kgo.Opt{
		kgo.SeedBrokers(brokers...),
		kgo.RetryTimeout(0), // retry requests until the context ends: a broker restart is waited out
	}
	if logger != nil {
		opts = append(opts, kgo.WithLogger(kslog.New(logger.With("component", "kafka"))))
	}
	return opts
}

// EmbeddedConfig configures the in-process broker.
type EmbeddedConfig struct {
	// Addr is the listen address host:port; port 0 picks a free one.
	// Defaults to 127.0.0.1:0.
	Addr string
	// DataDir, when set, persists topics and group state across restarts.
	// Defaults to "" (memory only).
	DataDir string
	// Partitions of the topics it creates. Defaults to 4.
	Partitions int32
	// RetentionBytes caps each partition's log of every topic (so memory
	// stays flat in a long run), RetentionTime the age of its records.
	// TopicRetention overrides both for the topics it names. Default to
	// none: nothing is deleted for its size or age.
	RetentionBytes int64
	RetentionTime  time.Duration
	TopicRetention map[string]Retention
	// DeleteUnread lets retention delete records a consumer group has not
	// committed past. Defaults to false: retention never deletes past the
	// lowest offset any consumer group committed on a partition, and
	// nothing of a topic no group has committed on, so what a processor
	// has not read yet stays.
	DeleteUnread bool
	// RetentionInterval is how often retention runs. Defaults to 30 s.
	RetentionInterval time.Duration
	// SegmentBytes is the size at which a partition's log file (DataDir)
	// is closed and a new one started; retention frees disk only by
	// removing whole files below the log start. Defaults to 0: kfake's
	// 100 MiB.
	SegmentBytes int64
	// Logger receives the broker's own messages. Defaults to none.
	Logger *slog.Logger
}

// Embedded is an in-process Kafka-protocol broker (github.com/twmb/franz-go/pkg/kfake).
type Embedded struct {
	c    *kfake.Cluster
	cfg  EmbeddedConfig
	log  *slog.Logger
	adm  *kadm.Client
	stop chan struct{}
	done chan struct{}
}

// StartEmbedded starts the in-process broker with the transactions,
// dead-letter and alerts topics created.
func StartEmbedded(cfg EmbeddedConfig) (*Embedded, error) {
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if cfg.Partitions == 0 {
		cfg.Partitions = 4
	}
	if cfg.RetentionInterval == 0 {
		cfg.RetentionInterval = 30 * time.Second
	}
	if err := cfg.validateRetention(); err != nil {
		return nil, err
	}
	host, port, err := splitHostPort(cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("embedded broker address %q: %w", cfg.Addr, err)
	}
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.Ports(port),
		kfake.DefaultNumPartitions(int(cfg.Partitions)),
		kfake.AllowAutoTopicCreation(),
		kfake.SeedTopics(cfg.Partitions, TopicTransactions, TopicDeadLetter, TopicAlerts, TopicLabels),
	}
	if host != "" && host != "127.0.0.1" {
		opts = append(opts, kfake.ListenFn(func(network, _ string) (netListener, error) {
			return listen(network, cfg.Addr)
		}))
	}
	if cfg.DataDir != "" {
		opts = append(opts, kfake.DataDir(cfg.DataDir))
	}
	if cfg.SegmentBytes > 0 {
		opts = append(opts, kfake.BrokerConfigs(map[string]string{"log.segment.bytes": strconv.FormatInt(cfg.SegmentBytes, 10)}))
	}
	if cfg.Logger != nil {
		opts = append(opts, kfake.WithLogger(slogAdapter{cfg.Logger.With("component", "broker")}))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("starting embedded broker on %s: %w", cfg.Addr, err)
	}
	adm, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("creating the embedded broker's admin client: %w", err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	e := &Embedded{c: c, cfg: cfg, log: log.With("component", "broker"), adm: kadm.NewClient(adm),
		stop: make(chan struct{}), done: make(chan struct{})}
	go e.retention()
	return e, nil
}

// DeleteRecords deletes a partition's records below offset, as Kafka's
// DeleteRecords request does (the benchmark frees filler records with it).
func (e *Embedded) DeleteRecords(topic string, partition int32, offset int64) error {
	if err := e.c.DeleteRecords(topic, partition, offset); err != nil {
		return fmt.Errorf("deleting records of %s/%d below offset %d: %w", topic, partition, offset, err)
	}
	return nil
}

// Addrs returns the addresses clients dial.
func (e *Embedded) Addrs() []string { return e.c.ListenAddrs() }

// Close stops the broker.
func (e *Embedded) Close() {
	close(e.stop)
	<-e.done
	e.adm.Close()
	e.c.Close()
}

// EnsureTopics creates those of topics the cluster lacks, with the
// broker's default partition count and replication factor, so that what
// is produced to them is not refused: franz-go never asks the broker to
// auto-create a topic, and many clusters turn auto-creation off anyway.
// A topic that exists already is left as it is.
func EnsureTopics(ctx context.Context, cl *kgo.Client, topics ...string) error {
	resp, err := kadm.NewClient(cl).CreateTopics(ctx, -1, -1, nil, topics...)
	if err != nil {
		return fmt.Errorf("creating topics %v: %w", topics, err)
	}
	for _, t := range resp.Sorted() {
		if t.Err != nil && !errors.Is(t.Err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("creating topic %s: %w", t.Topic, t.Err)
		}
	}
	return nil
}
