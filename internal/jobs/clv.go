package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"time"

	"github.com/shopstream/shopstream/internal/analytics"
	"github.com/shopstream/shopstream/internal/modeldoc"
	"github.com/shopstream/shopstream/internal/store"
)

type prediction struct {
	p  analytics.CLVPrediction
	ok bool // finite and non-negative
}

// clv refits the CLV models, or falls back to the stored one, and predicts
// every customer. It returns nil predictions when there is no model.
func (r *Refresh) clv(ctx context.Context, pop *population, asOf time.Time, rep *RefreshReport) ([]prediction, int, error) {
	st := r.cfg.Store
	cfg := analytics.CLVConfig{Months: r.cfg.CLVMonths, AnnualDiscountRate: r.cfg.DiscountRate, Period: analytics.Week}
	var (
		model   *analytics.CLV
		params  modeldoc.CLVParams
		metrics modeldoc.CLVMetrics
		note    string
		version int
	)
	if kept := r.kept; kept != nil && kept.clvDegenerate {
		rep.CLVNote = fmt.Sprintf("model of the day kept: the population changed by less than 1%% since it was fitted; it (version %d) is degenerate: no CLV", kept.clvVersion)
		return nil, 0, nil
	} else if kept != nil {
		model, version = kept.clv, kept.clvVersion
		rep.CLVNote = "model of the day kept: the population changed by less than 1% since it was fitted"
	} else {
		model, params, metrics, note = r.fitCLV(pop, asOf, cfg)
		if metrics.FitCheck != nil && metrics.FitCheck.Degenerate {
			// Stored, so that the API and the command line say why there is
			// no CLV, and nobody reads one off it.
			rep.CLVNote = note
			pj, err := json.Marshal(params)
			if err != nil {
				return nil, 0, err
			}
			mj, err := json.Marshal(metrics)
			if err != nil {
				return nil, 0, err
			}
			if version, err = st.SaveModelVersion(ctx, store.ModelCLV, pj, mj); err != nil {
				return nil, 0, err
			}
			level := slog.LevelWarn
			if r.cfg.Reported {
				level = slog.LevelDebug
			}
			r.log.Log(ctx, level, "CLV: the BG/NBD fit is degenerate; no CLV this run", "version", version, "problems", strings.Join(metrics.FitCheck.Problems, "; "))
			rep.CLVFitted, rep.CLVVersion = true, version
			r.fitted.clvVersion, r.fitted.clvDegenerate = version, true
			return nil, version, nil
		}
	}
	if model == nil {
		rep.CLVNote = note
		prev, err := st.LatestModelVersion(ctx, store.ModelCLV)
		if errors.Is(err, store.ErrNoModel) {
			r.log.Info("CLV not refitted and no earlier model: no CLV this run", "reason", note)
			return nil, 0, nil
		}
		if err != nil {
			return nil, 0, err
		}
		var p modeldoc.CLVParams
		if err := json.Unmarshal(prev.Params, &p); err != nil {
			return nil, 0, fmt.Errorf("decoding CLV model %d: %w", prev.Version, err)
		}
		var pm modeldoc.CLVMetrics
		if err := json.Unmarshal(prev.Metrics, &pm); err == nil && pm.FitCheck != nil && pm.FitCheck.Degenerate {
			rep.CLVNote = fmt.Sprintf("%s; the latest model (version %d) is degenerate: %s", note, prev.Version, strings.Join(pm.FitCheck.Problems, "; "))
			return nil, 0, nil
		}
		if model, err = clvModel(p, cfg); err != nil {
			return nil, 0, fmt.Errorf("CLV model %d: %w", prev.Version, err)
		}
		version = prev.Version
		r.log.Info("CLV not refitted; keeping the previous model", "reason", note, "version", version)
	}
	raw := model.PredictAll(pop.sums, nil)
	preds := make([]prediction, len(raw))
	var alive, total float64
	bad := 0
	for i, p := range raw {
		ok := finiteNonNeg(p.ProbAlive) && p.ProbAlive <= 1 && finiteNonNeg(p.ExpectedPurchases) && finiteNonNeg(p.ExpectedSpend) && finiteNonNeg(p.Value)
		preds[i] = prediction{p, ok}
		if !ok {
			bad++
			continue
		}
		alive += p.ProbAlive
		total += p.Value
	}
	if bad > 0 {
		r.log.Warn("CLV not finite for some customers; stored without CLV", "customers", bad)
	}
	if version == 0 {
		good := float64(max(len(raw)-bad, 1))
		meanAlive, meanCLV := alive/good, total/good
		metrics.MeanProbAlive, metrics.TotalCLV, metrics.MeanCLV = &meanAlive, &total, &meanCLV
		pj, err := json.Marshal(params)
		if err != nil {
			return nil, 0, err
		}
		mj, err := json.Marshal(metrics)
		if err != nil {
			return nil, 0, err
		}
		if version, err = st.SaveModelVersion(ctx, store.ModelCLV, pj, mj); err != nil {
			return nil, 0, err
		}
		rep.CLVFitted = true
		r.fitted.clv, r.fitted.clvVersion = model, version
	}
	rep.CLVVersion = version
	return preds, version, nil
}

func finiteNonNeg(v float64) bool { return v >= 0 && !math.IsInf(v, 0) }

// fitCLV fits BG/NBD and Gamma-Gamma, or says why it did not.
func (r *Refresh) fitCLV(pop *population, asOf time.Time, cfg analytics.CLVConfig) (*analytics.CLV, modeldoc.CLVParams, modeldoc.CLVMetrics, string) {
	var params modeldoc.CLVParams
	var metrics modeldoc.CLVMetrics
	n := len(pop.sums)
	repeat := 0
	for _, s := range pop.sums {
		if s.Frequency > 0 {
			repeat++
		}
	}
	switch {
	case n < r.cfg.MinCustomers:
		return nil, params, metrics, fmt.Sprintf("%d customers, at least %d needed to fit", n, r.cfg.MinCustomers)
	case repeat < r.cfg.MinRepeatCustomers:
		return nil, params, metrics, fmt.Sprintf("%d repeat customers, at least %d needed to fit Gamma-Gamma", repeat, r.cfg.MinRepeatCustomers)
	}
	start := time.Now()
	bg, err := analytics.FitBGNBD(pop.sums)
	if err != nil {
		return nil, params, metrics, "BG/NBD fit failed: " + err.Error()
	}
	gg, err := analytics.FitGammaGamma(pop.sums)
	if err != nil {
		return nil, params, metrics, "Gamma-Gamma fit failed: " + err.Error()
	}
	chk := analytics.CheckBGNBD(bg.BGNBD, pop.sums, analytics.Week)
	model, err := analytics.NewCLV(bg.BGNBD, gg.GammaGamma, cfg)
	if err != nil && !chk.Degenerate {
		return nil, params, metrics, "fitted parameters unusable: " + err.Error()
	}
	params.BGNBD.R, params.BGNBD.Alpha, params.BGNBD.A, params.BGNBD.B = bg.R, bg.Alpha, bg.A, bg.B
	params.GammaGamma.P, params.GammaGamma.Q, params.GammaGamma.Gamma = gg.P, gg.Q, gg.Gamma
	params.Period = "week"
	metrics = modeldoc.CLVMetrics{
		AsOf: asOf, Customers: n, RepeatCustomers: gg.Customers,
		BGNBDLogLikelihood: bg.LogLikelihood, GammaGammaLogLikelihood: gg.LogLikelihood,
		FrequencyMonetaryCorrelation: freqMonetaryCorr(pop.sums), PopulationMeanSpend: gg.PopulationMean(),
		HorizonMonths: cfg.Months, DiscountRate: cfg.AnnualDiscountRate, FitSeconds: time.Since(start).Seconds(),
		FitCheck: &modeldoc.CLVFitCheck{Degenerate: chk.Degenerate, Problems: chk.Problems, HistoryWeeks: chk.HistoryWeeks,
			RepeatCustomers: chk.RepeatCustomers, LogSE: chk.LogSE},
	}
	if chk.Degenerate {
		return nil, params, metrics, "degenerate BG/NBD fit, no CLV: " + strings.Join(chk.Problems, "; ")
	}
	return model, params, metrics, ""
}

// clvModel rebuilds the predictor of stored parameters.
func clvModel(p modeldoc.CLVParams, cfg analytics.CLVConfig) (*analytics.CLV, error) {
	if p.Period != "week" {
		return nil, fmt.Errorf("period %q, want week", p.Period)
	}
	bg := analytics.BGNBD{R: p.BGNBD.R, Alpha: p.BGNBD.Alpha, A: p.BGNBD.A, B: p.BGNBD.B}
	gg := analytics.GammaGamma{P: p.GammaGamma.P, Q: p.GammaGamma.Q, Gamma: p.GammaGamma.Gamma}
	return analytics.NewCLV(bg, gg, cfg)
}

// freqMonetaryCorr is the Pearson correlation of x and mean repeat spend
// over repeat customers (0 when undefined).
func freqMonetaryCorr(sums []analytics.Summary) float64 {
	var n, sx, sy, sxx, syy, sxy float64
	for _, s := range sums {
		if s.Frequency == 0 {
			continue
		}
		x, y := float64(s.Frequency), s.MonetaryMean
		n++
		sx, sy, sxx, syy, sxy = sx+x, sy+y, sxx+x*x, syy+y*y, sxy+x*y
	}
	den := math.Sqrt((n*sxx - sx*sx) * (n*syy - sy*sy))
	if n < 2 || !(den > 0) {
		return 0
	}
	return (n*sxy - sx*sy) / den
}
