package monitor

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/event"
	"github.com/shopstream/shopstream/internal/quality"
)

var t0 = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

func TestTallyRows(t *testing.T) {
	var a, b Tally
	for range 90 {
		a.Add(quality.OK, nil)
	}
	for range 6 {
		a.Add(quality.OK, []string{"late_event", "late_event"})
	}
	for range 3 {
		a.Add(quality.UnknownCountry, []string{"ignored"})
	}
	b.Add(quality.DuplicateID, nil)
	a.Merge(&b)
	rows := Summarize(a.Rows(t0))
	want := map[string]Counts{
		All:                            {Checked: 100, Passed: 96, Warned: 6, Failed: 4},
		string(quality.UnknownCountry): {Checked: 99, Passed: 96, Failed: 3},
		string(quality.DuplicateID):    {Checked: 97, Passed: 96, Failed: 1},
		string(quality.MalformedJSON):  {Checked: 96, Passed: 96},
		"late_event":                   {Checked: 96, Passed: 96, Warned: 6},
	}
	for check, w := range want {
		if got := rows[check]; got != w {
			t.Errorf("%s: got %+v, want %+v", check, got, w)
		}
	}
	if _, ok := rows["ignored"]; ok {
		t.Errorf("a failed record's warnings were counted")
	}
	if len(rows) != len(Checks)+2 {
		t.Errorf("%d checks, want every check, all and the warning: %v", len(rows), rows)
	}
	if s, ok := rows[All].Score(); !ok || s != 0.96 {
		t.Errorf("score %v %v, want 0.96", s, ok)
	}
	if _, ok := (Counts{}).Score(); ok {
		t.Errorf("a score of nothing checked")
	}
}

func TestPSI(t *testing.T) {
	if got := PSI([]float64{10, 20, 30}, []float64{20, 40, 60}); got != 0 {
		t.Errorf("PSI of equal shares = %v", got)
	}
	// Shares 0.5/0.5 against 0.25/0.75: 0.25·ln 2 + 0.25·ln 1.5... by hand.
	want := (0.25-0.5)*math.Log(0.25/0.5) + (0.75-0.5)*math.Log(0.75/0.5)
	if got := PSI([]float64{1, 1}, []float64{1, 3}); math.Abs(got-want) > 1e-12 {
		t.Errorf("PSI = %v, want %v", got, want)
	}
	if got := PSI([]float64{1, 0}, []float64{0, 1}); math.IsInf(got, 0) || got < 1 {
		t.Errorf("PSI of disjoint bins = %v, want large and finite", got)
	}
}

// shop is a synthetic stream of transactions: log-normal amounts,
// 1 to 6 items, three channels.
type shop struct {
	rng        *rand.Rand
	amountMul  float64
	appShare   float64
	extraItems int
	eventLag   time.Duration
	procLag    time.Duration
	// failRate is the share of records failing unknown_country.
	failRate float64
}

func newShop(seed uint64) *shop {
	return &shop{rng: rand.New(rand.NewPCG(seed, 1)), amountMul: 1, appShare: 0.3, eventLag: 2 * time.Second, procLag: 100 * time.Millisecond}
}

func (s *shop) minute(m *Monitor, now time.Time, n int) {
	sk := m.Begin(now)
	var tx event.Transaction
	for range n {
		if s.rng.Float64() < s.failRate {
			sk.Observe(quality.UnknownCountry, nil, nil, time.Time{})
			continue
		}
		tx.TotalCents = event.Cents(s.amountMul * math.Exp(8+0.8*s.rng.NormFloat64()))
		tx.Items = make([]event.Item, 1+s.rng.IntN(6)+s.extraItems)
		switch u := s.rng.Float64(); {
		case u < s.appShare:
			tx.Channel = "app"
		case u < s.appShare+(1-s.appShare)/2:
			tx.Channel = "web"
		default:
			tx.Channel = "mobile_web"
		}
		tx.EventTime = now.Add(-time.Duration(s.rng.ExpFloat64() * float64(s.eventLag)))
		sk.Observe(quality.OK, nil, &tx, now.Add(-time.Duration(s.rng.ExpFloat64()*float64(s.procLag))))
	}
	sk.Done()
}

// run feeds minutes of n records each to m, evaluating after each, and
// returns the findings per detector/subject from minute warm on.
func run(m *Monitor, s *shop, from time.Time, minutes, n, warm int, plant func(i int)) (map[string]int, int) {
	found := map[string]int{}
	evals := 0
	for i := range minutes {
		if plant != nil {
			plant(i)
		}
		now := from.Add(time.Duration(i)*time.Minute + 30*time.Second)
		s.minute(m, now, n)
		if i < warm {
			continue
		}
		evals++
		for _, f := range m.Evaluate(now).Findings {
			found[f.Key()]++
		}
	}
	return found, evals
}

// TestStreamDetectorsQuiet runs 10,000 normal minutes of 300 records
// through the freshness and drift detectors: none may fire.
func TestStreamDetectorsQuiet(t *testing.T) {
	t.Parallel()
	m := New(Config{})
	found, evals := run(m, newShop(7), t0, 10_000, 300, 80, nil)
	if len(found) > 0 {
		t.Errorf("false alarms in %d normal minutes: %v", evals, found)
	}
	ev := m.Evaluate(t0.Add(9_999*time.Minute + 30*time.Second))
	for _, d := range ev.Drift {
		if d.Cur < 4000 || d.Ref < 17000 || d.PSI > 0.02 {
			t.Errorf("normal drift %+v: want 4,500 and 18,000 records and a PSI near 0", d)
		}
	}
	if ev.Lags.Event < time.Second || ev.Lags.Event > 3*time.Second || ev.Lags.Processing > 200*time.Millisecond {
		t.Errorf("lags %+v, want medians near 1.4 s and 70 ms", ev.Lags)
	}
}

func TestStreamDetectorsFire(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		plant func(*shop)
		want  string
		sev   Severity
	}{
		{"amounts up by half", func(s *shop) { s.amountMul = 1.5 }, "drift/amount", Warning},
		{"amounts doubled", func(s *shop) { s.amountMul = 2 }, "drift/amount", Critical},
		{"app share 0.3 to 0.6", func(s *shop) { s.appShare = 0.6 }, "drift/channel", Critical},
		{"three more items", func(s *shop) { s.extraItems = 3 }, "drift/items_per_order", Critical},
		{"events ten minutes late", func(s *shop) { s.eventLag = 10 * time.Minute }, "freshness/event_time_lag", Warning},
		{"kafka two minutes behind", func(s *shop) { s.procLag = 2 * time.Minute }, "freshness/processing_lag", Warning},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m, s := New(Config{}), newShop(11)
			var first *Finding
			worst := Severity("")
			for i := range 140 {
				if i == 120 {
					tc.plant(s)
				}
				now := t0.Add(time.Duration(i)*time.Minute + 30*time.Second)
				s.minute(m, now, 300)
				for _, f := range m.Evaluate(now).Findings {
					if i < 120 {
						t.Fatalf("minute %d, before the anomaly: %+v", i, f)
					}
					if f.Key() != tc.want {
						continue
					}
					if first == nil {
						first = &f
						// Drift fills the 15-minute current window gradually.
						if i > 130 {
							t.Errorf("found %d minutes after the anomaly began", i-120)
						}
					}
					if rank(f.Severity) > rank(worst) {
						worst = f.Severity
					}
				}
			}
			if first == nil {
				t.Fatalf("%s never found", tc.want)
			}
			if worst != tc.sev {
				t.Errorf("worst severity %s, want %s", worst, tc.sev)
			}
			if first.Message == "" || first.Value < first.Threshold {
				t.Errorf("finding %+v: want a message and the value past the threshold", first)
			}
		})
	}
}

// poisson draws a Poisson count of mean lambda (normal approximation with
// continuity, fine above 50; Knuth's method below).
func poisson(rng *rand.Rand, lambda float64) float64 {
	if lambda > 50 {
		return math.Max(0, math.Round(lambda+math.Sqrt(lambda)*rng.NormFloat64()))
	}
	l, k, p := math.Exp(-lambda), 0.0, 1.0
	for {
		p *= rng.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

// volumeStream is per-minute transaction counts with a daily cycle (±60%)
// and day-to-day variation (5%), the shape of the generator's shop.
func volumeStream(seed uint64, days int, base float64) []float64 {
	rng := rand.New(rand.NewPCG(seed, 2))
	out := make([]float64, days*1440)
	for d := range days {
		f := 1 + 0.05*rng.NormFloat64()
		for m := range 1440 {
			lambda := base * f * (1 + 0.6*math.Sin(2*math.Pi*float64(m)/1440))
			out[d*1440+m] = poisson(rng, lambda)
		}
	}
	return out
}

func history(counts []float64, i int, cfg VolumeConfig) VolumeHistory {
	cfg = cfg.WithDefaults()
	var h VolumeHistory
	for d := 1; d <= cfg.Days; d++ {
		var xs []float64
		for j := i - d*1440 - cfg.Spread; j <= i-d*1440+cfg.Spread; j++ {
			if j >= 0 {
				xs = append(xs, counts[j])
			}
		}
		h.Days = append(h.Days, xs)
	}
	for j := max(0, i-cfg.Rolling); j < i; j++ {
		h.Rolling = append(h.Rolling, counts[j])
	}
	return h
}

// TestVolumeQuiet judges 14 days (20,160 minutes) of normal counts at a
// low and a high rate: the rolling band the first three days, the seasonal
// one after. The false-alarm rate stated in docs/quality.md is this test's.
func TestVolumeQuiet(t *testing.T) {
	t.Parallel()
	for _, base := range []float64{20, 1000, 60000} {
		counts := volumeStream(3, 14, base)
		alarms, judged := 0, map[string]int{}
		for i := 60; i < len(counts); i++ {
			b, fs := Volume(t0.Add(time.Duration(i)*time.Minute), counts[i], history(counts, i, VolumeConfig{}), VolumeConfig{})
			judged[b.Method]++
			alarms += len(fs)
		}
		if judged["seasonal"] < 11*1440-10 || judged["rolling"] < 3*1440-100 {
			t.Errorf("rate %v: bands used %v", base, judged)
		}
		if alarms > 0 {
			t.Errorf("rate %v/min: %d false alarms in %d minutes", base, alarms, len(counts)-60)
		}
	}
}

func TestVolumeFires(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		day    int // the anomaly's day: 1 is judged by the rolling band, 10 by the seasonal one
		factor float64
		sev    Severity
	}{
		{"spike x1.5 rolling", 1, 1.5, Warning},
		{"spike x2 rolling", 1, 2, Critical},
		{"spike x1.4 seasonal", 10, 1.4, Warning},
		{"spike x3 seasonal", 10, 3, Critical},
		{"drop to 60% seasonal", 10, 0.6, Warning},
		{"drop to 40% seasonal", 10, 0.4, Critical},
		{"outage seasonal", 10, 0, Critical},
		{"outage rolling", 1, 0, Critical},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			counts := volumeStream(5, 12, 1000)
			i := tc.day*1440 + 600
			x := math.Round(counts[i] * tc.factor)
			b, fs := Volume(t0.Add(time.Duration(i)*time.Minute), x, history(counts, i, VolumeConfig{}), VolumeConfig{})
			want := map[bool]string{true: "rolling", false: "seasonal"}[tc.day < 3]
			if b.Method != want {
				t.Errorf("band %q, want %q", b.Method, want)
			}
			if len(fs) != 1 || rank(fs[0].Severity) < rank(tc.sev) {
				t.Fatalf("count %v against %+v: findings %+v, want %s", x, b, fs, tc.sev)
			}
			if (tc.factor > 1) != (fs[0].Value > 0) {
				t.Errorf("z %v has the wrong sign", fs[0].Value)
			}
		})
	}
	if b, fs := Volume(t0, 5, VolumeHistory{Rolling: []float64{1, 2, 3}}, VolumeConfig{}); b.Method != "" || fs != nil {
		t.Errorf("judged with too little history: %+v %v", b, fs)
	}
}

// checkStream is per-minute counts of records and of unknown_country
// failures at rate p.
func failureCounts(rng *rand.Rand, n int, p float64) Counts {
	f := int64(poisson(rng, float64(n)*p))
	return Counts{Checked: int64(n), Passed: int64(n) - f, Failed: f}
}

func windows(series []map[string]Counts, i int, cfg RiseConfig) (map[string]Counts, map[string]Counts) {
	cfg = cfg.WithDefaults()
	base, rec := map[string]Counts{}, map[string]Counts{}
	for j := max(0, i-cfg.Recent-cfg.Baseline); j <= i; j++ {
		dst := base
		if j > i-cfg.Recent {
			dst = rec
		}
		for c, v := range series[j] {
			dst[c] = dst[c].Add(v)
		}
	}
	return base, rec
}

// TestFailureRise runs 10,000 normal minutes of 1,000 records (1% and
// 0.1% failing two checks): no alarm; then plants rises.
func TestFailureRise(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(9, 9))
	var series []map[string]Counts
	minute := func(pCountry, pCard float64) map[string]Counts {
		return map[string]Counts{"unknown_country": failureCounts(rng, 1000, pCountry), "invalid_card": failureCounts(rng, 1000, pCard)}
	}
	alarms := 0
	for i := range 10_000 {
		series = append(series, minute(0.01, 0.001))
		if i >= 65 {
			base, rec := windows(series, i, RiseConfig{})
			alarms += len(FailureRise(base, rec, RiseConfig{}))
		}
	}
	if alarms > 0 {
		t.Errorf("%d false alarms in 10,000 normal minutes", alarms)
	}
	// A rise of unknown_country to 3% for five minutes; invalid_card stays.
	for range 5 {
		series = append(series, minute(0.03, 0.001))
	}
	base, rec := windows(series, len(series)-1, RiseConfig{})
	fs := FailureRise(base, rec, RiseConfig{})
	if len(fs) != 1 || fs[0].Subject != "unknown_country" || fs[0].Severity != Warning || fs[0].Value < 2 {
		t.Errorf("findings %+v, want a warning about unknown_country", fs)
	}
	// invalid_card from 0.1% to 2%: critical.
	for range 5 {
		series = append(series, minute(0.01, 0.02))
	}
	base, rec = windows(series, len(series)-1, RiseConfig{})
	fs = FailureRise(base, rec, RiseConfig{})
	if len(fs) != 1 || fs[0].Subject != "invalid_card" || fs[0].Severity != Critical {
		t.Errorf("findings %+v, want invalid_card critical", fs)
	}
}

func TestTracker(t *testing.T) {
	var tr Tracker
	w := Finding{Detector: DetectDrift, Subject: "amount", Severity: Warning}
	c := w
	c.Severity = Critical
	steps := []struct {
		in   []Finding
		news int
	}{
		{[]Finding{w}, 1}, // starts
		{[]Finding{w}, 0}, // lasts
		{[]Finding{c}, 1}, // worsens
		{[]Finding{w}, 0}, // eases
		{nil, 0},          // ends
		{[]Finding{w}, 1}, // starts again
	}
	for i, s := range steps {
		if got := tr.Update(s.in); len(got) != s.news {
			t.Errorf("step %d: %d new findings, want %d", i, len(got), s.news)
		}
	}
}

// TestVolumeRollingOnly: a stream that runs far faster than its earlier
// days (run's demo after its backfill) is critical against the seasonal
// band every minute; with RollingOnly it is judged against its own last
// hour, steady, and a real jump within it still fires.
func TestVolumeRollingOnly(t *testing.T) {
	minute := time.Date(2026, 12, 3, 6, 6, 0, 0, time.UTC)
	days := make([][]float64, 7)
	for i := range days {
		days[i] = []float64{1, 2, 2, 3, 2}
	}
	rolling := make([]float64, 45)
	for i := range rolling {
		rolling[i] = 600 + float64(i%7) - 3
	}
	h := VolumeHistory{Days: days, Rolling: rolling}
	if b, f := Volume(minute, 600, h, VolumeConfig{}); b.Method != "seasonal" || len(f) != 1 || f[0].Severity != "critical" {
		t.Fatalf("default: band %+v, findings %+v; want the seasonal band and a critical finding", b, f)
	}
	if b, f := Volume(minute, 600, h, VolumeConfig{RollingOnly: true}); b.Method != "rolling" || len(f) != 0 {
		t.Fatalf("rolling only, a steady minute: band %+v, findings %+v; want the rolling band and none", b, f)
	}
	if b, f := Volume(minute, 1500, h, VolumeConfig{RollingOnly: true}); b.Method != "rolling" || len(f) != 1 {
		t.Fatalf("rolling only, 2.5 times the hour: band %+v, findings %+v; want a finding", b, f)
	}
}
