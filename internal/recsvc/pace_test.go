package recsvc

import (
	"context"
	"runtime"
	"testing"
	"time"
)

// After work that took d, a pacer at share s owes d·(1/s − 1) of rest; a
// share of 1 owes nothing.
func TestPacerOwesRestInProportion(t *testing.T) {
	now := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		share float64
		work  time.Duration
		owed  time.Duration
	}{
		{0.1, 100 * time.Millisecond, 900 * time.Millisecond},
		{0.25, 40 * time.Millisecond, 120 * time.Millisecond},
		{0.5, time.Second, time.Second},
		{1, time.Second, 0},
	} {
		p := &pacer{share: c.share, now: func() time.Time { return now }}
		p.spent(c.work)
		owed := p.until.Sub(now)
		if c.owed == 0 && p.until.IsZero() {
			owed = 0
		}
		if owed != c.owed {
			t.Errorf("share %g, work %v: owes %v, want %v", c.share, c.work, owed, c.owed)
		}
	}
}

// wait returns at once when nothing is owed, rests what is owed, and
// gives up when its context ends.
func TestPacerWait(t *testing.T) {
	var rested []time.Duration
	p := &pacer{share: 0.5, now: time.Now, rested: func(d time.Duration) { rested = append(rested, d) }}
	if err := p.wait(context.Background()); err != nil || len(rested) != 0 {
		t.Fatalf("wait with nothing owed = %v, rested %v; want nil and no rest", err, rested)
	}
	p.spent(20 * time.Millisecond)
	if err := p.wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(rested) != 1 || rested[0] <= 0 || rested[0] > 20*time.Millisecond {
		t.Fatalf("rested %v after 20 ms of work at share 0.5, want one rest in (0, 20 ms]", rested)
	}
	if !time.Now().After(p.until) && !time.Now().Equal(p.until) {
		t.Fatalf("wait returned before the rest was over")
	}
	p.spent(time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.wait(ctx); err != context.Canceled {
		t.Fatalf("wait with an ended context = %v, want context.Canceled", err)
	}
	var none *pacer
	if err := none.wait(context.Background()); err != nil {
		t.Fatalf("a nil pacer waited: %v", err)
	}
	none.spent(time.Second)
}

// On a host with half a core or more idle, work owes no rest; on a busy
// host, or one whose idleness is unknown, it does.
func TestPacerRestsOnlyOnABusyHost(t *testing.T) {
	now := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		cores float64
		known bool
		owes  bool
	}{{1.2, true, false}, {0.5, true, false}, {0.3, true, true}, {0, false, true}} {
		p := &pacer{share: 0.1, now: func() time.Time { return now },
			idle: func() (float64, bool) { return c.cores, c.known }}
		p.spent(time.Second)
		if owes := p.until.After(now); owes != c.owes {
			t.Errorf("%.1f idle cores (known %v): owes rest %v, want %v", c.cores, c.known, owes, c.owes)
		}
	}
}

// The host's idle cores, read from /proc/stat where there is one, lie
// between none and the cores there are.
func TestHostIdle(t *testing.T) {
	h := newHostIdle()
	if !h.ok {
		t.Skip("no /proc/stat here")
	}
	time.Sleep(20 * time.Millisecond)
	cores, ok := h.sample()
	if !ok {
		t.Fatal("a second sample reported nothing")
	}
	if cores < 0 || cores > float64(runtime.NumCPU())+0.5 {
		t.Fatalf("%.2f idle cores on a host of %d", cores, runtime.NumCPU())
	}
}
