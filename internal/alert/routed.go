package alert

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shopstream/shopstream/internal/alertroute"
	"github.com/shopstream/shopstream/internal/store"
)

// Routing
//
// With Config.Routes set, an alert the processor queued for the alerts
// topic is not sent there as it is: the deliverer routes it. In one store
// transaction (store.AlertDeliveries.RouteAlert, serialised among
// deliverers) alertroute decides, for each destination its rules send it
// to, whether it is a message of its own, joins a group, is a repeat
// within the dedup window, or is held back by the destination's rate
// limit into a digest, and every decision is recorded in the deliveries
// table; the outbox message is then done. The pending messages of that
// table are sent like the outbox's (leases, retries with backoff), each
// with its stable id DeliveryID, and their outcome recorded. Routing
// stays in the deliverer, not the processor, so that the processor's
// batch transaction stays as cheap as it was, the routes file can be
// reloaded without touching the processor, and an alert is routed once
// whichever instance takes it.

// DeliveryID is the stable id of a routed message: the Kafka header
// "message-id" and the HTTP header Idempotency-Key, the same on every
// attempt.
func DeliveryID(id int64) string { return "shopstream-delivery-" + strconv.FormatInt(id, 10) }

// Signature headers of a webhook destination's request: the Unix time of
// the attempt, and "sha256=" with the hex HMAC-SHA256, keyed by the
// destination's secret, of the timestamp, a dot and the body.
const (
	HeaderTimestamp = "X-Shopstream-Timestamp"
	HeaderSignature = "X-Shopstream-Signature"
)

// Sign returns the X-Shopstream-Signature value of body sent at unix time
// ts.
func Sign(key []byte, ts int64, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(strconv.FormatInt(ts, 10)))
	m.Write([]byte("."))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Errors of VerifySignature.
var (
	ErrBadSignature = errors.New("signature does not match")
	ErrStale        = errors.New("timestamp outside the tolerance")
)

// VerifySignature checks a webhook request as a receiver should: the
// timestamp header is within tolerance of now (so a captured request
// cannot be replayed later) and the signature matches the body, compared
// in constant time. Receivers should also drop repeats by the
// Idempotency-Key header.
func VerifySignature(key []byte, timestamp, signature string, body []byte, now time.Time, tolerance time.Duration) error {
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %s %q is not a Unix time", ErrBadSignature, HeaderTimestamp, timestamp)
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: %s is %s away from now", ErrStale, HeaderTimestamp, d.Round(time.Second))
	}
	if !hmac.Equal([]byte(Sign(key, ts, body)), []byte(signature)) {
		return ErrBadSignature
	}
	return nil
}

// Body is the JSON a webhook or kafka destination receives for a group or
// digest, and a webhook destination for a single alert too.
type Body struct {
	// ID is DeliveryID, as in the Idempotency-Key header.
	ID string `json:"id"`
	// Type is alert, group or digest.
	Type        string `json:"type"`
	Destination string `json:"destination"`
	Rule        string `json:"rule"`
	// Text is the message for people.
	Text string `json:"text"`
	// Count is how many alerts the message stands for.
	Count int `json:"count"`
	// Counts are a digest's alerts per category (decision or kind).
	Counts map[string]int `json:"counts,omitempty"`
	// Alerts are the alerts as queued (all of a group, the one of a
	// single alert; none for a digest).
	Alerts []json.RawMessage `json:"alerts,omitempty"`
	// Since and Until bound a group's or digest's window.
	Since *time.Time `json:"since,omitempty"`
	Until *time.Time `json:"until,omitempty"`
}

// body composes what d says.
func body(d *store.Delivery) Body {
	b := Body{ID: DeliveryID(d.ID), Type: "alert", Destination: d.Destination, Rule: d.Rule, Text: d.Summary, Count: 1}
	if d.Bundle == alertroute.Single {
		if json.Valid(d.Payload) {
			b.Alerts = []json.RawMessage{d.Payload}
		}
		return b
	}
	since, until := d.CreatedAt, d.DueAt
	b.Type, b.Count, b.Since, b.Until = string(d.Bundle), len(d.Members), &since, &until
	b.Text = alertroute.Text(d.Bundle, d.Rule, d.DueAt.Sub(d.CreatedAt), d.Members)
	if d.Bundle == alertroute.Digest {
		b.Counts = map[string]int{}
		for _, m := range d.Members {
			b.Counts[m.Category]++
		}
		return b
	}
	for _, m := range d.Members {
		if json.Valid(m.Payload) {
			b.Alerts = append(b.Alerts, m.Payload)
		}
	}
	return b
}

// routeAlert routes the queued alert m; an error makes the outbox try it
// again later.
func (d *Deliverer) routeAlert(ctx context.Context, routes *Routes, m *store.OutboxMsg) error {
	a, err := alertroute.FromPayload(m.Payload)
	if err != nil {
		// Retrying cannot help: give it up, loudly.
		d.undeliverable.WithLabelValues("alert").Inc()
		d.log.Error("queued alert given up: it cannot be routed", "message_id", MessageID(m.ID), "err", err)
		return nil
	}
	now := d.cfg.Now()
	var recs []alertroute.Record
	routed, err := d.deliveries.RouteAlert(ctx, m.ID, func(st alertroute.State) error {
		var err error
		recs, err = routes.Route(st, &a, now)
		return err
	})
	if err != nil {
		return err
	}
	if !routed {
		return nil
	}
	if len(recs) == 0 {
		d.unrouted.WithLabelValues(a.Kind).Inc()
		d.log.Debug("alert matched no route", "kind", a.Kind, "key", a.Key)
	}
	for _, r := range recs {
		d.routed.WithLabelValues(r.Destination, string(r.Status)).Inc()
	}
	return nil
}

// sendRouted is the store's callback for each due routed message.
func (d *Deliverer) sendRouted(ctx context.Context, routes *Routes) func(*store.Delivery) store.DeliveryOutcome {
	return func(del *store.Delivery) store.DeliveryOutcome {
		dest := routes.Destinations[del.Destination]
		if dest == nil {
			d.deliveryOutcomes.WithLabelValues(del.Destination, "given_up").Inc()
			err := fmt.Errorf("%w: destination %q is no longer in the routes file", ErrNotConfigured, del.Destination)
			d.log.Error("routed message given up", "message_id", DeliveryID(del.ID), "err", err)
			return store.DeliveryOutcome{At: d.cfg.Now(), Err: err, GiveUp: true}
		}
		t := target{"route", dest.Name}
		now := d.cfg.Now()
		if tb := d.backoffs[t]; tb != nil && now.Before(tb.until) {
			return store.DeliveryOutcome{Deferred: true, RetryAt: tb.until, Err: errors.New("destination backing off")}
		}
		start := time.Now()
		err := d.deliver(ctx, routes, dest, del)
		d.deliverySeconds.WithLabelValues(dest.Name).Observe(time.Since(start).Seconds())
		at := d.cfg.Now()
		if err == nil {
			delete(d.backoffs, t)
			d.deliveryOutcomes.WithLabelValues(dest.Name, "sent").Inc()
			d.deliveryLatency.WithLabelValues(dest.Name).Observe(max(at.Sub(del.DueAt), 0).Seconds())
			return store.DeliveryOutcome{At: at}
		}
		tb := d.backoffs[t]
		if tb == nil {
			tb = &targetBackoff{b: d.newBackoff()}
			d.backoffs[t] = tb
		}
		tb.until = at.Add(tb.b.NextBackOff())
		if at.Sub(del.DueAt) >= d.cfg.GiveUpAfter {
			d.deliveryOutcomes.WithLabelValues(dest.Name, "given_up").Inc()
			d.log.Error("routed message given up after failing too long", "message_id", DeliveryID(del.ID), "destination", dest.Name,
				"due", del.DueAt, "attempts", del.Attempts+1, "err", err)
			return store.DeliveryOutcome{At: at, Err: err, GiveUp: true}
		}
		d.deliveryOutcomes.WithLabelValues(dest.Name, "failed").Inc()
		return store.DeliveryOutcome{At: at, Err: err, RetryAt: tb.until}
	}
}

// deliver sends one routed message to dest.
func (d *Deliverer) deliver(ctx context.Context, routes *Routes, dest *alertroute.Destination, del *store.Delivery) error {
	b := body(del)
	switch dest.Type {
	case alertroute.TypeDashboard:
		return nil // the record is what the dashboard shows
	case alertroute.TypeSlack:
		msg := map[string]any{"text": SlackText(b.Text)}
		if del.Bundle == alertroute.Single && len(b.Alerts) == 1 {
			msg["alert"] = b.Alerts[0]
		} else if len(b.Alerts) > 0 {
			msg["alerts"] = b.Alerts
		}
		raw, err := json.Marshal(msg)
		if err != nil {
			return err
		}
		return d.post(ctx, dest, raw, b.ID, nil)
	case alertroute.TypeWebhook:
		raw, err := json.Marshal(b)
		if err != nil {
			return err
		}
		return d.post(ctx, dest, raw, b.ID, routes.keys[dest.Name])
	case alertroute.TypeKafka:
		if d.cfg.Kafka == nil {
			return fmt.Errorf("no Kafka client to send to topic %s", dest.Topic)
		}
		value := del.Payload
		key := del.Key
		if del.Bundle != alertroute.Single {
			var err error
			if value, err = json.Marshal(b); err != nil {
				return err
			}
			key = string(del.Bundle) + ":" + del.Rule
		}
		r := &kgo.Record{Topic: dest.Topic, Key: []byte(key), Value: value, Headers: []kgo.RecordHeader{
			{Key: HeaderMessageID, Value: []byte(b.ID)},
			{Key: "shopstream-type", Value: []byte(b.Type)},
			{Key: "shopstream-rule", Value: []byte(del.Rule)},
		}}
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		return d.cfg.Kafka.ProduceSync(pctx, r).FirstErr()
	}
	return fmt.Errorf("%w: destination type %q", ErrNotConfigured, dest.Type)
}

// post sends raw to dest's URL, signed when key is set.
func (d *Deliverer) post(ctx context.Context, dest *alertroute.Destination, raw []byte, id string, key []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, dest.URL, bytes.NewReader(raw))
	if err != nil {
		return fmt.Errorf("%s %s: %w", dest.Type, dest.Name, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderIdempotencyKey, id)
	if key != nil {
		ts := d.cfg.Now().Unix()
		req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
		req.Header.Set(HeaderSignature, Sign(key, ts, raw))
	}
	resp, err := d.cfg.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", dest.Type, dest.Name, err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16)) //nolint:errcheck // draining for reuse
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s answered %s", dest.Type, dest.Name, resp.Status)
	}
	return nil
}
