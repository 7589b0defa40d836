package cli

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/shopstream/shopstream/internal/bus"
)

func runBroker(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("broker", stderr)
	var lf logFlags
	lf.register(fs, "info") // info: what retention deletes is logged
	addr := fs.String("addr", "127.0.0.1:9092", "listen address of the embedded Kafka-protocol broker")
	partitions := fs.Int("partitions", 4, "partitions of the topics it creates")
	dataDir := fs.String("data-dir", "", "persist topics here across restarts (default: memory only)")
	retBytes := fs.Int64("retention-bytes", 0, "cap each partition's log at this many bytes (0: no cap)")
	retTime := fs.Duration("retention-time", 0, "delete records older than this, e.g. 168h (0: keep however old)")
	var topicRet multiFlag
	fs.Var(&topicRet, "topic-retention", "NAME=BYTES:DURATION, retention of one topic instead of the two above (empty or 0: no limit); repeatable")
	deleteUnread := fs.Bool("retention-delete-unread", false, "let retention delete records a consumer group has not committed past (default: never past the lowest committed offset, nothing before a group commits)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *retBytes < 0 {
		return usageError{fmt.Errorf("invalid value %d for flag -retention-bytes: must not be negative", *retBytes)}
	}
	if *retTime < 0 {
		return usageError{fmt.Errorf("invalid value %s for flag -retention-time: must not be negative", *retTime)}
	}
	perTopic := map[string]bus.Retention{}
	for _, v := range topicRet {
		name, r, err := bus.ParseTopicRetention(v)
		if err != nil {
			return usageError{fmt.Errorf("invalid value for flag -topic-retention: %w", err)}
		}
		perTopic[name] = r
	}
	if *partitions < 1 || *partitions > 1024 {
		return usageError{fmt.Errorf("invalid value %d for flag -partitions: want 1..1024", *partitions)}
	}
	logger, err := lf.logger(stderr)
	if err != nil {
		return err
	}
	b, err := bus.StartEmbedded(bus.EmbeddedConfig{Addr: *addr, DataDir: *dataDir, Partitions: int32(*partitions), Logger: logger,
		RetentionBytes: *retBytes, RetentionTime: *retTime, TopicRetention: perTopic, DeleteUnread: *deleteUnread})
	if err != nil {
		return fmt.Errorf("--addr: %w", err)
	}
	defer b.Close()
	fmt.Fprintf(stdout, "embedded Kafka-protocol broker listening on %s (topics %s, %s, %s with %d partitions)\n",
		strings.Join(b.Addrs(), ","), bus.TopicTransactions, bus.TopicDeadLetter, bus.TopicAlerts, *partitions)
	<-ctx.Done()
	return nil
}
