package alert

import (
	"context"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/internal/store"
)

// deliverOutbox hands the due outbox messages to the sender: all at once
// when the store can (store.OutboxBatchDeliverer), so that the Kafka
// messages among them are produced together and their acknowledgements
// awaited once, instead of one round trip each (the entity stage's
// repartition records are three per transaction); one by one otherwise.
func (d *Deliverer) deliverOutbox(ctx context.Context) (delivered, failed int, err error) {
	if bd, ok := d.cfg.Store.(store.OutboxBatchDeliverer); ok && d.cfg.Kafka != nil {
		return bd.DeliverOutboxBatch(ctx, d.cfg.Batch, d.sendBatch(ctx))
	}
	return d.cfg.Store.DeliverOutbox(ctx, d.cfg.Batch, d.send(ctx))
}

// sendBatch sends msgs: the Kafka messages that go where they were queued
// (configured, not routed, their topic not backing off) are produced
// together and awaited; every other message goes through send.
func (d *Deliverer) sendBatch(ctx context.Context) func(msgs []store.OutboxMsg) []error {
	send := d.send(ctx)
	return func(msgs []store.OutboxMsg) []error {
		errs := make([]error, len(msgs))
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		var wg sync.WaitGroup
		var produced []int
		now := d.cfg.Now()
		for i := range msgs {
			m := &msgs[i]
			routed := d.deliveries != nil && m.Target == d.cfg.AlertsTopic
			tb := d.backoffs[target{m.Kind, m.Target}]
			if m.Kind != "kafka" || routed || d.configured(m) != nil || (tb != nil && now.Before(tb.until)) {
				errs[i] = send(m)
				continue
			}
			produced = append(produced, i)
			wg.Add(1)
			d.cfg.Kafka.Produce(pctx, kafkaRecord(m), func(_ *kgo.Record, err error) {
				errs[i] = err
				wg.Done()
			})
		}
		wg.Wait()
		for _, i := range produced {
			m := &msgs[i]
			t := target{m.Kind, m.Target}
			if errs[i] != nil {
				d.failed.WithLabelValues(m.Kind).Inc()
				tb := d.backoffs[t]
				if tb == nil {
					tb = &targetBackoff{b: d.newBackoff()}
					d.backoffs[t] = tb
				}
				tb.until = d.cfg.Now().Add(tb.b.NextBackOff())
				continue
			}
			delete(d.backoffs, t)
			d.delivered.WithLabelValues(m.Kind).Inc()
			if !m.CreatedAt.IsZero() {
				d.latency.WithLabelValues(m.Kind).Observe(max(0, d.cfg.Now().Sub(m.CreatedAt).Seconds()))
			}
		}
		return errs
	}
}
