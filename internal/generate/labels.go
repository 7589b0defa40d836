package generate

import (
	"container/heap"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/shopstream/shopstream/internal/event"
)

// Chargeback reason codes the generator uses (Visa's): 10.4 "Other Fraud,
// Card-Absent Environment" and 13.1 "Merchandise/Services Not Received",
// the usual code of a friendly-fraud dispute.
const (
	ReasonCardAbsentFraud = "10.4"
	ReasonNotReceived     = "13.1"
)

// streamLabels is the random stream of the label schedule.
const streamLabels = 0x6c61626c // "labl"

// LabelConfig says which labels the generator's transactions get, and
// when. The zero value takes every default; a share of -1 means none.
type LabelConfig struct {
	// Seed makes the schedule reproducible; use the generator's.
	Seed int64
	// Chargeback is the share of fraudulent orders whose cardholder files
	// a chargeback. Defaults to 0.85.
	Chargeback float64
	// Analyst is the share of fraudulent orders a fraud analyst finds
	// first (a customer's call, a review of the account), within hours
	// to three days; the rest of the fraud (1 - Chargeback - Analyst) is
	// never reported. Defaults to 0.10.
	Analyst float64
	// Friendly is the share of honest orders charged back anyway
	// (friendly fraud). Defaults to 0.001.
	Friendly float64
	// DisputeWon is the share of friendly-fraud chargebacks the shop
	// disputes and wins, a dispute label (fraud false) 20 to 45 days after
	// the chargeback. Defaults to 0.45.
	DisputeWon float64
	// ChargebackMedian and ChargebackSigma are the log-normal delay of a
	// chargeback after its order, clamped to [3, 120] days (the card
	// networks' 120-day limit). Default to 21 days and 0.55: about 90%
	// of chargebacks between 8 and 52 days.
	ChargebackMedian time.Duration
	ChargebackSigma  float64
}

func (c LabelConfig) withDefaults() LabelConfig {
	for _, f := range []struct {
		v   *float64
		def float64
	}{{&c.Chargeback, 0.85}, {&c.Analyst, 0.10}, {&c.Friendly, 0.001}, {&c.DisputeWon, 0.45}} {
		switch {
		case *f.v == 0:
			*f.v = f.def
		case *f.v == -1:
			*f.v = 0 // none, as asked
		}
	}
	if c.ChargebackMedian == 0 {
		c.ChargebackMedian = 21 * 24 * time.Hour
	}
	if c.ChargebackSigma == 0 {
		c.ChargebackSigma = 0.55
	}
	return c
}

func (c LabelConfig) validate() error {
	for _, f := range []struct {
		name string
		v    float64
	}{{"Chargeback", c.Chargeback}, {"Analyst", c.Analyst}, {"Friendly", c.Friendly}, {"DisputeWon", c.DisputeWon}} {
		if !(f.v >= 0 && f.v <= 1) {
			return fmt.Errorf("generate: LabelConfig.%s must be a share between 0 and 1, got %v", f.name, f.v)
		}
	}
	if c.Chargeback+c.Analyst > 1 {
		return fmt.Errorf("generate: LabelConfig.Chargeback + Analyst must not exceed 1, got %v", c.Chargeback+c.Analyst)
	}
	if c.ChargebackMedian <= 0 || !(c.ChargebackSigma > 0) {
		return fmt.Errorf("generate: LabelConfig's chargeback delay needs a positive median and sigma")
	}
	return nil
}

// Chargeback delays are clamped to this range.
const (
	minChargebackDelay = 3 * 24 * time.Hour
	maxChargebackDelay = 120 * 24 * time.Hour
)

// LabelSchedule decides the label events of generated records and hands
// them out once the stream's event time has passed theirs, as in a real
// shop, where a chargeback arrives weeks after its order. It holds the
// labels not yet due: about the fraud of the last four months.
type LabelSchedule struct {
	cfg LabelConfig
	rng *rand.Rand
	due labelHeap
}

// NewLabelSchedule validates cfg and returns an empty schedule.
func NewLabelSchedule(cfg LabelConfig) (*LabelSchedule, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &LabelSchedule{cfg: cfg, rng: newRand(cfg.Seed, streamLabels)}, nil
}

// Observe schedules the labels of r, a record just generated: bad records
// get none.
func (s *LabelSchedule) Observe(r *Record) {
	if r.Bad != "" || r.TransactionID == "" {
		return
	}
	at := r.EventTime.UTC()
	l := event.Label{SchemaVersion: event.LabelSchemaVersion, TransactionID: r.TransactionID, CustomerID: string(r.Key), TransactionTime: at}
	u := s.rng.Float64()
	if r.Fraud {
		switch {
		case u < s.cfg.Chargeback:
			l.LabelID, l.Kind, l.Fraud, l.Scenario, l.ReasonCode = "cb-"+r.TransactionID, event.LabelChargeback, true, r.Scenario, ReasonCardAbsentFraud
			l.EventTime = at.Add(s.chargebackDelay())
			s.push(l)
		case u < s.cfg.Chargeback+s.cfg.Analyst:
			l.LabelID, l.Kind, l.Fraud, l.Scenario = "an-"+r.TransactionID, event.LabelAnalyst, true, r.Scenario
			l.EventTime = at.Add(2*time.Hour + time.Duration(s.rng.Int64N(int64(70*time.Hour))))
			s.push(l)
		}
		return
	}
	if u >= s.cfg.Friendly {
		return
	}
	l.LabelID, l.Kind, l.Fraud, l.Scenario, l.ReasonCode = "cb-"+r.TransactionID, event.LabelChargeback, true, FriendlyFraud, ReasonNotReceived
	l.EventTime = at.Add(s.chargebackDelay())
	s.push(l)
	if s.rng.Float64() < s.cfg.DisputeWon {
		d := l
		d.LabelID, d.Kind, d.Fraud, d.Scenario, d.ReasonCode = "dp-"+r.TransactionID, event.LabelDispute, false, "", ReasonNotReceived
		d.EventTime = l.EventTime.Add(20*24*time.Hour + time.Duration(s.rng.Int64N(int64(25*24*time.Hour))))
		s.push(d)
	}
}

// chargebackDelay draws a chargeback's delay after its order.
func (s *LabelSchedule) chargebackDelay() time.Duration {
	d := time.Duration(float64(s.cfg.ChargebackMedian) * math.Exp(s.cfg.ChargebackSigma*s.rng.NormFloat64()))
	return min(max(d, minChargebackDelay), maxChargebackDelay).Truncate(time.Millisecond)
}

func (s *LabelSchedule) push(l event.Label) { heap.Push(&s.due, l) }

// Due removes and returns, oldest first, the labels whose event time is
// at or before now.
func (s *LabelSchedule) Due(now time.Time, out []event.Label) []event.Label {
	for len(s.due) > 0 && !s.due[0].EventTime.After(now) {
		out = append(out, heap.Pop(&s.due).(event.Label))
	}
	return out
}

// Pending is how many labels are scheduled and not yet due.
func (s *LabelSchedule) Pending() int { return len(s.due) }

// labelHeap orders labels by event time, then label id.
type labelHeap []event.Label

func (h labelHeap) Len() int { return len(h) }
func (h labelHeap) Less(i, j int) bool {
	if !h[i].EventTime.Equal(h[j].EventTime) {
		return h[i].EventTime.Before(h[j].EventTime)
	}
	return h[i].LabelID < h[j].LabelID
}
func (h labelHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *labelHeap) Push(x any)   { *h = append(*h, x.(event.Label)) }
func (h *labelHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// LabelSink receives label events in event-time order.
type LabelSink interface {
	// WriteLabel writes one label event; value is its encoding
	// (event.MarshalLabel), keyed by transaction id.
	WriteLabel(ctx context.Context, l *event.Label, value []byte) error
	Flush(ctx context.Context) error
}

// WithLabels returns a Sink that writes each record to next and, after
// it, every label the schedule has due by the record's event time to
// labels: the labels follow the stream's event time, so history's labels
// arrive while history is produced and live ones when they fall due. The
// labels not yet due when the run ends are never written.
func WithLabels(next Sink, labels LabelSink, s *LabelSchedule) Sink {
	return &labelledSink{next: next, labels: labels, s: s}
}

type labelledSink struct {
	next   Sink
	labels LabelSink
	s      *LabelSchedule
	buf    []event.Label
	latest time.Time
}

func (l *labelledSink) Write(ctx context.Context, r Record) error {
	if err := l.next.Write(ctx, r); err != nil {
		return err
	}
	l.s.Observe(&r)
	if r.Bad == "" && r.EventTime.After(l.latest) {
		l.latest = r.EventTime // a bad record's time may lie ahead (future_timestamp)
	}
	l.buf = l.s.Due(l.latest, l.buf[:0])
	for i := range l.buf {
		b, err := event.MarshalLabel(&l.buf[i])
		if err != nil {
			return fmt.Errorf("encoding label %s: %w", l.buf[i].LabelID, err)
		}
		if err := l.labels.WriteLabel(ctx, &l.buf[i], b); err != nil {
			return fmt.Errorf("writing label %s: %w", l.buf[i].LabelID, err)
		}
	}
	return nil
}

func (l *labelledSink) Flush(ctx context.Context) error {
	if err := l.next.Flush(ctx); err != nil {
		return err
	}
	return l.labels.Flush(ctx)
}
