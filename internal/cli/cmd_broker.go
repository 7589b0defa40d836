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
	lf.register(fs, "warn")
	addr := fs.String("addr", "127.0.0.1:9092", "listen address of the embedded Kafka-protocol broker")
	partitions := fs.Int("partitions", 4, "partitions of the topics it creates")
	dataDir := fs.String("data-dir", "", "persist topics here across restarts (default: memory only)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *partitions < 1 || *partitions > 1024 {
		return usageError{fmt.Errorf("invalid value %d for flag -partitions: want 1..1024", *partitions)}
	}
	logger, err := lf.logger(stderr)
	if err != nil {
		return err
	}
	b, err := bus.StartEmbedded(bus.EmbeddedConfig{Addr: *addr, DataDir: *dataDir, Partitions: int32(*partitions), Logger: logger})
	if err != nil {
		return fmt.Errorf("--addr: %w", err)
	}
	defer b.Close()
	fmt.Fprintf(stdout, "embedded Kafka-protocol broker listening on %s (topics %s, %s, %s with %d partitions)\n",
		strings.Join(b.Addrs(), ","), bus.TopicTransactions, bus.TopicDeadLetter, bus.TopicAlerts, *partitions)
	<-ctx.Done()
	return nil
}
