package web

import (
	"fmt"
	"math"
	"net/http"
	"time"

	"github.com/shopstream/shopstream/internal/detector"
	"github.com/shopstream/shopstream/internal/fraud"
	"github.com/shopstream/shopstream/internal/fraudmetrics"
	"github.com/shopstream/shopstream/internal/quality"
	"github.com/shopstream/shopstream/internal/store"
)

// FraudDeps is what the fraud API needs.
type FraudDeps struct {
	// Store holds alerts, labels, outcomes and model versions. Required.
	Store store.Fraud
	// Detector scores POST /api/v1/score and tells the rules and models in
	// force. Required.
	Detector *detector.Detector
	// Models, when set, is synced after a promotion or rollback, so this
	// process switches models at once (others within their poll interval).
	Models *detector.ModelWatcher
	// Now is the clock. Defaults to time.Now.
	Now func() time.Time
	// Quality checks posted transactions. Defaults to quality's defaults.
	Quality quality.Config
	// MetricsTTL is how long a computed /api/v1/fraud/metrics answer is
	// reused, however many dashboards poll (see fraudmetrics.Config.TTL).
	// Defaults to 10 s.
	MetricsTTL time.Duration
}

// RegisterFraud adds the fraud API (docs/fraud.md shows every response):
//
//	GET  /api/v1/alerts?status=open&limit=50&since_id=N&cursor=C   alerts, newest first, with reasons
//	GET  /api/v1/alerts/{transaction_id}                  one alert with its label, features and transaction
//	POST /api/v1/alerts/{transaction_id}/label            {"label": "fraud"|"false_positive"}
//	GET  /api/v1/fraud/rings?member=&entity=&since=&until=&limit=20&cursor=
//	                                                       the entity stage's rings with their members
//	GET  /api/v1/fraud/rules                              rules and thresholds in force
//	GET  /api/v1/fraud/metrics?window=15m|1h|24h|7d|30d|all (or since=&until=)   live precision, recall, FPR, PR-AUC
//	GET  /api/v1/fraud/series?since=T&until=T&step=1h      precision and recall per scenario over time
//	GET  /api/v1/fraud/cost?window=24h (or since=&until=)&target_review_rate=0.005   fraud stopped against review workload
//	GET  /api/v1/fraud/models                             model versions with status and metrics
//	POST /api/v1/fraud/models/{version}/promote           make a version active
//	POST /api/v1/fraud/models/rollback                    re-activate the previous active version
//	POST /api/v1/score                                    score one transaction now, not stored
func RegisterFraud(s *Server, deps FraudDeps) {
	if deps.Now == nil {
		deps.Now = time.Now
	}
	deps.Quality = deps.Quality.WithDefaults()
	det := deps.Detector
	metrics, err := fraudmetrics.New(fraudmetrics.Config{Store: deps.Store, Now: deps.Now, TTL: deps.MetricsTTL,
		Thresholds: func() fraud.ScorerConfig { return det.Scorer().Config() },
		ShadowVersion: func() int {
			if m := det.Shadow(); m != nil {
				return m.Version
			}
			return 0
		}})
	if err != nil {
		panic(fmt.Sprintf("web.RegisterFraud: %v", err)) // a wiring mistake: FraudDeps.Store is required
	}
	h := &fraudAPI{deps: deps, measure: metrics}
	s.Handle("GET /api/v1/alerts", http.HandlerFunc(h.alerts))
	s.Handle("GET /api/v1/alerts/{transaction_id}", http.HandlerFunc(h.alertDetail))
	s.Handle("POST /api/v1/alerts/{transaction_id}/label", http.HandlerFunc(h.label))
	s.Handle("GET /api/v1/fraud/rings", http.HandlerFunc(h.rings))
	s.Handle("GET /api/v1/fraud/rules", http.HandlerFunc(h.rules))
	s.Handle("GET /api/v1/fraud/metrics", http.HandlerFunc(h.metrics))
	s.Handle("GET /api/v1/fraud/series", http.HandlerFunc(h.series))
	s.Handle("GET /api/v1/fraud/cost", http.HandlerFunc(h.cost))
	s.Handle("GET /api/v1/fraud/models", http.HandlerFunc(h.models))
	s.Handle("POST /api/v1/fraud/models/{version}/promote", http.HandlerFunc(h.promote))
	s.Handle("POST /api/v1/fraud/models/rollback", http.HandlerFunc(h.rollback))
	s.Handle("POST /api/v1/score", http.HandlerFunc(h.score))
}

type fraudAPI struct {
	deps    FraudDeps
	measure *fraudmetrics.Service
}

// round4 keeps four decimals of a risk stored as a float32.
func round4(v float64) float64 { return math.Round(v*1e4) / 1e4 }

// num turns NaN (an undefined rate) into null.
func num(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	v = math.Round(v*1e6) / 1e6
	return &v
}
