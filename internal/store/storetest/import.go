package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/shopstream/shopstream/internal/store"
)

// RunImport checks a store's import write path (store.Importer) against
// WriteBatch: the same batches, written one way into a store and the
// other way into another, leave the same windows, rollups, customers,
// totals and offsets, including rows a later batch adds to, text a
// literal must escape, and a duplicate refused as WriteBatch refuses it.
// open returns a fresh, empty store; odd, when not empty, is a channel
// the store takes that a dialect's literals cannot carry (SQLite: invalid
// UTF-8), given to every fourth transaction of the first batch.
func RunImport(t *testing.T, open func(t *testing.T) store.Store, odd string) {
	ctx := context.Background()
	at := time.Date(2011, 3, 1, 9, 58, 0, 0, time.UTC)
	mk := func(i int, channel string) store.Tx {
		tx := Tx(fmt.Sprintf("imp%d", i), fmt.Sprintf("c%d", i%7), at.Add(time.Duration(i*37)*time.Second), int64(100+i), -1, int64(i))
		tx.Channel, tx.CardBIN, tx.CardLast4, tx.DeviceID, tx.IPAddress, tx.Features = channel, "", "", "", "", nil
		if i%5 == 0 {
			tx.Currency = "GBP"
		}
		if i%11 == 0 { // not what an import writes, but what the path must take
			tx.Decision, tx.Risk, tx.ShadowRisk, tx.HasShadow = "review", 0.55, 0.25, true
		}
		return tx
	}
	var batches [][]store.Tx
	var txs []store.Tx
	for i := range 300 {
		ch := "store"
		switch i % 4 {
		case 1:
			ch = "o'neill"
		case 2:
			if odd != "" && i < 120 { // the first batch's windows only

				ch = odd
			}
		}
		txs = append(txs, mk(i, ch))
		if len(txs) == 120 { // the next batch adds to the same hour and minutes
			batches, txs = append(batches, txs), nil
		}
	}
	batches = append(batches, txs)

	plain, imp := open(t), open(t)
	importer, ok := imp.(store.Importer)
	if !ok {
		t.Fatalf("%T is no store.Importer", imp)
	}
	from := int64(0)
	for _, b := range batches {
		p := part(-1, from, b...)
		from = p.To
		batch := func() *store.Batch {
			return &store.Batch{Group: "import", Topic: "import:x", Parts: []store.Part{p}}
		}
		if err := plain.WriteBatch(ctx, batch()); err != nil {
			t.Fatalf("WriteBatch: %v", err)
		}
		if err := importer.WriteImport(ctx, batch(), importer.DeriveImport(batch().Parts)); err != nil {
			t.Fatalf("WriteImport: %v", err)
		}
	}
	for _, g := range []store.Granularity{store.Minute, store.Hour} {
		want, err := plain.Windows(ctx, g, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		got, err := imp.Windows(ctx, g, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if len(want) == 0 || !reflect.DeepEqual(got, want) {
			t.Errorf("%s windows: WriteImport stored\n%+v\nWriteBatch\n%+v", g, got, want)
		}
	}
	for _, q := range []store.RollupQuery{{}, {OutcomesBy: store.Minute}, {Since: at.Add(7 * time.Minute), Until: at.Add(150 * time.Minute)}} {
		want, err := plain.(store.RollupReader).FraudRollups(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		got, err := imp.(store.RollupReader).FraudRollups(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if len(want.Outcomes) == 0 || !reflect.DeepEqual(got, want) {
			t.Errorf("rollups of %+v: WriteImport stored\n%+v\nWriteBatch\n%+v", q, got, want)
		}
	}
	ws, err := plain.Summary(ctx)
	if err != nil {
		t.Fatal(err)
	}
	gs, err := imp.Summary(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ws.TransactionsTotal != 300 || !reflect.DeepEqual(gs, ws) {
		t.Errorf("summary: WriteImport %+v, WriteBatch %+v", gs, ws)
	}
	a := imp.(store.Analytics)
	for i := range 7 {
		id := fmt.Sprintf("c%d", i)
		want, err := plain.(store.Analytics).CustomerProfile(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		got, err := a.CustomerProfile(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("customer %s: WriteImport %+v, WriteBatch %+v", id, got, want)
		}
	}
	offs, err := imp.Offsets(ctx, "import", "import:x")
	if err != nil || offs[-1] != 300 {
		t.Errorf("offsets after WriteImport = %v, %v; want partition -1 at 300", offs, err)
	}

	// A transaction stored already is refused as WriteBatch refuses it,
	// and nothing of its batch is written.
	again := part(-1, 300, mk(300, "store"), mk(3, "store"))
	again.Txs[1].Offset = 301
	err = importer.WriteImport(ctx, &store.Batch{Group: "import", Topic: "import:x", Parts: []store.Part{again}}, importer.DeriveImport([]store.Part{again}))
	var d *store.DuplicateError
	if !errors.As(err, &d) || len(d.Copies) != 1 || d.Copies[0].TransactionID != "imp3" || d.Copies[0].KeptOffset != 3 {
		t.Fatalf("WriteImport of a stored id = %v, want a DuplicateError naming imp3 at offset 3", err)
	}
	if s, err := imp.Summary(ctx); err != nil || s.TransactionsTotal != 300 {
		t.Errorf("after the refused batch: %+v, %v; want 300 transactions still", s, err)
	}

	// A customer erased before the import: the batch's rows are
	// pseudonymised as they are written, and so are its customer totals,
	// derived before the writing transaction found the erasure.
	var pseudonyms [2]string
	for i, st := range []store.Store{plain, imp} {
		e, err := st.(store.Privacy).EraseCustomer(ctx, "gone", "test")
		if err != nil {
			t.Fatalf("EraseCustomer: %v", err)
		}
		pseudonyms[i] = e.Pseudonym
	}
	gone := func() *store.Batch {
		tx := mk(400, "store")
		tx.TransactionID, tx.CustomerID = "imp-gone", "gone"
		return &store.Batch{Group: "import", Topic: "import:x", Parts: []store.Part{part(-1, 300, tx)}}
	}
	if err := plain.WriteBatch(ctx, gone()); err != nil {
		t.Fatalf("WriteBatch: %v", err)
	}
	if err := importer.WriteImport(ctx, gone(), importer.DeriveImport(gone().Parts)); err != nil {
		t.Fatalf("WriteImport: %v", err)
	}
	for i, st := range []store.Store{plain, imp} {
		if p, err := st.(store.Analytics).CustomerProfile(ctx, "gone"); err == nil && p != nil && p.Orders > 0 {
			t.Errorf("store %d: the erased customer has a profile under the id: %+v", i, p)
		}
		p, err := st.(store.Analytics).CustomerProfile(ctx, pseudonyms[i])
		if err != nil || p == nil || p.Orders != 1 {
			t.Errorf("store %d: the pseudonym's profile is %+v, %v; want its one order", i, p, err)
		}
		for id, want := range map[string]int{"gone": 0, pseudonyms[i]: 1} {
			txs, err := st.(store.Analytics).CustomerTransactions(ctx, store.CustomerTxFilter{CustomerID: id})
			if err != nil || len(txs) != want || (want == 1 && txs[0].TransactionID != "imp-gone") {
				t.Errorf("store %d: transactions of %q: %+v, %v; want %d", i, id, txs, err, want)
			}
		}
	}
}
