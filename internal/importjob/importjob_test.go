package importjob

import (
	"context"
	"encoding/json"
	"errors"
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
	if err := other.Run(ctx, &list{order("o1", 2)}); err != nil {
		t.Fatal(err)
	}
	if r := other.Result(); r.Stored != 0 || r.QuarantinedBy["duplicate_id"] != 1 {
		t.Fatalf("duplicate import: %+v", r)
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
