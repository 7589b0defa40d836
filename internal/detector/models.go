package detector

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/shopstream/shopstream/internal/fraud"
	"github.com/shopstream/shopstream/internal/store"
)

// ModelStore is what a ModelWatcher reads: store.Fraud satisfies it.
type ModelStore interface {
	FraudModelsInUse(ctx context.Context) (active, shadow *store.FraudModel, err error)
	FraudModel(ctx context.Context, version int) (*store.FraudModel, error)
}

// WatchConfig configures a ModelWatcher.
type WatchConfig struct {
	// Interval is how often the store is polled. Defaults to 5 s: a
	// promotion or rollback reaches every processor within that.
	Interval time.Duration
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Registerer, when set, receives the shopstream_fraud_model_version
	// gauge.
	Registerer prometheus.Registerer
}

// ModelWatcher keeps a Detector's active and shadow models equal to the
// versions the store marks active and shadow, so every processor and
// server picks up a new shadow, a promotion or a rollback without a
// restart. Each version's parameters are read and decoded once; a promoted
// shadow is reused as it is.
type ModelWatcher struct {
	d   *Detector
	st  ModelStore
	cfg WatchConfig
	log *slog.Logger

	mu      sync.Mutex // one Sync at a time
	applied [2]int     // active and shadow versions last applied, 0 for none
	broken  map[int]error
	version *prometheus.GaugeVec
}

// NewModelWatcher returns a watcher that sets d's models from st.
func NewModelWatcher(d *Detector, st ModelStore, cfg WatchConfig) *ModelWatcher {
	if cfg.Interval <= 0 {
		cfg.Interval = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	reg := cfg.Registerer
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	return &ModelWatcher{d: d, st: st, cfg: cfg, log: cfg.Logger.With("component", "fraud-models"), broken: map[int]error{},
		version: promauto.With(reg).NewGaugeVec(prometheus.GaugeOpts{Name: "shopstream_fraud_model_version",
			Help: "Fraud model version in use, by role (active, shadow); 0 for none."}, []string{"role"})}
}

// Run polls the store every Interval until ctx ends. A failed poll is
// logged and the models in use are kept.
func (w *ModelWatcher) Run(ctx context.Context) error {
	t := time.NewTicker(w.cfg.Interval)
	defer t.Stop()
	for {
		if err := w.Sync(ctx); err != nil && ctx.Err() == nil {
			w.log.Warn("reading the fraud models in use failed; keeping the current ones", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Sync reads the versions in use once and applies them if they changed.
// The API calls it after a promotion or rollback so that its own process
// switches at once.
func (w *ModelWatcher) Sync(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	a, s, err := w.st.FraudModelsInUse(ctx)
	if err != nil {
		return err
	}
	want := [2]int{versionOf(a), versionOf(s)}
	if want == w.applied {
		return nil
	}
	active, err := w.load(ctx, want[0])
	if err != nil {
		return err
	}
	shadow, err := w.load(ctx, want[1])
	if err != nil {
		return err
	}
	if err := w.d.SetModels(active, shadow); err != nil {
		return fmt.Errorf("applying fraud models %d/%d: %w", want[0], want[1], err)
	}
	w.applied = want
	w.version.WithLabelValues("active").Set(float64(versionOf2(active)))
	w.version.WithLabelValues("shadow").Set(float64(versionOf2(shadow)))
	w.log.Info("fraud models in use", "active", versionOf2(active), "shadow", versionOf2(shadow))
	return nil
}

func versionOf(m *store.FraudModel) int {
	if m == nil {
		return 0
	}
	return m.Version
}

func versionOf2(m *Model) int {
	if m == nil {
		return 0
	}
	return m.Version
}

// load returns version v decoded, reusing a model the detector holds. A
// version that does not decode (say, trained by a build with other
// features) is reported once and scored as no model.
func (w *ModelWatcher) load(ctx context.Context, v int) (*Model, error) {
	if v == 0 {
		return nil, nil
	}
	for _, m := range []*Model{w.d.Active(), w.d.Shadow()} {
		if m != nil && m.Version == v {
			return m, nil
		}
	}
	if _, bad := w.broken[v]; bad {
		return nil, nil
	}
	stored, err := w.st.FraudModel(ctx, v)
	if err != nil {
		return nil, err
	}
	var fm fraud.ForestModel
	if err := fm.UnmarshalBinary(stored.Params); err != nil {
		w.broken[v] = err
		w.log.Error("fraud model version does not decode; scoring without it", "version", v, "status", stored.Status, "err", err)
		return nil, nil
	}
	return &Model{Version: v, Model: &fm}, nil
}
