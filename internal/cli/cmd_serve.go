package cli

import (
	"context"
	"fmt"
	"io"
	"slices"

	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"

	"github.com/shopstream/shopstream/internal/bus"
	"github.com/shopstream/shopstream/internal/detector"
	"github.com/shopstream/shopstream/internal/fraud"
	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/web"
)

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", stderr)
	var sf storeFlags
	var lf logFlags
	sf.register(fs)
	sf.registerWait(fs)
	lf.register(fs, "info")
	var tf traceFlags
	tf.register(fs)
	var rf recommendFlags
	rf.register(fs)
	var ef experimentFlags
	ef.register(fs)
	var wf webFlags
	wf.register(fs, ":8050", "listen address of the dashboard, API and /metrics (other than loopback only with an API token or --insecure-allow-unauthenticated)")
	rules := fs.String("rules", "", "fraud rules file, as given to process (shown by the API, used by POST /api/v1/score)")
	reviewAt := fs.Float64("review-at", 0.4, "risk at or above which a transaction is held for review, as given to process")
	declineAt := fs.Float64("decline-at", 0.9, "risk at or above which a transaction is declined, as given to process")
	brokers := fs.String("brokers", "", "Kafka seed brokers: POST /api/v1/quarantine/replay produces stream records to them, and the System page's lag per partition is read from their end offsets against the group's stored offsets (default: none; only imported records are replayed, and no lag is shown)")
	group := fs.String("group", "shopstream", "consumer group of the processors whose lag /readyz and the System page show (with --brokers)")
	var ksf kafkaSecurityFlags
	ksf.register(fs)
	var gf geoFlags
	gf.register(fs)
	var retf retentionFlags
	retf.register(fs)
	var akf addressKeyFlags
	akf.register(fs)
	var ipf ipHashFlags
	ipf.register(fs, "`file` holding the IP hash key given to process (at least 32 bytes; a trailing newline is ignored): POST /api/v1/score hashes a posted transaction's IP address with it, as the processor does, before scoring it against the stored history (docs/security.md); default: scored as it comes")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := ipf.validate(); err != nil {
		return err
	}
	if err := akf.validate(); err != nil {
		return err
	}
	if err := retf.validate(); err != nil {
		return err
	}
	conn, err := ksf.opts()
	if err != nil {
		return err
	}
	if err := wf.validate(); err != nil {
		return err
	}
	logger, err := lf.logger(stderr)
	if err != nil {
		return err
	}
	tp, stopTracing, err := tf.provider(ctx, "shopstream-serve")
	if err != nil {
		return err
	}
	defer stopTracing()
	st, err := sf.openWaiting(ctx, logger)
	if err != nil {
		return err
	}
	defer st.Close()
	reg := newRegistry(st)
	wcfg, err := wf.config(ctx, st, "shopstream serve")
	if err != nil {
		return err
	}
	wcfg.Store, wcfg.Gatherer, wcfg.Logger = st, reg, logger
	wcfg.Tracer = tp.Tracer("github.com/shopstream/shopstream/internal/web")
	if err := gf.setup(logger); err != nil {
		return err
	}
	defer gf.close()
	wcfg.Lookups = gf.webLookups()
	if bs := bus.SplitBrokers(*brokers); len(bs) > 0 {
		cl, err := kgo.NewClient(append(slices.Clone(conn), kgo.SeedBrokers(bs...))...)
		if err != nil {
			return fmt.Errorf("kafka client: %w", err)
		}
		defer cl.Close()
		wcfg.Ready = newGroupLag(cl, st, *group, bus.TopicTransactions, logger).readiness
	}
	srv, err := web.New(wcfg)
	if err != nil {
		return err
	}
	geo := gf.lookups(fraud.StateConfig{})
	// POST /api/v1/score keys a posted address as the processor does.
	if geo.AddressKey, err = akf.key(ctx, st, logger); err != nil {
		return err
	}
	ips, err := ipf.scoreHasher(geo, logger)
	if err != nil {
		return err
	}
	det, err := detector.New(detector.Config{RulesFile: *rules, Scorer: fraud.ScorerConfig{ReviewAt: *reviewAt, DeclineAt: *declineAt},
		State: geo, Logger: logger, Registerer: reg, IPHasher: ips})
	if err != nil {
		return usageError{fmt.Errorf("fraud settings: %w", err)}
	}
	fst, ok := st.(store.Fraud)
	if !ok {
		return fmt.Errorf("store %T keeps no fraud models", st)
	}
	models := detector.NewModelWatcher(det, fst, detector.WatchConfig{Logger: logger, Registerer: reg})
	if err := models.Sync(ctx); err != nil {
		return fmt.Errorf("reading the fraud models in use: %w", err)
	}
	web.RegisterFraud(srv, web.FraudDeps{Store: fst, Detector: det, Models: models})
	registerDeliveries(srv, st)
	registerErasure(srv, st)
	web.RegisterQuarantine(srv, st, quarantineReplayer(st, bus.SplitBrokers(*brokers), conn, bus.TopicTransactions, logger))
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
	fmt.Fprintf(stdout, "dashboard on %s (store: %s; %s)\n", serverURL(srv, ln), sf.describe(), wf.accessNote(wcfg))
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return models.Run(gctx) })
	g.Go(func() error { return det.WatchRules(gctx) })
	exps, err := startExperiments(gctx, g, srv, st, &ef, logger, reg)
	if err != nil {
		return err
	}
	if _, err := startRecommendations(gctx, g, srv, st, &rf, logger, reg, exps); err != nil {
		return err
	}
	if err := retf.start(gctx, g, st, logger, reg); err != nil {
		return err
	}
	g.Go(func() error { return srv.Serve(gctx, ln) })
	return g.Wait()
}
