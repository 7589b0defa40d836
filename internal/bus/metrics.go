package bus

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kprom"
)

// Metrics is the option that reports a franz-go client's own metrics
// (connections, bytes and records read and written per broker and
// topic, request latencies) on reg through its kprom plugin, as shopstream_kafka_*
// with a client label naming which client of the process it is
// (consumer, outbox, ...). Each client needs its own: kprom registers its
// metrics when the client is created.
func Metrics(reg prometheus.Registerer, client string) kgo.Opt {
	return kgo.WithHooks(kprom.NewMetrics("shopstream", kprom.Subsystem("kafka"), kprom.Registerer(reg),
		kprom.WithStaticLabel(prometheus.Labels{"client": client}),
		kprom.FetchAndProduceDetail(kprom.ByNode, kprom.ByTopic, kprom.Records, kprom.UncompressedBytes, kprom.ConsistentNaming)))
}
