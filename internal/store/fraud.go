package store

import (
	"context"
	"errors"
	"sort"
	"time"
)

// Fraud is what the fraud model lifecycle (training, shadow, promotion,
// rollback), the alert queue, the live detection metrics and the
// synchronous score endpoint need from the store. Both the PostgreSQL and
// the SQLite store implement it; storetest.RunFraud is its conformance
// suite.
//
// "Newest" means highest Kafka offset within each partition: reads walk
// the (kafka_partition, kafka_offset) index backwards, so they stay
// bounded however large the transactions table grows, and split their
// budget evenly among the partitions.
type Fraud interface {
	// TrainingSample returns the feature vectors of up to n of the newest
	// transactions that were approved with no rule firing (reasons "[]"),
	// the ordinary traffic an isolation forest is trained on. Only
	// transactions that kept their vector (a sample of the traffic, see
	// detector) are candidates.
	TrainingSample(ctx context.Context, n int) ([][]float32, error)
	// LabelledFeatures returns up to n of the newest transactions that
	// have a stored feature vector, with their label (a label event's, or
	// an analyst's, which wins; none counts as legitimate, since labels
	// exist only where fraud was reported or a verdict given), to
	// evaluate a candidate model.
	LabelledFeatures(ctx context.Context, n int) ([]LabelledVector, error)

	// SaveFraudModel stores m as the next version of the fraud model,
	// with m.Status StatusActive or StatusShadow; the version that held
	// that status before is retired in the same transaction. It returns
	// the new version. A zero m.CreatedAt means now.
	SaveFraudModel(ctx context.Context, m FraudModel) (int, error)
	// FraudModels lists every version, newest first, without Params.
	FraudModels(ctx context.Context) ([]FraudModel, error)
	// FraudModel returns one version with its Params, or an error wrapping
	// ErrNoModel.
	FraudModel(ctx context.Context, version int) (*FraudModel, error)
	// FraudModelsInUse returns the active and the shadow version without
	// Params, nil for none. It is cheap: processors poll it.
	FraudModelsInUse(ctx context.Context) (active, shadow *FraudModel, err error)
	// SetFraudModelStatus moves version to status atomically, keeping at
	// most one active and one shadow version: making a version active
	// retires the active one (and leaves no shadow if it was the shadow);
	// making one shadow retires the shadow one. An active version cannot
	// become the shadow (ErrModelStatus). note, when not empty, is stored
	// as the reason. Unknown versions give ErrNoModel.
	SetFraudModelStatus(ctx context.Context, version int, status, note string, at time.Time) error
	// RollbackFraudModel retires the active version (marking it rolled
	// back) and re-activates the version that was active before it: the
	// most recently activated one not rolled back itself. Successive
	// rollbacks therefore walk back through the activations. It returns
	// the version now active, or ErrNoRollback.
	RollbackFraudModel(ctx context.Context, at time.Time) (int, error)

	// Alerts returns alerts newest first (by ID) that match f.
	Alerts(ctx context.Context, f AlertFilter) ([]AlertRecord, error)
	// LabelAlert records an analyst's verdict on the alert of a
	// transaction (AlertConfirmedFraud or AlertFalsePositive) and returns
	// the updated alert, or an error wrapping ErrUnknownAlert. by names
	// who labelled it (the API's authenticated principal), at when.
	LabelAlert(ctx context.Context, transactionID, status, by string, at time.Time) (*AlertRecord, error)
	// AlertDetail returns the alert of a transaction with the stored
	// transaction it was raised for and that transaction's label, or an
	// error wrapping ErrUnknownAlert. It reads the alert by its key, then
	// the transaction by (id, event time) and its label by id.
	AlertDetail(ctx context.Context, transactionID string) (*AlertDetail, error)

	// FraudOutcomes returns the scored transactions of the newest window
	// of event time, joined with their labels, for live detection
	// metrics. See OutcomeQuery.
	FraudOutcomes(ctx context.Context, q OutcomeQuery) (*Outcomes, error)

	// CustomerHistory calls fn, oldest first, for the customer's first
	// stored transaction and its newest limit transactions with event time
	// at or before until, leaving out transaction except (the one being
	// scored). Items are not read. It is one indexed query on
	// (customer_id, event_time), for the synchronous score endpoint.
	CustomerHistory(ctx context.Context, customerID, except string, until time.Time, limit int, fn func(*Tx) error) error

	// TryLead is store.Analytics' leader lock: the training job runs on
	// one instance at a time.
	TryLead(ctx context.Context, name string) (release func(), ok bool, err error)
}

// ModelFraud is the kind of the fraud model in the models table.
const ModelFraud = "iforest"

// Statuses of a fraud model version.
const (
	// StatusActive is the version that decides: one at most.
	StatusActive = "active"
	// StatusShadow is scored and stored next to the active one, never
	// acted on: one at most.
	StatusShadow = "shadow"
	// StatusRetired is any other version.
	StatusRetired = "retired"
)

// Statuses of an alert. Analysts move an open alert to one of the other
// two; they may change their mind.
const (
	AlertOpen           = "open"
	AlertConfirmedFraud = "confirmed_fraud"
	AlertFalsePositive  = "false_positive"
)

// Errors of the Fraud methods.
var (
	// ErrUnknownAlert is returned for a transaction without an alert.
	ErrUnknownAlert = errors.New("no alert for this transaction")
	// ErrNoRollback is returned when no earlier active version exists.
	ErrNoRollback = errors.New("no earlier active fraud model to roll back to")
	// ErrModelStatus is returned for a status change that is not allowed.
	ErrModelStatus = errors.New("fraud model status change not allowed")
)

// FraudModel is one stored version of the fraud model.
type FraudModel struct {
	Version int
	Status  string
	// Params is the model's binary encoding (fraud.ForestModel
	// MarshalBinary); nil in listings.
	Params []byte
	// Metrics is a JSON object: training figures and evaluation.
	Metrics []byte
	// CreatedAt is when the version was trained.
	CreatedAt time.Time
	// StatusAt is when it got its current status.
	StatusAt time.Time
	// ActivatedAt is when it last became active, if ever.
	ActivatedAt *time.Time
	// RolledBack is set on a version retired by a rollback.
	RolledBack bool
	// Note says why the status last changed, when known.
	Note string
}

// LabelledVector is a stored feature vector with its label.
type LabelledVector struct {
	Features []float32
	// Decision is the decision taken live, which decided whether the
	// vector was kept (every flagged transaction keeps it, one in
	// detector's sample rate of the approved ones).
	Decision string
	Fraud    bool
}

// AlertChanges is implemented by stores that number the changes of their
// alerts (migration 0022): a label naming the alert's scenario days after
// it was raised, an analyst's verdict. The dashboard's live stream
// follows them by number as it follows new alerts by ID.
type AlertChanges interface {
	// AlertChanges returns the alerts whose scenario or status changed
	// after the change numbered after, in the order of their latest
	// change, at most limit (at most 1000), and the number to ask after
	// next: that of the last one returned, or after when none changed.
	// With after < 0 it returns no alert and the latest number (0 when
	// no alert has changed), where a poller starts.
	AlertChanges(ctx context.Context, after int64, limit int) ([]AlertRecord, int64, error)
}

// AlertFilter selects alerts.
type AlertFilter struct {
	// Status is one of the Alert* statuses, or "" for all.
	Status string
	// SinceID returns only alerts with a higher ID, for polling.
	SinceID int64
	// BeforeID returns only alerts with a lower ID, for the next (older)
	// page; 0 for no bound.
	BeforeID int64
	// Limit bounds the answer; at most 1000, default 50.
	Limit int
	// Decision is "review" or "decline", or "" for both.
	Decision string
	// Scenario keeps the alerts whose transaction a label names with this
	// fraud scenario; "" for all. Alerts whose label has not come yet
	// (AlertRecord.Scenario "") match no scenario.
	Scenario string
	// Rule keeps the alerts one of whose reasons is this rule; "" for all.
	Rule string
	// CustomerID keeps one customer's alerts; "" for all.
	CustomerID string
	// MinAmount and MaxAmount, when set, bound the amount in major units
	// of each alert's own currency: [min, max]; 1000 keeps 1,000.00 EUR
	// and 1,000 JPY (event.CurrencyDigits).
	MinAmount, MaxAmount *float64
	// Since and Until, when not zero, bound the event time: [Since, Until).
	Since, Until time.Time
}

// AlertRecord is a stored alert with its analyst status.
type AlertRecord struct {
	// ID orders alerts by insertion. IDs are taken when the batch is
	// written, so one committed a moment later may carry a lower ID than
	// one already seen: pollers re-read a little overlap.
	ID            int64
	TransactionID string
	CustomerID    string
	EventTime     time.Time
	AmountCents   int64
	// Currency is the transaction's: AmountCents is in its minor units;
	// "" for alerts raised before the store kept it (migration 0043),
	// read as a currency of two decimals.
	Currency    string
	Risk        float64
	Decision    string
	ReasonsJSON []byte
	Status      string
	CreatedAt   time.Time
	LabelledAt  *time.Time
	// LabelledBy names who labelled it last ("" while open, and for
	// labels recorded before who was kept).
	LabelledBy string
	// Scenario is the fraud scenario a label of the transaction names, ""
	// until one does: label events arrive on the labels topic long after
	// the alert (chargebacks take days), and only the generator's labels
	// come with the transaction.
	Scenario string
	// ModelVersion is the active fraud model version that scored the
	// transaction, 0 for the rules alone or not recorded (alerts raised
	// before the store kept it).
	ModelVersion int
	// Change is the number of the alert's latest change of scenario or
	// status; set by AlertChanges only.
	Change int64
}

// AlertDetail is one alert with what it was raised for.
type AlertDetail struct {
	Alert AlertRecord
	// Tx is the stored transaction, nil when retention or an erasure
	// removed it. Its Features are the vector the transaction was scored
	// from (every transaction that raised an alert keeps it); its Items
	// are not read.
	Tx *Tx
	// Labelled is set when a label (the generator's, or a label event's)
	// is stored for the transaction; Fraud is its verdict. An analyst's
	// verdict is the alert's Status.
	Labelled, Fraud bool
}

// OutcomeQuery selects the transactions of FraudOutcomes.
type OutcomeQuery struct {
	// Window is the span of event time, ending at the newest stored
	// transaction, to return; 0 means all.
	Window time.Duration
	// Limit is the most rows returned, newest first per partition, split
	// evenly among the partitions. Defaults to 200,000.
	Limit int
}

// Outcome is one scored transaction and what is known of its truth.
type Outcome struct {
	Partition  int32
	Offset     int64
	EventTime  time.Time
	StoredAt   time.Time
	Risk       float64
	Decision   string
	ShadowRisk float64
	HasShadow  bool
	// Labelled is set when the generator or an analyst labelled it.
	Labelled bool
	Fraud    bool
	// Scenario is the generator's fraud scenario, if any.
	Scenario string
	// Analyst is set when an analyst's verdict decided Fraud.
	Analyst bool
}

// Outcomes is FraudOutcomes' answer.
type Outcomes struct {
	Rows []Outcome
	// AsOf is the newest event time stored; Since is AsOf minus the window
	// (zero for all).
	AsOf, Since time.Time
	// Sampled is set when the window held more rows than Limit, so Rows
	// are the newest Limit of them.
	Sampled bool
}

// DefaultOutcomeLimit is OutcomeQuery's default Limit.
const DefaultOutcomeLimit = 200_000

// OutcomePage reads up to n rows of partition with offset below before,
// highest offset first. Stores implement it with one indexed query.
type OutcomePage func(ctx context.Context, partition int32, before int64, n int) ([]Outcome, error)

// outcomeChunk is how many rows CollectOutcomes reads per query.
const outcomeChunk = 5000

// lateSlack is how far before the window a page's newest row may lie
// before CollectOutcomes stops reading a partition: events arrive a little
// out of event-time order.
const lateSlack = 10 * time.Minute

// CollectOutcomes implements FraudOutcomes over the partitions' offset
// indexes for both stores: it reads each partition backwards from its
// newest row in pages, keeps the rows inside the window, and stops a
// partition at its budget or once a page lies entirely before the window.
func CollectOutcomes(ctx context.Context, partitions []int32, q OutcomeQuery, page OutcomePage) (*Outcomes, error) {
	if q.Limit <= 0 {
		q.Limit = DefaultOutcomeLimit
	}
	out := &Outcomes{Rows: []Outcome{}}
	if len(partitions) == 0 {
		return out, nil
	}
	budget := max(q.Limit/len(partitions), 1)
	type cursor struct {
		p     int32
		rows  []Outcome
		done  bool
		taken int
	}
	// read fetches the partition's next page: up to n rows plus one, so
	// that a partition whose budget ends at a page boundary still shows
	// whether more of the window was left out.
	read := func(c *cursor, before int64, n int) error {
		rows, err := page(ctx, c.p, before, n+1)
		if err != nil {
			return err
		}
		c.rows, c.done = rows, len(rows) < n+1
		return nil
	}
	cs := make([]*cursor, len(partitions))
	// The first page of every partition gives the newest event time.
	for i, p := range partitions {
		cs[i] = &cursor{p: p}
		if err := read(cs[i], 1<<62, min(budget, outcomeChunk)); err != nil {
			return nil, err
		}
		for _, r := range cs[i].rows {
			if r.EventTime.After(out.AsOf) {
				out.AsOf = r.EventTime
			}
		}
	}
	if out.AsOf.IsZero() {
		return out, nil
	}
	if q.Window > 0 {
		out.Since = out.AsOf.Add(-q.Window)
	}
	for _, c := range cs {
		for len(c.rows) > 0 {
			near := false // a row inside the window or just before it
			for _, r := range c.rows {
				if r.EventTime.Before(out.Since) {
					near = near || r.EventTime.After(out.Since.Add(-lateSlack))
					continue
				}
				near = true
				if c.taken == budget {
					out.Sampled, c.done = true, true
					break
				}
				out.Rows = append(out.Rows, r)
				c.taken++
			}
			if c.done || !near {
				break
			}
			if err := read(c, c.rows[len(c.rows)-1].Offset, min(budget-c.taken, outcomeChunk)); err != nil {
				return nil, err
			}
		}
	}
	sort.Slice(out.Rows, func(i, j int) bool { return out.Rows[i].EventTime.Before(out.Rows[j].EventTime) })
	return out, nil
}

// ValidAlertStatus reports whether s is one of the Alert* statuses.
func ValidAlertStatus(s string) bool {
	return s == AlertOpen || s == AlertConfirmedFraud || s == AlertFalsePositive
}

// ApplyAnalystLabel lets an analyst's verdict on o's alert (its status)
// decide o's truth: confirmed fraud counts as fraud and a false positive as
// legitimate, whatever the generator said.
func ApplyAnalystLabel(o *Outcome, alertStatus string) {
	switch alertStatus {
	case AlertConfirmedFraud:
		o.Labelled, o.Fraud, o.Analyst = true, true, true
	case AlertFalsePositive:
		o.Labelled, o.Fraud, o.Analyst = true, false, true
	}
}
