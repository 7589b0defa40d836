package detector_test

import (
	"context"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/shopstream/shopstream/internal/detector"
	"github.com/shopstream/shopstream/internal/fraud"
	"github.com/shopstream/shopstream/internal/store"
)

// tinyModel returns the encoding of a forest trained on random vectors.
func tinyModel(t testing.TB, seed uint64) []byte {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	vecs := make([][]float64, 300)
	for i := range vecs {
		vecs[i] = make([]float64, fraud.NumFeatures)
		for j := range vecs[i] {
			vecs[i][j] = rng.Float64() * 10
		}
	}
	m, err := fraud.TrainModel(vecs, int64(seed))
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// countingStore counts FraudModel reads.
type countingStore struct {
	store.Fraud
	reads atomic.Int64
}

func (c *countingStore) FraudModel(ctx context.Context, v int) (*store.FraudModel, error) {
	c.reads.Add(1)
	return c.Fraud.FraudModel(ctx, v)
}

func inUse(d *detector.Detector) [2]int {
	var v [2]int
	if m := d.Active(); m != nil {
		v[0] = m.Version
	}
	if m := d.Shadow(); m != nil {
		v[1] = m.Version
	}
	return v
}

func TestModelWatcherFollowsStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := &countingStore{Fraud: openSQLite(t)}
	det := newDetector(t)
	reg := prometheus.NewRegistry()
	w := detector.NewModelWatcher(det, st, detector.WatchConfig{Logger: quiet, Registerer: reg})
	apply := func(want [2]int) {
		t.Helper()
		if err := w.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		if got := inUse(det); got != want {
			t.Fatalf("in use: %v, want %v", got, want)
		}
	}
	save := func(status string, params []byte) {
		t.Helper()
		if _, err := st.SaveFraudModel(ctx, store.FraudModel{Status: status, Params: params}); err != nil {
			t.Fatal(err)
		}
	}
	apply([2]int{0, 0})
	save(store.StatusActive, tinyModel(t, 1))
	apply([2]int{1, 0})
	if det.Scorer() == nil || det.Active().Model == nil {
		t.Fatal("no model in the detector")
	}
	save(store.StatusShadow, tinyModel(t, 2))
	apply([2]int{1, 2})
	shadow := det.Shadow()
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP shopstream_fraud_model_version Fraud model version in use, by role (active, shadow); 0 for none.
# TYPE shopstream_fraud_model_version gauge
shopstream_fraud_model_version{role="active"} 1
shopstream_fraud_model_version{role="shadow"} 2
`), "shopstream_fraud_model_version"); err != nil {
		t.Error(err)
	}

	// Promotion reuses the decoded shadow.
	reads := st.reads.Load()
	if err := st.SetFraudModelStatus(ctx, 2, store.StatusActive, "", time.Now()); err != nil {
		t.Fatal(err)
	}
	apply([2]int{2, 0})
	if det.Active() != shadow || st.reads.Load() != reads {
		t.Fatalf("promoting the shadow read it again (%d reads) or replaced it", st.reads.Load()-reads)
	}
	// Nothing changed: nothing is read.
	apply([2]int{2, 0})
	if st.reads.Load() != reads {
		t.Fatal("an unchanged poll read a model")
	}
	if _, err := st.RollbackFraudModel(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
	apply([2]int{1, 0})

	// A version that does not decode is scored as none, and read once.
	save(store.StatusShadow, []byte("not a model"))
	reads = st.reads.Load()
	apply([2]int{1, 0})
	apply([2]int{1, 0})
	if n := st.reads.Load() - reads; n != 1 {
		t.Fatalf("a broken version was read %d times, want once", n)
	}
}

func TestModelWatcherRun(t *testing.T) {
	t.Parallel()
	st := openSQLite(t)
	det := newDetector(t)
	w := detector.NewModelWatcher(det, st, detector.WatchConfig{Interval: 10 * time.Millisecond, Logger: quiet})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	if _, err := st.SaveFraudModel(context.Background(), store.FraudModel{Status: store.StatusActive, Params: tinyModel(t, 3)}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for inUse(det) != [2]int{1, 0} {
		if time.Now().After(deadline) {
			t.Fatal("the watcher did not pick up the active version")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
}
