package detector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/shopstream/shopstream/internal/fraud"
	"github.com/shopstream/shopstream/internal/fraud/eval"
	"github.com/shopstream/shopstream/internal/store"
)

// TrainConfig configures a Trainer. Every field has a working default.
type TrainConfig struct {
	// Interval is the age of the newest model version after which a new one
	// is trained. Defaults to 15 minutes.
	Interval time.Duration
	// CheckInterval is how often the trainer checks whether training or a
	// promotion is due. Defaults to 30 s, so the first model follows soon
	// after enough traffic has been stored.
	CheckInterval time.Duration
	// MinRows is the fewest training vectors a model is trained on.
	// Defaults to 2,000.
	MinRows int
	// SampleRows is the most training vectors read. Defaults to
	// fraud.ModelSampleLimit (50,000).
	SampleRows int
	// EvalRows is the most labelled vectors a new version is evaluated on.
	// Defaults to 50,000.
	EvalRows int
	// Seed seeds training: version v is grown with Seed + v. Defaults to 1.
	Seed int64
	// AutoPromoteAfter, when positive, promotes a shadow version that has
	// run this long if its PR-AUC against the labels is not worse than the
	// active version's (see PromoteTolerance), and retires it otherwise.
	// Defaults to 0: promotion is by hand, through the API.
	AutoPromoteAfter time.Duration
	// PromoteTolerance is how far below the active version's PR-AUC the
	// shadow's may lie and still count as not worse: two forests on the
	// same rules differ by noise. Defaults to 0.005.
	PromoteTolerance float64
	// MinShadowFraud is the fewest labelled fraud transactions the shadow
	// must have scored before it is judged. Defaults to 20.
	MinShadowFraud int
	// ShadowSettle is how long after a version became the shadow its
	// scores are trusted to come from it: every processor picks it up
	// within a ModelWatcher Interval. Defaults to 15 s.
	ShadowSettle time.Duration
	// LeaderName names the leader lock. Defaults to "fraud-train".
	LeaderName string
	// Now is the clock. Defaults to time.Now.
	Now func() time.Time
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Registerer, when set, receives the trainer's metrics.
	Registerer prometheus.Registerer
}

func (c TrainConfig) withDefaults() TrainConfig {
	if c.Interval == 0 {
		c.Interval = 15 * time.Minute
	}
	if c.CheckInterval == 0 {
		c.CheckInterval = 30 * time.Second
	}
	if c.MinRows == 0 {
		c.MinRows = 2000
	}
	if c.SampleRows == 0 {
		c.SampleRows = fraud.ModelSampleLimit
	}
	if c.EvalRows == 0 {
		c.EvalRows = 50_000
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.PromoteTolerance == 0 {
		c.PromoteTolerance = 0.005
	}
	if c.MinShadowFraud == 0 {
		c.MinShadowFraud = 20
	}
	if c.ShadowSettle == 0 {
		c.ShadowSettle = 15 * time.Second
	}
	if c.LeaderName == "" {
		c.LeaderName = "fraud-train"
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

func (c TrainConfig) validate() error {
	switch {
	case c.Interval < 0 || c.CheckInterval < 0:
		return fmt.Errorf("fraud training: negative interval")
	case c.MinRows < 2:
		return fmt.Errorf("fraud training: MinRows %d, need at least 2", c.MinRows)
	case c.SampleRows < c.MinRows:
		return fmt.Errorf("fraud training: SampleRows %d is below MinRows %d", c.SampleRows, c.MinRows)
	case c.AutoPromoteAfter < 0:
		return fmt.Errorf("fraud training: negative AutoPromoteAfter %v", c.AutoPromoteAfter)
	case c.PromoteTolerance < 0 || c.PromoteTolerance > 1:
		return fmt.Errorf("fraud training: PromoteTolerance %v is outside [0, 1]", c.PromoteTolerance)
	}
	return nil
}

// ErrNotEnoughRows is returned by TrainOnce while the store holds fewer
// training vectors than MinRows.
var ErrNotEnoughRows = errors.New("not enough training vectors stored yet")

// Trainer is the periodic training job of the isolation forest: on the
// instance holding the leader lock it trains a new version on recent
// ordinary traffic whenever the newest version is older than Interval,
// stores it as the shadow (or as the active version when there is none),
// and optionally promotes a shadow that proved itself. ModelWatchers put
// the versions to use. An active version trained on other features than
// this build computes (a build that added one) does not decode, and the
// watchers score without it: the trainer then trains at once, whatever
// Interval, and stores the new version as the active one.
type Trainer struct {
	d   *Detector
	st  store.Fraud
	cfg TrainConfig
	log *slog.Logger

	trainings  *prometheus.CounterVec
	promotions *prometheus.CounterVec

	mu    sync.Mutex
	stale map[int]bool // active versions checked: trained on other features
}

// NewTrainer returns a Trainer for d's rules and thresholds over st.
func NewTrainer(d *Detector, st store.Fraud, cfg TrainConfig) (*Trainer, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	reg := cfg.Registerer
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	f := promauto.With(reg)
	return &Trainer{d: d, st: st, cfg: cfg, log: cfg.Logger.With("component", "fraud-train"), stale: map[int]bool{},
		trainings: f.NewCounterVec(prometheus.CounterOpts{Name: "shopstream_fraud_model_trainings_total",
			Help: "Fraud model trainings, by outcome (ok, error, too_few_rows)."}, []string{"outcome"}),
		promotions: f.NewCounterVec(prometheus.CounterOpts{Name: "shopstream_fraud_model_auto_promotions_total",
			Help: "Shadow fraud models judged after their shadow period, by outcome (promoted, retired)."}, []string{"outcome"}),
	}, nil
}

// Run checks every CheckInterval, until ctx ends, whether this instance
// leads and a training or promotion is due, and does it. Failures are
// logged and retried at the next check.
func (t *Trainer) Run(ctx context.Context) error {
	tick := time.NewTicker(t.cfg.CheckInterval)
	defer tick.Stop()
	for {
		if err := t.Step(ctx); err != nil && ctx.Err() == nil {
			t.log.Error("fraud model job failed; retrying at the next check", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// Step is one check of Run: under the leader lock, train if the newest
// version is older than Interval (or there is none), then judge the shadow
// if auto-promotion is on. It returns nil when another instance leads or
// too few vectors are stored.
func (t *Trainer) Step(ctx context.Context) error {
	release, ok, err := t.st.TryLead(ctx, t.cfg.LeaderName)
	if err != nil {
		return err
	}
	if !ok {
		return nil
	}
	defer release()
	models, err := t.st.FraudModels(ctx)
	if err != nil {
		return err
	}
	stale, err := t.staleActive(ctx)
	if err != nil {
		return err
	}
	if len(models) == 0 || t.cfg.Now().Sub(models[0].CreatedAt) >= t.cfg.Interval || stale != nil {
		if _, err := t.TrainOnce(ctx); err != nil && !errors.Is(err, ErrNotEnoughRows) {
			return err
		}
	}
	if t.cfg.AutoPromoteAfter > 0 {
		if _, err := t.JudgeShadow(ctx); err != nil {
			return err
		}
	}
	return nil
}

// TrainMetrics is the metrics document stored with each version.
type TrainMetrics struct {
	// Rows is how many feature vectors the forest was trained on.
	Rows int `json:"rows"`
	// Skipped counts stored vectors of another length (another build).
	Skipped      int       `json:"skipped,omitempty"`
	Seed         int64     `json:"seed"`
	TrainedAt    time.Time `json:"trained_at"`
	TrainSeconds float64   `json:"train_seconds"`
	Sample       string    `json:"sample"`
	// Evaluation compares the new version with the one in force on
	// recent labelled transactions; nil when none are labelled.
	Evaluation *Evaluation `json:"evaluation"`
}

// Evaluation is a new version against the version in force, with the same
// rules and thresholds, on the newest stored feature vectors that carry a
// label. Every flagged transaction keeps its vector but only one in 16
// approved ones does, so approved ones weigh 16: the figures estimate the
// whole stream.
type Evaluation struct {
	Rows      int         `json:"rows"`
	Fraud     int         `json:"fraud"`
	Candidate EvalFigures `json:"candidate"`
	Current   EvalFigures `json:"current"`
	// CurrentVersion is the active version compared with, 0 for rules
	// alone.
	CurrentVersion int    `json:"current_version"`
	Note           string `json:"note"`
}

// EvalFigures are one scorer's figures in an Evaluation; null when
// undefined (no fraud among the rows, nothing flagged).
type EvalFigures struct {
	PRAUC     *float64 `json:"pr_auc"`
	ROCAUC    *float64 `json:"roc_auc"`
	Precision *float64 `json:"precision"`
	Recall    *float64 `json:"recall"`
	FPR       *float64 `json:"fpr"`
}

// num turns NaN into null for JSON.
func num(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	v = math.Round(v*1e6) / 1e6
	return &v
}

// TrainOnce trains a version now, whatever its schedule, and stores it:
// as the shadow, or as the active version when none is active. It returns
// the new version, or an error wrapping ErrNotEnoughRows.
func (t *Trainer) TrainOnce(ctx context.Context) (int, error) {
	now := t.cfg.Now()
	raw, err := t.st.TrainingSample(ctx, t.cfg.SampleRows)
	if err != nil {
		t.trainings.WithLabelValues("error").Inc()
		return 0, err
	}
	vecs := make([][]float64, 0, len(raw))
	skipped := 0
	for _, r := range raw {
		if len(r) != fraud.NumFeatures {
			skipped++
			continue
		}
		v := make([]float64, len(r))
		for i, x := range r {
			v[i] = float64(x)
		}
		vecs = append(vecs, v)
	}
	if len(vecs) < t.cfg.MinRows {
		t.trainings.WithLabelValues("too_few_rows").Inc()
		t.log.Debug("not training the fraud model yet", "vectors", len(vecs), "need", t.cfg.MinRows)
		return 0, fmt.Errorf("%w: %d of %d", ErrNotEnoughRows, len(vecs), t.cfg.MinRows)
	}
	models, err := t.st.FraudModels(ctx)
	if err != nil {
		t.trainings.WithLabelValues("error").Inc()
		return 0, err
	}
	// The version this one will be (the newest, listed first, plus one:
	// the leader lock makes this trainer the only one saving), not the
	// number of versions, which the retention job's pruning lowers.
	next := 1
	if len(models) > 0 {
		next = models[0].Version + 1
	}
	seed := t.cfg.Seed + int64(next)
	start := time.Now()
	model, err := fraud.TrainModel(vecs, seed)
	if err != nil {
		t.trainings.WithLabelValues("error").Inc()
		return 0, err
	}
	took := time.Since(start)
	params, err := model.MarshalBinary()
	if err != nil {
		t.trainings.WithLabelValues("error").Inc()
		return 0, err
	}
	ev, err := t.evaluate(ctx, model)
	if err != nil {
		t.trainings.WithLabelValues("error").Inc()
		return 0, err
	}
	metrics, err := json.Marshal(TrainMetrics{Rows: len(vecs), Skipped: skipped, Seed: seed, TrainedAt: now.UTC(),
		TrainSeconds: math.Round(took.Seconds()*1000) / 1000, Evaluation: ev,
		Sample: "newest stored transactions approved with no rule firing"})
	if err != nil {
		return 0, err
	}
	status, note := store.StatusShadow, "trained"
	if active, _, err := t.st.FraudModelsInUse(ctx); err != nil {
		t.trainings.WithLabelValues("error").Inc()
		return 0, err
	} else if active == nil {
		status = store.StatusActive
	} else if stale, err := t.staleActive(ctx); err != nil {
		t.trainings.WithLabelValues("error").Inc()
		return 0, err
	} else if stale != nil {
		status = store.StatusActive
		note = fmt.Sprintf("trained; replaces version %d, trained on other features than this build computes", stale.Version)
	}
	v, err := t.st.SaveFraudModel(ctx, store.FraudModel{Status: status, Params: params, Metrics: metrics, CreatedAt: now,
		Note: note})
	if err != nil {
		t.trainings.WithLabelValues("error").Inc()
		return 0, err
	}
	t.trainings.WithLabelValues("ok").Inc()
	args := []any{"version", v, "status", status, "rows", len(vecs), "seconds", took.Seconds()}
	if ev != nil {
		args = append(args, "eval_rows", ev.Rows, "eval_fraud", ev.Fraud)
		if p := ev.Candidate.PRAUC; p != nil {
			args = append(args, "pr_auc", *p)
		}
		if p := ev.Current.PRAUC; p != nil {
			args = append(args, "current_pr_auc", *p)
		}
	}
	t.log.Info("fraud model trained", args...)
	return v, nil
}

// staleActive returns the active version when it was trained on other
// features than this build computes (fraud.ErrFeatureMismatch), nil
// otherwise. Each active version is decoded once.
func (t *Trainer) staleActive(ctx context.Context) (*store.FraudModel, error) {
	active, _, err := t.st.FraudModelsInUse(ctx)
	if err != nil || active == nil {
		return nil, err
	}
	t.mu.Lock()
	stale, ok := t.stale[active.Version]
	t.mu.Unlock()
	if !ok {
		m, err := t.st.FraudModel(ctx, active.Version)
		if err != nil {
			return nil, err
		}
		var fm fraud.ForestModel
		if err := fm.UnmarshalBinary(m.Params); errors.Is(err, fraud.ErrFeatureMismatch) {
			stale = true
			t.log.Warn("the active fraud model was trained on other features than this build computes; training a new one now",
				"version", active.Version, "err", err)
		}
		t.mu.Lock()
		t.stale[active.Version] = stale
		t.mu.Unlock()
	}
	if stale {
		return active, nil
	}
	return nil, nil
}

// evaluate scores the newest labelled vectors with the candidate and with
// the scorer in force. It returns nil when no vector is labelled.
func (t *Trainer) evaluate(ctx context.Context, model *fraud.ForestModel) (*Evaluation, error) {
	rows, err := t.st.LabelledFeatures(ctx, t.cfg.EvalRows)
	if err != nil {
		return nil, err
	}
	cur := t.d.Scorer()
	cand, err := fraud.NewScorer(cur.Rules(), model, cur.Config())
	if err != nil {
		return nil, err
	}
	ev := &Evaluation{CurrentVersion: versionOf2(t.d.Active()),
		Note: "newest labelled transactions with a stored feature vector; approved ones weigh 16 (the sampling rate)"}
	var (
		f       fraud.Features
		res     fraud.Result
		weights []int
		labels  []bool
		scores  [2][]float64
	)
	for _, r := range rows {
		if len(r.Features) != fraud.NumFeatures {
			continue
		}
		for i, x := range r.Features {
			f.Values[i] = float64(x)
		}
		w := 1
		if r.Decision == fraud.Approve.String() {
			w = featureSample
		}
		ev.Rows++
		if r.Fraud {
			ev.Fraud++
		}
		weights = append(weights, w)
		labels = append(labels, r.Fraud)
		for k, sc := range []*fraud.Scorer{cand, cur} {
			sc.ScoreInto(&f, &res)
			scores[k] = append(scores[k], res.Risk)
		}
	}
	if ev.Rows == 0 {
		return nil, nil
	}
	ev.Candidate = figures(scores[0], labels, weights, cur.Config().ReviewAt)
	ev.Current = figures(scores[1], labels, weights, cur.Config().ReviewAt)
	return ev, nil
}

// figures computes EvalFigures with integer weights, by repeating each
// record weight times (the eval package counts records).
func figures(scores []float64, labels []bool, weights []int, reviewAt float64) EvalFigures {
	var s []float64
	var l []bool
	for i, w := range weights {
		for range w {
			s = append(s, scores[i])
			l = append(l, labels[i])
		}
	}
	c := eval.ConfusionAt(s, l, reviewAt)
	return EvalFigures{PRAUC: num(eval.PRAUC(s, l)), ROCAUC: num(eval.ROCAUC(s, l)),
		Precision: num(c.Precision()), Recall: num(c.Recall()), FPR: num(c.FPR())}
}

// Judgement is the outcome of JudgeShadow.
type Judgement struct {
	Version  int     `json:"version"`
	Promoted bool    `json:"promoted"`
	Rows     int     `json:"rows"`
	Fraud    int     `json:"fraud"`
	ShadowPR float64 `json:"shadow_pr_auc"`
	ActivePR float64 `json:"active_pr_auc"`
}

// JudgeShadow applies the auto-promotion policy once: a shadow version
// that has been the shadow for AutoPromoteAfter is compared with the
// active version on the labelled transactions it scored (its stored
// shadow risk against the risk acted on, from ShadowSettle after it became
// the shadow). If its PR-AUC is not worse (within PromoteTolerance) it
// becomes active; otherwise it is retired. It returns nil when there is no
// shadow, its period has not passed, or it has not yet seen MinShadowFraud
// labelled fraud transactions.
func (t *Trainer) JudgeShadow(ctx context.Context) (*Judgement, error) {
	_, shadow, err := t.st.FraudModelsInUse(ctx)
	if err != nil || shadow == nil {
		return nil, err
	}
	now := t.cfg.Now()
	if t.cfg.AutoPromoteAfter <= 0 || now.Sub(shadow.StatusAt) < t.cfg.AutoPromoteAfter {
		return nil, nil
	}
	out, err := t.st.FraudOutcomes(ctx, store.OutcomeQuery{})
	if err != nil {
		return nil, err
	}
	from := shadow.StatusAt.Add(t.cfg.ShadowSettle)
	var active, sh []float64
	var labels []bool
	j := &Judgement{Version: shadow.Version}
	for _, o := range out.Rows {
		if !o.HasShadow || !o.Labelled || o.StoredAt.Before(from) {
			continue
		}
		active = append(active, o.Risk)
		sh = append(sh, o.ShadowRisk)
		labels = append(labels, o.Fraud)
		if o.Fraud {
			j.Fraud++
		}
	}
	j.Rows = len(labels)
	if j.Fraud < t.cfg.MinShadowFraud || j.Fraud == j.Rows {
		t.log.Debug("shadow fraud model not judged yet: too few labelled transactions", "version", shadow.Version, "fraud", j.Fraud)
		return nil, nil
	}
	j.ShadowPR, j.ActivePR = eval.PRAUC(sh, labels), eval.PRAUC(active, labels)
	j.Promoted = j.ShadowPR >= j.ActivePR-t.cfg.PromoteTolerance
	status, outcome := store.StatusRetired, "retired"
	if j.Promoted {
		status, outcome = store.StatusActive, "promoted"
	}
	note := fmt.Sprintf("auto-%s after %s in shadow: PR-AUC %.4f against %.4f of the active version on %d labelled transactions (%d fraud)",
		outcome, now.Sub(shadow.StatusAt).Round(time.Second), j.ShadowPR, j.ActivePR, j.Rows, j.Fraud)
	if err := t.st.SetFraudModelStatus(ctx, shadow.Version, status, note, now); err != nil {
		return nil, err
	}
	t.promotions.WithLabelValues(outcome).Inc()
	t.log.Info("shadow fraud model judged", "version", shadow.Version, "outcome", outcome, "shadow_pr_auc", j.ShadowPR,
		"active_pr_auc", j.ActivePR, "rows", j.Rows, "fraud", j.Fraud)
	return j, nil
}
