package pipeline

import (
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Metrics are the processor's Prometheus metrics.
type Metrics struct {
	Records   *prometheus.CounterVec
	Batches   prometheus.Counter
	BatchSize prometheus.Histogram
	Latency   prometheus.Histogram
	// ProducedAhead counts records committed before their produce
	// timestamp (a producer's clock ahead of this host's), which Latency
	// leaves out: it would count them as the fastest.
	ProducedAhead prometheus.Counter
	WriteTime     prometheus.Histogram
	WriteErrors   *prometheus.CounterVec
	Retries       *prometheus.CounterVec
	RecordsLost   *prometheus.CounterVec
	// GroupCommitErrors counts partitions whose offsets could not be
	// mirrored to the Kafka group.
	GroupCommitErrors prometheus.Counter
	// Stalled is 1 while the processor reports a stall (see Health).
	Stalled prometheus.Gauge
	// Stalls counts stalls begun, by kind (no_commit, write_retrying,
	// fenced, rebuild_failed, offset_beyond_end).
	Stalls     *prometheus.CounterVec
	Rebalances *prometheus.CounterVec
	Assigned   prometheus.Gauge
	// QualityWarnings counts records stored although a check with action
	// warn failed, by check; UnknownFields counts top-level fields the
	// schema does not know, by name (at most 100 names, then "_other").
	QualityWarnings *prometheus.CounterVec
	UnknownFields   *prometheus.CounterVec
	// ConsumerRecords counts records fetched, by partition.
	ConsumerRecords *prometheus.CounterVec
	// StageDuration times each stage of a batch: poll (waiting for
	// records), process (decode, check, score, aggregate), write (the
	// store transaction, commit included), group_commit (mirroring the
	// offsets to Kafka).
	StageDuration *prometheus.HistogramVec
	// Errors counts failures by stage and bounded kind.
	Errors *prometheus.CounterVec
	// Quarantined counts quarantined records committed, by check (at
	// most 100 names, later ones as _other).
	Quarantined *prometheus.CounterVec

	checks boundedLabels
}

// NewMetrics registers the processor's metrics on reg. The labels of
// retries, stalls, errors and records are shown at 0 from the start, so
// rate() and increase() see their first change.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := newMetrics(reg)
	for _, o := range []string{"stored", "quarantined"} {
		m.Records.WithLabelValues(o)
	}
	for _, k := range []string{"retry", "fenced", "duplicate", "rejected", "unstorable"} {
		m.WriteErrors.WithLabelValues(k)
		m.Errors.WithLabelValues("write", k)
	}
	for _, k := range []string{"store_transient", "store_rejected"} {
		m.Retries.WithLabelValues(k)
	}
	for _, k := range []string{"no_commit", "write_retrying", "fenced", "rebuild_failed", "offset_beyond_end"} {
		m.Stalls.WithLabelValues(k)
	}
	m.Errors.WithLabelValues("fetch", "offset_out_of_range")
	m.Errors.WithLabelValues("fetch", "broker")
	m.Errors.WithLabelValues("group_commit", "commit_failed")
	return m
}

func newMetrics(reg prometheus.Registerer) *Metrics {
	f := promauto.With(reg)
	return &Metrics{
		Records: f.NewCounterVec(prometheus.CounterOpts{Name: "shopstream_records_total",
			Help: "Records committed to the store, by outcome (stored, quarantined)."}, []string{"outcome"}),
		Batches: f.NewCounter(prometheus.CounterOpts{Name: "shopstream_batches_total", Help: "Batches committed."}),
		BatchSize: f.NewHistogram(prometheus.HistogramOpts{Name: "shopstream_batch_records",
			Help: "Records per committed batch.", Buckets: prometheus.ExponentialBuckets(1, 4, 9)}),
		Latency: f.NewHistogram(prometheus.HistogramOpts{Name: "shopstream_e2e_latency_seconds",
			Help:    "Time from a record's produce timestamp to the commit of its batch.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16)}),
		ProducedAhead: f.NewCounter(prometheus.CounterOpts{Name: "shopstream_produced_ahead_total",
			Help: "Records committed before their produce timestamp (the producer's clock ahead of this host's), left out of shopstream_e2e_latency_seconds."}),
		WriteTime: f.NewHistogram(prometheus.HistogramOpts{Name: "shopstream_batch_write_seconds",
			Help: "Time to write and commit one batch.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}),
		WriteErrors: f.NewCounterVec(prometheus.CounterOpts{Name: "shopstream_batch_write_errors_total",
			Help: "Failed batch writes, by kind (retry, fenced, duplicate, rejected, unstorable)."}, []string{"kind"}),
		Retries: f.NewCounterVec(prometheus.CounterOpts{Name: "shopstream_pipeline_retries_total",
			Help: "Retries after a failure, by kind (store_transient: a batch write, after a backoff with jitter)."}, []string{"kind"}),
		RecordsLost: f.NewCounterVec(prometheus.CounterOpts{Name: "shopstream_records_lost_total",
			Help: "Offsets the broker deleted before they were stored, by partition and reason (retention); counted when the batch that records the loss and its alert commits."}, []string{"partition", "reason"}),
		GroupCommitErrors: f.NewCounter(prometheus.CounterOpts{Name: "shopstream_group_offset_commit_errors_total",
			Help: "Partition offsets that could not be mirrored to the Kafka consumer group after a database commit."}),
		Stalled: f.NewGauge(prometheus.GaugeOpts{Name: "shopstream_pipeline_stalled",
			Help: "1 while the processor is stalled: nothing committed for the stall timeout while batches wait, a write stuck retrying, partitions fenced again and again, or a failed state rebuild."}),
		Stalls: f.NewCounterVec(prometheus.CounterOpts{Name: "shopstream_pipeline_stalls_total",
			Help: "Stalls begun, by kind (no_commit, write_retrying, fenced, rebuild_failed, offset_beyond_end)."}, []string{"kind"}),
		Rebalances: f.NewCounterVec(prometheus.CounterOpts{Name: "shopstream_partition_events_total",
			Help: "Partition assignments, revocations and losses."}, []string{"event"}),
		Assigned: f.NewGauge(prometheus.GaugeOpts{Name: "shopstream_partitions_assigned", Help: "Partitions this processor owns."}),
		QualityWarnings: f.NewCounterVec(prometheus.CounterOpts{Name: "shopstream_quality_warnings_total",
			Help: "Records accepted although a data-quality check with action warn failed, by check; counted when checked."}, []string{"check"}),
		UnknownFields: f.NewCounterVec(prometheus.CounterOpts{Name: "shopstream_quality_unknown_fields_total",
			Help: "Top-level fields the event schema does not know (schema drift), by field name: at most 100 names, later ones as _other."}, []string{"field"}),
		ConsumerRecords: f.NewCounterVec(prometheus.CounterOpts{Name: "shopstream_consumer_records_total",
			Help: "Records fetched from Kafka, by partition."}, []string{"partition"}),
		StageDuration: f.NewHistogramVec(prometheus.HistogramOpts{Name: "shopstream_stage_duration_seconds",
			Help:    "Time a batch spends in each stage: poll (waiting for records), process (decode, check, score, aggregate), write (the store transaction with the offsets, commit included), group_commit (mirroring the offsets to Kafka).",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 18)}, []string{"stage"}),
		Errors: f.NewCounterVec(prometheus.CounterOpts{Name: "shopstream_errors_total",
			Help: "Failures by stage (fetch, write, group_commit) and kind (fetch: offset_out_of_range, broker; write: retry, fenced, duplicate, rejected; group_commit: commit_failed)."},
			[]string{"stage", "kind"}),
		Quarantined: f.NewCounterVec(prometheus.CounterOpts{Name: "shopstream_quarantined_records_total",
			Help: "Quarantined records committed, by the check that failed (at most 100 names, later ones as _other)."}, []string{"check"}),
		checks: boundedLabels{max: 100, seen: map[string]bool{}},
	}
}

// boundedLabels keeps a label's values to a bounded set: the first max
// values seen, then "_other".
type boundedLabels struct {
	mu   sync.Mutex
	max  int
	seen map[string]bool
}

func (b *boundedLabels) value(v string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.seen[v] {
		return v
	}
	if len(b.seen) >= b.max {
		return "_other"
	}
	b.seen[v] = true
	return v
}

// partitionLabel is a partition's label value.
func partitionLabel(p int32) string { return strconv.Itoa(int(p)) }

var lagDesc = prometheus.NewDesc("shopstream_consumer_lag_records",
	"Records the partition's log holds beyond the offset stored with the results (its last stable offset at the last fetch minus the stored offset), by owned partition.",
	[]string{"partition"}, nil)

var pendingDesc = prometheus.NewDesc("shopstream_writer_pending_batches",
	"Batches handed to the writers and not yet committed.", nil, nil)

// Collector reports what the processor's Health knows at each scrape:
// the lag of each owned partition and the batches waiting for a writer.
// Register it next to NewMetrics' metrics.
func (p *Processor) Collector() prometheus.Collector { return healthCollector{p} }

type healthCollector struct{ p *Processor }

func (c healthCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- lagDesc
	ch <- pendingDesc
}

func (c healthCollector) Collect(ch chan<- prometheus.Metric) {
	h := c.p.Health()
	for _, ph := range h.Partitions {
		if ph.End >= 0 {
			ch <- prometheus.MustNewConstMetric(lagDesc, prometheus.GaugeValue, float64(ph.Lag), partitionLabel(ph.Partition))
		}
	}
	ch <- prometheus.MustNewConstMetric(pendingDesc, prometheus.GaugeValue, float64(h.PendingBatches))
}
