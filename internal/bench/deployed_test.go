package bench_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/shopstream/shopstream/internal/bench"
	"github.com/shopstream/shopstream/internal/bus"
	"github.com/shopstream/shopstream/internal/cli"
	"github.com/shopstream/shopstream/internal/store/pgtest"
	"github.com/shopstream/shopstream/internal/tlstest"
)

// asShopstream, set in a child's environment, makes this test binary run
// as the shopstream binary, so that the deployed phase's `broker`,
// `generate` and `process` children are the code under test.
const asShopstream = "BENCH_TEST_RUN_AS_SHOPSTREAM"

func TestMain(m *testing.M) {
	if os.Getenv(asShopstream) == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err := cli.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
		stop()
		if err != nil && !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "shopstream:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	pgtest.Main(m)
}

// TestDeployedPhase runs the deployed phase at a tiny size, with this
// binary standing in for shopstream, and checks what it measured: every
// record stored once, a rate, the CPU of each process (the test's
// PostgreSQL server's included) and latencies.
func TestDeployedPhase(t *testing.T) {
	t.Setenv(asShopstream, "1")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	res, err := bench.Run(ctx, bench.Config{
		PostgresURL: pgtest.URL(t), Records: 1000, Customers: 200, Runs: 1, Batch: 500,
		LatencyRate: 300, LatencyDuration: 2 * time.Second, SkipEmbedded: true, SkipRecovery: true,
		// Enough records for several batches of the processor's 5,000:
		// 3,000 came in one or two, and on a fast host the window from
		// the first commit to the last fell within one 10 ms tick of
		// the process's CPU time, which then read 0.
		DeployedRecords: 20_000, DeployedCustomers: 2000, Executable: os.Args[0],
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	d := res.DeployedResult
	if d == nil {
		t.Fatal("no deployed figures")
	}
	if d.Stored != 20_000 || len(res.DeployedRuns) != 1 {
		t.Errorf("stored %d of 20,000 records; runs %v", d.Stored, res.DeployedRuns)
	}
	if d.TPS <= 0 || d.TPSWithStartup <= 0 || d.Ratio <= 0 {
		t.Errorf("rates: %v tx/s, %v with start-up, ratio %v", d.TPS, d.TPSWithStartup, d.Ratio)
	}
	// The test's PostgreSQL runs here, so its server's CPU is found. The
	// broker's CPU for 20,000 records (about 0.8 µs each) is one or two
	// of the 10 ms ticks /proc counts in, so it may read 0, but never less.
	if d.GoUsPerTx <= 0 || d.PGUsPerTx <= 0 || d.GeneratorUsPerTx <= 0 || !(d.BrokerUsPerTx >= 0) {
		t.Errorf("CPU per transaction: process %v µs, PostgreSQL %v µs, generate %v µs, broker %v µs", d.GoUsPerTx, d.PGUsPerTx,
			d.GeneratorUsPerTx, d.BrokerUsPerTx)
	}
	if d.P50Ms <= 0 || d.P95Ms < d.P50Ms || d.P99Ms < d.P95Ms || d.AchievedRate <= 0 {
		t.Errorf("latency p50 %v, p95 %v, p99 %v ms at %v/s", d.P50Ms, d.P95Ms, d.P99Ms, d.AchievedRate)
	}
	if d.ProcessPeakRSSBytes <= 0 || d.Kafka != "shopstream broker process" {
		t.Errorf("process peak RSS %d, Kafka %q", d.ProcessPeakRSSBytes, d.Kafka)
	}
	// The steady run comes once the product fold has folded all 20,000 and
	// more, and a refresh as of the first latency run's last purchase has
	// finished (the refresh runs 5 s after the start, then every minute).
	if !d.SteadyCaughtUp || d.SteadyWaitS < 0 || d.SteadyWaitS > bench.SteadyWaitMax.Seconds() {
		t.Errorf("steady run: caught up %v after %v s", d.SteadyCaughtUp, d.SteadyWaitS)
	}
	if d.SteadyP50Ms <= 0 || d.SteadyP95Ms < d.SteadyP50Ms || d.SteadyP99Ms < d.SteadyP95Ms {
		t.Errorf("steady latency p50 %v, p95 %v, p99 %v ms", d.SteadyP50Ms, d.SteadyP95Ms, d.SteadyP99Ms)
	}
}

// TestDeployedPhaseOverTLSAndSASL runs the deployed phase against a Kafka
// that takes only TLS and SASL/SCRAM: the bench's own client (the topic it
// creates) and its generate and process children all reach it with the
// settings given, the password by its file.
func TestDeployedPhaseOverTLSAndSASL(t *testing.T) {
	t.Setenv(asShopstream, "1")
	certs := tlstest.New(t)
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.TLS(certs.ServerConfig(t, false)), kfake.EnableSASL(),
		kfake.Superuser("SCRAM-SHA-256", "shop", "s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	pw := filepath.Join(t.TempDir(), "kafka-password")
	if err := os.WriteFile(pw, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sec := bus.Security{CAFile: certs.CAFile, SASL: bus.SASLScramSHA256, User: "shop", Password: "s3cret"}
	opts, err := sec.Opts()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	res, err := bench.Run(ctx, bench.Config{
		PostgresURL: pgtest.URL(t), Records: 1000, Customers: 200, Runs: 1, Batch: 500,
		LatencyRate: 300, LatencyDuration: 2 * time.Second, SkipEmbedded: true, SkipRecovery: true,
		DeployedRecords: 2000, DeployedCustomers: 300, Executable: os.Args[0], SkipSteadyLatency: true,
		Brokers: c.ListenAddrs(), KafkaOpts: opts,
		KafkaArgs: []string{"--kafka-ca", certs.CAFile, "--kafka-sasl", "scram-sha-256", "--kafka-user", "shop", "--kafka-password-file", pw},
		Logger:    slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	d := res.DeployedResult
	if d == nil || d.Stored != 2000 || !strings.HasPrefix(d.Kafka, "Kafka at ") {
		t.Fatalf("deployed figures %+v; want 2000 records stored through the Kafka given", d)
	}
}
