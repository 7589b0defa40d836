// Package alert delivers what the processor queued in the outbox: alerts
// and dead-letter records to Kafka topics, and alerts to webhooks as
// Slack-compatible JSON. A message is queued in the same database
// transaction as the records it is about, so it is sent if and only if they
// were stored; delivery is retried with backoff until it succeeds.
package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/internal/store"
)

// Config configures a Deliverer.
type Config struct {
	// Store holds the outbox. Required.
	Store store.Store
	// Kafka produces messages of kind "kafka". Required when such messages
	// are queued; without it they wait and are reported.
	Kafka *kgo.Client
	// Webhooks maps webhook names (as queued) to URLs. Defaults to none.
	Webhooks map[string]string
	// Interval between outbox polls when idle. Defaults to 250 ms.
	Interval time.Duration
	// Batch is the most messages handled per poll. Defaults to 500.
	Batch int
	// HTTP is the client for webhooks. Defaults to one with a 5 s timeout.
	HTTP *http.Client
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Registerer, when set, receives the deliverer's metrics.
	Registerer prometheus.Registerer
}

// Deliverer sends outbox messages.
type Deliverer struct {
	cfg       Config
	log       *slog.Logger
	delivered *prometheus.CounterVec
	failed    *prometheus.CounterVec
}

// New returns a Deliverer.
func New(cfg Config) (*Deliverer, error) {
	if cfg.Store == nil {
		return nil, fmt.Errorf("alert: no store given")
	}
	if cfg.Interval == 0 {
		cfg.Interval = 250 * time.Millisecond
	}
	if cfg.Batch == 0 {
		cfg.Batch = 500
	}
	if cfg.HTTP == nil {
		cfg.HTTP = &http.Client{Timeout: 5 * time.Second}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	reg := cfg.Registerer
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	f := promauto.With(reg)
	return &Deliverer{
		cfg: cfg,
		log: cfg.Logger.With("component", "outbox"),
		delivered: f.NewCounterVec(prometheus.CounterOpts{Name: "shopstream_outbox_delivered_total",
			Help: "Outbox messages delivered, by kind."}, []string{"kind"}),
		failed: f.NewCounterVec(prometheus.CounterOpts{Name: "shopstream_outbox_failures_total",
			Help: "Failed outbox delivery attempts, by kind (each is retried)."}, []string{"kind"}),
	}, nil
}

// Run delivers until ctx is cancelled.
func (d *Deliverer) Run(ctx context.Context) error {
	t := time.NewTicker(d.cfg.Interval)
	defer t.Stop()
	for {
		n, failed, err := d.cfg.Store.DeliverOutbox(ctx, d.cfg.Batch, d.send(ctx))
		if err != nil && ctx.Err() == nil {
			d.log.Error("reading the outbox failed; retrying", "err", err)
		}
		if failed > 0 {
			d.log.Warn("outbox deliveries failed; they will be retried with backoff", "failed", failed, "delivered", n)
		}
		if n == d.cfg.Batch {
			continue // more waiting
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (d *Deliverer) send(ctx context.Context) func(m *store.OutboxMsg) error {
	return func(m *store.OutboxMsg) error {
		var err error
		switch m.Kind {
		case "kafka":
			err = d.sendKafka(ctx, m)
		case "webhook":
			err = d.sendWebhook(ctx, m)
		default:
			err = fmt.Errorf("unknown outbox kind %q", m.Kind)
		}
		if err != nil {
			d.failed.WithLabelValues(m.Kind).Inc()
			return err
		}
		d.delivered.WithLabelValues(m.Kind).Inc()
		return nil
	}
}

func (d *Deliverer) sendKafka(ctx context.Context, m *store.OutboxMsg) error {
	if d.cfg.Kafka == nil {
		return fmt.Errorf("no Kafka client to send to topic %s", m.Target)
	}
	r := &kgo.Record{Topic: m.Target, Key: m.Key, Value: m.Payload}
	if len(m.Headers) > 0 {
		var hs map[string]string
		if err := json.Unmarshal(m.Headers, &hs); err == nil {
			for k, v := range hs {
				r.Headers = append(r.Headers, kgo.RecordHeader{Key: k, Value: []byte(v)})
			}
		}
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return d.cfg.Kafka.ProduceSync(pctx, r).FirstErr()
}

// SlackMessage is the webhook body: Slack's incoming-webhook format, which
// many chat tools accept. The alert itself rides along under "alert".
type SlackMessage struct {
	Text  string          `json:"text"`
	Alert json.RawMessage `json:"alert"`
}

func (d *Deliverer) sendWebhook(ctx context.Context, m *store.OutboxMsg) error {
	url, ok := d.cfg.Webhooks[m.Target]
	if !ok {
		return fmt.Errorf("webhook %q is not configured", m.Target)
	}
	var a struct {
		TransactionID string  `json:"transaction_id"`
		CustomerID    string  `json:"customer_id"`
		Amount        float64 `json:"amount"`
		Currency      string  `json:"currency"`
		Risk          float64 `json:"risk"`
		Decision      string  `json:"decision"`
		Reasons       []struct {
			Rule    string  `json:"rule"`
			Reason  string  `json:"reason"`
			Feature string  `json:"feature"`
			Value   float64 `json:"value"`
			Z       float64 `json:"z"`
		} `json:"reasons"`
	}
	_ = json.Unmarshal(m.Payload, &a)
	text := fmt.Sprintf(":rotating_light: %s transaction %s of customer %s (%.2f %s), risk %.2f", a.Decision, a.TransactionID, a.CustomerID, a.Amount, a.Currency, a.Risk)
	for _, r := range a.Reasons {
		switch {
		case r.Rule != "":
			text += fmt.Sprintf("\n• %s (%s)", r.Reason, r.Rule)
		case r.Feature != "":
			text += fmt.Sprintf("\n• %s = %g stands out (z = %.1f)", r.Feature, r.Value, r.Z)
		}
	}
	body, _ := json.Marshal(SlackMessage{Text: text, Alert: m.Payload})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("webhook %s: %w", m.Target, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := d.cfg.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("webhook %s: %w", m.Target, err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16)) //nolint:errcheck // draining for reuse
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook %s answered %s", m.Target, resp.Status)
	}
	return nil
}
