package generate

import (
	"context"
	"fmt"
	"math"
	"time"
)

// RunConfig says how fast, for how long and over which time Run drives a
// generator.
type RunConfig struct {
	// Rate is the live pace in records per second; 0 means as fast as
	// possible. Defaults to 0.
	Rate float64
	// Count stops the run after this many records, history included; 0
	// means no limit.
	Count int64
	// Duration stops the run after this much time on Now; 0 means no limit.
	// With Rate and without History it counts from the pace's start,
	// after the live phase is primed; otherwise from Run's start.
	Duration time.Duration
	// History is how much past to emit first, on the simulated clock and as
	// fast as possible: event times run from Config.Start (now − History
	// when Config.Start was not set) to Start + History. 0 means none.
	History time.Duration
	// Now is the wall clock. Defaults to time.Now.
	Now func() time.Time
	// Sleep waits for d or until ctx is done; tests pair it with a fake Now.
	// Defaults to a timer.
	Sleep func(ctx context.Context, d time.Duration) error
	// Ramp, with History and Rate both set, ends the history at the live
	// pace (see Ramp). The zero Ramp ends it at the shop's own.
	Ramp Ramp
	// Progress, if set, is called about once a second of Now, and once more
	// at the end with Final set.
	Progress func(Progress)
	// HistoryDone, if set, is called once when the history phase has
	// handed its last record to the sink (History > 0), with the number
	// of records it wrote; the sink may still hold some unflushed.
	HistoryDone func(records int64)
}

// Progress is a report on a run so far.
type Progress struct {
	Count     int64         // records written
	Fraud     int64         // of which fraud
	Bad       int64         // of which bad
	Rate      float64       // records per second since the previous report
	Elapsed   time.Duration // since Run started
	EventTime time.Time     // of the last record
	Final     bool          // the run is over
}

// Ramp ends a history at the live phase's pace, so that the stream does
// not jump from the shop's pace (a few orders a minute) to the live rate
// (hundreds) where the live phase begins, which a volume detector rightly
// flags. Over the history's last Rise + Hold, records are made as the live
// phase makes them (Generator.NextAt: its buyers, cooldown and fraud), at
// event times spaced by a pace that grows exponentially over Rise, from
// the history's own rate of regular purchases where the ramp starts to
// Run's Rate, then holds it for Hold. At the start of the hold the fraud
// campaigns are primed as the live phase's would be (primeLive). After
// the history's end the hold goes on until it has caught up with the wall
// clock (the history takes a while to send), and the live phase starts
// from there at the same spacing.
type Ramp struct {
	Rise, Hold time.Duration
	// Max bounds the records of the ramp, about (the rise's are counted
	// as a quarter of Rate × Rise, an upper bound when the rates differ
	// 55-fold or more): Rise and Hold are shortened in proportion to fit.
	// 0 means no bound.
	Max int64
}

// DemoRamp is the ramp `shopstream run` ends its history with: an hour of
// growth and 40 minutes at the live rate, so that the volume detector's
// rolling baseline (the 60 minutes before the minute judged, from two
// minutes before the live phase) has its median and spread in the hold.
// Every record of the ramp is an order of the compressed live pace (a
// customer's order of the day, weeks early), which the customer analytics
// count: a longer hold (an hour, after two hours of growth: 47,500
// records) emptied the Promising segment at the first refresh and moved
// the BG/NBD fit from the generating parameters. At run's 10/s it is about
// 30,000 records (24,000 held), and no more than about 60,000 at any rate (a
// shorter hold and rise from about 18/s).
var DemoRamp = Ramp{Rise: time.Hour, Hold: 40 * time.Minute, Max: 60_000}

func (rc RunConfig) validate() error {
	switch {
	case math.IsNaN(rc.Rate) || math.IsInf(rc.Rate, 0) || rc.Rate < 0:
		return fmt.Errorf("generate: RunConfig.Rate must be a non-negative number of records per second, got %v", rc.Rate)
	case rc.Count < 0:
		return fmt.Errorf("generate: RunConfig.Count must not be negative, got %d", rc.Count)
	case rc.Duration < 0:
		return fmt.Errorf("generate: RunConfig.Duration must not be negative, got %s", rc.Duration)
	case rc.History < 0:
		return fmt.Errorf("generate: RunConfig.History must not be negative, got %s", rc.History)
	case rc.Ramp.Rise < 0 || rc.Ramp.Hold < 0 || rc.Ramp.Max < 0:
		return fmt.Errorf("generate: RunConfig.Ramp must not be negative, got %+v", rc.Ramp)
	}
	return nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// flushGrace bounds the final flush after the run's context is cancelled.
const flushGrace = 30 * time.Second

// Run drives g into sink in up to two phases, then flushes the sink:
//
//   - History > 0: the past, on the simulated clock, as fast as possible;
//     arrivals follow the customers' buy-till-you-die processes and
//     seasonality.
//   - Live: event time is Now, paced at Rate (or unpaced at Rate 0), and
//     each buyer is drawn in proportion to the customers' seasonal rates.
//
// With neither History nor Rate the whole run is on the simulated clock
// from Config.Start (DefaultStart unless set): the bulk mode for files and
// benchmarks, byte-identical for the same seed, with event times that may
// lie ahead of the wall clock.
//
// Run stops after Count records, after Duration, or when ctx is cancelled,
// which is a normal stop: Run still flushes (within a grace period) and
// returns nil. It returns the first error of the sink.
func Run(ctx context.Context, g *Generator, sink Sink, rc RunConfig) error {
	if err := rc.validate(); err != nil {
		return err
	}
	if rc.Now == nil {
		rc.Now = time.Now
	}
	if rc.Sleep == nil {
		rc.Sleep = sleepCtx
	}
	r := &runner{ctx: ctx, g: g, sink: sink, rc: rc}
	r.begin = rc.Now()
	r.lastReport, r.paceFrom = r.begin, r.begin
	err := r.run()
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), flushGrace)
	defer cancel()
	if ferr := sink.Flush(fctx); ferr != nil && err == nil {
		err = fmt.Errorf("flushing after %d records: %w", r.n, ferr)
	}
	r.report(rc.Now(), true)
	return err
}

type runner struct {
	ctx        context.Context
	g          *Generator
	sink       Sink
	rc         RunConfig
	begin      time.Time
	paceFrom   time.Time // Duration counts from here: begin, or the pace's start without history
	n          int64
	fraud, bad int64
	lastEvent  time.Time
	lastReport time.Time
	lastN      int64
}

// checkEvery is how many records an unpaced phase writes between looks at
// the clock and the context.
const checkEvery = 256

func (r *runner) run() error {
	g, rc := r.g, r.rc
	liveStart := time.Time{}
	if rc.History > 0 || rc.Rate == 0 {
		end := int64(math.MaxInt64)
		var rise, hold int64
		if rc.History > 0 {
			if !g.started && !g.startGiven {
				g.setStart(r.begin.Add(-rc.History))
			}
			end = g.startMs + rc.History.Milliseconds()
			if rc.Rate > 0 {
				rise, hold = rc.Ramp.span(rc.Rate, rc.History)
			}
		}
		for i := 0; ; i++ {
			if rc.Count > 0 && r.n >= rc.Count {
				return nil
			}
			if i%checkEvery == 0 && r.stop(rc.Now()) {
				return nil
			}
			if g.peekTime() >= end-rise-hold {
				break
			}
			if err := r.emit(g.Next()); err != nil {
				return err
			}
		}
		if rise+hold > 0 {
			t, done, err := r.ramp(end-rise-hold, rise, end)
			if done || err != nil {
				return err
			}
			liveStart = t
		}
	}
	if liveStart.IsZero() && rc.Rate > 0 {
		primed := rc.Now()
		// Start in the steady state of fraud at this pace.
		g.primeLive(primed.Add(-LiveWarmup).UnixMilli(), primed.UnixMilli(), rc.Rate)
		// With rings, their orders of the last day before the live phase
		// (Generator.CatchUp) end the history, at their own event times.
		for rc.Count == 0 || r.n < rc.Count {
			rec, ok := g.CatchUp()
			if !ok {
				break
			}
			if err := r.emit(rec); err != nil {
				return err
			}
		}
		// The pace starts once the generator is ready. Priming takes a
		// while at high rates (0.7 s at 20,000/s over a million
		// customers, more on a busy host); counted from before it, the
		// pace sent the records due meanwhile at once when it ended:
		// 30,000 in the first second of a run at 20,000/s. A run without
		// history lasts Duration from here.
		liveStart = rc.Now()
		if rc.History == 0 {
			r.paceFrom = liveStart
		}
	}
	if rc.History > 0 && rc.HistoryDone != nil {
		rc.HistoryDone(r.n)
	}
	for k := int64(0); ; k++ {
		if rc.Count > 0 && r.n >= rc.Count {
			return nil
		}
		now := rc.Now()
		if rc.Rate > 0 {
			due := liveStart.Add(time.Duration(float64(k) / rc.Rate * float64(time.Second)))
			if rc.Duration > 0 && due.Sub(r.paceFrom) >= rc.Duration {
				return nil // the next record is due after the end
			}
			// Sleep only when a millisecond ahead: at high rates records
			// go out in small bursts instead of one timer per record.
			if wait := due.Sub(now); wait >= time.Millisecond {
				if rc.Sleep(r.ctx, wait) != nil {
					return nil
				}
				now = rc.Now()
			}
		}
		if r.stop(now) {
			return nil
		}
		if err := r.emit(g.NextAt(now)); err != nil {
			return err
		}
	}
}

func (r *runner) emit(rec Record) error {
	if err := r.sink.Write(r.ctx, rec); err != nil {
		return fmt.Errorf("writing record %d (%s): %w", r.n+1, rec.TransactionID, err)
	}
	r.n++
	if rec.Fraud {
		r.fraud++
	}
	if rec.Bad != "" {
		r.bad++
	}
	r.lastEvent = rec.EventTime
	return nil
}

// stop reports progress when due and whether the run must end.
func (r *runner) stop(now time.Time) bool {
	if now.Sub(r.lastReport) >= time.Second {
		r.report(now, false)
	}
	if r.rc.Duration > 0 && now.Sub(r.paceFrom) >= r.rc.Duration {
		return true
	}
	return r.ctx.Err() != nil
}

func (r *runner) report(now time.Time, final bool) {
	p := Progress{
		Count:     r.n,
		Fraud:     r.fraud,
		Bad:       r.bad,
		Elapsed:   now.Sub(r.begin),
		EventTime: r.lastEvent,
		Final:     final,
	}
	if d := now.Sub(r.lastReport).Seconds(); d > 0 {
		p.Rate = float64(r.n-r.lastN) / d
	}
	if final {
		if d := p.Elapsed.Seconds(); d > 0 {
			p.Rate = float64(r.n) / d
		}
	}
	r.lastReport, r.lastN = now, r.n
	if r.rc.Progress != nil {
		r.rc.Progress(p)
	}
}

// span is the ramp's rise and hold in ms for a live pace of rate records
// a second and a history of h: the hold first, within h, both shortened to
// Max.
func (rp Ramp) span(rate float64, h time.Duration) (rise, hold int64) {
	hold = min(rp.Hold, h).Milliseconds()
	rise = min(rp.Rise, h-min(rp.Hold, h)).Milliseconds()
	if n := rate / 1000 * (float64(hold) + float64(rise)/4); rp.Max > 0 && n > float64(rp.Max) {
		f := float64(rp.Max) / n
		rise, hold = int64(float64(rise)*f), int64(float64(hold)*f)
	}
	return rise, hold
}

// ramp makes the history's records from t0 to end (ms) as the live phase
// would, rising over rise ms from the history's pace at t0 to Rate and
// holding it (see Ramp), then goes on at Rate until the next record's
// time is past the wall clock, and returns that time: where the live
// phase takes over. done is true when the run must end.
func (r *runner) ramp(t0, rise, end int64) (live time.Time, done bool, err error) {
	g, rc := r.g, r.rc
	perMs := rc.Rate / 1000
	g.refresh(t0)
	r0 := min(max(g.ratePerMs, perMs*1e-5), perMs)
	// Record k (from 1) falls where the pace's integral from t0 reaches
	// k: r0/a (e^{a·Δt} − 1) over the rise, with a = ln(Rate/r0) / rise,
	// then k − n1 records later at Rate.
	t1, n1, a := float64(t0+rise), 0.0, 0.0
	if rise > 0 && r0 < perMs {
		a = math.Log(perMs/r0) / float64(rise)
		n1 = (perMs - r0) / a
	} else {
		t1 = float64(t0)
	}
	at := func(k float64) float64 {
		if k < n1 {
			return float64(t0) + math.Log1p(k*a/r0)/a
		}
		return t1 + (k-n1)/perMs
	}
	primed := false
	nowMs := int64(math.MinInt64)
	for k := 1.0; ; k++ {
		if rc.Count > 0 && r.n >= rc.Count {
			return time.Time{}, true, nil
		}
		if int64(k)%checkEvery == 0 {
			now := rc.Now()
			if r.stop(now) {
				return time.Time{}, true, nil
			}
			nowMs = now.UnixMilli()
		}
		t := at(k)
		if !primed && t >= t1 {
			// The hold starts with the fraud campaigns in flight that
			// the live phase keeps, as the live phase did without a
			// ramp; with rings, their orders of the day before (CatchUp).
			primed = true
			g.primeLive(int64(t1)-LiveWarmup.Milliseconds(), int64(t1), rc.Rate)
			for rc.Count == 0 || r.n < rc.Count {
				rec, ok := g.CatchUp()
				if !ok {
					break
				}
				if err := r.emit(rec); err != nil {
					return time.Time{}, true, err
				}
			}
		}
		if t >= float64(end) {
			if int64(t) >= nowMs {
				nowMs = rc.Now().UnixMilli()
			}
			if int64(t) >= nowMs {
				return time.UnixMilli(int64(t)).UTC(), false, nil
			}
		}
		if err := r.emit(g.NextAt(time.UnixMilli(int64(t)))); err != nil {
			return time.Time{}, true, err
		}
	}
}
