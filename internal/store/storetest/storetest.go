// Package storetest is the conformance suite every store.Store
// implementation passes: the PostgreSQL and SQLite stores run the same tests.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/store"
)

// Run runs the suite; open returns a fresh, empty store for one test.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"BatchAndOffsets", testBatchAndOffsets},
		{"Fence", testFence},
		{"Duplicates", testDuplicates},
		{"WindowsAreAdditive", testWindowsAdditive},
		{"ManyWindowsInOneBatch", testManyWindows},
		{"RecentTransactions", testRecent},
		{"EmptyStore", testEmpty},
		{"ResumePoints", testResumePoints},
		{"Outbox", testOutbox},
		{"Rejected", testRejected},
		{"QuarantineTakesAnything", testQuarantineTakesAnything},
		{"DuplicatesAcrossPartitionsInOneBatch", testDuplicatesInOneBatch},
		{"DuplicatesAcrossBatches", testDuplicatesAcrossBatches},
		{"DuplicatesInOneBatchProducedFirstWins", testDuplicatesProducedFirst},
		{"ZombieGeneration", testZombie},
		{"ClaimEpochs", testClaim},
		{"OwnLostReply", testOwnLostReply},
		{"AnotherOwnersCommit", testAnotherOwnersCommit},
		{"Checkpoints", testCheckpoints},
		{"SavedCheckpoints", testSavedCheckpoints},
		{"RevenuePerCurrency", testRevenuePerCurrency},
		{"OutboxConcurrentDeliverers", testOutboxConcurrent},
		{"OutboxExpiredLease", testOutboxExpiredLease},
		{"OutboxPrune", testOutboxPrune},
		{"OutboxLargeBatch", testOutboxLargeBatch},
		{"QuarantineList", testQuarantineList},
		{"QuarantineReplayMarks", testQuarantineReplayMarks},
		{"QuarantinePurge", testQuarantinePurge},
		{"QualityMinutes", testQualityMinutes},
		{"TxPerMinute", testTxPerMinute},
		{"QualityFindings", testQualityFindings},
		{"Retention", testRetention},
		{"PruneModels", testPruneModels},
		{"RetentionAggregates", testRetentionAggregates},
		{"MinuteHorizon", testMinuteHorizon},
		{"RollupSlots", testRollupSlots},
		{"Erase", testErase},
		{"EraseEntities", testEraseEntities},
		{"RingsPages", testRingsPages},
		{"EntityTrainingSample", testEntityTrainingSample},
		{"RingsAcrossPartitions", testRingsAcrossPartitions},
		{"AddressKey", testAddressKey},
		{"StoreSize", testStoreSize},
		{"SystemSamples", testSystemSamples},
		{"ProductFold", testProductFold},
		{"ProductFoldStopped", testProductFoldStopped},
		{"ProductFoldSameHour", testProductFoldSameHour},
		{"ProductFoldImportBehind", testProductFoldImportBehind},
		{"DriftSamples", testDriftSamples},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}

var base = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// Tx returns a valid transaction row for tests.
func Tx(id string, customer string, at time.Time, cents int64, partition int32, offset int64) store.Tx {
	return store.Tx{
		TransactionID: id, CustomerID: customer, EventTime: at, TotalCents: cents, Currency: "EUR",
		PaymentMethod: "card", Channel: "web", CardBIN: "411111", CardLast4: "1234", DeviceID: "d1",
		IPAddress: "10.0.0.1", BillingCountry: "DE", ShippingCountry: "DE", ShippingAddress: "6f1ed002ab5595f8",
		ItemsJSON: []byte(`[{"product_id":"P1","category":"books","quantity":1,"unit_price":1.00}]`),
		Partition: partition, Offset: offset, Decision: "approve", ReasonsJSON: []byte("[]"),
		Features: []float32{1, 2.5}, ProducedAt: at,
	}
}

func part(p int32, from int64, txs ...store.Tx) store.Part {
	return store.Part{Partition: p, From: from, To: from + int64(len(txs)), Txs: txs}
}

func write(t *testing.T, s store.Store, parts ...store.Part) {
	t.Helper()
	if err := s.WriteBatch(context.Background(), &store.Batch{Group: "g", Topic: "transactions", Parts: parts}); err != nil {
		t.Fatalf("WriteBatch: %v", err)
	}
}

func testBatchAndOffsets(t *testing.T, s store.Store) {
	ctx := context.Background()
	p0 := part(0, 0, Tx("a", "c1", base, 1000, 0, 0), Tx("b", "c2", base.Add(time.Second), 250, 0, 1))
	p1 := part(1, 5, Tx("c", "c1", base.Add(2*time.Minute), 99, 1, 5))
	p1.Quarantined = []store.Quarantined{{Reason: "malformed_json", Detail: "x", Raw: []byte("{"), Partition: 1, Offset: 6}}
	p1.To = 7
	p1.Labels = []store.Label{{TransactionID: "c", Fraud: true, Scenario: "card_testing"}}
	p1.Alerts = []store.Alert{{TransactionID: "c", CustomerID: "c1", EventTime: base, Risk: 0.9, Decision: "decline", ReasonsJSON: []byte(`["r"]`), AmountCents: 99}}
	p1.Txs[0].Decision = "decline"
	p1.Outbox = []store.OutboxMsg{{Kind: "kafka", Target: "alerts", Key: []byte("c1"), Payload: []byte("{}")}}
	write(t, s, p0, p1)

	offs, err := s.Offsets(ctx, "g", "transactions")
	if err != nil {
		t.Fatal(err)
	}
	if offs[0] != 2 || offs[1] != 7 || len(offs) != 2 {
		t.Fatalf("offsets = %v, want map[0:2 1:7]", offs)
	}
	if other, _ := s.Offsets(ctx, "other", "transactions"); len(other) != 0 {
		t.Fatalf("offsets of another group = %v, want none", other)
	}
	sum, err := s.Summary(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c, ok := s.(store.TransactionCounter); ok {
		if n, err := c.TransactionsTotal(ctx); err != nil || n != 3 {
			t.Errorf("TransactionsTotal = %d, %v; want 3, as the summary's", n, err)
		}
	}
	want := store.Summary{TransactionsTotal: 3, RevenueCents: 1349, RevenueByCurrency: map[string]int64{"EUR": 1349},
		FraudAlertsTotal: 1, QuarantinedTotal: 1, CustomersTotal: 2}
	// The latest event, to the minute (its minute window's start), not
	// the start of its hour.
	if latest := base.Add(2 * time.Minute); sum.LastEventTime == nil || !sum.LastEventTime.Equal(latest) {
		t.Fatalf("last event time = %v, want %v", sum.LastEventTime, latest)
	}
	sum.LastEventTime = nil
	if !reflect.DeepEqual(sum, want) {
		t.Fatalf("summary = %+v, want %+v", sum, want)
	}
	// A second batch continues from the stored offsets.
	write(t, s, part(0, 2, Tx("d", "c3", base, 1, 0, 2)))
	offs, _ = s.Offsets(ctx, "g", "transactions")
	if offs[0] != 3 {
		t.Fatalf("offset of partition 0 = %d, want 3", offs[0])
	}
}

func testFence(t *testing.T, s store.Store) {
	write(t, s, part(0, 0, Tx("a", "c1", base, 100, 0, 0), Tx("b", "c1", base, 100, 0, 1)))
	// A zombie that still believes partition 0 is at offset 1.
	err := s.WriteBatch(context.Background(), &store.Batch{Group: "g", Topic: "transactions",
		Parts: []store.Part{part(0, 1, Tx("z", "c1", base, 100, 0, 1)), part(2, 0, Tx("y", "c9", base, 5, 2, 0))}})
	f, ok := store.IsFenced(err)
	if !ok || len(f.Partitions) != 1 || f.Partitions[0] != 0 {
		t.Fatalf("WriteBatch from a stale offset = %v, want FencedError for partition 0", err)
	}
	sum, _ := s.Summary(context.Background())
	if sum.TransactionsTotal != 2 || sum.RevenueCents != 200 {
		t.Fatalf("a fenced batch wrote something: %+v", sum)
	}
	offs, _ := s.Offsets(context.Background(), "g", "transactions")
	if _, ok := offs[2]; ok {
		t.Fatalf("a fenced batch registered partition 2: %v", offs)
	}
}

func testDuplicates(t *testing.T, s store.Store) {
	write(t, s, part(0, 0, Tx("a", "c1", base, 100, 0, 0)))
	err := s.WriteBatch(context.Background(), &store.Batch{Group: "g", Topic: "transactions",
		Parts: []store.Part{part(0, 1, Tx("b", "c1", base, 100, 0, 1), Tx("a", "c1", base, 100, 0, 2))}})
	d, ok := store.IsDuplicate(err)
	if !ok || len(d.IDs) != 1 || d.IDs[0] != "a" {
		t.Fatalf("WriteBatch with a stored id = %v, want DuplicateError [a]", err)
	}
	offs, _ := s.Offsets(context.Background(), "g", "transactions")
	if offs[0] != 1 {
		t.Fatalf("offset moved on a failed batch: %v", offs)
	}
	// Within one batch, too.
	err = s.WriteBatch(context.Background(), &store.Batch{Group: "g", Topic: "transactions",
		Parts: []store.Part{part(0, 1, Tx("x", "c1", base, 100, 0, 1), Tx("x", "c1", base, 100, 0, 2))}})
	if d, ok := store.IsDuplicate(err); !ok || d.IDs[0] != "x" {
		t.Fatalf("WriteBatch repeating an id = %v, want DuplicateError [x]", err)
	}
}

func testWindowsAdditive(t *testing.T, s store.Store) {
	ctx := context.Background()
	off := int64(0)
	for i := range 5 {
		var txs []store.Tx
		for j := range 3 {
			at := base.Add(time.Duration(i*40+j) * time.Second)
			txs = append(txs, Tx(fmt.Sprintf("t%d-%d", i, j), "c1", at, int64(100*(j+1)), 0, off+int64(j)))
		}
		write(t, s, part(0, off, txs...))
		off += 3
	}
	ws, err := s.Windows(ctx, store.Minute, base.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var n, rev int64
	for _, w := range ws {
		n += w.Count
		rev += w.RevenueCents
	}
	if n != 15 || rev != 3000 {
		t.Fatalf("minute windows sum to %d tx, %d cents; want 15, 3000", n, rev)
	}
	// Events at 0..162 s after 12:00 fall in minutes 12:00..12:02.
	if len(ws) != 3 || !ws[0].Start.Equal(base) {
		t.Fatalf("got %d minute windows starting %v, want 3 from %v", len(ws), ws[0].Start, base)
	}
	hs, _ := s.Windows(ctx, store.Hour, base.Add(-time.Hour))
	if len(hs) != 1 || hs[0].Count != 15 {
		t.Fatalf("hour windows = %+v, want one with 15", hs)
	}
	later, _ := s.Windows(ctx, store.Minute, base.Add(2*time.Minute))
	if len(later) != 1 || later[0].Count != 6 {
		t.Fatalf("windows since 12:02 = %d, want 1 with 6 transactions", len(later))
	}
}

// A batch that touches thousands of windows (an import of one-line
// orders, each in a minute of its own), some already stored: the stores may
// merge such a batch another way (PostgreSQL copies it into a temporary
// table), and the sums must be those of the small batches.
func testManyWindows(t *testing.T, s store.Store) {
	ctx := context.Background()
	const n = 3000
	batch := func(from int64, first, last int, cents int64) store.Part {
		var txs []store.Tx
		for i := first; i < last; i++ {
			txs = append(txs, Tx(fmt.Sprintf("m%d-%d", from, i), "c1", base.Add(time.Duration(i)*time.Minute), cents, 0, from+int64(i-first)))
		}
		return part(0, from, txs...)
	}
	write(t, s, batch(0, 0, n/2, 100))    // minutes 0..1499, one each
	write(t, s, batch(n/2, 0, n, 7))      // minutes 0..2999: half of them stored already
	write(t, s, batch(n/2+n, n-1, n, 10)) // a small batch after: minute 2999 again
	ws, err := s.Windows(ctx, store.Minute, base.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(ws) != n {
		t.Fatalf("%d minute windows, want %d", len(ws), n)
	}
	for i, w := range ws {
		want, wantN := int64(7), int64(1)
		switch {
		case i < n/2:
			want, wantN = 107, 2
		case i == n-1:
			want, wantN = 17, 2
		}
		if !w.Start.Equal(base.Add(time.Duration(i)*time.Minute)) || w.Count != wantN || w.RevenueCents != want {
			t.Fatalf("minute window %d = %+v, want %d transactions, %d cents at %v", i, w, wantN, want, base.Add(time.Duration(i)*time.Minute))
		}
	}
	hs, err := s.Windows(ctx, store.Hour, base.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var count, cents int64
	for _, h := range hs {
		count += h.Count
		cents += h.RevenueCents
	}
	if len(hs) != n/60 || count != n/2+n+1 || cents != n/2*100+n*7+10 {
		t.Fatalf("%d hour windows summing to %d transactions, %d cents; want %d, %d, %d", len(hs), count, cents, n/60, n/2+n+1, n/2*100+n*7+10)
	}
}

func testRecent(t *testing.T, s store.Store) {
	write(t, s,
		part(0, 0, Tx("old", "c1", base.Add(-48*time.Hour), 1, 0, 0), Tx("new", "c1", base, 2, 0, 1)),
		part(1, 0, Tx("other", "c2", base, 3, 1, 0)))
	var got []string
	err := s.RecentTransactions(context.Background(), 0, 0, base.Add(-24*time.Hour), func(tx *store.Tx) error {
		if tx.Partition != 0 || tx.CustomerID != "c1" || tx.TotalCents != 2 || !tx.EventTime.Equal(base) || tx.ShippingAddress != "6f1ed002ab5595f8" {
			return fmt.Errorf("unexpected row %+v", tx)
		}
		got = append(got, tx.TransactionID)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != "new" {
		t.Fatalf("recent = %v, want [new]", got)
	}
	// From an offset past every row: nothing.
	n := 0
	if err := s.RecentTransactions(context.Background(), 0, 2, base.Add(-72*time.Hour), func(*store.Tx) error { n++; return nil }); err != nil || n != 0 {
		t.Fatalf("recent from offset 2 = %d rows, %v; want none", n, err)
	}
}

func testEmpty(t *testing.T, s store.Store) {
	ctx := context.Background()
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	sum, err := s.Summary(ctx)
	if err != nil || sum.TransactionsTotal != 0 || sum.LastEventTime != nil {
		t.Fatalf("summary of an empty store = %+v, %v", sum, err)
	}
	if err := s.WriteBatch(ctx, &store.Batch{Group: "g", Topic: "t"}); err != nil {
		t.Fatalf("empty batch: %v", err)
	}
}

func testOutbox(t *testing.T, s store.Store) {
	ctx := context.Background()
	p := part(0, 0, Tx("a", "c1", base, 1, 0, 0))
	p.Outbox = []store.OutboxMsg{
		{Kind: "kafka", Target: "alerts", Key: []byte("k1"), Headers: []byte(`{"h":"v"}`), Payload: []byte("one")},
		{Kind: "webhook", Target: "slack", Payload: []byte("two")},
	}
	write(t, s, p)
	var seen []string
	d, f, err := s.DeliverOutbox(ctx, 10, func(m *store.OutboxMsg) error {
		seen = append(seen, string(m.Payload))
		if m.Kind == "webhook" {
			return fmt.Errorf("endpoint down")
		}
		if string(m.Key) != "k1" || string(m.Headers) != `{"h":"v"}` || m.Target != "alerts" {
			t.Errorf("message read back as %+v", m)
		}
		return nil
	})
	if err != nil || d != 1 || f != 1 || len(seen) != 2 || seen[0] != "one" {
		t.Fatalf("first delivery: delivered %d, failed %d, err %v, order %v; want 1, 1, nil, [one two]", d, f, err, seen)
	}
	// The delivered one is gone; the failed one waits for its backoff.
	d, f, err = s.DeliverOutbox(ctx, 10, func(m *store.OutboxMsg) error {
		t.Errorf("message %q handed out again too early", m.Payload)
		return nil
	})
	if err != nil || d != 0 || f != 0 {
		t.Fatalf("second delivery: %d, %d, %v", d, f, err)
	}
}

// A row the database refuses for a reason in the data is a RejectedError
// with the database's message, and nothing of the batch is written; an
// error that is not about the data is not.
func testRejected(t *testing.T, s store.Store) {
	ctx := context.Background()
	bad := Tx("neg", "c2", base, -5, 0, 1)
	p := part(0, 0, Tx("ok", "c1", base, 100, 0, 0), bad)
	p.Quarantined = []store.Quarantined{{Reason: "malformed_json", Detail: "x", Raw: []byte("{"), Partition: 0, Offset: 2}}
	p.To = 3
	err := s.WriteBatch(ctx, &store.Batch{Group: "g", Topic: "transactions", Parts: []store.Part{p}})
	r, ok := store.IsRejected(err)
	if !ok {
		t.Fatalf("WriteBatch with a negative total = %v, want a RejectedError", err)
	}
	if r.Message == "" || r.Err == nil {
		t.Fatalf("RejectedError without the database's message or error: %+v", r)
	}
	if _, dup := store.IsDuplicate(err); dup {
		t.Fatalf("a rejected batch is reported as duplicates: %v", err)
	}
	sum, _ := s.Summary(ctx)
	offs, _ := s.Offsets(ctx, "g", "transactions")
	if sum.TransactionsTotal != 0 || sum.QuarantinedTotal != 0 || sum.CustomersTotal != 0 || len(offs) != 0 {
		t.Fatalf("a rejected batch wrote something: %+v, offsets %v", sum, offs)
	}
	// Without the bad row the same batch goes through.
	write(t, s, part(0, 0, Tx("ok", "c1", base, 100, 0, 0)))

	// A cancelled write is worth retrying: not a rejection.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	err = s.WriteBatch(cctx, &store.Batch{Group: "g", Topic: "transactions", Parts: []store.Part{part(0, 1, Tx("x", "c1", base, 1, 0, 1))}})
	if _, ok := store.IsRejected(err); err == nil || ok {
		t.Fatalf("WriteBatch with a cancelled context = %v, want a plain error", err)
	}
}

// Nothing about a record's bytes can make its quarantine row fail: a
// tombstone (nil value), an empty value, and reason and detail text with
// NUL and invalid UTF-8 are all stored.
func testQuarantineTakesAnything(t *testing.T, s store.Store) {
	ctx := context.Background()
	p := store.Part{Partition: 0, From: 0, To: 4, Quarantined: []store.Quarantined{
		{Reason: "empty_value", Detail: "tombstone", Raw: nil, Partition: 0, Offset: 0},
		{Reason: "empty_value", Detail: "empty", Raw: []byte{}, Partition: 0, Offset: 1},
		{Reason: "malformed_json", Detail: "bad \x00 byte \x00 and \xff\xfe here", Raw: []byte("\x00\xff{"), Partition: 0, Offset: 2},
		{Reason: "odd\x00reason\xc3", Detail: "", Raw: []byte("x"), Partition: 0, Offset: 3, Expected: "\xff"},
	}}
	write(t, s, p)
	sum, err := s.Summary(ctx)
	if err != nil || sum.QuarantinedTotal != 4 {
		t.Fatalf("quarantined = %d, %v; want 4", sum.QuarantinedTotal, err)
	}
	offs, _ := s.Offsets(ctx, "g", "transactions")
	if offs[0] != 4 {
		t.Fatalf("offset = %v, want 4", offs)
	}
}

// withoutCopies removes the records d lists from parts, as the caller does
// before quarantining them.
func withoutCopies(parts []store.Part, d *store.DuplicateError) []store.Part {
	type loc struct {
		p   int32
		off int64
	}
	gone := map[loc]bool{}
	for _, c := range d.Copies {
		gone[loc{c.Partition, c.Offset}] = true
	}
	for i := range parts {
		var kept []store.Tx
		for _, t := range parts[i].Txs {
			if !gone[loc{t.Partition, t.Offset}] {
				kept = append(kept, t)
			}
		}
		parts[i].Txs = kept
	}
	return parts
}

// storedAt returns the customer of the transaction id stored in partition
// p, or "" when there is none.
func storedAt(t *testing.T, s store.Store, p int32, id string) string {
	t.Helper()
	var customer string
	err := s.RecentTransactions(context.Background(), p, 0, base.Add(-time.Hour), func(tx *store.Tx) error {
		if tx.TransactionID == id {
			customer = tx.CustomerID
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return customer
}

// The same id on two partitions of one batch: the first copy is kept,
// the later one is listed with where the kept one lives.
func testDuplicatesInOneBatch(t *testing.T, s store.Store) {
	ctx := context.Background()
	parts := []store.Part{
		part(0, 0, Tx("x", "first", base, 100, 0, 0), Tx("y", "c1", base, 100, 0, 1)),
		part(3, 10, Tx("z", "c2", base, 100, 3, 10), Tx("x", "second", base, 100, 3, 11)),
	}
	err := s.WriteBatch(ctx, &store.Batch{Group: "g", Topic: "transactions", Parts: parts})
	d, ok := store.IsDuplicate(err)
	if !ok {
		t.Fatalf("WriteBatch with x on partitions 0 and 3 = %v, want a DuplicateError", err)
	}
	want := []store.DuplicateCopy{{TransactionID: "x", Partition: 3, Offset: 11, KeptPartition: 0, KeptOffset: 0}}
	if !reflect.DeepEqual(d.Copies, want) || !reflect.DeepEqual(d.IDs, []string{"x"}) {
		t.Fatalf("duplicates = %+v (ids %v), want copies %+v", d.Copies, d.IDs, want)
	}
	write(t, s, withoutCopies(parts, d)...)
	if c := storedAt(t, s, 0, "x"); c != "first" {
		t.Fatalf("x stored on partition 0 for customer %q, want the first copy's customer", c)
	}
	if c := storedAt(t, s, 3, "x"); c != "" {
		t.Fatalf("the later copy of x was stored on partition 3 too (customer %q)", c)
	}
	sum, _ := s.Summary(ctx)
	if sum.TransactionsTotal != 3 {
		t.Fatalf("stored %d transactions, want 3", sum.TransactionsTotal)
	}
}

// Of two copies of an id in one batch, the one produced first (Kafka
// timestamp) is kept, wherever it stands in the batch.
func testDuplicatesProducedFirst(t *testing.T, s store.Store) {
	ctx := context.Background()
	early, late := Tx("x", "original", base, 100, 3, 10), Tx("x", "copy", base, 100, 0, 5)
	early.ProducedAt, late.ProducedAt = base.Add(time.Second), base.Add(time.Minute)
	parts := []store.Part{part(0, 5, late), part(3, 10, early)}
	err := s.WriteBatch(ctx, &store.Batch{Group: "g", Topic: "transactions", Parts: parts})
	d, ok := store.IsDuplicate(err)
	want := []store.DuplicateCopy{{TransactionID: "x", Partition: 0, Offset: 5, KeptPartition: 3, KeptOffset: 10}}
	if !ok || !reflect.DeepEqual(d.Copies, want) {
		t.Fatalf("WriteBatch = %v (copies %+v), want the later-produced copy on partition 0 listed", err, d)
	}
}

// An id stored by an earlier batch: every copy in a later batch is listed
// with the stored one's partition and offset, read from the database.
func testDuplicatesAcrossBatches(t *testing.T, s store.Store) {
	ctx := context.Background()
	write(t, s, part(0, 0, Tx("a", "c1", base, 100, 0, 0), Tx("x", "first", base, 100, 0, 1)))
	parts := []store.Part{
		part(1, 0, Tx("x", "second", base, 100, 1, 0), Tx("b", "c2", base, 100, 1, 1)),
		part(2, 5, Tx("x", "third", base, 100, 2, 5)),
	}
	err := s.WriteBatch(ctx, &store.Batch{Group: "g", Topic: "transactions", Parts: parts})
	d, ok := store.IsDuplicate(err)
	if !ok {
		t.Fatalf("WriteBatch with a stored id = %v, want a DuplicateError", err)
	}
	want := []store.DuplicateCopy{
		{TransactionID: "x", Partition: 1, Offset: 0, KeptPartition: 0, KeptOffset: 1},
		{TransactionID: "x", Partition: 2, Offset: 5, KeptPartition: 0, KeptOffset: 1},
	}
	if !reflect.DeepEqual(d.Copies, want) {
		t.Fatalf("duplicates = %+v, want %+v", d.Copies, want)
	}
	write(t, s, withoutCopies(parts, d)...)
	if c := storedAt(t, s, 0, "x"); c != "first" {
		t.Fatalf("x belongs to %q after the later batch, want the first stored", c)
	}
	offs, _ := s.Offsets(ctx, "g", "transactions")
	if offs[1] != 2 || offs[2] != 6 {
		t.Fatalf("offsets = %v, want partitions 1 and 2 advanced past the copies", offs)
	}
}

func owned(owner string, gen int32, parts ...store.Part) *store.Batch {
	return &store.Batch{Group: "g", Topic: "transactions", Owner: owner, Generation: gen, Parts: parts}
}

// A batch of an older generation than the stored one is a zombie's: refused
// even where its offsets still match, and nothing is written.
func testZombie(t *testing.T, s store.Store) {
	ctx := context.Background()
	if err := s.WriteBatch(ctx, owned("a", 3, part(0, 0, Tx("a1", "c1", base, 1, 0, 0)))); err != nil {
		t.Fatal(err)
	}
	// b owned partition 0 in generation 2, and still believes it does.
	err := s.WriteBatch(ctx, owned("b", 2, part(0, 1, Tx("b1", "c1", base, 1, 0, 1))))
	if f, ok := store.IsFenced(err); !ok || !reflect.DeepEqual(f.Partitions, []int32{0}) {
		t.Fatalf("a batch of generation 2 after generation 3 = %v, want FencedError [0]", err)
	}
	if sum, _ := s.Summary(ctx); sum.TransactionsTotal != 1 {
		t.Fatalf("the zombie's batch was written: %d transactions", sum.TransactionsTotal)
	}
	// The owner of a newer generation goes on.
	if err := s.WriteBatch(ctx, owned("b", 4, part(0, 1, Tx("b1", "c1", base, 1, 0, 1)))); err != nil {
		t.Fatalf("a batch of generation 4: %v", err)
	}
	// Once a newer generation stored, the older owner is fenced too.
	err = s.WriteBatch(ctx, owned("a", 3, part(0, 2, Tx("a2", "c1", base, 1, 0, 2))))
	if _, ok := store.IsFenced(err); !ok {
		t.Fatalf("generation 3 after 4 = %v, want FencedError", err)
	}
}

// Claim hands out epochs that only go up, above any generation stored
// before, records them with the claimed partitions, and so refuses the
// previous owner's batches at once, before the new owner has committed
// anything; concurrent claims never get the same epoch.
func testClaim(t *testing.T, s store.Store) {
	ctx := context.Background()
	// Offsets stored under a (Kafka) generation of 7 before any claim.
	if err := s.WriteBatch(ctx, owned("a", 7, part(0, 0, Tx("a1", "c1", base, 1, 0, 0)), part(1, 0, Tx("a2", "c2", base, 1, 1, 0)))); err != nil {
		t.Fatal(err)
	}
	ea, err := s.Claim(ctx, "g", "transactions", "a", []int32{0, 1})
	if err != nil {
		t.Fatal(err)
	}
	if ea <= 7 {
		t.Fatalf("first claim: epoch %d, want above the stored generation 7", ea)
	}
	if err := s.WriteBatch(ctx, owned("a", ea, part(0, 1, Tx("a3", "c1", base, 1, 0, 1)))); err != nil {
		t.Fatalf("a batch of the claimed epoch: %v", err)
	}
	// b takes partition 1 over; a still has an uncommitted batch of it.
	eb, err := s.Claim(ctx, "g", "transactions", "b", []int32{1})
	if err != nil {
		t.Fatal(err)
	}
	if eb <= ea {
		t.Fatalf("second claim: epoch %d, want above %d", eb, ea)
	}
	err = s.WriteBatch(ctx, owned("a", ea, part(1, 1, Tx("a4", "c2", base, 1, 1, 1))))
	if f, ok := store.IsFenced(err); !ok || !reflect.DeepEqual(f.Partitions, []int32{1}) {
		t.Fatalf("the previous owner's batch after the claim = %v, want FencedError [1]", err)
	}
	if err := s.WriteBatch(ctx, owned("b", eb, part(1, 1, Tx("a4", "c2", base, 1, 1, 1)))); err != nil {
		t.Fatalf("the new owner's batch: %v", err)
	}
	// a keeps partition 0, whose stored epoch is a's own.
	if err := s.WriteBatch(ctx, owned("a", ea, part(0, 2, Tx("a5", "c1", base, 1, 0, 2)))); err != nil {
		t.Fatalf("a batch of a partition a still owns: %v", err)
	}
	// Claims at the same time get distinct epochs.
	const n = 8
	got := make(chan int32, n)
	errs := make(chan error, n)
	for i := range n {
		go func() {
			e, err := s.Claim(ctx, "g", "transactions", fmt.Sprintf("p%d", i), []int32{int32(2 + i)})
			got <- e
			errs <- err
		}()
	}
	seen := map[int32]bool{}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
		e := <-got
		if seen[e] || e <= eb {
			t.Fatalf("concurrent claims: epoch %d repeated or not above %d (%v)", e, eb, seen)
		}
		seen[e] = true
	}
	// Another group and topic count from their own stored generations.
	if e, err := s.Claim(ctx, "other", "transactions", "a", nil); err != nil || e != 1 {
		t.Fatalf("first claim of another group = %d, %v; want 1", e, err)
	}
}

// The same batch again from its owner (its commit's reply was lost) is
// ErrAlreadyCommitted, and writes nothing twice.
func testOwnLostReply(t *testing.T, s store.Store) {
	ctx := context.Background()
	b := owned("a", 5, part(0, 0, Tx("x", "c1", base, 7, 0, 0), Tx("y", "c1", base, 7, 0, 1)), part(1, 3, Tx("z", "c2", base, 7, 1, 3)))
	if err := s.WriteBatch(ctx, b); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteBatch(ctx, b); !errors.Is(err, store.ErrAlreadyCommitted) {
		t.Fatalf("the same batch again from its owner = %v, want ErrAlreadyCommitted", err)
	}
	if sum, _ := s.Summary(ctx); sum.TransactionsTotal != 3 || sum.RevenueCents != 21 {
		t.Fatalf("after the retry: %+v, want 3 transactions, 21 cents", sum)
	}
}

// A batch found committed by another owner is not this owner's lost reply:
// it is fenced, so the processor re-seeks instead of counting it written.
func testAnotherOwnersCommit(t *testing.T, s store.Store) {
	ctx := context.Background()
	p := part(0, 0, Tx("x", "c1", base, 7, 0, 0))
	if err := s.WriteBatch(ctx, owned("a", 5, p)); err != nil {
		t.Fatal(err)
	}
	err := s.WriteBatch(ctx, owned("b", 6, p))
	if f, ok := store.IsFenced(err); !ok || !reflect.DeepEqual(f.Partitions, []int32{0}) {
		t.Fatalf("another owner's committed range = %v, want FencedError [0]", err)
	}
	// A writer outside any group keeps offsets-only fencing.
	if err := s.WriteBatch(ctx, owned("", -1, p)); !errors.Is(err, store.ErrAlreadyCommitted) {
		t.Fatalf("the committed range from a writer outside any group = %v, want ErrAlreadyCommitted", err)
	}
}

// A part's checkpoint is stored with its offset and handed back; a later
// batch without one leaves the last one in place; partitions, groups and
// topics keep their own.
func testCheckpoints(t *testing.T, s store.Store) {
	ctx := context.Background()
	get := func(p int32) *store.Checkpoint {
		t.Helper()
		cp, err := s.Checkpoint(ctx, "g", "transactions", p)
		if err != nil {
			t.Fatal(err)
		}
		return cp
	}
	if cp := get(0); cp != nil {
		t.Fatalf("checkpoint of a partition never written = %+v, want nil", cp)
	}
	before := time.Now().Add(-time.Minute)
	p0 := part(0, 0, Tx("a", "c1", base, 1, 0, 0), Tx("b", "c1", base, 1, 0, 1))
	p0.Checkpoint = []byte("state at 2")
	write(t, s, p0, part(1, 0, Tx("c", "c2", base, 1, 1, 0)))
	cp := get(0)
	if cp == nil || cp.Offset != 2 || string(cp.State) != "state at 2" || cp.At.Before(before) || cp.At.After(time.Now().Add(time.Minute)) {
		t.Fatalf("checkpoint of partition 0 = %+v, want state at offset 2, stored now", cp)
	}
	if cp := get(1); cp != nil {
		t.Fatalf("partition 1 got a checkpoint it did not carry: %+v", cp)
	}
	// A later batch without a checkpoint moves the offset only.
	write(t, s, part(0, 2, Tx("d", "c1", base, 1, 0, 2)))
	if cp := get(0); cp == nil || cp.Offset != 2 || string(cp.State) != "state at 2" {
		t.Fatalf("after a batch without one, checkpoint = %+v, want the one at 2", cp)
	}
	if offs, _ := s.Offsets(ctx, "g", "transactions"); offs[0] != 3 {
		t.Fatalf("offset = %d, want 3", offs[0])
	}
	// A newer one replaces it.
	p0 = part(0, 3, Tx("e", "c1", base, 1, 0, 3))
	p0.Checkpoint = []byte("state at 4")
	write(t, s, p0)
	if cp := get(0); cp == nil || cp.Offset != 4 || string(cp.State) != "state at 4" {
		t.Fatalf("checkpoint = %+v, want the one at 4", cp)
	}
	if cp, err := s.Checkpoint(ctx, "other", "transactions", 0); err != nil || cp != nil {
		t.Fatalf("checkpoint of another group = %+v, %v; want none", cp, err)
	}
}

// A checkpoint stored after its batch (store.CheckpointSaver) is handed
// back like one stored with it; it is refused for an offset beyond the
// stored one, at or before the stored checkpoint's, and from an owner or
// generation that no longer holds the partition.
func testSavedCheckpoints(t *testing.T, s store.Store) {
	cs, ok := s.(store.CheckpointSaver)
	if !ok {
		t.Skip("the store stores checkpoints with their batches only")
	}
	ctx := context.Background()
	ea, err := s.Claim(ctx, "g", "transactions", "a", []int32{0})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.WriteBatch(ctx, owned("a", ea, part(0, 0, Tx("a1", "c1", base, 1, 0, 0), Tx("a2", "c1", base, 1, 0, 1)))); err != nil {
		t.Fatal(err)
	}
	save := func(owner string, gen int32, offset int64, state string) bool {
		t.Helper()
		ok, err := cs.SaveCheckpoint(ctx, "g", "transactions", 0, owner, gen, offset, []byte(state))
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	get := func() *store.Checkpoint {
		t.Helper()
		cp, err := s.Checkpoint(ctx, "g", "transactions", 0)
		if err != nil {
			t.Fatal(err)
		}
		return cp
	}
	if save("a", ea, 3, "beyond") {
		t.Fatal("stored a checkpoint beyond the stored offset 2")
	}
	before := time.Now().Add(-time.Minute)
	if !save("a", ea, 2, "state at 2") {
		t.Fatal("refused the owner's checkpoint at the stored offset")
	}
	if cp := get(); cp == nil || cp.Offset != 2 || string(cp.State) != "state at 2" || cp.At.Before(before) {
		t.Fatalf("checkpoint = %+v, want the one at 2, stored now", cp)
	}
	if save("a", ea, 1, "older") || save("a", ea, 2, "again") {
		t.Fatal("stored a checkpoint not newer than the stored one")
	}
	if save("b", ea, 2, "other owner") || save("a", ea-1, 2, "older generation") {
		t.Fatal("stored a checkpoint of an owner or generation that does not hold the partition")
	}
	// a claims the partition again (a restart under the same id): what
	// it took before is not its to store any more.
	ea2, err := s.Claim(ctx, "g", "transactions", "a", []int32{0})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.WriteBatch(ctx, owned("a", ea2, part(0, 2, Tx("a3", "c1", base, 1, 0, 2)))); err != nil {
		t.Fatal(err)
	}
	if save("a", ea, 3, "a's earlier generation") {
		t.Fatal("stored the checkpoint of a generation older than the partition's")
	}
	eb, err := s.Claim(ctx, "g", "transactions", "b", []int32{0})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.WriteBatch(ctx, owned("b", eb, part(0, 3, Tx("b1", "c1", base, 1, 0, 3)))); err != nil {
		t.Fatal(err)
	}
	if save("a", ea2, 4, "a's, after b claimed") {
		t.Fatal("stored the checkpoint of an owner whose partition another claimed since")
	}
	if !save("b", eb, 4, "state at 4") {
		t.Fatal("refused the new owner's checkpoint")
	}
	if cp := get(); cp == nil || cp.Offset != 4 || string(cp.State) != "state at 4" {
		t.Fatalf("checkpoint = %+v, want b's at 4", cp)
	}
}

// writeOutbox stores n outbox messages with payloads "m0", "m1", ... in one
// batch of partition 0.
func writeOutbox(t *testing.T, s store.Store, n int) {
	t.Helper()
	p := store.Part{Partition: 0, From: 0, To: 1, Quarantined: []store.Quarantined{{Reason: "x", Raw: []byte("x")}}}
	for i := range n {
		p.Outbox = append(p.Outbox, store.OutboxMsg{Kind: "kafka", Target: "alerts", Payload: []byte(fmt.Sprintf("m%d", i))})
	}
	write(t, s, p)
}

// A batch of more messages than one UPDATE marks delivered (1,203, with
// every seventh failing) leaves exactly the failed ones pending, and they
// alone are handed out again once due.
func testOutboxLargeBatch(t *testing.T, s store.Store) {
	ctx := context.Background()
	const n = 1203
	drained := func(want bool) {
		t.Helper()
		if b, ok := s.(store.OutboxBacklog); ok {
			if got, err := b.OutboxDrained(ctx); err != nil || got != want {
				t.Fatalf("OutboxDrained = %v, %v; want %v", got, err, want)
			}
		}
	}
	drained(true)
	writeOutbox(t, s, n)
	drained(false)
	failing := func(m *store.OutboxMsg) bool {
		var i int
		fmt.Sscanf(string(m.Payload), "m%d", &i) //nolint:errcheck // the payloads are writeOutbox's
		return i%7 == 0
	}
	d, f, err := s.DeliverOutbox(ctx, 2*n, func(m *store.OutboxMsg) error {
		if failing(m) {
			return errors.New("refused")
		}
		return nil
	})
	wantFailed := (n + 6) / 7
	if err != nil || d != n-wantFailed || f != wantFailed {
		t.Fatalf("delivered %d, failed %d, %v; want %d and %d", d, f, err, n-wantFailed, wantFailed)
	}
	if b, ok := s.(store.OutboxBacklog); ok {
		pending, _, err := b.OutboxBacklog(ctx)
		if err != nil || pending != int64(wantFailed) {
			t.Fatalf("backlog %d, %v; want the %d failed", pending, err, wantFailed)
		}
	}
	drained(false)
	// The failed ones are due after their backoff, a minute at most.
	if d, _, err := s.DeliverOutbox(ctx, 2*n, func(*store.OutboxMsg) error { return nil }); d != 0 || err != nil {
		t.Fatalf("before the backoff: %d delivered, %v; want none", d, err)
	}
}

// Two deliverers at once never get the same message: while the first is
// still sending what it claimed, the second is handed only the rest.
func testOutboxConcurrent(t *testing.T, s store.Store) {
	ctx := context.Background()
	writeOutbox(t, s, 50)
	var mu sync.Mutex
	got := map[string]int{}
	record := func(m *store.OutboxMsg) {
		mu.Lock()
		defer mu.Unlock()
		got[string(m.Payload)]++
	}
	claimed, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		first := true
		n, _, err := s.DeliverOutbox(ctx, 10, func(m *store.OutboxMsg) error {
			if first {
				first = false
				close(claimed)
				<-release // still sending while the other deliverer runs
			}
			record(m)
			return nil
		})
		if err == nil && n != 10 {
			err = fmt.Errorf("the first deliverer delivered %d, want 10", n)
		}
		done <- err
	}()
	<-claimed
	n, f, err := s.DeliverOutbox(ctx, 100, func(m *store.OutboxMsg) error { record(m); return nil })
	close(release)
	if err != nil || n != 40 || f != 0 {
		t.Fatalf("the second deliverer: %d delivered, %d failed, %v; want the 40 not claimed", n, f, err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(got) != 50 {
		t.Fatalf("%d distinct messages delivered, want 50", len(got))
	}
	for p, c := range got {
		if c != 1 {
			t.Fatalf("message %s handed out %d times", p, c)
		}
	}
	if n, _, err := s.DeliverOutbox(ctx, 100, func(*store.OutboxMsg) error { return nil }); n != 0 || err != nil {
		t.Fatalf("after both: %d more delivered, %v; want none", n, err)
	}
}

// clocked is a store whose outbox clock tests can move.
type clocked interface {
	SetClock(now func() time.Time)
}

// fakeClock returns a clock starting at the real now, and a function that
// moves it on.
func fakeClock(s store.Store, t *testing.T) func(time.Duration) {
	c, ok := s.(clocked)
	if !ok {
		t.Skipf("%T has no SetClock", s)
	}
	var mu sync.Mutex
	now := time.Now()
	c.SetClock(func() time.Time { mu.Lock(); defer mu.Unlock(); return now })
	return func(d time.Duration) { mu.Lock(); defer mu.Unlock(); now = now.Add(d) }
}

// A deliverer that dies after claiming (here: send panics) gives its
// messages back only when the lease runs out.
func testOutboxExpiredLease(t *testing.T, s store.Store) {
	ctx := context.Background()
	advance := fakeClock(s, t)
	writeOutbox(t, s, 2)
	func() {
		defer func() { _ = recover() }()
		s.DeliverOutbox(ctx, 10, func(*store.OutboxMsg) error { panic("deliverer crashed") }) //nolint:errcheck // it panics
	}()
	none := func(m *store.OutboxMsg) error {
		t.Errorf("message %s handed out while its lease runs", m.Payload)
		return nil
	}
	if n, _, err := s.DeliverOutbox(ctx, 10, none); n != 0 || err != nil {
		t.Fatalf("during the lease: %d, %v", n, err)
	}
	advance(time.Minute / 2)
	if n, _, err := s.DeliverOutbox(ctx, 10, none); n != 0 || err != nil {
		t.Fatalf("half-way through the lease: %d, %v", n, err)
	}
	advance(2 * time.Minute)
	var got []string
	n, f, err := s.DeliverOutbox(ctx, 10, func(m *store.OutboxMsg) error { got = append(got, string(m.Payload)); return nil })
	if err != nil || n != 2 || f != 0 || !reflect.DeepEqual(got, []string{"m0", "m1"}) {
		t.Fatalf("after the lease: delivered %d %v, failed %d, %v; want m0 and m1", n, got, f, err)
	}
}

// PruneOutbox deletes only delivered messages, and only those delivered
// before the cutoff, in bounded batches.
func testOutboxPrune(t *testing.T, s store.Store) {
	ctx := context.Background()
	advance := fakeClock(s, t)
	writeOutbox(t, s, 5)
	ok := func(*store.OutboxMsg) error { return nil }
	if n, _, err := s.DeliverOutbox(ctx, 3, ok); n != 3 || err != nil {
		t.Fatalf("delivering 3: %d, %v", n, err)
	}
	advance(time.Hour)
	if n, _, err := s.DeliverOutbox(ctx, 1, ok); n != 1 || err != nil {
		t.Fatalf("delivering 1 an hour later: %d, %v", n, err)
	}
	cutoff := time.Now().Add(30 * time.Minute) // between the two deliveries
	if n, err := s.PruneOutbox(ctx, cutoff, 2); n != 3 || err != nil {
		t.Fatalf("pruning before the cutoff = %d, %v; want the 3 delivered first", n, err)
	}
	if n, err := s.PruneOutbox(ctx, cutoff, 2); n != 0 || err != nil {
		t.Fatalf("pruning again = %d, %v; want 0", n, err)
	}
	if n, err := s.PruneOutbox(ctx, time.Now().Add(24*time.Hour), 100); n != 1 || err != nil {
		t.Fatalf("pruning everything delivered = %d, %v; want 1", n, err)
	}
	var got []string
	if n, _, err := s.DeliverOutbox(ctx, 10, func(m *store.OutboxMsg) error { got = append(got, string(m.Payload)); return nil }); n != 1 || err != nil || got[0] != "m4" {
		t.Fatalf("the undelivered message after pruning: %v, %d, %v; want m4 still there", got, n, err)
	}
}

// Window metrics and the summary keep each currency's revenue apart, in
// its own minor units.
func testRevenuePerCurrency(t *testing.T, s store.Store) {
	ctx := context.Background()
	jpy := Tx("j", "c2", base.Add(time.Second), 1500, 0, 1)
	jpy.Currency = "JPY"
	bhd := Tx("b", "c3", base.Add(2*time.Second), 12345, 0, 2)
	bhd.Currency = "BHD"
	write(t, s, part(0, 0, Tx("e", "c1", base, 999, 0, 0), jpy, bhd, Tx("e2", "c1", base.Add(3*time.Second), 1, 0, 3)))
	ws, err := s.Windows(ctx, store.Minute, base.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][2]int64{}
	for _, w := range ws {
		if !w.Start.Equal(base) {
			t.Fatalf("window at %v, want all at %v", w.Start, base)
		}
		got[w.Currency] = [2]int64{w.Count, w.RevenueCents}
	}
	want := map[string][2]int64{"EUR": {2, 1000}, "JPY": {1, 1500}, "BHD": {1, 12345}}
	if len(ws) != 3 || !reflect.DeepEqual(got, want) {
		t.Fatalf("minute windows by currency = %v (%d rows), want %v", got, len(ws), want)
	}
	sum, err := s.Summary(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rc := map[string]int64{"EUR": 1000, "JPY": 1500, "BHD": 12345}; !reflect.DeepEqual(sum.RevenueByCurrency, rc) {
		t.Fatalf("revenue by currency = %v, want %v", sum.RevenueByCurrency, rc)
	}
	if sum.TransactionsTotal != 4 {
		t.Fatalf("transactions = %d, want 4", sum.TransactionsTotal)
	}
}

// testResumePoints: where a restarted `run` resumes from: the earliest
// stored event time, and the greatest stored customer id of the
// generator's form ("c" and digits), an erased customer's pseudonym left
// out; nil and "" on an empty store.
func testResumePoints(t *testing.T, s store.Store) {
	ctx := context.Background()
	r, ok := s.(interface {
		FirstEventTime(context.Context) (*time.Time, error)
		MaxCustomerID(context.Context) (string, error)
	})
	if !ok {
		t.Fatalf("%T has no FirstEventTime and MaxCustomerID", s)
	}
	if first, err := r.FirstEventTime(ctx); err != nil || first != nil {
		t.Fatalf("empty store: first event time %v, %v; want nil", first, err)
	}
	if last, err := r.MaxCustomerID(ctx); err != nil || last != "" {
		t.Fatalf("empty store: last customer %q, %v; want none", last, err)
	}
	t0 := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	p := store.Part{Partition: 0, From: 0, To: 3, Txs: []store.Tx{
		Tx("a", "c00000007", t0.Add(time.Hour), 100, 0, 0),
		Tx("b", "c00000012", t0, 100, 0, 1),
		Tx("c", "zed", t0.Add(2*time.Hour), 100, 0, 2),
	}}
	if err := s.WriteBatch(ctx, &store.Batch{Group: "g", Topic: "t", Parts: []store.Part{p}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.(store.Privacy).EraseCustomer(ctx, "c00000012", "test"); err != nil {
		t.Fatal(err)
	}
	if first, err := r.FirstEventTime(ctx); err != nil || first == nil || !first.Equal(t0) {
		t.Fatalf("first event time %v, %v; want %v", first, err, t0)
	}
	if last, err := r.MaxCustomerID(ctx); err != nil || last != "c00000007" {
		t.Fatalf("last customer %q, %v; want c00000007 (the erased c00000012 is a pseudonym now, zed another form)", last, err)
	}
}
