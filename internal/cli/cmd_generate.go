package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/shopstream/shopstream/internal/bus"
	"github.com/shopstream/shopstream/internal/generate"
)

// runGenerate is "shopstream generate": the synthetic shop, to a JSON-lines
// file or to Kafka.
//
// Output is byte-identical for the same seed and flags whenever event time
// is simulated: at --rate 0 without --history (from --start, or from
// generate.DefaultStart, 2026-01-01T00:00:00Z), and for the --history part
// of a run when --start is given. Live records (--rate above 0, or after
// the history) carry the wall clock as event time.
func runGenerate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("generate", stderr)
	out := fs.String("out", "", `write JSON lines to `+"`FILE`"+` ("-" for stdout); exactly one of --out and --brokers`)
	labels := fs.String("labels", "", "also write the out-of-band labels (transaction_id,fraud,scenario,bad) as CSV to `FILE`")
	brokers := fs.String("brokers", "", "produce to Kafka at these comma-separated `host:port` addresses")
	topic := fs.String("topic", "transactions", "Kafka topic")
	labelsTopic := fs.String("labels-topic", "labels", "Kafka topic the transactions' label events (chargebacks, analysts' decisions, dispute outcomes) go to once the stream's event time has passed theirs; empty: none")
	var ksf kafkaSecurityFlags
	ksf.register(fs)
	rate := fs.Float64("rate", 1000, "live records per second; 0 = as fast as possible (in simulated time unless --history is set)")
	count := fs.Int64("count", 0, "stop after this many records; 0 = no limit")
	var duration, history dayDuration
	fs.Var(&duration, "duration", "stop after this long, e.g. 90s, 2h or 1d (with --rate and no --history, of the paced stream, which starts once the live phase is primed); 0 = no limit")
	fs.Var(&history, "history", "first emit this much past history as fast as possible, e.g. 365d or 72h")
	customers := fs.Int("customers", 1_000_000, "size of the active customer base (at a forced --rate, fewer customers means each orders unrealistically often)")
	products := fs.Int("products", 2_000, "size of the catalogue (at least 50)")
	seed := fs.Int64("seed", 1, "random seed: the same seed and flags give the same records")
	cont := fs.Int("continue", 0, "the `n`th generator (1, 2, ...) over a shop an earlier one made with the same --seed and --customers: the same customers, with their devices, cards and countries, new transaction IDs (the same purchases otherwise: another --seed is another shop whose every returning customer looks taken over)")
	fraudRate := fs.Float64("fraud-rate", 0.01, "share of good records that are fraud (0 to 0.5)")
	badRate := fs.Float64("bad-rate", 0, "share of records that are bad, one quality defect each (0 to 1)")
	var gf geoFlags
	gf.register(fs)
	var fraudMix fraudMixFlag
	fs.Var(&fraudMix, "fraud-mix", fraudMixUsage)
	var start startFlag
	fs.Var(&start, "start", "event time of the first simulated record, RFC 3339 (default 2026-01-01T00:00:00Z, or now − --history); auto (with --count and --rate 0): so that the --count records end within the day before now as a rule (within three days always), found by generating them first")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	bad := func(flag string, v any, want string) error {
		return usageError{fmt.Errorf("invalid value %v for flag -%s: %s", v, flag, want)}
	}
	switch {
	case (*out == "") == (*brokers == ""):
		return usageError{errors.New("generate: give exactly one of --out and --brokers")}
	case *rate < 0:
		return bad("rate", *rate, "must not be negative")
	case *count < 0:
		return bad("count", *count, "must not be negative")
	case *cont < 0 || *cont >= 1<<31:
		return bad("continue", *cont, "must be between 0 and 2147483647")
	case *customers < 1:
		return bad("customers", *customers, "must be at least 1")
	case *products < 50:
		return bad("products", *products, "must be at least 50")
	case !(*fraudRate >= 0 && *fraudRate <= 0.5):
		return bad("fraud-rate", *fraudRate, "must be between 0 and 0.5")
	case !(*badRate >= 0 && *badRate <= 1):
		return bad("bad-rate", *badRate, "must be between 0 and 1")
	case *labels != "" && *labels == *out:
		return bad("labels", *labels, "must differ from --out")
	case start.auto && (*count < 2 || *rate != 0 || history != 0):
		return bad("start", "auto", "needs --count of at least 2 and --rate 0, without --history")
	}
	cfg := generate.Config{
		Seed:      *seed,
		SeqBase:   uint64(*cont) << 32,
		Customers: *customers,
		Products:  *products,
		FraudRate: *fraudRate,
		BadRate:   *badRate,
		Start:     start.t,
		FraudMix:  fraudMix.mix(),
	}
	if *fraudRate == 0 {
		cfg.FraudRate = -1 // the generator reads zero as "default"
	}
	// With GeoIP files, addresses and BINs that real lookups place where
	// the scenarios intend (geoflags.go).
	if err := gf.setup(slog.New(slog.DiscardHandler)); err != nil {
		return err
	}
	defer gf.close()
	var err error
	if cfg.Geography, err = gf.geography(); err != nil {
		return err
	}
	if start.auto {
		cfg.Start = generate.StartEndingBy(cfg, int(*count), time.Now())
		fmt.Fprintf(stderr, "generate: --start auto: %s\n", cfg.Start.Format(time.RFC3339))
	}
	gen, err := generate.New(cfg)
	if err != nil {
		return usageError{err}
	}

	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})).With("component", "generate")
	var sink generate.Sink
	var closers []func() error
	defer func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}()
	// create opens path for writing; the deferred close only cleans up on
	// error paths, the checked close is at the end.
	create := func(flag, path string) (io.Writer, *os.File, error) {
		if path == "-" {
			return stdout, nil, nil
		}
		f, err := os.Create(path)
		if err != nil {
			return nil, nil, fmt.Errorf("--%s: %w", flag, err)
		}
		closers = append(closers, f.Close)
		return f, f, nil
	}
	var files []*os.File
	var labelsW io.Writer
	if *labels != "" {
		w, f, err := create("labels", *labels)
		if err != nil {
			return err
		}
		labelsW = w
		files = append(files, f)
	}
	dest := *out
	if *out != "" {
		w, f, err := create("out", *out)
		if err != nil {
			return err
		}
		files = append(files, f)
		sink = generate.NewFileSink(w, labelsW)
	} else {
		var addrs []string
		for _, a := range strings.Split(*brokers, ",") {
			if a = strings.TrimSpace(a); a != "" {
				addrs = append(addrs, a)
			}
		}
		if len(addrs) == 0 {
			return bad("brokers", strconv.Quote(*brokers), "want host:port[,host:port...]")
		}
		conn, err := ksf.opts()
		if err != nil {
			return err
		}
		ks, err := newKafkaSink(ctx, addrs, conn, *topic, logger)
		if err != nil {
			return err
		}
		if c, ok := ks.(interface{ Close() }); ok {
			defer c.Close()
		}
		sink = ks
		dest = fmt.Sprintf("Kafka topic %s on %s", *topic, strings.Join(addrs, ","))
		if *labelsTopic != "" {
			sched, err := generate.NewLabelSchedule(generate.LabelConfig{Seed: *seed})
			if err != nil {
				return err
			}
			kks := ks.(*kafkaSink)
			ectx, cancel := context.WithTimeout(ctx, 30*time.Second)
			if err := bus.EnsureTopics(ectx, kks.cl, *labelsTopic); err != nil {
				logger.Warn("the labels topic could not be created; producing to it fails until it exists", "topic", *labelsTopic, "err", err)
			}
			cancel()
			sink = generate.WithLabels(sink, kks.labels(*labelsTopic), sched)
			dest += fmt.Sprintf(", labels to %s", *labelsTopic)
		}
		if labelsW != nil {
			sink = teeLabels{Sink: sink, labels: generate.NewFileSink(io.Discard, labelsW)}
		}
	}

	var final generate.Progress
	err = generate.Run(ctx, gen, sink, generate.RunConfig{
		Rate:     *rate,
		Count:    *count,
		Duration: time.Duration(duration),
		History:  time.Duration(history),
		Progress: func(p generate.Progress) {
			if p.Final {
				final = p
				return
			}
			fmt.Fprintf(stderr, "generate: %d records (%d fraud, %d bad) · %.0f/s · elapsed %s · event time %s\n",
				p.Count, p.Fraud, p.Bad, p.Rate, p.Elapsed.Round(time.Second), p.EventTime.Format(time.RFC3339))
		},
	})
	for _, f := range files {
		if f == nil {
			continue
		}
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("closing %s: %w", f.Name(), cerr)
		}
	}
	closers = nil
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "generate: done: %d records (%d fraud, %d bad) in %s, %.0f/s; event time up to %s; to %s\n",
		final.Count, final.Fraud, final.Bad, final.Elapsed.Round(time.Millisecond), final.Rate,
		final.EventTime.Format(time.RFC3339), destName(dest))
	return nil
}

func destName(d string) string {
	if d == "-" {
		return "stdout"
	}
	return d
}

// teeLabels sends records to a Kafka sink and their labels to a file.
type teeLabels struct {
	generate.Sink
	labels generate.Sink
}

func (t teeLabels) Write(ctx context.Context, r generate.Record) error {
	if err := t.Sink.Write(ctx, r); err != nil {
		return err
	}
	return t.labels.Write(ctx, r)
}

func (t teeLabels) Flush(ctx context.Context) error {
	if err := t.Sink.Flush(ctx); err != nil {
		return err
	}
	return t.labels.Flush(ctx)
}

// dayDuration is a time.Duration flag that also accepts a leading day
// count, as in 365d or 1d12h, since history is naturally said in days.
type dayDuration time.Duration

func (d *dayDuration) String() string { return time.Duration(*d).String() }

func (d *dayDuration) Set(s string) error {
	v, err := parseDayDuration(s)
	if err != nil {
		return err
	}
	*d = dayDuration(v)
	return nil
}

func parseDayDuration(s string) (time.Duration, error) {
	var days time.Duration
	rest := s
	if i := strings.IndexByte(s, 'd'); i > 0 {
		n, err := strconv.ParseUint(s[:i], 10, 32)
		if err != nil {
			return 0, fmt.Errorf("want a duration like 90s, 2h or 365d")
		}
		days, rest = time.Duration(n)*24*time.Hour, s[i+1:]
		if rest == "" {
			return days, nil
		}
	}
	v, err := time.ParseDuration(rest)
	if err != nil {
		return 0, fmt.Errorf("want a duration like 90s, 2h or 365d")
	}
	if v < 0 {
		return 0, fmt.Errorf("must not be negative")
	}
	return days + v, nil
}

// startFlag is --start: an rfc3339 time, or auto.
type startFlag struct {
	rfc3339
	auto bool
}

func (f *startFlag) String() string {
	if f.auto {
		return "auto"
	}
	return f.rfc3339.String()
}

func (f *startFlag) Set(s string) error {
	if s == "auto" {
		f.auto, f.t = true, time.Time{}
		return nil
	}
	f.auto = false
	if err := f.rfc3339.Set(s); err != nil {
		return fmt.Errorf("want auto or an RFC 3339 time like 2026-01-01T00:00:00Z")
	}
	return nil
}

// rfc3339 is a time flag.
type rfc3339 struct{ t time.Time }

func (r *rfc3339) String() string {
	if r.t.IsZero() {
		return ""
	}
	return r.t.Format(time.RFC3339Nano)
}

func (r *rfc3339) Set(s string) error {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("want an RFC 3339 time like 2026-01-01T00:00:00Z")
	}
	r.t = t.UTC()
	return nil
}
