package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/shopstream/shopstream/internal/store"
	"github.com/shopstream/shopstream/internal/store/pgtest"
	"github.com/shopstream/shopstream/internal/store/postgres"
)

// lockedOut reports whether err is PostgreSQL's refusal to wait longer
// for a lock (lock_timeout, SQLSTATE 55P03).
func lockedOut(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "55P03"
}

// slotTx is a scored transaction of partition p for the lock tests.
func slotTx(id string, p int32, off int64, at time.Time, rng *rand.Rand) store.Tx {
	decision := []string{"approve", "approve", "review", "decline"}[rng.IntN(4)]
	return store.Tx{TransactionID: id, CustomerID: "c-" + id, EventTime: at, TotalCents: 100, Currency: "EUR",
		PaymentMethod: "card", Channel: []string{"web", "app"}[rng.IntN(2)], ItemsJSON: []byte(`[]`), Partition: p, Offset: off,
		Risk: rng.Float64(), Decision: decision, ReasonsJSON: []byte(`[]`), ProducedAt: at}
}

// TestSlotsDoNotShareRows: while another transaction holds every row of
// the shared rollups (window_metrics, fraud_rollups, quality_minutes)
// that a batch of partition 0 wrote, a batch of partition 1 of the same
// minutes commits without waiting for a row lock (its writer's slot has
// rows of its own), and one more batch of partition 0 does wait: the
// store's connections give up waiting for a lock after 2 s
// (lock_timeout), so a wait is an error here, not a hang.
func TestSlotsDoNotShareRows(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	s, err := postgres.Open(ctx, url+"&lock_timeout=2000")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	m := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	rng := rand.New(rand.NewPCG(1, 2))
	offs := map[int32]int64{}
	batch := func(p int32) *store.Batch {
		var txs []store.Tx
		for i := range 20 {
			off := offs[p] + int64(i)
			txs = append(txs, slotTx(fmt.Sprintf("p%d-%d", p, off), p, off, m.Add(time.Duration(i)*5*time.Second), rng))
		}
		part := store.Part{Partition: p, From: offs[p], To: offs[p] + 20, Txs: txs, CheckedAt: m}
		return &store.Batch{Group: "g", Topic: "transactions", Parts: []store.Part{part}}
	}
	if err := s.WriteBatch(ctx, batch(0)); err != nil {
		t.Fatal(err)
	}
	offs[0] = 20

	holder, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close(ctx)
	hold := func() pgx.Tx {
		tx, err := holder.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var n [3]int
		for i, table := range []string{"window_metrics", "fraud_rollups", "quality_minutes"} {
			if err := tx.QueryRow(ctx, "SELECT count(*) FROM (SELECT 1 FROM "+table+" FOR UPDATE) AS l").Scan(&n[i]); err != nil {
				t.Fatal(err)
			}
			if n[i] == 0 {
				t.Fatalf("no %s rows to hold", table)
			}
		}
		return tx
	}
	tx := hold()
	if err := s.WriteBatch(ctx, batch(1)); err != nil {
		t.Fatalf("a batch of partition 1 beside the held rows of partition 0's: %v", err)
	}
	offs[1] = 20
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}

	// The same rows' writer (partition 0's slot) waits for them.
	tx = hold()
	err = s.WriteBatch(ctx, batch(0))
	if !lockedOut(err) {
		t.Fatalf("a batch of partition 0 beside its held rows: err = %v, want a lock timeout", err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteBatch(ctx, batch(0)); err != nil {
		t.Fatal(err)
	}
	sum, err := s.Summary(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if sum.TransactionsTotal != 60 {
		t.Fatalf("%d transactions in the windows, want 60", sum.TransactionsTotal)
	}
}

// TestRetentionBesideBatches runs the retention of the shared rollups in
// a loop while two writers (partitions 0 and 1) store batches whose
// transactions fall both in minutes the retention deletes and in later
// ones, and analysts' verdicts move old transactions' counts (in the slot
// of the writers outside the stream). It fails on any error, a deadlock
// (SQLSTATE 40P01) named as such, and on counts lost or added twice: the
// hour windows and rollups, which the passes do not delete, and the later
// minutes must hold exactly the stored transactions, and no minute before
// the cut may be left after a last pass.
func TestRetentionBesideBatches(t *testing.T) {
	ctx := context.Background()
	s, err := postgres.Open(ctx, pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const (
		writers = 2
		batches = 25
		perPart = 120
		all     = writers * batches * perPart
	)
	t0 := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	cut := t0.Add(time.Hour) // the minutes of [t0, cut) are deleted, those of [cut, cut+1h) kept
	var (
		mu      sync.Mutex
		errs    []error
		late    int64 // transactions in the kept minutes
		checked int64 // records checked in the kept minutes
	)
	fail := func(what string, err error) {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "40P01" {
			err = fmt.Errorf("deadlock: %w", err)
		}
		mu.Lock()
		errs = append(errs, fmt.Errorf("%s: %w", what, err))
		mu.Unlock()
	}
	old := make(chan string, all) // alerted transactions of the deleted minutes
	var wg sync.WaitGroup
	for w := range int32(writers) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			var off int64
			for b := range batches {
				var txs []store.Tx
				var labels []store.Label
				var alerts []store.Alert
				var kept int64
				for i := range perPart {
					at := t0.Add(time.Duration(rng.IntN(3600)) * time.Second)
					if i%2 == 1 {
						at = at.Add(time.Hour)
						kept++
					}
					tx := slotTx(fmt.Sprintf("w%d-%d-%d", w, b, i), w, off+int64(i), at, rng)
					txs = append(txs, tx)
					if rng.IntN(3) == 0 {
						labels = append(labels, store.Label{TransactionID: tx.TransactionID, Fraud: rng.IntN(4) == 0})
					}
					if tx.Decision != "approve" {
						alerts = append(alerts, store.Alert{TransactionID: tx.TransactionID, CustomerID: tx.CustomerID, EventTime: at,
							Risk: tx.Risk, Decision: tx.Decision, ReasonsJSON: tx.ReasonsJSON, AmountCents: tx.TotalCents})
					}
				}
				// Every other batch's records were checked in a deleted minute.
				at := cut.Add(time.Duration(b%4) * time.Minute)
				if b%2 == 0 {
					at = t0.Add(time.Duration(b) * time.Minute)
				}
				part := store.Part{Partition: w, From: off, To: off + perPart, Txs: txs, Labels: labels, Alerts: alerts, CheckedAt: at}
				if err := s.WriteBatch(ctx, &store.Batch{Group: "g", Topic: "transactions", Parts: []store.Part{part}}); err != nil {
					fail(fmt.Sprintf("writer %d, batch %d", w, b), err)
					return
				}
				off += perPart
				mu.Lock()
				late += kept
				if !at.Before(cut) {
					checked += perPart
				}
				mu.Unlock()
				for _, a := range alerts {
					if a.EventTime.Before(cut) {
						old <- a.TransactionID
					}
				}
			}
		}()
	}
	writing := make(chan struct{})
	go func() {
		wg.Wait()
		close(writing)
		close(old)
	}()
	// Analysts' verdicts on the old transactions, as they are stored.
	verdicts := make(chan int)
	go func() {
		n := 0
		for id := range old {
			status := []string{store.AlertConfirmedFraud, store.AlertFalsePositive}[n%2]
			if _, err := s.LabelAlert(ctx, id, status, "analyst", t0.Add(3*time.Hour)); err != nil {
				fail("verdict on "+id, err)
			}
			n++
		}
		verdicts <- n
	}()
	prune := func() error {
		if _, err := s.PruneRollups(ctx, store.Minute, cut, 200); err != nil {
			return err
		}
		if _, err := s.PruneWindows(ctx, store.Minute, cut, 200); err != nil {
			return err
		}
		_, err := s.PruneQualityMinutes(ctx, cut, 200)
		return err
	}
	passes := 0
loop:
	for {
		select {
		case <-writing:
			break loop
		default:
		}
		if err := prune(); err != nil {
			fail(fmt.Sprintf("retention pass %d", passes), err)
			break
		}
		passes++
	}
	<-writing
	n := <-verdicts
	if err := prune(); err != nil {
		fail("the last retention pass", err)
	}
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d retention passes beside %d batches and %d verdicts", passes, writers*batches, n)

	sumWindows := func(g store.Granularity) (n int64, first time.Time) {
		ws, err := s.Windows(ctx, g, t0.Add(-time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		for i, w := range ws {
			if i == 0 {
				first = w.Start
			}
			n += w.Count
		}
		return n, first
	}
	if n, _ := sumWindows(store.Hour); n != all {
		t.Errorf("hour windows hold %d transactions, want %d", n, all)
	}
	if n, first := sumWindows(store.Minute); n != late || first.Before(cut) {
		t.Errorf("minute windows hold %d transactions from %v, want %d from %v on", n, first, late, cut)
	}
	rollups := func(by store.Granularity) (n int64) {
		r, err := s.FraudRollups(ctx, store.RollupQuery{OutcomesBy: by, Since: t0, Until: cut.Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range r.Outcomes {
			if o.Granularity == store.Minute && o.Start.Before(cut) {
				t.Errorf("a minute rollup before the cut left: %+v", o)
			}
			n += o.N
		}
		return n
	}
	if hours, minutes := rollups(store.Hour), rollups(store.Minute); hours != all || minutes != late {
		t.Errorf("fraud rollups count %d transactions by hour and %d by minute; want %d and %d (the minutes after the cut)",
			hours, minutes, all, late)
	}
	q, err := s.QualityMinutes(ctx, t0, cut)
	if err != nil {
		t.Fatal(err)
	}
	if len(q) != 0 {
		t.Errorf("%d quality rows before the cut left", len(q))
	}
	if q, err = s.QualityMinutes(ctx, cut, cut.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	var got int64
	for _, r := range q {
		if r.Check == "all" {
			got += r.Checked
		}
	}
	if got != checked {
		t.Errorf("quality counts %d records checked after the cut, want %d", got, checked)
	}
}
