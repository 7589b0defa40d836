package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/internal/bus"
	"github.com/shopstream/shopstream/internal/event"
	"github.com/shopstream/shopstream/internal/generate"
	"github.com/shopstream/shopstream/internal/pipeline"
	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/postgres"
)

// Recovery defaults; see Config.
const (
	DefaultRecoveryRecords   = 10_000_000
	DefaultRecoveryCustomers = 1_000_000
	DefaultRecoveryRate      = 2000
)

// recoveryGroup is the consumer group of the recovery phase's processors.
const recoveryGroup = "bench-recovery"

// RecoveryResult is what the recovery phase measured.
type RecoveryResult struct {
	// Seconds from the SIGKILL of a processor to the first commit of the
	// processor started in its place.
	Seconds float64
	// AllSeconds is the same until every partition has committed again.
	AllSeconds float64
	// StaticMembership reports whether the processors joined with a
	// stable instance id (else the restart waits for the killed member's
	// session to expire).
	StaticMembership bool
	// Restore holds the restarted processor's log lines about starting,
	// its assignment and rebuilding partition state.
	Restore []string
}

// recovery measures recovery_s: it stores cfg.RecoveryRecords transactions
// over cfg.RecoveryCustomers customers in a schema of its own (written as
// the processor writes them, with the offsets of filler records in the
// broker's topic, which are deleted once stored), runs a `process` child
// over a live stream at cfg.RecoveryRate until every partition has
// committed (and the store holds a checkpoint for each, when it keeps
// them), kills it with SIGKILL and starts another at once, and times the
// kill to the new child's first commit.
func recovery(ctx context.Context, cfg Config) (*RecoveryResult, error) {
	log := cfg.Logger.With("phase", "recovery")
	exe, err := executable(cfg)
	if err != nil {
		return nil, err
	}
	b, err := bus.StartEmbedded(bus.EmbeddedConfig{Partitions: int32(cfg.Partitions), RetentionBytes: 8 << 30})
	if err != nil {
		return nil, err
	}
	defer b.Close()
	url, drop, err := schemaURL(ctx, cfg.PostgresURL, "bench_recovery")
	if err != nil {
		return nil, err
	}
	defer drop()
	st, err := postgres.Open(ctx, url)
	if err != nil {
		return nil, err
	}
	defer st.Close()

	g, err := generate.New(generate.Config{Seed: cfg.Seed, Customers: cfg.RecoveryCustomers})
	if err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...), kgo.DefaultProduceTopic(bus.TopicTransactions),
		kgo.ProducerLinger(5*time.Millisecond), kgo.MaxBufferedRecords(100_000))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	start := time.Now()
	log.Info("storing the history", "transactions", cfg.RecoveryRecords, "customers", cfg.RecoveryCustomers)
	if err := storeHistory(ctx, cfg, g, cl, b, st); err != nil {
		return nil, err
	}
	preloaded, err := st.Offsets(ctx, recoveryGroup, bus.TopicTransactions)
	if err != nil {
		return nil, err
	}
	log.Info("history stored", "took", time.Since(start).Round(time.Second))

	// The live stream the processors consume while one is killed.
	liveCtx, stopLive := context.WithCancel(ctx)
	defer stopLive()
	liveErr := make(chan error, 1)
	go func() { liveErr <- live(liveCtx, cfg, g, cl) }()

	res := &RecoveryResult{StaticMembership: hasFlag(ctx, exe, "process", "instance-id")}
	if !res.StaticMembership {
		log.Warn("process has no --instance-id flag: the restarted processor waits for the killed member's session timeout before it gets partitions")
	}
	args := []string{"process", "--brokers", strings.Join(b.Addrs(), ","), "--postgres", url, "--group", recoveryGroup,
		"--batch", fmt.Sprint(cfg.Batch), "--analytics-interval", "0", "--log-level", "info"}
	if res.StaticMembership {
		args = append(args, "--instance-id", "bench-recovery")
	}

	first, err := startChild(ctx, exe, args, log, nil)
	if err != nil {
		return nil, err
	}
	defer first.stop()
	if err := waitCommitted(ctx, first, st, preloaded, cfg.Partitions, true, 15*time.Minute); err != nil {
		return nil, fmt.Errorf("first processor: %w", err)
	}
	haveCP := waitCheckpoints(ctx, st, cfg.Partitions, 10*time.Second)
	if !haveCP {
		log.Warn("the store hands back no partition checkpoints: the restart rebuilds state by replaying history")
	}
	// A few seconds of traffic after the checkpoints, so the restart has a
	// tail to replay, as a kill at any moment would.
	select {
	case <-time.After(3 * time.Second):
	case <-ctx.Done():
		return nil, ctx.Err()
	}

	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		return nil, fmt.Errorf("killing the first processor: %w", err)
	}
	killed := time.Now()
	log.Info("first processor killed", "at", killed.UTC().Format(time.RFC3339Nano))
	first.cmd.Wait() //nolint:errcheck // killed on purpose
	atKill, err := st.Offsets(ctx, recoveryGroup, bus.TopicTransactions)
	if err != nil {
		return nil, err
	}
	var restoreMu sync.Mutex
	second, err := startChild(ctx, exe, args, log, func(line string) {
		if strings.Contains(line, "partition state") || strings.Contains(line, "checkpoint") ||
			strings.Contains(line, "processor started") || strings.Contains(line, "partitions assigned") ||
			strings.Contains(line, "partitions claimed") || strings.Contains(line, "group session begun") || strings.Contains(line, "partitions revoked") {
			restoreMu.Lock()
			res.Restore = append(res.Restore, line)
			restoreMu.Unlock()
		}
	})
	if err != nil {
		return nil, err
	}
	defer second.stop()
	if err := waitCommitted(ctx, second, st, atKill, cfg.Partitions, false, 5*time.Minute); err != nil {
		return nil, fmt.Errorf("restarted processor: %w", err)
	}
	res.Seconds = time.Since(killed).Seconds()
	if err := waitCommitted(ctx, second, st, atKill, cfg.Partitions, true, 5*time.Minute); err != nil {
		return nil, fmt.Errorf("restarted processor: %w", err)
	}
	res.AllSeconds = time.Since(killed).Seconds()
	second.stop()
	stopLive()
	if err := <-liveErr; err != nil && !errors.Is(err, context.Canceled) {
		return nil, err
	}
	restoreMu.Lock()
	defer restoreMu.Unlock()
	return res, nil
}

// storeHistory produces one filler record (the key, no value) per
// generated transaction so that the topic's offsets match, stores the
// transactions with those offsets as the processor would, in batches of
// cfg.Batch, and deletes the filler from the broker as it goes so memory
// stays flat. Event times are spread over the last 23 hours, inside the
// 24 hours a replay reads.
func storeHistory(ctx context.Context, cfg Config, g *generate.Generator, cl *kgo.Client, b *bus.Embedded, st store.Store) error {
	n := cfg.RecoveryRecords
	begin := time.Now().Add(-23 * time.Hour)
	step := 23 * time.Hour / time.Duration(n)
	next := map[int32]int64{}
	chunk := max(cfg.Batch, 1000)
	txs := make([]event.Transaction, chunk)
	recs := make([]*kgo.Record, chunk)
	for done := 0; done < n; {
		k := min(chunk, n-done)
		for i := range k {
			r := g.NextAt(begin.Add(time.Duration(done+i) * step))
			if err := event.Decode(r.Value, &txs[i]); err != nil {
				return fmt.Errorf("generated record does not decode: %w", err)
			}
			recs[i] = &kgo.Record{Key: []byte(txs[i].CustomerID)}
		}
		if err := cl.ProduceSync(ctx, recs[:k]...).FirstErr(); err != nil {
			return fmt.Errorf("producing filler records: %w", err)
		}
		parts := map[int32]*store.Part{}
		now := time.Now()
		for i := range k {
			r := recs[i]
			p := parts[r.Partition]
			if p == nil {
				p = &store.Part{Partition: r.Partition, From: next[r.Partition]}
				parts[r.Partition] = p
			}
			if r.Offset != next[r.Partition]+int64(len(p.Txs)) {
				return fmt.Errorf("filler record at offset %d of partition %d, want %d", r.Offset, r.Partition, next[r.Partition]+int64(len(p.Txs)))
			}
			p.Txs = append(p.Txs, pipeline.NewTx(&txs[i], r.Partition, r.Offset, now, nil))
		}
		batch := &store.Batch{Group: recoveryGroup, Topic: bus.TopicTransactions, Generation: -1}
		for _, p := range parts {
			p.To = p.From + int64(len(p.Txs))
			next[p.Partition] = p.To
			batch.Parts = append(batch.Parts, *p)
		}
		if err := st.WriteBatch(ctx, batch); err != nil {
			return fmt.Errorf("storing the history: %w", err)
		}
		for p, off := range next {
			if err := b.DeleteRecords(bus.TopicTransactions, p, off); err != nil {
				return err
			}
		}
		done += k
	}
	return nil
}

// live produces generated transactions at cfg.RecoveryRate until ctx ends.
func live(ctx context.Context, cfg Config, g *generate.Generator, cl *kgo.Client) error {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	start := time.Now()
	sent := 0
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case now := <-tick.C:
			due := int(now.Sub(start).Seconds() * cfg.RecoveryRate)
			for ; sent < due; sent++ {
				r := g.NextAt(now)
				cl.Produce(ctx, &kgo.Record{Key: r.Key, Value: r.Value}, nil)
			}
		}
	}
}

// child is a `shopstream process` started by the benchmark.
type child struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when its stderr ends (it exited)
	once sync.Once

	mu   sync.Mutex
	tail []string // its last log lines
}

// lastLines returns the child's last log lines, for an error message.
func (c *child) lastLines() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.tail, "\n")
}

func startChild(ctx context.Context, exe string, args []string, log *slog.Logger, onLine func(string)) (*child, error) {
	cmd := exec.CommandContext(ctx, exe, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s %s: %w", exe, args[0], err)
	}
	c := &child{cmd: cmd, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			c.mu.Lock()
			c.tail = append(c.tail, line)
			if len(c.tail) > 10 {
				c.tail = c.tail[1:]
			}
			c.mu.Unlock()
			if onLine != nil {
				onLine(line)
			}
			if strings.Contains(line, "level=ERROR") || strings.Contains(line, "level=WARN") {
				log.Debug("processor", "pid", cmd.Process.Pid, "line", line)
			}
		}
		io.Copy(io.Discard, stderr) //nolint:errcheck // draining
	}()
	return c, nil
}

// stop ends the child with SIGTERM (if it still runs) and waits for it.
func (c *child) stop() {
	c.once.Do(func() {
		if c.cmd.ProcessState == nil {
			c.cmd.Process.Signal(syscall.SIGTERM) //nolint:errcheck // it may be gone
			c.cmd.Wait()                          //nolint:errcheck // stopping
		}
		<-c.done
	})
}

// waitCommitted polls the stored offsets until one partition (or, with
// all, every partition) stands beyond from.
func waitCommitted(ctx context.Context, c *child, st store.Store, from map[int32]int64, partitions int, all bool, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		select {
		case <-c.done:
			return fmt.Errorf("the processor exited: %s", c.lastLines())
		default:
		}
		cur, err := st.Offsets(ctx, recoveryGroup, bus.TopicTransactions)
		if err != nil {
			return err
		}
		moved := 0
		for p := range int32(partitions) {
			if off, ok := cur[p]; ok && off > from[p] {
				moved++
			}
		}
		if moved == partitions || (!all && moved > 0) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d partitions committed within %s", moved, partitions, limit)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// waitCheckpoints reports whether the store holds a checkpoint for every
// partition within limit.
func waitCheckpoints(ctx context.Context, st store.Store, partitions int, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		n := 0
		for p := range int32(partitions) {
			if cp, err := st.Checkpoint(ctx, recoveryGroup, bus.TopicTransactions, p); err == nil && cp != nil {
				n++
			}
		}
		if n == partitions {
			return true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return false
}

// hasFlag reports whether `exe cmd -h` lists the flag.
func hasFlag(ctx context.Context, exe, cmd, flag string) bool {
	out, _ := exec.CommandContext(ctx, exe, cmd, "-h").CombinedOutput()
	return strings.Contains(string(out), "-"+flag+" ")
}
