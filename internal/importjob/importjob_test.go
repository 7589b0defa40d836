package importjob

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/event"
	"github.com/shopstream/shopstream/internal/pipeline"
	"github.com/shopstream/shopstream/internal/store/sqlite"
)

var when = time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)

// list is a Source over a slice.
type list []event.Transaction

func (l *list) Next() (event.Transaction, error) {
	if len(*l) == 0 {
		return event.Transaction{}, io.EOF
	}
	t := (*l)[0]
	*l = (*l)[1:]
	return t, nil
}

func order(id string, items int) event.Transaction {
	t := event.Transaction{SchemaVersion: event.SchemaVersion, TransactionID: id, CustomerID: "c-" + id, EventTime: when,
		Currency: "EUR", PaymentMethod: "card", Channel: "web", BillingCountry: "DE", ShippingCountry: "DE"}
	for i := range items {
		t.Items = append(t.Items, event.Item{ProductID: "p" + string(rune('a'+i%26)), Category: "books", Quantity: 1, UnitPriceCents: 250})
	}
	t.TotalCents = t.ItemsCents()
	return t
}

func newJob(t *testing.T, st *sqlite.Store, source string) *Job {
	t.Helper()
	j, err := New(Config{Store: st, Source: source, Batch: 2, Now: func() time.Time { return when.Add(time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := j.Resume(context.Background()); err != nil {
		t.Fatal(err)
	}
	return j
}

// TestRunResumesAndQuarantinesDuplicates imports three orders (one too
// long, one without items), re-imports the file (nothing new), then
// imports one order again under another source name: it is quarantined as
// a duplicate with its event rebuilt.
func TestRunResumesAndQuarantinesDuplicates(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	file := func() *list { return &list{order("o1", 2), order("o2", 250), order("o3", 0)} }

	j := newJob(t, st, "a.csv")
	if err := j.Run(ctx, file()); err != nil {
		t.Fatal(err)
	}
	r := j.Result()
	// o2 has 250 items: three parts of at most 100.
	if r.Records != 5 || r.LongOrders != 1 || r.Stored != 4 || r.Quarantined != 1 {
		t.Fatalf("first import: %+v", r)
	}

	again := newJob(t, st, "a.csv")
	if err := again.Run(ctx, file()); err != nil {
		t.Fatal(err)
	}
	if r := again.Result(); r.Previously != 5 || r.Stored != 0 || r.Quarantined != 0 {
		t.Fatalf("re-import: %+v", r)
	}

	other := newJob(t, st, "b.csv")
	if err := other.Run(ctx, &list{order("o1", 2), order("o4", 1)}); err != nil {
		t.Fatal(err)
	}
	if r := other.Result(); r.Stored != 1 || r.QuarantinedBy["duplicate_id"] != 1 {
		t.Fatalf("duplicate import: %+v", r)
	}
	// The batch written again without its duplicate adds only what it
	// stores to the windows and customers.
	sum, err := st.Summary(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if sum.TransactionsTotal != 5 {
		t.Errorf("windows count %d transactions, want the 5 stored", sum.TransactionsTotal)
	}
}

func TestRawOfIsTheEvent(t *testing.T) {
	t.Parallel()
	if _, err := New(Config{Source: "x"}); err == nil {
		t.Error("New accepted a Config without a Store")
	}
	o := order("o9", 3)
	tx := pipeline.NewTx(&o, Partition, 7, when, nil)
	var back event.Transaction
	if err := json.Unmarshal(rawOf(&tx), &back); err != nil {
		t.Fatalf("rebuilt raw is not JSON: %v", err)
	}
	if back.TransactionID != "o9" || back.TotalCents != o.TotalCents || len(back.Items) != 3 || !back.EventTime.Equal(when) {
		t.Errorf("rebuilt event = %+v", back)
	}
}

// failing is a Source whose file breaks after one transaction.
type failing struct{ n int }

func (f *failing) Next() (event.Transaction, error) {
	f.n++
	if f.n == 1 {
		return order("f1", 1), nil
	}
	return event.Transaction{}, errors.New("disk gone")
}

func TestRunReportsReadErrors(t *testing.T) {
	t.Parallel()
	st, err := sqlite.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	err = newJob(t, st, "broken.csv").Run(context.Background(), &failing{})
	if err == nil || !strings.Contains(err.Error(), "disk gone") || !strings.Contains(err.Error(), "after record 1") {
		t.Errorf("err = %v, want the read error with where it happened", err)
	}
}

// counting is a Source of n one-item orders that reads the job's Result
// on every call, as the command's progress line does, while the job
// writes on another goroutine.
type counting struct {
	job  *Job
	n, i int
	seen int64
}

func (c *counting) Next() (event.Transaction, error) {
	if c.i == c.n {
		return event.Transaction{}, io.EOF
	}
	c.i++
	r := c.job.Result()
	if r.Stored < c.seen {
		return event.Transaction{}, fmt.Errorf("stored went back from %d to %d", c.seen, r.Stored)
	}
	c.seen = r.Stored
	return order(fmt.Sprintf("o%04d", c.i), 1), nil
}

// TestRunWritesWhileReading imports 501 orders in batches of 2, reading
// the accounting concurrently (run with -race), and checks every record
// and the offset are stored once.
func TestRunWritesWhileReading(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	j := newJob(t, st, "big.csv")
	src := &counting{job: j, n: 501}
	if err := j.Run(ctx, src); err != nil {
		t.Fatal(err)
	}
	if r := j.Result(); r.Records != 501 || r.Stored != 501 || r.Quarantined != 0 {
		t.Fatalf("result %+v, want 501 records stored", r)
	}
	offs, err := st.Offsets(ctx, Group, "import:big.csv")
	if err != nil {
		t.Fatal(err)
	}
	sum, err := st.Summary(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if offs[0] != 501 || sum.TransactionsTotal != 501 {
		t.Errorf("stored offset %d and %d transactions, want 501 of each", offs[0], sum.TransactionsTotal)
	}
}

// TestRunStopsOnWriteError: when the store fails, Run returns its error
// and the reader stops instead of waiting for a writer that is gone.
func TestRunStopsOnWriteError(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	j := newJob(t, st, "gone.csv")
	st.Close()
	src := &list{}
	for i := range 100 {
		*src = append(*src, order(fmt.Sprintf("g%03d", i), 1))
	}
	err = j.Run(ctx, src)
	if err == nil || !strings.Contains(err.Error(), "storing records 0-1") {
		t.Fatalf("err = %v, want the failed write of the first batch", err)
	}
	if len(*src) < 90 {
		t.Errorf("the reader went on to read %d of 100 orders after the write failed", 100-len(*src))
	}
}

// TestBatchEndsAtLines: a batch ends at Batch order lines as well as at
// Batch records; the failed write of a closed store names the first
// batch's records.
func TestBatchEndsAtLines(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	j, err := New(Config{Store: st, Source: "lines.csv", Batch: 10, Now: func() time.Time { return when.Add(time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	// Six lines each: the first batch is full after two orders.
	err = j.Run(ctx, &list{order("l1", 6), order("l2", 6), order("l3", 6)})
	if err == nil || !strings.Contains(err.Error(), "storing records 0-1:") {
		t.Fatalf("err = %v, want the failed write of records 0-1", err)
	}
}
