package bench

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shopstream/shopstream/internal/generate"
	"github.com/shopstream/shopstream/internal/recsvc"
	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/postgres"
)

// RecommendResult is what Config.WithRecommend measures: the end-to-end
// throughput with a recommendation service tailing the store, next to the
// same phase without it, and how well the service kept up. Medians are
// over the runs; the _runs fields hold every run, in run order.
type RecommendResult struct {
	// TPS is e2e_tps with the service tailing the store.
	TPS  float64   `json:"e2e_recommend_tps"`
	Runs []float64 `json:"e2e_recommend_tps_runs"`
	// Cost is 1 − TPS / e2e_tps: the share of the processor's throughput
	// the service took (negative when the phases with it were faster).
	// CostRuns pairs each run's two phases.
	Cost     float64   `json:"cost"`
	CostRuns []float64 `json:"cost_runs"`
	// FoldEveryS and RebuildEveryS are the service's intervals.
	FoldEveryS float64 `json:"fold_every_s"`
	// CPUShare is the service's bound on its share of one core.
	CPUShare      float64 `json:"cpu_share"`
	RebuildEveryS float64 `json:"rebuild_every_s"`
	// LinesPerS is the purchase lines the service had folded by the last
	// commit, per second of the timed window (first fetch to last commit);
	// StoredLinesPerS is the lines the store received per second of it.
	LinesPerS           float64   `json:"lines_per_s"`
	LinesPerSRuns       []float64 `json:"lines_per_s_runs"`
	StoredLinesPerS     float64   `json:"stored_lines_per_s"`
	StoredLinesPerSRuns []float64 `json:"stored_lines_per_s_runs"`
	// LagLines is the lines stored but not yet folded at the last commit;
	// CatchUpS the seconds from the last commit until the service, on its
	// own timer, had folded every stored line.
	LagLines     float64   `json:"lag_lines"`
	LagLinesRuns []int64   `json:"lag_lines_runs"`
	CatchUpS     float64   `json:"catch_up_s"`
	CatchUpSRuns []float64 `json:"catch_up_s_runs"`
	// FoldedRuns is the lines the service folded in each run and
	// StoredRuns the item lines the store held at its end, counted in SQL;
	// the bench fails when they differ.
	FoldedRuns []int64 `json:"folded_lines_runs"`
	StoredRuns []int64 `json:"stored_lines_runs"`
	// BusyNsPerLine is the service's time in store reads and folds per
	// line folded (wall time: the database's share of the read included).
	BusyNsPerLine     float64   `json:"busy_ns_per_line"`
	BusyNsPerLineRuns []float64 `json:"busy_ns_per_line_runs"`
	// RebuildsRuns and RebuildSRuns are the models built in each run and
	// the seconds spent building them.
	RebuildsRuns []int64 `json:"rebuilds_runs"`
	// PacedSRuns is the seconds the service rested in each run to keep
	// within its CPU share.
	PacedSRuns   []float64 `json:"paced_s_runs"`
	RebuildSRuns []float64 `json:"rebuild_s_runs"`
}

// recommendRun1 is one phase's figures of the service.
type recommendRun1 struct {
	linesPerS, storedLinesPerS float64
	lag                        int64
	catchUp                    time.Duration
	folded, stored             int64
	busyNsPerLine              float64
	rebuilds                   int64
	rebuildS                   float64
	pacedS                     float64
}

// recommendRun measures one end-to-end phase with the service tailing
// the store and adds it to res.
func recommendRun(ctx context.Context, cfg Config, recs []generate.Record, run int, res *Result) error {
	tps, rr, err := throughput(ctx, cfg, recs, run, false, true)
	if err != nil {
		return fmt.Errorf("end to end with recommendations: %w", err)
	}
	if res.Recommend == nil {
		res.Recommend = &RecommendResult{}
	}
	r := res.Recommend
	r.Runs = append(r.Runs, tps)
	r.LinesPerSRuns = append(r.LinesPerSRuns, rr.linesPerS)
	r.StoredLinesPerSRuns = append(r.StoredLinesPerSRuns, rr.storedLinesPerS)
	r.LagLinesRuns = append(r.LagLinesRuns, rr.lag)
	r.CatchUpSRuns = append(r.CatchUpSRuns, rr.catchUp.Seconds())
	r.FoldedRuns = append(r.FoldedRuns, rr.folded)
	r.StoredRuns = append(r.StoredRuns, rr.stored)
	r.BusyNsPerLineRuns = append(r.BusyNsPerLineRuns, rr.busyNsPerLine)
	r.RebuildsRuns = append(r.RebuildsRuns, rr.rebuilds)
	r.RebuildSRuns = append(r.RebuildSRuns, rr.rebuildS)
	r.PacedSRuns = append(r.PacedSRuns, rr.pacedS)
	cfg.Logger.Info("end to end (PostgreSQL) with recommendations", "run", run, "tps", int(tps),
		"lines_per_s", int(rr.linesPerS), "stored_lines_per_s", int(rr.storedLinesPerS), "lag_lines", rr.lag,
		"catch_up", rr.catchUp.Round(time.Millisecond), "folded", rr.folded, "rebuilds", rr.rebuilds, "paced_s", rr.pacedS)
	return nil
}

// summarise fills the medians once every run is in; without holds the
// runs of the processor alone, in the same order.
func (r *RecommendResult) summarise(e2eTPS float64, without []float64, rc recsvc.Config) {
	r.TPS = median(r.Runs)
	if e2eTPS > 0 {
		r.Cost = 1 - r.TPS/e2eTPS
	}
	r.CostRuns = r.CostRuns[:0]
	for i := range min(len(r.Runs), len(without)) {
		r.CostRuns = append(r.CostRuns, 1-r.Runs[i]/without[i])
	}
	r.FoldEveryS, r.RebuildEveryS, r.CPUShare = rc.FoldEvery.Seconds(), rc.RebuildEvery.Seconds(), rc.CPUShare
	r.LinesPerS, r.StoredLinesPerS = median(r.LinesPerSRuns), median(r.StoredLinesPerSRuns)
	lags := make([]float64, len(r.LagLinesRuns))
	for i, l := range r.LagLinesRuns {
		lags[i] = float64(l)
	}
	r.LagLines, r.CatchUpS, r.BusyNsPerLine = median(lags), median(r.CatchUpSRuns), median(r.BusyNsPerLineRuns)
}

// tailer is a recommendation service tailing the store under test, as
// `serve` runs it, with the store reads it makes timed.
type tailer struct {
	svc    *recsvc.Service
	reg    *prometheus.Registry
	src    *timedPurchases
	cfg    recsvc.Config
	cancel context.CancelFunc
	errc   chan error
	once   sync.Once
	err    error
}

func startTailer(ctx context.Context, cfg Config, st store.Store) (*tailer, error) {
	p, ok := st.(store.Purchases)
	if !ok {
		return nil, fmt.Errorf("store %T does not read purchases back", st)
	}
	t := &tailer{reg: prometheus.NewRegistry(), src: &timedPurchases{p: p}, cfg: cfg.Recommend, errc: make(chan error, 1)}
	rc := cfg.Recommend
	rc.Store, rc.Logger, rc.Registerer = t.src, slog.New(slog.DiscardHandler), t.reg
	svc, err := recsvc.New(rc)
	if err != nil {
		return nil, err
	}
	t.svc = svc
	sctx, cancel := context.WithCancel(ctx)
	t.cancel = cancel
	go func() { t.errc <- svc.Run(sctx) }()
	return t, nil
}

// stop ends the service and returns what its Run returned; it may be
// called more than once.
func (t *tailer) stop() error {
	t.once.Do(func() {
		t.cancel()
		t.err = <-t.errc
	})
	return t.err
}

// finish is called once the processor has stopped: it counts the item
// lines stored, waits until the service has folded all of them on its own
// timer, stops it, and returns its figures. A service that folded more or
// fewer lines than the store holds is an error.
func (t *tailer) finish(ctx context.Context, st store.Store, window time.Duration, last time.Time, foldedAtLast int64) (*recommendRun1, error) {
	pg, ok := st.(*postgres.Store)
	if !ok {
		return nil, fmt.Errorf("store %T: the recommendation phase counts stored lines in PostgreSQL", st)
	}
	var stored int64
	if err := pg.Pool().QueryRow(ctx, `SELECT coalesce(sum(json_array_length(items)), 0) FROM transactions`).Scan(&stored); err != nil {
		return nil, fmt.Errorf("counting the stored purchase lines: %w", err)
	}
	// Polled: the service folds on its own ticker and has no hook to wait
	// on; a few milliseconds of polling are small next to a fold interval.
	deadline := time.Now().Add(30*time.Second + 10*t.cfg.FoldEvery)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for t.svc.Folded() < stored {
		select {
		case <-tick.C:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the recommendation service folded %d of %d stored lines and did not catch up", t.svc.Folded(), stored)
		}
	}
	catchUp := time.Since(last)
	if err := t.stop(); err != nil {
		return nil, fmt.Errorf("recommendation service: %w", err)
	}
	folded := t.svc.Folded()
	if folded != stored {
		return nil, fmt.Errorf("the recommendation service folded %d lines; the store holds %d", folded, stored)
	}
	rr := &recommendRun1{
		linesPerS: float64(foldedAtLast) / window.Seconds(), storedLinesPerS: float64(stored) / window.Seconds(),
		lag: stored - foldedAtLast, catchUp: catchUp, folded: folded, stored: stored,
	}
	if folded > 0 {
		rr.busyNsPerLine = float64(t.src.busy().Nanoseconds()) / float64(folded)
	}
	mfs, err := t.reg.Gather()
	if err != nil {
		return nil, err
	}
	for _, mf := range mfs {
		if mf.GetName() == "shopstream_recommendations_paced_seconds_total" {
			for _, m := range mf.GetMetric() {
				rr.pacedS += m.GetCounter().GetValue()
			}
		}
		if mf.GetName() == "shopstream_recommendations_build_seconds" {
			for _, m := range mf.GetMetric() {
				rr.rebuilds += int64(m.GetHistogram().GetSampleCount())
				rr.rebuildS += m.GetHistogram().GetSampleSum()
			}
		}
	}
	return rr, nil
}

// timedPurchases is the store the service reads, with the time of its
// reads summed: a read's time includes folding most of what it returns,
// since the service folds in chunks of 1,000 lines inside the callback
// (the last chunk of a read is folded after it).
type timedPurchases struct {
	p     store.Purchases
	mu    sync.Mutex
	total time.Duration
}

func (t *timedPurchases) PurchaseLines(ctx context.Context, after store.PurchaseCursor, limit int, fn func(*store.PurchaseLine) error) (store.PurchaseCursor, error) {
	start := time.Now()
	next, err := t.p.PurchaseLines(ctx, after, limit, fn)
	t.mu.Lock()
	t.total += time.Since(start)
	t.mu.Unlock()
	return next, err
}

func (t *timedPurchases) busy() time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.total
}
