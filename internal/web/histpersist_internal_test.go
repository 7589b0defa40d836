package web

import (
	"context"
	"errors"
	"maps"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/store"
)

// TestSampleRowRoundTrip: a coarse sample read back from its row has the
// same counters, gauges (their kinds too) and histograms (labels, bounds,
// counts, sum) in a ring that never saw them, and a damaged row is
// refused, not half read.
func TestSampleRowRoundTrip(t *testing.T) {
	sim := newTierSim(time.Date(2026, 12, 1, 6, 0, 7, 0, time.UTC), time.Minute)
	sim.run(3, time.Minute)
	s := sim.h.samples[len(sim.h.samples)-1]
	row := encodeSample(s, sim.h.metaNow())

	other := newHistRing(sim.reg, time.Minute)
	other.metaOf("shopstream_something_else_total", map[string]string{}, true) // indexes differ
	back, err := other.decodeSample(s.at, row, decodeCache{vals: map[string]int{}, hists: map[string]*histSeries{}})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for i, m := range sim.h.metaNow() {
		j := other.index[m.key]
		if om := other.meta[j]; om.counter != m.counter || !maps.Equal(om.labels, m.labels) || back.value(j) != s.value(i) {
			t.Errorf("%s: read back %v (counter %v), want %v (counter %v)", m.key, back.value(j), om.counter, s.value(i), m.counter)
		}
		n++
	}
	if n < 2 || len(back.series) != len(s.series) || len(s.series) == 0 {
		t.Fatalf("%d values, %d histograms of %d", n, len(back.series), len(s.series))
	}
	for k, hs := range s.series {
		b := back.series[k]
		if b == nil || b.name != hs.name || !maps.Equal(b.labels, hs.labels) || !slices.Equal(b.bounds, hs.bounds) ||
			!slices.Equal(b.cum, hs.cum) || b.sum != hs.sum || math.IsNaN(b.sum) {
			t.Errorf("%s: read back %+v, want %+v", k, b, hs)
		}
	}
	for _, bad := range [][]byte{nil, row[:len(row)/2], append([]byte{0xff}, row...)} {
		if _, err := other.decodeSample(s.at, bad, decodeCache{}); err == nil {
			t.Errorf("a damaged row (%d bytes) was read", len(bad))
		}
	}
}

// failingSamples is a store of system samples that fails while down.
type failingSamples struct {
	mu   sync.Mutex
	down bool
	rows []store.SystemSample
}

var errDown = errors.New("store down")

func (f *failingSamples) SaveSystemSample(_ context.Context, s store.SystemSample, _ time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return errDown
	}
	f.rows = append(f.rows, s)
	return nil
}

func (f *failingSamples) SystemSamples(context.Context, string, int, time.Time) ([]store.SystemSample, error) {
	return nil, errDown
}

func (f *failingSamples) SystemSampleInstances(context.Context) ([]store.SystemSampleInstance, error) {
	return nil, errDown
}

// TestSavesWaitForTheStore: the samples taken and folded while the store
// fails are saved, in order, once it is back; no more than maxUnsaved
// wait, the oldest fine samples going first (not the newest), then the
// oldest coarse ones.
// A restore from a failing store fails.
func TestSavesWaitForTheStore(t *testing.T) {
	st := &failingSamples{down: true}
	sim := newTierSim(time.Date(2026, 12, 1, 6, 0, 7, 0, time.UTC), time.Minute)
	var logged int
	sim.h.persist = &histPersist{st: st, instance: "p1", logf: func(string, ...any) { logged++ }}
	sim.run(60, time.Minute) // 13 five-minute samples (06:01 the first) and two hours'
	if len(st.rows) != 0 || logged == 0 {
		t.Fatalf("%d rows saved and %d failures logged while the store was down", len(st.rows), logged)
	}
	// counts is how many rows of the fine and the coarse tiers were
	// saved from row from on, and the oldest fine one.
	counts := func(from int) (fine, coarse int, oldest time.Time) {
		for _, r := range st.rows[from:] {
			if r.Step == int(savedFine.every/time.Second) {
				if fine == 0 {
					oldest = r.At
				}
				fine++
			} else {
				coarse++
			}
		}
		return fine, coarse, oldest
	}
	st.down = false
	sim.run(5, time.Minute) // one more five-minute sample
	// 16 coarse samples; of the 60 fine ones of the outage, those that
	// fit beside the 15 coarse ones and the one queued at the first tick
	// with the store back, then the five since.
	keptFine := maxUnsaved - 15 - 1
	fine, coarse, oldest := counts(0)
	if coarse != 16 || fine != keptFine+5 || !oldest.Equal(sim.ticks[60-keptFine].at) {
		t.Fatalf("%d coarse and %d fine rows saved once the store was back (the oldest at %v), want 16 and %d (from %v)",
			coarse, fine, oldest, keptFine+5, sim.ticks[60-keptFine].at)
	}
	for i := 1; i < len(st.rows); i++ {
		a, b := st.rows[i-1], st.rows[i]
		if b.Step == a.Step && !b.At.After(a.At) {
			t.Errorf("row %d (%d s at %v) saved after %v", i, b.Step, b.At, a.At)
		}
	}
	saved := len(st.rows)
	st.down = true
	sim.run(5*(maxUnsaved+10), time.Minute)
	st.down = false
	sim.run(1, time.Minute)
	if fine, coarse, _ := counts(saved); coarse != maxUnsaved-1 || fine != 1 {
		t.Errorf("%d coarse and %d fine rows saved after a long outage, want the newest %d coarse and the fine one since", coarse, fine, maxUnsaved-1)
	}
	// A restore from a store that fails says so and restores nothing.
	r := newHistRing(sim.reg, time.Minute)
	if err := r.restore(context.Background(), st, "p1"); !errors.Is(err, errDown) || len(r.tiers[0].samples) != 0 {
		t.Errorf("restoring from a failing store: %v, %d samples", err, len(r.tiers[0].samples))
	}
}
