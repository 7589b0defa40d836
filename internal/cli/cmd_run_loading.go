package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"

	"github.com/shopstream/shopstream/internal/generate"
	"github.com/shopstream/shopstream/internal/jobs"
	"github.com/shopstream/shopstream/internal/pipeline"
	"github.com/shopstream/shopstream/internal/quality"
	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/web"
)

// loadTracker follows what `shopstream run` is still loading, the history
// backfill and the first analytics refresh after it, for the progress
// lines on stderr and the "loading" object of GET /api/v1/summary.
type loadTracker struct {
	mu       sync.Mutex
	begin    time.Time
	from, to time.Time // the history in event time; zero without one
	through  time.Time
	records  int64
	state    string        // backfill: none, generating, storing, done
	took     time.Duration // backfill, until stored
	stored   chan struct{} // closed once the backfill is stored (or there is none)
	// loaded is closed once the first analytics refresh after the
	// backfill has run (or failed), or with stored when analytics are off.
	loaded     chan struct{}
	loadedOnce sync.Once

	analytics  string // off, waiting, running, done
	finishedAt time.Time
	refreshDur time.Duration
	clvNote    string
}

func newLoadTracker(history time.Duration, now time.Time, analyticsOn bool) *loadTracker {
	l := &loadTracker{begin: now, state: "none", analytics: "off", stored: make(chan struct{}), loaded: make(chan struct{})}
	if history > 0 {
		l.from, l.to, l.state = now.Add(-history), now, "generating"
	} else {
		close(l.stored)
	}
	if analyticsOn {
		l.analytics = "waiting"
	} else {
		l.loaded = l.stored
		l.loadedOnce.Do(func() {})
	}
	return l
}

// firstRefreshEnded closes loaded: the first refresh ran, well or not.
func (l *loadTracker) firstRefreshEnded() {
	l.loadedOnce.Do(func() { close(l.loaded) })
}

// percent is the share of the history's event time generated.
func (l *loadTracker) percent() float64 {
	switch {
	case l.state == "none":
		return 0
	case l.state != "generating":
		return 100
	case l.through.IsZero():
		return 0
	}
	p := 100 * float64(l.through.Sub(l.from)) / float64(l.to.Sub(l.from))
	return min(max(p, 0), 100)
}

// progress takes the generator's report during the history phase.
func (l *loadTracker) progress(p generate.Progress) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.state == "generating" {
		l.through, l.records = p.EventTime, p.Count
	}
}

// historyDone is called when the generator has written the last history
// record: from then on the backfill waits to be stored.
func (l *loadTracker) historyDone(n int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.records, l.state = n, "storing"
	if l.through.IsZero() || l.through.Before(l.to) {
		l.through = l.to
	}
}

// backfillStored marks the history committed to the store.
func (l *loadTracker) backfillStored(now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.state == "storing" || l.state == "generating" {
		l.state, l.took = "done", now.Sub(l.begin)
		close(l.stored)
	}
}

func (l *loadTracker) refreshStarted() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.analytics == "waiting" {
		l.analytics = "running"
	}
}

func (l *loadTracker) refreshDone(now time.Time, took time.Duration, rep *jobs.RefreshReport) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.analytics != "running" {
		return
	}
	l.analytics, l.finishedAt, l.refreshDur = "done", now, took
	if rep != nil && rep.CLVVersion == 0 {
		l.clvNote = rep.CLVNote
	}
}

// snapshot is the API's view.
func (l *loadTracker) snapshot() web.Loading {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := web.Loading{
		Backfill: web.LoadingBackfill{State: l.state, Percent: l.percent(), Records: l.records},
		Analytics: web.LoadingAnalytics{State: l.analytics, CLVNote: l.clvNote,
			Seconds: l.refreshDur.Seconds()},
	}
	if l.state != "none" {
		from, to := l.from, l.to
		out.Backfill.From, out.Backfill.To = &from, &to
		if !l.through.IsZero() {
			th := l.through
			out.Backfill.Through = &th
		}
		if l.state == "done" {
			out.Backfill.Seconds = l.took.Seconds()
			at := l.begin.Add(l.took)
			out.Backfill.StoredAt = &at
		} else {
			out.Backfill.Seconds = time.Since(l.begin).Seconds()
		}
	}
	if !l.finishedAt.IsZero() {
		f := l.finishedAt
		out.Analytics.FinishedAt = &f
	}
	backfilled := l.state == "none" || l.state == "done"
	out.Done = backfilled && (l.analytics == "off" || l.analytics == "done")
	return out
}

// printLoading writes a progress line for the backfill every two seconds
// until it is stored, then one when the first refresh is done.
func (l *loadTracker) printLoading(ctx context.Context, w io.Writer, stored func() int64) {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	reported := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s := l.snapshot()
		switch {
		case s.Backfill.State == "generating" || s.Backfill.State == "storing":
			through := ""
			if s.Backfill.Through != nil {
				through = " (through " + s.Backfill.Through.Format("2006-01-02") + ")"
			}
			fmt.Fprintf(w, "backfill: %.0f%% of the history generated%s, %d records, %d stored, %.0fs\n",
				s.Backfill.Percent, through, s.Backfill.Records, stored(), s.Backfill.Seconds)
		case s.Backfill.State == "done" && !reported:
			reported = true
			fmt.Fprintf(w, "backfill: done, %d records of history stored in %.1fs\n", s.Backfill.Records, s.Backfill.Seconds)
		}
		if s.Analytics.State == "done" {
			note := ""
			if s.Analytics.CLVNote != "" {
				note = "; no CLV model: " + s.Analytics.CLVNote
			}
			fmt.Fprintf(w, "analytics: first refresh after the backfill done in %.1fs (%.1fs after start)%s\n",
				s.Analytics.Seconds, s.Analytics.FinishedAt.Sub(l.begin).Seconds(), note)
			return
		}
		if s.Analytics.State == "off" && s.Backfill.State != "generating" && s.Backfill.State != "storing" {
			return
		}
	}
}

// waitBackfillStored flushes the sink, takes the end offsets of topic as
// the history's end, and waits until the group's stored offsets reach them.
func waitBackfillStored(ctx context.Context, brokers []string, st store.Store, group, topic string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return fmt.Errorf("reading the end offsets of %s: %w", topic, err)
	}
	for {
		stored, err := st.Offsets(ctx, group, topic)
		if err != nil {
			return err
		}
		behind := false
		ends.Each(func(o kadm.ListedOffset) {
			if o.Offset > stored[o.Partition] {
				behind = true
			}
		})
		if !behind {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// startAnalyticsAfterBackfill runs the analytics refresh as
// startAnalyticsJob does, except that its first run waits for the history
// backfill to be stored, so that the first models are fitted on the whole
// history rather than a part of it, folding what is stored meanwhile
// every two seconds (Refresh.Follow), and reports to the tracker.
func startAnalyticsAfterBackfill(ctx context.Context, g *errgroup.Group, st store.Store, logger *slog.Logger, reg prometheus.Registerer, f *analyticsFlags, l *loadTracker) error {
	if f.interval == 0 {
		return nil
	}
	a, err := analyticsOf(st)
	if err != nil {
		return err
	}
	r, err := f.refresh(a, logger, reg)
	if err != nil {
		return usageError{err}
	}
	first := true
	job := r.Job(f.interval, 0)
	job.Run = func(ctx context.Context) error {
		if first {
			// Fold the history into the refresh's memory as it is stored,
			// so the first refresh reads only the last of it.
			for waiting := true; waiting; {
				select {
				case <-l.stored:
					waiting = false
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(2 * time.Second):
					if _, err := r.Follow(ctx); err != nil && ctx.Err() == nil {
						logger.Warn("reading the stored history ahead of the first analytics refresh", "err", err)
					}
				}
			}
			l.refreshStarted()
		}
		start := time.Now()
		rep, err := r.RunOnce(ctx)
		if first {
			// What waits for it (the product fold) goes ahead either way.
			l.firstRefreshEnded()
		}
		if first && err == nil {
			first = false
			l.refreshDone(time.Now(), time.Since(start), rep)
		}
		return err
	}
	runner, err := jobs.NewRunner(jobs.Config{Logger: logger, Registerer: reg}, job)
	if err != nil {
		return err
	}
	g.Go(func() error { return runner.Run(ctx) })
	return nil
}

// checkHistoryAsHistory has proc check the backfilled history with the
// contract in force but event_time_past's max_skew widened to the
// history's length and a day, until stored is closed, then restores the
// contract. The history is old by design, as an import's is (which does
// not run that check): under the default 30 days, five records of six of
// a fresh run's backfill were counted as warned stale_timestamp, and the
// Data quality page opened on 83% of the records warned. The live
// stream, produced after the history, is checked under the contract
// itself once the history is stored.
func checkHistoryAsHistory(ctx context.Context, g *errgroup.Group, proc *pipeline.Processor, history time.Duration, stored <-chan struct{}) error {
	prev := proc.Quality()
	spec := prev.Spec()
	if wide := quality.Duration(history + 24*time.Hour); spec.Checks.EventTimePast.MaxSkew < wide {
		spec.Checks.EventTimePast.MaxSkew = wide
	}
	c, err := spec.Compile()
	if err != nil {
		return fmt.Errorf("the history's quality contract: %w", err)
	}
	proc.SetQuality(c)
	g.Go(func() error {
		select {
		case <-stored:
			proc.SetQuality(prev)
		case <-ctx.Done():
		}
		return nil
	})
	return nil
}
