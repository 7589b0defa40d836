// Package alert delivers what the processor queued in the outbox: alerts
// and dead-letter records to Kafka topics, and alerts to webhooks as
// Slack-compatible JSON. A message is queued in the same database
// transaction as the records it is about, so it is sent if and only if they
// were stored; delivery is retried until it succeeds (at least once).
//
// Every message carries a stable id, MessageID of its outbox row, as the
// Kafka header "message-id" and the webhook header "Idempotency-Key", the
// same on every attempt, so receivers can drop repeats. A target that
// fails is left alone for a jittered exponential backoff
// (github.com/cenkalti/backoff/v5) before it is tried again, so a dead
// endpoint costs one timeout per backoff, not one per message. A message
// for a target that is not configured fails at once and is given up on,
// logged and counted, never retried. Delivered rows are pruned after
// Config.PruneAfter when the store can prune.
//
// With Config.Routes (a routes file, --alert-routes), alerts are routed
// by rules instead (routed.go, docs/alerts.md): to dashboard, Slack,
// signed webhook and Kafka destinations, with de-duplication, groups,
// rate limits with digests, and a record of every delivery.
package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/internal/alertroute"
	"github.com/shopstream/shopstream/internal/bus"
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
	// Topics are the Kafka topics messages may go to; a message for
	// another fails at once. Defaults to none: any topic.
	Topics []string
	// RetryInitial and RetryMax bound the backoff after a target fails:
	// it starts at RetryInitial, grows 2x per failure with ±50% jitter, up
	// to RetryMax. Default to 1 s and 5 minutes.
	RetryInitial, RetryMax time.Duration
	// PruneAfter is how long delivered messages are kept before they are
	// deleted (when the store can prune). Defaults to 24 hours; negative
	// keeps them.
	PruneAfter time.Duration
	// PruneInterval is how often delivered messages are pruned. Defaults
	// to 10 minutes.
	PruneInterval time.Duration
	// Now is the clock. Defaults to time.Now.
	Now func() time.Time
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

	// Routes, when set, returns the routes in force (a RoutesFile's
	// Current): the alerts queued for AlertsTopic are then routed by
	// them, not sent to that topic as they are, and the store must keep
	// deliveries (store.AlertDeliveries). Defaults to nil: no routing,
	// every message goes where it was queued.
	Routes func() *Routes
	// AlertsTopic is the topic the processor queues alerts for. Defaults
	// to "alerts".
	AlertsTopic string
	// GiveUpAfter is how long a routed message may keep failing after it
	// was due before it is recorded as failed for good. Defaults to 24
	// hours.
	GiveUpAfter time.Duration
}

// Deliverer sends outbox messages. Run it in one goroutine.
type Deliverer struct {
	cfg           Config
	log           *slog.Logger
	delivered     *prometheus.CounterVec
	failed        *prometheus.CounterVec
	undeliverable *prometheus.CounterVec
	pruned        prometheus.Counter
	// latency is from when a message was stored to its delivery.
	latency *prometheus.HistogramVec

	// Routing (routed.go).
	deliveries       store.AlertDeliveries
	routed           *prometheus.CounterVec
	unrouted         *prometheus.CounterVec
	deliveryOutcomes *prometheus.CounterVec
	deliveryLatency  *prometheus.HistogramVec
	deliverySeconds  *prometheus.HistogramVec

	// backoffs holds the targets that failed, until one of their
	// messages gets through.
	backoffs map[target]*targetBackoff
}

type target struct{ kind, name string }

type targetBackoff struct {
	b     *backoff.ExponentialBackOff
	until time.Time
}

// MessageID is the stable id of outbox message id: the same on every
// attempt to deliver it, so a receiver can drop repeats.
func MessageID(id int64) string { return "shopstream-outbox-" + strconv.FormatInt(id, 10) }

// Header names carrying MessageID.
const (
	HeaderMessageID      = "message-id"      // Kafka record header
	HeaderIdempotencyKey = "Idempotency-Key" // HTTP request header
)

// ErrNotConfigured is wrapped by the error of a message whose target (a
// webhook name, a topic) is not configured.
var ErrNotConfigured = errors.New("outbox target is not configured")

// outboxPruner is a store that deletes delivered outbox messages.
type outboxPruner interface {
	PruneOutbox(ctx context.Context, deliveredBefore time.Time, batch int) (int64, error)
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
	if cfg.RetryInitial == 0 {
		cfg.RetryInitial = time.Second
	}
	if cfg.RetryMax == 0 {
		cfg.RetryMax = 5 * time.Minute
	}
	if cfg.PruneAfter == 0 {
		cfg.PruneAfter = 24 * time.Hour
	}
	if cfg.PruneInterval == 0 {
		cfg.PruneInterval = 10 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.AlertsTopic == "" {
		cfg.AlertsTopic = bus.TopicAlerts
	}
	if cfg.GiveUpAfter == 0 {
		cfg.GiveUpAfter = 24 * time.Hour
	}
	var deliveries store.AlertDeliveries
	if cfg.Routes != nil {
		var ok bool
		if deliveries, ok = cfg.Store.(store.AlertDeliveries); !ok {
			return nil, fmt.Errorf("alert: the store %T keeps no alert deliveries, which routing needs", cfg.Store)
		}
		if cfg.Routes() == nil {
			return nil, fmt.Errorf("alert: Routes returns no routes")
		}
	}
	switch {
	case cfg.GiveUpAfter < 0:
		return nil, fmt.Errorf("alert: give-up time %s is negative", cfg.GiveUpAfter)
	case cfg.RetryInitial < 0 || cfg.RetryMax < cfg.RetryInitial:
		return nil, fmt.Errorf("alert: retry backoff from %s to %s: want 0 < initial <= max", cfg.RetryInitial, cfg.RetryMax)
	case cfg.PruneInterval < 0:
		return nil, fmt.Errorf("alert: prune interval %s is negative", cfg.PruneInterval)
	}
	reg := cfg.Registerer
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	f := promauto.With(reg)
	if b, ok := cfg.Store.(store.OutboxBacklog); ok {
		reg.MustRegister(backlogCollector{b})
	}
	d := &Deliverer{
		cfg: cfg,
		log: cfg.Logger.With("component", "outbox"),
		delivered: f.NewCounterVec(prometheus.CounterOpts{Name: "shopstream_outbox_delivered_total",
			Help: "Outbox messages delivered, by kind."}, []string{"kind"}),
		failed: f.NewCounterVec(prometheus.CounterOpts{Name: "shopstream_outbox_failures_total",
			Help: "Failed outbox delivery attempts, by kind (each is retried)."}, []string{"kind"}),
		undeliverable: f.NewCounterVec(prometheus.CounterOpts{Name: "shopstream_outbox_undeliverable_total",
			Help: "Outbox messages given up on because their target is not configured, by kind."}, []string{"kind"}),
		pruned: f.NewCounter(prometheus.CounterOpts{Name: "shopstream_outbox_pruned_total",
			Help: "Delivered outbox messages deleted after the retention."}),
		latency: f.NewHistogramVec(prometheus.HistogramOpts{Name: "shopstream_outbox_delivery_latency_seconds",
			Help:    "From when an outbox message was stored with its batch to its delivery, by kind.",
			Buckets: []float64{.005, .025, .1, .5, 1, 5, 30, 120, 600, 3600}}, []string{"kind"}),
		backoffs:   map[target]*targetBackoff{},
		deliveries: deliveries,
		routed: f.NewCounterVec(prometheus.CounterOpts{Name: "shopstream_alert_routed_total",
			Help: "Alerts routed to a destination, by destination and status: pending (a message of its own), deduplicated, grouped, rate_limited (into a digest)."},
			[]string{"destination", "status"}),
		unrouted: f.NewCounterVec(prometheus.CounterOpts{Name: "shopstream_alert_unrouted_total",
			Help: "Alerts no rule of the routes file matched, by kind."}, []string{"kind"}),
		deliveryOutcomes: f.NewCounterVec(prometheus.CounterOpts{Name: "shopstream_alert_deliveries_total",
			Help: "Attempts to send routed messages (alerts, groups, digests), by destination and outcome: sent, failed (retried), given_up."},
			[]string{"destination", "outcome"}),
		deliveryLatency: f.NewHistogramVec(prometheus.HistogramOpts{Name: "shopstream_alert_delivery_latency_seconds",
			Help:    "From when a routed message was due (routed, or its group's or digest's window ended) to its delivery, by destination.",
			Buckets: []float64{.01, .05, .25, 1, 5, 30, 120, 600, 3600}}, []string{"destination"}),
		deliverySeconds: f.NewHistogramVec(prometheus.HistogramOpts{Name: "shopstream_alert_delivery_attempt_seconds",
			Help:    "Duration of one attempt to send a routed message, by destination.",
			Buckets: []float64{.001, .01, .05, .25, 1, 5}}, []string{"destination"}),
	}
	// Shown at 0 from the start, so rate() and increase() see the first.
	for _, kind := range []string{"kafka", "webhook"} {
		d.delivered.WithLabelValues(kind)
		d.failed.WithLabelValues(kind)
		d.latency.WithLabelValues(kind)
	}
	return d, nil
}

// Run delivers until ctx is cancelled.
func (d *Deliverer) Run(ctx context.Context) error {
	// A store that cannot be read is retried with a jittered backoff too.
	readBackoff := d.newBackoff()
	lastPrune := time.Time{}
	_, canPrune := d.cfg.Store.(outboxPruner)
	if !canPrune && d.cfg.PruneAfter > 0 {
		d.log.Info("the store cannot prune the outbox; delivered messages are kept")
	}
	for {
		wait := d.cfg.Interval
		n, failed, err := d.deliverOutbox(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			wait = readBackoff.NextBackOff()
			d.log.Error("reading the outbox failed; retrying", "err", err, "in", wait.Round(time.Millisecond))
		case err == nil:
			readBackoff.Reset()
		}
		if failed > 0 {
			d.log.Warn("outbox deliveries failed; they will be retried with backoff", "failed", failed, "delivered", n)
		}
		more := err == nil && n == d.cfg.Batch
		if d.deliveries != nil {
			rn, rfailed, rerr := d.deliveries.DeliverAlerts(ctx, d.cfg.Batch, d.cfg.Now(), d.sendRouted(ctx, d.cfg.Routes()))
			switch {
			case rerr != nil && ctx.Err() == nil:
				d.log.Error("sending routed alerts failed; retrying", "err", rerr)
			case rfailed > 0:
				d.log.Warn("routed alert deliveries failed; they will be retried with backoff", "failed", rfailed, "sent", rn)
			}
			more = more || (rerr == nil && rn+rfailed == d.cfg.Batch)
		}
		if canPrune && d.cfg.PruneAfter > 0 && d.cfg.Now().Sub(lastPrune) >= d.cfg.PruneInterval {
			lastPrune = d.cfg.Now()
			d.prune(ctx)
		}
		if more {
			continue // more waiting
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

func (d *Deliverer) newBackoff() *backoff.ExponentialBackOff {
	return &backoff.ExponentialBackOff{InitialInterval: d.cfg.RetryInitial, RandomizationFactor: 0.5, Multiplier: 2, MaxInterval: d.cfg.RetryMax}
}

// prune deletes the messages delivered before the retention.
func (d *Deliverer) prune(ctx context.Context) {
	n, err := d.cfg.Store.(outboxPruner).PruneOutbox(ctx, d.cfg.Now().Add(-d.cfg.PruneAfter), 1000)
	if err != nil {
		if ctx.Err() == nil {
			d.log.Warn("pruning delivered outbox messages failed; trying again later", "err", err)
		}
		return
	}
	d.pruned.Add(float64(n))
	if n > 0 {
		d.log.Info("pruned delivered outbox messages", "deleted", n, "delivered_before", d.cfg.Now().Add(-d.cfg.PruneAfter))
	}
	if d.deliveries == nil {
		return
	}
	// The record of deliveries is kept a week at least: longer than any
	// sensible dedup window, which reads it.
	keep := max(d.cfg.PruneAfter, 7*24*time.Hour)
	n, err = d.deliveries.PruneDeliveries(ctx, d.cfg.Now().Add(-keep), 1000)
	if err != nil {
		if ctx.Err() == nil {
			d.log.Warn("pruning the alert deliveries record failed; trying again later", "err", err)
		}
		return
	}
	if n > 0 {
		d.log.Info("pruned the alert deliveries record", "deleted", n, "made_before", d.cfg.Now().Add(-keep))
	}
}

// send is the store's callback for each due message. An error makes the
// store try the message again later; nil marks it done.
func (d *Deliverer) send(ctx context.Context) func(m *store.OutboxMsg) error {
	return func(m *store.OutboxMsg) error {
		if d.deliveries != nil && m.Kind == "kafka" && m.Target == d.cfg.AlertsTopic {
			return d.routeAlert(ctx, d.cfg.Routes(), m)
		}
		if err := d.configured(m); err != nil {
			// Retrying cannot help: give it up, loudly.
			d.undeliverable.WithLabelValues(m.Kind).Inc()
			d.log.Error("outbox message given up: its target is not configured", "message_id", MessageID(m.ID), "err", err)
			return nil
		}
		t := target{m.Kind, m.Target}
		now := d.cfg.Now()
		if tb := d.backoffs[t]; tb != nil && now.Before(tb.until) {
			return fmt.Errorf("%s target %s failed recently; next try after %s", m.Kind, m.Target, tb.until.Format(time.RFC3339Nano))
		}
		var err error
		switch m.Kind {
		case "kafka":
			err = d.sendKafka(ctx, m)
		case "webhook":
			err = d.sendWebhook(ctx, m)
		}
		if err != nil {
			d.failed.WithLabelValues(m.Kind).Inc()
			tb := d.backoffs[t]
			if tb == nil {
				tb = &targetBackoff{b: d.newBackoff()}
				d.backoffs[t] = tb
			}
			tb.until = d.cfg.Now().Add(tb.b.NextBackOff())
			return err
		}
		delete(d.backoffs, t)
		d.delivered.WithLabelValues(m.Kind).Inc()
		if !m.CreatedAt.IsZero() {
			d.latency.WithLabelValues(m.Kind).Observe(max(0, d.cfg.Now().Sub(m.CreatedAt).Seconds()))
		}
		return nil
	}
}

// configured reports a message whose kind or target is not configured.
func (d *Deliverer) configured(m *store.OutboxMsg) error {
	switch m.Kind {
	case "kafka":
		if len(d.cfg.Topics) > 0 && !slices.Contains(d.cfg.Topics, m.Target) {
			return fmt.Errorf("%w: topic %q (configured: %v)", ErrNotConfigured, m.Target, d.cfg.Topics)
		}
	case "webhook":
		if _, ok := d.cfg.Webhooks[m.Target]; !ok {
			names := make([]string, 0, len(d.cfg.Webhooks))
			for n := range d.cfg.Webhooks {
				names = append(names, n)
			}
			slices.Sort(names)
			return fmt.Errorf("%w: webhook %q (configured: %v)", ErrNotConfigured, m.Target, names)
		}
	default:
		return fmt.Errorf("%w: unknown outbox kind %q", ErrNotConfigured, m.Kind)
	}
	return nil
}

func (d *Deliverer) sendKafka(ctx context.Context, m *store.OutboxMsg) error {
	if d.cfg.Kafka == nil {
		return fmt.Errorf("no Kafka client to send to topic %s", m.Target)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return d.cfg.Kafka.ProduceSync(pctx, kafkaRecord(m)).FirstErr()
}

// kafkaRecord is the record of outbox message m, with its headers and
// its stable id.
func kafkaRecord(m *store.OutboxMsg) *kgo.Record {
	r := &kgo.Record{Topic: m.Target, Key: m.Key, Value: m.Payload}
	if len(m.Headers) > 0 {
		var hs map[string]string
		if err := json.Unmarshal(m.Headers, &hs); err == nil {
			keys := make([]string, 0, len(hs))
			for k := range hs {
				if k != HeaderMessageID {
					keys = append(keys, k)
				}
			}
			slices.Sort(keys)
			for _, k := range keys {
				r.Headers = append(r.Headers, kgo.RecordHeader{Key: k, Value: []byte(hs[k])})
			}
		}
	}
	r.Headers = append(r.Headers, kgo.RecordHeader{Key: HeaderMessageID, Value: []byte(MessageID(m.ID))})
	return r
}

// slackEscapes are the characters Slack's message text reads as markup:
// "<!channel>" would notify a whole channel, "<@U1>" a person, and
// "<https://x|y>" make a link.
var slackEscapes = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// SlackText is s as Slack's message text shows it as written: a record's
// ids and a rule's reason (a customer "<!channel>") may hold markup.
func SlackText(s string) string { return slackEscapes.Replace(s) }

// SlackMessage is the webhook body: Slack's incoming-webhook format, which
// many chat tools accept. The alert itself rides along under "alert".
type SlackMessage struct {
	Text  string          `json:"text"`
	Alert json.RawMessage `json:"alert"`
}

func (d *Deliverer) sendWebhook(ctx context.Context, m *store.OutboxMsg) error {
	url := d.cfg.Webhooks[m.Target]
	// The line for people is the alert's summary, as routing writes it
	// (alertroute.FromPayload): a fraud alert's decision, transaction,
	// customer, amount as the alert carries it (15050 JPY) and risk; a
	// records-lost alert's offsets and topic. The reasons follow.
	text := ":rotating_light: alert"
	if ra, err := alertroute.FromPayload(m.Payload); err == nil {
		text = ":rotating_light: " + ra.Summary
	}
	var a struct {
		Reasons []struct {
			Rule    string  `json:"rule"`
			Reason  string  `json:"reason"`
			Feature string  `json:"feature"`
			Value   float64 `json:"value"`
			Z       float64 `json:"z"`
		} `json:"reasons"`
	}
	_ = json.Unmarshal(m.Payload, &a)
	for _, r := range a.Reasons {
		switch {
		case r.Rule != "":
			text += fmt.Sprintf("\n• %s (%s)", r.Reason, r.Rule)
		case r.Feature != "":
			text += fmt.Sprintf("\n• %s = %g stands out (z = %.1f)", r.Feature, r.Value, r.Z)
		}
	}
	body, _ := json.Marshal(SlackMessage{Text: SlackText(text), Alert: m.Payload})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("webhook %s: %w", m.Target, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderIdempotencyKey, MessageID(m.ID))
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

var (
	backlogDesc = prometheus.NewDesc("shopstream_outbox_pending_messages",
		"Outbox messages stored and not yet delivered (read from the store at each scrape).", nil, nil)
	backlogAgeDesc = prometheus.NewDesc("shopstream_outbox_oldest_pending_age_seconds",
		"Age of the oldest undelivered outbox message; 0 when none waits.", nil, nil)
)

// backlogCollector reads the outbox backlog from the store at each scrape.
type backlogCollector struct{ s store.OutboxBacklog }

func (c backlogCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- backlogDesc
	ch <- backlogAgeDesc
}

func (c backlogCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n, oldest, err := c.s.OutboxBacklog(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(backlogDesc, err)
		return
	}
	age := 0.0
	if !oldest.IsZero() {
		age = max(0, time.Since(oldest).Seconds())
	}
	ch <- prometheus.MustNewConstMetric(backlogDesc, prometheus.GaugeValue, float64(n))
	ch <- prometheus.MustNewConstMetric(backlogAgeDesc, prometheus.GaugeValue, age)
}
