// Package importjob stores an order-history import: it takes the
// transactions package importer reads out of a file, splits orders too
// long for the quality checks, checks them, and writes them in batches,
// exactly once, like a consumer group reading one partition. The group is
// "import", the topic "import:<source>" and the offsets the records'
// ordinals in the file, so a re-import resumes where the last one stopped,
// or does nothing. Records that fail a check, and transactions the store
// holds already, are quarantined with their reason; nothing is dropped.
//
// The reading is in package importer (pure); the command line (flags,
// progress, the report) in internal/cli.
package importjob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/shopstream/shopstream/internal/event"
	"github.com/shopstream/shopstream/internal/importer"
	"github.com/shopstream/shopstream/internal/pipeline"
	"github.com/shopstream/shopstream/internal/quality"
	"github.com/shopstream/shopstream/internal/store"
)

// Group is the consumer group imports store their offsets under.
const Group = "import"

// Partition is the kafka_partition of imported rows: no Kafka partition,
// so the processors' state rebuild never replays them.
const Partition = -1

// Source yields the transactions of a file, io.EOF after the last;
// *importer.Reader is one.
type Source interface {
	Next() (event.Transaction, error)
}

// Config configures a Job.
type Config struct {
	// Store receives the records. Required.
	Store store.Store
	// Source names the import, so a re-import of it resumes. Required.
	Source string
	// Batch is the most records per database transaction; a batch also
	// ends at Batch order lines (items), so that a batch of long orders
	// stays small and the next is read while one is written.
	// Defaults to 50,000: ten times the stream's batch, since an import
	// has no latency to keep, and each batch adds every customer and hour
	// window it touches once, so fewer batches write fewer rows.
	Batch int
	// Quality is the data-quality contract every record is checked by, as
	// the stream's but for event_time_past (see quality.Contract.ForImport).
	// Defaults to quality.Default().
	Quality *quality.Contract
	// Now is the clock of the checks and of the rows' produced time.
	// Defaults to time.Now.
	Now func() time.Time
}

// Result accounts for the records of an import so far.
type Result struct {
	// Records are transactions after splitting long orders: the unit of
	// the stored offsets. Previously is how many an earlier import of the
	// same source had stored already.
	Records, Previously int64
	// LongOrders counts orders of more than Quality.MaxItems() items,
	// imported in parts "<order>", "<order>#p2", ...
	LongOrders          int64
	Stored, Quarantined int64
	// QuarantinedBy counts the quarantined records by reason.
	QuarantinedBy map[string]int64
	// WarnedBy counts stored records by the check with action warn they
	// failed (a record may count under several).
	WarnedBy map[string]int64
}

// Job is one import. Run and Resume must not be called concurrently;
// Result may be called at any time.
type Job struct {
	cfg    Config
	topic  string
	resume int64
	mu     sync.Mutex // guards res: Run's reader and writer both count
	res    Result
	check  quality.Result // the reader's, reused per record
	// importer is the store's import write path, nil for a store
	// without one (which then takes WriteBatch).
	importer store.Importer
}

// New validates cfg and returns a Job.
func New(cfg Config) (*Job, error) {
	if cfg.Store == nil || cfg.Source == "" {
		return nil, errors.New("import: Store and Source are required")
	}
	if cfg.Batch == 0 {
		cfg.Batch = 50_000
	}
	if cfg.Batch < 1 {
		return nil, fmt.Errorf("import: batch %d, must be at least 1", cfg.Batch)
	}
	if cfg.Quality == nil {
		cfg.Quality = quality.Default()
	}
	cfg.Quality = cfg.Quality.ForImport()
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	j := &Job{cfg: cfg, topic: "import:" + cfg.Source, res: Result{QuarantinedBy: map[string]int64{}, WarnedBy: map[string]int64{}}}
	j.importer, _ = cfg.Store.(store.Importer)
	return j, nil
}

// Resume reads how many records of the source earlier imports stored;
// Run skips them.
func (j *Job) Resume(ctx context.Context) (int64, error) {
	offs, err := j.cfg.Store.Offsets(ctx, Group, j.topic)
	if err != nil {
		return 0, fmt.Errorf("reading the stored offset of import %q: %w", j.cfg.Source, err)
	}
	j.resume = offs[0]
	return j.resume, nil
}

// Result returns the accounting so far; it may be called from the
// source's progress callback, or from any goroutine.
func (j *Job) Result() Result {
	j.mu.Lock()
	defer j.mu.Unlock()
	r := j.res
	r.QuarantinedBy = maps.Clone(j.res.QuarantinedBy)
	return r
}

// Run stores every transaction of src after those stored before (see
// Resume), until io.EOF or ctx ends. Reading and checking the next batch
// runs while the last one is written, so an import keeps both the CSV
// parser and the database busy; batches still commit one at a time, in
// file order, each with its offset.
func (j *Job) Run(ctx context.Context, src Source) error {
	g, gctx := errgroup.WithContext(ctx)
	// One batch waits while one is written: memory stays at about three
	// batches whatever the file's size.
	full := make(chan batch, 1)
	g.Go(func() error {
		for b := range full {
			if err := j.write(gctx, b); err != nil {
				return err
			}
		}
		return nil
	})
	g.Go(func() error {
		defer close(full)
		return j.read(gctx, src, full)
	})
	return g.Wait()
}

// read checks the transactions of src and hands them to full in batches
// of Config.Batch records or order lines, whichever comes first.
func (j *Job) read(ctx context.Context, src Source, full chan<- batch) error {
	now := j.cfg.Now()
	// A part's rows are allocated once, as many as the last part held:
	// appending a batch's rows one by one to a growing slice copied each
	// 300-byte row about twice and took a quarter of the reader's time.
	part := store.Part{Partition: 0, From: j.resume, To: j.resume, Txs: make([]store.Tx, 0, 1024)}
	lines := 0 // order lines in part
	send := func() error {
		if part.Len() == 0 {
			return nil
		}
		b := batch{part: part}
		if j.importer != nil {
			b.derived = j.importer.DeriveImport([]store.Part{part})
		}
		select {
		case full <- b:
		case <-ctx.Done():
			return ctx.Err()
		}
		part, lines = store.Part{Partition: 0, From: part.To, To: part.To, Txs: make([]store.Tx, 0, max(len(part.Txs), 1024))}, 0
		return nil
	}
	var records, previously, long int64
	warned := map[string]int64{} // stored records by the check that warned
	for {
		t, err := src.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("reading the transactions after record %d of import %q: %w", records, j.cfg.Source, err)
		}
		// An order within the item limit is its own only part, without
		// allocating a slice for it.
		one := [1]event.Transaction{t}
		parts := one[:]
		if n := j.cfg.Quality.MaxItems(); n > 0 && len(t.Items) > n {
			parts = importer.SplitLongOrder(t, n)
		}
		if len(parts) > 1 {
			long++
		}
		for i := range parts {
			ord := records
			records++
			if ord < j.resume {
				previously++
				continue
			}
			p := &parts[i]
			if j.cfg.Quality.Validate(p, now, &j.check); j.check.Failure != nil {
				fail := j.check.Failure
				raw, _ := event.Marshal(p)
				part.Quarantined = append(part.Quarantined, store.Quarantined{Reason: string(fail.Reason),
					Detail: fail.Detail, Raw: raw, Partition: Partition, Offset: ord})
			} else {
				tx := pipeline.NewTx(p, Partition, ord, now, nil)
				if w := j.check.Warnings; len(w) > 0 {
					tx.QualityWarnings = pipeline.WarningReasons(w)
					for _, c := range w {
						warned[string(c)]++
					}
				}
				part.Txs = append(part.Txs, tx)
			}
			part.To++
			lines += len(p.Items)
			if part.Len() >= j.cfg.Batch || lines >= j.cfg.Batch {
				j.count(records, previously, long, warned)
				if err := send(); err != nil {
					return err
				}
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	j.count(records, previously, long, warned)
	return send()
}

// batch is a part read and checked, with what it adds to the stored
// totals when the store takes imports (store.Importer): deriving it on
// the reading goroutine takes that work off the writer, which is what
// bounds an import.
type batch struct {
	part    store.Part
	derived *store.Derived
}

// count publishes the reader's accounting.
func (j *Job) count(records, previously, long int64, warned map[string]int64) {
	j.mu.Lock()
	j.res.Records, j.res.Previously, j.res.LongOrders = records, previously, long
	for k, v := range warned {
		j.res.WarnedBy[k] = v
	}
	j.mu.Unlock()
}

// write stores part. Transactions already in the store (an order imported
// before under another source name, say) are quarantined as duplicate_id
// instead, as the stream processor does.
func (j *Job) write(ctx context.Context, bt batch) error {
	part, derived := bt.part, bt.derived
	for {
		b := &store.Batch{Group: Group, Topic: j.topic, Parts: []store.Part{part}}
		var err error
		if j.importer != nil {
			err = j.importer.WriteImport(ctx, b, derived)
		} else {
			err = j.cfg.Store.WriteBatch(ctx, b)
		}
		if d, ok := store.IsDuplicate(err); ok {
			quarantineDuplicates(&part, d.Copies)
			if j.importer != nil {
				derived = j.importer.DeriveImport([]store.Part{part})
			}
			continue
		}
		if _, ok := store.IsFenced(err); ok {
			return fmt.Errorf("another import of source %q wrote meanwhile (its stored offset moved); run this one again to resume after it", j.cfg.Source)
		}
		if err != nil {
			return fmt.Errorf("storing records %d-%d: %w", part.From, part.To-1, err)
		}
		break
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.res.Stored += int64(len(part.Txs))
	j.res.Quarantined += int64(len(part.Quarantined))
	for _, q := range part.Quarantined {
		j.res.QuarantinedBy[q.Reason]++
	}
	return nil
}

// quarantineDuplicates moves the later copies the store named (by offset:
// the first of an id repeated within the part is kept) from part's rows to
// its quarantine as duplicate_id.
func quarantineDuplicates(part *store.Part, copies []store.DuplicateCopy) {
	dup := make(map[int64]store.DuplicateCopy, len(copies))
	for _, c := range copies {
		dup[c.Offset] = c
	}
	kept := part.Txs[:0]
	for _, t := range part.Txs {
		c, ok := dup[t.Offset]
		if !ok {
			kept = append(kept, t)
			continue
		}
		part.Quarantined = append(part.Quarantined, store.Quarantined{Reason: string(quality.DuplicateID),
			Detail: fmt.Sprintf("transaction %s is stored already, at offset %d", t.TransactionID, c.KeptOffset),
			Raw:    rawOf(&t), Partition: Partition, Offset: t.Offset, ReplayOf: t.ReplayOf})
	}
	part.Txs = kept
}

// rawOf rebuilds the event of a stored row for the quarantine: imported
// rows keep no raw record.
func rawOf(t *store.Tx) []byte {
	b := []byte(`{"schema_version":1,"transaction_id":`)
	b = event.AppendJSONString(b, t.TransactionID)
	b = append(b, `,"customer_id":`...)
	b = event.AppendJSONString(b, t.CustomerID)
	b = append(b, `,"event_time":"`...)
	b = t.EventTime.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","total_amount":`...)
	b = event.Cents(t.TotalCents).AppendJSON(b)
	b = append(b, `,"currency":`...)
	b = event.AppendJSONString(b, t.Currency)
	b = append(b, `,"billing_country":`...)
	b = event.AppendJSONString(b, t.BillingCountry)
	b = append(b, `,"channel":`...)
	b = event.AppendJSONString(b, t.Channel)
	b = append(b, `,"items":`...)
	b = append(b, t.ItemsJSON...)
	return append(b, '}')
}
