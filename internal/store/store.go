package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Store is the system of record. Implementations are safe for concurrent use.
type Store interface {
	// WriteBatch stores b and advances the consumer offsets of its
	// partitions atomically. It returns a *FencedError when a partition's
	// stored offset is not the batch's From, and a *DuplicateError when
	// transactions already stored are in the batch; nothing is written then.
	// When every partition's stored offset already equals the batch's To,
	// the batch was committed before (a retry after a commit whose reply was
	// lost): it returns ErrAlreadyCommitted and writes nothing.
	WriteBatch(ctx context.Context, b *Batch) error
	// Offsets returns the next offset to consume per partition of topic
	// for the consumer group; partitions never committed are absent.
	Offsets(ctx context.Context, group, topic string) (map[int32]int64, error)
	// Summary returns the running totals the dashboard's header shows.
	Summary(ctx context.Context) (Summary, error)
	// Windows returns window metrics of one granularity from since on, a
	// row per window, channel, payment method and currency.
	Windows(ctx context.Context, g Granularity, since time.Time) ([]WindowRow, error)
	// RecentTransactions calls fn for the stored transactions of a
	// partition with offset at or after fromOffset and event time at or
	// after since, in offset order, for rebuilding per-partition state after
	// a rebalance.
	RecentTransactions(ctx context.Context, partition int32, fromOffset int64, since time.Time, fn func(*Tx) error) error
	// DeliverOutbox hands up to limit due outbox messages, oldest first,
	// to send; each one send accepts is marked delivered, each it refuses is
	// retried later with exponential backoff. Several instances may call it
	// at once: the messages are claimed with a lease in a short transaction
	// first, so a message is handed to one of them at a time, and no
	// transaction or lock is held while send runs. A deliverer that dies
	// after claiming gives its messages back when the lease runs out
	// (sqlstore.OutboxLease), so a message may then be sent twice:
	// receivers drop repeats by the message's ID.
	DeliverOutbox(ctx context.Context, limit int, send func(*OutboxMsg) error) (delivered, failed int, err error)
	// PruneOutbox deletes the messages delivered before deliveredBefore,
	// at most batch per transaction (1000 when batch <= 0), and returns
	// how many it deleted. Messages not delivered are never deleted.
	PruneOutbox(ctx context.Context, deliveredBefore time.Time, batch int) (int64, error)
	// Checkpoint returns the partition state stored with the partition's
	// offset by the last batch that carried one (Part.Checkpoint), or nil
	// when none was stored. The caller restores it and replays only the
	// records from its Offset to the stored next offset.
	Checkpoint(ctx context.Context, group, topic string, partition int32) (*Checkpoint, error)
	// Claim hands owner a new ownership epoch of the group's topic, higher
	// than any handed out before, and records it with the stored offsets of
	// partitions (those already registered), so that a batch of an older
	// epoch (a zombie's) is refused from then on. A processor claims the
	// partitions it is assigned and writes its batches with the epoch as
	// their Generation. The epoch never goes backwards, unlike a Kafka
	// group's generation, which starts again when the group is recreated.
	Claim(ctx context.Context, group, topic, owner string, partitions []int32) (epoch int32, err error)
	// Ping checks the connection.
	Ping(ctx context.Context) error
	// Close releases the store's resources.
	Close() error
	// Quarantine reads, and deletes, the quarantined records (quarantine.go).
	Quarantine
}

// Batch is what one processor commits in one database transaction.
type Batch struct {
	Group string
	Topic string
	// Owner names the processor that made the batch (its stable instance
	// id); Generation is the ownership epoch Store.Claim handed it when it
	// was assigned the batch's partitions. The store records both with the offsets and
	// refuses a batch whose Generation is older than the stored one (a
	// zombie's), with a *FencedError. A batch found committed already is
	// ErrAlreadyCommitted only when the stored owner is this Owner (its own
	// commit whose reply was lost); another owner's is a *FencedError.
	// Generation -1 (and an empty Owner) is a writer outside any group,
	// such as the importer: it is fenced by offsets alone.
	Owner      string
	Generation int32
	// Slot is the writer's slot in the shared rollups (see BatchSlot):
	// one more than the smallest partition its writer owns, so that the
	// writer's batches keep one slot whichever of its partitions they
	// carry; 0 takes BatchSlot(Parts).
	Slot  int32
	Parts []Part
	// ErasedUpTo is the ID of the last erasure the batch's records were
	// pseudonymised against (store.Pseudonymise) before it was built; 0
	// when none. WriteBatch applies the erasures recorded after it, under
	// a lock that an erasure takes exclusively, so a record of an erased
	// customer is never stored with the id.
	ErasedUpTo int64
}

// Part is one partition's share of a batch: the records with offsets in
// [From, To), and what was computed from them.
type Part struct {
	Partition   int32
	From, To    int64
	Txs         []Tx
	Quarantined []Quarantined
	Labels      []Label
	// LabelEvents are the label events of a part of the labels topic
	// (Labeller.WriteLabels); empty in batches of transactions.
	LabelEvents []LabelEvent
	Alerts      []Alert
	Outbox      []OutboxMsg
	// Checkpoint, when not nil, is the partition's processing state (fraud
	// features, dedup window) as of offset To, stored with the offset in the
	// same transaction and handed back by Store.Checkpoint. (The processor
	// takes it out of batches for a store that is a CheckpointSaver and
	// stores it after the batch commits.)
	Checkpoint []byte
	// CheckedAt is when the part's records were checked: their minute in
	// the quality counts (QualityDeltas). Zero means when stored.
	CheckedAt time.Time
}

// Checkpoint is a partition's state stored with its offset.
type Checkpoint struct {
	// Offset is the next offset to consume when the state was taken.
	Offset int64
	// State is the encoded state (Part.Checkpoint as written).
	State []byte
	// At is when it was stored.
	At time.Time
}

// CheckpointSaver stores a partition's checkpoint apart from the batch it
// was taken with: after that batch committed, in a transaction of its own,
// so that writing tens of megabytes of state holds none of the writers
// the stream's batches need.
type CheckpointSaver interface {
	// SaveCheckpoint stores state as the checkpoint of the group's
	// partition as of offset, when owner and generation still hold the
	// partition (a processor that lost it stores nothing), its stored
	// offset is at least offset, and no checkpoint as of offset or later
	// is stored. It reports whether it stored it.
	SaveCheckpoint(ctx context.Context, group, topic string, partition int32, owner string, generation int32, offset int64, state []byte) (bool, error)
}

// Len is the number of records the part covers.
func (p *Part) Len() int { return len(p.Txs) + len(p.Quarantined) }

// Tx is a stored transaction with its fraud result.
type Tx struct {
	TransactionID string
	CustomerID    string
	EventTime     time.Time
	TotalCents    int64
	Currency      string
	PaymentMethod string
	Channel       string
	CardBIN       string
	CardLast4     string
	DeviceID      string
	IPAddress     string
	// IPCountry and IPHosting are the geography of a hashed IPAddress
	// (event.Transaction's); "" and false otherwise.
	IPCountry       string
	IPHosting       bool
	BillingCountry  string
	ShippingCountry string
	// ShippingAddress is the shipping address's key (event.AddressKey),
	// "" when the record had none; the address itself is not stored.
	ShippingAddress string
	// ItemsJSON is the items array as JSON.
	ItemsJSON []byte
	Partition int32
	Offset    int64
	Risk      float64
	Decision  string
	// ReasonsJSON is the fraud reasons array as JSON ("[]" when none).
	ReasonsJSON []byte
	// ShadowRisk is the risk a shadow model (scored, not acted on) gave,
	// when HasShadow is set.
	ShadowRisk float64
	HasShadow  bool
	// Features is the fraud feature vector the score was computed from,
	// kept for model training. May be nil.
	Features []float32
	// ModelVersion is the active fraud model version Risk came from, 0
	// for the rules alone. Not stored with the row; it goes to the
	// transaction's alert.
	ModelVersion int
	// ProducedAt is the Kafka record timestamp.
	ProducedAt time.Time
	// Raw is the record as consumed. Not stored; kept so a transaction
	// found to be a duplicate at write time can be quarantined as it came.
	Raw []byte
	// ExpectedBad is the bad-record kind the generator's label header
	// named, if any. Not stored with the row; it goes with the record to
	// quarantine if the store finds it a duplicate.
	ExpectedBad string
	// ReplayOf, when not 0, is the quarantine row this transaction is a
	// replay of: storing it marks that row (see Quarantine).
	ReplayOf int64
	// QualityWarnings are the checks that warned about the record (it
	// passed them all). Not stored with the row; counted per minute and
	// check in the quality counts.
	QualityWarnings []string
}

// Quarantined is a record that failed a data-quality check.
type Quarantined struct {
	Reason    string
	Detail    string
	Raw       []byte
	Partition int32
	Offset    int64
	// Expected is the bad-record kind the generator labelled it with, if any.
	Expected string
	// ReplayOf, when not 0, is the quarantine row this record is a replay
	// of: that row is marked with the outcome instead of a new row being
	// stored (see Quarantine).
	ReplayOf int64
}

// Label is the generator's out-of-band truth about a record, used only by
// evaluation.
type Label struct {
	TransactionID string
	Fraud         bool
	Scenario      string
}

// Alert is a transaction the fraud scorer sent to review or decline.
type Alert struct {
	TransactionID string
	CustomerID    string
	EventTime     time.Time
	Risk          float64
	Decision      string
	ReasonsJSON   []byte
	AmountCents   int64
	// Currency is the transaction's: AmountCents is in its minor units.
	Currency string
	// ModelVersion is the active fraud model version that scored the
	// transaction, 0 for the rules alone.
	ModelVersion int
}

// OutboxMsg is an outbound message delivered after its transaction commits.
type OutboxMsg struct {
	ID      int64  // set when read back for delivery
	Kind    string // "kafka" or "webhook"
	Target  string // topic or webhook name
	Key     []byte
	Headers []byte // JSON object of string headers, may be nil
	Payload []byte
	// Attempts counts failed deliveries so far (when read back).
	Attempts int
	// CreatedAt is when its transaction stored it (when read back).
	CreatedAt time.Time
	// Ref is the transaction the message is about. Not stored.
	Ref string
	// Identifying marks a message that carries Ref's device, card, IP
	// address or shipping address (the entity stage's repartition
	// records): an erasure that pseudonymises Ref as it is stored
	// (Pseudonymise) drops it, as it clears those fields of the row.
	// Not stored.
	Identifying bool
}

// WriteShape is implemented by a store whose writes go fastest in another
// shape than the processor's defaults (two database transactions in
// flight, at most 5,000 records each, which suit PostgreSQL). SQLite has
// one writer: a second transaction only waits for the first, and halves
// every commit, so each commit rewrites the same index pages (random
// transaction IDs touch most pages of their index) for half the rows.
type WriteShape interface {
	// Writers is how many database transactions may usefully write at once.
	Writers() int
	// BatchRecords is the most records one batch should hold.
	BatchRecords() int
}

// Size is implemented by stores that can say how much disk they take:
// SQLite its database file with its write-ahead log and shared-memory
// index, PostgreSQL pg_database_size of its database. Exposed as
// shopstream_store_size_bytes (docs/operations.md).
type Size interface {
	// StoreSize returns the bytes the store's data takes on disk now.
	StoreSize(ctx context.Context) (int64, error)
}

// OutboxBacklog is implemented by stores that can say how many outbox
// messages wait for delivery.
type OutboxBacklog interface {
	// OutboxBacklog returns the number of undelivered messages and when
	// the oldest of them was stored (zero when none).
	OutboxBacklog(ctx context.Context) (pending int64, oldest time.Time, err error)
	// OutboxDrained reports whether no message waits for delivery. Unlike
	// OutboxBacklog, which reads every pending message, it reads one.
	OutboxDrained(ctx context.Context) (bool, error)
}

// OutboxBackoff is the wait before retrying a message that failed attempts
// times: 1 s doubling, at most 5 minutes.
func OutboxBackoff(attempts int) time.Duration {
	d := time.Second << min(attempts, 9)
	return min(d, 5*time.Minute)
}

// FencedError reports partitions whose stored offset moved on: another
// processor owns them now. The caller drops them and re-seeks.
type FencedError struct {
	Partitions []int32
}

func (e *FencedError) Error() string {
	return fmt.Sprintf("partitions %v are owned by another processor (stored offset moved)", e.Partitions)
}

// DuplicateError reports transactions already stored, or repeated within
// the batch (the same id on two partitions): the first stored wins, and
// every later copy is listed in Copies.
type DuplicateError struct {
	// IDs are the distinct transaction ids concerned.
	IDs []string
	// Copies are the records to quarantine as duplicate_id, each naming
	// where the copy that is kept lives.
	Copies []DuplicateCopy
}

// DuplicateCopy is one record of a batch whose transaction id is stored
// already (or kept from an earlier part of the same batch).
type DuplicateCopy struct {
	TransactionID string
	// Partition and Offset locate the copy in this batch.
	Partition int32
	Offset    int64
	// KeptPartition and KeptOffset locate the copy that is stored; both
	// are -1 where the store refuses the id but does not know where its
	// copy is (PostgreSQL: an id stored before migration 0040 whose
	// transaction was gone by then).
	KeptPartition int32
	KeptOffset    int64
}

// RejectedError reports a batch the database refused for a reason in the
// data (a constraint, an encoding, a value out of range): writing the same
// rows again cannot succeed. The caller finds the offending records (by
// bisecting the batch) and quarantines them as store_rejected with Message.
// Every other error from WriteBatch is transient and worth retrying.
type RejectedError struct {
	// Message is the database's own message, safe to store and show.
	Message string
	Err     error
}

func (e *RejectedError) Error() string { return "the database rejected the batch: " + e.Message }

func (e *RejectedError) Unwrap() error { return e.Err }

// IsRejected reports whether err is a *RejectedError.
func IsRejected(err error) (*RejectedError, bool) {
	var r *RejectedError
	return r, errors.As(err, &r)
}

func (e *DuplicateError) Error() string {
	return fmt.Sprintf("%d transactions already stored (first: %s)", len(e.IDs), e.IDs[0])
}

// ErrAlreadyCommitted reports a batch found committed already: the caller
// counts it as written.
var ErrAlreadyCommitted = errors.New("batch was committed already")

// StoredOffset is a partition's stored position and who stored it.
type StoredOffset struct {
	// Next is the next offset to consume.
	Next int64
	// Owner and Generation are those of the batch that stored it ("" and
	// -1 for a writer outside any group).
	Owner      string
	Generation int32
}

// Fence compares a batch with the stored offsets of its partitions (both
// stores call it with the rows they locked):
//   - a partition whose stored generation is newer than the batch's: a
//     *FencedError naming those partitions (the batch is a zombie's);
//   - every part ending where its partition stands: ErrAlreadyCommitted
//     when the stored owner is the batch's Owner (its own commit whose
//     reply was lost), else a *FencedError naming every partition
//     (another owner committed the same range);
//   - a part not starting where its partition stands: a *FencedError
//     naming the partitions that moved;
//   - else nil.
//
// A batch with Generation -1 or no Owner (the importer, tests) is fenced
// by offsets alone: its commit found done is ErrAlreadyCommitted.
func Fence(b *Batch, stored map[int32]StoredOffset) error {
	grouped := b.Owner != "" && b.Generation >= 0
	var zombie, moved, all []int32
	done, mine := true, true
	for _, p := range b.Parts {
		all = append(all, p.Partition)
		cur, ok := stored[p.Partition]
		if grouped && ok && cur.Generation > b.Generation {
			zombie = append(zombie, p.Partition)
		}
		if !ok || cur.Next != p.To || p.To == p.From {
			done = false
		}
		if ok && cur.Owner != b.Owner {
			mine = false
		}
		if ok && cur.Next != p.From {
			moved = append(moved, p.Partition)
		}
	}
	switch {
	case len(zombie) > 0:
		return &FencedError{Partitions: zombie}
	case done && (mine || !grouped):
		return ErrAlreadyCommitted
	case done:
		return &FencedError{Partitions: all}
	case len(moved) > 0:
		return &FencedError{Partitions: moved}
	}
	return nil
}

// IsFenced and IsDuplicate classify WriteBatch errors.
func IsFenced(err error) (*FencedError, bool) {
	var f *FencedError
	return f, errors.As(err, &f)
}

// IsDuplicate reports whether err is a *DuplicateError.
func IsDuplicate(err error) (*DuplicateError, bool) {
	var d *DuplicateError
	return d, errors.As(err, &d)
}

// TransactionCounter is implemented by stores that read the total of
// the stored transactions alone: Summary.TransactionsTotal without the
// rest of the summary, whose count of the customers reads a million rows
// at a million customers (130 to 330 ms of PostgreSQL's time).
type TransactionCounter interface {
	TransactionsTotal(ctx context.Context) (int64, error)
}

// Summary holds running totals.
type Summary struct {
	TransactionsTotal int64
	// RevenueCents adds the minor units of every currency together: a
	// check sum for tests of one currency, never money to show.
	RevenueCents int64
	// RevenueByCurrency is the revenue per ISO 4217 currency, in the
	// currency's minor units.
	RevenueByCurrency map[string]int64
	FraudAlertsTotal  int64
	QuarantinedTotal  int64
	CustomersTotal    int64
	// LastEventTime is the latest event time stored, if any.
	LastEventTime *time.Time
}

// Granularity of a window metric.
type Granularity string

// Window sizes kept.
const (
	Minute Granularity = "minute"
	Hour   Granularity = "hour"
)

// Truncate returns the start of t's window.
func (g Granularity) Truncate(t time.Time) time.Time {
	if g == Hour {
		return t.UTC().Truncate(time.Hour)
	}
	return t.UTC().Truncate(time.Minute)
}

// WindowRow is one window's additive totals.
type WindowRow struct {
	Granularity   Granularity
	Start         time.Time
	Channel       string
	PaymentMethod string
	// Currency is the ISO 4217 code of RevenueCents, which are its minor
	// units: rows of different currencies are never added.
	Currency     string
	Count        int64
	RevenueCents int64
	Alerts       int64
}

// WindowDeltas sums the transactions of parts into per-minute and per-hour
// increments by channel, payment method and currency, sorted by key so
// concurrent writers lock rows in one order.
func WindowDeltas(parts []Part) []WindowRow { return WindowDeltasSince(parts, time.Time{}) }

// WindowDeltasSince is WindowDeltas without the minute rows that start
// before since (none left out when since is zero); the hour rows still
// count their transactions.
func WindowDeltasSince(parts []Part, since time.Time) []WindowRow {
	type key struct {
		g     Granularity
		start int64
		ch    string
		pm    string
		cur   string
	}
	// Minutes first, one map operation per transaction; the hours are
	// then the sums of the minutes, far fewer.
	m := make(map[key]*WindowRow, minutesHint(parts))
	for i := range parts {
		for j := range parts[i].Txs {
			tx := &parts[i].Txs[j]
			alert := int64(0)
			if tx.Decision != "" && tx.Decision != "approve" {
				alert = 1
			}
			s := Minute.Truncate(tx.EventTime)
			k := key{Minute, s.Unix(), tx.Channel, tx.PaymentMethod, tx.Currency}
			w := m[k]
			if w == nil {
				w = &WindowRow{Granularity: Minute, Start: s, Channel: tx.Channel, PaymentMethod: tx.PaymentMethod, Currency: tx.Currency}
				m[k] = w
			}
			w.Count++
			w.RevenueCents += tx.TotalCents
			w.Alerts += alert
		}
	}
	hours := make(map[key]*WindowRow, len(m)/8+1)
	for _, mw := range m {
		s := Hour.Truncate(mw.Start)
		k := key{Hour, s.Unix(), mw.Channel, mw.PaymentMethod, mw.Currency}
		w := hours[k]
		if w == nil {
			w = &WindowRow{Granularity: Hour, Start: s, Channel: mw.Channel, PaymentMethod: mw.PaymentMethod, Currency: mw.Currency}
			hours[k] = w
		}
		w.Count += mw.Count
		w.RevenueCents += mw.RevenueCents
		w.Alerts += mw.Alerts
	}
	// Sorted as their keys and pointers, not as rows (sort.Slice moving
	// rows of times and strings took longer than the folding).
	type entry struct {
		k key
		w *WindowRow
	}
	entries := make([]entry, 0, len(m)+len(hours))
	for k, w := range m {
		if since.IsZero() || !w.Start.Before(since) {
			entries = append(entries, entry{k, w})
		}
	}
	for k, w := range hours {
		entries = append(entries, entry{k, w})
	}
	slices.SortFunc(entries, func(a, b entry) int {
		if a.k.g != b.k.g {
			return strings.Compare(string(a.k.g), string(b.k.g))
		}
		if c := cmp.Compare(a.k.start, b.k.start); c != 0 {
			return c
		}
		if c := strings.Compare(a.k.ch, b.k.ch); c != 0 {
			return c
		}
		if c := strings.Compare(a.k.pm, b.k.pm); c != 0 {
			return c
		}
		return strings.Compare(a.k.cur, b.k.cur)
	})
	out := make([]WindowRow, len(entries))
	for i := range entries {
		out[i] = *entries[i].w
	}
	return out
}

// minutesHint is about how many event-time minutes a batch's
// transactions fall in: at most one per transaction, at most the minutes
// between its first and last. Maps keyed by minute are sized with it: a
// stream's batch spans a few minutes, an import's batch of one-line
// orders a month, a minute each.
func minutesHint(parts []Part) int {
	n := 0
	var lo, hi int64
	for i := range parts {
		for j := range parts[i].Txs {
			t := parts[i].Txs[j].EventTime.Unix()
			if n == 0 || t < lo {
				lo = t
			}
			if n == 0 || t > hi {
				hi = t
			}
			n++
		}
	}
	if n == 0 {
		return 0
	}
	if span := uint64(hi-lo)/60 + 1; span < uint64(n) {
		return int(span)
	}
	return n
}

// CustomerDelta is the additive change one batch makes to a customer.
type CustomerDelta struct {
	CustomerID   string
	FirstSeen    time.Time
	LastSeen     time.Time
	Orders       int64
	RevenueCents int64
}

// CustomerDeltas sums the transactions of parts per customer, sorted by id.
func CustomerDeltas(parts []Part) []CustomerDelta {
	n := 0
	for i := range parts {
		n += len(parts[i].Txs)
	}
	// Each customer's row in one slice, found by an index: no allocation
	// per customer, and sorted without reflection.
	at := make(map[string]int32, n)
	out := make([]CustomerDelta, 0, n)
	for i := range parts {
		for j := range parts[i].Txs {
			tx := &parts[i].Txs[j]
			k, ok := at[tx.CustomerID]
			if !ok {
				k = int32(len(out))
				at[tx.CustomerID] = k
				out = append(out, CustomerDelta{CustomerID: tx.CustomerID, FirstSeen: tx.EventTime, LastSeen: tx.EventTime})
			}
			c := &out[k]
			c.Orders++
			c.RevenueCents += tx.TotalCents
			if tx.EventTime.Before(c.FirstSeen) {
				c.FirstSeen = tx.EventTime
			}
			if tx.EventTime.After(c.LastSeen) {
				c.LastSeen = tx.EventTime
			}
		}
	}
	slices.SortFunc(out, func(a, b CustomerDelta) int { return strings.Compare(a.CustomerID, b.CustomerID) })
	return out
}
