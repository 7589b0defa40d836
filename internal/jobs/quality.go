package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/shopstream/shopstream/internal/quality/monitor"
	"github.com/shopstream/shopstream/internal/store"
)

// QualityWatchName is the leader lock of the whole stream's quality
// detectors.
const QualityWatchName = "quality-watch"

// Leader hands out the store's leader lock (store.Analytics has it).
type Leader interface {
	TryLead(ctx context.Context, name string) (release func(), ok bool, err error)
}

// QualityWatchConfig configures a QualityWatch.
type QualityWatchConfig struct {
	// Store keeps the quality counts and findings. Required.
	Store store.Quality
	// Leader, when set, lets one instance at a time run the whole
	// stream's detectors (volume, failure rise); the others skip. Defaults
	// to none: this instance always runs them.
	Leader Leader
	// Monitor is this processor's monitor, whose freshness and drift
	// detectors the local job runs. Defaults to none: no local job.
	Monitor *monitor.Monitor
	// Source names this instance in its findings (the processor's
	// instance id). Defaults to "local".
	Source string
	// AlertsTopic receives an alert through the outbox when a finding
	// starts or worsens. Defaults to "alerts".
	AlertsTopic string
	// Volume and Rise are the whole stream's detectors' settings.
	// Default to theirs.
	Volume monitor.VolumeConfig
	Rise   monitor.RiseConfig
	// Settle is how old a minute (by event time) must be before its
	// transactions are counted complete and judged. Defaults to 2 minutes.
	Settle time.Duration
	// Now is the clock. Defaults to time.Now.
	Now func() time.Time
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Registerer receives the quality metrics. Defaults to none.
	Registerer prometheus.Registerer
}

// QualityWatch runs the stream's quality detectors and turns what they
// find into stored findings and alerts. Freshness and drift are judged
// per processor, on what its own partitions saw (records are spread over
// partitions by customer, so each processor's share has the stream's
// distributions); volume and failure rise need every processor's counts
// and are judged by one leader from the stored counts.
type QualityWatch struct {
	cfg QualityWatchConfig
	log *slog.Logger

	mu            sync.Mutex // one run of each job at a time; guards the trackers
	local, global monitor.Tracker

	eventLag, procLag, volumeZ prometheus.Gauge
	psi, active                *prometheus.GaugeVec
}

// NewQualityWatch validates cfg and registers the metrics.
func NewQualityWatch(cfg QualityWatchConfig) (*QualityWatch, error) {
	if cfg.Store == nil {
		return nil, errors.New("quality watch: no store given")
	}
	if cfg.Source == "" {
		cfg.Source = "local"
	}
	if cfg.AlertsTopic == "" {
		cfg.AlertsTopic = "alerts"
	}
	if cfg.Settle == 0 {
		cfg.Settle = 2 * time.Minute
	}
	if cfg.Settle < 0 {
		return nil, fmt.Errorf("quality watch: settle %v is negative", cfg.Settle)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.Volume, cfg.Rise = cfg.Volume.WithDefaults(), cfg.Rise.WithDefaults()
	f := promauto.With(cfg.Registerer)
	w := &QualityWatch{cfg: cfg, log: cfg.Logger.With("component", "quality")}
	w.eventLag = f.NewGauge(prometheus.GaugeOpts{Name: "shopstream_quality_event_lag_seconds",
		Help: "Median of the clock minus the event time of the records this processor checked in the last two minutes."})
	w.procLag = f.NewGauge(prometheus.GaugeOpts{Name: "shopstream_quality_processing_lag_seconds",
		Help: "Median of the clock minus the Kafka produce time of the records this processor checked in the last two minutes."})
	w.volumeZ = f.NewGauge(prometheus.GaugeOpts{Name: "shopstream_quality_volume_z",
		Help: "Robust z of the transactions in the last settled minute against the volume band (leader only)."})
	w.psi = f.NewGaugeVec(prometheus.GaugeOpts{Name: "shopstream_quality_drift_psi",
		Help: "Population stability index of a field's last 15 minutes against the 60 before, on this processor."}, []string{"field"})
	w.active = f.NewGaugeVec(prometheus.GaugeOpts{Name: "shopstream_quality_findings",
		Help: "Findings of the last run of each quality detector, by detector and severity."}, []string{"detector", "severity"})
	if cfg.Monitor != nil && cfg.Registerer != nil {
		if err := cfg.Registerer.Register(monitorCollector{m: cfg.Monitor, now: cfg.Now}); err != nil {
			return nil, fmt.Errorf("registering the quality metrics: %w", err)
		}
	}
	return w, nil
}

// QualityStreamJob names the job of the whole stream's detectors (volume,
// failure rise) among the watch's Jobs.
const QualityStreamJob = "quality-stream"

// Jobs returns the watch's periodic jobs, each every interval: the local
// detectors (when there is a monitor) and the whole stream's.
func (w *QualityWatch) Jobs(interval time.Duration) []Job {
	var out []Job
	if w.cfg.Monitor != nil {
		out = append(out, Job{Name: "quality-local", Run: w.Local, Interval: interval, FirstDelay: interval, Timeout: interval})
	}
	return append(out, Job{Name: QualityStreamJob, Run: w.Global, Interval: interval, FirstDelay: interval, Timeout: interval})
}

// Local runs the freshness and drift detectors on this processor's
// monitor once.
func (w *QualityWatch) Local(ctx context.Context) error {
	if w.cfg.Monitor == nil {
		return fmt.Errorf("%w: no monitor", ErrSkipped)
	}
	now := w.cfg.Now()
	ev := w.cfg.Monitor.Evaluate(now)
	if ev.Lags.Records > 0 {
		w.eventLag.Set(ev.Lags.Event.Seconds())
		w.procLag.Set(ev.Lags.Processing.Seconds())
	}
	var samples []store.DriftSample
	for _, d := range ev.Drift {
		w.psi.WithLabelValues(d.Field).Set(d.PSI)
		if d.Ref > 0 && d.Cur > 0 {
			samples = append(samples, store.DriftSample{At: now.UTC(), Source: w.cfg.Source, Field: d.Field, PSI: d.PSI, Ref: d.Ref, Cur: d.Cur})
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	// The statistic of every run, kept as a trend (GET
	// /api/v1/quality/drift), whether or not it is a finding.
	if qd, ok := w.cfg.Store.(store.QualityDrift); ok && len(samples) > 0 {
		if err := qd.AddDriftSamples(ctx, samples); err != nil {
			return err
		}
	}
	return w.record(ctx, &w.local, []string{monitor.DetectFreshness, monitor.DetectDrift}, ev.Findings, w.cfg.Source)
}

// Global runs the volume and failure-rise detectors on the stored counts
// once, as the leader.
func (w *QualityWatch) Global(ctx context.Context) error {
	if w.cfg.Leader != nil {
		release, ok, err := w.cfg.Leader.TryLead(ctx, QualityWatchName)
		if err != nil {
			return fmt.Errorf("taking the quality leader lock: %w", err)
		}
		if !ok {
			return fmt.Errorf("%w: another instance leads", ErrSkipped)
		}
		defer release()
	}
	now := w.cfg.Now().UTC()
	var findings []monitor.Finding
	vf, err := w.volume(ctx, now)
	if err != nil {
		return err
	}
	findings = append(findings, vf...)
	rf, err := w.rise(ctx, now)
	if err != nil {
		return err
	}
	findings = append(findings, rf...)
	for i := range findings {
		findings[i].At = now
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.record(ctx, &w.global, []string{monitor.DetectVolume, monitor.DetectFailureRise}, findings, "leader")
}

// volume judges the last settled minute's transactions.
func (w *QualityWatch) volume(ctx context.Context, now time.Time) ([]monitor.Finding, error) {
	cfg := w.cfg.Volume
	m := now.Add(-w.cfg.Settle).Truncate(time.Minute)
	read := func(from, to time.Time) ([]store.MinuteCount, error) {
		return w.cfg.Store.TxPerMinute(ctx, from, to)
	}
	recent, err := read(m.Add(-time.Duration(cfg.Rolling)*time.Minute), m.Add(time.Minute))
	if err != nil {
		return nil, err
	}
	var h monitor.VolumeHistory
	var count float64
	for _, c := range recent {
		if c.Minute.Equal(m) {
			count = float64(c.Count) // absent: none stored, an outage
			continue
		}
		h.Rolling = append(h.Rolling, float64(c.Count))
	}
	spread := time.Duration(cfg.Spread) * time.Minute
	for d := 1; d <= cfg.Days; d++ {
		at := m.Add(-time.Duration(d) * 24 * time.Hour)
		day, err := read(at.Add(-spread), at.Add(spread+time.Minute))
		if err != nil {
			return nil, err
		}
		var xs []float64
		for _, c := range day {
			xs = append(xs, float64(c.Count))
		}
		h.Days = append(h.Days, xs)
	}
	band, fs := monitor.Volume(m, count, h, cfg)
	if band.Method != "" {
		w.volumeZ.Set(band.Z)
	}
	return fs, nil
}

// rise judges each check's failures in the last complete minutes.
func (w *QualityWatch) rise(ctx context.Context, now time.Time) ([]monitor.Finding, error) {
	cfg := w.cfg.Rise
	cur := now.Truncate(time.Minute)
	split := cur.Add(-time.Duration(cfg.Recent) * time.Minute)
	rows, err := w.cfg.Store.QualityMinutes(ctx, split.Add(-time.Duration(cfg.Baseline)*time.Minute), cur)
	if err != nil {
		return nil, err
	}
	var base, recent []monitor.Row
	for _, r := range rows {
		row := monitor.Row{Minute: r.Minute, Check: r.Check, Counts: monitor.Counts{Checked: r.Checked, Passed: r.Passed, Warned: r.Warned, Failed: r.Failed}}
		if r.Minute.Before(split) {
			base = append(base, row)
		} else {
			recent = append(recent, row)
		}
	}
	return monitor.FailureRise(monitor.Summarize(base), monitor.Summarize(recent), cfg), nil
}

// QualityAlert is the JSON of a quality alert sent to the alerts topic
// (Kafka key "quality/<detector>/<subject>", header
// shopstream-alert-kind: quality), beside the fraud alerts.
type QualityAlert struct {
	Kind       string    `json:"kind"` // always "quality"
	Detector   string    `json:"detector"`
	Subject    string    `json:"subject"`
	Severity   string    `json:"severity"`
	Value      float64   `json:"value"`
	Threshold  float64   `json:"threshold"`
	Message    string    `json:"message"`
	DetectedAt time.Time `json:"detected_at"`
	Source     string    `json:"source"`
}

// alertHeaders mark a quality alert for routing.
var alertHeaders = []byte(`{"shopstream-alert-kind":"quality"}`)

// record stores an evaluation's findings, with an alert for each that
// starts or worsens an episode, and sets the findings gauge.
func (w *QualityWatch) record(ctx context.Context, tr *monitor.Tracker, detectors []string, findings []monitor.Finding, source string) error {
	counts := map[[2]string]int{}
	for _, d := range detectors {
		for _, s := range []monitor.Severity{monitor.Warning, monitor.Critical} {
			counts[[2]string{d, string(s)}] = 0
		}
	}
	rows := make([]store.QualityFinding, len(findings))
	for i, f := range findings {
		counts[[2]string{f.Detector, string(f.Severity)}]++
		rows[i] = store.QualityFinding{DetectedAt: f.At, Detector: f.Detector, Subject: f.Subject, Severity: string(f.Severity),
			Value: f.Value, Threshold: f.Threshold, Message: f.Message, Source: source}
	}
	var alerts []store.OutboxMsg
	news := tr.Update(findings)
	for _, f := range news {
		payload, err := json.Marshal(QualityAlert{Kind: "quality", Detector: f.Detector, Subject: f.Subject, Severity: string(f.Severity),
			Value: f.Value, Threshold: f.Threshold, Message: f.Message, DetectedAt: f.At, Source: source})
		if err != nil {
			return err
		}
		alerts = append(alerts, store.OutboxMsg{Kind: "kafka", Target: w.cfg.AlertsTopic, Key: []byte("quality/" + f.Key()),
			Headers: alertHeaders, Payload: payload})
		w.log.Warn("data quality: "+f.Message, "detector", f.Detector, "subject", f.Subject, "severity", f.Severity)
	}
	if err := w.cfg.Store.AddQualityFindings(ctx, rows, alerts); err != nil {
		// Forget the episodes begun, so the next run alerts on them again.
		*tr = monitor.Tracker{}
		return err
	}
	for k, n := range counts {
		w.active.WithLabelValues(k[0], k[1]).Set(float64(n))
	}
	return nil
}

// monitorCollector exposes a monitor's counts: the records per check and
// outcome since start, and each check's score over the last 5 minutes.
type monitorCollector struct {
	m   *monitor.Monitor
	now func() time.Time
}

var (
	recordsDesc = prometheus.NewDesc("shopstream_quality_records_total",
		"Records this processor checked since it started, by check and outcome (checked, passed, warned, failed; see docs/quality.md). A batch replayed after a crash is counted again; the stored counts are exact.",
		[]string{"check", "outcome"}, nil)
	scoreDesc = prometheus.NewDesc("shopstream_quality_score",
		"Share of the records checked in the last 5 minutes that passed, by check (all: the whole stream), on this processor.",
		[]string{"check"}, nil)
)

func (c monitorCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- recordsDesc
	ch <- scoreDesc
}

func (c monitorCollector) Collect(ch chan<- prometheus.Metric) {
	for check, n := range c.m.Totals() {
		for _, o := range []struct {
			name string
			v    int64
		}{{"checked", n.Checked}, {"passed", n.Passed}, {"warned", n.Warned}, {"failed", n.Failed}} {
			ch <- prometheus.MustNewConstMetric(recordsDesc, prometheus.CounterValue, float64(o.v), check, o.name)
		}
	}
	for check, n := range c.m.Recent(c.now(), 5*time.Minute) {
		if s, ok := n.Score(); ok {
			ch <- prometheus.MustNewConstMetric(scoreDesc, prometheus.GaugeValue, s, check)
		}
	}
}
