package generate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/event"
)

// fakeClock stands still until someone sleeps, or ticks by step on every
// reading when step is set.
type fakeClock struct {
	t    time.Time
	step time.Duration
}

func (c *fakeClock) Now() time.Time {
	c.t = c.t.Add(c.step)
	return c.t
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.t = c.t.Add(d)
	return ctx.Err()
}

// recorder is a Sink that keeps what it is given.
type recorder struct {
	recs    []Record
	flushes int
	failAt  int // fail the Write of this record number (1-based); 0 = never
	onWrite func(n int)
}

func (s *recorder) Write(_ context.Context, r Record) error {
	if s.failAt == len(s.recs)+1 {
		return errors.New("disk full")
	}
	s.recs = append(s.recs, r)
	if s.onWrite != nil {
		s.onWrite(len(s.recs))
	}
	return nil
}

func (s *recorder) Flush(context.Context) error { s.flushes++; return nil }

func smallShop(t testing.TB, cfg Config) *Generator {
	t.Helper()
	cfg.Customers, cfg.Products = 2000, 200
	return newGen(t, cfg)
}

func TestRunCountIsExactAndReproducible(t *testing.T) {
	t.Parallel()
	run := func() []byte {
		var out bytes.Buffer
		clk := &fakeClock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
		err := Run(context.Background(), smallShop(t, Config{Seed: 4, BadRate: 0.05}), NewFileSink(&out, nil),
			RunConfig{Count: 12_345, Now: clk.Now, Sleep: clk.Sleep})
		if err != nil {
			t.Fatal(err)
		}
		return out.Bytes()
	}
	a, b := run(), run()
	if n := bytes.Count(a, []byte("\n")); n != 12_345 {
		t.Fatalf("Run wrote %d records, Count was 12345", n)
	}
	if !bytes.Equal(a, b) {
		t.Fatal("two bulk runs with the same seed differ")
	}
	if !bytes.Contains(a[:200], []byte(DefaultStart.Format("2006-01-02T15:04:05.000Z"))) {
		t.Fatalf("bulk run without Start does not begin at DefaultStart: %.200s", a)
	}
}

func TestRunPacesAtRate(t *testing.T) {
	t.Parallel()
	for _, rate := range []float64{100, 25_000} {
		clk := &fakeClock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
		begin := clk.t
		sink := &recorder{}
		err := Run(context.Background(), smallShop(t, Config{Seed: 1}), sink,
			RunConfig{Rate: rate, Duration: 10 * time.Second, Now: clk.Now, Sleep: clk.Sleep})
		if err != nil {
			t.Fatal(err)
		}
		if want := int(rate * 10); len(sink.recs) != want {
			t.Fatalf("rate %v for 10s: %d records, want %d", rate, len(sink.recs), want)
		}
		// The k-th record goes out when due, give or take the sleep
		// granularity (1ms early at most) and the event time's millisecond
		// truncation.
		for k, r := range sink.recs {
			due := begin.Add(time.Duration(float64(k) / rate * float64(time.Second)))
			if lag := r.EventTime.Sub(due); lag <= -2*time.Millisecond || lag > time.Millisecond {
				t.Fatalf("rate %v: record %d at %v, due %v", rate, k, r.EventTime, due)
			}
		}
		if sink.flushes != 1 {
			t.Fatalf("sink flushed %d times, want once at the end", sink.flushes)
		}
	}
}

func TestRunHistoryThenLive(t *testing.T) {
	t.Parallel()
	now := time.Date(2030, 5, 1, 12, 0, 0, 0, time.UTC)
	clk := &fakeClock{t: now}
	sink := &recorder{}
	var final Progress
	err := Run(context.Background(), smallShop(t, Config{Seed: 1}), sink, RunConfig{
		History: 30 * 24 * time.Hour, Rate: 50, Duration: 4 * time.Second,
		Now: clk.Now, Sleep: clk.Sleep,
		Progress: func(p Progress) {
			if p.Final {
				final = p
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	hist, live := 0, 0
	var prev time.Time
	for i, r := range sink.recs {
		if r.EventTime.Before(prev) {
			t.Fatalf("record %d at %v before the previous %v", i, r.EventTime, prev)
		}
		prev = r.EventTime
		if r.EventTime.Before(now) {
			hist++
			if r.EventTime.Before(now.Add(-30 * 24 * time.Hour)) {
				t.Fatalf("history record %d at %v, before now − History", i, r.EventTime)
			}
		} else {
			live++
		}
	}
	// 2000 customers buying about monthly: roughly 2000 orders a month.
	if hist < 1000 || hist > 4000 {
		t.Errorf("%d history records for 30 days of 2000 customers, want about 2000", hist)
	}
	if live != 200 {
		t.Errorf("%d live records in 4s at 50/s, want 200", live)
	}
	if !sink.recs[0].EventTime.Equal(now.Add(-30 * 24 * time.Hour)) {
		t.Errorf("history starts at %v, want now − History", sink.recs[0].EventTime)
	}
	if !final.Final || final.Count != int64(len(sink.recs)) {
		t.Errorf("final progress %+v for %d records", final, len(sink.recs))
	}
}

func TestRunHistoryFromGivenStart(t *testing.T) {
	t.Parallel()
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := &fakeClock{t: now, step: time.Microsecond}
	sink := &recorder{}
	err := Run(context.Background(), smallShop(t, Config{Seed: 1, Start: start}), sink, RunConfig{
		History: 7 * 24 * time.Hour, Duration: time.Millisecond, Now: clk.Now, Sleep: clk.Sleep,
	})
	if err != nil {
		t.Fatal(err)
	}
	end := start.Add(7 * 24 * time.Hour)
	hist := 0
	for i, r := range sink.recs {
		switch {
		case r.EventTime.Before(end):
			if hist != i || r.EventTime.Before(start) {
				t.Fatalf("record %d at %v out of place", i, r.EventTime)
			}
			hist++
		case r.EventTime.Before(now):
			t.Fatalf("record %d at %v, neither history nor live", i, r.EventTime)
		}
	}
	if !sink.recs[0].EventTime.Equal(start) || hist < 200 || hist == len(sink.recs) {
		t.Fatalf("%d history records from %v, %d live", hist, sink.recs[0].EventTime, len(sink.recs)-hist)
	}
}

func TestRunStopsOnCancel(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sink := &recorder{onWrite: func(n int) {
		if n == 1000 {
			cancel()
		}
	}}
	clk := &fakeClock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), step: time.Microsecond}
	if err := Run(ctx, smallShop(t, Config{Seed: 1}), sink, RunConfig{Now: clk.Now, Sleep: clk.Sleep}); err != nil {
		t.Fatalf("cancelled run returned %v, want nil", err)
	}
	if n := len(sink.recs); n < 1000 || n > 1000+checkEvery {
		t.Fatalf("run went on for %d records after cancel at 1000", n)
	}
	if sink.flushes != 1 {
		t.Fatalf("sink flushed %d times after cancel, want once", sink.flushes)
	}
}

func TestRunReportsProgress(t *testing.T) {
	t.Parallel()
	clk := &fakeClock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), step: time.Millisecond}
	var reports []Progress
	err := Run(context.Background(), smallShop(t, Config{Seed: 1}), &recorder{}, RunConfig{
		Rate: 1000, Count: 5000, Now: clk.Now, Sleep: clk.Sleep,
		Progress: func(p Progress) { reports = append(reports, p) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(reports) < 3 {
		t.Fatalf("%d progress reports over about 5 seconds", len(reports))
	}
	last := reports[len(reports)-1]
	if !last.Final || last.Count != 5000 || last.Rate < 500 || last.Rate > 1500 || last.Elapsed < 4*time.Second {
		t.Fatalf("final report %+v", last)
	}
	for _, p := range reports[:len(reports)-1] {
		if p.Final || p.Rate <= 0 {
			t.Fatalf("interim report %+v", p)
		}
	}
}

func TestRunSinkErrorAndBadConfig(t *testing.T) {
	t.Parallel()
	err := Run(context.Background(), smallShop(t, Config{Seed: 1}), &recorder{failAt: 10}, RunConfig{Count: 100})
	if err == nil || !strings.Contains(err.Error(), "disk full") || !strings.Contains(err.Error(), "record 10") {
		t.Fatalf("sink failure reported as %v", err)
	}
	for _, rc := range []RunConfig{{Rate: -1}, {Count: -1}, {Duration: -time.Second}, {History: -time.Hour}} {
		err := Run(context.Background(), smallShop(t, Config{Seed: 1}), &recorder{}, rc)
		if err == nil || !strings.Contains(err.Error(), "RunConfig.") {
			t.Fatalf("Run(%+v) = %v, want an error naming the field", rc, err)
		}
	}
}

// TestLiveFraudShareFromTheStart runs `shopstream run`'s shop (the demo
// lifecycle, 1% fraud, 0.1% bad records) through a history and into a
// paced live phase, and checks that the live phase's fraud share is the
// configured one from its first minutes, not only once the campaigns
// started live have played out: before primeLive, the first ten minutes
// held 0.38% fraud here (0.27–0.55% by seed).
func TestLiveFraudShareFromTheStart(t *testing.T) {
	const (
		rate   = 50 // records a second: more records per minute of event time, a tighter share
		window = 10 * time.Minute
	)
	var fraud, total int
	scen := map[string]int{}
	for seed := int64(1); seed <= 4; seed++ {
		lc := DemoLifecycle
		g, err := New(Config{Seed: seed, Customers: 1_000_000, FraudRate: 0.01, BadRate: 0.001, Lifecycle: &lc})
		if err != nil {
			t.Fatal(err)
		}
		clk := &fakeClock{t: time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)}
		var liveFrom time.Time
		sink := &recorder{}
		err = Run(context.Background(), g, sink, RunConfig{Rate: rate, History: 30 * 24 * time.Hour, Duration: window,
			Now: clk.Now, Sleep: clk.Sleep, HistoryDone: func(n int64) { liveFrom = clk.t }})
		if err != nil {
			t.Fatal(err)
		}
		if liveFrom.IsZero() {
			t.Fatal("the history phase never ended")
		}
		var f, n int
		for _, r := range sink.recs {
			if r.EventTime.Before(liveFrom) || r.Bad != "" {
				continue
			}
			n++
			if r.Fraud {
				f++
				scen[r.Scenario]++
			}
		}
		t.Logf("seed %d: %d of %d live good records in the first %s are fraud (%.2f%%)", seed, f, n, window, 100*float64(f)/float64(n))
		fraud += f
		total += n
	}
	if want := 4 * int(window.Seconds()) * rate * 99 / 100; total < want {
		t.Fatalf("%d live good records, want at least %d", total, want)
	}
	share := float64(fraud) / float64(total)
	t.Logf("all seeds: %d of %d (%.3f%%), by scenario %v", fraud, total, 100*share, scen)
	// The campaigns are clustered (a bot burst is 10–40 orders, about one
	// every 7 minutes at this pace), so four ten-minute windows hold about
	// 1,200 fraud records with a standard deviation near 120: ±0.3 points
	// is about 2.5 of it.
	if share < 0.007 || share > 0.013 {
		t.Errorf("live fraud share in the first %s is %.3f%%, want 1%% ± 0.3 points", window, 100*share)
	}
	for _, s := range Scenarios {
		if scen[s] == 0 {
			t.Errorf("no %s in the live phase's first %s", s, window)
		}
	}
}

// TestLiveRingsFromTheStart: with rings in the mix, the live phase holds
// ring orders from its first half hour, and the accounts of those rings
// that ordered in the day before it were sent at the end of the history
// (CatchUp), at their own event times, so that an entity stage whose
// window covers that day sees the rings' earlier accounts. Without rings
// in the mix nothing is caught up.
func TestLiveRingsFromTheStart(t *testing.T) {
	const window = 30 * time.Minute
	type order struct {
		cust, device, card, addr string
		at                       time.Time
	}
	run := func(seed int64, mix map[string]float64) (before, live []order, liveFrom time.Time, total int) {
		lc := DemoLifecycle
		g, err := New(Config{Seed: seed, Customers: 1_000_000, FraudRate: 0.01, Lifecycle: &lc, FraudMix: mix})
		if err != nil {
			t.Fatal(err)
		}
		clk := &fakeClock{t: time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)}
		sink := &recorder{}
		err = Run(context.Background(), g, sink, RunConfig{Rate: 10, History: 10 * 24 * time.Hour, Duration: window,
			Now: clk.Now, Sleep: clk.Sleep, HistoryDone: func(n int64) { liveFrom = clk.t; total = int(n) }})
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range sink.recs {
			if r.Scenario != FraudRing {
				continue
			}
			var ev struct {
				CustomerID string `json:"customer_id"`
				DeviceID   string `json:"device_id"`
				Address    string `json:"shipping_address"`
				Card       struct {
					BIN   string `json:"bin"`
					Last4 string `json:"last4"`
				} `json:"card"`
			}
			if err := json.Unmarshal(r.Value, &ev); err != nil {
				t.Fatal(err)
			}
			o := order{ev.CustomerID, ev.DeviceID, ev.Card.BIN + ev.Card.Last4, event.AddressKey(nil, ev.Address), r.EventTime}
			if i < total {
				before = append(before, o)
			} else {
				live = append(live, o)
			}
		}
		return before, live, liveFrom, total
	}
	var liveRing, joined int
	for seed := int64(1); seed <= 2; seed++ {
		before, live, liveFrom, _ := run(seed, map[string]float64{FraudRing: 0.1, CardTesting: 0.25, StolenCard: 0.2})
		accounts := map[string]map[string]bool{} // entity: accounts seen in the day before the live phase
		lastDay := 0
		for _, o := range before {
			if o.at.Before(liveFrom.Add(-RingReplay)) {
				continue
			}
			lastDay++
			for _, e := range []string{"d" + o.device, "c" + o.card, "a" + o.addr} {
				if accounts[e] == nil {
					accounts[e] = map[string]bool{}
				}
				accounts[e][o.cust] = true
			}
		}
		for _, o := range live {
			if o.at.Before(liveFrom) {
				t.Fatalf("seed %d: a live ring order at %v, before the live phase's start %v", seed, o.at, liveFrom)
			}
			liveRing++
			if len(accounts["d"+o.device]) > 0 || len(accounts["c"+o.card]) > 0 || len(accounts["a"+o.addr]) > 0 {
				joined++
			}
		}
		t.Logf("seed %d: %d ring orders in the day before the live phase, %d in its first %s", seed, lastDay, len(live), window)
	}
	// About 9% of 1% of 18,000 records a run: some 15 ring orders.
	if liveRing < 10 {
		t.Fatalf("%d ring orders in the live phases' first %s, want at least 10", liveRing, window)
	}
	t.Logf("%d of %d live ring orders share a device, card or shipping address with an account of the day before", joined, liveRing)
	if joined*2 < liveRing {
		t.Errorf("%d of %d live ring orders share a device, card or shipping address with an account that ordered in the day before: want most", joined, liveRing)
	}
	// Without rings nothing is caught up: the history ends where it did.
	lc := DemoLifecycle
	g, err := New(Config{Seed: 1, Customers: 1_000_000, FraudRate: 0.01, Lifecycle: &lc})
	if err != nil {
		t.Fatal(err)
	}
	g.primeLive(time.Now().Add(-LiveWarmup).UnixMilli(), time.Now().UnixMilli(), 10)
	if rec, ok := g.CatchUp(); ok {
		t.Errorf("the default mix, without rings, caught up %+v", rec)
	}
}

// primingClock is a fakeClock on which the live phase's priming takes
// prime, as a generator of a large shop at a high rate spends before its
// first live record: its second reading (Run's start, then the live
// phase's) is followed by a jump of prime.
type primingClock struct {
	fakeClock
	prime time.Duration
	reads int
}

func (c *primingClock) Now() time.Time {
	t := c.fakeClock.Now()
	if c.reads++; c.reads == 2 {
		c.t = c.t.Add(c.prime)
	}
	return t
}

// TestRunPaceStartsAfterPriming: the live pace counts from the end of the
// priming, so the records due while it primed do not go out at once when
// it ends, and a run of Duration sends Rate × Duration records.
func TestRunPaceStartsAfterPriming(t *testing.T) {
	t.Parallel()
	const rate = 1000
	clk := &primingClock{fakeClock: fakeClock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}, prime: 700 * time.Millisecond}
	sink := &recorder{}
	err := Run(context.Background(), smallShop(t, Config{Seed: 1}), sink,
		RunConfig{Rate: rate, Duration: 2 * time.Second, Now: clk.Now, Sleep: clk.Sleep})
	if err != nil {
		t.Fatal(err)
	}
	if len(sink.recs) != 2*rate {
		t.Fatalf("rate %d for 2s after priming: %d records, want %d", rate, len(sink.recs), 2*rate)
	}
	first := sink.recs[0].EventTime
	for k, r := range sink.recs {
		due := first.Add(time.Duration(k) * time.Second / rate)
		if lag := r.EventTime.Sub(due); lag < -2*time.Millisecond || lag > 2*time.Millisecond {
			t.Fatalf("record %d at %v, %v after the first; due %v after it: the pace counted the priming", k, r.EventTime,
				r.EventTime.Sub(first), due.Sub(first))
		}
	}
}
