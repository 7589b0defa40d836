package generate

import (
	"context"
	"maps"
	"math"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/quality/monitor"
	"github.com/shopstream/shopstream/internal/testrace"
)

// runShop runs `shopstream run`'s shop at its defaults (its customers,
// lifecycle, fraud mix with rings, bad rate, 540 days of history at 10/s)
// with ramp, on a clock that moves 30 ms every time the history phase
// reads it (about 50 s over the history, the backfill's own time, which
// the ramp must catch up with) and stands still in the live phase but for
// its sleeps. It returns the good records per minute of event time, where
// the history ended in event time (the run's start) and where the live
// phase began (the clock when the history was done), and the history's
// record count.
func runShop(t *testing.T, ramp Ramp, live time.Duration) (perMin map[int64]int, begin, liveFrom time.Time, history int64) {
	t.Helper()
	mix := maps.Clone(DefaultFraudMix)
	mix[FraudRing], mix[SpreadCardTesting] = 0.1, 0.05 // run's --fraud-mix
	lc := DemoLifecycle
	g, err := New(Config{Seed: 1, Customers: 1_000_000, Products: 2000, FraudRate: 0.01, BadRate: 0.001, FraudMix: mix, Lifecycle: &lc})
	if err != nil {
		t.Fatal(err)
	}
	begin = time.Date(2026, 12, 3, 13, 56, 20, 0, time.UTC)
	clk := &fakeClock{t: begin, step: 30 * time.Millisecond}
	perMin = map[int64]int{}
	sink := countSink(func(r Record) {
		if r.Bad == "" {
			perMin[r.EventTime.Unix()/60]++
		}
	})
	err = Run(context.Background(), g, sink, RunConfig{Rate: 10, History: 540 * 24 * time.Hour, Duration: live, Ramp: ramp,
		Now: clk.Now, Sleep: clk.Sleep,
		HistoryDone: func(n int64) { liveFrom, history, clk.step = clk.t, n, 0 }})
	if err != nil {
		t.Fatal(err)
	}
	if liveFrom.IsZero() {
		t.Fatal("the history phase never ended")
	}
	return perMin, begin, liveFrom, history
}

// countSink is a Sink that hands each record to a function and keeps none.
type countSink func(Record)

func (s countSink) Write(_ context.Context, r Record) error { s(r); return nil }
func (s countSink) Flush(context.Context) error             { return nil }

// volumeFindings judges every minute run's volume watch judges from the
// start of the run (its first judgement, of the minute two minutes before
// the run started) to the last whole live minute before until, as the
// watch does: the good records of the minute against those of the 60
// before it that have any, with run's settings (the rolling band only).
func volumeFindings(perMin map[int64]int, begin, until time.Time) []monitor.Finding {
	var out []monitor.Finding
	cfg := monitor.VolumeConfig{RollingOnly: true}.WithDefaults()
	for m := begin.Add(-2*time.Minute).Unix() / 60; m < until.Unix()/60; m++ {
		var h monitor.VolumeHistory
		for p := m - int64(cfg.Rolling); p < m; p++ {
			if c := perMin[p]; c > 0 {
				h.Rolling = append(h.Rolling, float64(c))
			}
		}
		_, fs := monitor.Volume(time.Unix(m*60, 0), float64(perMin[m]), h, cfg)
		out = append(out, fs...)
	}
	return out
}

// TestRunRampNoVolumeFindingAtLive: run's shop, with run's ramp, gives the
// volume detector nothing to find where the live phase takes over; its
// history's last half hour is at the live pace, minute by minute (the live
// phase's 600 good records a minute less its 0.1% bad ones, within a
// fifth), and the ramp adds a bounded number of records. Without the ramp
// (run before it), the first live minutes are a critical finding: about
// 600 transactions against a band of a few a minute.
func TestRunRampNoVolumeFindingAtLive(t *testing.T) {
	testrace.SkipUnderRace(t)
	if testing.Short() {
		t.Skip("generates run's 540-day history twice")
	}
	const live = 10 * time.Minute
	perMin, begin, liveFrom, n := runShop(t, DemoRamp, live)
	t.Logf("with the ramp: %d history records, live from %s (%s after the history's end)", n, liveFrom.Format(time.TimeOnly), liveFrom.Sub(begin))
	if fs := volumeFindings(perMin, begin, begin.Add(live)); len(fs) > 0 {
		for _, f := range fs {
			t.Errorf("volume finding with the ramp: %s: %s", f.Severity, f.Message)
		}
	}
	// The history's last half hour (the rolling band's median), up to
	// the minute before the live phase's first.
	last := liveFrom.Unix()/60 - 1
	for m := last - 29; m <= last; m++ {
		if c := perMin[m]; c < 480 || c > 720 {
			t.Errorf("history minute %s: %d good records, want 600 within a fifth", time.Unix(m*60, 0).UTC().Format(time.TimeOnly), c)
		}
	}

	perMin0, begin0, _, n0 := runShop(t, Ramp{}, live)
	t.Logf("without the ramp: %d history records; the ramp adds %d", n0, n-n0)
	if held := int64(DemoRamp.Hold.Seconds() * 10); n-n0 > DemoRamp.Max || n-n0 < held {
		t.Errorf("the ramp adds %d records to the history, want between %d (the hold at 10/s) and %d", n-n0, held, DemoRamp.Max)
	}
	crit := 0
	for _, f := range volumeFindings(perMin0, begin0, begin0.Add(live)) {
		t.Logf("without the ramp: %s: %s", f.Severity, f.Message)
		if f.Severity == monitor.Critical {
			crit++
		}
	}
	if crit == 0 {
		t.Error("without the ramp, no critical volume finding at the live phase's start: the check cannot tell")
	}
}

// TestRampSpan: the ramp's rise and hold fit the history and Max.
func TestRampSpan(t *testing.T) {
	const week = 7 * 24 * time.Hour
	rise0, hold0 := DemoRamp.Rise.Milliseconds(), DemoRamp.Hold.Milliseconds()
	counted := func(rate float64, rise, hold int64) float64 { return rate / 1000 * (float64(hold) + float64(rise)/4) }
	for _, c := range []struct {
		rate       float64
		history    time.Duration
		rise, hold int64 // -1: shortened to Max
	}{
		{10, week, rise0, hold0},   // run's: 24,000 + 9,000 counted
		{1e-9, week, rise0, hold0}, // a crawl
		{100, week, -1, -1},
		{1e4, week, -1, -1},
		{10, 90 * time.Minute, 50 * 60_000, hold0}, // the hold first
		{10, 30 * time.Minute, 0, 30 * 60_000},     // the hold alone
	} {
		rise, hold := DemoRamp.span(c.rate, c.history)
		if c.rise < 0 {
			// Both shortened in proportion, to Max counted.
			n := counted(c.rate, rise, hold)
			if n > float64(DemoRamp.Max)*1.0001 || n < float64(DemoRamp.Max)*0.999 || hold == 0 ||
				math.Abs(float64(rise)/float64(hold)-float64(rise0)/float64(hold0)) > 0.01 {
				t.Errorf("rate %g: rise %d ms, hold %d ms, %.0f records counted; want Max %d and the same proportion", c.rate, rise, hold, n, DemoRamp.Max)
			}
			continue
		}
		if rise != c.rise || hold != c.hold {
			t.Errorf("rate %g, history %s: rise %d ms, hold %d ms; want %d and %d", c.rate, c.history, rise, hold, c.rise, c.hold)
		}
	}
	h := time.Hour.Milliseconds()
	if rise, hold := (Ramp{Rise: time.Hour, Hold: time.Hour}).span(1e6, week); rise != h || hold != h {
		t.Errorf("without Max: %d and %d ms, want an hour each", rise, hold)
	}
}
