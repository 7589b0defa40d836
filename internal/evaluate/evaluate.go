package evaluate

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/shopstream/shopstream/internal/event"
	"github.com/shopstream/shopstream/internal/fraud"
	"github.com/shopstream/shopstream/internal/fraud/eval"
	"github.com/shopstream/shopstream/internal/generate"
	"github.com/shopstream/shopstream/internal/quality"
)

// Config describes an evaluation run over the synthetic shop.
type Config struct {
	// Records is the number of generated records, training part included.
	// Defaults to 100,000.
	Records int
	// Seed seeds the generator and the forest. Tune on one seed, report on
	// another. There is no default: 0 is a seed like any other.
	Seed int64
	// FraudRate is the generator's share of fraudulent records. Defaults
	// to the generator's default (1%).
	FraudRate float64
	// BadRate is the generator's share of bad records, which the quality
	// checks quarantine before scoring. Defaults to 0.
	BadRate float64
	// FraudMix is the generator's share of each fraud scenario; nil for
	// its default.
	FraudMix map[string]float64
	// Customers is the generator's customer base. Defaults to the
	// generator's default.
	Customers int
	// TrainFraction is the leading share of records whose features train
	// the isolation forest; metrics cover only the records after it.
	// Records a rule flags are left out of training, and labels are never
	// read. Defaults to 0.2; it must be in (0, 1).
	TrainFraction float64
	// NoModel scores with the rules alone.
	NoModel bool
	// Rules are the rules to evaluate. Defaults to fraud.DefaultRules().
	Rules *fraud.RuleSet
	// Scorer sets the thresholds and the model's weight.
	Scorer fraud.ScorerConfig
	// MaxFPR is the false-positive budget of RecallAtFPR. Defaults to 0.01.
	MaxFPR float64
	// MaxCustomers and MaxEntities bound the feature state as
	// fraud.StateConfig's fields of the same names; 0: their defaults.
	MaxCustomers, MaxEntities int
	// EntityRules, when set, adds the second step of scoring as the
	// entity stage runs it: every transaction is folded into one
	// fraud.EntityState per entity kind's owner (here one for all: the
	// global counts), and the rules that fire on any of its entities
	// raise its risk and decision (fraud.RaiseRisk, each entity on its
	// own, the highest kept, as the stage's partitions do).
	EntityRules *fraud.EntityRuleSet
	// EntityWindow is the entity state's window. Defaults to 24 hours.
	EntityWindow time.Duration
	// EntityModel, with EntityRules, adds the entity forest to the second
	// step as the entity stage runs it: trained when the main forest is,
	// on the entity events (one per transaction and entity, the counts as
	// of it) of the training part's transactions the first step approved,
	// then its hit (fraud.EntityModel.Hit, weighted by EntityModelWeight)
	// joins each entity's rule hits.
	EntityModel bool
	// EntityModelWeight is the entity forest's weight. Defaults to
	// fraud.DefaultEntityModelWeight.
	EntityModelWeight float64
	// Demo, when set, evaluates `shopstream run`'s shop instead of the
	// stationary one: Records and TrainFraction are then unused.
	Demo *Demo
}

// Demo is `shopstream run`'s shop, on the simulated clock: a base that
// grows by acquisition (Lifecycle) over History, scored but not measured
// (it warms the feature state), then a live phase of Live at Rate records
// a second, measured. The forest is trained when the live phase begins,
// on the features of the newest fraud.ModelSampleLimit history records
// no rule fired on, as the model lifecycle trains on the newest
// transactions approved with no rule firing.
type Demo struct {
	Lifecycle generate.Lifecycle
	History   time.Duration
	Rate      float64
	Live      time.Duration
	// Ramp ends the history at the live pace, as run's does.
	Ramp generate.Ramp
}

// DemoDefaults is run's shop at run's defaults: the demo lifecycle, 540
// days of history ending in run's ramp to the live pace, 10 records a
// second, measured over 30 minutes.
func DemoDefaults() *Demo {
	return &Demo{Lifecycle: generate.DemoLifecycle, History: 540 * 24 * time.Hour, Rate: 10, Live: 30 * time.Minute, Ramp: generate.DemoRamp}
}

// WithDefaults returns c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	if c.Records == 0 {
		c.Records = 100_000
	}
	if c.TrainFraction == 0 {
		c.TrainFraction = 0.2
	}
	if c.MaxFPR == 0 {
		c.MaxFPR = 0.01
	}
	if c.Rules == nil {
		c.Rules = fraud.DefaultRules()
	}
	if c.EntityWindow == 0 {
		c.EntityWindow = 24 * time.Hour
	}
	if c.EntityModelWeight == 0 {
		c.EntityModelWeight = fraud.DefaultEntityModelWeight
	}
	return c
}

func (c Config) validate() error {
	switch {
	case c.Demo != nil && !(c.Demo.Rate > 0 && c.Demo.Live > 0 && c.Demo.History > 0):
		return fmt.Errorf("%w: Demo needs a positive Rate, Live and History, got %v, %s and %s", fraud.ErrInvalidConfig, c.Demo.Rate, c.Demo.Live, c.Demo.History)
	case c.Records < 100:
		return fmt.Errorf("%w: Records %d, need at least 100", fraud.ErrInvalidConfig, c.Records)
	case !(c.TrainFraction > 0 && c.TrainFraction < 1):
		return fmt.Errorf("%w: TrainFraction %v is outside (0, 1)", fraud.ErrInvalidConfig, c.TrainFraction)
	case c.EntityModel && c.EntityRules == nil:
		return fmt.Errorf("%w: EntityModel needs EntityRules (the second step)", fraud.ErrInvalidConfig)
	case !(c.EntityModelWeight > 0 && c.EntityModelWeight < 1):
		return fmt.Errorf("%w: EntityModelWeight %v is outside (0, 1)", fraud.ErrInvalidConfig, c.EntityModelWeight)
	case !(c.MaxFPR > 0 && c.MaxFPR < 1):
		return fmt.Errorf("%w: MaxFPR %v is outside (0, 1)", fraud.ErrInvalidConfig, c.MaxFPR)
	}
	return nil
}

// Report is the outcome of Fraud. Rates with no meaning for the
// run (say, precision when nothing was flagged) are NaN.
type Report struct {
	Records     int // generated
	Quarantined int // failed a quality check, not scored
	Trained     int // feature vectors the forest was trained on
	Scored      int // evaluated (after the training part)
	Fraud       int // of which fraud
	// At the scorer's review threshold (review or decline = flagged).
	ReviewAt                     float64
	Precision, Recall, FPR       float64
	Confusion                    eval.Confusion
	DeclinePrecision, DeclineFPR float64
	// Threshold-free rankings of the risk.
	PRAUC, ROCAUC float64
	// The best recall at FPR <= MaxFPR, and the risk threshold reaching it.
	MaxFPR         float64
	RecallAtFPR    float64
	ThresholdAtFPR float64
	// The same for the rules alone and the model alone, to show what each
	// contributes (NaN without a model).
	RulesRecallAtFPR, ModelRecallAtFPR float64
	ModelROCAUC                        float64
	// Per fraud scenario: records, recall at the review threshold, recall
	// at ThresholdAtFPR.
	Scenarios map[string]ScenarioReport
	// RuleHits counts, per rule, the evaluated records it fired on and how
	// many of them were fraud: each rule's precision.
	RuleHits map[string]RuleReport
	// Entity is what the entity rules did (Config.EntityRules); nil
	// without them.
	Entity *EntityReport
}

// EntityReport is what the second step of scoring changed among the
// evaluated records.
type EntityReport struct {
	// Raised counts the records whose decision the entity rules raised
	// from approve to review or decline, RaisedFraud those of them that
	// were fraud; Escalated those raised from review to decline.
	Raised, RaisedFraud, Escalated int
	// RaisedLegitByHonest counts the honest records raised by what makes
	// them look odd (generate.HonestKinds; "plain" for none).
	RaisedLegitByHonest map[string]int
	// RaisedByScenario counts the fraud records raised, by scenario.
	RaisedByScenario map[string]int
	// RuleHits counts, per entity rule, the records it fired on and the
	// fraud among them; the entity forest's hits count under
	// fraud.EntityModelRule.
	RuleHits map[string]RuleReport
	// ModelTrained counts the entity events the entity forest was
	// trained on, by kind of entity (Config.EntityModel); nil without it.
	ModelTrained map[string]int `json:",omitempty"`
	// ModelOnly counts the records raised only with the forest's hit:
	// those the entity rules alone would have left as they were, and
	// the fraud among them.
	ModelOnly, ModelOnlyFraud int
}

// ScenarioReport is the detection of one fraud scenario.
type ScenarioReport struct {
	Count       int
	Recall      float64 // at the review threshold
	RecallAtFPR float64 // at the report's ThresholdAtFPR
}

// RuleReport is how often a rule fired in the evaluated part, and on how
// much fraud; Flagged and FlaggedFraud the same among the transactions
// held for review or declined (as fraud-eval --live's flagged_by).
type RuleReport struct {
	Hits, Fraud           int
	Flagged, FlaggedFraud int
}

// Fraud runs the scoring chain over the synthetic shop's labelled
// stream exactly as the pipeline does, record by record: the quality
// checks (failures are quarantined, not scored), fraud.State.Features, the
// fraud.Scorer, fraud.State.Update. The forest is trained on the features of the first
// TrainFraction of the records, leaving out those a rule flagged, and
// everything after that is measured. The labels are read only to count.
// It stops early, with ctx's error, when ctx is done.
func Fraud(ctx context.Context, cfg Config) (*Report, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	gcfg := generate.Config{
		Seed:      cfg.Seed,
		FraudRate: cfg.FraudRate,
		BadRate:   cfg.BadRate,
		Customers: cfg.Customers,
		FraudMix:  cfg.FraudMix,
	}
	if cfg.Demo != nil {
		lc := cfg.Demo.Lifecycle
		gcfg.Lifecycle = &lc
	}
	gen, err := generate.New(gcfg)
	if err != nil {
		return nil, fmt.Errorf("evaluating fraud scoring: %w", err)
	}
	next := func() (generate.Record, bool, bool) { return gen.Next(), false, true }
	if cfg.Demo != nil {
		var stop func()
		next, stop = demoStream(ctx, gen, cfg.Demo)
		defer stop()
	}
	state, err := fraud.NewState(fraud.StateConfig{
		CountryOfIP:  generate.CountryOfIP,
		CountryOfBIN: generate.CountryOfBIN,
		IsHostingIP:  generate.IsHostingIP,
		MaxCustomers: cfg.MaxCustomers,
		MaxEntities:  cfg.MaxEntities,
	})
	if err != nil {
		return nil, err
	}
	// Until the forest is trained, the rules score alone.
	scorer, err := fraud.NewScorer(cfg.Rules, nil, cfg.Scorer)
	if err != nil {
		return nil, err
	}
	qc := quality.Config{}.WithDefaults()
	dedup := quality.NewDedup(1 << 16)

	rep := &Report{Records: cfg.Records, MaxFPR: cfg.MaxFPR, ReviewAt: scorer.Config().ReviewAt,
		Scenarios: map[string]ScenarioReport{}, RuleHits: map[string]RuleReport{}}
	if cfg.Demo != nil {
		rep.Records = 0 // counted as they come
	}
	var ents *fraud.EntityState
	var entityHits []fraud.EntityHit
	var (
		entityModel   *fraud.EntityModel
		entityTrain   []fraud.EntitySample
		entityPending []fraud.EntitySample // the record's, kept when the first step approves it
		modelOnly     bool
	)
	if cfg.EntityRules != nil {
		ents = fraud.NewEntityState(cfg.EntityWindow)
		rep.Entity = &EntityReport{RaisedLegitByHonest: map[string]int{}, RaisedByScenario: map[string]int{}, RuleHits: map[string]RuleReport{}}
	}
	trainUntil := int(cfg.TrainFraction * float64(cfg.Records))
	var ring ringSample // the demo's newest no-rule vectors
	var (
		train            [][]float64
		model            *fraud.ForestModel
		risks, ruleRisks []float64
		modelScores      []float64
		labels           []bool
		scenarios        []string
		t                event.Transaction
		f                fraud.Features
		res              fraud.Result
		nextExpire       time.Time
		trained          bool
	)
	for i := 0; cfg.Demo != nil || i < cfg.Records; i++ {
		if i%4096 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		rec, live, ok := next()
		if !ok {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			break
		}
		if cfg.Demo != nil {
			rep.Records++
			if live && !trained {
				train = ring.vectors()
			}
		}
		if fail := qc.Decode(rec.Value, rec.EventTime, &t); fail != nil {
			rep.Quarantined++
			continue
		}
		if fail := dedup.Check(t.TransactionID); fail != nil {
			rep.Quarantined++
			continue
		}
		if !trained && ((cfg.Demo == nil && i >= trainUntil) || live) {
			trained = true
			if !cfg.NoModel && len(train) >= 2 {
				if model, err = fraud.TrainModel(train, cfg.Seed); err != nil {
					return nil, err
				}
				rep.Trained = len(train)
				if scorer, err = fraud.NewScorer(cfg.Rules, model, cfg.Scorer); err != nil {
					return nil, err
				}
			}
			train = nil
			if cfg.EntityModel && len(entityTrain) >= 2 {
				if entityModel, err = fraud.TrainEntityModel(entityTrain, cfg.Seed); err != nil {
					return nil, err
				}
				rep.Entity.ModelTrained = entityModel.Kinds()
			}
			entityTrain = nil
		}
		state.FeaturesInto(&t, &f)
		scorer.ScoreInto(&f, &res)
		state.Update(&t, &f)
		firstRisk, firstDecision := res.Risk, res.Decision
		if ents != nil {
			entityHits = entityHits[:0]
			entityPending = entityPending[:0]
			modelOnly = false
			rulesDecision := firstDecision
			card := fraud.CardKey(t.Card.BIN, t.Card.Last4)
			var keys [4]string
			for _, k := range fraud.EntityKeys(keys[:0], t.DeviceID, card, t.IPAddress, event.AddressKey(nil, t.ShippingAddress)) {
				ef, _ := ents.Add(fraud.EntityEvent{Entity: k, TransactionID: t.TransactionID, CustomerID: t.CustomerID, Card: card, At: t.EventTime})
				if cfg.EntityModel && !trained {
					entityPending = append(entityPending, fraud.EntitySample{Kind: fraud.EntityKind(k), Features: ef})
				}
				n := len(entityHits)
				entityHits = cfg.EntityRules.Match(k, ef, ents.Covered(), entityHits)
				if len(entityHits) > n && firstDecision != fraud.Decline {
					if _, d := fraud.RaiseRisk(firstRisk, firstDecision, entityHits[n:], scorer.Config()); d > rulesDecision {
						rulesDecision = d
					}
				}
				if h, ok := entityModel.Hit(k, ef, ents.Covered(), cfg.EntityModelWeight); ok {
					entityHits = append(entityHits, h)
				}
				if len(entityHits) > n && firstDecision != fraud.Decline {
					if r, d := fraud.RaiseRisk(firstRisk, firstDecision, entityHits[n:], scorer.Config()); d > firstDecision && r > res.Risk {
						res.Risk, res.Decision = r, d
					}
				}
			}
			modelOnly = res.Decision > rulesDecision
			if len(entityPending) > 0 && firstDecision == fraud.Approve && res.Decision == fraud.Approve {
				if len(entityTrain) >= 4*fraud.ModelSampleLimit { // keep the newest, as the store's sample does
					entityTrain = append(entityTrain[:0], entityTrain[len(entityTrain)/2:]...)
				}
				entityTrain = append(entityTrain, entityPending...)
			}
		}
		if t.EventTime.After(nextExpire) {
			state.Expire(t.EventTime)
			if ents != nil {
				ents.Expire()
			}
			nextExpire = t.EventTime.Add(time.Hour)
		}
		if !trained {
			if cfg.Demo != nil {
				if len(res.Hits) == 0 {
					ring.add(&f)
				}
				continue
			}
			if len(res.Hits) == 0 && len(train) < fraud.ModelSampleLimit {
				train = append(train, f.Vector(make([]float64, 0, fraud.NumFeatures)))
			}
			continue
		}
		rep.Scored++
		risks = append(risks, res.Risk)
		labels = append(labels, rec.Fraud)
		scenarios = append(scenarios, rec.Scenario)
		keep := 1.0
		for _, h := range res.Hits {
			keep *= 1 - h.Weight
			rr := rep.RuleHits[h.Rule]
			rr.Hits++
			if rec.Fraud {
				rr.Fraud++
			}
			if res.Risk >= scorer.Config().ReviewAt {
				rr.Flagged++
				if rec.Fraud {
					rr.FlaggedFraud++
				}
			}
			rep.RuleHits[h.Rule] = rr
		}
		ruleRisks = append(ruleRisks, 1-keep)
		if e := rep.Entity; e != nil {
			for _, h := range entityHits {
				rr := e.RuleHits[h.Rule]
				rr.Hits++
				if rec.Fraud {
					rr.Fraud++
				}
				if res.Decision > firstDecision {
					rr.Flagged++
					if rec.Fraud {
						rr.FlaggedFraud++
					}
				}
				e.RuleHits[h.Rule] = rr
			}
			switch {
			case firstDecision == fraud.Approve && res.Decision > fraud.Approve:
				e.Raised++
				if rec.Fraud {
					e.RaisedFraud++
					e.RaisedByScenario[rec.Scenario]++
				} else {
					kind := "plain"
					if rec.Honest != 0 {
						kind = rec.Honest.String()
					}
					e.RaisedLegitByHonest[kind]++
				}
			case firstDecision == fraud.Review && res.Decision == fraud.Decline:
				e.Escalated++
			}
			if modelOnly {
				e.ModelOnly++
				if rec.Fraud {
					e.ModelOnlyFraud++
				}
			}
		}
		if model != nil {
			modelScores = append(modelScores, model.RawScore(f.Values[:]))
		}
		if rec.Fraud {
			rep.Fraud++
		}
	}

	c := eval.ConfusionAt(risks, labels, scorer.Config().ReviewAt)
	rep.Confusion = c
	rep.Precision, rep.Recall, rep.FPR = c.Precision(), c.Recall(), c.FPR()
	d := eval.ConfusionAt(risks, labels, scorer.Config().DeclineAt)
	rep.DeclinePrecision, rep.DeclineFPR = d.Precision(), d.FPR()
	rep.PRAUC = eval.PRAUC(risks, labels)
	rep.ROCAUC = eval.ROCAUC(risks, labels)
	rep.RecallAtFPR, rep.ThresholdAtFPR = eval.RecallAtFPR(risks, labels, cfg.MaxFPR)
	rep.RulesRecallAtFPR, _ = eval.RecallAtFPR(ruleRisks, labels, cfg.MaxFPR)
	rep.ModelRecallAtFPR, rep.ModelROCAUC = math.NaN(), math.NaN()
	if model != nil {
		rep.ModelRecallAtFPR, _ = eval.RecallAtFPR(modelScores, labels, cfg.MaxFPR)
		rep.ModelROCAUC = eval.ROCAUC(modelScores, labels)
	}
	type tally struct{ n, review, atFPR int }
	per := map[string]*tally{}
	for _, s := range generate.Scenarios {
		per[s] = &tally{}
	}
	for i, s := range scenarios {
		if !labels[i] {
			continue
		}
		tl := per[s]
		if tl == nil {
			tl = &tally{}
			per[s] = tl
		}
		tl.n++
		if risks[i] >= scorer.Config().ReviewAt {
			tl.review++
		}
		if risks[i] >= rep.ThresholdAtFPR {
			tl.atFPR++
		}
	}
	for s, tl := range per {
		rep.Scenarios[s] = ScenarioReport{Count: tl.n,
			Recall:      float64(tl.review) / float64(tl.n),
			RecallAtFPR: float64(tl.atFPR) / float64(tl.n)}
	}
	return rep, nil
}
