package cli

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/internal/bus"
	"github.com/shopstream/shopstream/internal/event"
	"github.com/shopstream/shopstream/internal/generate"
)

// kafkaSink produces generated records to a topic, keyed by customer, with
// the labels in headers that only evaluation reads.
type kafkaSink struct {
	cl    *kgo.Client
	topic string
	mu    sync.Mutex
	err   error
	own   bool
	// written counts records acknowledged by the broker.
	written atomic.Int64
}

// newKafkaSink returns a generate.Sink producing to topic on brokers.
// conn are how it reaches the brokers (TLS, SASL; nil: plaintext).
func newKafkaSink(ctx context.Context, brokers []string, conn []kgo.Opt, topic string, logger *slog.Logger) (generate.Sink, error) {
	cl, err := kgo.NewClient(append(append(bus.ClientOpts(brokers, logger), conn...),
		kgo.ProducerLinger(2*time.Millisecond),
		kgo.MaxBufferedRecords(20000),
		kgo.ProducerBatchMaxBytes(1<<20),
	)...)
	if err != nil {
		return nil, fmt.Errorf("creating Kafka producer: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := cl.Ping(pctx); err != nil {
		cl.Close()
		return nil, fmt.Errorf("reaching Kafka at %v: %w", brokers, err)
	}
	if err := bus.EnsureTopics(pctx, cl, topic); err != nil {
		logger.Warn("the topic could not be created; producing to it fails until it exists", "topic", topic, "err", err)
	}
	return &kafkaSink{cl: cl, topic: topic, own: true}, nil
}

func (s *kafkaSink) Write(ctx context.Context, r generate.Record) error {
	s.mu.Lock()
	err := s.err
	s.mu.Unlock()
	if err != nil {
		return err
	}
	rec := &kgo.Record{Topic: s.topic, Key: r.Key, Value: r.Value}
	for _, h := range r.Headers() {
		if len(h.Value) > 0 {
			rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: h.Key, Value: h.Value})
		}
	}
	s.cl.Produce(ctx, rec, func(_ *kgo.Record, err error) {
		if err == nil {
			s.written.Add(1)
			return
		}
		{
			s.mu.Lock()
			if s.err == nil {
				s.err = fmt.Errorf("producing to %s: %w", s.topic, err)
			}
			s.mu.Unlock()
		}
	})
	return nil
}

func (s *kafkaSink) Flush(ctx context.Context) error {
	if err := s.cl.Flush(ctx); err != nil {
		return fmt.Errorf("flushing to %s: %w", s.topic, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Close flushes nothing more and releases the client.
func (s *kafkaSink) Close() {
	if s.own {
		s.cl.Close()
	}
}

// labels returns a generate.LabelSink producing label events to topic with
// the sink's client, keyed by transaction id; Flush flushes the client
// (the transactions too) and reports the first error of either.
func (s *kafkaSink) labels(topic string) generate.LabelSink {
	return kafkaLabelSink{s: s, topic: topic}
}

type kafkaLabelSink struct {
	s     *kafkaSink
	topic string
}

func (k kafkaLabelSink) WriteLabel(ctx context.Context, l *event.Label, value []byte) error {
	s := k.s
	s.mu.Lock()
	err := s.err
	s.mu.Unlock()
	if err != nil {
		return err
	}
	s.cl.Produce(ctx, &kgo.Record{Topic: k.topic, Key: []byte(l.TransactionID), Value: value}, func(_ *kgo.Record, err error) {
		if err != nil {
			s.mu.Lock()
			if s.err == nil {
				s.err = fmt.Errorf("producing to %s: %w", k.topic, err)
			}
			s.mu.Unlock()
		}
	})
	return nil
}

func (k kafkaLabelSink) Flush(ctx context.Context) error { return k.s.Flush(ctx) }
