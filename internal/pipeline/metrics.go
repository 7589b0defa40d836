package pipeline

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Metrics are the processor's Prometheus metrics.
type Metrics struct {
	Records     *prometheus.CounterVec
	Batches     prometheus.Counter
	BatchSize   prometheus.Histogram
	Latency     prometheus.Histogram
	WriteTime   prometheus.Histogram
	WriteErrors *prometheus.CounterVec
	Retries     *prometheus.CounterVec
	RecordsLost *prometheus.CounterVec
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
}

// NewMetrics registers the processor's metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
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
	}
}
