package jobs

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// fakeClock is a manual clock: After fires when Advance passes its time.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []fakeWaiter
	changed chan struct{} // closed and replaced whenever waiters change
}

type fakeWaiter struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), changed: make(chan struct{})}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, fakeWaiter{c.now.Add(d), ch})
	close(c.changed)
	c.changed = make(chan struct{})
	return ch
}

// Advance moves the clock on and fires the waiters now due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	keep := c.waiters[:0]
	for _, w := range c.waiters {
		if !w.at.After(c.now) {
			w.ch <- c.now
		} else {
			keep = append(keep, w)
		}
	}
	c.waiters = keep
}

// waitWaiters blocks until n goroutines wait on the clock.
func (c *fakeClock) waitWaiters(t *testing.T, n int) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		c.mu.Lock()
		got, ch := len(c.waiters), c.changed
		c.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("%d goroutines wait on the clock, want %d", got, n)
		}
	}
}

func TestRunnerSchedule(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	reg := prometheus.NewRegistry()
	var runs atomic.Int32
	var starts []time.Time
	var mu sync.Mutex
	outcomes := []error{nil, fmt.Errorf("lost the lead: %w", ErrSkipped), errors.New("database down"), nil}
	job := Job{Name: "refresh", Interval: time.Minute, FirstDelay: 10 * time.Second, Run: func(ctx context.Context) error {
		i := runs.Add(1) - 1
		mu.Lock()
		starts = append(starts, clock.Now())
		mu.Unlock()
		if i == 1 {
			// This run overruns two and a half intervals: the ticks it
			// missed are skipped, not queued.
			clock.Advance(150 * time.Second)
		}
		if int(i) == len(outcomes) {
			panic("boom")
		}
		if int(i) > len(outcomes) {
			return nil
		}
		return outcomes[i]
	}}
	r, err := NewRunner(Config{Registerer: reg, Clock: clock}, job)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- r.Run(ctx) }()

	t0 := clock.Now()
	// Run 0 at +10 s, run 1 at +70 s (overruns to +220 s), run 2 at the
	// next tick +250 s, run 3 at +310 s, run 4 (panics) at +370 s.
	for _, step := range []time.Duration{10 * time.Second, 60 * time.Second, 30 * time.Second, 60 * time.Second, 60 * time.Second} {
		clock.waitWaiters(t, 1)
		clock.Advance(step)
	}
	clock.waitWaiters(t, 1) // waiting after the panic: the runner lives on
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run returned %v", err)
	}
	want := []time.Duration{10 * time.Second, 70 * time.Second, 250 * time.Second, 310 * time.Second, 370 * time.Second}
	mu.Lock()
	defer mu.Unlock()
	if len(starts) != len(want) {
		t.Fatalf("%d runs, want %d", len(starts), len(want))
	}
	for i, s := range starts {
		if s.Sub(t0) != want[i] {
			t.Errorf("run %d started at +%v, want +%v", i, s.Sub(t0), want[i])
		}
	}
	for outcome, n := range map[string]float64{"ok": 2, "skipped": 1, "error": 2} {
		if got := testutil.ToFloat64(r.runs.WithLabelValues("refresh", outcome)); got != n {
			t.Errorf("shopstream_job_runs_total{outcome=%q} = %v, want %v", outcome, got, n)
		}
	}
	if n := testutil.CollectAndCount(reg, "shopstream_job_duration_seconds"); n != 1 {
		t.Errorf("duration histograms: %d, want 1", n)
	}
	if got := testutil.ToFloat64(r.last.WithLabelValues("refresh")); got != float64(t0.Add(310*time.Second).Unix()) {
		t.Errorf("last success at %v, want +310 s", got)
	}
}

// Again brings the next run forward while it asks to, and the schedule
// goes back to the interval when it stops asking; a delay not shorter than
// the interval changes nothing.
func TestRunnerAgain(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	var mu sync.Mutex
	var starts []time.Time
	// After runs 0 and 1: again in 15 s; after run 2: an hour (ignored);
	// then nothing.
	again := []time.Duration{15 * time.Second, 15 * time.Second, time.Hour}
	job := Job{Name: "refresh", Interval: time.Minute, FirstDelay: 5 * time.Second,
		Run: func(context.Context) error {
			mu.Lock()
			defer mu.Unlock()
			starts = append(starts, clock.Now())
			if len(starts) == 2 {
				clock.Advance(20 * time.Second) // overruns its 15 s: the next starts at once
			}
			return nil
		},
		Again: func() time.Duration {
			mu.Lock()
			defer mu.Unlock()
			if i := len(starts) - 1; i < len(again) {
				return again[i]
			}
			return 0
		}}
	r, err := NewRunner(Config{Clock: clock}, job)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- r.Run(ctx) }()
	t0 := clock.Now()
	// Run 0 at +5 s, run 1 at +20 s (runs to +40 s), run 2 at once at
	// +40 s, run 3 one interval later at +100 s, run 4 at +160 s.
	for _, step := range []time.Duration{5 * time.Second, 15 * time.Second, 60 * time.Second, 60 * time.Second} {
		clock.waitWaiters(t, 1)
		clock.Advance(step)
	}
	clock.waitWaiters(t, 1)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run returned %v", err)
	}
	want := []time.Duration{5 * time.Second, 20 * time.Second, 40 * time.Second, 100 * time.Second, 160 * time.Second}
	mu.Lock()
	defer mu.Unlock()
	if len(starts) != len(want) {
		t.Fatalf("%d runs at %v, want %d", len(starts), starts, len(want))
	}
	for i, s := range starts {
		if s.Sub(t0) != want[i] {
			t.Errorf("run %d started at +%v, want +%v", i, s.Sub(t0), want[i])
		}
	}
}

func TestRunnerRejectsBadJobs(t *testing.T) {
	t.Parallel()
	run := func(context.Context) error { return nil }
	for _, tc := range []struct {
		name string
		jobs []Job
	}{
		{"no name", []Job{{Run: run, Interval: time.Second}}},
		{"no run", []Job{{Name: "a", Interval: time.Second}}},
		{"zero interval", []Job{{Name: "a", Run: run}}},
		{"negative delay", []Job{{Name: "a", Run: run, Interval: time.Second, FirstDelay: -1}}},
		{"same name", []Job{{Name: "a", Run: run, Interval: time.Second}, {Name: "a", Run: run, Interval: time.Second}}},
		{"busy share above 1", []Job{{Name: "a", Run: run, Interval: time.Second, BusyShare: 1.5}}},
		{"negative busy share", []Job{{Name: "a", Run: run, Interval: time.Second, BusyShare: -0.1}}},
	} {
		if _, err := NewRunner(Config{}, tc.jobs...); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}

// Cancelling the context reaches a run in progress, and Run waits for it.
func TestRunnerStopsRunInProgress(t *testing.T) {
	t.Parallel()
	started := make(chan struct{})
	var finished atomic.Bool
	r, err := NewRunner(Config{}, Job{Name: "slow", Interval: time.Hour, Run: func(ctx context.Context) error {
		close(started)
		<-ctx.Done()
		finished.Store(true)
		return ctx.Err()
	}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- r.Run(ctx) }()
	<-started
	cancel()
	if err := <-done; err != nil || !finished.Load() {
		t.Fatalf("Run returned %v before the run finished (%v)", err, finished.Load())
	}
}

// While Busy, a job with a busy share of a quarter waits three times its
// last run's length after it ends (asking Busy again every second, each
// wait counted as held), and goes back to its interval once Busy reports
// false.
func TestRunnerBusyShare(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	reg := prometheus.NewRegistry()
	var busy atomic.Bool
	busy.Store(true)
	var mu sync.Mutex
	var starts []time.Time
	job := Job{Name: "fold", Interval: 10 * time.Second, BusyShare: 0.25, Run: func(context.Context) error {
		mu.Lock()
		starts = append(starts, clock.Now())
		n := len(starts)
		mu.Unlock()
		clock.Advance(3 * time.Second) // each run takes 3 s
		if n == 3 {
			busy.Store(false) // the processor caught up during the third run
		}
		return nil
	}}
	r, err := NewRunner(Config{Clock: clock, Registerer: reg, Busy: busy.Load}, job)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	t0 := clock.Now() // before Run: run 0 starts at once and moves the clock
	go func() { done <- r.Run(ctx) }()
	// Run 0 at +0 (to +3): none before +12 while busy, so the tick at +10
	// holds until +11, then +12, where run 1 starts (to +15: none before
	// +24); the tick at +22 holds twice, run 2 at +24 (to +27, and the
	// processor has caught up), run 3 at its tick, +34.
	for _, step := range []time.Duration{7 * time.Second, time.Second, time.Second, 7 * time.Second, time.Second, time.Second, 7 * time.Second} {
		clock.waitWaiters(t, 1)
		clock.Advance(step)
	}
	clock.waitWaiters(t, 1)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run returned %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	checkStarts(t, starts, t0, 0, 12*time.Second, 24*time.Second, 34*time.Second)
	if got := testutil.ToFloat64(r.held.WithLabelValues("fold")); got != 4 {
		t.Errorf("shopstream_job_held_seconds_total = %v, want 4", got)
	}
}

// pace waits (1−share)/share times the work's length while busy, not at
// all otherwise, and returns when its context ends.
func TestPace(t *testing.T) {
	t.Parallel()
	yes, no := func() bool { return true }, func() bool { return false }
	const d = 20 * time.Millisecond
	start := time.Now()
	if err := pace(context.Background(), yes, 0.25, d); err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); waited < 3*d {
		t.Errorf("busy, share 0.25, after %v of work: waited %v, want at least %v", d, waited, 3*d)
	}
	for _, c := range []struct {
		busy  func() bool
		share float64
	}{{no, 0.25}, {nil, 0.25}, {yes, 0}, {yes, 1}} {
		start := time.Now()
		// A wait, if any, would be an hour: returning at all says none.
		if err := pace(context.Background(), c.busy, c.share, time.Hour); err != nil || time.Since(start) > time.Minute {
			t.Errorf("busy %v, share %v: %v after %v, want no wait", c.busy != nil && c.busy(), c.share, err, time.Since(start))
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := pace(ctx, yes, 0.1, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("pace with an ended context: %v, want context.Canceled", err)
	}
}

// Two runners on one registry (a process's refresh, retention and quality
// runners) share the job metrics: each job has its series, and each
// runner's runs count in them.
func TestRunnersShareMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	ran := make(chan string, 2)
	job := func(name string) Job {
		return Job{Name: name, Interval: time.Hour, Run: func(context.Context) error { ran <- name; return nil }}
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, name := range []string{"first", "second"} {
		r, err := NewRunner(Config{Registerer: reg}, job(name))
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() { r.Run(ctx) })
	}
	got := map[string]bool{<-ran: true, <-ran: true}
	cancel()
	wg.Wait()
	if !got["first"] || !got["second"] {
		t.Fatalf("runs: %v", got)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	ok := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "shopstream_job_runs_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			var job, outcome string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "job":
					job = l.GetValue()
				case "outcome":
					outcome = l.GetValue()
				}
			}
			if outcome == "ok" {
				ok[job] = m.GetCounter().GetValue()
			}
		}
	}
	if ok["first"] != 1 || ok["second"] != 1 {
		t.Fatalf("shopstream_job_runs_total{outcome=\"ok\"} by job: %v, want 1 for first and second", ok)
	}
}

// checkStarts checks the runs started at t0 plus want, in order.
func checkStarts(t *testing.T, starts []time.Time, t0 time.Time, want ...time.Duration) {
	t.Helper()
	if len(starts) != len(want) {
		t.Fatalf("%d runs at %v, want %d", len(starts), starts, len(want))
	}
	for i, s := range starts {
		if s.Sub(t0) != want[i] {
			t.Errorf("run %d started at +%v, want +%v", i, s.Sub(t0), want[i])
		}
	}
}
