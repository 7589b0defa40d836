package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// ErrSkipped marks a run that did nothing on purpose, typically because
// another instance leads. A run returning an error that wraps it is counted
// with outcome "skipped" and logged at debug level.
var ErrSkipped = errors.New("skipped")

// Job is one periodic job.
type Job struct {
	// Name names the job in logs and metrics. Required.
	Name string
	// Run does one run. Required.
	Run func(ctx context.Context) error
	// Interval is the time between the starts of two runs. A run that
	// takes longer makes the next start at the first tick after it ends.
	// Required, positive.
	Interval time.Duration
	// FirstDelay is the wait before the first run. Defaults to 0: the
	// first run starts at once.
	FirstDelay time.Duration
	// Timeout bounds one run. Defaults to 0: no limit.
	Timeout time.Duration
	// Again, if set, is asked after every run whether the next should
	// come sooner than Interval: a positive delay shorter than Interval
	// starts the next run that long after this one started (or at once,
	// if it has passed). The analytics refresh uses it to catch up with a
	// population still growing fast (a fresh start, a backfill) instead of
	// leaving the first figures standing for a whole interval. Defaults to
	// nil: every Interval.
	Again func() time.Duration
	// BusyShare bounds the job while Config.Busy reports true (the
	// processor the job shares a database with is behind): after a run
	// that took d, the next starts no sooner than d·(1−BusyShare)/BusyShare
	// after it ended, so the job takes at most that share of the time,
	// and what it would have done waits until the backlog is stored. The
	// bound is checked again every second, and lifts as soon as Busy
	// reports false. 0 (the default) or 1: no bound.
	BusyShare float64
}

// Clock is the time source of a Runner.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time                         { return time.Now() }
func (systemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Config configures a Runner.
type Config struct {
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Registerer receives the job metrics. Defaults to nil: the metrics
	// are kept but not registered anywhere.
	Registerer prometheus.Registerer
	// Clock defaults to the system clock.
	Clock Clock
	// Busy, if set, says whether the jobs' runs should give way (see
	// Job.BusyShare). It is called from the jobs' goroutines.
	Busy func() bool
}

// Runner runs periodic jobs until its context ends.
type Runner struct {
	jobs  []Job
	log   *slog.Logger
	clock Clock
	busy  func() bool
	runs  *prometheus.CounterVec
	held  *prometheus.CounterVec
	dur   *prometheus.HistogramVec
	last  *prometheus.GaugeVec
}

// NewRunner validates the jobs and registers the metrics.
func NewRunner(cfg Config, jobs ...Job) (*Runner, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Clock == nil {
		cfg.Clock = systemClock{}
	}
	seen := map[string]bool{}
	for i, j := range jobs {
		switch {
		case j.Name == "":
			return nil, fmt.Errorf("jobs: job %d has no name", i)
		case seen[j.Name]:
			return nil, fmt.Errorf("jobs: two jobs named %q", j.Name)
		case j.Run == nil:
			return nil, fmt.Errorf("jobs: job %q has no Run function", j.Name)
		case j.Interval <= 0:
			return nil, fmt.Errorf("jobs: job %q: interval %v is not positive", j.Name, j.Interval)
		case j.FirstDelay < 0 || j.Timeout < 0:
			return nil, fmt.Errorf("jobs: job %q: first delay %v and timeout %v must not be negative", j.Name, j.FirstDelay, j.Timeout)
		case !(j.BusyShare >= 0 && j.BusyShare <= 1):
			return nil, fmt.Errorf("jobs: job %q: busy share %v is not between 0 and 1", j.Name, j.BusyShare)
		}
		seen[j.Name] = true
	}
	reg := cfg.Registerer
	r := &Runner{
		jobs:  jobs,
		log:   cfg.Logger.With("component", "jobs"),
		clock: cfg.Clock,
		busy:  cfg.Busy,
		runs: shared(reg, prometheus.NewCounterVec(prometheus.CounterOpts{Name: "shopstream_job_runs_total",
			Help: "Runs of periodic jobs, by job and outcome (ok, skipped, error)."}, []string{"job", "outcome"})),
		held: shared(reg, prometheus.NewCounterVec(prometheus.CounterOpts{Name: "shopstream_job_held_seconds_total",
			Help: "Seconds periodic jobs waited past their schedule because the processor was behind (their busy share)."}, []string{"job"})),
		dur: shared(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "shopstream_job_duration_seconds",
			Help: "Duration of periodic job runs that were not skipped.", Buckets: prometheus.ExponentialBuckets(0.01, 3, 12)}, []string{"job"})),
		last: shared(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "shopstream_job_last_success_timestamp_seconds",
			Help: "Unix time of the last successful run of each periodic job."}, []string{"job"})),
	}
	for _, j := range jobs {
		for _, o := range []string{"ok", "skipped", "error"} {
			r.runs.WithLabelValues(j.Name, o)
		}
		if r.bounded(j) {
			r.held.WithLabelValues(j.Name)
		}
	}
	return r, nil
}

// shared registers c with reg (nil: with none) and returns it, or the
// collector of the same description another runner on reg registered
// first: a process's runners (the analytics refresh, retention and the
// product fold, the quality watch) share the job metrics, a series per
// job. It panics on another registration error, as promauto does.
func shared[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if reg == nil {
		return c
	}
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		panic(err)
	}
	return c
}

// Run runs every job on its schedule until ctx ends, waits for runs in
// progress to see the cancellation and return, and returns nil.
func (r *Runner) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, j := range r.jobs {
		wg.Go(func() { r.loop(ctx, j) })
	}
	wg.Wait()
	return nil
}

// bounded reports whether j gives way while the runner's Busy says so.
func (r *Runner) bounded(j Job) bool { return r.busy != nil && j.BusyShare > 0 && j.BusyShare < 1 }

// busyRecheck is how often a held job asks Busy again.
const busyRecheck = time.Second

func (r *Runner) loop(ctx context.Context, j Job) {
	next := r.clock.Now().Add(j.FirstDelay)
	var earliest time.Time // with the busy share: no run before this while busy
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.clock.After(next.Sub(r.clock.Now())):
		}
		if now := r.clock.Now(); now.Before(earliest) && r.busy() {
			wait := min(earliest.Sub(now), busyRecheck)
			r.held.WithLabelValues(j.Name).Add(wait.Seconds())
			next = now.Add(wait)
			continue
		}
		start := r.clock.Now()
		r.once(ctx, j)
		if ctx.Err() != nil {
			return
		}
		if r.bounded(j) {
			end := r.clock.Now()
			took := end.Sub(start)
			earliest = end.Add(rest(took, j.BusyShare))
		}
		// The next tick after now: missed ticks are skipped, not queued.
		next = start.Add(j.Interval)
		if j.Again != nil {
			if d := j.Again(); d > 0 && d < j.Interval {
				next = start.Add(d)
				continue
			}
		}
		if now := r.clock.Now(); !next.After(now) {
			next = next.Add(now.Sub(next).Truncate(j.Interval) + j.Interval)
		}
	}
}

// once does one run of j, turning a panic into an error.
func (r *Runner) once(ctx context.Context, j Job) {
	if j.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, j.Timeout)
		defer cancel()
	}
	start := r.clock.Now()
	err := func() (err error) {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("panic: %v\n%s", p, debug.Stack())
			}
		}()
		return j.Run(ctx)
	}()
	took := r.clock.Now().Sub(start)
	switch {
	case errors.Is(err, ErrSkipped):
		r.runs.WithLabelValues(j.Name, "skipped").Inc()
		r.log.Debug("job skipped", "job", j.Name, "reason", err)
	case err != nil:
		r.runs.WithLabelValues(j.Name, "error").Inc()
		r.dur.WithLabelValues(j.Name).Observe(took.Seconds())
		if ctx.Err() != nil {
			r.log.Info("job stopped", "job", j.Name, "err", err)
			return
		}
		r.log.Error("job failed", "job", j.Name, "err", err, "seconds", took.Seconds())
	default:
		r.runs.WithLabelValues(j.Name, "ok").Inc()
		r.dur.WithLabelValues(j.Name).Observe(took.Seconds())
		r.last.WithLabelValues(j.Name).Set(float64(r.clock.Now().UnixMilli()) / 1000)
		r.log.Debug("job done", "job", j.Name, "seconds", took.Seconds())
	}
}

// rest is how long to wait after work that took d so that such work takes
// share of the time: d·(1−share)/share.
func rest(d time.Duration, share float64) time.Duration {
	return time.Duration(float64(d) * (1 - share) / share)
}

// pace waits after a piece of work that took d while busy reports true,
// so that such work takes at most share of the time: d·(1−share)/share. It
// returns at once when busy is nil or false or share is not in (0, 1), and
// ctx's error if ctx ends first.
func pace(ctx context.Context, busy func() bool, share float64, d time.Duration) error {
	if busy == nil || !(share > 0 && share < 1) || d <= 0 || !busy() {
		return nil
	}
	t := time.NewTimer(rest(d, share))
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
